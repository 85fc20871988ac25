"""Shared / delegated mailboxes against the emulator's Exchange permissions: adding one through a personal account,
sync to exact convergence, Send As and Send on Behalf, a grant that ends mid-sync, a second user taking over.

Nothing is mocked: MSAL, the Graph client and the emulator (Full Access, Send As, Send on Behalf, .Shared scopes)
run for real.
"""
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.base.models.ir_mail_server import MailDeliveryException
from odoo.addons.maildesk.engine import shared_mailbox, sync_run
from odoo.addons.maildesk.tests.common import MaildeskCase
from odoo.addons.maildesk.tests.sync_common import SyncTestMixin

SUPPORT = 'support@contoso.test'


@tagged('post_install', '-at_install')
class TestSharedMailbox(SyncTestMixin, MaildeskCase):

    emulator_options = {'users': 2, 'messages': 8}
    page_size = 10

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.emulator.add_shared_mailbox(SUPPORT, 'Support', messages=40)

    def setUp(self):
        super().setUp()
        self.adele, self.megan = self.emulator.users[:2]
        self.grant(self.adele, full_access=True)
        self.personal = self.make_account(email=self.adele)

    # ------------------------------------------------------------------ helpers

    def grant(self, user, **rights):
        self.emulator.permissions(SUPPORT, user, **rights)

    def add_support(self, connecting=None, send_mode='send_as', fetch=True):
        connecting = connecting or self.personal
        account = shared_mailbox.add_shared_mailbox(connecting, SUPPORT, 'Support', send_mode)
        self.make_incoming_server(account)
        if fetch:
            account.action_fetch_folders()
            for folder in account.folder_ids:
                folder.sync_enabled = folder.role in ('inbox', 'sentitems')
        return account

    def send(self, account, subject):
        action = account.action_compose()
        draft = self.env['maildesk.draft'].browse(action['res_id'])
        draft.write({'to_emails': 'Customer <customer@fabrikam.test>', 'subject': subject,
                     'body_html': '<p>We are on it.</p>'})
        return draft, draft.action_send()

    def sent_rows(self, account, subject):
        return self.env['maildesk.message'].with_context(active_test=False).search(
            [('account_id', '=', account.id), ('subject', '=', subject)])

    def server_folder(self, address, role):
        return next(f for f in self.emulator.state(address).values() if f['well_known'] == role)['messages']

    # ------------------------------------------------------------------ adding one

    def test_add_checks_access_and_says_what_is_missing(self):
        self.grant(self.adele, full_access=False)
        with self.assertRaisesRegex(UserError, 'Full Access'):
            shared_mailbox.add_shared_mailbox(self.personal, SUPPORT)
        with self.assertRaisesRegex(UserError, 'no mailbox nobody@contoso.test'):
            shared_mailbox.add_shared_mailbox(self.personal, 'nobody@contoso.test')
        self.grant(self.adele, full_access=True)
        self.emulator.mailbox(SUPPORT, exchange_online=False)
        with self.assertRaisesRegex(UserError, 'Exchange Online'):
            shared_mailbox.add_shared_mailbox(self.personal, SUPPORT)
        self.emulator.mailbox(SUPPORT, exchange_online=True)
        self.assertFalse(self.env['maildesk.account'].search([('email', '=', SUPPORT)]), 'nothing was created')

        account = shared_mailbox.add_shared_mailbox(self.personal, SUPPORT, 'Support')
        self.assertEqual((account.mailbox_kind, account.connection_account_id, account.state),
                         ('shared', self.personal, 'authorized'))
        self.assertEqual(account.signed_in_email, self.adele)
        self.assertFalse(account.sudo().token_cache, 'tokens are never copied to the shared account')
        self.assertIn(account, self.personal.dependent_account_ids)
        with self.assertRaisesRegex(UserError, 'cannot sign in'):
            account.action_authorize()

    def test_connection_fields_are_maildesk_s_own(self):
        """A user cannot point an account at someone else's tokens, nor add through another's account."""
        bob = self.make_maildesk_user(self.env, 'bob_shared')
        with self.assertRaises(AccessError):
            self.env['maildesk.account'].with_user(bob).create({
                'name': 'x', 'email': SUPPORT, 'mailbox_kind': 'shared', 'connection_account_id': self.personal.id})
        own = self.env['maildesk.account'].with_user(bob).create({'name': 'mine', 'email': 'bob@contoso.test'})
        with self.assertRaises(AccessError):
            own.write({'connection_account_id': self.personal.id})
        with self.assertRaises(AccessError):
            shared_mailbox.add_shared_mailbox(self.personal.with_user(bob), SUPPORT)

    # ------------------------------------------------------------------ sync

    def test_shared_mailbox_syncs_to_exact_convergence(self):
        account = self.add_support()
        self.sync_until_done(account)
        self.assertConverged(account)
        self.assertEqual(account.state, 'connected')
        self.emulator.deliver(SUPPORT, count=3, subject='New ticket')
        self.sync_until_done(account)
        self.assertConverged(account)
        self.assertEqual(len(self.sent_rows(account, 'New ticket')), 3)
        self.assertGreater(self.emulator.counters()['by_user'].get(SUPPORT, 0), 0, 'requests went to support@')
        self.assertFalse(self.env['maildesk.message'].search_count([('account_id', '=', self.personal.id),
                                                                    ('subject', '=', 'New ticket')]))
        # bodies, attachments and write-back go to support@ as well
        message = self.env['maildesk.message'].search([('account_id', '=', account.id), ('is_read', '=', False),
                                                       ('has_attachments', '=', True)], limit=1)
        self.assertTrue(message)
        self.assertTrue(message.get_body_html())
        self.assertTrue(message.action_download_attachments())
        self.assertIs(message.action_mark_read(), True)
        self.assertFalse(message.pending_action, 'confirmed by Graph')
        server = next(m for f in self.emulator.state(SUPPORT).values() for i, m in f['messages'].items()
                      if i == message.graph_id)
        self.assertTrue(server['isRead'], "written back to support@'s mailbox")

    # ------------------------------------------------------------------ sending

    def test_send_as_leaves_one_row_in_the_shared_sent_items(self):
        self.grant(self.adele, send_as=True)
        account = self.add_support()
        self.sync_until_done(account)
        _draft, action = self.send(account, 'Ticket 1 answered')
        self.assertEqual(action['params']['type'], 'success', action['params']['message'])
        self.emulator.settle()
        self.sync_until_done(account)
        rows = self.sent_rows(account, 'Ticket 1 answered')
        self.assertEqual(len(rows), 1, 'one row, never two')
        self.assertEqual(rows.folder_id.role, 'sentitems')
        self.assertFalse(rows.is_local, 'the local entry became the server copy')
        self.assertEqual((rows.from_address, rows.sender_address), (SUPPORT, SUPPORT))
        server = self.server_folder(SUPPORT, 'sentitems')
        self.assertIn(rows.graph_id, server)
        self.assertFalse([m for m in self.server_folder(self.adele, 'sentitems').values()
                          if m['subject'] == 'Ticket 1 answered'], "not in the user's own Sent Items")

    def test_send_on_behalf_sets_sender_to_the_user(self):
        self.grant(self.adele, send_on_behalf=True)
        account = self.add_support(send_mode='send_on_behalf')
        self.sync_until_done(account)
        _draft, action = self.send(account, 'On behalf answer')
        self.assertEqual(action['params']['type'], 'success', action['params']['message'])
        local = self.sent_rows(account, 'On behalf answer')
        self.assertEqual((local.from_address, local.sender_address), (SUPPORT, self.adele))
        self.emulator.settle()
        self.sync_until_done(account)
        rows = self.sent_rows(account, 'On behalf answer')
        self.assertEqual(len(rows), 1)
        self.assertFalse(rows.is_local)
        self.assertEqual((rows.folder_id.role, rows.from_address, rows.sender_address),
                         ('sentitems', SUPPORT, self.adele))

    @mute_logger('odoo.addons.maildesk.engine.sending')
    def test_send_as_denied_keeps_the_draft_with_a_clear_error(self):
        account = self.add_support()
        draft, action = self.send(account, 'Not allowed')
        self.assertEqual(action['params']['type'], 'danger')
        self.assertEqual(draft.state, 'failed')
        self.assertIn('no Send As permission', draft.last_error)
        self.assertEqual(draft.subject, 'Not allowed')
        self.assertFalse(self.sent_rows(account, 'Not allowed').filtered(lambda m: m.folder_id.role == 'sentitems'))
        self.grant(self.adele, send_as=True)
        draft.action_send()
        self.assertEqual(draft.state, 'sent', draft.last_error)

    def test_outgoing_server_sends_odoo_mail_from_the_shared_mailbox(self):
        """The outgoing server of info@/support@ is how Odoo's own mail goes out from it (Send on Behalf here)."""
        self.grant(self.adele, send_on_behalf=True)
        account = self.add_support(send_mode='send_on_behalf', fetch=False)
        server = self.make_outgoing_server(account)  # Test Connection: token, /me, Mail.Send.Shared
        message = self.env['ir.mail_server'].build_email(
            SUPPORT, ['customer@fabrikam.test'], 'Your ticket', '<p>Ticket received.</p>', subtype='html',
            message_id='<ticket.1@maildesk.test>')
        self.env['ir.mail_server'].send_email(message, mail_server_id=server.id)
        self.emulator.settle()
        sent = [m for m in self.server_folder(SUPPORT, 'sentitems').values()
                if m['internetMessageId'] == '<ticket.1@maildesk.test>']
        self.assertEqual(len(sent), 1, "in the shared mailbox's Sent Items")
        self.assertEqual(self.emulator.counters()['by_endpoint'].get('POST /v1.0/users/{id}/sendMail'), 1)
        # without Send on Behalf in Exchange, Odoo's mail fails with a reason, never silently
        self.grant(self.adele, send_on_behalf=False)
        message = self.env['ir.mail_server'].build_email(SUPPORT, ['customer@fabrikam.test'], 'Again', 'x')
        with self.assertRaisesRegex(MailDeliveryException, 'no Send on Behalf permission'):
            self.env['ir.mail_server'].send_email(message, mail_server_id=server.id)

    # ------------------------------------------------------------------ the grant ends

    @mute_logger('odoo.addons.maildesk.engine.sync_run', 'odoo.addons.maildesk.engine.shared_mailbox')
    def test_revoked_full_access_mid_sync_stops_that_mailbox_with_its_state_kept(self):
        account = self.add_support()
        self.personal.action_fetch_folders()
        self.personal.folder_ids.filtered(lambda f: f.role == 'inbox').sync_enabled = True
        self.run_changes()  # newest pages only: support@'s backfill is still to come
        self.assertTrue(account.folder_ids.filtered(lambda f: f.sync_enabled and f.sync_state != 'done'))
        stored = self.env['maildesk.message'].search_count([('account_id', '=', account.id)])
        self.assertGreater(stored, 0)
        folders = account.folder_ids
        self.grant(self.adele, full_access=False)
        self.run_backfill()
        self.run_changes()
        self.env.invalidate_all()
        self.assertIn('Full Access', account.shared_access_error)
        self.assertEqual(account.state, 'error')
        self.assertTrue(account._check_can_sync(), 'it stopped')
        self.assertNotIn(account, sync_run.syncable_accounts(self.env))
        self.assertEqual(account.folder_ids, folders, 'folders kept')
        # kept, nothing hidden; the page the changes run had read ahead, while access was still granted, may be in
        kept = self.env['maildesk.message'].search_count([('account_id', '=', account.id)])
        self.assertGreaterEqual(kept, stored, 'messages kept')
        self.assertEqual(self.env['maildesk.message'].search_count([('account_id', '=', account.id),
                                                                    ('active', '=', False)]), 0, 'none hidden')
        self.sync_until_done(self.personal)
        self.assertConverged(self.personal)
        # access granted again: Check Access resumes it
        self.grant(self.adele, full_access=True)
        account.action_check_shared_access()
        self.assertFalse(account.shared_access_error)
        self.assertEqual(account.state, 'connected')
        self.sync_until_done(account)
        self.assertConverged(account)

    def test_connection_auth_invalid_stops_dependents_and_a_second_user_takes_over(self):
        account = self.add_support()
        self.sync_until_done(account)
        tag = self.env['maildesk.tag'].create({'name': 'VIP'})
        message = self.env['maildesk.message'].search([('account_id', '=', account.id)], limit=1)
        message.tag_ids = [(4, tag.id)]
        count = self.env['maildesk.message'].search_count([('account_id', '=', account.id)])
        self.personal._write_status({'state': 'auth_invalid'})
        self.assertIn('no longer authorized', account._check_can_sync())
        self.assertNotIn(account, sync_run.syncable_accounts(self.env))

        megan_user = self.make_maildesk_user(self.env, 'megan_shared')
        account.write({'is_shared': True, 'shared_user_ids': [(4, megan_user.id)]})
        megan_personal = self.make_account(email=self.megan, user=megan_user, connected=False)
        as_megan = account.with_user(megan_user)
        with self.assertRaisesRegex(UserError, 'Full Access'):
            shared_mailbox.take_over(as_megan, megan_personal)
        self.grant(self.megan, full_access=True)
        with self.assertRaises(AccessError):
            shared_mailbox.take_over(as_megan, self.personal.with_user(megan_user))  # not her account
        owner = account.user_id
        shared_mailbox.take_over(as_megan, megan_personal)
        self.env.invalidate_all()
        # a mail server is bound to the account: its owner stays (only a system administrator changes it)
        self.assertEqual((account.connection_account_id, account.user_id, account.signed_in_email),
                         (megan_personal, owner, self.megan))
        self.assertFalse(account._check_can_sync())
        self.assertTrue(message.exists())
        self.assertEqual(self.env['maildesk.message'].search_count([('account_id', '=', account.id)]), count)
        self.assertIn(tag, message.tag_ids, 'tags kept')
        self.emulator.deliver(SUPPORT, count=2, subject='After take-over')
        self.sync_until_done(account)
        self.assertConverged(account)
        self.assertEqual(len(self.sent_rows(account, 'After take-over')), 2)
