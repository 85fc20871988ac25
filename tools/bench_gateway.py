"""Mail gateway benchmark: Outlook mail -> Odoo records through MailDesk's gateway, side by side with Odoo 18's
own IMAP incoming server (fetchmail) on the same messages into the same model (res.partner, "Create a New Record").

Not part of CI. Own PostgreSQL, maildesk installed into a fresh database, the project's Microsoft emulator with N
new Inbox messages, a local Dovecot (tools/bench/dovecot.py, as ``make bench``'s IMAP baseline) holding the same
N messages, one Odoo process (``odoo shell``) doing the measurements:

* floor: ``message_process`` + a commit per message on the same MIME bytes (what fetchmail does per message after
  the IMAP ``FETCH``), a reference for what both paths add;
* IMAP: an IMAP ``fetchmail.server`` on the Dovecot (set up as ``make bench`` does) ``fetch_mail()``;
* gateway: the gateway cron (claim -> ``GET /messages/{id}/$value`` -> ``message_process`` -> state row -> commit
  per message) until the queue is empty.

All three create the same records (the floor's and IMAP's Message-IDs get a prefix, or Odoo would ignore them as
duplicates). Reports messages per second and Odoo CPU seconds per message (``time.process_time`` of the Odoo
process: Python, not PostgreSQL, Dovecot or the emulator). Writes ``.bench/bench-gateway-<time>.json``.

    python3 tools/bench_gateway.py                  # 300 messages
    python3 tools/bench_gateway.py --messages 50
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import odoo_env
from bench import dovecot
from odoo_env import REPO, log
from pgcluster import PgCluster

DB = 'maildesk_bench_gateway'
TOOLS = os.path.dirname(os.path.abspath(__file__))
SHELL_PY = r"""
import json, os, sys, time
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

# the floor first, then Odoo's IMAP fetchmail, then the gateway, on the same mail
floor_mimes = [m.replace(b'Message-ID: <', b'Message-ID: <floor.', 1) for m in mimes]
started, cpu = time.perf_counter(), time.process_time()
for mime in floor_mimes:
    Thread.message_process('res.partner', mime, save_original=server.original, strip_attachments=not server.attach)
    env.cr.commit()
floor_wall, floor_cpu = time.perf_counter() - started, time.process_time() - cpu

from bench import dovecot
from bench.worker import imap_incoming_server
dovecot.write_maildir_messages(os.path.join(IMAP_ROOT, 'Maildir'), [
    (int(time.time()), m.replace(b'Message-ID: <', b'Message-ID: <imap.', 1)) for m in mimes])
with dovecot.Dovecot(IMAP_ROOT) as imap:
    unseen = imap.count('UNSEEN')
    imap_server = imap_incoming_server(env, vars(imap), 'res.partner')
    env.cr.commit()
    started, cpu = time.perf_counter(), time.process_time()
    imap_server.fetch_mail()
    env.cr.commit()
    imap_wall, imap_cpu = time.perf_counter() - started, time.process_time() - cpu
    unseen_after = imap.count('UNSEEN')
imap_stored = env['mail.message'].search_count([('model', '=', 'res.partner'), ('message_id', '=like', '<imap.%')])

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
                             'imap': {'messages': imap_stored, 'seconds': imap_wall, 'cpu': imap_cpu,
                                      'unseen_before': unseen, 'unseen_after': unseen_after},
                             'floor': {'messages': len(floor_mimes), 'seconds': floor_wall, 'cpu': floor_cpu}}))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--messages', type=int, default=300)
    parser.add_argument('--profile', action='store_true', help='print the gateway run\'s cProfile (top 40)')
    args = parser.parse_args()
    odoo_root = odoo_env.find_odoo()
    workdir = os.path.join(REPO, '.bench', 'gateway-run')
    os.makedirs(workdir, exist_ok=True)
    dovecot.ensure_dovecot(log)
    run_dir = tempfile.mkdtemp(prefix='run-', dir=workdir)
    os.chmod(run_dir, 0o755)  # Dovecot's mail processes (an unprivileged uid) reach the Maildir below it
    imap_root = os.path.join(run_dir, 'imap')
    addons = odoo_env.addons_path(odoo_root, workdir)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [odoo_root, os.environ.get('PYTHONPATH')])))
    sys.path.insert(0, REPO)
    from emulator.testing import start_emulator
    load_start = [round(x, 2) for x in os.getloadavg()]
    emulator = start_emulator(users=1, messages=20, seed=1)
    try:
        with PgCluster() as pg:
            base = [*odoo_env.odoo_command(), f'--addons-path={addons}', *pg.odoo_args(), '-d', DB,
                    '--log-level=warn']
            log(f'installing maildesk into {DB}')
            subprocess.run([*base, '-i', 'maildesk', '--without-demo=all', '--stop-after-init'], check=True, env=env)
            log(f'routing {args.messages} messages: message_process floor, Odoo IMAP fetchmail, gateway')
            script = 'INFO = %r\nCOUNT = %d\nTOOLS = %r\nPROFILE = %r\nIMAP_ROOT = %r\n%s' % (
                emulator.info, args.messages, TOOLS, args.profile, imap_root, SHELL_PY)
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
        shutil.rmtree(run_dir, ignore_errors=True)
    results['loadavg'] = {'start': load_start, 'end': [round(x, 2) for x in os.getloadavg()]}
    print('\n  Mail -> records (res.partner), %d messages' % args.messages)
    print('  %-34s %10s %16s' % ('path', 'msg/s', 'Odoo CPU ms/msg'))
    for name, label in (('gateway', 'MailDesk gateway (Graph $value)'),
                        ('imap', 'Odoo IMAP fetchmail <- Dovecot'), ('floor', 'message_process only (floor)')):
        part = results[name]
        count = max(part['messages'], 1)
        part['msg_per_s'] = round(part['messages'] / part['seconds'], 1) if part['seconds'] else None
        part['cpu_ms_per_msg'] = round(1000 * part['cpu'] / count, 1)
        print('  %-34s %10s %16s' % (label, part['msg_per_s'], part['cpu_ms_per_msg']))
    print('  (floor: message_process + commit on the same MIME, no I/O; load average %s)\n' % results['loadavg'])
    os.makedirs(os.path.join(REPO, '.bench'), exist_ok=True)
    path = os.path.join(REPO, '.bench', 'bench-gateway-%s.json' % time.strftime('%Y%m%d-%H%M%S'))
    with open(path, 'w') as handle:
        json.dump(dict(results, messages=args.messages), handle, indent=2)
    log(f'wrote {path}')


if __name__ == '__main__':
    main()
