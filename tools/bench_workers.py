"""Workers that share the work (issue 18, item 3): the same initial sync run by 1, then 2 Odoo processes.

Not part of CI (``make bench`` runs it). Starts its own PostgreSQL and the Graph emulator, seeds A mailboxes with N
messages in Inbox (+ N/10 in Sent Items), installs maildesk once, and syncs a fresh copy of the database with 1
and then 2 separate Odoo processes -- what 2 Odoo servers on one database, or ``--max-cron-threads=2``, are -- each
running Odoo's own cron runner (``ir.cron._process_jobs``) until everything is back-filled. Each process records
every sync unit it ran (start, end, messages stored), so the driver can tell each worker's share, how long both
were busy at the same time, and the CPU per message of the Odoo processes and of PostgreSQL.
Prints the figures next to their targets and writes ``.bench/workers-<time>-<commit>.json``.

    python3 tools/bench_workers.py                            # 4 mailboxes x 20,000 messages
    python3 tools/bench_workers.py --accounts 2 --messages 2000   # a quick run
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, 'bench'))

TARGETS = {'share_min': 0.35, 'share_max': 0.65, 'cpu_ratio_max': 1.1, 'both_busy_min': 0.8}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--accounts', type=int, default=4, help='mailboxes (default 4)')
    # 20,000: at today's ~8,000 msg/s, 4 x 5,000 took 2-3 s, and what no second worker can share -- each process's
    # start (its clients, the newest pages) and the last folder's last pages, sequential by nature -- was a third of it
    parser.add_argument('--messages', type=int, default=20000, help='Inbox messages per mailbox (default 20000)')
    parser.add_argument('--workers', default='1,2', help='worker counts to run, in order (default 1,2)')
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--keep', action='store_true', help='keep the run directory (databases are always dropped)')
    parser.add_argument('--report', metavar='JSON', help="print the table of an earlier run's JSON and stop")
    args = parser.parse_args()
    args.workers = [int(w) for w in args.workers.split(',') if w.strip()]
    return args


# -- inside a worker process ------------------------------------------------------------------------------------
def worker_main(argv):
    """``bench_workers.py --worker PARAMS -- <odoo args>``: one Odoo process running the cron runner until the
    sync is done, recording its sync units (worker.py's protocol: ready, wait for "go", result)."""
    from worker import Meter, emit, open_env

    import odoo
    split = argv.index('--')
    odoo.tools.config.parse_config(argv[split + 1:], setup_logging=True)
    dbname = odoo.tools.config['db_name']
    dbname = dbname[0] if isinstance(dbname, (list, tuple)) else dbname
    import maildesk_scenarios
    _registry, cr, _env = open_env(dbname)  # loads the registry: odoo.addons.maildesk is importable from here on

    try:
        emit('ready', t=time.time())
        sys.stdin.readline()
        with maildesk_scenarios.recorded_units() as recorded, Meter() as meter:
            stats = drain(dbname, maildesk_scenarios)
    finally:
        cr.close()
    units = [[unit['start'], unit['end'], unit['stored']] for unit in recorded]  # each unit that stored a page
    emit('result', **meter.as_dict(), **stats, t_start=meter.t0, t_end=meter.t0 + meter.wall, units=units,
         pages=len(units), stored=sum(u[2] for u in units))


def drain(dbname, scenarios, deadline_s=1800):
    """What an Odoo cron thread does, until every synced folder is back-filled: run the jobs due
    (``ir.cron._process_jobs``), and when none was, wait for a ``cron_trigger`` notification (a trigger another
    worker committed) as Odoo's cron thread does, at most 1 s. No work left but nothing due (production would wait
    for the next scheduled call): the sync crons are made due."""
    import select

    import odoo
    from odoo.modules.registry import Registry

    from odoo.addons.base.models.ir_cron import ir_cron
    registry = Registry(dbname)
    stats = {'runner_calls': 0, 'idle_calls': 0, 'forced': 0}
    deadline = time.monotonic() + deadline_s
    with odoo.sql_db.db_connect('postgres').cursor() as listen_cr:
        listen_cr.execute('LISTEN cron_trigger')
        listen_cr.commit()
        connection = listen_cr._cnx
        while time.monotonic() < deadline:
            with registry.cursor() as cr:
                if not scenarios._folders_left(cr):
                    break
                cr.execute("SELECT count(*) FROM maildesk_folder WHERE sync_enabled AND sync_state = 'error'")
                if cr.fetchone()[0]:
                    stats['failed_folders'] = True
                    break
                due, runs = scenarios.due_jobs(cr)
                if not due:
                    stats['forced'] += 1
                    scenarios._make_crons_due(scenarios._env(cr))
            stats['runner_calls'] += 1
            ir_cron._process_jobs(dbname)
            with registry.cursor() as cr:
                cr.execute('SELECT count(*) FROM ir_cron_progress')
                idle = cr.fetchone()[0] == runs
            if idle:  # every due job is held by the other worker: sleep until a trigger (or 1 s)
                stats['idle_calls'] += 1
                if select.select([connection], [], [], 1.0)[0]:
                    connection.poll()
                    connection.notifies.clear()
    return stats


def keep_only_sync_crons(runner, db):
    """The other MailDesk crons (body prefetch, gateway, health, push) stay out: their work is not sync work."""
    runner.execute(db, """UPDATE ir_cron SET active = FALSE WHERE id IN (
        SELECT res_id FROM ir_model_data WHERE model = 'ir.cron' AND module = 'maildesk'
           AND name NOT IN ('ir_cron_maildesk_sync_changes', 'ir_cron_maildesk_backfill', 'ir_cron_maildesk_backfill_2',
                            'ir_cron_maildesk_backfill_3', 'ir_cron_maildesk_backfill_4'))""")


# -- driver -----------------------------------------------------------------------------------------------------
def both_busy(intervals_a, intervals_b):
    """Seconds during which both workers were inside a sync unit (each list: [start, end] of its units)."""
    def merged(intervals):
        out = []
        for start, end in sorted(intervals):
            if out and start <= out[-1][1]:
                out[-1][1] = max(out[-1][1], end)
            else:
                out.append([start, end])
        return out
    a, b = merged(intervals_a), merged(intervals_b)
    total, i, j = 0.0, 0, 0
    while i < len(a) and j < len(b):
        total += max(0.0, min(a[i][1], b[j][1]) - max(a[i][0], b[j][0]))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


def run_workers(runner, db, count, pg_pid, emu):
    from bench.runner import run_parallel
    from maildesk_driver import CpuOf, _backends_gone
    keep_only_sync_crons(runner, db)
    emu.reset_counters()
    with CpuOf(pg_pid, _backends_gone(runner, db)) as pg_cpu, CpuOf(emu.proc.pid) as emu_cpu:
        load_start = os.getloadavg()[0]
        results = run_parallel(runner, 'drain', {}, db, count, timeout=3 * 3600)
        load_end = os.getloadavg()[0]
    requests = emu.counters()
    stored, dups = runner.query(db, """
        SELECT (SELECT count(*) FROM maildesk_message WHERE active),
               (SELECT count(*) FROM (SELECT 1 FROM maildesk_message GROUP BY account_id, graph_id
                                       HAVING count(*) > 1) d)""")[0]
    span_start = min(u[0] for r in results for u in r['units'])
    span_end = max(u[1] for r in results for u in r['units'])
    span = span_end - span_start
    odoo_cpu = sum(r['cpu_s'] for r in results)
    out = {
        'workers': count, 'messages': stored, 'duplicates': dups, 'span_s': round(span, 3),
        'messages_per_s': round(stored / span, 1), 'odoo_cpu_s': round(odoo_cpu, 3),
        'odoo_cpu_ms_per_msg': round(odoo_cpu / max(stored, 1) * 1000, 4),
        'pg_cpu_s': pg_cpu.seconds, 'pg_cpu_ms_per_msg': round(pg_cpu.seconds / max(stored, 1) * 1000, 4),
        'graph_requests': requests['total'], 'graph_by_endpoint': requests.get('by_endpoint'),
        'emulator_cpu_s': emu_cpu.seconds, 'emulator_cpu_ms_per_msg': round(emu_cpu.seconds / max(stored, 1) * 1000, 4),
        'loadavg_1m_start': round(load_start, 2), 'loadavg_1m_end': round(load_end, 2),
        'per_worker': [{'units': r['pages'], 'stored': r['stored'], 'cpu_s': r['cpu_s'], 'wall_s': r['wall_s'],
                        'share': round(r['stored'] / max(sum(x['stored'] for x in results), 1), 3),
                        'busy_s': round(sum(u[1] - u[0] for u in r['units']), 3),
                        **{k: r.get(k) for k in ('runner_calls', 'idle_calls', 'forced', 'stalled', 'failed_folders')}}
                       for r in results],
    }
    out['timeline'] = [[[round(u[0] - span_start, 3), round(u[1] - span_start, 3), u[2]] for u in r['units']]
                       for r in results]
    if count == 2:
        intervals = [[u[:2] for u in r['units']] for r in results]
        overlap = both_busy(*intervals)
        out['both_busy_s'] = round(overlap, 3)
        out['both_busy_fraction'] = round(overlap / span, 3) if span else 0.0
        out.update(alone_at_ends(*intervals))
        out['alone_between_s'] = round(span - overlap - out['alone_at_start_s'] - out['alone_at_end_s'], 3)
    return out


def alone_at_ends(intervals_a, intervals_b):
    """Seconds one worker ran units alone before the other's first unit began, and after the other's last ended:
    the parts of the run a second worker cannot share (its own start; one folder's last pages)."""
    first = sorted(min(start for start, _end in units) for units in (intervals_a, intervals_b))
    last = sorted(max(end for _start, end in units) for units in (intervals_a, intervals_b))
    return {'alone_at_start_s': round(first[1] - first[0], 3), 'alone_at_end_s': round(last[1] - last[0], 3)}


def evaluate(results):
    runs = results.get('runs', {})
    one, two = runs.get('1'), runs.get('2')
    if not one or not two:
        return {}
    shares = [w['share'] for w in two['per_worker']]
    cpu_ratio = two['odoo_cpu_ms_per_msg'] / max(one['odoo_cpu_ms_per_msg'], 1e-9)
    # The control: the emulator serves the same pages in both runs, so its CPU per message only moves with the
    # machine (2 vCPUs, each slower while both are busy, as they are with 2 workers): Odoo's ratio over it is
    # what the second worker costs MailDesk itself.
    machine = two['emulator_cpu_ms_per_msg'] / max(one['emulator_cpu_ms_per_msg'], 1e-9)
    return {
        'emulator_cpu_ratio': round(machine, 3), 'cpu_ratio_over_emulator': round(cpu_ratio / machine, 3),
        'shares': shares,
        'shares_ok': all(TARGETS['share_min'] <= s <= TARGETS['share_max'] for s in shares),
        'cpu_ratio': round(cpu_ratio, 3), 'cpu_ratio_ok': cpu_ratio <= TARGETS['cpu_ratio_max'],
        'both_busy_fraction': two['both_busy_fraction'],
        'both_busy_ok': two['both_busy_fraction'] >= TARGETS['both_busy_min'],
        'throughput_ratio': round(two['messages_per_s'] / max(one['messages_per_s'], 1e-9), 3),
        'duplicates': one['duplicates'] + two['duplicates'],
    }


def table(results):
    runs, ev = results.get('runs', {}), results.get('targets') or {}
    lines = [f'Workers sharing the sync: {results["config"]["accounts"]} mailboxes x '
             f'{results["config"]["messages"]:,} Inbox (+10 % Sent Items); commit {results["git"]["commit_short"]}'
             f'{" + uncommitted code" if results["git"]["uncommitted_code_files"] else ""}; load average '
             f'{results["machine"].get("loadavg_at_start", ["?"])[0]} at the start, '
             f'{results.get("loadavg_at_end", ["?"])[0]} at the end, {results["machine"]["cores"]} cores',
             f'{"":44} {"1 worker":>12} {"2 workers":>12} {"target":>12}']

    def row(label, key, target='', fmt='{:,.1f}'):
        values = [fmt.format(runs[w][key]) if w in runs and runs[w].get(key) is not None else '-' for w in ('1', '2')]
        lines.append(f'{label:44} {values[0]:>12} {values[1]:>12} {target:>12}')
    row('messages stored', 'messages', fmt='{:,}')
    row('duplicates', 'duplicates', '0', fmt='{:,}')
    row('throughput (msg/s, first to last unit)', 'messages_per_s')
    row('Odoo CPU ms / message (all workers)', 'odoo_cpu_ms_per_msg', fmt='{:.4f}')
    row('PostgreSQL CPU ms / message', 'pg_cpu_ms_per_msg', fmt='{:.4f}')
    row('emulator CPU ms / message', 'emulator_cpu_ms_per_msg', fmt='{:.4f}')
    row('Graph requests (all kinds)', 'graph_requests', fmt='{:,}')
    row('load average (1 min) at the start', 'loadavg_1m_start', fmt='{:.2f}')
    row('load average (1 min) at the end', 'loadavg_1m_end', fmt='{:.2f}')
    if ev:
        shares = ' / '.join(f'{s * 100:.0f} %' for s in ev['shares'])
        lines.append(f'{"each worker`s share of the messages":44} {"":>12} {shares:>12} {"35-65 %":>12}')
        lines.append(f'{"Odoo CPU / message, 2 workers / 1":44} {"":>12} {ev["cpu_ratio"]:>12.3f} {"<= 1.1":>12}')
        if ev.get('emulator_cpu_ratio'):
            lines.append(f'{"  control: emulator CPU / message, 2 / 1":44} {"":>12} {ev["emulator_cpu_ratio"]:>12.3f}')
            lines.append(f'{"  Odoo ratio / emulator ratio":44} {"":>12} {ev["cpu_ratio_over_emulator"]:>12.3f}')
        lines.append(f'{"fraction of the run both workers busy":44} {"":>12} '
                     f'{ev["both_busy_fraction"] * 100:>11.1f}% {">= 80 %":>12}')
        two = runs.get('2') or {}
        if two.get('alone_at_start_s') is not None:
            alone = f'{two["alone_at_start_s"]:.2f} / {two["alone_between_s"]:.2f} / {two["alone_at_end_s"]:.2f}'
            lines.append(f'{"  not both busy: at start / between / at end (s)":44} {"":>12} {alone:>12} '
                         f'{"of " + format(two["span_s"], ".2f"):>12}')
        lines.append(f'{"throughput 2 workers / 1":44} {"":>12} {ev["throughput_ratio"]:>12.2f} {"":>12}')
    return '\n'.join(lines)


def main():
    args = parse_args()
    if args.report:
        with open(args.report) as fh:
            print(table(json.load(fh)))
        return 0
    import odoo_env
    from bench import machine
    from bench.runner import Runner, WorkerProcess
    from maildesk_driver import _emu_params, _emulator, _postmaster_pid
    from odoo_env import REPO, log
    from pgcluster import PgCluster

    class WorkersRunner(Runner):
        def start_worker(self, scenario, params, dbname):
            if scenario != 'drain':
                return super().start_worker(scenario, params, dbname)
            self._n += 1
            name = f'{self._n:02d}-workers-drain'
            cmd = [sys.executable, os.path.abspath(__file__), '--worker', json.dumps(params), '--',
                   *self.odoo_args(dbname, f'{name}.log')]
            return WorkerProcess(name, cmd, self.env, os.path.join(self.run_dir, f'{name}.out'))

    bench_dir = os.path.join(REPO, '.bench')
    os.makedirs(bench_dir, exist_ok=True)
    stamp = time.strftime('%Y%m%d-%H%M%S')
    run_dir = tempfile.mkdtemp(prefix=f'workers-{stamp}-', dir=bench_dir)
    git = machine.git_info(REPO)
    results = {'git': git, 'started_at': time.strftime('%Y-%m-%dT%H:%M:%S%z'), 'argv': sys.argv[1:],
               'config': {'accounts': args.accounts, 'messages': args.messages, 'workers': args.workers,
                          'seed': args.seed}, 'runs': {}, 'targets_spec': TARGETS}
    started = time.time()
    odoo_root = odoo_env.find_odoo()
    with PgCluster() as pg:
        results['machine'] = machine.machine_info(pg.bin_dir)
        log('machine: ' + machine.describe(results['machine']))
        runner = WorkersRunner(pg, odoo_root, odoo_env.addons_path(odoo_root, run_dir), run_dir, log)
        log(f'installing maildesk into a template database; logs in {run_dir}')
        results['install_s'] = round(runner.build_template(), 1)
        emu = _emulator(runner, 'emulator-workers', args.accounts, args.messages, args.seed)
        template = runner.clone('bench_workers_tpl')
        try:
            setup = runner.run_worker('md_setup', {'emulator': _emu_params(emu),
                                                   'mailboxes': emu.users[:args.accounts]}, template)
            results['folders'] = sum(len(a['folders']) for a in setup['accounts'])
            for count in args.workers:
                db = runner.clone(f'bench_workers_{count}', template=template)
                log(f'  initial sync with {count} worker process(es)')
                try:
                    run = run_workers(runner, db, count, _postmaster_pid(pg), emu)
                finally:
                    runner.drop(db)
                results['runs'][str(count)] = run
                log(f'  {count} worker(s): {run["messages"]:,} messages in {run["span_s"]:.1f}s = '
                    f'{run["messages_per_s"]:,.0f} msg/s, {run["duplicates"]} duplicates, load '
                    f'{run["loadavg_1m_start"]} -> {run["loadavg_1m_end"]}')
        finally:
            emu.stop()
            runner.drop(template)
    results['wall_s'] = round(time.time() - started, 1)
    results['loadavg_at_end'] = [round(x, 2) for x in os.getloadavg()]
    results['targets'] = evaluate(results)
    path = os.path.join(bench_dir, f'workers-{stamp}-{git["commit_short"] or "nogit"}.json')
    with open(path, 'w') as fh:
        json.dump(results, fh, indent=2, default=str)
    print(table(results))
    log(f'results: {path} (wall time {results["wall_s"]:.0f}s)')
    if not args.keep:
        shutil.rmtree(run_dir, ignore_errors=True)
    return 0


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == '--worker':
        worker_main(sys.argv[2:])
    else:
        sys.exit(main())
