from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.maildesk.engine import folder_round, sync_run
from odoo.addons.maildesk.engine.folder_round import FolderRound, GraphReads
from odoo.addons.maildesk.engine.message_batch import MessageBatch
from odoo.addons.maildesk.graph import mail
from odoo.addons.maildesk.tests.common import MaildeskCase
from odoo.addons.maildesk.tests.sync_common import SyncTestMixin

DELTA = '/messages/delta'


@tagged('post_install', '-at_install')
class TestSyncFaults(SyncTestMixin, MaildeskCase):
    """Throttling, server errors, authorization failures and malformed items never break a mailbox's sync."""

    emulator_options = {'users': 3, 'messages': 40}
    page_size = 10

    def test_429_storm_finishes_later_never_errors(self):
        account = self.sync_account()
        # Graph asks for a long pause: the account waits (no error state), other runs skip it without a request
        self.emulator.faults({'status': 429, 'retry_after': '120', 'path_contains': DELTA, 'count': 2})
        run = self.run_changes()
        self.assertEqual(run.throttled, {account.id: 120.0})
        self.assertGreater(account.throttled_until, fields.Datetime.now() + timedelta(seconds=100))
        self.assertNotIn('error', account.folder_ids.mapped('sync_state'))
        self.assertFalse(any(account.folder_ids.mapped('last_error')))
        self.emulator.reset_counters()
        self.run_changes()
        self.run_backfill()
        self.assertEqual(self.graph_requests(account), 0, 'a throttled account is left alone until then')
        # time passes; then a storm of short 429s and 503s: the client waits them out, the sync completes
        account._write_status({'throttled_until': fields.Datetime.now() - timedelta(seconds=1)})
        self.emulator.faults({'status': 429, 'retry_after': '0.01', 'share': 0.4, 'path_contains': DELTA},
                             {'status': 503, 'retry_after': '0.01', 'share': 0.2, 'path_contains': DELTA})
        for _run in range(30):
            account._write_status({'throttled_until': False})
            self.run_changes()
            self.run_backfill()
            self.assertNotIn('error', account.folder_ids.mapped('sync_state'))
            if set(account.folder_ids.filtered('sync_enabled').mapped('sync_state')) == {'done'}:
                break
        self.emulator.faults()
        self.sync_until_done(account)
        self.assertConverged(account)
        self.assertTrue(self.emulator.counters()['by_status'].get('429'), 'the storm really happened')

    def test_server_errors_keep_the_cursor(self):
        account = self.sync_account(user_index=1, roles=('inbox',))
        inbox = account.folder_ids.filtered(lambda f: f.role == 'inbox')
        self.run_changes()
        link = inbox.sudo().next_link
        self.assertTrue(link)
        folder_round._handoff.clear()  # the page the changes run fetched ahead: as if the backfill ran elsewhere
        self.emulator.faults({'status': 500, 'path_contains': DELTA, 'count': 3})
        with mute_logger('odoo.addons.maildesk.engine.sync_run'):
            run = self.run_backfill()
        self.assertEqual(inbox.sync_state, 'error')
        self.assertIn('500', inbox.last_error)
        self.assertEqual(inbox.sudo().next_link, link, 'the cursor is kept')
        self.assertEqual(run.units, 0)
        self.sync_until_done(account)
        self.assertEqual((inbox.sync_state, inbox.last_error), ('done', False))
        self.assertConverged(account)

    def test_one_failing_folder_does_not_stop_the_others(self):
        account = self.sync_account(user_index=2)
        sent = account.folder_ids.filtered(lambda f: f.role == 'sentitems')
        self.emulator.faults({'status': 403, 'code': 'ErrorAccessDenied', 'path_contains': sent.graph_id})
        self.run_changes()
        for _run in range(3):
            self.run_backfill()
        inbox = account.folder_ids.filtered(lambda f: f.role == 'inbox')
        self.assertEqual(inbox.sync_state, 'done')
        self.assertEqual(sent.sync_state, 'error')
        self.assertIn('ErrorAccessDenied', sent.last_error)
        self.emulator.faults()
        self.sync_until_done(account)
        self.assertConverged(account)

    def test_authorization_failures_suspend_the_account(self):
        account = self.sync_account(user_index=1, roles=('inbox',))
        self.sync_until_done(account)
        # Entra ID revokes the grant: Graph refuses the token, MSAL's refresh fails -> counted, then auth_invalid
        self.emulator.control('POST', '/revoke', {'user': account.email, 'access_tokens': True})
        with mute_logger('odoo.addons.maildesk.engine.sign_in'):
            for _run in range(3):
                self.run_changes()
        self.assertEqual(account.state, 'auth_invalid')
        self.assertNotIn('error', account.folder_ids.mapped('sync_state'), 'an auth problem is not a folder error')
        self.emulator.reset_counters()
        self.run_changes()
        self.assertEqual(self.graph_requests(account), 0, 'auth_invalid suspends background sync')

    def test_unconfirmed_server_is_skipped(self):
        account = self.sync_account(user_index=2, roles=('inbox',))
        account.fetchmail_server_ids.set_draft()
        self.emulator.reset_counters()
        self.run_changes()
        self.assertEqual(self.graph_requests(account), 0)
        self.assertEqual(account.folder_ids.filtered('sync_enabled').sync_state, 'newest')

    def test_malformed_items_skipped_and_recorded(self):
        account = self.sync_account(roles=('inbox',))
        inbox = account.folder_ids.filtered(lambda f: f.role == 'inbox')
        client = account._graph_client()
        real = client.delta_page(inbox.graph_id)
        bad = [None, 'text', {'id': ''}, {'@odata.type': '#microsoft.graph.contact', 'id': 'AAkALgAAcontact'}]
        page = real._replace(items=real.items + bad)
        reads = GraphReads(client)
        reads.page = lambda folder, link: (page, mail.delta_values(page.items), {})
        FolderRound(self.env['maildesk.folder'].browse(inbox.id).sudo(), reads).sync_page()
        self.assertEqual(inbox.skipped_count, 4)
        self.assertIn('4 item(s) skipped', inbox.last_error)
        # Graph may list an item twice in one page (graph-api.md §1.7): the page holds this many messages
        self.assertEqual(inbox.synced_count, len({item['id'] for item in real.items if '@removed' not in item}))
        self.assertEqual(inbox.sync_state, 'backfilling', 'a malformed item is never fatal')

    def test_upsert_idempotent_stale_and_partners(self):
        account = self.sync_account(roles=('inbox',))
        inbox = account.folder_ids.filtered(lambda f: f.role == 'inbox')
        partner = self.env['res.partner'].create({'name': 'Alex', 'email': 'Alex.W@Fabrikam.test'})
        me = self.env['res.partner'].create({'name': 'Me', 'email': account.email})
        partners_before = self.env['res.partner'].search_count([])
        self.emulator.deliver(account.email, count=3, subject='Partner mail',
                              **{'from': {'name': 'Alex', 'address': 'alex.w@fabrikam.test'}})
        self.emulator.deliver(account.email, subject='From myself', **{'from': account.email})
        self.sync_until_done(account)
        mails = self.env['maildesk.message'].search([('subject', '=', 'Partner mail')])
        self.assertEqual(len(mails), 3)
        self.assertEqual(mails.from_partner_id, partner)
        self.assertEqual(mails.partner_ids, me)
        self.assertEqual(set(mails.mapped('direction')), {'incoming'})
        mine = self.env['maildesk.message'].search([('subject', '=', 'From myself')])
        self.assertEqual(mine.direction, 'outgoing')
        self.assertEqual(self.env['res.partner'].search_count([]), partners_before, 'sync creates no partner')

        inbox = inbox.sudo()
        item = account._graph_client().get_message(mails[0].graph_id, body=False)
        stats = MessageBatch(inbox).apply(mail.delta_values([item, dict(item)]))
        self.assertEqual((stats['created'], stats['updated']), (0, 0), 'a replay is a no-op')
        stale = dict(item, isRead=not item['isRead'], lastModifiedDateTime='2001-01-01T00:00:00Z')
        stats = MessageBatch(inbox).apply(mail.delta_values([stale]))
        self.assertEqual(stats['updated'], 0, 'an older version is ignored')
        self.assertEqual(mails[0].is_read, item['isRead'])
        newer = dict(item, isRead=not item['isRead'], lastModifiedDateTime='2099-01-01T00:00:00Z')
        stats = MessageBatch(inbox).apply(mail.delta_values([newer]))
        self.assertEqual(stats['updated'], 1)
        mails.invalidate_recordset()
        self.assertEqual(mails[0].is_read, not item['isRead'])

    def test_backfill_depth_months(self):
        user = self.emulator.users[2]
        folder_id = self.new_emulator_folder(user, 'Ten years', count=300)
        self.env['ir.config_parameter'].sudo().set_param('maildesk.backfill_months', 24)
        self.env['ir.config_parameter'].sudo().set_param('maildesk.page_size', 100)
        account = self.sync_account(user_index=2, roles=(), extra_folders=(folder_id,))
        self.sync_until_done(account)
        folder = account.folder_ids.filtered(lambda f: f.graph_id == folder_id)
        cutoff = fields.Datetime.now() - timedelta(days=2 * 365 + 1)
        messages = self.emulator.state(user)[folder_id]['messages']
        recent = {mid for mid, m in messages.items() if m['receivedDateTime'] >= (cutoff + timedelta(days=2))
                  .strftime('%Y-%m-%dT%H:%M:%SZ')}
        stored = set(folder.message_ids.mapped('graph_id'))
        self.assertTrue(recent and recent <= stored, 'everything inside the window is stored')
        self.assertLess(len(stored), len(messages), 'older mail is not back-filled')
        self.assertFalse(folder.message_ids.filtered(lambda m: m.received_at < cutoff))
        self.assertEqual(folder.sync_state, 'done', 'the round still ends with a delta link')

    def test_local_entry_replaced_by_outlook_copy(self):
        account = self.sync_account(roles=('sentitems',))
        sent = account.folder_ids.filtered(lambda f: f.role == 'sentitems')
        self.sync_until_done(account)
        local = self.env['maildesk.message'].create({
            'account_id': account.id, 'folder_id': sent.id, 'graph_id': 'local:test-1', 'is_local': True,
            'subject': 'Quote', 'internet_message_id': '<quote-1@maildesk.test>', 'direction': 'outgoing'})
        tag = self.env['maildesk.tag'].create({'name': 'Quote sent'})
        local.tag_ids = tag
        self.run_changes()  # before Outlook has the copy: the local entry survives the sync
        self.assertTrue(local.active)
        graph_id = self.emulator.deliver(account.email, folder='sentitems', subject='Quote',
                                         internetMessageId='<quote-1@maildesk.test>',
                                         **{'from': account.email})[0]
        self.run_changes()
        rows = self.env['maildesk.message'].search([('internet_message_id', '=', '<quote-1@maildesk.test>')])
        self.assertEqual(rows, local, 'never two: the local entry becomes Outlook\'s copy')
        self.assertEqual((local.graph_id, local.is_local, local.tag_ids), (graph_id, False, tag))

    def test_sync_now_and_fetch_now(self):
        account = self.sync_account(roles=('inbox',))
        action = account.action_sync_now()
        self.assertEqual(action['params']['type'], 'success', action['params']['message'])
        self.assertIn('stored', action['params']['message'])
        self.assertTrue(account.last_sync_at)
        server = account.fetchmail_server_ids
        self.assertTrue(server.date, 'Last Fetch Date moves once sync ran')
        self.emulator.deliver(account.email, subject='Fetched now')
        server.date = False
        server.fetch_mail()
        self.assertTrue(self.env['maildesk.message'].search([('subject', '=', 'Fetched now')]))
        self.assertTrue(server.date)

    def test_cron_progress_and_retrigger(self):
        user = self.emulator.users[0]
        folder_id = self.new_emulator_folder(user, 'Progress', count=60)
        account = self.sync_account(roles=(), extra_folders=(folder_id,))
        self.run_changes()
        cron = self.env.ref('maildesk.ir_cron_maildesk_backfill')
        triggers = self.env['ir.cron.trigger'].search_count([('cron_id', '=', cron.id)])
        with patch.object(sync_run, 'BACKFILL_PAGE_BUDGET', 2):
            cron.method_direct_trigger()
        progress = self.env['ir.cron.progress'].search([('cron_id', '=', cron.id)], order='id desc', limit=1)
        self.assertEqual((progress.done, progress.remaining), (2, 1), 'two pages done, one folder left')
        self.assertGreater(self.env['ir.cron.trigger'].search_count([('cron_id', '=', cron.id)]), triggers,
                           'the backfill re-triggers itself while work remains')
        self.sync_until_done(account)
        cron.method_direct_trigger()
        progress = self.env['ir.cron.progress'].search([('cron_id', '=', cron.id)], order='id desc', limit=1)
        self.assertEqual(progress.remaining, 0)
