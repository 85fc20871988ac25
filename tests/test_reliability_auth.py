"""Authorization over time, through the crons: tokens that expire mid-round, a revoked grant, re-authorization."""
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.maildesk.graph.errors import AuthInvalid

from .common import MaildeskCase
from .reliability_common import compare, converged, local_state, server_state
from .sync_common import SyncTestMixin

DELTA_ENDPOINT = 'GET /v1.0/me/mailFolders/{id}/messages/delta'


@tagged('post_install', '-at_install')
class TestAuthOverTime(SyncTestMixin, MaildeskCase):

    emulator_options = {'users': 2, 'messages': 30}

    def setUp(self):
        super().setUp()
        self.addCleanup(self.emulator.config, token_lifetime=3599, latency=0.0)

    def assertConvergedTo(self, account):
        synced = set(account.folder_ids.filtered('sync_enabled').mapped('graph_id'))
        local, duplicates = local_state(self.env.cr, account.id)
        report = compare(server_state(self.emulator, account.email, synced), local, duplicates)
        self.assertTrue(converged(report), report)

    def token_grants(self, grant):
        return self.emulator.counters()['token']['by_grant'].get(grant, 0)

    def test_access_token_expiring_mid_round_is_refreshed(self):
        user = self.emulator.users[0]
        big = self.new_emulator_folder(user, 'Long round', count=500)
        self.env['ir.config_parameter'].sudo().set_param('maildesk.page_size', 25)
        # Access tokens live 3 s and every Graph answer takes 0.15 s: the 20 pages of the round outlive the token.
        self.emulator.config(token_lifetime=3)
        account = self.sync_account(roles=(), extra_folders=(big,))
        folder = account.folder_ids.filtered('sync_enabled')
        self.emulator.config(latency=0.15)
        self.emulator.reset_counters()
        changes = self.run_changes()
        backfill = self.run_backfill()
        self.assertEqual(folder.sync_state, 'done', folder.last_error)
        self.assertEqual(changes.units, 1, 'the newest page')
        self.assertGreaterEqual(backfill.units, 19, 'the rest of the round in ONE run: no page was given up')
        counters = self.emulator.counters()
        self.assertGreaterEqual(counters['by_status'].get('401', 0), 1, 'the token really expired mid-round')
        self.assertGreaterEqual(self.token_grants('refresh_token'), 2, 'refreshed at the start and after the 401')
        self.assertEqual((account.state, account.auth_failure_count, account.last_error), ('connected', 0, False))
        self.assertFalse(folder.last_error)
        self.assertConvergedTo(account)

    def test_revoked_grant_then_reauthorization_resumes(self):
        account = self.sync_account(user_index=1)
        self.sync_until_done(account)
        self.assertConvergedTo(account)
        synced = account.folder_ids.filtered('sync_enabled')
        cursors = {f.id: (f.sudo().delta_link, f.round_number) for f in synced}
        rows = dict(self.env['maildesk.message'].search([('account_id', '=', account.id)]).mapped(
            lambda m: (m.graph_id, m.id)))
        server = account.fetchmail_server_ids

        # Entra ID revokes the grant (refresh and access tokens): each cron run fails once, the third suspends.
        self.emulator.control('POST', '/revoke', {'user': account.email, 'access_tokens': True})
        with mute_logger('odoo.addons.maildesk.engine.sign_in'):
            for attempt in range(1, 4):
                self.emulator.reset_counters()
                self.run_changes()
                self.run_backfill()
                self.assertEqual(self.emulator.counters()['token']['total'], 1, 'one refresh attempt per run')
                self.assertEqual(account.auth_failure_count, attempt)
                self.assertEqual(account.state, 'auth_invalid' if attempt == 3 else 'connected')
        self.assertNotIn('error', synced.mapped('sync_state'), 'an authorization problem is not a folder error')
        self.assertIn('Authorize Outlook', account._check_can_sync())

        # Suspended: no cron asks Microsoft for anything, neither a token nor Graph.
        self.emulator.reset_counters()
        for _run in range(3):
            self.run_changes()
            self.run_backfill()
            self.env['fetchmail.server']._fetch_mails()
            server.fetch_mail(raise_exception=False)
        self.assertIsInstance(self.graph_attempt(account), AuthInvalid)
        counters = self.emulator.counters()
        self.assertEqual((counters['token']['total'], counters['total']), (0, 0), counters)

        # Meanwhile in Outlook: new mail, read and moved messages.
        inbox = synced.filtered(lambda f: f.role == 'inbox')
        sent = synced.filtered(lambda f: f.role == 'sentitems')
        old = sorted(self.emulator.state(account.email)[inbox.graph_id]['messages'])
        unread_before = self.env['maildesk.message'].search_count(
            [('graph_id', 'in', old[:2]), ('is_read', '=', False)])
        new_ids = self.emulator.deliver(account.email, count=3, subject='While suspended')
        self.emulator.mutate(user=account.email, op='update', ids=old[:2], fields={'isRead': True})
        self.emulator.mutate(user=account.email, op='move', ids=old[2:3], destination=sent.graph_id)

        # The user clicks Authorize Outlook: sync resumes from the saved delta links, nothing is downloaded again.
        self.authorize_account(account)
        self.assertEqual((account.state, account.auth_failure_count), ('connected', 0))
        self.emulator.reset_counters()
        run = self.run_changes()
        by_endpoint = self.emulator.counters()['by_endpoint']
        # One delta-link request per folder, no re-enumeration (no folder GET); the move's @removed in the Inbox is
        # checked with one GET of that message (a move away and back is reported as @removed only).
        self.assertEqual(by_endpoint, {DELTA_ENDPOINT: len(synced), 'GET /v1.0/me/messages/{id}': 1}, by_endpoint)
        # 3 new, the 2 marked read unless they already were (a sparse update carries isRead only), 1 moved
        self.assertEqual(run.stored, 3 + unread_before + 1, 'only the changes are stored')
        for folder in synced:
            self.assertEqual(folder.round_number, cursors[folder.id][1], 'no new initial round')
        self.assertConvergedTo(account)
        after = dict(self.env['maildesk.message'].search([('account_id', '=', account.id)]).mapped(
            lambda m: (m.graph_id, m.id)))
        self.assertEqual({k: v for k, v in after.items() if k in rows}, rows, 'same rows, nothing re-created')
        self.assertEqual(set(after) - set(rows), set(new_ids))
