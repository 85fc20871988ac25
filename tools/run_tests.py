"""``make test``: the one test command.

1. finds Odoo 18 (installs it when missing) and MailDesk's requirements, websocket-client and Chromium;
2. runs ``make lint`` (ruff + pylint-odoo, one test) and the plain-Python tests of ``graph/`` and ``emulator/``
   with pytest;
3. starts a throwaway PostgreSQL, runs Odoo's test runner on ``maildesk`` (install + at_install +
   post_install tests), and removes the cluster, also on failure and Ctrl-C;
4. runs the upgrade test (tools/upgrade_test.py, one test): the previous release upgraded to this code;
5. fails on any failed/errored test, on any ERROR/CRITICAL line Odoo logs, and on a skipped browser test;
6. ends with ``N passed, N failed, N skipped`` on its own line and exits non-zero on any failure.
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lint
import odoo_env
import upgrade_test
from odoo_env import REPO, log
from pgcluster import PgCluster, free_port

ERROR_LINE = re.compile(r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ (ERROR|CRITICAL) ')
# Secrets that must never reach the server log: anything shaped like an emulator access token, refresh token or
# authorization code, the emulator's client secret, and every value the tests listed in $MAILDESK_SECRETS_FILE
# (tests/security_secrets.py).
SECRET_SHAPES = re.compile(r'EwBoA8l6BAAU[\w-]{20,}|\b[01]\.AXoA[\w-]{20,}|emu~Q8s\.maildesk-emulator-secret-value')
BROWSER_SKIP = re.compile(r'chrome|chromium|browser|websocket', re.I)


class Totals:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0
        self.problems = []

    def fail(self, why, count=1):
        self.failed += count
        self.problems.append(why)


def run_pytest(totals, workdir, select):
    paths = [p for p in ('graph/tests', 'emulator/tests') if os.path.isdir(os.path.join(REPO, p))]
    if not paths:
        return
    junit = os.path.join(workdir, 'pytest.xml')
    cmd = [sys.executable, '-m', 'pytest', '-q', f'--junitxml={junit}', *paths]
    if select:
        cmd += ['-k', select]
    log('pytest: ' + ' '.join(paths))
    proc = subprocess.run(cmd, cwd=REPO, check=False)
    if not os.path.exists(junit):
        totals.fail(f'pytest did not run (exit {proc.returncode})')
        return
    suite = ET.parse(junit).getroot()
    suite = suite if suite.tag == 'testsuite' else suite.find('testsuite')
    tests, failures, errors, skipped = (int(suite.get(k, 0)) for k in ('tests', 'failures', 'errors', 'skipped'))
    totals.passed += tests - failures - errors - skipped
    totals.skipped += skipped
    if failures + errors:
        totals.fail(f'pytest: {failures} failed, {errors} errors', failures + errors)
    elif proc.returncode not in (0, 5):
        totals.fail(f'pytest exited {proc.returncode}')


def run_lint(totals):
    """``make lint`` as one test: ruff and pylint-odoo must be clean."""
    log('lint: ruff + pylint-odoo')
    failed = lint.run()
    if failed:
        totals.fail('lint: ' + ', '.join(failed) + ' reported findings (run make lint)')
    else:
        totals.passed += 1


def run_upgrade(totals):
    """tools/upgrade_test.py as one test: the previous release, filled with data, upgraded to this code."""
    try:
        problems = upgrade_test.run()
    except SystemExit as exc:  # no previous release in the history (shallow clone)
        problems = [str(exc)]
    if problems:
        totals.fail(f'upgrade test: {problems[0]}' + (f' (+{len(problems) - 1} more)' if len(problems) > 1 else ''))
    else:
        totals.passed += 1


def run_odoo(totals, workdir, test_tags):
    odoo_root = odoo_env.find_odoo()
    report_path = os.path.join(workdir, 'odoo-report.json')
    log_path = os.path.join(workdir, 'odoo-test.log')
    with PgCluster() as pg:
        log(f'PostgreSQL on 127.0.0.1:{pg.port} ({pg.base_dir})')
        cmd = [sys.executable, os.path.join(REPO, 'tools', 'odoo_test_main.py'),
               f'--addons-path={odoo_env.addons_path(odoo_root, workdir)}', *pg.odoo_args(),
               '-d', f'maildesk_test_{os.getpid()}', '-i', 'maildesk', '--without-demo=all',
               '--test-enable', f'--test-tags={test_tags}', '--stop-after-init',
               f'--http-port={free_port()}', '--max-cron-threads=0', '--workers=0',
               f'--data-dir={os.path.join(workdir, "filestore")}', '--log-level=info']
        secrets_path = os.path.join(workdir, 'secrets.txt')
        env = dict(os.environ, MAILDESK_TEST_REPORT=report_path, MAILDESK_SECRETS_FILE=secrets_path,
                   PYTHONPATH=os.pathsep.join(
            filter(None, [odoo_root, os.environ.get('PYTHONPATH')])))
        log('Odoo: installing maildesk and running its tests (full log: %s)' % log_path)
        error_lines = []
        with open(log_path, 'w') as log_file:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                                    errors='replace')
            for line in proc.stdout:
                log_file.write(line)
                if ERROR_LINE.match(line):
                    error_lines.append(line.rstrip())
                if ERROR_LINE.match(line) or ' WARNING ' in line or ' FAIL' in line or 'Traceback' in line:
                    sys.stdout.write(line)
            proc.wait()
    account_odoo(totals, report_path, error_lines)
    check_secrets(totals, log_path, secrets_path)


def check_secrets(totals, log_path, secrets_path):
    """Fail when a token, code or secret appears anywhere in the full Odoo log (never printing it)."""
    known = set()
    if os.path.exists(secrets_path):
        known = {line.strip() for line in open(secrets_path, encoding='utf-8') if len(line.strip()) >= 12}
    leaks = 0
    with open(log_path, encoding='utf-8', errors='replace') as log_file:
        for number, line in enumerate(log_file, 1):
            if SECRET_SHAPES.search(line) or any(secret in line for secret in known):
                leaks += 1
                log(f'secret-looking value in the server log, line {number} (value not shown)')
    if leaks:
        totals.fail(f'{leaks} log line(s) carry a token, code or secret')
    else:
        log(f'server log checked for secrets: none ({len(known)} known values + token shapes)')


def account_odoo(totals, report_path, error_lines):
    if not os.path.exists(report_path):
        totals.fail('Odoo test run crashed before reporting')
        return
    report = json.load(open(report_path))
    if not report.get('ran'):
        totals.fail('Odoo could not load the database (module install failed?)')
        return
    # tests, not failures: Odoo counts each failed subTest apart; a failed class setup counts as one
    failed_tests = [test for test in report['failed_tests'] if not test.startswith('outside a test: ')]
    failed = max(len(report['failed_tests']), 1) if report['failures'] + report['errors'] else 0
    browser_skips = [s for s in report['skips'] if BROWSER_SKIP.search(s['reason'])]
    totals.passed += report['tests'] - len(failed_tests) - report['skipped']
    totals.skipped += report['skipped'] - len(browser_skips)
    if failed:
        totals.fail(f'Odoo: {report["failures"]} failed, {report["errors"]} errors in {failed} test(s)', failed)
    for skip in browser_skips:
        totals.fail(f'browser test skipped: {skip["test"]}: {skip["reason"]}')
    if error_lines and not failed:
        totals.fail(f'Odoo logged {len(error_lines)} ERROR line(s), e.g.: {error_lines[0]}')
    if report['rc'] and not totals.failed:
        totals.fail(f'Odoo exited with {report["rc"]}')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--test-tags', default='/maildesk', help='Odoo --test-tags (default /maildesk)')
    parser.add_argument('-k', dest='select', help='pytest -k expression for graph/ and emulator/ tests')
    parser.add_argument('--only', choices=['lint', 'pytest', 'odoo', 'upgrade'], help='run one part only')
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    started = time.time()
    totals = Totals()
    odoo_env.find_odoo()
    odoo_env.ensure_requirements(extra=('pytest',))
    odoo_env.ensure_browser()
    os.makedirs(os.path.join(REPO, '.tmp'), exist_ok=True)
    workdir = tempfile.mkdtemp(prefix='run-', dir=os.path.join(REPO, '.tmp'))
    try:
        if args.only in (None, 'lint'):
            run_lint(totals)
        if args.only in (None, 'pytest'):
            run_pytest(totals, workdir, args.select)
        if args.only in (None, 'odoo'):
            run_odoo(totals, workdir, args.test_tags)
        if args.only in (None, 'upgrade'):
            run_upgrade(totals)
    except KeyboardInterrupt:
        totals.fail('interrupted')
    for problem in totals.problems:
        log(f'FAILED: {problem}')
    log(f'wall time {time.time() - started:.0f}s; logs in {workdir}')
    print(f'{totals.passed} passed, {totals.failed} failed, {totals.skipped} skipped', flush=True)
    return 1 if totals.failed else 0


if __name__ == '__main__':
    sys.exit(main())
