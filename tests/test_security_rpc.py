"""Every public method MailDesk defines or overrides, called by each role that must not be able to misuse it.

*Public* is what Odoo's RPC dispatch accepts (``odoo.models.check_method_name``: neither ``_*`` nor ``init``) and
callable; *MailDesk's* is defined or overridden by a class of the ``maildesk`` addon, on its own models
(``maildesk.*``) and on the models it extends. A new method is covered as soon as it exists: its required arguments
come from its signature, by parameter name (``ARGS``); an unknown name fails the test and asks for one.

Each role (a portal user, an internal user without MailDesk, a MailDesk user the mailbox is shared with, read
only) calls each method through ``odoo.api.call_kw`` -- what ``/web/dataset/call_kw`` runs -- on a record of the
right kind (the owner's mailbox, folder, message, tag, draft, servers...). The call must be **refused**
(``AccessError``, ``UserError``) or **harmless**: every row the role must not change (accounts and their tokens,
sharing lists, folders, the mailbox's messages, others' drafts and tags, MailDesk's system parameters, the mail
servers, the role's groups) is the same afterwards, and nothing was written to Outlook. A shared user may change
what triage changes (read, flag, categories, folder, active): those columns are left out of his snapshot. Each call
is rolled back.
"""
import inspect
import logging
from contextlib import closing

from odoo import Command, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from odoo.addons.maildesk.models.maildesk_message import USER_WRITABLE_FIELDS

from .common import MaildeskCase

_logger = logging.getLogger(__name__)

EXTENDED_MODELS = ('res.config.settings', 'fetchmail.server', 'ir.mail_server', 'ir.attachment', 'res.users')
# Columns a shared user may change on the mailbox's messages (the message actions), and what they touch.
TRIAGE_COLUMNS = (USER_WRITABLE_FIELDS - {'tag_ids'}) | {'pending_action'}
# Harmless arguments by parameter name (methods with other required parameters make the test ask for one).
ARGS = {
    'vals': lambda case, model: case.write_vals(model),
    'vals_list': lambda case, model: [case.create_vals(model)],
    'folder_id': lambda case, model: case.sent.id,
    'tag_ids': lambda case, model: case.tag.ids,
    'categories': lambda case, model: ['Probe'],
    'message_id': lambda case, model: case.message.id,
    'message_ids': lambda case, model: case.message.ids,  # maildesk.inbox bulk actions
    'action': lambda case, model: 'delete',
    'undo': lambda case, model: [[case.sent.id, case.message.ids]],
    'term': lambda case, model: 'fabrikam',  # the composer's recipients autocomplete
    # what JSON-RPC can carry where Odoo passes an email.message.Message
    'message': lambda case, model: {'From': case.account.email, 'To': 'victim@fabrikam.test', 'Subject': 'probe'},
}
REFUSED = (AccessError, UserError)


def maildesk_methods(env):
    """``[(model, method)]``: public methods defined or overridden by the maildesk addon."""
    found = []
    for model_name in sorted(env.registry):
        if not (model_name.startswith('maildesk.') or model_name in EXTENDED_MODELS):
            continue
        cls = type(env[model_name])
        for name in sorted(dir(cls)):
            if models.regex_private.match(name) or not callable(getattr(cls, name, None)):
                continue
            owners = [klass for klass in cls.__mro__ if name in vars(klass)]
            if any(klass.__module__.startswith('odoo.addons.maildesk.') for klass in owners):
                found.append((model_name, name))
    return found


@tagged('post_install', '-at_install')
class TestSecurityRpc(MaildeskCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.owner = cls.make_maildesk_user(cls.env, 'md_rpc_owner')
        cls.roles = {
            'portal': new_test_user(cls.env, login='md_rpc_portal', groups='base.group_portal'),
            'internal': new_test_user(cls.env, login='md_rpc_internal', groups='base.group_user'),
            'shared': cls.make_maildesk_user(cls.env, 'md_rpc_shared'),
        }

    def setUp(self):
        super().setUp()
        self.registry.enter_test_mode(self.cr)  # any cursor a method opens is a savepoint of this transaction
        self.addCleanup(self.registry.leave_test_mode)
        self.configure_maildesk(**{'maildesk.permission_level': 'read'})
        shared = self.roles['shared']
        self.account = self.make_account(user=self.owner, name='Owner mailbox', is_shared=True,
                                         shared_user_ids=[Command.set(shared.ids)]).sudo()
        self.outgoing = self.make_outgoing_server(self.account, test=False)
        self.incoming = self.account.fetchmail_server_ids
        Folder = self.env['maildesk.folder'].sudo()
        self.inbox, self.sent, self.trash = Folder.create([
            {'account_id': self.account.id, 'graph_id': 'rpc-%s' % role, 'name': role, 'role': role,
             'sync_state': 'done'} for role in ('inbox', 'sentitems', 'deleteditems')])
        now = fields.Datetime.now()
        self.message = self.env['maildesk.message'].sudo().create({
            'account_id': self.account.id, 'folder_id': self.inbox.id, 'graph_id': 'maildesk-local:<rpc@x>',
            'subject': 'Owner secret plans', 'received_at': now, 'body_html': '<p>plans</p>', 'body_fetched_at': now})
        self.attachment = self.env['ir.attachment'].sudo().create({
            'name': 'plans.pdf', 'raw': b'%PDF plans', 'res_model': 'maildesk.message', 'res_id': self.message.id})
        self.message.attachment_ids = self.attachment
        self.tag = self.env['maildesk.tag'].with_user(self.owner).create({'name': 'Owner tag'})
        self.message.tag_ids = self.tag
        self.draft = self.env['maildesk.draft'].with_user(self.owner).create({
            'account_id': self.account.id, 'subject': 'Owner draft', 'to_emails': 'ann@fabrikam.test'})
        self.wizard = self.env['maildesk.log.record'].with_user(self.owner).create({'message_id': self.message.id})
        self.env['maildesk.system.mail'].sudo()._record(self.account.id, '<reset@odoo.test>')
        self.shared_wizard = self.env['maildesk.shared.mailbox.wizard'].with_user(self.owner).create({
            'connection_account_id': self.account.id, 'address': 'support@contoso.test'})
        self.route = self.env['maildesk.route'].sudo().create({
            'account_id': self.account.id, 'message_id': self.message.id, 'graph_id': self.message.graph_id,
            'state': 'routed', 'res_model': 'res.partner', 'res_id': self.owner.partner_id.id})
        self.targets = {
            'maildesk.route': self.route,
            'maildesk.account': self.account, 'maildesk.folder': self.inbox, 'maildesk.message': self.message,
            'maildesk.tag': self.tag, 'maildesk.draft': self.draft, 'maildesk.log.record': self.wizard,
            'fetchmail.server': self.incoming, 'ir.mail_server': self.outgoing, 'ir.attachment': self.attachment,
            'res.users': self.owner, 'res.config.settings': self.env['res.config.settings'],
            'maildesk.shared.mailbox.wizard': self.shared_wizard,
        }

    # ------------------------------------------------------------------ arguments

    def write_vals(self, model):
        """What an attacker would write on the target record."""
        return {
            # (a take-over, {'user_id': ...}, meets the server-bound lock first: test_security_roles covers it)
            'maildesk.account': {'sender_name': 'Spoofed', 'signature': '<p>Spoofed</p>'},
            'maildesk.folder': {'sync_enabled': True},
            'maildesk.message': {'subject': 'probe', 'attachment_ids': [Command.link(self.attachment.id)]},
            'maildesk.tag': {'name': 'probe'},
            'maildesk.draft': {'subject': 'probe'},
            'fetchmail.server': {'name': 'probe'},
            'ir.mail_server': {'name': 'probe'},
        }.get(model, {})

    def create_vals(self, model):
        """Records planted in the owner's mailbox."""
        return {
            'maildesk.account': {'name': 'probe', 'email': 'probe@contoso.test', 'user_id': self.owner.id},
            'maildesk.folder': {'account_id': self.account.id, 'graph_id': 'probe', 'name': 'probe'},
            'maildesk.draft': {'account_id': self.account.id, 'user_id': self.owner.id, 'subject': 'probe'},
            'maildesk.tag': {'name': 'probe', 'user_id': self.owner.id},
        }.get(model, {})

    def call(self, user, model, name):
        """``call_kw`` as ``user``, as ``/web/dataset/call_kw`` does it."""
        models.check_method_name(name)
        Model = self.env(user=user, su=False)[model]
        method = getattr(type(Model), name)
        args = []
        for param in list(inspect.signature(method).parameters.values())[1:]:
            if param.default is not param.empty or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            self.assertIn(param.name, ARGS, 'give a harmless value for parameter %r of %s.%s in ARGS'
                          % (param.name, model, name))
            args.append(ARGS[param.name](self, model))
        if not getattr(method, '_api', None):
            target = self.targets.get(model)
            if target is None:  # a model added later: its first record (none for an abstract model)
                target = self.env[model].browse() if self.env[model]._abstract else \
                    self.env[model].sudo().search([], limit=1)
            args.insert(0, target.ids)
        return api.call_kw(Model, name, args, {})

    # ------------------------------------------------------------------ what must not change

    def snapshot(self, user):
        """A digest per table of the rows ``user`` must not change."""
        self.env.flush_all()
        uid = user.id
        message = self.env['maildesk.message']
        others = f'account_id IN (SELECT id FROM maildesk_account WHERE user_id != {uid})'
        triage = sorted(TRIAGE_COLUMNS) if user == self.roles['shared'] else []
        tag_rel = message._fields['tag_ids']
        tables = {
            'maildesk_account': f'user_id != {uid}',
            'maildesk_account_shared_user_rel': others,
            'maildesk_account_send_user_rel': others,
            'maildesk_folder': others,
            'maildesk_message': others,
            tag_rel.relation: f'{tag_rel.column2} IN (SELECT id FROM maildesk_tag WHERE user_id != {uid})',
            message._fields['attachment_ids'].relation: 'TRUE',
            'maildesk_tag': f'user_id != {uid}',
            'maildesk_draft': f'user_id != {uid}',
            'maildesk_system_mail': 'TRUE',
            'ir_attachment': f"res_model LIKE 'maildesk.%%' AND create_uid != {uid}",
            'ir_config_parameter': "key LIKE 'maildesk.%%'",
            'fetchmail_server': 'TRUE',
            'ir_mail_server': 'TRUE',
            'res_groups_users_rel': f'uid = {uid}',
        }
        digests = {}
        for table, where in tables.items():
            drop = ['write_date', 'write_uid'] + (triage if table == 'maildesk_message' else [])
            self.env.cr.execute(
                'SELECT md5(coalesce(string_agg(r::text, %%s ORDER BY r::text), %%s)) '
                'FROM (SELECT to_jsonb(t) - %%s::text[] AS r FROM %s t WHERE %s) rows' % (table, where),
                ['|', '', drop])
            digests[table] = self.env.cr.fetchone()[0]
        return digests

    def outlook_writes(self):
        return sum(count for endpoint, count in self.emulator.counters()['by_endpoint'].items()
                   if not endpoint.startswith('GET '))

    # ------------------------------------------------------------------ the test

    def check_role(self, role):
        user = self.roles[role]
        methods = maildesk_methods(self.env)
        outcomes, problems, harmless = {'refused': 0, 'harmless': 0}, [], []
        for model, name in methods:
            before, writes = self.snapshot(user), self.outlook_writes()
            with closing(self.env.cr.savepoint()), mute_logger('odoo.addons.maildesk', 'odoo.models'):
                try:
                    self.call(user, model, name)
                    outcome = 'harmless'
                except REFUSED:
                    outcome = 'refused'
                except Exception as exc:  # noqa: BLE001 - reported below with the method's name
                    outcome, problems = 'error', problems + ['%s.%s raised %r' % (model, name, exc)]
                if outcome == 'harmless':
                    after = self.snapshot(user)
                    changed = sorted(table for table in before if before[table] != after[table])
                    if changed:
                        outcome, problems = 'harmful', problems + ['%s.%s changed %s' % (model, name, changed)]
                if self.outlook_writes() != writes:
                    problems.append('%s.%s wrote to Outlook' % (model, name))
            self.env.invalidate_all()
            self.env.cr.precommit.clear()
            self.env.cr.postcommit.clear()
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            if outcome == 'harmless':
                harmless.append('%s.%s' % (model, name))
        called = sum(outcomes.values())
        _logger.info('MailDesk RPC enumeration as %s: %d public methods called, %d refused, %d harmless (%s)',
                     role, called, outcomes['refused'], outcomes['harmless'], ', '.join(harmless))
        self.assertFalse(problems, '\n'.join(problems))
        self.assertEqual(called, len(methods))
        self.assertGreaterEqual(called, 45, 'the enumeration found MailDesk\'s methods')
        return outcomes

    def test_enumeration_finds_every_kind(self):
        methods = set(maildesk_methods(self.env))
        for expected in (('res.config.settings', 'action_maildesk_clear_client_secret'),
                         ('res.config.settings', 'set_values'), ('maildesk.account', 'write'),
                         ('maildesk.account', 'unlink'), ('maildesk.message', 'action_set_tags'),
                         ('maildesk.inbox', 'maildesk_read'), ('maildesk.draft', 'action_send'),
                         ('ir.mail_server', 'send_email'), ('fetchmail.server', 'button_confirm_login'),
                         ('maildesk.log.record', 'action_log'), ('maildesk.tag', 'write')):
            self.assertIn(expected, methods)
        self.assertNotIn(('maildesk.message', 'init'), methods, 'init is private for RPC')
        self.assertNotIn(('maildesk.account', 'read'), methods, "core's own methods are core's")

    def test_portal_user(self):
        self.check_role('portal')

    def test_internal_user_without_maildesk(self):
        self.check_role('internal')

    def test_shared_user(self):
        self.check_role('shared')
