from odoo.tests import tagged

from odoo.addons.maildesk.engine import client_pool, connection, sync_run
from odoo.addons.maildesk.tests.common import MaildeskCase
from odoo.addons.maildesk.tests.sync_common import SyncTestMixin

DELTA = 'GET /v1.0/me/mailFolders/{id}/messages/delta'


@tagged('post_install', '-at_install')
class TestClientReuse(SyncTestMixin, MaildeskCase):
    """One HTTPS session and one MSAL app per account per process, across cron runs (engine/client_pool.py)."""

    emulator_options = {'users': 2, 'messages': 20}

    def synced_account(self, user_index=0):
        account = self.sync_account(user_index)
        self.sync_until_done(account)
        return account

    def pooled(self, account):
        return client_pool.pooled(self.env.cr.dbname, account.id)

    def test_two_cron_runs_one_connection_no_second_discovery(self):
        account = self.synced_account()
        synced = len(account.folder_ids.filtered('sync_enabled'))
        client_pool.drop(self.env.cr.dbname)  # what a freshly started worker has
        self.emulator.config(delta_empty_page_share=0.0)  # Graph's occasional empty page + nextLink: a 2nd request
        self.emulator.reset_counters()
        self.run_changes()
        first = self.emulator.counters()
        self.assertEqual(first['connections'], 1, 'MSAL and Graph share one keep-alive TLS connection')
        self.assertEqual(first['by_identity'], {'openid-configuration': 1},
                         'a new MSAL app asks for the OpenID configuration once (the access token is cached)')
        self.run_changes()
        second = self.emulator.counters()
        self.assertEqual(second['connections'], 1, 'the second run reuses the connection')
        self.assertEqual(second['by_identity'], first['by_identity'], 'no MSAL discovery the second time')
        self.assertEqual(second['by_endpoint'][DELTA] - first['by_endpoint'][DELTA], synced,
                         'still exactly one request per folder')
        self.assertEqual(set(second['by_endpoint']), {DELTA})

    def test_changed_setting_or_disconnect_drops_the_pooled_client(self):
        account = self.synced_account()
        pooled = self.pooled(account)
        self.assertTrue(pooled and pooled.app, 'the sync left a pooled client')
        self.run_changes()
        self.assertIs(self.pooled(account), pooled, 'reused while nothing changed')

        self.env['ir.config_parameter'].sudo().set_param('maildesk.client_secret', 'another secret')
        self.emulator.reset_counters()
        self.run_changes()
        renewed = self.pooled(account)
        self.assertIsNot(renewed, pooled, 'another client secret: another client')
        self.assertEqual(self.emulator.counters()['connections'], 1, 'a new session, a new connection')
        self.assertNotIn(b'another secret', repr(vars(renewed)).encode(), 'the secret itself is not kept')

        account.action_disconnect()
        self.assertIsNone(self.pooled(account), 'Disconnect drops the pooled client')

    def test_tokens_rotate_and_each_account_keeps_its_own_cache(self):
        first, second = self.synced_account(0), self.synced_account(1)
        apps = {account: self.pooled(account).app for account in (first, second)}
        self.assertIsNot(apps[first], apps[second])
        for account, app in apps.items():
            self.assertEqual([entry['home_account_id'] for entry in app.msal.get_accounts()],
                             [account.sudo().home_account_id], 'an app holds its own account only')

        # Graph refuses the access token once: the pooled app refreshes, the rotated tokens are stored encrypted.
        stored_before = first.sudo().token_cache
        self.emulator.faults({'status': 401, 'count': 1, 'path_contains': '/messages/delta', 'user': first.email})
        self.emulator.reset_counters()
        self.run_changes()
        counters = self.emulator.counters()
        self.assertEqual(counters['token']['by_grant'], {'refresh_token': 1}, counters['token'])
        stored_after = first.sudo().token_cache
        self.assertNotEqual(stored_after, stored_before, 'the refreshed cache was saved')
        self.assertTrue(stored_after.startswith(connection.ENCRYPTED_PREFIX))
        self.assertEqual(self.pooled(first).stored_cache, stored_after)

        # Another worker's refresh (or a key rotation) changes the stored cache: it is read again, not overwritten.
        state = connection.read_token_cache(second)
        connection.write_token_cache(second, state)
        app = self.pooled(second).app
        self.emulator.reset_counters()
        self.run_changes()
        self.assertIs(self.pooled(second).app, app, 'same app, its cache reloaded')
        self.assertEqual(self.pooled(second).stored_cache, second.sudo().token_cache)
        self.assertEqual(self.emulator.counters()['token']['total'], 0, 'the access token was still valid')

    def test_quiet_cycles_do_not_reload_open_inboxes(self):
        """A cycle that changes nothing moves "last synced" without telling every open inbox each time (each would
        reload its folders and page for a time it only displays); new mail is told at once."""
        account = self.synced_account()
        self.emulator.config(delta_empty_page_share=0.0)
        sync_run._last_sync_notices.clear()  # a freshly started worker

        def notices():
            self.env.cr.flush()  # bus messages are written when the run's transactions commit
            return self.env['bus.bus'].sudo().search_count([('message', 'like', '"maildesk/changed"')])

        before = notices()
        self.run_changes()
        first = notices()
        self.assertGreater(first, before, 'the first cycle of a worker tells open inboxes the new sync time')
        synced_at = account.last_sync_at
        self.run_changes()
        self.run_changes()
        self.assertEqual(notices(), first, 'quiet cycles right after it: no message')
        account.invalidate_recordset(['last_sync_at'])
        self.assertGreaterEqual(account.last_sync_at, synced_at, 'the sync time itself is still written')

        self.emulator.deliver(account.email, count=1, subject='Fresh')
        self.run_changes()
        self.assertGreater(notices(), first, 'new mail: open inboxes are told at once')
