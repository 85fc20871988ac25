"""A shared mailbox in a real browser, against the emulator's Exchange permissions
(static/tests/tours/maildesk_shared_mailbox_tour.js): add support@ through a connected personal account, sync,
reply as support@."""
from odoo.tests import tagged

from .common import MaildeskHttpCase
from .inbox_browser import maildesk_browser

SHARED = 'support@contoso.test'
SUBJECT = 'Tour: the printer is on fire'


@tagged('post_install', '-at_install')
class TestSharedMailboxTour(MaildeskHttpCase):
    emulator_options = {'users': 2, 'messages': 5}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.emulator.add_shared_mailbox(SHARED, 'Support', messages=6)

    def test_add_sync_and_reply_as_support(self):
        adele = self.emulator.users[0]
        self.emulator.permissions(SHARED, adele, full_access=True, send_as=True)
        self.emulator.deliver(SHARED, count=1, subject=SUBJECT,
                              **{'from': {'emailAddress': {'name': 'Customer', 'address': 'customer@fabrikam.test'}}})
        personal = self.make_account(email=adele, name='Adele', connected=False)
        with maildesk_browser():
            self.start_tour('/odoo/action-maildesk.maildesk_account_action?debug=1', 'maildesk_shared_mailbox_tour',
                            login='admin', timeout=400)
        account = self.env['maildesk.account'].search([('email', '=', SHARED)])
        self.assertEqual((account.mailbox_kind, account.connection_account_id), ('shared', personal))
        self.assertFalse(account.sudo().token_cache, 'no tokens copied')
        self.emulator.settle()
        account._sync_round()
        replies = self.env['maildesk.message'].search([('account_id', '=', account.id),
                                                       ('subject', '=ilike', 'Re: ' + SUBJECT)])
        self.assertEqual(len(replies), 1, 'one row in Sent Items')
        self.assertEqual((replies.folder_id.role, replies.from_address, replies.is_local),
                         ('sentitems', SHARED, False))
        sent = next(f for f in self.emulator.state(SHARED).values() if f['well_known'] == 'sentitems')
        self.assertIn(replies.graph_id, sent['messages'], "in support@'s own Sent Items at Outlook")
