"""Several cron workers on one database, with real commits: each worker is a thread with its own cursors."""
import threading

from odoo.tests import TransactionCase, tagged

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

    emulator_options = {'users': 2, 'messages': 10}

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
        runs = self.run_workers(2, lambda env: env['maildesk.account']._cron_sync_changes().units)
        self.assertEqual(sum(runs), 3, 'each folder visited once per cycle, by one worker or the other')
        self.assertEqual(self.emulator.counters()['by_user'].get(user, 0), 3, 'one request per synced folder')
