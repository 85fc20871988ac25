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


@tagged('post_install', '-at_install')
class TestInboxSetupSettings(MaildeskCase):

    def test_remove_the_client_secret_together_with_other_changes(self):
        ICP = self.env['ir.config_parameter'].sudo()
        ICP.set_param('maildesk.client_secret', 'old-secret')
        settings = self.env['res.config.settings'].create({
            'maildesk_client_secret_remove': True, 'maildesk_tenant': 'organizations'})
        settings.execute()
        self.assertFalse(ICP.get_param('maildesk.client_secret'), 'removed')
        self.assertEqual(ICP.get_param('maildesk.tenant'), 'organizations', 'the other change is saved too')
        self.env['res.config.settings'].create({'maildesk_client_secret': 'new-secret'}).execute()
        self.assertEqual(ICP.get_param('maildesk.client_secret'), 'new-secret')

    def test_redirect_uri_is_pinned_and_warns_when_web_base_url_moves(self):
        ICP = self.env['ir.config_parameter'].sudo()
        ICP.set_param('web.base.url', 'https://odoo.test')
        self.env['res.config.settings'].create({}).execute()
        self.assertEqual(ICP.get_param('maildesk.redirect_base_url'), 'https://odoo.test', 'pinned on save')
        ICP.set_param('web.base.url', 'http://10.0.0.5:8069')  # an admin logged in through another host name
        Account = self.env['maildesk.account']
        self.assertEqual(Account._oauth_redirect_uri(), 'https://odoo.test/maildesk/oauth/callback')
        values = self.env['res.config.settings'].default_get(['maildesk_redirect_uri', 'maildesk_redirect_warning'])
        self.assertEqual(values['maildesk_redirect_uri'], 'https://odoo.test/maildesk/oauth/callback')
        self.assertIn('http://10.0.0.5:8069', values['maildesk_redirect_warning'])

    def test_first_sign_in_pins_the_redirect_uri_it_used(self):
        """Settings never saved (the base URL not pinned yet): the first sign-in pins the URI it sent Microsoft."""
        ICP = self.env['ir.config_parameter'].sudo()
        ICP.set_param('maildesk.redirect_base_url', False)
        ICP.set_param('web.base.url', 'https://odoo.test')
        account = self.make_account(authorized=False, connected=False)
        flow = account._start_authorization()
        self.assertIn('redirect_uri=https%3A%2F%2Fodoo.test%2Fmaildesk%2Foauth%2Fcallback', flow['auth_uri'])
        ICP.set_param('web.base.url', 'http://10.0.0.5:8069')  # a login through another host name
        self.assertEqual(account._oauth_redirect_uri(), 'https://odoo.test/maildesk/oauth/callback')
