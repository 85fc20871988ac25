"""The setup path of a plain MailDesk user without developer mode, and Disconnect -> Authorize, in a real browser
against the Microsoft emulator (static/tests/tours/maildesk_setup_tour.js)."""
import json
from urllib.parse import urlsplit

from odoo.tests import tagged

from .common import MaildeskHttpCase
from .inbox_browser import maildesk_browser, screenshot_dir
from .test_inbox_full_path import CONSENT_JS

MAILBOX = 'adele@contoso.test'


@tagged('post_install', '-at_install')
class TestInboxSetupTour(MaildeskHttpCase):
    emulator_options = {'users': 2, 'messages': 12}

    def consent_page(self, browser, url):
        if url.startswith(self.emulator.base_url) and urlsplit(url).path.endswith('/oauth2/v2.0/authorize'):
            self.consent_pages += 1
            browser._evaluate(CONSENT_JS % json.dumps(MAILBOX))

    def test_plain_user_setup_and_reauthorize(self):
        self.consent_pages = 0
        user = self.make_maildesk_user(self.env, 'plain_setup')
        with maildesk_browser(page_hooks=[self.consent_page], shots=screenshot_dir()):
            self.start_tour('/odoo/maildesk', 'maildesk_setup_user_tour', login='plain_setup', timeout=300)
            account = self.env['maildesk.account'].search([('email', '=', MAILBOX)])
            self.assertEqual((account.user_id, account.state), (user, 'authorized'))
            self.assertFalse(account.sudo().fetchmail_server_ids, 'the plain user was told whom to ask')
            # the administrator's one click
            account.with_user(self.env.ref('base.user_admin')).action_set_up_incoming_server()
            self.assertEqual(account.sudo().fetchmail_server_ids.state, 'done')
            self.start_tour('/odoo/maildesk-accounts/%d' % account.id, 'maildesk_setup_sync_tour',
                            login='plain_setup', timeout=300)
            self.assertEqual(account.state, 'connected')
            self.assertTrue(account.folder_ids.filtered(lambda f: f.role == 'archive').sync_enabled, 'Sync this folder')
            self.start_tour('/odoo/maildesk-accounts/%d' % account.id, 'maildesk_reauthorize_tour',
                            login='plain_setup', timeout=300)
        self.assertEqual(self.consent_pages, 2)
        self.assertEqual(account.state, 'connected')
        self.assertEqual(account.sudo().fetchmail_server_ids.state, 'done')
