"""Self-service connect (issue #20): a plain MailDesk user connects his own Outlook, no administrator involved."""
import json
from urllib.parse import urlsplit

from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from odoo.addons.maildesk.engine import self_service

from .common import MaildeskCase, MaildeskHttpCase
from .inbox_browser import maildesk_browser, screenshot_dir
from .test_inbox_full_path import CONSENT_JS

MAILBOX = 'adele@contoso.test'


class SelfServiceMixin:
    emulator_options = {'users': 2, 'messages': 5}

    def enable(self, value=True):
        self.env['ir.config_parameter'].sudo().set_param(self_service.SETTING, value)

    def assertSelfServiceConnected(self, user):
        account = self.env['maildesk.account'].search([('user_id', '=', user.id), ('email', '=', MAILBOX)])
        self.assertEqual(len(account), 1)
        self.assertEqual(account.state, 'connected')
        server = account.fetchmail_server_ids
        self.assertEqual(len(server), 1, 'one incoming server, created by MailDesk for the user')
        self.assertEqual((server.server_type, server.state, server.create_uid), ('maildesk_graph', 'done', user))
        self.assertTrue({'inbox', 'sentitems'} <= set(account.folder_ids.filtered('sync_enabled').mapped('role')))
        return account, server


@tagged('post_install', '-at_install')
class TestSelfService(SelfServiceMixin, MaildeskCase):

    def setUp(self):
        super().setUp()
        self.user = self.make_maildesk_user(self.env, 'selfie')

    def connect(self, user):
        wizard = self.env['maildesk.connect'].with_user(user).create({'email': MAILBOX})
        action = wizard.action_connect()
        self.assertEqual(action['type'], 'ir.actions.act_url')
        account = self.env['maildesk.account'].with_user(user).search([('email', '=', MAILBOX)])
        self.authorize_account(account)
        return account

    def test_plain_user_connects_alone_and_admin_removes_the_server(self):
        self.enable()
        self.assertFalse(self.user.has_group('base.group_system'))
        self.connect(self.user)
        account, server = self.assertSelfServiceConnected(self.user)
        with self.assertRaises(AccessError, msg='mail servers stay administrators\' records'):
            self.env['fetchmail.server'].with_user(self.user).browse(server.id).read(['name'])
        # visible to administrators, and removable: the account is then no longer connected
        admin_env = self.env(user=self.env.ref('base.user_admin'))
        self.assertIn(server, admin_env['fetchmail.server'].search([('maildesk_account_id', '=', account.id)]))
        admin_env['fetchmail.server'].browse(server.id).unlink()
        self.assertEqual(account.state, 'authorized')

    def test_connecting_again_reuses_the_account_and_server(self):
        self.enable()
        first = self.connect(self.user)
        self.connect(self.user)
        self.assertEqual(self.env['maildesk.account'].search([('user_id', '=', self.user.id)]), first)
        self.assertEqual(len(first.sudo().fetchmail_server_ids), 1)

    def test_refused_when_disabled_or_not_a_maildesk_user(self):
        self.enable(False)
        wizard = self.env['maildesk.connect'].with_user(self.user).create({'email': MAILBOX})
        self.assertFalse(wizard.allowed, 'the form says so')
        with self.assertRaisesRegex(UserError, 'not enabled'):
            wizard.write({'allowed': True})  # what the form shows is not what is checked
            wizard.action_connect()
        self.assertFalse(self.env['maildesk.account'].search([('user_id', '=', self.user.id)]))
        self.enable()
        stranger = new_test_user(self.env, login='no_maildesk', groups='base.group_user')
        with self.assertRaises(AccessError):
            self_service.start(self.env(user=stranger), MAILBOX)

    def test_admin_created_server_is_left_to_the_admin(self):
        self.enable()
        account = self.make_account(email=MAILBOX, user=self.user, authorized=False, connected=False)
        server = self.make_incoming_server(account, confirm=False)
        self.authorize_account(account)
        self.assertEqual((server.state, account.state), ('draft', 'authorized'))


@tagged('post_install', '-at_install')
class TestSelfServiceTour(SelfServiceMixin, MaildeskHttpCase):

    def consent_page(self, browser, url):
        if url.startswith(self.emulator.base_url) and urlsplit(url).path.endswith('/oauth2/v2.0/authorize'):
            self.consent_pages += 1
            browser._evaluate(CONSENT_JS % json.dumps(MAILBOX))

    def test_self_service_tour(self):
        self.enable()
        user = self.make_maildesk_user(self.env, 'selfie_tour')
        self.consent_pages = 0
        self.assertTrue(self.env['maildesk.connect'].with_user(user).create({}).allowed)
        with maildesk_browser(page_hooks=[self.consent_page], shots=screenshot_dir()):
            self.start_tour('/odoo', 'maildesk_self_service_tour', login='selfie_tour', timeout=300)
        self.assertEqual(self.consent_pages, 1)
        self.assertSelfServiceConnected(user)
