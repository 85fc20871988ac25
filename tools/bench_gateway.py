"""Mail gateway benchmark: Outlook mail -> Odoo records through MailDesk's gateway, side by side with Odoo's IMAP
fetchmail path on the same messages into the same model (res.partner, "Create a New Record").

Not part of CI. Own PostgreSQL, maildesk installed into a fresh database, the project's Microsoft emulator with N
new Inbox messages, one Odoo process (``odoo shell``) doing both measurements:

* gateway: the gateway cron (claim -> ``GET /messages/{id}/$value`` -> ``message_process`` -> state row -> commit
  per message) until the queue is empty;
* IMAP floor: ``message_process`` on the same MIME bytes with a commit per message, exactly what
  ``fetchmail.server.fetch_mail`` does per message after the IMAP ``FETCH``. Odoo's fetchmail against a real IMAP
  server would cost that plus the IMAP round trips (no Dovecot on this machine), so this is its lower bound.

Both create the same records (the floor's Message-IDs get a suffix, or Odoo would ignore them as duplicates).
Reports messages per second and Odoo CPU seconds per message (``time.process_time`` of the Odoo process: Python,
not PostgreSQL or the emulator). Writes ``.bench/bench-gateway-<time>.json``.

    python3 tools/bench_gateway.py                  # 300 messages
    python3 tools/bench_gateway.py --messages 50
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import odoo_env
from odoo_env import REPO, log
from pgcluster import PgCluster

DB = 'maildesk_bench_gateway'
TOOLS = os.path.dirname(os.path.abspath(__file__))
SHELL_PY = r"""
import json, sys, time
sys.path.insert(0, TOOLS)
from gateway_setup import emulator_control, gateway_mailbox
from odoo.addons.maildesk.engine import gateway

email = INFO['users'][0]
account, server = gateway_mailbox(env, INFO, email, 'res.partner')  # seeded (older) mail: before the watermark
emulator_control(INFO, '/deliver', {'user': email, 'count': COUNT, 'message': {'subject': 'Bench request'}})
account._sync_round(budget=600)
env.cr.commit()

queued = env['maildesk.message'].search([('account_id', '=', account.id), ('subject', '=', 'Bench request')])
# one sender for every message: Odoo's loop guard would stop both paths after 20 records
env['ir.config_parameter'].set_param('mail.gateway.loop.threshold', 10 ** 6)
client = account._graph_client()
mimes = [client.get_mime(message.graph_id) for message in queued]
Thread = env['mail.thread'].with_context(fetchmail_cron_running=True, default_fetchmail_server_id=server.id)
for mime in mimes[:3]:  # warm-up (registry caches), untimed
    Thread.message_process('res.partner', mime.replace(b'Message-ID: <', b'Message-ID: <warm.', 1))
env.cr.commit()

# IMAP floor first (what fetchmail does per message after the IMAP FETCH), then the gateway on the same mail
imap_mimes = [m.replace(b'Message-ID: <', b'Message-ID: <imap.', 1) for m in mimes]
started, cpu = time.perf_counter(), time.process_time()
for mime in imap_mimes:
    Thread.message_process('res.partner', mime, save_original=server.original, strip_attachments=not server.attach)
    env.cr.commit()
imap_wall, imap_cpu = time.perf_counter() - started, time.process_time() - cpu

if PROFILE:
    import cProfile
    profiler = cProfile.Profile()
    profiler.enable()
started, cpu = time.perf_counter(), time.process_time()
runs = 0
while True:
    run = gateway.cron_route(env)
    runs += 1
    env.cr.commit()
    if not run or not run.left:
        break
gw_wall, gw_cpu = time.perf_counter() - started, time.process_time() - cpu
if PROFILE:
    import io, pstats
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats('cumulative').print_stats(40)
    print('PROFILE ' + json.dumps(out.getvalue()))
routed = env['maildesk.route'].search_count([('state', '=', 'routed')])
print('BENCH ' + json.dumps({'synced': len(queued),
                             'gateway': {'messages': routed, 'seconds': gw_wall, 'cpu': gw_cpu, 'runs': runs},
                             'imap_floor': {'messages': len(imap_mimes), 'seconds': imap_wall, 'cpu': imap_cpu}}))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--messages', type=int, default=300)
    parser.add_argument('--profile', action='store_true', help='print the gateway run\'s cProfile (top 40)')
    args = parser.parse_args()
    odoo_root = odoo_env.find_odoo()
    workdir = os.path.join(REPO, '.bench', 'gateway-run')
    os.makedirs(workdir, exist_ok=True)
    addons = odoo_env.addons_path(odoo_root, workdir)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [odoo_root, os.environ.get('PYTHONPATH')])))
    sys.path.insert(0, REPO)
    from emulator.testing import start_emulator
    emulator = start_emulator(users=1, messages=20, seed=1)
    try:
        with PgCluster() as pg:
            base = [*odoo_env.odoo_command(), f'--addons-path={addons}', *pg.odoo_args(), '-d', DB,
                    '--log-level=warn']
            log(f'installing maildesk into {DB}')
            subprocess.run([*base, '-i', 'maildesk', '--without-demo=all', '--stop-after-init'], check=True, env=env)
            log(f'routing {args.messages} messages: gateway, then the IMAP floor')
            script = 'INFO = %r\nCOUNT = %d\nTOOLS = %r\nPROFILE = %r\n%s' % (
                emulator.info, args.messages, TOOLS, args.profile, SHELL_PY)
            shell = [*odoo_env.odoo_command(), 'shell', *base[len(odoo_env.odoo_command()):], '--no-http']
            out = subprocess.run(shell, input=script, text=True, capture_output=True, env=env, check=False)
            line = next((x for x in out.stdout.splitlines() if x.startswith('BENCH ')), None)
            if not line:
                sys.exit(out.stdout[-3000:] + out.stderr[-5000:])
            results = json.loads(line[6:])
            profile = next((x for x in out.stdout.splitlines() if x.startswith('PROFILE ')), None)
            if profile:
                print(json.loads(profile[8:]))
    finally:
        emulator.stop()
    print('\n  Mail -> records (res.partner), %d messages' % args.messages)
    print('  %-34s %10s %16s' % ('path', 'msg/s', 'Odoo CPU ms/msg'))
    for name, label in (('gateway', 'MailDesk gateway (Graph $value)'), ('imap_floor', 'IMAP fetchmail floor')):
        part = results[name]
        count = max(part['messages'], 1)
        part['msg_per_s'] = round(part['messages'] / part['seconds'], 1) if part['seconds'] else None
        part['cpu_ms_per_msg'] = round(1000 * part['cpu'] / count, 1)
        print('  %-34s %10s %16s' % (label, part['msg_per_s'], part['cpu_ms_per_msg']))
    print('  (the IMAP floor is message_process + commit on the same MIME: Odoo\'s fetchmail adds IMAP I/O)\n')
    os.makedirs(os.path.join(REPO, '.bench'), exist_ok=True)
    path = os.path.join(REPO, '.bench', 'bench-gateway-%s.json' % time.strftime('%Y%m%d-%H%M%S'))
    with open(path, 'w') as handle:
        json.dump(dict(results, messages=args.messages), handle, indent=2)
    log(f'wrote {path}')


if __name__ == '__main__':
    main()
