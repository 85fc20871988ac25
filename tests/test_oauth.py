from urllib.parse import parse_qsl, urlsplit

from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, tagged
from odoo.tests.common import ChromeBrowser

from odoo.addons.maildesk.graph.errors import AuthInvalid

from .common import MaildeskCase, MaildeskHttpCase, html_form, stored_token_cache


def refresh_tokens(account):
    """Refresh-token secrets in the account's stored MSAL cache."""
    cache = stored_token_cache(account)
    return {entry['secret'] for entry in cache.get('RefreshToken', {}).values()}


@tagged('post_install', '-at_install')
class TestAuthorization(MaildeskCase):
    """Authorize Outlook through the real MSAL auth-code flow, and what tokens do afterwards."""

    def setUp(self):
        super().setUp()
        self.addCleanup(self.emulator.config, code_lifetime=600, token_lifetime=3599)

    def assertNothingStored(self, account):
        account.invalidate_recordset()
        self.assertEqual(account.state, 'not_authorized')
        self.assertFalse(account.sudo().token_cache)
        self.assertFalse(account.sudo().home_account_id)

    def test_authorize_stores_tokens(self):
        account = self.make_account(connected=False)
        self.assertEqual(account.state, 'authorized')
        self.assertTrue(account.authorized_at)
        self.assertTrue(refresh_tokens(account), 'the refresh token (offline_access) is kept')
        self.assertTrue(account.sudo().home_account_id)
        self.assertEqual(account._graph_client().me()['mail'], account.email)
        self.assertIn('Mail.ReadWrite', {scope.rsplit('/', 1)[-1] for scope in account._granted_scopes()})

    def test_signed_in_identity_is_kept_until_disconnect(self):
        account = self.make_account(connected=False)
        self.assertEqual(account.signed_in_email.lower(), account.email.lower(), 'a personal mailbox: the same')
        client = account._graph_client()
        self.assertEqual((client.mailbox, client.root), (None, '/me'), "the signed-in user's own mailbox")
        self.assertEqual(client.me()['mail'], account.email)
        account.action_disconnect()
        self.assertFalse(account.signed_in_email)
        self.authorize_account(account)
        self.assertTrue(account.signed_in_email)
        account.email = self.emulator.users[1]  # another mailbox forgets the sign-in
        self.assertFalse(account.signed_in_email)
        self.assertFalse(account.copy({'email': self.emulator.users[2]}).signed_in_email)

    def test_check_signed_in(self):
        account = self.make_account(authorized=False, connected=False, email='Ann.Lee@Contoso.test')
        # nothing stored yet (or an account authorized before the identity was kept): the mailbox address
        self.assertEqual(account._check_signed_in({'mail': None, 'userPrincipalName': 'ann.lee@contoso.test'}),
                         'ann.lee@contoso.test')
        self.assertEqual(account._check_signed_in({'mail': 'Ann.Lee@contoso.test'}), 'Ann.Lee@contoso.test')
        self.assertEqual(account._check_signed_in({}, username='ann.lee@contoso.TEST'), 'ann.lee@contoso.TEST')
        for me in ({'mail': 'bob@contoso.test', 'userPrincipalName': 'Bob@contoso.test'}, {}):
            with self.assertRaises(UserError) as caught:
                account._check_signed_in(me)
            self.assertIn('but this account is for Ann.Lee@Contoso.test', str(caught.exception))
            self.assertIn('bob@contoso.test' if me else 'an unknown user', str(caught.exception))
        # once stored, the signed-in identity is what /me must be
        account._write_status({'signed_in_email': 'bob@contoso.test'})
        self.assertEqual(account._check_signed_in({'mail': 'BOB@contoso.test'}), 'BOB@contoso.test')
        with self.assertRaises(UserError):
            account._check_signed_in({'mail': 'ann.lee@contoso.test'})

    def test_first_authorization_pins_the_entra_identity(self):
        account = self.make_account(connected=False)
        oid, tid = account._graph_client().me()['id'], self.emulator.info['tenant_id']
        self.assertEqual((account.entra_object_id, account.entra_tenant_id), (oid, tid))
        self.assertEqual(account.sudo().home_account_id, '%s.%s' % (oid, tid), "MSAL's <oid>.<tid>")
        stored = account.sudo().token_cache
        # the same address, another Entra identity (the user recreated, or of another tenant): refused
        for changed in ({'oid': '0badc0de-0000-4000-8000-000000000001'},
                        {'tid': '0badc0de-0000-4000-8000-00000000aaaa'}):
            self.emulator.set_identity(account.email, **changed)
            with self.assertRaises(UserError) as caught:
                self.authorize_account(account)
            self.assertIn('not the Microsoft account this mailbox was first authorized with', str(caught.exception))
            self.assertIn(oid, str(caught.exception))
            self.assertIn('Forget the Microsoft identity', str(caught.exception))
            account.invalidate_recordset()
            self.assertEqual((account.sudo().token_cache, account.entra_object_id, account.entra_tenant_id),
                             (stored, oid, tid), 'nothing stored')
            self.emulator.set_identity(account.email)
        self.authorize_account(account)  # the pinned identity itself, again
        self.assertEqual(account.state, 'authorized')

    def test_authorized_before_the_pin_was_kept(self):
        account = self.make_account(connected=False)
        account._write_status({'entra_object_id': False, 'entra_tenant_id': False})  # as an earlier version left it
        self.emulator.set_identity(account.email, oid='0badc0de-0000-4000-8000-000000000004')
        with self.assertRaises(UserError):  # its tokens' home_account_id (<oid>.<tid>) stands for the pin
            self.authorize_account(account)
        self.emulator.set_identity(account.email)
        self.authorize_account(account)
        self.assertEqual(account.entra_object_id, account.sudo().home_account_id.split('.')[0], 'pinned now')

    def test_disconnect_keeps_the_pin_a_manager_forgets_it(self):
        owner = self.make_maildesk_user(self.env, 'md_pin_owner')
        manager = self.make_maildesk_user(self.env, 'md_pin_manager', manager=True)
        account = self.make_account(connected=False, user=owner)
        oid = account.sudo().entra_object_id
        account.action_disconnect()
        self.assertEqual((account.state, account.sudo().entra_object_id), ('not_authorized', oid))
        new_oid = '0badc0de-0000-4000-8000-000000000002'
        self.emulator.set_identity(account.email, oid=new_oid)
        with self.assertRaises(UserError):
            self.authorize_account(account)
        with self.assertRaises(AccessError):
            account.action_forget_identity()  # the owner is no manager
        account.with_user(manager).action_forget_identity()
        self.assertFalse(account.sudo().entra_object_id)
        self.authorize_account(account)
        self.assertEqual((account.state, account.sudo().entra_object_id), ('authorized', new_oid), 'pinned anew')

    def test_incoming_server_checks_the_pinned_object(self):
        account = self.make_account(connected=False)
        server = self.make_incoming_server(account, confirm=False)
        self.emulator.set_identity(account.email, oid='0badc0de-0000-4000-8000-000000000003')
        with self.assertRaises(UserError) as caught:  # the stored token now answers for another object
            server.button_confirm_login()
        self.assertIn('object 0badc0de-0000-4000-8000-000000000003', str(caught.exception))
        self.assertEqual(server.state, 'draft')

    def test_oauth_not_configured(self):
        account = self.make_account(authorized=False, connected=False)
        self.configure_maildesk(**{'maildesk.client_secret': False})
        with self.assertRaises(UserError) as caught:
            account.action_authorize()
        self.assertTrue(str(caught.exception).startswith('OAuth not configured\n'))
        self.assertIn('Client Secret', str(caught.exception))
        self.assertTrue(account._check_can_sync().startswith('OAuth not configured'))
        self.assertFalse(account.is_oauth_configured)

    def test_authorize_action_opens_controller(self):
        account = self.make_account(authorized=False, connected=False)
        action = account.action_authorize()
        self.assertEqual(action['type'], 'ir.actions.act_url')
        self.assertEqual(action['url'], '/maildesk/oauth/start?account_id=%d' % account.id)

    def test_wrong_mailbox_is_refused(self):
        account = self.make_account(authorized=False, connected=False)
        with self.assertRaises(UserError) as caught:
            self.authorize_account(account, mailbox=self.emulator.users[1])
        self.assertIn('but this account is for %s' % account.email, str(caught.exception))
        self.assertIn(self.emulator.users[1], str(caught.exception))
        self.assertNothingStored(account)
        self.assertFalse(account.signed_in_email)

    def test_expired_code(self):
        account = self.make_account(authorized=False, connected=False)
        self.emulator.config(code_lifetime=-1)
        with self.assertRaises(UserError) as caught:
            self.authorize_account(account)
        self.assertIn('The sign-in has expired', str(caught.exception))
        self.assertIn('AADSTS70008', str(caught.exception))
        self.assertNothingStored(account)

    def test_state_mismatch_at_redemption(self):
        account = self.make_account(authorized=False, connected=False)
        flow = account._start_authorization()
        params = self.consent_at_emulator(flow['auth_uri'])
        with self.assertRaises(UserError) as caught:
            account._finish_authorization(flow, dict(params, state='%s-forged' % params['state']))
        self.assertIn('does not match', str(caught.exception))
        self.assertNothingStored(account)

    def test_identity_platform_down_at_redemption(self):
        account = self.make_account(authorized=False, connected=False)
        flow = account._start_authorization()
        params = self.consent_at_emulator(flow['auth_uri'])
        self.emulator.faults({'status': 503, 'path_contains': '/oauth2/v2.0/token', 'count': 5})
        with self.assertRaises(UserError) as caught:
            account._finish_authorization(flow, params)
        self.assertIn('Microsoft could not complete the sign-in', str(caught.exception))
        self.assertNothingStored(account)

    def test_wrong_secret_at_authorization(self):
        account = self.make_account(authorized=False, connected=False)
        self.configure_maildesk(**{'maildesk.client_secret': 'the-secret-id-not-its-value'})
        with self.assertRaises(UserError) as caught:
            self.authorize_account(account)
        message = str(caught.exception)
        self.assertIn('Administrator action needed', message)
        self.assertIn('not the Secret ID', message)
        self.assertNotIn('the-secret-id-not-its-value', message)
        self.assertNothingStored(account)

    def test_wrong_secret_on_refresh_is_an_admin_error_not_counted(self):
        self.emulator.config(token_lifetime=60)  # MSAL refreshes tokens with less than 5 minutes left
        account = self.make_account(connected=False)
        self.configure_maildesk(**{'maildesk.client_secret': 'expired-secret'})
        failure = self.graph_attempt(account)
        self.assertIsInstance(failure, AuthInvalid)
        self.assertEqual(failure.kind, 'invalid_client')
        self.assertEqual(account.state, 'error')
        self.assertEqual(account.auth_failure_count, 0)
        self.assertIn('Administrator action needed', account.last_error)
        # the administrator fixes the secret: the next token clears the error
        self.configure_maildesk()
        self.assertEqual(account._graph_client().me()['mail'], account.email)
        self.assertEqual(account.state, 'authorized')
        self.assertFalse(account.last_error)

    def test_refresh_token_rotation_is_persisted(self):
        self.emulator.config(token_lifetime=60)
        account = self.make_account(connected=False)
        first = refresh_tokens(account)
        self.emulator.reset_counters()
        account._graph_client().me()
        self.assertEqual(self.token_requests(account.email), 1, 'one refresh_token grant')
        second = refresh_tokens(account)
        self.assertTrue(second)
        self.assertNotEqual(first, second, 'the rotated refresh token replaced the old one in the database')

    def test_cached_access_token_is_reused(self):
        account = self.make_account(connected=False)
        self.emulator.reset_counters()
        for _attempt in range(3):
            account._graph_client().me()
        self.assertEqual(self.token_requests(), 0)

    def test_graph_401_refreshes_once_and_retries(self):
        account = self.make_account(connected=False)
        self.emulator.reset_counters()
        self.emulator.faults({'status': 401, 'count': 1, 'path_contains': '/v1.0/me'})
        self.assertEqual(account._graph_client().me()['mail'], account.email)
        self.assertEqual(self.token_requests(), 1)
        self.assertEqual(self.emulator.counters()['by_status'].get('401'), 1)

    def test_revoked_grant_goes_auth_invalid_after_three_failures(self):
        account = self.make_account()
        account.action_fetch_folders()  # Inbox and Sent Items are chosen for sync
        self.assertEqual(account.state, 'connected')
        self.emulator.control('POST', '/revoke', {'user': account.email, 'access_tokens': True})
        self.emulator.reset_counters()
        for attempt in range(1, 4):
            failure = self.graph_attempt(account)
            self.assertIsInstance(failure, AuthInvalid)
            self.assertEqual(failure.kind, 'invalid_grant')
            self.assertEqual(account.auth_failure_count, attempt)
            self.assertEqual(account.state, 'auth_invalid' if attempt == 3 else 'connected')
        self.assertEqual(self.token_requests(), 3, 'one refresh attempt per run')
        self.assertIn('sign in again', account.last_error)
        self.assertIn('suspended', account._check_can_sync())

        # Every background path now skips the account without asking for a token.
        self.emulator.reset_counters()
        server = account.fetchmail_server_ids
        self.env['fetchmail.server']._fetch_mails()
        server.fetch_mail(raise_exception=False)
        self.env['maildesk.account']._cron_sync_changes()
        self.env['maildesk.account']._cron_backfill()
        self.assertIsInstance(self.graph_attempt(account), AuthInvalid)
        self.assertEqual(self.token_requests(), 0)
        self.assertEqual(self.emulator.counters()['total'], 0, 'no Graph request either')

        # Authorize again: back to Connected.
        self.authorize_account(account)
        self.assertEqual(account.state, 'connected')
        self.assertEqual(account.auth_failure_count, 0)
        self.assertFalse(account._check_can_sync())

    def test_lost_cache_is_auth_invalid_at_once(self):
        account = self.make_account(connected=False)
        account.sudo().token_cache = False
        self.assertIsInstance(self.graph_attempt(account), AuthInvalid)
        self.assertEqual(account.state, 'auth_invalid')

    def test_not_authorized_account_makes_no_request(self):
        account = self.make_account(authorized=False, connected=False)
        with self.assertRaises(AuthInvalid):
            account._graph_client().me()
        self.assertEqual(self.emulator.counters()['total'], 0)
        self.assertEqual(self.token_requests(), 0)
        self.assertIn('Not authorized', account._check_can_sync())

    def test_disconnect_removes_tokens(self):
        account = self.make_account()
        server = account.fetchmail_server_ids
        account.action_disconnect()
        self.assertEqual(account.state, 'not_authorized')
        self.assertFalse(account.sudo().token_cache)
        self.assertFalse(account.sudo().home_account_id)
        self.assertEqual(server.state, 'draft', 'the incoming server cannot work without tokens')
        self.emulator.reset_counters()
        with self.assertRaises(AuthInvalid):
            account._graph_client().me()
        self.assertEqual(self.token_requests(), 0)

    def test_delete_account_removes_tokens(self):
        account = self.make_account()
        server = account.fetchmail_server_ids
        account_id = account.id
        account.unlink()
        self.env.cr.execute('SELECT count(*) FROM maildesk_account WHERE id = %s', [account_id])
        self.assertEqual(self.env.cr.fetchone()[0], 0)
        self.assertEqual(server.state, 'draft')
        self.assertFalse(server.maildesk_account_id)

    def test_changing_the_address_forgets_the_tokens(self):
        account = self.make_account(connected=False)
        account.email = self.emulator.users[1]
        self.assertEqual(account.state, 'not_authorized')
        self.assertFalse(account.sudo().token_cache)

    def test_throttled_account_waits(self):
        account = self.make_account()
        self.assertFalse(account._check_can_sync())
        account._set_throttled(120)
        self.assertIn('slow down', account._check_can_sync())

    def test_account_form_as_user(self):
        user = self.make_maildesk_user(self.env, 'md_form_user')
        with Form(self.env['maildesk.account'].with_user(user)) as form:
            form.email = self.emulator.users[1]
            self.assertEqual(form.name, self.emulator.users[1])
            form.sender_name = 'Support'
        account = form.save()
        self.assertEqual((account.user_id, account.state), (user, 'not_authorized'))
        self.assertIn('Not authorized yet', account.with_user(user).sync_blocked_reason)

    def test_only_owner_or_manager_authorizes(self):
        owner = self.make_maildesk_user(self.env, 'md_auth_owner')
        colleague = self.make_maildesk_user(self.env, 'md_auth_colleague')
        account = self.make_account(authorized=False, connected=False, user=owner,
                                    is_shared=True, shared_user_ids=[(6, 0, colleague.ids)])
        shared = account.with_user(colleague)
        self.assertEqual(shared.name, account.name, 'a shared user sees the account')
        with self.assertRaises(AccessError):
            shared.action_authorize()
        with self.assertRaises(AccessError):
            shared._start_authorization()
        self.assertEqual(account.with_user(owner).action_authorize()['type'], 'ir.actions.act_url')


@tagged('post_install', '-at_install')
class TestAuthorizeController(MaildeskHttpCase):
    """Authorize Outlook driven over HTTP: Odoo controller -> emulator consent page -> callback."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.owner = cls.make_maildesk_user(cls.env, 'md_http_owner')
        cls.other = cls.make_maildesk_user(cls.env, 'md_http_other')

    def setUp(self):
        super().setUp()
        self.account = self.env['maildesk.account'].with_user(self.owner).create({
            'name': 'Sales', 'email': self.emulator.users[0], 'sender_name': 'Sales Team'})
        self.authenticate('md_http_owner', 'md_http_owner')

    def assertNothingStored(self):
        self.account.invalidate_recordset()
        self.assertEqual(self.account.state, 'not_authorized')
        self.assertFalse(self.account.sudo().token_cache)

    def start_and_consent(self, mailbox=None):
        """Start as the session user and accept at the emulator; return Microsoft's answer (not delivered)."""
        start = self.http_get('/maildesk/oauth/start?account_id=%d' % self.account.id)
        self.assertEqual(start.status_code, 303)
        return self.consent_at_emulator(start.headers['Location'], mailbox=mailbox or self.account.email)

    def test_authorize_over_http(self):
        response = self.authorize_over_http(self.account)
        self.assertEqual(response.status_code, 303, response.text[:300])
        self.assertTrue(response.headers['Location'].endswith('/odoo/maildesk-accounts/%d' % self.account.id))
        self.account.invalidate_recordset()
        self.assertEqual(self.account.state, 'authorized')
        self.assertEqual(self.account.signed_in_email, self.account.email)
        self.assertTrue(refresh_tokens(self.account))

    def test_start_redirects_to_the_authority_with_pkce(self):
        start = self.http_get('/maildesk/oauth/start?account_id=%d' % self.account.id)
        location = start.headers['Location']
        self.assertTrue(location.startswith(self.emulator.base_url + '/common/oauth2/v2.0/authorize?'))
        query = dict(parse_qsl(urlsplit(location).query))
        self.assertEqual(query['code_challenge_method'], 'S256')
        self.assertEqual(query['response_mode'], 'form_post')
        self.assertTrue(query['nonce'] and query['code_challenge'])
        self.assertEqual(query['redirect_uri'], self.base_url() + '/maildesk/oauth/callback')
        self.assertEqual(query['login_hint'], self.account.email)
        self.assertTrue(query['state'].startswith('%d.' % self.account.id))
        scopes = set(query['scope'].split())
        self.assertTrue({'offline_access', self.emulator.base_url + '/Mail.ReadWrite',
                         self.emulator.base_url + '/Mail.Send', self.emulator.base_url + '/User.Read'} <= scopes)

    def test_oauth_not_configured_page(self):
        self.configure_maildesk(**{'maildesk.client_id': False})
        response = self.http_get('/maildesk/oauth/start?account_id=%d' % self.account.id)
        self.assertEqual(response.status_code, 400)
        self.assertIn('OAuth not configured', response.text)
        self.assertIn('Ask an administrator', response.text)

    def test_cancel_at_consent(self):
        response = self.authorize_over_http(self.account, decision='cancel')
        self.assertEqual(response.status_code, 400)
        self.assertIn('cancelled or the permissions were declined', response.text)
        self.assertIn('/odoo/maildesk-accounts/%d' % self.account.id, response.text)
        self.assertNothingStored()

    def test_wrong_mailbox(self):
        response = self.authorize_over_http(self.account, mailbox=self.emulator.users[1])
        self.assertEqual(response.status_code, 400)
        self.assertIn('but this account is for %s' % self.account.email, response.text)
        self.assertNothingStored()

    def test_forged_state_then_replay(self):
        params = self.start_and_consent()
        forged = dict(params, state=params['state'][:-4] + ('beef' if not params['state'].endswith('beef') else 'cafe'))
        response = self.deliver_callback(forged)
        self.assertEqual(response.status_code, 403)
        self.assertIn('not valid for you', response.text)
        self.assertNothingStored()

        # the genuine answer still completes, once
        self.assertEqual(self.deliver_callback(params).status_code, 303)
        self.account.invalidate_recordset()
        self.assertEqual(self.account.state, 'authorized')
        stored = self.account.sudo().token_cache
        self.emulator.reset_counters()
        replay = self.deliver_callback(params)
        self.assertEqual(replay.status_code, 403)
        self.assertEqual(self.token_requests(), 0, 'a replayed callback makes no token request')
        self.account.invalidate_recordset()
        self.assertEqual(self.account.sudo().token_cache, stored)

    def test_callback_of_someone_else(self):
        params = self.start_and_consent()
        self.authenticate('md_http_other', 'md_http_other')
        response = self.deliver_callback(params)
        self.assertEqual(response.status_code, 403)
        self.assertNothingStored()
        # and the other user cannot start one for this account either
        start = self.http_get('/maildesk/oauth/start?account_id=%d' % self.account.id)
        self.assertEqual(start.status_code, 403)
        self.assertNotIn(self.account.email, start.text)

    def test_callback_without_state(self):
        response = self.deliver_callback({'code': 'abc'})
        self.assertEqual(response.status_code, 403)
        self.assertNothingStored()

    def test_callback_relay_keeps_the_code_out_of_urls(self):
        relay = self.opener.post(self.base_url() + '/maildesk/oauth/callback', allow_redirects=False, timeout=30,
                                 data={'code': 'c0de', 'state': '"><script>alert(1)</script>', 'redirect': 'https://evil.test'})
        self.assertEqual(relay.status_code, 200)
        self.assertEqual(relay.headers['Cache-Control'], 'no-store')
        self.assertNotIn('<script>alert', relay.text, 'parameters are escaped')
        self.assertNotIn('evil.test', relay.text, 'only the identity-platform parameters are relayed')
        action, fields = html_form(relay.text)
        self.assertEqual(action, '/maildesk/oauth/complete')
        self.assertEqual(fields, {'code': 'c0de', 'state': '"><script>alert(1)</script>'})
        self.assertEqual(self.http_get('/maildesk/oauth/complete').status_code, 405, 'POST only')


@tagged('post_install', '-at_install')
class TestAuthorizeInBrowser(MaildeskHttpCase):
    """Authorize Outlook in headless Chromium, with the browser's own cookie rules: Microsoft's form_post arrives
    cross-site (no session cookie) and MailDesk's relay page carries it on, same-site, to the completion."""

    def test_authorize_in_chromium(self):
        owner = self.make_maildesk_user(self.env, 'md_browser_owner')
        account = self.env['maildesk.account'].with_user(owner).create({
            'name': 'Sales', 'email': self.emulator.users[0]})
        self.emulator.consent('accept')  # the emulator answers at once, as Microsoft does for a consented user
        browser = ChromeBrowser(self)
        try:
            self.authenticate('md_browser_owner', 'md_browser_owner', browser=browser)
            browser._websocket_request('Security.setIgnoreCertificateErrors', params={'ignore': True})
            self.cr.flush()
            self.cr.clear()
            browser.navigate_to(self.base_url() + '/maildesk/oauth/start?account_id=%d' % account.id)
            # back on the account's form, rendered by the web client (let it finish loading before stopping)
            arrived = ("location.pathname === '/odoo/maildesk-accounts/%d' && "
                       "!!document.querySelector('.o_form_view .o_statusbar_status')" % account.id)
            self.assertTrue(browser._wait_ready(arrived, timeout=90), 'the browser came back to the account')
        finally:
            browser.stop()
            self._wait_remaining_requests()
        account.invalidate_recordset()
        self.assertEqual(account.state, 'authorized')
        self.assertTrue(account.sudo().token_cache)
