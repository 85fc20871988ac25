from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import MaildeskCase


@tagged('post_install', '-at_install')
class TestOAuthFlow(MaildeskCase):

    def test_authorize_and_confirm(self):
        account = self.make_account()
        self.assertEqual(account.state, 'authorized')
        self.assertTrue(account.sudo().token_cache)
        server = account.fetchmail_server_ids
        self.assertEqual(server.state, 'done')
        self.assertEqual(account._graph_client().me()['mail'], account.email)
