"""``make bench`` (part): how fast a message opens when its body was prefetched, and when it was not.

Starts its own PostgreSQL and emulator, installs maildesk into a template database, syncs ``--messages`` Inbox
messages, then (worker scenario ``md_open_prefetch``) the owner opens the Inbox list, the prefetch cron runs once,
and the reading pane's RPC opens every prefetched message and as many never-fetched ones, each in its own
transaction. Prints p50/p95 next to the targets (< 50 ms prefetched, < 200 ms not) with the load average, and
writes ``.bench/prefetch-<time>-<commit>.json``.

    python3 tools/bench_prefetch.py --messages 2000
"""
import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import odoo_env
from bench import machine
from bench.maildesk_driver import _emu_params, _emulator
from bench.runner import Runner
from odoo_env import REPO, log
from pgcluster import PgCluster

BENCH_DIR = os.path.join(REPO, '.bench')
TARGETS_MS = {'prefetched': 50, 'not_prefetched': 200}  # p95 of opening one message (issue #18)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--messages', type=int, default=2000, help='Inbox messages synced before measuring')
    parser.add_argument('--samples', type=int, default=20, help='never-fetched messages opened (at least as '
                        'many as were prefetched)')
    parser.add_argument('--seed', type=int, default=2)
    return parser.parse_args()


def measure(runner, args):
    emu = _emulator(runner, 'emulator-prefetch', 1, args.messages, args.seed)
    db = 'bench_prefetch'
    try:
        runner.clone(db)
        email = emu.users[0]
        setup = runner.run_worker('md_setup', {'emulator': _emu_params(emu), 'mailboxes': [email]}, db)
        folders = setup['accounts'][0]['folders']
        log(f'  initial sync of {args.messages:,} Inbox messages')
        runner.run_worker('md_initial', {'emulator': _emu_params(emu),
                                         'folder_ids': [f['id'] for f in folders.values()]}, db)
        log('  open the Inbox list, one prefetch run, then open prefetched and not prefetched messages')
        return runner.run_worker('md_open_prefetch', {'emulator': _emu_params(emu), 'inbox_id': folders['inbox']['id'],
                                                      'samples': args.samples, 'seed': args.seed}, db)
    finally:
        emu.stop()
        runner.drop(db)


def table(result, load_before, load_after):
    lines = [f'load average before / after: {load_before} / {load_after} (2 cores shared with other work: a loaded '
             'machine measures slower than an idle one)']
    run = result['prefetch_run']
    read = result.get('prefetched_read') or {}
    lines.append(f'reopen a prefetched message, already read: p50 {read.get("p50_ms")} ms / '
                 f'p95 {read.get("p95_ms")} ms')
    lines.append(f'prefetch run: {run["fetched"]} bodies in {run["wall_s"]} s ({run["cpu_s"]} s CPU, '
                 f'{run["requests"]} Graph requests)')
    for key, label in (('prefetched', 'open a prefetched message'), ('not_prefetched', 'open one not prefetched')):
        data = result[key]
        target = TARGETS_MS[key]
        verdict = 'ok' if data.get('p95_ms', float('inf')) < target else 'MISSED'
        lines.append(f'{label}: p50 {data.get("p50_ms")} ms / p95 {data.get("p95_ms")} ms (target p95 < {target} '
                     f'ms: {verdict}); {data.get("samples")} samples, {data["requests_per_open"]} Graph requests '
                     f'per open')
        mark = data.get('mark_read') or {}
        if mark:
            lines.append(f'  then marked read after the pane shows it (maildesk_mark_opened, a PATCH to Outlook '
                         f'nobody waits for): p50 {mark.get("p50_ms")} ms / p95 {mark.get("p95_ms")} ms, '
                         f'{mark.get("samples")} samples')
    return '\n'.join(lines)


def main():
    args = parse_args()
    odoo_root = odoo_env.find_odoo()
    odoo_env.ensure_requirements()
    os.makedirs(BENCH_DIR, exist_ok=True)
    stamp = time.strftime('%Y%m%d-%H%M%S')
    run_dir = tempfile.mkdtemp(prefix=f'prefetch-{stamp}-', dir=BENCH_DIR)
    git = machine.git_info(REPO)
    load_before = [round(x, 2) for x in os.getloadavg()]
    with PgCluster() as pg:
        runner = Runner(pg, odoo_root, odoo_env.addons_path(odoo_root, run_dir), run_dir, log)
        log(f'installing maildesk into a template database; logs in {run_dir}')
        runner.build_template()
        result = measure(runner, args)
    load_after = [round(x, 2) for x in os.getloadavg()]
    result.update(git=git, messages=args.messages, loadavg_before=load_before, loadavg_after=load_after,
                  targets_ms=TARGETS_MS)
    path = os.path.join(BENCH_DIR, f'prefetch-{stamp}-{git["commit_short"] or "nogit"}.json')
    with open(path, 'w') as fh:
        json.dump(result, fh, indent=2, default=str)
    print(table(result, load_before, load_after))
    log(f'results: {path}')
    missed = [key for key, target in TARGETS_MS.items() if result[key].get('p95_ms', float('inf')) >= target]
    return 1 if missed else 0


if __name__ == '__main__':
    sys.exit(main())
