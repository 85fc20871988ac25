"""``make demo``: Odoo 18 + MailDesk + the Microsoft emulator, ready to click through.

Keeps a PostgreSQL cluster and the demo database under ``.demo/`` (git-ignored), starts the Microsoft
identity + Graph emulator, points MailDesk's settings at it, and serves Odoo on http://localhost:8069.
Ctrl-C stops everything it started.
"""
import argparse
import os
import signal
import subprocess
import sys
import time
import xmlrpc.client

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import odoo_env
from odoo_env import REPO, log
from pgcluster import PgCluster

DEMO_DIR = os.path.join(REPO, '.demo')
DB_NAME = 'maildesk_demo'
TOOLS = os.path.dirname(os.path.abspath(__file__))
# CRM part (first run, with --crm): the emulator's first mailbox plays sales@, its mail becomes leads.
CRM_SHELL_PY = r"""
import sys
sys.path.insert(0, TOOLS)
from gateway_setup import emulator_control, gateway_mailbox
from odoo.addons.maildesk.engine import gateway
email = INFO['users'][0]
admin = env.ref('base.user_admin')
admin.partner_id.email = email  # admin's chatter replies go out From the mailbox (its outgoing server's filter)
account, server = gateway_mailbox(env, INFO, email, 'crm.lead', name='Sales (sales@)', outgoing=True, owner=admin)
for subject, sender in (('Quote for 20 office chairs', ('Alex Wilber', 'alexw@fabrikam.test')),
                        ('Pricing for the Pro plan?', ('Lynne Robbins', 'lynner@northwind.test')),
                        ('Demo request next week', ('Diego Siciliani', 'diegos@tailspin.test'))):
    emulator_control(INFO, '/deliver', {'user': email, 'message': {
        'subject': subject, 'from': {'name': sender[0], 'address': sender[1]},
        'to': [{'name': 'Sales', 'address': email}],
        'body': '<p>Hello, %s. Could you send me an offer? Thanks!</p>' % subject.lower()}})
account._sync_round()
env.cr.commit()
run = gateway.cron_route(env)
env.cr.commit()
leads = env['crm.lead'].search([('email_from', 'ilike', '.test')])
print('CRM demo: %d mail(s) routed, leads: %s' % (run.routed if run else 0, ', '.join(leads.mapped('name'))))
"""


def start_emulator():
    if not os.path.isfile(os.path.join(REPO, 'emulator', 'testing.py')):
        log('the Microsoft emulator is not part of this checkout yet: configure a real Azure app in Settings')
        return None
    sys.path.insert(0, REPO)
    from emulator.testing import start_emulator as start
    # info@ and support@: Exchange shared mailboxes the demo user (the first one) has Full Access, Send As and
    # Send on Behalf on ("Add Shared Mailbox" on the demo user's account)
    return start(state_dir=os.path.join(DEMO_DIR, 'emulator'), users=3, messages=500, seed=1,
                 extra_args=('--shared', 'info', '--shared', 'support'))


def wait_for_http(port, proc, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError('Odoo stopped while starting; see the log above')
        try:
            xmlrpc.client.ServerProxy(f'http://127.0.0.1:{port}/xmlrpc/2/common').version()
            return
        except OSError:
            time.sleep(1)
    raise RuntimeError('Odoo did not answer on port %s' % port)


def configure(port, emulator):
    """Write MailDesk's settings through one authenticated JSON-RPC session (one password check)."""
    session = requests.Session()
    base = f'http://127.0.0.1:{port}'
    auth = session.post(f'{base}/web/session/authenticate', json={'jsonrpc': '2.0', 'params': {
        'db': DB_NAME, 'login': 'admin', 'password': 'admin'}}, timeout=60).json()
    if auth.get('error'):
        raise RuntimeError('could not log in as admin to configure the demo: %s' % auth['error'].get('message'))
    params = {'web.base.url': f'http://localhost:{port}'}
    if emulator:
        info = emulator.info
        params.update({
            'maildesk.client_id': info['client_id'], 'maildesk.client_secret': info['client_secret'],
            'maildesk.tenant': 'common', 'maildesk.cloud': 'custom',
            'maildesk.authority_url': info['authority'], 'maildesk.graph_url': info['graph_url'],
            'maildesk.ca_bundle': info['ca_bundle'], 'maildesk.permission_level': 'write',
            # push (README "Push"): the emulator notifies this Odoo over loopback, new mail shows within seconds
            'maildesk.push_enabled': True,
        })
    for key, value in params.items():
        session.post(f'{base}/web/dataset/call_kw', json={'jsonrpc': '2.0', 'params': {
            'model': 'ir.config_parameter', 'method': 'set_param', 'args': [key, value], 'kwargs': {}}},
            timeout=60).raise_for_status()


def crm_demo(odoo_root, pg, emulator):
    """sales@ mail becoming leads: the mailbox, its servers and three customer mails, routed once (odoo shell)."""
    log('CRM demo: sales@ mailbox, its mail becoming leads')
    script = 'INFO = %r\nTOOLS = %r\n%s' % (emulator.info, TOOLS, CRM_SHELL_PY)
    cmd = [*odoo_env.odoo_command(), 'shell', f'--addons-path={odoo_env.addons_path(odoo_root, DEMO_DIR)}',
           *pg.odoo_args(), '-d', DB_NAME, '--no-http', '--log-level=warn',
           f'--data-dir={os.path.join(DEMO_DIR, "filestore")}']
    out = subprocess.run(cmd, input=script, text=True, capture_output=True, cwd=REPO, check=False,
                         env=dict(os.environ, PYTHONPATH=odoo_root))
    lines = [line for line in out.stdout.splitlines() if line.startswith('CRM demo:')]
    log(lines[0] if lines else 'CRM demo setup failed:\n' + out.stdout[-2000:] + out.stderr[-3000:])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--port', type=int, default=8069)
    parser.add_argument('--reset', action='store_true', help='drop the demo database and start afresh')
    parser.add_argument('--no-crm', dest='crm', action='store_false',
                        help='do not install CRM nor turn the first mailbox\'s mail into leads')
    args = parser.parse_args()
    odoo_root = odoo_env.find_odoo()
    odoo_env.ensure_requirements()
    if args.reset:
        subprocess.run(['rm', '-rf', DEMO_DIR], check=False)
    os.makedirs(DEMO_DIR, exist_ok=True)
    pg = PgCluster(base_dir=os.path.join(DEMO_DIR, 'pg'), keep=True)
    emulator = odoo_proc = None
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        pg.start()
        emulator = start_emulator()
        first_run = not os.path.exists(os.path.join(DEMO_DIR, 'initialized'))
        crm = args.crm and emulator and os.path.isdir(os.path.join(odoo_root, 'addons', 'crm'))
        cmd = [*odoo_env.odoo_command(), f'--addons-path={odoo_env.addons_path(odoo_root, DEMO_DIR)}',
               *pg.odoo_args(), '-d', DB_NAME, f'--db-filter=^{DB_NAME}$', f'--http-port={args.port}',
               '--without-demo=all', f'--data-dir={os.path.join(DEMO_DIR, "filestore")}',
               '-i' if first_run else '-u', 'maildesk', '--max-cron-threads=1']
        if crm and first_run:
            # installed before the server starts: installing CRM in a serving Odoo re-executes the server, which
            # `python -m odoo` cannot survive
            log('installing MailDesk and CRM (a few minutes)')
            subprocess.run([*cmd, '-i', 'maildesk,crm', '--stop-after-init', '--no-http'], cwd=REPO, check=True,
                           env=dict(os.environ, PYTHONPATH=odoo_root))
        log('starting Odoo (first run installs MailDesk: about a minute)')
        odoo_proc = subprocess.Popen(cmd, cwd=REPO, env=dict(os.environ, PYTHONPATH=odoo_root))
        wait_for_http(args.port, odoo_proc)
        configure(args.port, emulator)
        if crm and first_run:
            crm_demo(odoo_root, pg, emulator)
        open(os.path.join(DEMO_DIR, 'initialized'), 'w').close()
        print(f'\n  MailDesk demo: http://localhost:{args.port}/odoo/maildesk   login: admin / password: admin')
        if crm:
            print('  CRM: the "Sales (sales@)" mailbox routes its Inbox mail into leads (CRM > Leads); reply from a')
            print('  lead\'s chatter: it goes out through Outlook, in the same conversation (In-Reply-To/References).')
        if emulator:
            print(f'  Microsoft emulator: {emulator.info["base_url"]} — mailboxes: {", ".join(emulator.info["users"])}')
            print(f'  shared mailboxes (Full Access for {emulator.info["users"][0]}): '
                  f'{", ".join(emulator.info.get("shared_mailboxes", []))}')
            print('  Settings are preconfigured for it: create a Mailbox Account with one of these addresses,')
            print('  then Authorize Outlook, add the incoming/outgoing servers, Fetch Folders and sync.')
        print('  Ctrl-C stops everything.\n', flush=True)
        odoo_proc.wait()
    except KeyboardInterrupt:
        log('stopping')
    finally:
        if odoo_proc and odoo_proc.poll() is None:
            odoo_proc.terminate()
            try:
                odoo_proc.wait(20)
            except subprocess.TimeoutExpired:
                odoo_proc.kill()
        if emulator:
            emulator.stop()
        pg.stop()


if __name__ == '__main__':
    main()
