"""Test helpers for MailDesk: the Microsoft emulator, MailDesk settings and authorized accounts in one call.

Everything runs for real: the emulator is a subprocess speaking HTTPS on 127.0.0.1 (Odoo's test framework lets
loopback requests through), and MSAL, the Graph client, URL building and error mapping all run unmocked.
"""
import contextlib
import json
from urllib.parse import parse_qsl, urlsplit

import requests

from odoo import SUPERUSER_ID, api
from odoo.tests import HttpCase, TransactionCase, new_test_user

from odoo.addons.maildesk.emulator.testing import start_emulator
from odoo.addons.maildesk.engine import connection
from odoo.addons.maildesk.graph.errors import GraphError

MAILDESK_SETTINGS = ('maildesk.client_id', 'maildesk.client_secret', 'maildesk.tenant', 'maildesk.cloud',
                     'maildesk.authority_url', 'maildesk.graph_url', 'maildesk.ca_bundle',
                     'maildesk.permission_level')


def stored_token_cache(account):
    """The account's MSAL token cache as a dict, decrypted (it is stored encrypted), ``{}`` when there is none."""
    return json.loads(connection.read_token_cache(account) or '{}')


def emulator_settings(emulator, **overrides):
    """MailDesk's system parameters pointing at ``emulator`` (``overrides``: ``{'maildesk.x': value}``)."""
    values = {
        'maildesk.client_id': emulator.client_id,
        'maildesk.client_secret': emulator.client_secret,
        'maildesk.tenant': 'common',
        'maildesk.cloud': 'custom',
        'maildesk.authority_url': emulator.base_url,
        'maildesk.graph_url': emulator.graph_url,
        'maildesk.ca_bundle': emulator.ca_bundle,
        'maildesk.permission_level': 'write',
        # not pinned (engine/sign_in.py): a class's first sign-in pins its own server's URL, and the committed
        # helpers put it back afterwards, so no pin outlives the class that made it
        'maildesk.redirect_base_url': False,
    }
    values.update(overrides)
    return values


@contextlib.contextmanager
def committed_env(registry):
    """A superuser environment on a fresh cursor of ``registry``, committed at the end (what workers see).

    The test server holds the registry lock while tests run, so the transaction is given directly: asking
    ``Registry(dbname)`` for it from another thread would wait forever.
    """
    with registry.cursor() as cr:
        cr.transaction = cr.transaction or api.Transaction(registry)
        yield api.Environment(cr, SUPERUSER_ID, {})


class MaildeskMixin:
    """Shared by :class:`MaildeskCase` and :class:`MaildeskHttpCase`; see their docstrings.

    Class attributes to override: ``emulator_options`` (kwargs of ``emulator.testing.start_emulator``).
    """

    emulator_options = {'users': 3, 'messages': 10}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.emulator = start_emulator(**cls.emulator_options)
        cls.addClassCleanup(cls.emulator.stop)
        cls.configure_maildesk()

    @classmethod
    def configure_maildesk(cls, **overrides):
        """Write MailDesk's system parameters for the emulator (``overrides``: ``{'maildesk.x': value}``)."""
        values = emulator_settings(cls.emulator, **overrides)
        ICP = cls.env['ir.config_parameter'].sudo()
        for key, value in values.items():
            ICP.set_param(key, value)

    @classmethod
    def configure_maildesk_committed(cls, **overrides):
        """:meth:`configure_maildesk`, committed (for tests whose workers use their own cursors), and put back
        as it was by a class cleanup."""
        values = emulator_settings(cls.emulator, **overrides)
        with committed_env(cls.registry) as env:
            ICP = env['ir.config_parameter']
            previous = {key: ICP.get_param(key) for key in values}
            for key, value in values.items():
                ICP.set_param(key, value)

        def restore():
            with committed_env(cls.registry) as env:
                for key, value in previous.items():
                    env['ir.config_parameter'].set_param(key, value or False)
        cls.addClassCleanup(restore)

    def setUp(self):
        super().setUp()
        # Each test starts with a neutral emulator: no leftover injections, faults or auto-consent.
        self.emulator.neutral()
        self.emulator.reset_counters()

    # ------------------------------------------------------------------ accounts

    def make_account(self, email=None, authorized=True, connected=True, user=None, **values):
        """Create a ``maildesk.account`` and, by default, authorize it and confirm an incoming server.

        :param email: mailbox address; default: the emulator's first user
        :param authorized: run the real auth-code flow (MSAL + emulator auto-consent) and store the tokens
        :param connected: also create an incoming server of type ``maildesk_graph`` and Test & Confirm it
            (the account is Connected once folders are chosen for sync)
        :param user: owner (``res.users``); default: the test's user
        :param values: more field values for the account
        :return: the account, in ``self.env`` (or the owner's env when ``user`` is given)
        """
        email = email or self.emulator.users[0]
        env = self.env(user=user) if user else self.env
        account = env['maildesk.account'].create(dict({'name': email, 'email': email}, **values))
        if authorized or connected:
            self.authorize_account(account)
        if connected:
            self.make_incoming_server(account)
        return account

    def authorize_account(self, account, mailbox=None):
        """Authorize ``account`` through the real MSAL auth-code flow, consenting at the emulator as ``mailbox``
        (default: the account's address). Raises the ``UserError`` the callback would show."""
        flow = account._start_authorization()
        params = self.consent_at_emulator(flow['auth_uri'], mailbox=mailbox or account.email)
        account._finish_authorization(flow, params)
        return account

    def consent_at_emulator(self, auth_uri, mailbox=None, decision='accept'):
        """Open MSAL's ``auth_uri`` at the emulator with auto-consent; return the parameters Microsoft sends
        back to the redirect URI (``code``, ``state``... or ``error``)."""
        self.emulator.consent(decision, user=mailbox)
        try:
            response = requests.get(auth_uri, allow_redirects=False, verify=self.emulator.ca_bundle, timeout=30)
        finally:
            self.emulator.consent(None)
        return self.callback_params(response)

    def callback_params(self, response):
        """The redirect URI's parameters in an identity-platform answer: a form_post page or a redirect."""
        if response.status_code in (301, 302, 303):
            return dict(parse_qsl(urlsplit(response.headers['Location']).query))
        self.assertEqual(response.status_code, 200, response.text[:500])
        return html_form(response.text)[1]

    def make_incoming_server(self, account, confirm=True):
        """An incoming server of type ``maildesk_graph`` for ``account``, Test & Confirmed by default."""
        server = self.env['fetchmail.server'].sudo().create({
            'name': 'Outlook %s' % account.email,
            'server_type': 'maildesk_graph',
            'maildesk_account_id': account.id,
        })
        if confirm:
            server.button_confirm_login()
        return server

    def make_outgoing_server(self, account, test=True):
        """An outgoing server of type ``maildesk_graph`` for ``account``, tested by default."""
        server = self.env['ir.mail_server'].sudo().create({
            'name': 'Outlook %s' % account.email,
            'smtp_authentication': 'maildesk_graph',
            'maildesk_account_id': account.id,
            'from_filter': account.email,
        })
        if test:
            server.test_smtp_connection()
        return server

    @staticmethod
    def make_maildesk_user(env, login, manager=False, groups='', **values):
        """A user in the MailDesk User (or Manager) group, with an email address; the password is the login.

        :param groups: more group xml ids, comma-separated (e.g. ``'base.group_allow_export'``)
        """
        all_groups = ','.join(filter(None, [
            'base.group_user', 'maildesk.group_maildesk_%s' % ('manager' if manager else 'user'), groups]))
        return new_test_user(env, login=login, groups=all_groups, email='%s@example.com' % login, **values)

    def sync_account(self, account):
        """One sync round of ``account`` as the cron runs it (its units use cursors of their own: the test cursor,
        in test mode); the environment is read again afterwards."""
        self.env.flush_all()
        self.registry.enter_test_mode(self.cr)
        try:
            account._sync_round()
        finally:
            self.registry.leave_test_mode()
        self.env.invalidate_all()

    def graph_attempt(self, account):
        """One background-like use of the account (``GET /me``): the GraphError it raised, or None.

        Caught here rather than with ``assertRaises``, whose savepoint would roll back what the token provider
        recorded (failure count, state), as a cron catching the error keeps it.
        """
        try:
            account._graph_client().me()
        except GraphError as exc:
            return exc
        return None

    def token_requests(self, user=None):
        """Token endpoint requests the emulator received since the test started (for ``user`` if given)."""
        counters = self.emulator.counters()['token']
        return counters['by_user'].get(user, 0) if user else counters['total']


class MaildeskCase(MaildeskMixin, TransactionCase):
    """TransactionCase with a running emulator (one per class), MailDesk configured for it, and helpers.

    Example::

        from odoo.tests import tagged
        from odoo.addons.maildesk.tests.common import MaildeskCase

        @tagged('post_install', '-at_install')
        class TestMine(MaildeskCase):
            def test_inbox(self):
                account = self.make_account()          # authorized (real MSAL flow) + incoming server confirmed
                client = account._graph_client()       # real HTTPS to the emulator
                self.assertEqual(client.me()['mail'], account.email)
                self.emulator.deliver(account.email, count=2, subject='Hello')
                # emulator ground truth, counters and fault injection:
                self.emulator.state(account.email); self.emulator.counters()
                self.emulator.faults({'status': 429, 'retry_after': '1', 'count': 1})

    ``self.emulator`` is an ``emulator.testing.EmulatorHandle`` (see emulator/README.md):
    ``users``, ``control()``, ``deliver()``, ``state()``, ``counters()``, ``faults()``, ``consent()``...
    """


class MaildeskHttpCase(MaildeskMixin, HttpCase):
    """HttpCase flavour (controllers, JSON-RPC, tours) with the same emulator and helpers.

    ``self.authorize_over_http(account, login)`` drives Authorize Outlook through the Odoo controller and the
    emulator's HTML consent page, like a browser would.
    """

    def http_get(self, url, **kwargs):
        """GET without following redirects; the emulator's CA is trusted for its URLs."""
        if url.startswith('/'):
            url = self.base_url() + url
        if url.startswith(self.emulator.base_url):
            kwargs.setdefault('verify', self.emulator.ca_bundle)
        return self.opener.get(url, allow_redirects=False, timeout=30, **kwargs)

    def authorize_over_http(self, account, mailbox=None, decision='accept'):
        """Click Authorize Outlook as the logged-in session user: controller -> emulator consent page ->
        submit the form (``#accept`` / ``#cancel``) -> Microsoft's form_post -> callback relay -> completion.
        Returns the final response (303 to the account, or the error page)."""
        start = self.http_get('/maildesk/oauth/start?account_id=%d' % account.id)
        self.assertEqual(start.status_code, 303, start.text[:500])
        page = self.http_get(start.headers['Location'])
        self.assertEqual(page.status_code, 200)
        action, form = html_form(page.text, 'consent-form')
        form.update(user=mailbox or account.email, decision=decision)
        decided = self.opener.post(action, data=form, allow_redirects=False, timeout=30,
                                   verify=self.emulator.ca_bundle)
        return self.deliver_callback(self.callback_params(decided))

    def deliver_callback(self, params):
        """Post ``params`` to the redirect URI as Microsoft's form_post does, then follow MailDesk's same-site
        relay page to ``/maildesk/oauth/complete``, like a browser. Returns the completion response."""
        relay = self.opener.post(self.base_url() + '/maildesk/oauth/callback', data=params, allow_redirects=False,
                                 timeout=30)
        self.assertEqual(relay.status_code, 200, relay.text[:500])
        action, fields = html_form(relay.text)
        return self.opener.post(self.base_url() + action, data=fields, allow_redirects=False, timeout=30)


def html_form(html_text, form_id=None):
    """``(action, {name: value})`` of the hidden inputs and selects of a page's form (the first, or ``form_id``)."""
    from lxml import html

    tree = html.fromstring(html_text)
    form = tree.get_element_by_id(form_id) if form_id else tree.forms[0]
    values = {field.name: field.value for field in form.inputs
              if field.name and (getattr(field, 'type', None) == 'hidden' or field.tag == 'select')}
    return form.action, values
