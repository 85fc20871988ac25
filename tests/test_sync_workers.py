"""Several cron workers on one database, with real commits: each worker is a thread with its own cursors."""
import datetime
import threading
import time
from unittest.mock import patch

from odoo.tests import TransactionCase, tagged

from odoo.addons.maildesk.engine import message_batch
from odoo.addons.maildesk.graph import mail
from odoo.addons.maildesk.tests.common import MaildeskMixin, committed_env
from odoo.addons.maildesk.tests.reliability_common import committed_connected_account

TIMEOUT = 240


@tagged('post_install', '-at_install')
class TestSyncWorkers(MaildeskMixin, TransactionCase):
    """Crons run by two workers at once (what ``--max-cron-threads=2`` or two Odoo servers do): no duplicate
    rows, no deadlock, the work split between them.

    Everything here is committed for real (workers cannot see a test transaction), so the settings and the
    account live in committed cursors and are removed again by the cleanups.
    """

    emulator_options = {'users': 4, 'messages': 10}

    @classmethod
    def configure_maildesk(cls, **overrides):
        # Committed, not in the test transaction: the workers' own cursors must see the settings.
        cls.configure_maildesk_committed(**{'maildesk.permission_level': 'read', 'maildesk.page_size': 200,
                                            'maildesk.backfill_months': 0, **overrides})

    @classmethod
    def committed_env(cls):
        return committed_env(cls.registry)

    def committed_account(self, email, folders):
        """An authorized account with a confirmed server, its folders fetched, only ``folders`` synced."""
        return committed_connected_account(self, email, lambda folder: folder.graph_id in folders)

    def run_workers(self, count, job):
        """Run ``job(env)`` in ``count`` threads at once (own cursor each, committed); their return values."""
        barrier = threading.Barrier(count)
        results, failures = [None] * count, []

        def work(index):
            try:
                barrier.wait(30)
                with self.committed_env() as env:
                    results[index] = job(env)
            except Exception as exc:  # noqa: BLE001 -- reported by the test below
                failures.append(exc)
        threads = [threading.Thread(target=work, args=(i,), name='maildesk-worker-%d' % i) for i in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(TIMEOUT)
        self.assertFalse([t.name for t in threads if t.is_alive()], 'a worker is stuck (deadlock?)')
        self.assertFalse(failures)
        return results

    def check_converged(self, account_id):
        """Local store == emulator ground truth for the synced folders; no duplicate; no folder in error."""
        with self.committed_env() as env:
            account = env['maildesk.account'].browse(account_id)
            synced = account.folder_ids.filtered('sync_enabled')
            self.assertEqual(set(synced.mapped('sync_state')), {'done'},
                             [(f.name, f.sync_state, f.last_error) for f in synced])
            truth = {}
            for folder_id, folder in self.emulator.state(account.email).items():
                if folder_id in synced.mapped('graph_id'):
                    for message_id, message in folder['messages'].items():
                        truth[message_id] = (folder_id, message['isRead'], message['flagStatus'])
            local = {m.graph_id: (m.folder_id.graph_id, m.is_read, m.flag_status) for m in
                     env['maildesk.message'].search([('account_id', '=', account_id)])}
            self.assertEqual(local, truth)
            env.cr.execute('SELECT count(*), count(DISTINCT graph_id) FROM maildesk_message WHERE account_id = %s',
                           [account_id])
            total, distinct = env.cr.fetchone()
            self.assertEqual(total, distinct, 'no message is stored twice')

    def test_two_workers_split_the_work(self):
        user = self.emulator.users[0]
        folders = [self.emulator.mutate(user=user, op='create_folder', name='Bulk %d' % i)['folder']
                   for i in range(4)]
        for folder_id in folders:
            self.emulator.control('POST', '/seed', {'user': user, 'folder': folder_id, 'count': 1200})
        account_id = self.committed_account(user, folders)

        first = self.run_workers(2, lambda env: env['maildesk.account']._cron_sync_changes().units)
        self.assertEqual(sum(first), 4, 'each new folder got its newest page exactly once, from one worker')

        # while the two workers back-fill, another Outlook client moves mail between the synced folders
        state = self.emulator.state(user)
        old = {fid: sorted(state[fid]['messages'], key=lambda m: state[fid]['messages'][m]['receivedDateTime'])
               for fid in folders}

        def backfill(env):
            return env['maildesk.account']._cron_backfill().units

        def mutate():
            for i in range(4):
                self.emulator.mutate(user=user, op='move', ids=old[folders[i]][:20], destination=folders[(i + 1) % 4])
                self.emulator.mutate(user=user, op='update', ids=old[folders[i]][-30:-20], fields={'isRead': True})
        mover = threading.Thread(target=mutate)
        mover.start()
        units = self.run_workers(2, backfill)
        mover.join(TIMEOUT)
        self.assertTrue(all(units), 'both workers back-filled: %s' % units)
        self.assertGreaterEqual(sum(units), 16, 'about 1200 messages in pages of 200, per folder')
        # the changes made meanwhile arrive with the next changes run (both workers again)
        self.run_workers(2, lambda env: env['maildesk.account']._cron_sync_changes().units)
        self.check_converged(account_id)
        in_flight = self.emulator.counters()['max_in_flight'].get(user, 0)
        self.assertLessEqual(in_flight, 4, 'never more than 4 requests in flight for one mailbox')

    def test_no_change_cycle_with_two_workers(self):
        user = self.emulator.users[1]
        account_id = self.committed_account(user, [])
        with self.committed_env() as env:
            account = env['maildesk.account'].browse(account_id)
            for folder in account.folder_ids.filtered(lambda f: f.role in ('inbox', 'sentitems', 'drafts')):
                folder.sync_enabled = True
        for _run in range(3):
            self.run_workers(2, lambda env: (env['maildesk.account']._cron_sync_changes(),
                                             env['maildesk.account']._cron_backfill()))
        self.check_converged(account_id)
        self.emulator.reset_counters()
        runs = self.run_workers(2, lambda env: env['maildesk.account']._cron_sync_changes())
        with self.committed_env() as env:
            env.cr.execute('SELECT last_checked_at FROM maildesk_folder WHERE account_id = %s AND sync_enabled',
                           [account_id])
            checked = [row[0] for row in env.cr.fetchall()]
        self.assertEqual(sum(run.units for run in runs), 3, 'each folder visited once per cycle, by one worker or '
                         'the other: runs started %s, folders checked %s' % ([r.run_start for r in runs], checked))
        self.assertEqual(self.emulator.counters()['by_user'].get(user, 0), 3, 'one request per synced folder')

    # ------------------------------------------------------------------ two folders of one mailbox at once

    def two_bulk_folders(self, user, count):
        folders = [self.emulator.mutate(user=user, op='create_folder', name='Big %d' % i)['folder'] for i in range(2)]
        for folder_id in folders:
            self.emulator.control('POST', '/seed', {'user': user, 'folder': folder_id, 'count': count})
        return folders, self.committed_account(user, folders)

    def test_two_workers_write_two_folders_of_one_mailbox_at_once(self):
        """Two workers back-fill the two big folders of ONE mailbox: each holds a page write (rows inserted, not
        committed) while the other writes too -- the barrier below is only passed if both are inside a page write
        at once, which the former per-mailbox lock made impossible. Meanwhile Outlook moves messages both ways
        between the folders; the end state is Outlook's, every message once, in its folder."""
        user = self.emulator.users[2]
        folders, account_id = self.two_bulk_folders(user, 1000)
        with self.committed_env() as env:
            self.assertEqual(env['maildesk.account']._cron_sync_changes().newest_pages, 2)
        state = self.emulator.state(user)
        oldest = {fid: sorted(state[fid]['messages'], key=lambda m: state[fid]['messages'][m]['receivedDateTime'])
                  for fid in folders}
        newest = {fid: ids[-150:-140] for fid, ids in oldest.items()}  # stored by the first pages already

        in_write, overlaps, log = [0], [], []
        lock = threading.Lock()
        barrier = threading.Barrier(2, timeout=60, action=lambda: self.move_both_ways(user, folders, oldest, newest))
        original_insert = message_batch.MessageBatch._insert

        def insert(batch, values_list):
            # inside the page's transaction, after the mailbox lock: rows written, not committed
            original_insert(batch, values_list)
            with lock:
                in_write[0] += 1
                overlaps.append(in_write[0])
                first = threading.current_thread().name not in [name for name, _folder in log]
                log.append((threading.current_thread().name, batch.folder.graph_id))
            try:
                if first:
                    barrier.wait()  # both workers wait here, each with a page of its own folder uncommitted
            finally:
                with lock:
                    in_write[0] -= 1

        def backfill(env):
            run = env['maildesk.account']._cron_backfill()
            return run.units, run.stored

        with patch.object(message_batch.MessageBatch, '_insert', insert):
            results = self.run_workers(2, backfill)
        self.assertFalse(barrier.broken, 'both workers were writing a page of the mailbox at the same time')
        self.assertEqual(max(overlaps), 2, 'two page writes of one mailbox in progress at once: %s' % overlaps)
        by_worker = {}
        for name, folder_id in log:
            by_worker.setdefault(name, set()).add(folder_id)
        self.assertEqual(len(by_worker), 2, log)
        self.assertTrue(all(units for units, _stored in results), results)
        # the moves made meanwhile arrive with the next changes run
        self.run_workers(2, lambda env: env['maildesk.account']._cron_sync_changes().units)
        self.check_converged(account_id)

    def move_both_ways(self, user, folders, oldest, newest):
        """While both workers hold a page write: Outlook moves stored and not yet listed mail both ways."""
        first, second = folders
        self.emulator.mutate(user=user, op='move', ids=oldest[first][:10] + newest[first], destination=second)
        self.emulator.mutate(user=user, op='move', ids=oldest[second][:10] + newest[second], destination=first)

    def test_message_in_both_pages_is_stored_once_newest_wins(self):
        """The same message in the pages of two folders written at once (it moved between them while they were
        listed): both store it; the second's COPY waits on the unique index and is refused, its INSERT ... ON CONFLICT
        DO NOTHING skips the row, and it updates the row instead of failing --
        and the newer version (lastModifiedDateTime) decides its folder whatever the commit order."""
        user = self.emulator.users[3]
        folders, account_id = self.two_bulk_folders(user, 5)
        graph_ids = sorted(self.emulator.state(user)[folders[0]]['messages'])[:2]
        with self.committed_env() as env:
            account = env['maildesk.account'].browse(account_id)
            client = account._graph_client()
            by_graph_id = {f.graph_id: f.id for f in account.folder_ids}
            targets = [by_graph_id[fid] for fid in folders]
            raws = {graph_id: client.get_message(graph_id, body=False) for graph_id in graph_ids}
        copied = []  # what each page's COPY of its new rows gave: its rows, or None when it gave way to the INSERT
        original_copy = message_batch.MessageBatch._copy_new_rows

        def copy_new_rows(batch, *args):
            copied.append(original_copy(batch, *args))
            return copied[-1]
        for graph_id, newer_first in zip(graph_ids, (False, True), strict=True):  # not stored: both pages insert it
            copied.clear()
            stale = dict(raws[graph_id])
            modified = datetime.datetime.fromisoformat(stale['lastModifiedDateTime'].replace('Z', '+00:00'))
            moved = dict(stale, parentFolderId=folders[1],
                         lastModifiedDateTime=(modified + datetime.timedelta(minutes=1)).strftime('%Y-%m-%dT%H:%M:%SZ'))
            pages = [(targets[0], stale), (targets[1], moved)]
            with patch.object(message_batch.MessageBatch, '_copy_new_rows', copy_new_rows):
                stats = self.write_at_once(pages[::-1] if newer_first else pages)
            self.assertEqual(sorted(ids is None for ids in copied), [False, True],
                             'one COPY stores the row; the other, refused by the unique index, gives way')
            self.assertEqual(sorted((s['created'], s['updated']) for s in stats), [(0, 0), (1, 0)] if newer_first
                             else [(0, 1), (1, 0)], 'one insert; the later page updates (or finds a newer row)')
            with self.committed_env() as env:
                env.cr.execute('SELECT folder_id FROM maildesk_message WHERE account_id = %s AND graph_id = %s',
                               [account_id, graph_id])
                self.assertEqual(env.cr.fetchall(), [(targets[1],)], 'once, in the folder of the newer version')

    def write_at_once(self, pages):
        """Apply two one-item pages in two transactions: the first is written but not committed when the second
        starts, and commits only once the second waits for it (seen in pg_locks). :return: both batches' stats"""
        stats, failures = [None, None], []
        started, release = threading.Event(), threading.Event()

        def write(index, folder_id, raw):
            try:
                with self.committed_env() as env:
                    env.cr.execute('SET TRANSACTION ISOLATION LEVEL READ COMMITTED')  # as sync units run
                    env.cr.execute('SELECT pg_backend_pid()')
                    pids[index] = env.cr.fetchone()[0]
                    folder = env['maildesk.folder'].browse(folder_id)
                    stats[index] = message_batch.MessageBatch(folder).apply(mail.delta_values([raw]))
                    if index == 0:
                        started.set()
                        release.wait(60)
            except Exception as exc:  # noqa: BLE001 -- reported below
                failures.append(exc)
                started.set()

        pids = [None, None]
        first = threading.Thread(target=write, args=(0, *pages[0]))
        first.start()
        started.wait(60)
        second = threading.Thread(target=write, args=(1, *pages[1]))
        second.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not failures:
            with self.committed_env() as env:
                env.cr.execute('SELECT count(*) FROM pg_locks WHERE pid = %s AND NOT granted', [pids[1] or 0])
                if env.cr.fetchone()[0]:
                    break
            time.sleep(0.05)
        self.assertLess(time.monotonic(), deadline, 'the second page never waited for the first')
        release.set()
        first.join(60)
        second.join(60)
        self.assertFalse(failures)
        return stats
