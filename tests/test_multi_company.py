"""Multi-company: a user of company A never reaches company B's mailbox, and an account agrees with its users.

Two companies, each with a MailDesk user owning a synced mailbox (and a draft and a tag); a MailDesk manager who
belongs to both. Every call goes through ``odoo.api.call_kw`` as ``/web/dataset/call_kw`` runs it, or through the
ORM as the user: the other company's accounts, folders, messages, drafts and tags are invisible, and reading,
syncing, answering or sending from them is refused without a request to Outlook.
"""
from odoo import Command, api
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import MaildeskCase
from .sync_common import SyncTestMixin

MODELS = ('maildesk.account', 'maildesk.folder', 'maildesk.message', 'maildesk.draft', 'maildesk.tag')


@tagged('post_install', '-at_install')
class TestMultiCompany(SyncTestMixin, MaildeskCase):

    emulator_options = {'users': 2, 'messages': 4}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_a = cls.env.company
        cls.company_b = cls.env['res.company'].create({'name': 'MailDesk Company B'})
        cls.user_a = cls.make_maildesk_user(cls.env, 'md_mc_a', company_id=cls.company_a.id,
                                            company_ids=[Command.set(cls.company_a.ids)])
        cls.user_b = cls.make_maildesk_user(cls.env, 'md_mc_b', company_id=cls.company_b.id,
                                            company_ids=[Command.set(cls.company_b.ids)])
        cls.manager = cls.make_maildesk_user(cls.env, 'md_mc_manager', manager=True, company_id=cls.company_a.id,
                                             company_ids=[Command.set((cls.company_a | cls.company_b).ids)])

    def setUp(self):
        super().setUp()
        self.mailbox = {}
        for index, (user, company) in enumerate(((self.user_a, self.company_a), (self.user_b, self.company_b))):
            account = self.make_account(email=self.emulator.users[index], user_id=user.id, company_id=company.id)
            account.action_fetch_folders()
            account.folder_ids.filtered(lambda folder: folder.role == 'inbox').sync_enabled = True
            self.sync_until_done(account)
            as_owner = self.env(user=user)
            draft = as_owner['maildesk.draft'].create({
                'account_id': account.id, 'subject': 'Draft of %s' % user.login, 'to_emails': 'someone@example.com'})
            tag = as_owner['maildesk.tag'].create({'name': 'Tag of %s' % user.login})
            self.mailbox[user] = {
                'maildesk.account': account, 'maildesk.folder': account.folder_ids,
                'maildesk.message': account.with_context(active_test=False).folder_ids.message_ids,
                'maildesk.draft': draft, 'maildesk.tag': tag,
            }

    def rpc(self, user, model, method, *args, **kwargs):
        """``call_kw`` as ``user`` (not superuser), as ``/web/dataset/call_kw`` runs it."""
        return api.call_kw(self.env(user=user, su=False)[model], method, list(args), kwargs)

    def pairs(self):
        return ((self.user_a, self.user_b), (self.user_b, self.user_a))

    # ------------------------------------------------------------------ records carry the company

    def test_records_carry_their_account_company(self):
        for user, company in ((self.user_a, self.company_a), (self.user_b, self.company_b)):
            box = self.mailbox[user]
            self.assertTrue(box['maildesk.message'], 'the sync stored the inbox')
            for model in MODELS:
                self.assertEqual(box[model].mapped('company_id'), company, model)

    # ------------------------------------------------------------------ ORM and RPC, per company

    def test_each_company_sees_only_its_own(self):
        for user, other in self.pairs():
            for model in MODELS:
                mine, theirs = self.mailbox[user][model], self.mailbox[other][model]
                found = self.env(user=user)[model].with_context(active_test=False).search([])
                self.assertEqual(found & (mine | theirs), mine, '%s as %s' % (model, user.login))
                ids = self.rpc(user, model, 'search', [('id', 'in', (mine | theirs).ids)])
                self.assertEqual(sorted(ids), sorted(mine.ids), model)
                with self.assertRaises(AccessError, msg='%s of the other company' % model):
                    self.rpc(user, model, 'read', theirs[:1].ids, ['display_name'])
                with self.assertRaises(AccessError):
                    self.rpc(user, model, 'write', theirs[:1].ids, {'active': False} if model == 'maildesk.message'
                             else {'name': 'taken'} if model in ('maildesk.account', 'maildesk.tag')
                             else {'subject': 'taken'} if model == 'maildesk.draft' else {'sequence': 1})

    def test_inbox_rpc_shows_only_own_company(self):
        for user, other in self.pairs():
            mine, theirs = self.mailbox[user], self.mailbox[other]
            tree = self.rpc(user, 'maildesk.inbox', 'maildesk_folder_tree')
            self.assertEqual({node['id'] for node in tree['accounts']}, set(mine['maildesk.account'].ids))
            self.assertEqual({tag['id'] for tag in tree['tags']}, set(mine['maildesk.tag'].ids))
            listed = self.rpc(user, 'maildesk.inbox', 'maildesk_list', view={'type': 'all'})
            self.assertEqual({row['id'] for row in listed['rows']}, set(mine['maildesk.message'].ids))
            for view in ({'type': 'account', 'id': theirs['maildesk.account'].id},
                         {'type': 'folder', 'id': theirs['maildesk.folder'][:1].id},
                         {'type': 'tag', 'id': theirs['maildesk.tag'].id}):
                self.assertEqual(self.rpc(user, 'maildesk.inbox', 'maildesk_list', view=view)['rows'], [], view)
            message = theirs['maildesk.message'][:1]
            with self.assertRaises(UserError):
                self.rpc(user, 'maildesk.inbox', 'maildesk_read', message.id)
            self.assertEqual(self.rpc(user, 'maildesk.inbox', 'maildesk_body_frame', message.id)['body_html'], '')

    @mute_logger('odoo.addons.base.models.ir_rule', 'odoo.models')
    def test_cannot_sync_answer_or_send_from_the_other_company(self):
        for user, other in self.pairs():
            theirs = self.mailbox[other]
            account, message, draft = theirs['maildesk.account'], theirs['maildesk.message'][:1], \
                theirs['maildesk.draft']
            self.emulator.reset_counters()
            for method in ('action_sync_now', 'action_fetch_folders', 'action_authorize', 'action_disconnect',
                           'action_compose', 'action_open_inbox'):
                with self.assertRaises(AccessError, msg=method):
                    self.rpc(user, 'maildesk.account', method, account.ids)
            for method in ('action_mark_read', 'action_toggle_flag', 'action_reply', 'action_forward',
                           'action_open_body', 'action_delete'):
                with self.assertRaises(AccessError, msg=method):
                    self.rpc(user, 'maildesk.message', method, message.ids)
            with self.assertRaises(AccessError):
                self.rpc(user, 'maildesk.draft', 'action_send', draft.ids)
            # a draft of one's own, from the other company's mailbox
            with self.assertRaises(UserError):  # AccessError, or ValidationError from the company check
                self.rpc(user, 'maildesk.draft', 'create', [{
                    'account_id': account.id, 'subject': 'From their mailbox', 'to_emails': 'x@example.com'}])
            self.assertEqual(self.emulator.counters()['total'], 0, 'nothing reached Outlook')
            self.assertEqual(draft.state, 'draft')

    def test_manager_sees_the_companies_selected(self):
        both = self.mailbox[self.user_a]['maildesk.account'] | self.mailbox[self.user_b]['maildesk.account']
        Account = self.env(user=self.manager)['maildesk.account']
        for companies, expected in ((self.company_a, self.mailbox[self.user_a]['maildesk.account']),
                                    (self.company_b, self.mailbox[self.user_b]['maildesk.account']),
                                    (self.company_a | self.company_b, both)):
            found = Account.with_context(allowed_company_ids=companies.ids).search([('id', 'in', both.ids)])
            self.assertEqual(found, expected, companies.mapped('name'))

    # ------------------------------------------------------------------ consistency

    def test_account_users_belong_to_its_company(self):
        account = self.mailbox[self.user_a]['maildesk.account']
        with self.assertRaises(UserError, msg='owner outside the company'):
            self.env['maildesk.account'].create({'name': 'x', 'email': 'x@example.com', 'user_id': self.user_b.id,
                                                 'company_id': self.company_a.id})
        with self.assertRaises(UserError, msg='shared with a user outside the company'):
            account.with_user(self.user_a).write({'is_shared': True,
                                                   'shared_user_ids': [Command.link(self.user_b.id)]})

    def test_server_bound_account_changes_company_only_by_an_administrator(self):
        account = self.mailbox[self.user_a]['maildesk.account']
        server = account.sudo().fetchmail_server_ids
        self.assertEqual(server.maildesk_company_id, self.company_a, 'the server shows the mailbox company')
        self.user_a.company_ids |= self.company_b
        with self.assertRaises(AccessError):
            account.with_user(self.manager).with_context(
                allowed_company_ids=(self.company_a | self.company_b).ids).write({'company_id': self.company_b.id})
        self.assertEqual(account.company_id, self.company_a)
        admin = self.env.ref('base.user_admin')
        admin.company_ids |= self.company_b
        account.with_user(admin).with_context(
            allowed_company_ids=(self.company_a | self.company_b).ids).write({'company_id': self.company_b.id})
        box = self.mailbox[self.user_a]
        for model in ('maildesk.folder', 'maildesk.message', 'maildesk.draft'):
            self.assertEqual(box[model].mapped('company_id'), self.company_b, '%s follows its account' % model)
        self.assertEqual(server.maildesk_company_id, self.company_b)
