"""``make stress``: crash safety. A real Odoo server syncing a 20,000-message mailbox is killed with SIGKILL at
20 moments (mid-page, mid-commit, mid-backfill, random) while Outlook keeps changing; after a last restart and
completion, the local store must equal the emulator's ground truth: 0 missing, 0 duplicates, 0 stale, 0 extra.

Not part of CI. Own PostgreSQL, own emulator, its own database; the Odoo process under test is the ordinary server
(``python -m odoo``, one cron thread, HTTP on a free port) -- MailDesk's crons run in it exactly as in production.
When work is left and no cron is due (the real scheduler would wait out the 2- and 4-minute intervals), the driver
makes the MailDesk crons due and pokes the cron thread (``NOTIFY cron_trigger``): time passes faster, nothing else.

    python3 tools/stress.py                          # 20,000 messages, 20 kills
    python3 tools/stress.py --messages 2000 --kills 5 --page-size 100     # a quick look

Figures go to stdout and ``.tmp/stress-<time>/report.json`` (also the server logs of every life of the server).
Exit status 0 only when the store converged exactly and no server life logged an ERROR.
"""
import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import odoo_env
from odoo_env import REPO, log
from pgcluster import PgCluster, free_port

DB = 'maildesk_stress'
# Odoo's own reaction to a job whose process died under it three times in a row (ir.cron counts every start; a
# SIGKILLed run never ends it): "Job ... timed out", then the job is rescheduled. Expected here, reported apart.
KILLED_JOB = re.compile(r" ERROR \S+ odoo\.addons\.base\.models\.ir_cron: Job '[^']*' \(\d+\) timed out$")
MOMENTS = ('mid-page', 'mid-commit', 'mid-backfill', 'random')
MAILDESK_CRONS = ('maildesk.ir_cron_maildesk_sync_changes', 'maildesk.ir_cron_maildesk_backfill')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--messages', type=int, default=20000, help='messages in the Inbox (default 20000)')
    parser.add_argument('--kills', type=int, default=20)
    parser.add_argument('--page-size', type=int, default=250, help='delta page size (default 250: many pages)')
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--latency', type=float, default=0.03, help='emulator latency per Graph request (s)')
    parser.add_argument('--timeout', type=int, default=1800, help='seconds for the final convergence')
    parser.add_argument('--spread', type=float, default=8.0,
                        help='up to this many seconds of syncing before a life looks for its kill moment (8)')
    parser.add_argument('--setup', help=argparse.SUPPRESS)  # internal: run the setup inside an Odoo process
    return parser.parse_args(sys.argv[1:sys.argv.index('--')] if '--' in sys.argv else sys.argv[1:])


# -- inside Odoo: the user's setup path ---------------------------------------------------------------------------
def setup_in_odoo(params, odoo_args):
    """Settings, account, Authorize Outlook (real MSAL flow, emulator auto-consent), confirmed incoming server,
    Fetch Folders, Inbox + Sent Items synced. Prints the account as one JSON line."""
    import requests
    from lxml import html

    import odoo
    from odoo import SUPERUSER_ID, api
    from odoo.modules.registry import Registry
    odoo.tools.config.parse_config(odoo_args, setup_logging=True)
    emu = params['emulator']
    with Registry(DB).cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        for key, value in {
            'maildesk.client_id': emu['client_id'], 'maildesk.client_secret': emu['client_secret'],
            'maildesk.tenant': 'common', 'maildesk.cloud': 'custom', 'maildesk.authority_url': emu['base_url'],
            'maildesk.graph_url': emu['graph_url'], 'maildesk.ca_bundle': emu['ca_bundle'],
            'maildesk.permission_level': 'read', 'maildesk.page_size': params['page_size'],
            'maildesk.backfill_months': 0, 'web.base.url': 'http://localhost:8069',
        }.items():
            env['ir.config_parameter'].set_param(key, value)
        email = emu['users'][0]
        account = env['maildesk.account'].create({'name': email, 'email': email,
                                                  'user_id': env.ref('base.user_admin').id})
        flow = account._start_authorization()
        control = emu['base_url'] + '/_emulator/consent'
        requests.post(control, json={'auto': 'accept', 'user': email}, verify=emu['ca_bundle'], timeout=30)
        try:
            answer = requests.get(flow['auth_uri'], allow_redirects=False, verify=emu['ca_bundle'], timeout=60)
        finally:
            requests.post(control, json={'auto': None}, verify=emu['ca_bundle'], timeout=30)
        form = html.fromstring(answer.text).forms[0]
        params_back = {field.name: field.value for field in form.inputs if field.name}
        account._finish_authorization(flow, params_back)
        server = env['fetchmail.server'].create({'name': 'Outlook %s' % email, 'server_type': 'maildesk_graph',
                                                 'maildesk_account_id': account.id})
        server.button_confirm_login()
        account.action_fetch_folders()
        for folder in account.folder_ids:
            folder.sync_enabled = folder.role in ('inbox', 'sentitems')
        # the other crons of the database stay quiet (mail queue, autovacuum...): only MailDesk is under test
        maildesk_crons = [env.ref(xmlid).id for xmlid in MAILDESK_CRONS + ('maildesk.ir_cron_maildesk_clear_bodies',)]
        env['ir.cron'].search([('id', 'not in', maildesk_crons)]).write({'active': False})
        cr.commit()
        print('@@SETUP ' + json.dumps({'account_id': account.id, 'email': email, 'state': account.state,
                                       'folders': {f.role: f.graph_id for f in account.folder_ids
                                                   if f.sync_enabled}}), flush=True)


# -- the driver -----------------------------------------------------------------------------------------------------
class Stress:
    def __init__(self, args, pg, odoo_root, workdir, emulator):
        self.args, self.pg, self.workdir, self.emu = args, pg, workdir, emulator
        self.rng = random.Random(args.seed)
        self.addons = odoo_env.addons_path(odoo_root, workdir)
        self.env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [odoo_root,
                                                                            os.environ.get('PYTHONPATH')])))
        self.server = None
        self.lives = 0
        self.kills = []
        self.mutations = 0
        self.error_lines = []
        self.killed_job_lines = []
        self.conn = None
        self.server_log = ''
        self.last_change = None

    # database --------------------------------------------------------------------------------------------------
    def odoo_args(self, log_name):
        return [f'--addons-path={self.addons}', *self.pg.odoo_args(), '-d', DB, '--without-demo=all',
                f'--data-dir={os.path.join(self.workdir, "filestore")}',
                f'--logfile={os.path.join(self.workdir, log_name)}', '--log-level=info']

    def query(self, sql, params=None):
        import psycopg2
        for _attempt in range(3):
            try:
                if self.conn is None or self.conn.closed:
                    self.conn = psycopg2.connect(host=self.pg.host, port=self.pg.port, user=self.pg.user, dbname=DB)
                    self.conn.autocommit = True
                with self.conn.cursor() as cr:
                    cr.execute(sql, params)
                    return cr.fetchall() if cr.description else None
            except psycopg2.OperationalError:
                self.conn = None
                time.sleep(0.2)
        raise RuntimeError('database unreachable')

    def install(self):
        log(f'installing maildesk into {DB}')
        cmd = [sys.executable, '-m', 'odoo', *self.odoo_args('install.log'), '-i', 'maildesk', '--stop-after-init']
        if subprocess.run(cmd, env=self.env, check=False).returncode:
            sys.exit('installing maildesk failed: see %s' % os.path.join(self.workdir, 'install.log'))

    def setup(self):
        info = {'emulator': self.emu.info, 'page_size': self.args.page_size}
        cmd = [sys.executable, os.path.abspath(__file__), '--setup', json.dumps(info), '--',
               *self.odoo_args('setup.log')]
        out = subprocess.run(cmd, env=self.env, capture_output=True, text=True, check=False)
        line = next((text for text in out.stdout.splitlines() if text.startswith('@@SETUP ')), None)
        if out.returncode or not line:
            sys.exit('setup failed (%s):\n%s\n%s' % (out.returncode, out.stdout[-2000:], out.stderr[-3000:]))
        self.account = json.loads(line[len('@@SETUP '):])
        log('account %(account_id)s (%(email)s) %(state)s, folders %(folders)s' % self.account)

    # the server under test ---------------------------------------------------------------------------------------
    def start_server(self):
        self.lives += 1
        log_name = 'server-%02d.log' % self.lives
        cmd = [sys.executable, '-m', 'odoo', *self.odoo_args(log_name), f'--http-port={free_port()}',
               '--max-cron-threads=1', '--workers=0', '--no-database-list']
        self.server = subprocess.Popen(cmd, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        self.server_started = time.monotonic()
        self.server_log = os.path.join(self.workdir, log_name)

    def server_backends(self):
        """(state, query) of the server's open database connections (Odoo names them odoo-<pid>)."""
        return self.query("SELECT state, left(query, 60) FROM pg_stat_activity WHERE datname = %s AND "
                          "application_name = %s", [DB, 'odoo-%d' % self.server.pid])

    def kill_server(self, moment):
        """SIGKILL at once; what was going on is what the detection saw just before (``self.evidence``)."""
        os.killpg(self.server.pid, signal.SIGKILL)  # our own process group (start_new_session)
        after = time.monotonic() - self.server_started
        self.server.wait(30)
        folders = self.folder_states()  # what survived: the committed state
        self.kills.append({'moment': moment, 'after_s': round(after, 2), 'evidence': self.evidence,
                           'folders': folders, 'load_average': round(os.getloadavg()[0], 2)})
        self.collect_errors()
        log('kill %2d %-26s after %5.1fs  %-40s %s' % (
            len(self.kills), moment, after, self.evidence[:40],
            ', '.join('%s %s %s/%s' % (r, s, n, t) for r, s, n, t in folders)))

    def stop_server(self):
        if self.server and self.server.poll() is None:
            os.killpg(self.server.pid, signal.SIGTERM)
            try:
                self.server.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.server.pid, signal.SIGKILL)
                self.server.wait(30)
        self.collect_errors()

    def collect_errors(self):
        if os.path.exists(self.server_log):
            with open(self.server_log, errors='replace') as fh:
                for line in fh:
                    if KILLED_JOB.search(line.rstrip()):
                        self.killed_job_lines.append(line.rstrip())
                    elif ' ERROR ' in line or ' CRITICAL ' in line:
                        self.error_lines.append(line.rstrip())
            self.server_log = ''

    # progress --------------------------------------------------------------------------------------------------
    def folder_states(self):
        return self.query("""SELECT f.role, f.sync_state, (SELECT count(*) FROM maildesk_message m
                                                           WHERE m.folder_id = f.id AND m.active), f.total_count
                               FROM maildesk_folder f WHERE f.sync_enabled ORDER BY f.role""")

    def work_left(self, since=None):
        return self.query("""SELECT count(*) FROM maildesk_folder WHERE sync_enabled AND (
                                 sync_state != 'done' OR next_link IS NOT NULL OR delta_link IS NULL
                                 OR last_checked_at IS NULL OR last_checked_at < %s)""",
                          [since or '1970-01-01'])[0][0]

    def poke_crons(self, since=None):
        """Work is left: make the MailDesk crons due if none is (the scheduler's 2/4-minute interval, fast-forwarded)
        and wake the cron thread (``NOTIFY cron_trigger``, what ``ir.cron._trigger`` does on commit) -- without
        it the thread of a freshly started server first sleeps up to a minute."""
        if not self.work_left(since):
            return
        due = self.query("""SELECT count(*) FROM ir_cron c JOIN ir_model_data d ON d.res_id = c.id
                             AND d.model = 'ir.cron' AND d.module = 'maildesk'
                             WHERE c.active AND (c.nextcall <= now() AT TIME ZONE 'UTC' OR EXISTS (
                                 SELECT 1 FROM ir_cron_trigger t WHERE t.cron_id = c.id
                                    AND t.call_at <= now() AT TIME ZONE 'UTC'))""")[0][0]
        if not due:
            self.query("""UPDATE ir_cron SET nextcall = now() AT TIME ZONE 'UTC' - interval '1 second'
                           WHERE id IN (SELECT res_id FROM ir_model_data WHERE module = 'maildesk'
                                        AND model = 'ir.cron' AND name IN %s)""",
                       [tuple(x.split('.', 1)[1] for x in MAILDESK_CRONS)])
        self.notify_cron()

    def notify_cron(self):
        """Odoo's cron threads LISTEN on a connection to the ``postgres`` database (as ``ir.cron._notifydb``)."""
        import psycopg2
        conn = psycopg2.connect(host=self.pg.host, port=self.pg.port, user=self.pg.user, dbname='postgres')
        conn.autocommit = True
        with conn.cursor() as cr:
            cr.execute('NOTIFY cron_trigger, %s', [DB])
        conn.close()

    def wait_for(self, predicate, timeout, step=0.01):
        deadline = time.monotonic() + timeout
        last_poke = 0
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                return False
            if predicate():
                return True
            if time.monotonic() - last_poke > 1:
                self.poke_crons(self.last_change)
                last_poke = time.monotonic()
            time.sleep(step)
        return False

    # moments ---------------------------------------------------------------------------------------------------
    def syncing(self):
        in_flight = self.emu.counters().get('in_flight', {}).get(self.account['email'])
        self.evidence = 'Graph requests in flight: %s' % in_flight
        return bool(in_flight)

    def writing(self):
        for state, query in self.server_backends():
            text = ' '.join(query.split()).upper()
            if (state in ('active', 'idle in transaction') and 'MAILDESK_MESSAGE' in text
                    and text.startswith(('INSERT', 'UPDATE'))) or (state == 'active' and text.startswith('COMMIT')):
                self.evidence = 'db %s: %s' % (state, ' '.join(query.split())[:40])
                return True
        return False

    def backfilling(self):
        states = self.folder_states()
        self.evidence = 'folders ' + ', '.join('%s %s %s' % (r, s, n) for r, s, n, _t in states)
        return any(state == 'backfilling' for _role, state, _n, _t in states)

    def one_life(self, moment):
        """Start the server, kill it at ``moment``; returns the moment actually hit."""
        self.start_server()
        self.evidence = ''
        if moment != 'random':
            self.wait_for(lambda: self.emu.counters()['total'] > self.requests_before, 120, step=0.05)
            # let it sync for a while first: the kills spread over the whole backfill, not only its start
            self.wait_for(lambda: False, self.rng.uniform(0, self.args.spread), step=0.2)
        label = moment
        if moment != 'random' and all(state == 'done' for _r, state, _n, _t in self.folder_states()):
            # the initial sync is over: an expired delta token (410) makes MailDesk enumerate the Inbox again
            # (a new backfill, then the sweep), so every kill still lands on real work
            self.emu.control('POST', '/expire_delta', {'user': self.account['email'],
                                                       'folder': self.account['folders']['inbox']})
            label = moment + ' (re-enumeration after 410)'
            self.last_change = self.query("SELECT now() AT TIME ZONE 'UTC'")[0][0]  # the changes cron must look
        hit = {'mid-page': lambda: self.wait_for(self.syncing, 60, step=0.002),
               'mid-commit': lambda: self.wait_for(self.writing, 60, step=0.002),
               'mid-backfill': lambda: self.wait_for(self.backfilling, 60) and (time.sleep(self.rng.uniform(0, 2))
                                                                                or True),
               'random': lambda: time.sleep(max(0.0, self.server_started + self.rng.uniform(1, 14)
                                                - time.monotonic())) or True}[moment]()
        moment = label if hit else label + ' (not seen: random)'
        if self.server.poll() is None:
            self.kill_server(moment)
        else:  # the server stopped by itself: that is a failure of its own
            self.collect_errors()
            self.error_lines.append('server life %d exited by itself with %s' % (self.lives, self.server.returncode))
        self.requests_before = self.emu.counters()['total']

    def mutate(self):
        """Between two lives: what other Outlook clients do (read, flag, categorize, move both ways, delete, new)."""
        email, folders = self.account['email'], self.account['folders']
        state = self.emu.state(email)
        inbox = sorted(state[folders['inbox']]['messages'])
        sent = sorted(state[folders['sentitems']]['messages'])
        pick = lambda ids, n: self.rng.sample(ids, min(n, len(ids)))  # noqa: E731
        self.emu.mutate(user=email, op='update', ids=pick(inbox, 20), fields={'isRead': True})
        self.emu.mutate(user=email, op='update', ids=pick(inbox, 5), fields={'flag': 'flagged',
                                                                             'categories': ['Stress']})
        self.emu.mutate(user=email, op='move', ids=pick(inbox, 5), destination=folders['sentitems'])
        self.emu.mutate(user=email, op='move', ids=pick(sent, 3), destination=folders['inbox'])
        self.emu.mutate(user=email, op='delete', ids=pick(inbox, 3))
        self.emu.mutate(user=email, op='delete', ids=pick(inbox, 2), hard=True)
        self.emu.deliver(email, count=4, subject='Arrived between two crashes')
        self.mutations += 42
        self.last_change = self.query("SELECT now() AT TIME ZONE 'UTC'")[0][0]

    # the run -----------------------------------------------------------------------------------------------------
    def run(self):
        started = time.monotonic()
        self.requests_before = self.emu.counters()['total']
        moments = [MOMENTS[i % len(MOMENTS)] for i in range(self.args.kills)]
        self.rng.shuffle(moments)
        for moment in moments:
            self.one_life(moment)
            self.mutate()
        kills_done = time.monotonic()
        log('last life: running to completion')
        since = self.last_change or self.query("SELECT now() AT TIME ZONE 'UTC'")[0][0]
        self.start_server()
        deadline = time.monotonic() + self.args.timeout
        while time.monotonic() < deadline and self.server.poll() is None:
            self.poke_crons(since)
            if not self.work_left(since):
                break
            time.sleep(1)
        converged_in = time.monotonic() - kills_done
        self.stop_server()
        return self.verify(time.monotonic() - started, converged_in)

    def verify(self, elapsed, converged_in):
        email, folders = self.account['email'], self.account['folders']
        truth = {}
        for folder_id, folder in self.emu.state(email).items():
            if folder_id in folders.values():
                for message_id, m in folder['messages'].items():
                    truth[message_id] = (folder_id, m['isRead'], m['flagStatus'], ', '.join(m['categories']) or None,
                                         m['subject'] or None)
        rows = self.query("""SELECT m.graph_id, f.graph_id, coalesce(m.is_read, false), coalesce(m.flag_status,
                                    'notFlagged'), m.categories, m.subject
                               FROM maildesk_message m LEFT JOIN maildesk_folder f ON f.id = m.folder_id
                              WHERE m.account_id = %s AND m.active""", [self.account['account_id']])
        local = {row[0]: tuple(row[1:]) for row in rows}
        duplicates = self.query("""SELECT count(*) FROM (SELECT graph_id FROM maildesk_message WHERE account_id = %s
                                    GROUP BY graph_id HAVING count(*) > 1) d""", [self.account['account_id']])[0][0]
        missing = set(truth) - set(local)
        extra = set(local) - set(truth)
        stale = {key for key in set(truth) & set(local) if truth[key] != local[key]}
        counters = self.emu.counters()
        loads = [kill['load_average'] for kill in self.kills]
        folder_rows = self.query("""SELECT role, sync_state, round_number, synced_count, last_error
                                      FROM maildesk_folder WHERE sync_enabled ORDER BY role""")
        crons = self.query("""SELECT d.name, c.active, c.failure_count FROM ir_cron c JOIN ir_model_data d
                                 ON d.res_id = c.id AND d.model = 'ir.cron' AND d.module = 'maildesk'
                                 ORDER BY d.name""")
        report = {
            'messages_in_synced_folders': len(truth), 'stored': len(local), 'missing': len(missing),
            'duplicates': duplicates, 'stale': len(stale), 'extra': len(extra),
            'examples': [(key, truth.get(key), local.get(key)) for key in list(missing | extra | stale)[:5]],
            'kills': len(self.kills), 'kill_moments': {m: sum(1 for k in self.kills if k['moment'] == m)
                                                       for m in sorted({k['moment'] for k in self.kills})},
            'kills_with_graph_request_in_flight': sum(1 for k in self.kills if 'in flight' in k['evidence']),
            'kills_with_db_write_in_progress': sum(1 for k in self.kills if k['evidence'].startswith('db ')),
            'outlook_changes_between_lives': self.mutations, 'server_lives': self.lives,
            'graph_requests': counters['total'], 'by_endpoint': counters['by_endpoint'],
            'max_requests_10min': counters['max_requests_10min'], 'max_in_flight': counters['max_in_flight'],
            'folders': folder_rows, 'crons': crons, 'server_error_lines': len(self.error_lines),
            'odoo_killed_job_lines': len(self.killed_job_lines),
            'error_examples': self.error_lines[:5], 'seconds_total': round(elapsed, 1),
            'seconds_last_life_to_convergence': round(converged_in, 1),
            'page_size': self.args.page_size, 'inbox_messages_seeded': self.args.messages,
            # the emulator's realistic mode (sparse updates, repeats, empty pages, late Sent copies...) is what the
            # figures are worth: a kind emulator would hide the losses it is meant to find
            'emulator_realistic': bool(self.emu.info.get('realistic')),
            'load_average': {'at_kills_min': min(loads, default=None), 'at_kills_max': max(loads, default=None),
                             'at_end': round(os.getloadavg()[0], 2)},
            'kill_log': self.kills,
        }
        report['ok'] = not (missing or extra or stale or duplicates or self.error_lines) and all(
            row[1] == 'done' and not row[4] for row in folder_rows) and all(active for _n, active, _f in crons)
        return report


def main():
    args = parse_args()
    if args.setup:
        return setup_in_odoo(json.loads(args.setup), sys.argv[sys.argv.index('--') + 1:])
    odoo_root = odoo_env.find_odoo()
    odoo_env.ensure_requirements()
    workdir = os.path.join(REPO, '.tmp', time.strftime('stress-%Y%m%d-%H%M%S'))
    os.makedirs(workdir)
    sys.path.insert(0, REPO)
    from emulator.testing import start_emulator
    log(f'run directory {workdir}')
    with PgCluster() as pg:
        emulator = start_emulator(state_dir=os.path.join(workdir, 'emulator'), users=1, messages=args.messages,
                                  seed=args.seed, timeout=300)
        try:
            emulator.config(latency=args.latency)
            stress = Stress(args, pg, odoo_root, workdir, emulator)
            stress.install()
            stress.setup()
            try:
                report = stress.run()
            finally:
                stress.stop_server()
        finally:
            emulator.stop()
    with open(os.path.join(workdir, 'report.json'), 'w') as fh:
        json.dump(report, fh, indent=1, default=str)
    log('kill moments: %s (a Graph request in flight at %d kills, a database write at %d)' % (
        report['kill_moments'], report['kills_with_graph_request_in_flight'],
        report['kills_with_db_write_in_progress']))
    log('%(messages_in_synced_folders)d messages in the synced folders, %(stored)d stored: missing %(missing)d, '
        'duplicates %(duplicates)d, stale %(stale)d, extra %(extra)d; %(server_lives)d server lives, '
        '%(graph_requests)d Graph requests, %(outlook_changes_between_lives)d Outlook changes meanwhile, '
        'server ERROR lines %(server_error_lines)d (+ %(odoo_killed_job_lines)d "job timed out" from the cron '
        'runner after repeated kills); converged %(seconds_last_life_to_convergence)ss after the last '
        'kill, %(seconds_total)ss in all' % report)
    log('folders (role, state, initial rounds, synced, error): %s' % report['folders'])
    log('crons (name, active, failure count): %s' % report['crons'])
    log('emulator realistic mode: %s; load average (1 min) at the kills %s-%s, at the end %s' % (
        report['emulator_realistic'], report['load_average']['at_kills_min'], report['load_average']['at_kills_max'],
        report['load_average']['at_end']))
    log('most Graph requests in 10 minutes: %s (Outlook allows 10,000); most in flight: %s' % (
        report['max_requests_10min'], report['max_in_flight']))
    log('%s: %s' % ('PASSED' if report['ok'] else 'FAILED', os.path.join(workdir, 'report.json')))
    return 0 if report['ok'] else 1


if __name__ == '__main__':
    sys.exit(main())
