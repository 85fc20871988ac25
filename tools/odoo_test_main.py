"""Run Odoo's test runner (same as odoo-bin) and write its totals to $MAILDESK_TEST_REPORT as JSON.

Odoo prints no final totals line and reports a browser test it could not start (no Chromium, no
websocket-client) as *skipped*; recording skips with their reasons lets ``make test`` fail on those. Odoo counts each
failed ``subTest`` as a failure of its own; recording the failed tests' ids lets ``make test`` count tests.
"""
import json
import os
import sys
import unittest

from odoo.cli import server as odoo_server
from odoo.modules.registry import Registry
from odoo.tests import result as odoo_result

SKIPS = []
FAILED_TESTS = set()
_original_add_skip = odoo_result.OdooTestResult.addSkip
_original_add_failure = odoo_result.OdooTestResult.addFailure
_original_add_error = odoo_result.OdooTestResult.addError


def _recording_add_skip(self, test, reason):
    SKIPS.append({'test': test.id(), 'reason': str(reason)})
    return _original_add_skip(self, test, reason)


def _record_failed(result, test):
    if not result._soft_fail:
        case = getattr(test, 'test_case', test)  # a subtest counts as its test
        # a class or module setup that failed is not a test (unittest's _ErrorHolder): counted as one of its own
        FAILED_TESTS.add(case.id() if isinstance(case, unittest.TestCase) else 'outside a test: %s' % case.id())


def _recording_add_failure(self, test, err):
    _record_failed(self, test)
    return _original_add_failure(self, test, err)


def _recording_add_error(self, test, err):
    _record_failed(self, test)
    return _original_add_error(self, test, err)


def main(args):
    odoo_result.OdooTestResult.addSkip = _recording_add_skip
    odoo_result.OdooTestResult.addFailure = _recording_add_failure
    odoo_result.OdooTestResult.addError = _recording_add_error
    rc = 0
    try:
        odoo_server.main(args)
    except SystemExit as exit_:
        rc = exit_.code if isinstance(exit_.code, int) else 1
    report = {'rc': rc, 'skips': SKIPS, 'failed_tests': sorted(FAILED_TESTS), 'ran': False}
    for registry in list(Registry.registries.values()):
        assertion = registry._assertion_report
        report.update(ran=True, tests=assertion.testsRun, failures=assertion.failures_count,
                      errors=assertion.errors_count, skipped=assertion.skipped)
    with open(os.environ['MAILDESK_TEST_REPORT'], 'w') as fh:
        json.dump(report, fh)
    return rc


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
