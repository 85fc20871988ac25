"""The setup path nobody gets lost in: the incoming-server step says what to click and who may, an administrator's
one button creates and confirms it, and Disconnect -> Authorize comes back to Connected (engine/incoming_setup.py)."""
from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import MaildeskCase


@tagged('post_install', '-at_install')
class TestInboxSetup(MaildeskCase):

    def test_disconnect_then_authorize_is_connected_again(self):
        account = self.make_account()
        account.action_fetch_folders()
        account.folder_ids.filtered(lambda f: f.role == 'inbox').sync_enabled = True
        self.assertEqual(account.state, 'connected')
        account.action_disconnect()
        self.assertEqual(account.fetchmail_server_ids.state, 'draft')
        self.authorize_account(account)
        self.assertEqual(account.fetchmail_server_ids.state, 'done', 're-confirmed with the new sign-in')
        self.assertEqual(account.state, 'connected')
        self.assertFalse(account.sync_blocked_reason)

    def test_administrator_sets_up_the_incoming_server_in_one_click(self):
        account = self.make_account(connected=False)
        self.assertIn('No incoming mail server yet: click "Set Up Incoming Server"', account.sync_blocked_reason)
        result = account.action_set_up_incoming_server()
        self.assertEqual(result['params']['type'], 'success')
        self.assertIn('Fetch Folders', result['params']['message'])
        self.assertEqual(account.fetchmail_server_ids.state, 'done')
        self.assertEqual(account.fetchmail_server_ids.server_type, 'maildesk_graph')
        account.action_fetch_folders()
        account.folder_ids.filtered(lambda f: f.role == 'inbox').sync_enabled = True
        self.assertEqual(account.state, 'connected')

    def test_plain_user_is_told_whom_to_ask(self):
        user = self.make_maildesk_user(self.env, 'setup_plain')
        account = self.make_account(connected=False, user=user)
        self.assertIn('ask one', account.sync_blocked_reason)
        with self.assertRaises(UserError) as caught:
            account.action_set_up_incoming_server()
        self.assertIn('Odoo administrator', str(caught.exception))
        self.assertFalse(account.sudo().fetchmail_server_ids, 'nothing created')

    def test_setup_before_sign_in_says_authorize_first(self):
        account = self.make_account(authorized=False, connected=False)
        with self.assertRaises(UserError) as caught:
            account.action_set_up_incoming_server()
        self.assertIn('Authorize Outlook', str(caught.exception))
