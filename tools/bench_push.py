"""Push benchmark: new mail visible in the inbox within seconds, and how few Graph requests an idle mailbox costs.

Not part of CI (``make bench`` runs it after tools/bench.py). Own PostgreSQL, maildesk installed into a fresh
database, the realistic emulator (notification delay ~1 s jittered, 2 % lost, 5 % doubled: emulator/README.md),
one mailbox with 10 synced folders, and a real Odoo server (HTTP + one cron thread) that the emulator notifies:

* delivery -> visible: a message delivered through the emulator's control API, until the inbox RPC
  (``maildesk.inbox.maildesk_list``, what the web client calls on the bus notification) lists it; p50 / p95 over
  N deliveries (target p95 < 3 s). A lost notification is a miss (counted as never visible: it waits for the
  safety poll, minutes later).
* Graph requests per hour of an idle 10-folder mailbox, push healthy vs polling only: one simulated hour of the
  "sync changes" cron (30 runs, 2 minutes apart, time moved on in the database) plus the hourly subscription
  cron; requests counted by the emulator (target: push <= 1/10 of polling).

    python3 tools/bench_push.py                     # 100 deliveries
    python3 tools/bench_push.py --deliveries 20

Writes ``.bench/bench-push-<time>.json`` and prints the figures with the load average.
"""
import argparse
import json
import math
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import odoo_env
from bench_inbox import Rpc, odoo_cmd, wait_http
from odoo_env import REPO, log
from pgcluster import PgCluster, free_port

DB = 'maildesk_bench_inbox'  # the name bench_inbox.Rpc signs in to
TARGET_P95_S = 3.0
TARGET_RATIO = 0.1
VISIBLE_TIMEOUT_S = 20.0
FOLDERS = 10

SETUP_PY = """
import json, sys
sys.path.insert(0, BENCH_DIR)
import maildesk_scenarios
out = maildesk_scenarios.scenario_md_setup(env, {'emulator': EMU, 'mailboxes': [EMU['users'][0]]})
account = env['maildesk.account'].browse(out['accounts'][0]['account_id'])
ICP = env['ir.config_parameter']
ICP.set_param('web.base.url', BASE_URL)
ICP.set_param('maildesk.push_enabled', True)
folders = account.folder_ids.filtered(lambda f: f.role in ('inbox', 'sentitems') or f.name.startswith('Bench '))
folders.write({'sync_enabled': True})
for _round in range(20):
    account._sync_round(budget=60)
    if all(f.sync_state == 'done' for f in folders):
        break
env.cr.commit()
inbox = folders.filtered(lambda f: f.role == 'inbox')
print('BENCH ' + json.dumps({'account': account.id, 'inbox': inbox.id, 'folders': len(folders),
                             'states': folders.mapped('sync_state')}))
"""
IDLE_PY = """
import json, requests
def control(method, path):
    return requests.request(method, EMU['base_url'] + '/_emulator' + path, verify=EMU['ca_bundle'], timeout=60).json()

def simulated_hour(push_on):
    env['ir.config_parameter'].set_param('maildesk.push_enabled', push_on)
    env.cr.commit()
    control('POST', '/counters/reset')
    for tick in range(30):  # the "sync changes" cron every 2 minutes
        if push_on and tick == 0:
            env['maildesk.subscription']._cron_maintain()  # hourly
        env['maildesk.account']._cron_sync_changes()
        env.cr.commit()
        # two minutes pass
        env.cr.execute("UPDATE maildesk_folder SET last_checked_at = last_checked_at - interval '2 minutes'")
        env.cr.execute("UPDATE maildesk_subscription SET expires_at = expires_at - interval '2 minutes', "
                       "last_notification_at = last_notification_at - interval '2 minutes'")
        env.cr.commit()
    counters = control('GET', '/counters')
    return {'requests': counters['by_user'].get(EMU['users'][0], 0), 'by_endpoint': counters['by_endpoint']}

push = simulated_hour(True)
states = env['maildesk.subscription'].search([]).mapped('state')
polling = simulated_hour(False)
print('BENCH ' + json.dumps({'push': push, 'polling': polling, 'subscription_states': states}))
"""


def shell(pg, addons, env, script, **values):
    prelude = ''.join('%s = %r\n' % item for item in values.items())
    out = subprocess.run(odoo_cmd(pg, addons, DB, '--no-http', command=['shell']), input=prelude + script,
                         text=True, capture_output=True, env=env, check=False)
    line = next((x for x in out.stdout.splitlines() if x.startswith('BENCH ')), None)
    if not line:
        sys.exit(out.stdout[-3000:] + out.stderr[-3000:])
    return json.loads(line[6:])


def wait_subscribed(pg, count, timeout=600):
    """Until the "push subscriptions" cron (woken when the folders were ticked) subscribed ``count`` folders."""
    import psycopg2
    deadline = time.time() + timeout
    states = {}
    while time.time() < deadline:
        cnx = psycopg2.connect(host=pg.host, port=pg.port, user=pg.user, dbname=DB)
        with cnx, cnx.cursor() as cr:
            cr.execute('SELECT state, count(*) FROM maildesk_subscription GROUP BY state')
            states = dict(cr.fetchall())
            cr.execute('SELECT DISTINCT failure_reason FROM maildesk_subscription WHERE failure_reason IS NOT NULL')
            reasons = [row[0] for row in cr.fetchall()]
        cnx.close()
        if states.get('active', 0) >= count:
            break
        time.sleep(2)
    return {'counts': states, 'states': sorted(states), 'reasons': reasons}


def percentile(values, share):
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))  # nearest rank
    return ordered[index]


def measure_latency(emu, base, inbox_id, count):
    rpc = Rpc(base)
    view = {'type': 'folder', 'id': inbox_id}
    samples = []
    for index in range(count):
        subject = 'Push bench %d %d' % (index, time.time_ns())
        started = time.perf_counter()
        emu.deliver(emu.users[0], subject=subject)
        seen = None
        while time.perf_counter() - started < VISIBLE_TIMEOUT_S:
            rows = rpc.call('maildesk_list', view=view, limit=10)[0]['rows']
            if any(row['subject'] == subject for row in rows):
                seen = time.perf_counter() - started
                break
            time.sleep(0.05)
        samples.append(seen)
        time.sleep(0.3)
    return samples


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--deliveries', type=int, default=100)
    parser.add_argument('--seed', type=int, default=1)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    sys.path.insert(0, REPO)
    from emulator.testing import start_emulator

    odoo_root = odoo_env.find_odoo()
    workdir = os.path.join(REPO, '.bench', 'push-run')
    os.makedirs(workdir, exist_ok=True)
    addons = odoo_env.addons_path(odoo_root, workdir)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [odoo_root, os.environ.get('PYTHONPATH')])))
    emu = start_emulator(state_dir=os.path.join(workdir, 'emulator'), users=1, messages=200, seed=args.seed)
    try:
        for number in range(FOLDERS - 2):
            emu.mutate(user=emu.users[0], op='create_folder', name='Bench %d' % number, parent='msgfolderroot')
        info = {'base_url': emu.base_url, 'ca_bundle': emu.ca_bundle, 'client_id': emu.client_id,
                'client_secret': emu.client_secret, 'authority': emu.authority, 'graph_url': emu.graph_url,
                'users': emu.users}
        with PgCluster() as pg:
            log(f'installing maildesk into {DB}')
            subprocess.run(odoo_cmd(pg, addons, DB, '-i', 'maildesk', '--without-demo=all', '--stop-after-init'),
                           check=True, env=env)
            port = free_port()
            base = f'http://127.0.0.1:{port}'
            log('setup: account, 10 folders, initial sync')
            setup = shell(pg, addons, env, SETUP_PY, EMU=info, BASE_URL=base,
                          BENCH_DIR=os.path.join(REPO, 'tools', 'bench'))
            server = subprocess.Popen(odoo_cmd(pg, addons, DB, f'--http-port={port}', '--max-cron-threads=1',
                                               '--workers=0'), env=env)
            try:
                wait_http(base)
                log('subscriptions: made by the server cron (the emulator validates the Odoo route)')
                subscribed = wait_subscribed(pg, setup['folders'])
                log(f'{args.deliveries} deliveries -> visible in the inbox RPC')
                samples = measure_latency(emu, base, setup['inbox'], args.deliveries)
                push_stats = emu.control('GET', '/subscriptions')
            finally:
                server.terminate()
                server.wait(60)
            log('an idle hour, push healthy vs polling only (simulated time)')
            idle = shell(pg, addons, env, IDLE_PY, EMU=info)
    finally:
        emu.stop()
    report(args, setup, subscribed, samples, push_stats, idle)


def report(args, setup, subscribed, samples, push_stats, idle):
    load = os.getloadavg()
    seen = [s for s in samples if s is not None]
    misses = len(samples) - len(seen)
    # misses count as never visible: they rank above every delivered sample
    ranked = seen + [float('inf')] * misses
    p50, p95 = percentile(ranked, 0.5), percentile(ranked, 0.95)
    push_requests, poll_requests = idle['push']['requests'], idle['polling']['requests']
    ratio = push_requests / poll_requests if poll_requests else None
    print(f'\nPush benchmark: {setup["folders"]} synced folders, {len(samples)} deliveries; {os.cpu_count()} CPUs, '
          f'load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}')
    print(f'subscriptions: {subscribed["counts"]} states {sorted(set(subscribed["states"]))}')
    print(f'delivery -> visible: p50 {p50:.2f} s, p95 {p95:.2f} s, max {max(seen) if seen else 0:.2f} s, '
          f'{misses} missed (notification lost) -- target p95 < {TARGET_P95_S:.0f} s'
          + ('' if p95 < TARGET_P95_S else '  <-- over target'))
    print(f'emulator: {push_stats["delivered"]} notifications delivered, {push_stats["dropped"]} dropped, '
          f'{push_stats["duplicated"]} doubled')
    print(f'idle hour, Graph requests: push healthy {push_requests}, polling only {poll_requests}, ratio '
          f'{ratio:.3f} -- target <= {TARGET_RATIO}' + ('' if ratio is not None and ratio <= TARGET_RATIO
                                                        else '  <-- over target'))
    os.makedirs(os.path.join(REPO, '.bench'), exist_ok=True)
    path = os.path.join(REPO, '.bench', 'bench-push-%s.json' % time.strftime('%Y%m%d-%H%M%S'))
    with open(path, 'w') as fh:
        json.dump({'deliveries': len(samples), 'samples_s': samples, 'p50_s': p50, 'p95_s': p95, 'misses': misses,
                   'emulator': {k: v for k, v in push_stats.items() if k != 'value'}, 'subscriptions': subscribed,
                   'idle_hour': idle, 'ratio': ratio, 'cpus': os.cpu_count(), 'load_average': load,
                   'seed': args.seed}, fh, indent=1, default=str)
    print(f'\nwritten {path}')


if __name__ == '__main__':
    main()
