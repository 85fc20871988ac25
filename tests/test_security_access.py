"""Access control over real HTTP (JSON-RPC and routes, as a logged-in browser session does it).

(The token/secret read paths of ``maildesk.account`` itself are in test_account_security; this module covers the
other models and paths, other users' mailboxes, sharing, portal users and attachments.)
"""
import json

from odoo import fields
from odoo.tests import new_test_user, tagged
from odoo.tests.common import JsonRpcException

from .common import MaildeskHttpCase, stored_token_cache
from .reliability_common import LogCapture
from .security_secrets import record_secrets

DENIED = ('odoo.exceptions.AccessError', 'odoo.exceptions.MissingError')
MAILDESK_MODELS = ('maildesk.account', 'maildesk.folder', 'maildesk.message', 'maildesk.tag', 'maildesk.draft')


@tagged('post_install', '-at_install')
class TestSecurityAccess(MaildeskHttpCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.owner = cls.make_maildesk_user(cls.env, 'md_acl_owner', groups='base.group_allow_export')
        cls.other = cls.make_maildesk_user(cls.env, 'md_acl_other', groups='base.group_allow_export')
        cls.portal = new_test_user(cls.env, login='md_acl_portal', groups='base.group_portal')
        cls.account = cls.env['maildesk.account'].with_user(cls.owner).create({
            'name': 'Owner mailbox', 'email': cls.emulator.users[0]})
        cls.other_account = cls.env['maildesk.account'].with_user(cls.other).create({
            'name': 'Other mailbox', 'email': cls.emulator.users[1]})
        Folder, Message = cls.env['maildesk.folder'].sudo(), cls.env['maildesk.message'].sudo()
        cls.folder = Folder.create({'account_id': cls.account.id, 'graph_id': 'owner-inbox', 'name': 'Inbox',
                                    'role': 'inbox', 'sync_enabled': True, 'sync_state': 'done'})
        cls.other_folder = Folder.create({'account_id': cls.other_account.id, 'graph_id': 'other-inbox',
                                          'name': 'Inbox', 'role': 'inbox', 'sync_enabled': True,
                                          'sync_state': 'done'})
        now = fields.Datetime.now()
        cls.message = Message.create({
            'account_id': cls.account.id, 'folder_id': cls.folder.id, 'graph_id': 'owner-msg-1',
            'subject': 'Owner secret plans', 'from_address': 'ceo@contoso.test', 'received_at': now,
            'body_html': '<p>confidential body</p>', 'body_fetched_at': now, 'body_preview': 'confidential'})
        cls.own_message = Message.create({
            'account_id': cls.other_account.id, 'folder_id': cls.other_folder.id, 'graph_id': 'other-msg-1',
            'subject': 'My own mail', 'received_at': now, 'body_fetched_at': now, 'body_html': '<p>mine</p>'})
        cls.attachment = cls.env['ir.attachment'].sudo().create({
            'name': 'owner-contract.pdf', 'raw': b'%PDF owner contract', 'res_model': 'maildesk.message',
            'res_id': cls.message.id, 'maildesk_graph_id': 'att-1'})
        cls.message.attachment_ids = cls.attachment

    def setUp(self):
        super().setUp()
        self.authorize_account(self.account)  # real tokens in the owner's account (to look for everywhere)
        cache = stored_token_cache(self.account)
        self.secrets = [self.emulator.client_secret] + [
            entry['secret'] for kind in ('AccessToken', 'RefreshToken', 'IdToken')
            for entry in cache.get(kind, {}).values()]
        record_secrets(self.secrets)
        self.logs = LogCapture()
        self.logs.__enter__()
        self.addCleanup(self.logs.__exit__)

    def tearDown(self):
        text = self.logs.text()
        for secret in self.secrets:
            self.assertNotIn(secret, text, 'a token or the client secret reached the server log')
        super().tearDown()

    # ------------------------------------------------------------------ helpers

    def login(self, user):
        self.authenticate(user.login, user.login)

    def call(self, model, method, *args, **kwargs):
        return self.make_jsonrpc_request('/web/dataset/call_kw/%s/%s' % (model, method), {
            'model': model, 'method': method, 'args': list(args), 'kwargs': kwargs})

    def assertDenied(self, model, method, *args, allowed=DENIED, **kwargs):
        with self.assertRaises(JsonRpcException, msg='%s.%s%r was allowed' % (model, method, args)) as caught:
            self.call(model, method, *args, **kwargs)
        self.assertIn(caught.exception.args[0], allowed, '%s.%s' % (model, method))

    def assertInvisible(self, payload, *needles):
        text = json.dumps(payload, default=str)
        for needle in needles + tuple(self.secrets):
            self.assertNotIn(needle, text)

    def assertUnchanged(self):
        self.env.invalidate_all()
        self.assertEqual((self.message.is_read, self.message.flag_status, self.message.folder_id,
                          self.message.account_id, self.message.tag_ids.ids, self.message.active),
                         (False, 'notFlagged', self.folder, self.account, [], True))
        self.assertEqual((self.account.state, self.account.name, self.account.user_id),
                         ('authorized', 'Owner mailbox', self.owner))
        self.assertTrue(self.account.sudo().token_cache)

    # ------------------------------------------------------------------ another user's mailbox

    def test_other_users_mailbox_is_invisible(self):
        self.login(self.other)
        mine = {'maildesk.account': self.other_account.id, 'maildesk.folder': self.other_folder.id,
                'maildesk.message': self.own_message.id}
        theirs = {'maildesk.account': self.account.id, 'maildesk.folder': self.folder.id,
                  'maildesk.message': self.message.id}
        for model, record_id in theirs.items():
            found = self.call(model, 'search_read', [], ['display_name'])
            self.assertEqual([row['id'] for row in found], [mine[model]], model)
            self.assertEqual(self.call(model, 'search_count', [('id', '=', record_id)]), 0, model)
            self.assertDenied(model, 'read', [record_id], ['display_name'])
            self.assertDenied(model, 'web_read', [record_id], specification={'display_name': {}})
            self.assertDenied(model, 'export_data', [record_id], ['display_name'])
            self.assertEqual(self.call(model, 'search_count', []), 1, model)
            groups = self.call(model, 'read_group', [], ['display_name'], ['create_uid'])
            self.assertEqual(sum(group['create_uid_count'] for group in groups), 1, model)
            self.assertInvisible(self.call(model, 'name_search', ''), 'Owner')
        self.assertInvisible(self.call('maildesk.inbox', 'maildesk_folder_tree'), 'Owner mailbox')
        listed = self.call('maildesk.inbox', 'maildesk_list', {'type': 'account', 'id': self.account.id})
        self.assertEqual(listed['total'], 0)
        listed = self.call('maildesk.inbox', 'maildesk_list', {'type': 'folder', 'id': self.folder.id},
                           search='secret')
        self.assertEqual(listed['total'], 0)
        self.assertDenied('maildesk.inbox', 'maildesk_read', self.message.id,
                          allowed=DENIED + ('odoo.exceptions.UserError',))
        self.assertDenied('maildesk.message', 'get_body_html', [self.message.id])
        # the downloaded attachment and the chatter of the account
        self.assertIn(self.url_open('/web/content/%d' % self.attachment.id).status_code, (403, 404))
        self.assertInvisible(self.call('ir.attachment', 'search_read', [('res_model', '=', 'maildesk.message')],
                                       ['name']), 'owner-contract')
        self.assertDenied('ir.attachment', 'read', [self.attachment.id], ['name', 'datas'])
        self.assertInvisible(self.call('mail.message', 'search_read', [('model', '=', 'maildesk.account')],
                                       ['body', 'res_id']), 'Owner mailbox', 'Authorized by')

    def test_other_users_mailbox_cannot_be_acted_on(self):
        self.login(self.other)
        message, account = [self.message.id], [self.account.id]
        for method, args in (('action_mark_read', ()), ('action_mark_unread', ()), ('action_toggle_flag', ()),
                             ('action_move', (self.other_folder.id,)), ('action_delete', ()),
                             ('action_set_tags', ([],)), ('action_set_categories', ('Red',)),
                             ('action_download_attachments', ()), ('action_reply', ()), ('action_forward', ()),
                             ('action_log_to_record', ()), ('action_open_conversation', ()),
                             ('write', ({'is_read': True},)), ('unlink', ())):
            self.assertDenied('maildesk.message', method, message, *args)
        for method, args in (('action_sync_now', ()), ('action_fetch_folders', ()), ('action_disconnect', ()),
                             ('action_authorize', ()), ('action_compose', ()),
                             ('write', ({'name': 'Hijacked', 'user_id': self.other.id},)),
                             ('write', ({'shared_user_ids': [(4, self.other.id)]},)), ('unlink', ())):
            self.assertDenied('maildesk.account', method, account, *args)
        self.assertDenied('maildesk.folder', 'write', [self.folder.id], {'sync_enabled': False})
        self.assertDenied('maildesk.folder', 'action_toggle_sync', [self.folder.id])
        # smuggling: rows of one's own mailbox written into the owner's mailbox, or created there
        self.assertDenied('maildesk.message', 'write', [self.own_message.id], {'account_id': self.account.id},
                          allowed=DENIED + ('odoo.exceptions.UserError',))
        self.assertDenied('maildesk.message', 'write', [self.own_message.id], {'folder_id': self.folder.id},
                          allowed=DENIED + ('odoo.exceptions.UserError',))
        self.assertDenied('maildesk.message', 'create', {'account_id': self.account.id, 'graph_id': 'planted',
                                                         'folder_id': self.folder.id, 'subject': 'Planted'})
        self.assertDenied('maildesk.folder', 'write', [self.other_folder.id], {'account_id': self.account.id},
                          allowed=DENIED + ('odoo.exceptions.UserError',))
        self.assertDenied('maildesk.account', 'create', {'name': 'Planted', 'email': 'x@contoso.test',
                                                         'user_id': self.owner.id})
        # a draft naming the owner's mailbox as sender is only the writer's own record: it cannot be sent
        self.emulator.reset_counters()
        draft = self.call('maildesk.draft', 'create', {'account_id': self.account.id, 'subject': 'as the owner',
                                                       'to_emails': 'victim@contoso.test'})
        self.assertDenied('maildesk.draft', 'action_send', [draft])
        self.assertEqual(self.emulator.counters()['total'], 0, 'nothing reached Outlook')
        start = self.url_open('/maildesk/oauth/start?account_id=%d' % self.account.id, allow_redirects=False)
        self.assertEqual(start.status_code, 403)
        self.assertNotIn(self.account.email, start.text)
        self.assertUnchanged()
        self.own_message.invalidate_recordset()
        self.assertEqual((self.own_message.account_id, self.own_message.folder_id),
                         (self.other_account, self.other_folder))
        self.assertFalse(self.env['maildesk.message'].sudo().search([('graph_id', '=', 'planted')]))

    def test_shared_mailbox(self):
        self.configure_maildesk(**{'maildesk.permission_level': 'read'})  # local changes only (no Outlook row)
        self.account.sudo().write({'is_shared': True, 'shared_user_ids': [(6, 0, self.other.ids)]})
        self.login(self.other)
        found = self.call('maildesk.message', 'search_read', [('account_id', '=', self.account.id)], ['subject'])
        self.assertEqual([row['id'] for row in found], [self.message.id])
        self.assertTrue(self.call('maildesk.message', 'action_toggle_flag', [self.message.id]))
        self.message.invalidate_recordset()
        self.assertEqual(self.message.flag_status, 'flagged')
        # sharing is not ownership: no sign-in, no tokens
        self.assertDenied('maildesk.account', 'action_authorize', [self.account.id])
        self.assertEqual(self.url_open('/maildesk/oauth/start?account_id=%d' % self.account.id,
                                       allow_redirects=False).status_code, 403)
        for field in ('token_cache', 'home_account_id'):
            self.assertDenied('maildesk.account', 'read', [self.account.id], [field])
        self.assertInvisible(self.call('maildesk.account', 'read', [self.account.id]))
        self.assertInvisible(self.call('maildesk.account', 'web_read', [self.account.id], specification={
            'name': {}, 'folder_ids': {'fields': {'name': {}, 'sync_state': {}}}}))
        for field in ('delta_link', 'next_link'):
            self.assertDenied('maildesk.folder', 'read', [self.folder.id], [field])
        # reading is not managing: no take-over, no new address, no deletion, no sharing further (issue #14)
        account = [self.account.id]
        for vals in ({'user_id': self.other.id}, {'email': 'mine@contoso.test'}, {'sender_name': 'Spoof'},
                     {'is_shared': False}, {'shared_user_ids': [(4, self.portal.id)]},
                     {'send_user_ids': [(4, self.other.id)]}):
            self.assertDenied('maildesk.account', 'write', account, vals)
        self.assertDenied('maildesk.account', 'unlink', account)
        self.assertDenied('maildesk.account', 'action_disconnect', account)
        self.assertDenied('maildesk.folder', 'write', [self.folder.id], {'sync_enabled': False})
        # nor sending as the owner unless allowed
        self.assertDenied('maildesk.message', 'action_reply', [self.message.id])
        # system-written fields of a message one may act on
        self.assertDenied('maildesk.message', 'write', [self.message.id], {'attachment_ids': [(6, 0, [])]})
        self.assertDenied('maildesk.message', 'write', [self.message.id], {'subject': 'Rewritten'})
        self.message.invalidate_recordset()
        self.assertEqual(self.message.attachment_ids, self.attachment)
        self.account.invalidate_recordset()
        self.assertEqual((self.account.user_id, self.account.email, self.account.shared_user_ids),
                         (self.owner, self.emulator.users[0], self.other))
        # unticking Shared ends it
        self.account.with_user(self.owner).write({'is_shared': False})
        self.assertDenied('maildesk.account', 'read', account, ['name'])
        self.assertEqual(self.call('maildesk.message', 'search_count', []), 1, 'only his own mail')

    def test_tokens_through_related_paths(self):
        self.login(self.owner)
        for path in ('account_id/token_cache', 'account_id/home_account_id', 'folder_id/delta_link'):
            self.assertDenied('maildesk.message', 'export_data', [self.message.id], [path])
        self.assertDenied('maildesk.message', 'web_read', [self.message.id],
                          specification={'account_id': {'fields': {'token_cache': {}}}})
        self.assertDenied('maildesk.folder', 'web_search_read', [],
                          specification={'account_id': {'fields': {'home_account_id': {}}}})
        # a search on the field through a relation would leak it one character at a time
        for domain in ([('account_id.token_cache', 'like', '%')], [('account_id.token_cache', '!=', False)],
                       [('account_id.home_account_id', '!=', False)]):
            self.assertDenied('maildesk.message', 'search_count', domain)
        self.assertDenied('maildesk.account', 'read_group', [], ['token_cache:array_agg'], ['state'])
        self.assertDenied('ir.config_parameter', 'get_param', 'maildesk.client_secret')
        self.assertDenied('ir.config_parameter', 'search_read', [('key', '=', 'maildesk.client_secret')], ['value'])
        self.assertDenied('fetchmail.server', 'search_read', [], ['name'])
        self.assertDenied('ir.mail_server', 'search_read', [], ['name'])
        # what a user can see of the account carries no secret
        self.assertInvisible(self.call('maildesk.account', 'web_read', [self.account.id], specification={
            field: {} for field, info in self.call('maildesk.account', 'fields_get', attributes=['type']).items()
            if info['type'] not in ('one2many', 'many2many', 'many2one', 'binary')}))

    def test_portal_user_gets_nothing(self):
        self.login(self.portal)
        for model in MAILDESK_MODELS:
            self.assertDenied(model, 'search_read', [], ['display_name'])
            self.assertDenied(model, 'read', [self.message.id], ['display_name'])
        for method, args in (('maildesk_folder_tree', ()), ('maildesk_list', ({'type': 'all'},)),
                             ('maildesk_read', (self.message.id,))):
            self.assertDenied('maildesk.inbox', method, *args)
        self.assertDenied('maildesk.account', 'create', {'name': 'Portal', 'email': 'p@contoso.test'})
        self.assertIn(self.url_open('/web/content/%d' % self.attachment.id).status_code, (403, 404))
        start = self.url_open('/maildesk/oauth/start?account_id=%d' % self.account.id, allow_redirects=False)
        self.assertEqual(start.status_code, 403)
        self.assertNotIn(self.emulator.base_url, start.headers.get('Location', ''))
        page = self.url_open('/odoo/maildesk')
        self.assertNotIn('Owner secret plans', page.text)
        self.assertNotIn('Owner mailbox', page.text)
        # the settings' buttons, called over JSON-RPC on an empty recordset (no access right needed for that)
        self.assertDenied('res.config.settings', 'action_maildesk_clear_client_secret', [])
        self.assertDenied('res.config.settings', 'set_values', [])
        self.assertEqual(self.env['ir.config_parameter'].sudo().get_param('maildesk.client_secret'),
                         self.emulator.client_secret)
        complete = self.opener.post(self.base_url() + '/maildesk/oauth/complete', allow_redirects=False,
                                    data={'state': '%d.x.y' % self.account.id, 'code': 'abc'}, timeout=30)
        self.assertEqual(complete.status_code, 403)
        self.assertUnchanged()
