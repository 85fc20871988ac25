"""Helpers for the sync tests (a mixin, not a test case: importing it runs no test twice).

Sync units open their own cursors (``registry.cursor()``); :meth:`SyncTestMixin.setUp` enters the registry's test
mode so those cursors are savepoints of the test transaction, which is rolled back at the end as usual.
"""


class SyncTestMixin:

    page_size = 1000

    def setUp(self):
        super().setUp()
        self.registry.enter_test_mode(self.cr)
        self.addCleanup(self.registry.leave_test_mode)
        self.env['ir.config_parameter'].sudo().set_param('maildesk.page_size', self.page_size)
        self.env['ir.config_parameter'].sudo().set_param('maildesk.backfill_months', 0)

    # ------------------------------------------------------------------ setup

    def sync_account(self, user_index=0, roles=('inbox', 'sentitems'), extra_folders=()):
        """An authorized, connected account whose folders were fetched; only ``roles`` + ``extra_folders``
        (Graph ids) are enabled for sync."""
        account = self.make_account(email=self.emulator.users[user_index])
        account.action_fetch_folders()
        for folder in account.folder_ids:
            wanted = folder.role in roles or folder.graph_id in extra_folders
            if folder.sync_enabled != wanted:
                folder.sync_enabled = wanted
        return account

    def new_emulator_folder(self, user, name, count=0, parent='msgfolderroot'):
        """A new folder at the emulator (optionally seeded with ``count`` messages): its Graph id."""
        folder_id = self.emulator.mutate(user=user, op='create_folder', name=name, parent=parent)['folder']
        if count:
            self.emulator.control('POST', '/seed', {'user': user, 'folder': folder_id, 'count': count})
        return folder_id

    def enable_folder(self, account, graph_id):
        """Fetch folders again (to see a new one) and enable ``graph_id``."""
        account.action_fetch_folders()
        folder = account.folder_ids.filtered(lambda f: f.graph_id == graph_id)
        self.assertTrue(folder, 'the folder should have been fetched')
        folder.sync_enabled = True
        return folder

    # ------------------------------------------------------------------ running

    def run_changes(self):
        return self.env['maildesk.account']._cron_sync_changes()

    def run_backfill(self):
        return self.env['maildesk.account']._cron_backfill()

    def sync_until_done(self, account, max_runs=30):
        """Run both crons until every synced folder is up to date; returns the number of runs."""
        for runs in range(1, max_runs + 1):
            self.run_changes()
            self.run_backfill()
            folders = account.folder_ids.filtered('sync_enabled')
            if all(f.sync_state == 'done' for f in folders):
                # One more changes run: changes made during the last backfill pages are picked up too.
                self.run_changes()
                return runs
        self.fail('sync did not finish in %d runs: %s' % (
            max_runs, [(f.name, f.sync_state, f.last_error) for f in account.folder_ids.filtered('sync_enabled')]))

    # ------------------------------------------------------------------ truth

    def server_truth(self, account):
        """{graph id: (folder graph id, isRead, flagStatus)} of the account's synced folders, from the emulator."""
        synced = set(account.folder_ids.filtered('sync_enabled').mapped('graph_id'))
        truth = {}
        for folder_id, folder in self.emulator.state(account.email).items():
            if folder_id in synced:
                for message_id, message in folder['messages'].items():
                    truth[message_id] = (folder_id, message['isRead'], message['flagStatus'])
        return truth

    def local_truth(self, account):
        """The same shape from the local store (active messages of the account)."""
        self.env.invalidate_all()
        messages = self.env['maildesk.message'].search_fetch(
            [('account_id', '=', account.id)], ['graph_id', 'folder_id', 'is_read', 'flag_status'])
        return {m.graph_id: (m.folder_id.graph_id, m.is_read, m.flag_status) for m in messages}

    def assertConverged(self, account):
        server, local = self.server_truth(account), self.local_truth(account)
        missing = set(server) - set(local)
        extra = set(local) - set(server)
        differ = {k for k in set(server) & set(local) if server[k] != local[k]}
        self.assertFalse(missing or extra or differ, 'local store differs from the server: %d missing, %d extra, '
                         '%d different (e.g. %s)' % (len(missing), len(extra), len(differ),
                                                     [(k, server.get(k), local.get(k)) for k in
                                                      list(missing | extra | differ)[:3]]))
        self.env.cr.execute('SELECT graph_id FROM maildesk_message WHERE account_id = %s GROUP BY graph_id '
                            'HAVING count(*) > 1', [account.id])
        self.assertFalse(self.env.cr.fetchall(), 'no message is stored twice')

    def graph_requests(self, account):
        return self.emulator.counters()['by_user'].get(account.email, 0)
