"""Two Odoo processes running the sync crons on one database, four mailboxes, while a user works in a third.

Everything is committed for real (other processes cannot see a test transaction); the accounts are removed again
by the cleanups. The worker processes are :mod:`cron_worker` (an Odoo registry, the cron callbacks in a loop).
"""
import glob
import json
import logging
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

from odoo.service.model import retrying
from odoo.tests import TransactionCase, tagged
from odoo.tools import config

from ..engine import sync_run
from .common import MaildeskMixin
from .reliability_common import (
    commit_settings,
    committed_connected_account,
    committed_env,
    compare,
    converged,
    delete_accounts,
    emulator_settings,
    local_state,
    server_state,
)

_logger = logging.getLogger(__name__)
WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'cron_worker.py')
WORKERS = 2
START_TIMEOUT = 120   # registry load of two processes on a busy 2-core machine
SYNC_TIMEOUT = 150


class WorkerProcessesCase(MaildeskMixin, TransactionCase):
    """Worker processes (:mod:`cron_worker`) on the test database, started and stopped by the test."""

    @classmethod
    def configure_maildesk(cls, **overrides):
        values = emulator_settings(cls.emulator, **{'maildesk.page_size': 100, 'maildesk.permission_level': 'write'})
        values.update(overrides)
        cls.addClassCleanup(commit_settings(cls.registry, values))

    def setUp(self):
        super().setUp()
        self.control_dir = tempfile.mkdtemp(prefix='maildesk-workers-')
        self.addCleanup(shutil.rmtree, self.control_dir, True)
        self.processes = []
        self.addCleanup(self.stop_workers)

    def start_workers(self, *worker_options):
        options = ['--addons-path=%s' % config['addons_path'], '-d', self.env.cr.dbname, '--log-level=info',
                   '--max-cron-threads=0', '--data-dir=%s' % config['data_dir']]
        for key in ('db_host', 'db_port', 'db_user', 'db_password', 'db_sslmode'):
            if config.get(key):
                options.append('--%s=%s' % (key, config[key]))
        for index in range(WORKERS):
            log = os.path.join(self.control_dir, 'worker-%d.log' % index)
            self.processes.append(subprocess.Popen(
                [sys.executable, WORKER, self.control_dir, '--deadline', '400', *worker_options, '--',
                 *options, '--logfile=%s' % log],
                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True))
        deadline = time.monotonic() + START_TIMEOUT
        while len(glob.glob(os.path.join(self.control_dir, 'ready.*'))) < WORKERS:
            dead = [p for p in self.processes if p.poll() is not None]
            self.assertFalse(dead, 'a worker process died while starting: %s' % self.worker_logs())
            self.assertLess(time.monotonic(), deadline, 'the worker processes did not start')
            time.sleep(0.2)
        open(os.path.join(self.control_dir, 'go'), 'w').close()

    def stop_workers(self):
        open(os.path.join(self.control_dir, 'stop'), 'w').close()
        for process in self.processes:
            try:
                process.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)  # our own process group (start_new_session)
                process.wait(10)
        reports = []
        for path in glob.glob(os.path.join(self.control_dir, 'report.*.json')):
            with open(path) as file:
                reports.append(json.load(file))
        self.processes = []
        return reports

    def worker_logs(self):
        text = ''
        for path in sorted(glob.glob(os.path.join(self.control_dir, 'worker-*.log'))):
            with open(path, errors='replace') as fh:
                text += fh.read()
        return text


@tagged('post_install', '-at_install')
class TestTwoOdooProcesses(WorkerProcessesCase):
    """No duplicate rows, no deadlock or serialization error reaching anyone (cron job, folder, user), every
    folder of the four mailboxes equal to Outlook's, never more than 4 requests in flight per mailbox."""

    emulator_options = {'users': 4, 'messages': 250, 'seed': 23}

    # ------------------------------------------------------------------ setup

    def committed_accounts(self):
        """Four authorized, connected accounts (Inbox, Sent Items and a big 'Bulk' folder synced), owned by admin."""
        admin = self.env.ref('base.user_admin')
        ids = []
        self.addCleanup(delete_accounts, self.registry, ids)
        for email in self.emulator.users:
            bulk = self.emulator.mutate(user=email, op='create_folder', name='Bulk')['folder']
            self.emulator.control('POST', '/seed', {'user': email, 'folder': bulk, 'count': 220})
            with committed_env(self.registry) as env:
                account = env['maildesk.account'].create({'name': email, 'email': email, 'user_id': admin.id})
                ids.append(account.id)
                self.authorize_account(account)
                server = env['fetchmail.server'].create({'name': 'Outlook %s' % email,
                                                         'server_type': 'maildesk_graph',
                                                         'maildesk_account_id': account.id})
                server.button_confirm_login()
                account.action_fetch_folders()
                for folder in account.folder_ids:
                    folder.sync_enabled = folder.role in ('inbox', 'sentitems') or folder.graph_id == bulk
        return ids

    # ------------------------------------------------------------------ activity

    def outlook_changes(self, rng, step):
        """What other Outlook clients do meanwhile, in every mailbox: read, flag, move both ways, delete, deliver."""
        for email in self.emulator.users:
            state = self.emulator.state(email)
            by_name = {folder['name']: (folder_id, sorted(folder['messages'])) for folder_id, folder in state.items()}
            (inbox, inbox_ids), (bulk, bulk_ids) = by_name['Inbox'], by_name['Bulk']
            self.emulator.mutate(user=email, op='update', ids=rng.sample(inbox_ids, 4), fields={'isRead': True})
            self.emulator.mutate(user=email, op='update', ids=rng.sample(bulk_ids, 2), fields={'flag': 'flagged'})
            self.emulator.mutate(user=email, op='move', ids=rng.sample(inbox_ids, 2), destination=bulk)
            self.emulator.mutate(user=email, op='move', ids=rng.sample(bulk_ids, 2), destination=inbox)
            self.emulator.mutate(user=email, op='delete', ids=rng.sample(bulk_ids, 1), hard=True)
            self.emulator.deliver(email, count=2, subject='Concurrent %d' % step)

    def user_actions(self, rng, account_ids):
        """A user clicks Sync now and marks messages read / flags them (write-back) while the crons run. Each
        click is its own transaction, run the way Odoo's RPC layer runs a call (``retrying``): a serialization
        conflict with a worker is retried there, and must never reach the user."""
        admin = self.env.ref('base.user_admin')
        account_id = rng.choice(account_ids)
        with committed_env(self.registry) as env:
            result = retrying(lambda: env['maildesk.account'].with_user(admin).browse(account_id).action_sync_now(),
                              env)
            message = result['params']['message']
            self.assertNotIn('busy', message.lower(), 'a database conflict surfaced to the user: %s' % message)
        with committed_env(self.registry) as env:
            messages = env['maildesk.message'].with_user(admin).search(
                [('account_id', '=', rng.choice(account_ids))], limit=40)
            picked = rng.sample(messages.ids, min(6, len(messages)))
        for method, ids in (('action_mark_read', picked[:3]), ('action_toggle_flag', picked[3:])):
            if not ids:
                continue
            with committed_env(self.registry) as env:
                action = getattr(env['maildesk.message'].with_user(admin).browse(ids), method)
                outcome = retrying(action, env)
                self.assertTrue(outcome is True or outcome.get('params', {}).get('type') != 'danger',
                                'the write-back failed for the user: %s' % (outcome,))

    # ------------------------------------------------------------------ the test

    def test_two_processes_four_mailboxes(self):
        rng = random.Random(23)
        account_ids = self.committed_accounts()
        self.emulator.reset_counters()
        started = time.monotonic()
        self.start_workers()
        for step in range(4):
            self.outlook_changes(rng, step)
            self.user_actions(rng, account_ids)
            time.sleep(1.0)
        with committed_env(self.registry) as env:
            env.cr.execute("SELECT now() AT TIME ZONE 'UTC'")
            last_change = env.cr.fetchone()[0]
        # converged = every synced folder up to date and visited by a changes run after the last change
        deadline = time.monotonic() + SYNC_TIMEOUT
        while True:
            with committed_env(self.registry) as env:
                env.cr.execute("""SELECT count(*) FROM maildesk_folder
                                   WHERE sync_enabled AND account_id = ANY(%s)
                                     AND (sync_state != 'done' OR last_checked_at IS NULL OR last_checked_at < %s)""",
                               [account_ids, last_change])
                left = env.cr.fetchone()[0]
            if not left or time.monotonic() > deadline:
                break
            dead = [p for p in self.processes if p.poll() is not None]
            self.assertFalse(dead, 'a worker process died: %s' % self.worker_logs()[-3000:])
            time.sleep(0.5)
        reports = self.stop_workers()
        elapsed = time.monotonic() - started
        logs = self.worker_logs()
        self.assertEqual(len(reports), WORKERS, logs[-3000:])
        self.assertFalse(left, '%d folder(s) did not converge in %ds; reports %s; worker logs: %s' % (
            left, SYNC_TIMEOUT, [{k: r[k] for k in ('units', 'run_errors', 'exceptions') if k in r} for r in reports],
            logs[-6000:]))

        for report in reports:
            self.assertFalse(report['exceptions'], 'a cron job failed in process %s:\n%s' % (
                report['pid'], '\n'.join(report['exceptions'])[:3000]))
            self.assertFalse(report['run_errors'], 'errors reached the folders: %s' % report['run_errors'][:5])
            self.assertGreater(report['units'], 0, 'both processes took part: %s' % reports)
        error_lines = [line for line in logs.splitlines() if ' ERROR ' in line or ' CRITICAL ' in line]
        self.assertFalse(error_lines, 'the worker processes logged errors: %s' % error_lines[:5])

        with committed_env(self.registry) as env:
            for account in env['maildesk.account'].browse(account_ids):
                synced = account.folder_ids.filtered('sync_enabled')
                self.assertFalse([(f.name, f.last_error) for f in synced if f.last_error or f.sync_state != 'done'])
                self.assertEqual(account.state, 'connected', account.last_error)
                local, duplicates = local_state(env.cr, account.id)
                report = compare(server_state(self.emulator, account.email, set(synced.mapped('graph_id'))),
                                 local, duplicates)
                self.assertTrue(converged(report), '%s: %s' % (account.email, report))
        counters = self.emulator.counters()
        for email in self.emulator.users:
            self.assertLessEqual(counters['max_in_flight'].get(email, 0), 4, counters['max_in_flight'])
        self.assertFalse(counters['by_status'].get('429'), 'no MailboxConcurrency throttling: %s' %
                         counters['by_status'])
        _logger.info('two processes, four mailboxes: converged in %.0f s; units per process %s; Graph requests %d, '
                     'max in flight per mailbox %s', elapsed, [r['units'] for r in reports], counters['total'],
                     counters['max_in_flight'])


@tagged('post_install', '-at_install')
class TestCronLanes(WorkerProcessesCase):
    """Two Odoo processes running Odoo's own cron runner (``ir.cron._process_jobs``), one mailbox with two big
    folders: both processes back-fill it at the same time, through two backfill cron records (lanes) -- one cron
    record runs in one worker at a time -- and the mailbox ends equal to Outlook's, every message once."""

    emulator_options = {'users': 1, 'messages': 10, 'seed': 29}

    def test_two_cron_runners_back_fill_one_mailbox_together(self):
        email = self.emulator.users[0]
        folders = [self.emulator.mutate(user=email, op='create_folder', name='Lane %d' % i)['folder'] for i in (1, 2)]
        for folder_id in folders:
            self.emulator.control('POST', '/seed', {'user': email, 'folder': folder_id, 'count': 1500})
        account_id = committed_connected_account(self, email, lambda folder: folder.graph_id in folders)
        self.only_sync_crons_due()
        self.start_workers('--odoo-cron')
        deadline = time.monotonic() + SYNC_TIMEOUT
        while time.monotonic() < deadline:
            with committed_env(self.registry) as env:
                env.cr.execute("""SELECT count(*) FROM maildesk_folder WHERE account_id = %s AND sync_enabled
                                     AND (delta_link IS NULL OR next_link IS NOT NULL OR sync_state != 'done')""",
                               [account_id])
                if not env.cr.fetchone()[0]:
                    break
            self.assertFalse([p for p in self.processes if p.poll() is not None], self.worker_logs()[-3000:])
            time.sleep(0.5)
        reports = self.stop_workers()
        logs = self.worker_logs()
        self.assertEqual(len(reports), WORKERS, logs[-3000:])
        self.assertFalse([r['exceptions'] for r in reports if r['exceptions']])
        self.assertFalse([line for line in logs.splitlines() if ' ERROR ' in line or ' CRITICAL ' in line][:5])

        with committed_env(self.registry) as env:
            lanes = {env.ref(xmlid).id: xmlid for xmlid in sync_run.BACKFILL_LANES}
            account = env['maildesk.account'].browse(account_id)
            synced = account.folder_ids.filtered('sync_enabled')
            local, duplicates = local_state(env.cr, account_id)
            result = compare(server_state(self.emulator, email, set(synced.mapped('graph_id'))), local, duplicates)
        self.assertTrue(converged(result), result)
        backfill = [[unit for unit in report['unit_log'] if unit[3] in lanes] for report in reports]
        self.assertTrue(all(backfill), 'both processes back-filled the mailbox: %s' % [len(b) for b in backfill])
        self.assertGreaterEqual(len({unit[3] for units in backfill for unit in units}), 2,
                                'through two backfill cron records (lanes)')
        overlapping = [(a, b) for a in backfill[0] for b in backfill[1] if a[0] < b[1] and b[0] < a[1]]
        self.assertTrue(overlapping, 'the two processes back-filled at the same time (unit intervals overlap)')

    def only_sync_crons_due(self):
        """Only MailDesk's sync crons are due (other jobs would run in the workers too); restored afterwards."""
        with committed_env(self.registry) as env:
            env.cr.execute('SELECT id, nextcall FROM ir_cron')
            saved = env.cr.fetchall()
            sync_ids = [env.ref(xmlid).id for xmlid in (sync_run.CHANGES_CRON, sync_run.BACKFILL_CRON)]
            env.cr.execute("""UPDATE ir_cron SET nextcall = CASE WHEN id = ANY(%s)
                                   THEN now() AT TIME ZONE 'UTC' - interval '1 second'
                                   ELSE now() AT TIME ZONE 'UTC' + interval '30 days' END""", [sync_ids])

        def restore():
            with committed_env(self.registry) as env:
                for cron_id, nextcall in saved:
                    env.cr.execute('UPDATE ir_cron SET nextcall = %s WHERE id = %s', [nextcall, cron_id])
                env.cr.execute('DELETE FROM ir_cron_progress')
        self.addCleanup(restore)
