import json
import logging

from odoo.exceptions import AccessError
from odoo.tests import tagged
from odoo.tests.common import JsonRpcException

from .common import MaildeskHttpCase, stored_token_cache

TOKEN_FIELDS = ('token_cache', 'home_account_id')


class LogCollector(logging.Handler):
    """Every log record emitted in the process (test and HTTP server threads), formatted."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        try:
            self.lines.append(record.getMessage())
        except Exception:  # noqa: BLE001 - a badly formatted record is not what we test
            self.lines.append(str(record.msg))


@tagged('post_install', '-at_install')
class TestAccountSecurity(MaildeskHttpCase):
    """Tokens and the client secret never reach a non-system user, whatever the read path, nor the logs."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user = cls.make_maildesk_user(cls.env, 'md_sec_user', groups='base.group_allow_export')
        cls.colleague = cls.make_maildesk_user(cls.env, 'md_sec_colleague')
        cls.manager = cls.make_maildesk_user(cls.env, 'md_sec_manager', manager=True)

    def setUp(self):
        super().setUp()
        self.logs = LogCollector()
        logging.getLogger().addHandler(self.logs)
        self.addCleanup(logging.getLogger().removeHandler, self.logs)
        self.account = self.make_account(user=self.user, connected=False, sender_name='Sales')
        cache = stored_token_cache(self.account)
        self.secrets = [self.emulator.client_secret] + [
            entry['secret'] for kind in ('AccessToken', 'RefreshToken', 'IdToken')
            for entry in cache.get(kind, {}).values()]
        self.assertGreaterEqual(len(self.secrets), 3)
        self.authenticate('md_sec_user', 'md_sec_user')

    def call(self, model, method, *args, **kwargs):
        return self.make_jsonrpc_request('/web/dataset/call_kw/%s/%s' % (model, method), {
            'model': model, 'method': method, 'args': list(args), 'kwargs': kwargs})

    def assertNoSecret(self, payload):
        text = json.dumps(payload, default=str)
        for secret in self.secrets:
            self.assertNotIn(secret, text)
        for field in TOKEN_FIELDS:
            self.assertNotIn('"%s"' % field, text)

    def assertDenied(self, model, method, *args, **kwargs):
        with self.assertRaises(JsonRpcException) as caught:
            self.call(model, method, *args, **kwargs)
        self.assertIn(caught.exception.args[0], ('odoo.exceptions.AccessError', 'odoo.exceptions.UserError'))

    def test_reads_never_return_tokens(self):
        ids = [self.account.id]
        self.assertNoSecret(self.call('maildesk.account', 'read', ids))
        self.assertNoSecret(self.call('maildesk.account', 'search_read', [('id', 'in', ids)]))
        self.assertNoSecret(self.call('maildesk.account', 'web_search_read', [('id', 'in', ids)],
                                      specification={'name': {}, 'state': {}, 'email': {}}))
        self.assertNoSecret(self.call('maildesk.account', 'web_read', ids,
                                      specification={'name': {}, 'state': {}, 'last_error': {}}))
        self.assertNoSecret(self.call('maildesk.account', 'name_search', self.account.email))
        self.assertNoSecret(self.call('maildesk.account', 'web_read_group', [], ['state'], ['state']))
        self.assertNoSecret(self.call('maildesk.account', 'export_data', ids, ['name', 'email', 'state']))
        self.assertNoSecret(self.call('maildesk.account', 'fields_get'))
        self.assertNoSecret(self.call('maildesk.account', 'onchange', [], {}, [],
                                      {'name': {}, 'email': {}, 'state': {}}))

    def test_asking_for_tokens_is_refused(self):
        ids = [self.account.id]
        for field in TOKEN_FIELDS:
            self.assertDenied('maildesk.account', 'read', ids, [field])
            self.assertDenied('maildesk.account', 'search_read', [], [field])
            self.assertDenied('maildesk.account', 'web_read', ids, specification={field: {}})
            self.assertDenied('maildesk.account', 'web_search_read', [], specification={field: {}})
            self.assertDenied('maildesk.account', 'export_data', ids, [field])
            self.assertDenied('maildesk.account', 'read_group', [], [field], [field])
            self.assertDenied('maildesk.account', 'onchange', [], {}, [], {field: {}})
            # a search on the field would leak it one character at a time
            self.assertDenied('maildesk.account', 'search_count', [(field, '=like', 'a%')])
        self.assertTrue(self.logs.lines)

    def test_status_is_not_writable_over_rpc(self):
        self.account._write_status({'state': 'auth_invalid'})
        self.assertDenied('maildesk.account', 'write', [self.account.id], {'state': 'connected'})
        self.assertDenied('maildesk.account', 'write', [self.account.id], {'auth_failure_count': 0})
        self.assertDenied('maildesk.account', 'write', [self.account.id], {'signed_in_email': 'x@contoso.test'})
        self.assertDenied('maildesk.account', 'create', {'name': 'x', 'email': 'x@contoso.test',
                                                         'state': 'connected'})
        self.assertDenied('maildesk.account', 'write', [self.account.id], {'token_cache': '{}'})
        # ordinary fields stay editable
        self.call('maildesk.account', 'write', [self.account.id], {'sender_name': 'Sales Team'})
        self.account.invalidate_recordset()
        self.assertEqual(self.account.sender_name, 'Sales Team')
        self.assertEqual(self.account.state, 'auth_invalid')

    def test_client_secret_is_never_sent_back(self):
        self.assertDenied('ir.config_parameter', 'search_read', [('key', 'like', 'maildesk.')])
        as_user = self.call('res.config.settings', 'onchange', [], {}, [], {'maildesk_client_secret': {}})
        self.assertFalse(as_user['value'].get('maildesk_client_secret'))
        self.assertNoSecret(as_user)
        # not even to an administrator, once saved
        self.authenticate('admin', 'admin')
        values = self.call('res.config.settings', 'onchange', [], {}, [], {
            'maildesk_client_id': {}, 'maildesk_client_secret': {}, 'maildesk_client_secret_set': {}})['value']
        self.assertEqual(values['maildesk_client_id'], self.emulator.client_id)
        self.assertFalse(values['maildesk_client_secret'])
        self.assertTrue(values['maildesk_client_secret_set'], values)
        record = self.call('res.config.settings', 'web_save', [], {'maildesk_tenant': 'common'},
                           specification={'maildesk_client_secret': {}})
        self.assertFalse(record[0]['maildesk_client_secret'])
        self.assertNoSecret(values)

    def test_record_rules(self):
        other = self.make_account(email=self.emulator.users[1], user=self.colleague, authorized=False,
                                  connected=False)
        found = self.call('maildesk.account', 'search_read', [], ['email'])
        self.assertEqual([row['id'] for row in found], [self.account.id], 'own accounts only')
        self.assertDenied('maildesk.account', 'read', [other.id], ['email'])
        other.write({'is_shared': True, 'shared_user_ids': [(6, 0, self.user.ids)]})
        found = self.call('maildesk.account', 'search_read', [], ['email'])
        self.assertEqual({row['id'] for row in found}, {self.account.id, other.id}, 'plus the shared ones')
        self.authenticate('md_sec_manager', 'md_sec_manager')
        found = self.call('maildesk.account', 'search_read', [], ['email', 'state'])
        self.assertTrue({self.account.id, other.id} <= {row['id'] for row in found}, 'managers see all')
        self.assertNoSecret(found)

    def test_no_secret_in_logs(self):
        # a full cycle: authorize over HTTP, refresh, a refused refresh, a send — then search the logs
        self.account.action_disconnect()
        self.emulator.config(token_lifetime=60)
        self.addCleanup(self.emulator.config, token_lifetime=3599)
        self.assertEqual(self.authorize_over_http(self.account).status_code, 303)
        self.account.invalidate_recordset()
        self.assertEqual(self.account.state, 'authorized')
        cache = stored_token_cache(self.account)
        self.secrets += [entry['secret'] for kind in ('AccessToken', 'RefreshToken')
                         for entry in cache.get(kind, {}).values()]
        self.account._graph_client().me()
        self.emulator.control('POST', '/revoke', {'user': self.account.email})
        self.graph_attempt(self.account)
        self.assertEqual(self.account.auth_failure_count, 1)
        text = '\n'.join(self.logs.lines)
        self.assertIn('authorization failure', text)
        for secret in self.secrets:
            self.assertNotIn(secret, text)

    def test_token_fields_are_system_only(self):
        Account = self.env['maildesk.account']
        for field in TOKEN_FIELDS:
            self.assertEqual(Account._fields[field].groups, 'base.group_system')
        with self.assertRaises(AccessError):
            self.account.with_user(self.manager).read(['token_cache'])
