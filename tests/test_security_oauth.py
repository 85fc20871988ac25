"""Attacks on Authorize Outlook over real HTTP: forged states, replayed codes, codes issued for another redirect URI,
open-redirect attempts through the routes, and one user's callback delivered in another user's browser.

Each refused attempt must store nothing (no token, no status change) and must not even reach Microsoft's token
endpoint, unless the refusal *is* Microsoft's (a replayed or misdirected code).
"""
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from odoo.tests import tagged

from .common import MaildeskHttpCase, stored_token_cache
from .reliability_common import LogCapture
from .security_secrets import record_secrets

EVIL = 'https://evil.example'


@tagged('post_install', '-at_install')
class TestSecurityOAuth(MaildeskHttpCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.alice = cls.make_maildesk_user(cls.env, 'md_oauth_alice')
        cls.bob = cls.make_maildesk_user(cls.env, 'md_oauth_bob')
        cls.account_a = cls.env['maildesk.account'].with_user(cls.alice).create({
            'name': 'Alice mailbox', 'email': cls.emulator.users[0]})
        cls.account_b = cls.env['maildesk.account'].with_user(cls.bob).create({
            'name': 'Bob mailbox', 'email': cls.emulator.users[1]})

    def setUp(self):
        super().setUp()
        self.logs = LogCapture()
        self.logs.__enter__()
        self.addCleanup(self.logs.__exit__)
        self.secrets = [self.emulator.client_secret]

    def tearDown(self):
        text = self.logs.text()
        for account in (self.account_a, self.account_b):
            cache = stored_token_cache(account)
            self.secrets += [entry['secret'] for kind in ('AccessToken', 'RefreshToken', 'IdToken')
                             for entry in cache.get(kind, {}).values()]
        record_secrets(self.secrets)
        for secret in self.secrets:
            self.assertNotIn(secret, text, 'a code, token or the client secret reached the server log')
        super().tearDown()

    # ------------------------------------------------------------------ helpers

    def browser(self, user):
        """A fresh logged-in browser session for ``user`` (the previous ones stay alive): its opener."""
        self.session = None  # authenticate() would delete the current session otherwise
        self.authenticate(user.login, user.login)
        return self.opener

    def use(self, opener):
        self.opener = opener

    def start(self, account):
        response = self.http_get('/maildesk/oauth/start?account_id=%d' % account.id)
        self.assertEqual(response.status_code, 303, response.text[:300])
        return response.headers['Location']

    def consent(self, auth_uri, account):
        params = self.consent_at_emulator(auth_uri, mailbox=account.email)
        self.assertIn('code', params, params)
        self.secrets.append(params['code'])
        return params

    def assertNotAuthorized(self, *accounts):
        for account in accounts:
            account.invalidate_recordset()
            self.assertEqual((account.state, account.sudo().token_cache, account.sudo().home_account_id),
                             ('not_authorized', False, False), account.name)

    def assertRefused(self, response, status=403):
        self.assertEqual(response.status_code, status, response.text[:500])
        self.assertNotIn('Location', response.headers)

    def assertNoForeignLocation(self, response):
        location = response.headers.get('Location', '')
        host = urlsplit(location).netloc
        self.assertIn(host, ('', urlsplit(self.base_url()).netloc, urlsplit(self.emulator.base_url).netloc),
                      'redirected to %s' % location)
        self.assertNotIn('evil.example', location)

    # ------------------------------------------------------------------ forged states

    def test_bad_states_store_nothing(self):
        self.use(self.browser(self.alice))
        genuine = self.consent(self.start(self.account_a), self.account_a)
        account_id, nonce, signature = genuine['state'].split('.')
        self.emulator.reset_counters()
        forged = [
            '', 'abc', '1.2', account_id, '%s..' % account_id, '%s.x.y' % account_id, '%s.%s.' % (account_id, nonce),
            '%d.%s.%s' % (self.account_b.id, nonce, signature),        # the signature of another account
            '%s.%sX.%s' % (account_id, nonce, signature),               # another nonce
            '%s.%s.%s' % (account_id, nonce, signature[::-1]),          # a garbled signature
            '%s.%s.%s' % (account_id, nonce, signature.upper()),
            genuine['state'] + ' ', ' ' + genuine['state'], genuine['state'] + '.1',
            '-1.%s.%s' % (nonce, signature), '99999999.%s.%s' % (nonce, signature), '0x1.a.b',
            '../../../etc/passwd', '"><script>alert(1)</script>', 'A' * 5000, '١.٢.٣', '².x.y',
            '%s.%s.%s' % (account_id, nonce, 'é' * len(signature)), '%00', 'null', '{}',
        ]
        for state in forged:
            self.assertRefused(self.deliver_callback(dict(genuine, state=state)))
        self.assertEqual(self.token_requests(), 0, 'no forged callback reached the token endpoint')
        self.assertNotAuthorized(self.account_a, self.account_b)
        # the genuine answer still completes, once
        done = self.deliver_callback(genuine)
        self.assertEqual(done.status_code, 303)
        self.assertNoForeignLocation(done)
        self.account_a.invalidate_recordset()
        self.assertEqual(self.account_a.state, 'authorized')

    # ------------------------------------------------------------------ codes

    def test_replayed_code_stores_nothing(self):
        self.use(self.browser(self.alice))
        first = self.consent(self.start(self.account_a), self.account_a)
        self.assertEqual(self.deliver_callback(first).status_code, 303)
        self.account_a.invalidate_recordset()
        stored = self.account_a.sudo().token_cache
        self.assertTrue(stored)
        self.emulator.reset_counters()
        self.assertRefused(self.deliver_callback(first))  # the flow was used: the same answer is refused at once
        self.assertEqual(self.token_requests(), 0)
        # the old code inside a NEW sign-in (a fresh, valid state): Microsoft refuses it, nothing changes
        second_auth_uri = self.start(self.account_a)
        state = dict(parse_qsl(urlsplit(second_auth_uri).query))['state']
        refused = self.deliver_callback(dict(first, state=state))
        self.assertEqual(refused.status_code, 400, refused.text[:300])
        self.account_a.invalidate_recordset()
        self.assertEqual((self.account_a.state, self.account_a.sudo().token_cache), ('authorized', stored))

    def own_callback(self):
        """MailDesk's Redirect URI, on this Odoo (pinned by the first sign-in or Settings, engine/sign_in.py)."""
        uri = self.env['maildesk.account']._oauth_redirect_uri()
        self.assertRegex(uri, r'^http://(127\.0\.0\.1|localhost):%d/maildesk/oauth/callback$' % self.http_port())
        return uri

    def test_code_issued_for_another_redirect_uri(self):
        self.use(self.browser(self.alice))
        auth_uri = self.start(self.account_a)
        parts = urlsplit(auth_uri)
        query = dict(parse_qsl(parts.query))
        self.assertEqual(query['redirect_uri'], self.own_callback())
        query['redirect_uri'] = EVIL + '/maildesk/oauth/callback'  # an attacker's app registration / host
        # Microsoft refuses an unregistered redirect URI at the authorize step (AADSTS50011): register it on the
        # app, so the emulator issues a code for it and what is tested is MailDesk refusing that code
        registered = self.emulator.control('GET', '/config')['redirect_uris']
        self.emulator.config(redirect_uris=registered + [query['redirect_uri']])
        params = self.consent(urlunsplit(parts._replace(query=urlencode(query))), self.account_a)
        response = self.deliver_callback(params)  # right state, but the code belongs to another redirect URI
        self.assertEqual(response.status_code, 400, response.text[:300])
        self.assertNotIn(EVIL, response.text)
        self.assertNotAuthorized(self.account_a)

    # ------------------------------------------------------------------ redirects

    def test_no_open_redirect_through_the_routes(self):
        self.use(self.browser(self.alice))
        start = self.http_get('/maildesk/oauth/start?' + urlencode({
            'account_id': self.account_a.id, 'redirect_uri': EVIL + '/cb', 'next': EVIL, 'redirect': EVIL,
            'return_url': '//evil.example'}))
        self.assertEqual(start.status_code, 303)
        self.assertNoForeignLocation(start)
        query = dict(parse_qsl(urlsplit(start.headers['Location']).query))
        self.assertEqual(query['redirect_uri'], self.own_callback())
        for account_id in (EVIL, '//evil.example', '/\\evil.example', '%d@evil.example' % self.account_a.id, '',
                           '²', '١', '%d ' % self.account_a.id):
            response = self.http_get('/maildesk/oauth/start?' + urlencode({'account_id': account_id}))
            self.assertRefused(response)
            self.assertNotIn('evil.example', response.text)
        for method in ('get', 'post'):
            data = {'code': 'c0de', 'state': 'x', 'redirect_uri': EVIL, 'next': EVIL, 'redirect': EVIL}
            payload = {'params': data} if method == 'get' else {'data': data}
            relay = getattr(self.opener, method)(self.base_url() + '/maildesk/oauth/callback', allow_redirects=False,
                                                 timeout=30, **payload)
            self.assertEqual(relay.status_code, 200)
            self.assertNotIn('Location', relay.headers)
            self.assertNotIn('evil.example', relay.text)
        # Microsoft's error with an error_uri and a hostile description: shown escaped, never followed or linked
        auth_uri = self.start(self.account_a)
        state = dict(parse_qsl(urlsplit(auth_uri).query))['state']
        denied = self.deliver_callback({'state': state, 'error': 'access_denied', 'error_uri': EVIL + '/help',
                                        'error_description': 'AADSTS65004 <script>alert(1)</script> ' + EVIL})
        self.assertEqual(denied.status_code, 400)
        self.assertNotIn('<script>alert(1)', denied.text)
        self.assertNotIn('href="%s' % EVIL, denied.text)
        # a successful sign-in with redirect parameters added on the way back: MailDesk's own page, always
        params = self.consent(self.start(self.account_a), self.account_a)
        done = self.deliver_callback(dict(params, redirect=EVIL, next=EVIL, return_url='//evil.example',
                                          redirect_uri=EVIL))
        self.assertEqual(done.status_code, 303)
        self.assertNoForeignLocation(done)
        self.assertTrue(done.headers['Location'].endswith('/odoo/maildesk-accounts/%d' % self.account_a.id))

    # ------------------------------------------------------------------ another identity behind the address

    def test_another_identity_behind_the_address_stores_nothing(self):
        self.use(self.browser(self.alice))
        self.assertEqual(self.deliver_callback(self.consent(self.start(self.account_a), self.account_a)).status_code,
                         303)
        self.account_a.invalidate_recordset()
        stored_fields = ['token_cache', 'home_account_id', 'entra_object_id', 'entra_tenant_id']
        pinned = self.account_a.sudo().read(stored_fields)[0]
        self.assertTrue(pinned['entra_object_id'] and pinned['entra_tenant_id'])
        # the address is given to another Entra user (same mail, same preferred_username): Microsoft's answer is
        # genuine, the state valid, the address right, and still nothing is stored
        self.emulator.set_identity(self.account_a.email, oid='0badc0de-0000-4000-8000-00000000000b')
        refused = self.deliver_callback(self.consent(self.start(self.account_a), self.account_a))
        self.assertEqual(refused.status_code, 400, refused.text[:300])
        self.assertIn('not the Microsoft account this mailbox was first authorized with', refused.text)
        self.account_a.invalidate_recordset()
        self.assertEqual(self.account_a.sudo().read(stored_fields)[0], pinned)

    # ------------------------------------------------------------------ another user's callback

    def test_callback_in_another_users_browser(self):
        alice = self.browser(self.alice)
        bob = self.browser(self.bob)
        self.use(alice)
        params_a = self.consent(self.start(self.account_a), self.account_a)
        self.use(bob)
        params_b = self.consent(self.start(self.account_b), self.account_b)
        self.emulator.reset_counters()
        # Alice's answer in Bob's browser (stolen, or Bob lures Alice's code), and Bob's in Alice's (login CSRF)
        self.assertRefused(self.deliver_callback(params_a))
        self.use(alice)
        self.assertRefused(self.deliver_callback(params_b))
        self.assertEqual(self.token_requests(), 0)
        self.assertNotAuthorized(self.account_a, self.account_b)
        # each one's own answer in their own browser still works, and binds only their own mailbox
        self.assertEqual(self.deliver_callback(params_a).status_code, 303)
        self.use(bob)
        self.assertEqual(self.deliver_callback(params_b).status_code, 303)
        for account in (self.account_a, self.account_b):
            account.invalidate_recordset()
            self.assertEqual(account.state, 'authorized')
        self.assertEqual(self.account_a._graph_client().me()['mail'], self.account_a.email)
        self.assertEqual(self.account_b._graph_client().me()['mail'], self.account_b.email)
