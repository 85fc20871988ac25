"""``make bench``: MailDesk's sync measured side by side with Odoo's built-in IMAP path, same run, same machine.

Not part of CI. Starts its own PostgreSQL, installs maildesk once into a template database and runs every
measurement in its own Odoo process on a fresh copy of it (so CPU seconds and RSS are that process's own), against
the project's Microsoft Graph emulator seeded with N messages in Inbox (+ N/10 in Sent Items), and — for the
alternative a user would pick — Odoo 18's own IMAP incoming mail server (fetchmail) against a local Dovecot
holding the same messages. Prints a table and writes ``.bench/bench-<time>-<commit>.json``.

    python3 tools/bench.py                      # everything (1k, 10k, 100k; IMAP 10k)
    python3 tools/bench.py --sizes 1000 --skip-imap   # a quick development run

Several workers sharing the sync are measured by ``tools/bench_workers.py`` (also in ``make bench``).
"""
import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import odoo_env
from bench import dovecot, machine, report
from bench.runner import Runner
from odoo_env import REPO, log
from pgcluster import PgCluster

BENCH_DIR = os.path.join(REPO, '.bench')
ERRORS = []  # parts that failed: recorded in the JSON, the others still run


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', default='1000,10000,100000',
                        help='Inbox sizes of the MailDesk runs (comma separated; default 1000,10000,100000)')
    parser.add_argument('--imap-messages', type=int, default=10000, help='messages of the IMAP baseline (10000)')
    parser.add_argument('--orm-rows', type=int, default=10000, help='rows of the ORM-ceiling run (10000)')
    parser.add_argument('--open-samples', type=int, default=60, help='messages opened for the open latency')
    parser.add_argument('--initial-runs', type=int, default=3, metavar='N',
                        help='timed initial syncs per size, each after its own bare INSERT reference; the fastest '
                             'of each is compared (3)')
    parser.add_argument('--seed', type=int, default=1)
    for part in ('imap', 'orm', 'maildesk'):
        parser.add_argument(f'--skip-{part}', action='store_true', help=f'leave out the {part} measurements')
    parser.add_argument('--profile', type=int, default=10000, metavar='SIZE',
                        help='after the measured runs of SIZE, one more initial sync under cProfile: its hot path '
                             'goes into the JSON (default 10000; 0 = none)')
    parser.add_argument('--keep', action='store_true', help='keep the run directory (databases are always dropped)')
    parser.add_argument('--report', metavar='JSON', help='print the table of an earlier run\'s JSON and stop')
    args = parser.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(',') if s.strip()]
    return args


def maildir_job(root, messages, seed):
    """Runs in a thread while Odoo installs: the Maildir of the IMAP baseline."""
    started = time.time()
    count, size = dovecot.write_maildir(REPO, os.path.join(root, 'Maildir'), messages, seed)
    return {'messages': count, 'bytes': size, 'seconds': round(time.time() - started, 1)}


def run_orm(runner, args):
    log(f'ORM ceiling: create() of {args.orm_rows} maildesk.message rows in 1,000-row batches')
    db = runner.clone('bench_orm')
    try:
        return runner.run_worker('orm_ceiling', {'rows': args.orm_rows, 'batch': 1000, 'seed': args.seed}, db)
    finally:
        runner.drop(db)


def run_imap(runner, args, imap_root, maildir):
    log(f'IMAP baseline: Odoo fetchmail from a local Dovecot, {maildir["messages"]} messages')
    db = runner.clone('bench_imap')
    try:
        with dovecot.Dovecot(imap_root) as imap:
            unseen = imap.count('UNSEEN')
            params = {'host': imap.host, 'port': imap.port, 'user': imap.user, 'password': imap.password,
                      'expected': unseen}
            result = runner.run_worker('imap_fetch', params, db, timeout=3 * 3600)
            result['unseen_before'] = unseen
            result['unseen_after'] = imap.count('UNSEEN')
        result['maildir'] = maildir
        return result
    finally:
        runner.drop(db)


def run_maildesk(runner, args, results):
    try:
        from bench import maildesk_driver
    except ImportError as exc:
        log(f'MailDesk measurements skipped: {exc}')
        results['maildesk_skipped'] = str(exc)
        return
    missing = maildesk_driver.missing_parts()
    if missing:
        log('MailDesk measurements skipped, not in this checkout yet: ' + ', '.join(missing))
        results['maildesk_skipped'] = 'missing: ' + ', '.join(missing)
        return
    if not args.skip_maildesk:
        results['sizes'] = {}
        for size in args.sizes:
            section(results['sizes'], str(size), maildesk_driver.run_size, runner, args, size)
        maildesk_driver.incremental_ratio(results)


def section(results, key, fn, *args):
    """Run one part; a failure is recorded in the JSON (``errors``) and the other parts still run."""
    try:
        value = fn(*args)
        if key:
            results[key] = value
    except Exception as exc:  # noqa: BLE001
        log(f'FAILED {key or fn.__name__}: {exc}')
        ERRORS.append({'part': key or fn.__name__, 'error': str(exc)[-3000:]})


def main():
    args = parse_args()
    if args.report:
        with open(args.report) as fh:
            results = json.load(fh)
        results['targets'] = report.evaluate(results)
        print(report.table(results))
        return 0
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    started = time.time()
    odoo_root = odoo_env.find_odoo()
    odoo_env.ensure_requirements()
    if not args.skip_imap:
        dovecot.ensure_dovecot(log)
    os.makedirs(BENCH_DIR, exist_ok=True)
    stamp = time.strftime('%Y%m%d-%H%M%S')
    run_dir = tempfile.mkdtemp(prefix=f'run-{stamp}-', dir=BENCH_DIR)
    os.chmod(run_dir, 0o755)  # Dovecot's mail processes (an unprivileged uid) reach the Maildir below it
    git = machine.git_info(REPO)
    results = {'git': git, 'started_at': time.strftime('%Y-%m-%dT%H:%M:%S%z'),
               'argv': sys.argv[1:],
               'sizes': {}, 'config': {'sizes': args.sizes, 'imap_messages': args.imap_messages,
                                       'orm_rows': args.orm_rows, 'seed': args.seed}}
    imap_root = os.path.join(run_dir, 'imap')
    try:
        with PgCluster() as pg, ThreadPoolExecutor(1) as pool:
            results['machine'] = machine.machine_info(pg.bin_dir)
            log('machine: ' + machine.describe(results['machine']))
            runner = Runner(pg, odoo_root, odoo_env.addons_path(odoo_root, run_dir), run_dir, log)
            maildir = None if args.skip_imap else pool.submit(maildir_job, imap_root, args.imap_messages, args.seed)
            log(f'installing maildesk into a template database (PostgreSQL on 127.0.0.1:{pg.port}); '
                f'logs in {run_dir}')
            results['install_s'] = round(runner.build_template(), 1)
            if not args.skip_orm:
                section(results, 'orm_ceiling', run_orm, runner, args)
            section(results, None, run_maildesk, runner, args, results)
            if maildir is not None:
                section(results, 'imap', lambda: run_imap(runner, args, imap_root, maildir.result()))
    except KeyboardInterrupt:
        log('interrupted')
        results['interrupted'] = True
    if ERRORS:
        results['errors'] = ERRORS
    results['wall_s'] = round(time.time() - started, 1)
    results['loadavg_at_end'] = [round(x, 2) for x in os.getloadavg()]
    results['targets'] = report.evaluate(results)
    name = f'bench-{stamp}-{git["commit_short"] or "nogit"}.json'
    path = os.path.join(BENCH_DIR, name)
    for size, data in (results.get('sizes') or {}).items():
        for key, label in (('profile', 'initial'), ('profile_nochange', 'nochange')):
            prof = (data.get(key) or {}).get('path')
            if prof and os.path.exists(prof):  # keep the cProfile dumps beside the JSON (snakeviz / pstats)
                kept = path[:-len('.json')] + f'-{label}-{size}.prof'
                shutil.copy(prof, kept)
                data[key]['path'] = kept
    with open(path, 'w') as fh:
        json.dump(results, fh, indent=2, default=str)
    print(report.table(results))
    log(f'results: {path} (wall time {results["wall_s"]:.0f}s)')
    if not args.keep:
        shutil.rmtree(run_dir, ignore_errors=True)
    return 1 if results.get('interrupted') or results.get('errors') else 0


if __name__ == '__main__':
    sys.exit(main())
