import json
from email import message_from_bytes
from email.utils import parseaddr

from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form, tagged
from odoo.tools import mute_logger

from odoo.addons.maildesk.engine import connection

from .common import MaildeskCase, MaildeskHttpCase, stored_token_cache


def use_tokens_of(account, other):
    """Give ``account`` the stored tokens of ``other``: Graph ``/me`` then answers for another Microsoft user."""
    other = other.sudo()
    account.sudo().write({'token_cache': other.token_cache, 'home_account_id': other.home_account_id})


class SentItemsMixin:

    def sent_items(self, account):
        """{internetMessageId: Graph id} of the account's Sent Items at the emulator (ground truth), once Outlook
        filed the copies of what was sent (seconds after sendMail in reality: the emulator's ``sent_copy_delay``)."""
        self.emulator.settle()
        folders = self.emulator.state(account.email).values()
        sent = next(folder for folder in folders if folder['well_known'] == 'sentitems')
        return {message['internetMessageId']: graph_id for graph_id, message in sent['messages'].items()}

    def sent_mime(self, account, message_id):
        """The MIME headers of the Sent Items copy of ``message_id`` (read back through Graph)."""
        graph_id = self.sent_items(account)[message_id]
        return message_from_bytes(account._graph_client().get_mime(graph_id))


@tagged('post_install', '-at_install')
class TestIncomingServer(MaildeskCase):
    """fetchmail.server of type "Outlook OAuth / Microsoft Graph"."""

    def test_test_and_confirm(self):
        account = self.make_account(connected=False)
        server = self.make_incoming_server(account, confirm=False)
        self.assertEqual(server.state, 'draft')
        self.assertIn('is Not Confirmed: click "Set Up Incoming Server"', account._check_can_sync())
        self.assertIn('is Not Confirmed', account.sync_blocked_reason)
        self.emulator.reset_counters()
        server.button_confirm_login()
        self.assertEqual(server.state, 'done')
        self.assertEqual(server.user, account.email)
        by_endpoint = self.emulator.counters()['by_endpoint']
        self.assertTrue(any('/me' in endpoint for endpoint in by_endpoint), by_endpoint)
        self.assertFalse(account._check_can_sync())
        self.assertIn('Microsoft Graph', server.server_type_info)

    def test_confirmed_and_folders_chosen_is_connected(self):
        account = self.make_account()
        self.assertEqual(account.state, 'authorized', 'no folder chosen yet')
        account.action_fetch_folders()  # Inbox and Sent Items are preselected
        self.assertTrue(account.folder_ids.filtered('sync_enabled'))
        self.assertEqual(account.state, 'connected')
        account.fetchmail_server_ids.set_draft()
        self.assertEqual(account.state, 'authorized', 'Not Confirmed again: no longer connected')

    def test_confirm_needs_an_authorized_account(self):
        account = self.make_account(authorized=False, connected=False)
        server = self.make_incoming_server(account, confirm=False)
        with self.assertRaises(UserError) as caught:
            server.button_confirm_login()
        self.assertIn('Authorize Outlook', str(caught.exception))
        self.assertEqual(server.state, 'draft')

    def test_confirm_reports_the_graph_reason(self):
        account = self.make_account(connected=False)
        server = self.make_incoming_server(account, confirm=False)
        self.emulator.faults({'status': 403, 'code': 'ErrorAccessDenied', 'message': 'Access is denied.',
                              'path_contains': '/mailFolders/inbox', 'count': 1})
        with self.assertRaises(UserError) as caught:
            server.button_confirm_login()
        self.assertIn('stays Not Confirmed', str(caught.exception))
        self.assertIn('ErrorAccessDenied', str(caught.exception))
        self.assertEqual(server.state, 'draft')

    def test_confirm_refuses_another_signed_in_user(self):
        account = self.make_account(connected=False)
        other = self.make_account(email=self.emulator.users[1], connected=False)
        server = self.make_incoming_server(account, confirm=False)
        use_tokens_of(account, other)
        with self.assertRaises(UserError) as caught:
            server.button_confirm_login()
        self.assertIn('but this account is for %s' % account.email, str(caught.exception))
        self.assertIn(other.email, str(caught.exception))
        self.assertEqual(server.state, 'draft')

    def test_confirm_without_a_stored_signed_in_identity(self):
        # an account authorized before the signed-in identity was kept: its mailbox address stands for it
        account = self.make_account(connected=False)
        account._write_status({'signed_in_email': False})
        server = self.make_incoming_server(account)
        self.assertEqual(server.state, 'done')
        server.set_draft()
        use_tokens_of(account, self.make_account(email=self.emulator.users[1], connected=False))
        with self.assertRaises(UserError) as caught:
            server.button_confirm_login()
        self.assertIn('but this account is for %s' % account.email, str(caught.exception))
        self.assertEqual(server.state, 'draft')

    def test_account_is_required(self):
        with self.assertRaises(ValidationError):
            self.env['fetchmail.server'].create({'name': 'No account', 'server_type': 'maildesk_graph'})

    def test_form(self):
        account = self.make_account(connected=False)
        with Form(self.env['fetchmail.server']) as form:
            form.name = 'Outlook'
            form.server_type = 'maildesk_graph'
            form.maildesk_account_id = account
            self.assertEqual(form.user, account.email)
            self.assertFalse(form.port, 'no IMAP port to fill in')
        server = form.save()
        server.button_confirm_login()
        self.assertEqual(server.state, 'done')

    def test_mail_gateway_cron_leaves_graph_servers_alone(self):
        account = self.make_account()
        server = account.fetchmail_server_ids
        self.assertFalse(server.date)
        self.emulator.reset_counters()
        self.env['fetchmail.server']._fetch_mails()
        self.assertFalse(server.date, 'the mail-gateway cron did not process the Graph server')
        self.assertEqual(self.emulator.counters()['total'], 0)
        self.assertEqual(self.token_requests(), 0)

    def test_connect_gives_a_graph_client(self):
        account = self.make_account()
        client = account.fetchmail_server_ids.connect()
        self.assertEqual(client.me()['mail'], account.email)

    def test_fetch_now_runs_the_sync_and_moves_last_fetch_date(self):
        self.registry.enter_test_mode(self.cr)  # sync units open their own cursors
        self.addCleanup(self.registry.leave_test_mode)
        account = self.make_account()
        account.action_fetch_folders()
        server = account.fetchmail_server_ids
        server.fetch_mail()
        self.assertTrue(server.date, 'Last Fetch Date moved')
        self.assertTrue(account.last_sync_at)
        self.assertTrue(account.folder_ids.filtered('sync_enabled').message_ids)

    def test_fetch_now_explains_why_not(self):
        account = self.make_account()
        account._set_throttled(600)
        with self.assertRaises(UserError) as caught:
            account.fetchmail_server_ids.fetch_mail()
        self.assertIn('slow down', str(caught.exception))


@tagged('post_install', '-at_install')
class TestOutgoingServer(SentItemsMixin, MaildeskCase):
    """ir.mail_server of type "Outlook / Microsoft 365": Odoo's own outgoing mail through Graph sendMail."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partner = cls.env['res.partner'].create({'name': 'Adele Customer', 'email': 'adele@fabrikam.test'})

    def setUp(self):
        super().setUp()
        self.account = self.make_account(sender_name='Contoso Sales')
        self.server = self.make_outgoing_server(self.account, test=False)

    def make_mail(self, **values):
        return self.env['mail.mail'].create(dict({
            'subject': 'Your quotation',
            'body_html': '<p>Hello Adele, here is your quotation.</p>',
            'email_from': '"Mitchell Admin" <admin@yourcompany.example.com>',
            'email_to': 'adele@fabrikam.test',
            'mail_server_id': self.server.id,
        }, **values))

    def test_test_connection(self):
        action = self.server.test_smtp_connection()
        self.assertEqual(action['params']['type'], 'success')
        self.assertIn('Microsoft Graph', self.server.smtp_authentication_info)

    def test_test_connection_needs_an_authorized_account(self):
        self.account.action_disconnect()
        with self.assertRaises(UserError) as caught:
            self.server.test_smtp_connection()
        self.assertIn('Authorize Outlook', str(caught.exception))

    def test_test_connection_refuses_another_signed_in_user(self):
        other = self.make_account(email=self.emulator.users[1], connected=False)
        use_tokens_of(self.account, other)
        with self.assertRaises(UserError) as caught:
            self.server.test_smtp_connection()
        self.assertIn('but this account is for %s' % self.account.email, str(caught.exception))
        self.assertIn(other.email, str(caught.exception))

    def test_test_connection_without_a_stored_signed_in_identity(self):
        self.account._write_status({'signed_in_email': False})
        self.assertEqual(self.server.test_smtp_connection()['params']['type'], 'success')
        use_tokens_of(self.account, self.make_account(email=self.emulator.users[1], connected=False))
        with self.assertRaises(UserError):
            self.server.test_smtp_connection()

    def test_test_connection_checks_mail_send(self):
        # Microsoft granted the other scopes but not Mail.Send (e.g. removed from the app registration); Entra
        # writes granted scopes in its short form (Mail.Send), a full URL form is possible too
        cache = stored_token_cache(self.account)
        for entry in cache['AccessToken'].values():
            entry['target'] = ' '.join(s for s in entry['target'].split()
                                       if s.rsplit('/', 1)[-1].lower() != 'mail.send')
        connection.write_token_cache(self.account, json.dumps(cache))
        with self.assertRaises(UserError) as caught:
            self.server.test_smtp_connection()
        self.assertIn('Mail.Send permission was not granted', str(caught.exception))

    def test_mail_mail_goes_out_through_graph(self):
        mail = self.make_mail(references='<original.123@fabrikam.test>',
                              headers={'In-Reply-To': '<original.123@fabrikam.test>'})
        message_id = mail.message_id
        self.emulator.reset_counters()
        mail.send(raise_exception=True)
        self.assertEqual(mail.state, 'sent')
        self.assertIn(message_id, self.sent_items(self.account), "Outlook's Sent Items has Odoo's Message-Id")
        self.assertEqual(self.emulator.counters()['by_endpoint'].get('POST /me/sendMail', 1), 1)
        mime = self.sent_mime(self.account, message_id)
        self.assertEqual(parseaddr(mime['From']), ('Contoso Sales', self.account.email),
                         'sent from the mailbox, under its sender name')
        self.assertEqual(mime['In-Reply-To'], '<original.123@fabrikam.test>')

    def test_send_email_without_a_session(self):
        IrMailServer = self.env['ir.mail_server']
        message = IrMailServer.build_email(
            self.account.email, ['adele@fabrikam.test'], 'Direct', 'Sent with send_email()',
            message_id='<direct.1@maildesk.test>', references='<thread.root@maildesk.test>')
        result = IrMailServer.send_email(message, mail_server_id=self.server.id)
        self.assertEqual(result, '<direct.1@maildesk.test>')
        self.assertIn('<direct.1@maildesk.test>', self.sent_items(self.account))

    def test_chatter_notification_goes_out_through_graph(self):
        message = self.partner.message_post(body='Your order shipped.', partner_ids=self.partner.ids,
                                            message_type='comment', subtype_xmlid='mail.mt_comment')
        notification = message.notification_ids.filtered(lambda n: n.res_partner_id == self.partner)
        self.assertEqual(notification.notification_status, 'sent', notification.failure_reason)
        self.assertIn(message.message_id, self.sent_items(self.account))

    def test_too_large_is_a_clear_error(self):
        # without write access no draft may be created: one request is the limit (tests/test_real_graph_mail.py
        # sends larger mail through a draft and upload sessions)
        self.configure_maildesk(**{'maildesk.permission_level': 'read'})
        attachment = self.env['ir.attachment'].create({
            'name': 'scan.pdf', 'raw': b'%PDF' + bytes(range(256)) * (5 * 4096), 'mimetype': 'application/pdf'})
        mail = self.make_mail(attachment_ids=[(6, 0, attachment.ids)])
        with mute_logger('odoo.addons.mail.models.mail_mail'):
            mail.send()
        self.assertEqual(mail.state, 'exception')
        self.assertIn('Microsoft Graph accepts in one request', mail.failure_reason)
        self.assertIn('Read & write back', mail.failure_reason)
        self.assertNotIn(mail.message_id, self.sent_items(self.account))

    def test_record_attachments_become_links_under_the_graph_limit(self):
        self.assertLessEqual(self.server._get_max_email_size(), 150, "Exchange Online's largest mail")
        self.configure_maildesk(**{'maildesk.permission_level': 'read'})
        self.assertLess(self.server._get_max_email_size(), 3.0, 'without write access: one request')
        self.configure_maildesk()
        self.server.max_email_size = 2  # the administrator's limit holds under Graph's
        attachment = self.env['ir.attachment'].create({
            'name': 'catalogue.pdf', 'raw': b'%PDF' + bytes(range(256)) * (3 * 4096), 'mimetype': 'application/pdf',
            'res_model': 'res.partner', 'res_id': self.partner.id})
        mail = self.make_mail(model='res.partner', res_id=self.partner.id, attachment_ids=[(6, 0, attachment.ids)])
        mail.send(raise_exception=True)
        self.assertEqual(mail.state, 'sent')
        self.assertIn(mail.message_id, self.sent_items(self.account))

    def test_auth_invalid_account_fails_without_token_request(self):
        self.account._write_status({'state': 'auth_invalid'})
        mail = self.make_mail()
        self.emulator.reset_counters()
        with mute_logger('odoo.addons.mail.models.mail_mail'):
            mail.send()
        self.assertEqual(mail.state, 'exception')
        self.assertIn('Authorize Outlook', mail.failure_reason)
        self.assertEqual(self.token_requests(), 0)
        self.assertEqual(self.emulator.counters()['total'], 0)

    def test_other_servers_keep_odoo_behaviour(self):
        smtp = self.env['ir.mail_server'].create({'name': 'SMTP', 'smtp_host': 'smtp.example.com',
                                                  'from_filter': 'example.com'})
        self.assertIsNone(self.env['ir.mail_server'].connect(mail_server_id=smtp.id),
                          "core's test-mode connect (no SMTP in tests) is untouched")

    def test_account_is_required(self):
        with self.assertRaises(ValidationError):
            self.env['ir.mail_server'].create({'name': 'No account', 'smtp_authentication': 'maildesk_graph'})

    def test_form(self):
        with Form(self.env['ir.mail_server']) as form:
            form.name = 'Outlook out'
            form.smtp_authentication = 'maildesk_graph'
            form.maildesk_account_id = self.account
            self.assertEqual(form.from_filter, self.account.email)
        server = form.save()
        self.assertFalse(server.smtp_host)
        self.assertEqual(server.test_smtp_connection()['params']['type'], 'success')

    def test_settings_form(self):
        with Form(self.env['res.config.settings']) as form:
            self.assertEqual(form.maildesk_client_id, self.emulator.client_id)
            self.assertFalse(form.maildesk_client_secret)
            self.assertTrue(form.maildesk_client_secret_set)
            self.assertTrue(form.maildesk_redirect_uri.endswith('/maildesk/oauth/callback'))
            self.assertEqual(form.maildesk_cloud, 'custom')
            form.maildesk_permission_level = 'read'
        form.save().execute()
        ICP = self.env['ir.config_parameter'].sudo()
        self.assertEqual(ICP.get_param('maildesk.permission_level'), 'read')
        self.assertEqual(ICP.get_param('maildesk.client_secret'), self.emulator.client_secret,
                         'saving without typing a secret keeps the saved one')
        self.assertIn('/Mail.Read', ' '.join(self.env['maildesk.account']._maildesk_settings()['scopes']))


@tagged('post_install', '-at_install')
class TestWholePath(SentItemsMixin, MaildeskHttpCase):
    """The user's path end to end: settings -> account -> Authorize Outlook over HTTP (consent page) ->
    incoming server Confirmed -> outgoing server tested -> a mail.mail lands in Outlook's Sent Items."""

    def test_whole_path(self):
        emulator = self.emulator
        ICP = self.env['ir.config_parameter'].sudo()
        self.configure_maildesk(**dict.fromkeys(('maildesk.client_id', 'maildesk.client_secret',
                                                 'maildesk.authority_url', 'maildesk.graph_url'), False))

        # 1. the administrator fills Settings > MailDesk
        self.env['res.config.settings'].create({
            'maildesk_client_id': emulator.client_id,
            'maildesk_client_secret': emulator.client_secret,
            'maildesk_tenant': 'common',
            'maildesk_cloud': 'custom',
            'maildesk_authority_url': emulator.base_url,
            'maildesk_graph_url': emulator.graph_url,
            'maildesk_ca_bundle': emulator.ca_bundle,
            'maildesk_permission_level': 'write',
        }).execute()
        self.assertEqual(ICP.get_param('maildesk.client_secret'), emulator.client_secret)
        reopened = self.env['res.config.settings'].create({})
        self.assertFalse(reopened.maildesk_client_secret, 'the saved secret is not sent back')
        self.assertTrue(reopened.maildesk_client_secret_set)
        self.assertEqual(reopened.maildesk_redirect_uri, self.base_url() + '/maildesk/oauth/callback')

        # 2. a MailDesk user creates their mailbox account
        owner = self.make_maildesk_user(self.env, 'md_path_owner')
        account = self.env['maildesk.account'].with_user(owner).create({
            'name': 'Sales', 'email': emulator.users[0], 'sender_name': 'Contoso Sales'})
        self.assertEqual(account.state, 'not_authorized')
        self.assertEqual(account.user_id, owner)

        # 3. Authorize Outlook, through the controller and the emulator's consent page
        self.authenticate('md_path_owner', 'md_path_owner')
        done = self.authorize_over_http(account)
        self.assertEqual(done.status_code, 303)
        account.invalidate_recordset()
        self.assertEqual(account.state, 'authorized')

        # 4. the administrator confirms an incoming server; folders are fetched (Inbox + Sent Items chosen)
        incoming = self.make_incoming_server(account)
        self.assertEqual(incoming.state, 'done')
        account.action_fetch_folders()
        self.assertEqual(account.state, 'connected')

        # 5. then an outgoing server, tested
        outgoing = self.make_outgoing_server(account, test=False)
        self.assertEqual(outgoing.test_smtp_connection()['params']['type'], 'success')

        # 6. Odoo's own outgoing mail goes out through Graph and lands in Sent Items with Odoo's Message-Id
        mail = self.env['mail.mail'].create({
            'subject': 'Welcome', 'body_html': '<p>Welcome aboard</p>', 'email_to': 'adele@fabrikam.test',
            'email_from': owner.email, 'mail_server_id': outgoing.id})
        mail.send(raise_exception=True)
        self.assertEqual(mail.state, 'sent')
        self.assertIn(mail.message_id, self.sent_items(account))
