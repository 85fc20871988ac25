"""Run Odoo's test runner (same as odoo-bin) and write its totals to $MAILDESK_TEST_REPORT as JSON.

Odoo prints no final totals line and reports a browser test it could not start (no Chromium, no
websocket-client) as *skipped*; recording skips with their reasons lets ``make test`` fail on those.
"""
import json
import os
import sys

from odoo.cli import server as odoo_server
from odoo.modules.registry import Registry
from odoo.tests import result as odoo_result

SKIPS = []
_original_add_skip = odoo_result.OdooTestResult.addSkip


def _recording_add_skip(self, test, reason):
    SKIPS.append({'test': test.id(), 'reason': str(reason)})
    return _original_add_skip(self, test, reason)


def main(args):
    odoo_result.OdooTestResult.addSkip = _recording_add_skip
    rc = 0
    try:
        odoo_server.main(args)
    except SystemExit as exit_:
        rc = exit_.code if isinstance(exit_.code, int) else 1
    report = {'rc': rc, 'skips': SKIPS, 'ran': False}
    for registry in list(Registry.registries.values()):
        assertion = registry._assertion_report
        report.update(ran=True, tests=assertion.testsRun, failures=assertion.failures_count,
                      errors=assertion.errors_count, skipped=assertion.skipped)
    with open(os.environ['MAILDESK_TEST_REPORT'], 'w') as fh:
        json.dump(report, fh)
    return rc


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
