"""The permission model (SECURITY.md, "Permission model"), role by role, as each user through the ORM.

Every test names the protection it proves and fails without it. The enumeration of every public method over
JSON-RPC-style dispatch is in test_security_rpc.
"""
from psycopg2 import IntegrityError

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from .common import MaildeskCase


class RolesCase(MaildeskCase):
    """A mailbox owned by ``owner``, shared with ``shared`` (read only) and ``sender`` (may send); ``outsider`` is a
    MailDesk user it is not shared with, ``manager`` a MailDesk manager, ``admin`` a system administrator."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        make = cls.make_maildesk_user
        cls.owner = make(cls.env, 'md_role_owner')
        cls.shared = make(cls.env, 'md_role_shared')
        cls.sender = make(cls.env, 'md_role_sender')
        cls.outsider = make(cls.env, 'md_role_outsider')
        cls.manager = make(cls.env, 'md_role_manager', manager=True)
        cls.admin = cls.env.ref('base.user_admin')

    def setUp(self):
        super().setUp()
        self.configure_maildesk(**{'maildesk.permission_level': 'read'})  # message actions stay local
        self.account = self.make_account(user=self.owner, connected=False, name='Sales', is_shared=True,
                                         shared_user_ids=[Command.set((self.shared | self.sender).ids)],
                                         send_user_ids=[Command.set(self.sender.ids)]).sudo()
        Folder = self.env['maildesk.folder'].sudo()
        self.inbox, self.sent, self.trash = Folder.create([
            {'account_id': self.account.id, 'graph_id': 'f-%s' % role, 'name': role, 'role': role,
             'sync_state': 'done'} for role in ('inbox', 'sentitems', 'deleteditems')])
        now = fields.Datetime.now()
        self.message = self.env['maildesk.message'].sudo().create({
            'account_id': self.account.id, 'folder_id': self.inbox.id, 'graph_id': 'maildesk-local:<m1@x>',
            'subject': 'Quarterly numbers', 'from_address': 'ceo@contoso.test', 'received_at': now,
            'body_html': '<p>numbers</p>', 'body_fetched_at': now})

    def as_(self, user, records=None):
        return (records if records is not None else self.account).with_user(user)

    def assertAccountIntact(self):
        self.account.invalidate_recordset()
        self.assertTrue(self.account.exists())
        self.assertEqual((self.account.user_id, self.account.email, self.account.name, self.account.is_shared),
                         (self.owner, self.emulator.users[0], 'Sales', True))
        self.assertEqual(self.account.shared_user_ids, self.shared | self.sender)
        self.assertTrue(self.account.token_cache)


@tagged('post_install', '-at_install')
class TestSecurityRoles(RolesCase):

    # ------------------------------------------------------------------ 1. shared users: read and triage only

    def test_shared_user_cannot_manage_the_account(self):
        """Point 1: the rule that lets a shared user read the account no longer lets him write or delete it."""
        account = self.as_(self.shared)
        self.assertEqual(account.name, 'Sales', 'a shared user reads the account')
        for vals in ({'user_id': self.shared.id}, {'email': 'mine@contoso.test'}, {'sender_name': 'Spoof'},
                     {'signature': '<p>spoof</p>'}, {'name': 'Renamed'}, {'is_shared': False},
                     {'shared_user_ids': [Command.link(self.outsider.id)]},
                     {'send_user_ids': [Command.link(self.shared.id)]}, {'active': False}):
            with self.assertRaises(AccessError, msg=str(vals)):
                account.write(vals)
        for method in ('unlink', 'action_disconnect', 'action_authorize', 'action_fetch_folders'):
            with self.assertRaises(AccessError, msg=method):
                getattr(account, method)()
        with self.assertRaises(AccessError):
            self.as_(self.shared, self.inbox).write({'sync_enabled': True})
        self.assertAccountIntact()
        self.assertEqual(len(self.account.folder_ids), 3)

    def test_shared_user_triages_mail(self):
        """Point 1: what sharing is for stays allowed: read, flag, move, delete to Deleted Items, categories."""
        message = self.as_(self.shared, self.message)
        self.assertEqual(message.get_body_html(), '<p>numbers</p>')
        message.action_mark_read()
        message.action_toggle_flag()
        message.action_set_categories(['Blue'])
        message.action_move(self.sent.id)
        message.action_delete()
        self.message.invalidate_recordset()
        self.assertEqual((self.message.is_read, self.message.flag_status, self.message.categories,
                          self.message.folder_id), (True, 'flagged', 'Blue', self.trash))
        self.assertEqual(self.as_(self.shared).action_open_inbox()['params'], {'account_id': self.account.id})

    def test_sending_from_a_shared_mailbox_is_a_grant_of_its_own(self):
        """Point 1: a shared user sends only when the owner allowed it (May Send)."""
        with self.assertRaises(AccessError):
            self.as_(self.shared, self.message).action_reply()
        with self.assertRaises(AccessError):
            self.as_(self.shared).action_compose()
        draft = self.env['maildesk.draft'].with_user(self.shared).create({
            'account_id': self.account.id, 'subject': 'As the owner', 'to_emails': 'victim@fabrikam.test'})
        self.emulator.reset_counters()
        with self.assertRaises(AccessError):
            draft.action_send()
        self.assertEqual(self.emulator.counters()['total'], 0, 'nothing reached Outlook')
        # the owner allows it: the same user sends
        self.as_(self.owner).write({'send_user_ids': [Command.link(self.shared.id)]})
        self.assertEqual(self.as_(self.shared, self.message).action_reply()['res_model'], 'maildesk.draft')
        action = self.as_(self.shared).action_compose()
        draft = self.env['maildesk.draft'].with_user(self.shared).browse(action['res_id'])
        draft.write({'to_emails': 'ann@fabrikam.test', 'subject': 'From the shared mailbox'})
        result = draft.action_send()
        self.assertEqual(result['params']['type'], 'success', result)
        self.assertEqual(draft.state, 'sent')

    def test_may_send_follows_sharing(self):
        """Point 1: only users the mailbox is shared with may be allowed to send; the owner and managers manage
        sharing, managers send from any mailbox."""
        self.as_(self.owner).write({'send_user_ids': [Command.link(self.outsider.id)]})
        self.assertEqual(self.account.send_user_ids, self.sender, 'a user it is not shared with is dropped')
        self.as_(self.owner).write({'shared_user_ids': [Command.unlink(self.sender.id)]})
        self.assertFalse(self.account.send_user_ids, 'no longer shared: no longer allowed to send')
        self.as_(self.manager).write({'shared_user_ids': [Command.link(self.outsider.id)], 'sender_name': 'Sales'})
        self.assertIn(self.outsider, self.account.shared_user_ids)
        self.assertEqual(self.as_(self.manager).action_compose()['res_model'], 'maildesk.draft')

    # ------------------------------------------------------------------ 2. accounts bound to a mail server

    def test_bound_account_address_and_owner_are_for_system_administrators(self):
        """Point 2: with a mail server bound, address, owner and deletion are locked for owner and managers."""
        unbound = self.make_account(email=self.emulator.users[1], user=self.owner, connected=False)
        self.as_(self.owner, unbound).write({'sender_name': 'Support'})
        self.make_outgoing_server(self.account, test=False)
        self.make_incoming_server(unbound, confirm=False)  # an incoming server binds just the same
        for account in (self.account, unbound):
            for user in (self.owner, self.manager):
                for vals in ({'email': self.emulator.users[2]}, {'user_id': self.outsider.id}):
                    with self.assertRaises(AccessError, msg='%s %s' % (user.login, vals)):
                        self.as_(user, account).write(vals)
                with self.assertRaises(AccessError):
                    self.as_(user, account).unlink()
            self.assertTrue(self.as_(self.owner, account).address_locked)
        self.as_(self.owner).write({'sender_name': 'Sales Team'})  # the rest stays the owner's
        self.assertEqual(self.account.sender_name, 'Sales Team')
        self.as_(self.admin).write({'user_id': self.outsider.id})
        self.assertEqual(self.account.user_id, self.outsider, 'a system administrator may')
        self.assertFalse(self.as_(self.admin).address_locked)

    def test_send_time_sender_check(self):
        """Point 2: Odoo's mail leaves only as the mailbox the server is bound to."""
        server = self.make_outgoing_server(self.account, test=False)
        mail = self.env['mail.mail'].create({'subject': 'Reset your password', 'body_html': '<p>link</p>',
                                             'email_to': 'victim@fabrikam.test', 'mail_server_id': server.id})
        self.account._write_status({'signed_in_email': self.emulator.users[1]})  # authorized as another mailbox
        self.emulator.reset_counters()
        with mute_logger('odoo.addons.mail.models.mail_mail'):
            mail.send()
        self.assertEqual(mail.state, 'exception')
        self.assertIn('Nothing was sent', mail.failure_reason)
        self.assertIn(self.emulator.users[1], mail.failure_reason)
        self.assertEqual(self.emulator.counters()['total'], 0, 'no request at all')
        self.account._write_status({'signed_in_email': self.emulator.users[0]})
        server.from_filter = self.emulator.users[2]  # the server was bound to another address
        mail.write({'state': 'outgoing'})
        with mute_logger('odoo.addons.mail.models.mail_mail'):
            mail.send()
        self.assertEqual(mail.state, 'exception')
        self.assertIn('Nothing was sent', mail.failure_reason)
        server.from_filter = self.emulator.users[0]
        mail.write({'state': 'outgoing'})
        mail.send(raise_exception=True)
        self.assertEqual(mail.state, 'sent')

    def test_system_mail_copies_are_for_system_administrators(self):
        """Point 2: Outlook's copies of Odoo's own mail are flagged by the sync and hidden from MailDesk users."""
        self.make_incoming_server(self.account)
        (self.inbox | self.sent | self.trash).unlink()  # Outlook's own folders instead of the fixture's
        self.account.with_user(self.owner).action_fetch_folders()
        self.account.folder_ids.filtered(lambda f: f.role == 'sentitems').sync_enabled = True
        server = self.make_outgoing_server(self.account, test=False)
        mail = self.env['mail.mail'].create({'subject': 'Reset your password', 'body_html': '<p>secret link</p>',
                                             'email_to': 'victim@fabrikam.test', 'mail_server_id': server.id})
        message_id = mail.message_id
        mail.send(raise_exception=True)
        # the owner's own mail from MailDesk stays his
        draft = self.env['maildesk.draft'].browse(self.as_(self.owner).action_compose()['res_id'])
        draft.with_user(self.owner).write({'to_emails': 'ann@fabrikam.test', 'subject': 'From MailDesk'})
        draft.with_user(self.owner).action_send()
        self.emulator.settle()  # the Sent Items copies appear now (sent_copy_delay)
        self.sync_account(self.account)
        Message = self.env['maildesk.message'].sudo()
        copy = Message.search([('internet_message_id', '=', message_id)])
        self.assertEqual(len(copy), 1, 'the copy is stored, never lost')
        self.assertTrue(copy.is_system_mail)
        self.assertTrue(Message.search([('subject', '=', 'From MailDesk'), ('is_system_mail', '=', False)]))
        for user in (self.owner, self.shared, self.manager):
            found = Message.with_user(user).search([('account_id', '=', self.account.id)])
            self.assertNotIn(copy, found, user.login)
            self.assertIn('From MailDesk', found.mapped('subject'), user.login)
            with self.assertRaises(AccessError):
                copy.with_user(user).read(['subject'])
            listed = self.env['maildesk.inbox'].with_user(user).maildesk_list({'type': 'account',
                                                                                'id': self.account.id})
            self.assertNotIn(copy.id, [row['id'] for row in listed['rows']])
        self.assertIn(copy, Message.with_user(self.admin).search([('account_id', '=', self.account.id)]))

    def test_system_mail_stored_before_the_note_is_marked_at_commit(self):
        """Point 2: a copy a sync stored before the sending transaction committed is marked once it commits."""
        early = self.env['maildesk.message'].sudo().create({
            'account_id': self.account.id, 'folder_id': self.sent.id, 'graph_id': 'early-copy',
            'internet_message_id': '<reset.1@odoo.test>', 'subject': 'Reset'})
        self.env['maildesk.system.mail'].sudo()._record(self.account.id, '<reset.1@odoo.test>')
        self.env.flush_all()
        self.registry.enter_test_mode(self.cr)
        try:
            self.env.cr.postcommit.run()
        finally:
            self.registry.leave_test_mode()
        early.invalidate_recordset()
        self.assertTrue(early.is_system_mail)

    # ------------------------------------------------------------------ 3. settings

    def test_settings_actions_are_for_system_administrators(self):
        """Point 3: Remove (the client secret) and saving settings, called on an empty recordset as over RPC."""
        ICP = self.env['ir.config_parameter'].sudo()
        portal = new_test_user(self.env, login='md_role_portal', groups='base.group_portal')
        for user in (portal, self.owner, self.manager):
            Settings = self.env['res.config.settings'].with_user(user)
            with self.assertRaises(AccessError):
                Settings.action_maildesk_clear_client_secret()
            with self.assertRaises(AccessError):
                Settings.set_values()
            self.assertNotIn('maildesk_client_secret_set', Settings.get_values())
        self.assertEqual(ICP.get_param('maildesk.client_secret'), self.emulator.client_secret)
        self.assertEqual(ICP.get_param('maildesk.client_id'), self.emulator.client_id)
        self.env['res.config.settings'].with_user(self.admin).action_maildesk_clear_client_secret()
        self.assertFalse(ICP.get_param('maildesk.client_secret'))

    # ------------------------------------------------------------------ 4. sharing off, tags, system fields

    def test_unticking_shared_removes_access(self):
        """Point 4: sharing off means access off: the lists are cleared and the rules require Shared."""
        self.as_(self.owner).write({'is_shared': False})
        self.assertFalse(self.account.shared_user_ids | self.account.send_user_ids)
        for user in (self.shared, self.sender):
            self.assertFalse(self.env['maildesk.account'].with_user(user).search([]))
            self.assertFalse(self.env['maildesk.message'].with_user(user).search([]))
            with self.assertRaises(AccessError):
                self.as_(user).read(['name'])
        # the rule alone: users still listed while Shared is off (e.g. written before the fix) see nothing
        self.env.cr.execute('INSERT INTO maildesk_account_shared_user_rel (account_id, user_id) VALUES (%s, %s)',
                            [self.account.id, self.shared.id])
        self.env.invalidate_all()
        self.assertEqual(self.account.shared_user_ids, self.shared)
        self.assertFalse(self.env['maildesk.message'].with_user(self.shared).search([]))
        self.assertFalse(self.env['maildesk.folder'].with_user(self.shared).search([]))

    def test_tags_are_per_user(self):
        """Point 4: each user sees and changes only their tags (managers: all); a message takes only the
        user's own; the other users' tags on a shared message stay."""
        Tag = self.env['maildesk.tag']
        mine = Tag.with_user(self.owner).create({'name': 'Urgent'})
        theirs = Tag.with_user(self.shared).create({'name': 'Urgent'})  # the same name, another user
        self.assertEqual((mine.user_id, theirs.user_id), (self.owner, self.shared))
        self.assertEqual(Tag.with_user(self.shared).search([]), theirs)
        self.assertEqual(Tag.with_user(self.manager).search([('id', 'in', (mine | theirs).ids)]), mine | theirs)
        with self.assertRaises(AccessError):
            mine.with_user(self.shared).write({'name': 'Renamed'})
        with self.assertRaises(AccessError):
            mine.with_user(self.shared).unlink()
        with self.assertRaises(AccessError):
            theirs.with_user(self.shared).write({'user_id': self.owner.id})
        with self.assertRaises(AccessError):
            mine.with_user(self.shared).read(['name'])
        self.as_(self.owner, self.message).action_set_tags(mine.ids)
        with self.assertRaises(AccessError):
            self.as_(self.shared, self.message).action_set_tags(mine.ids)
        with self.assertRaises(AccessError):
            self.as_(self.shared, self.message).write({'tag_ids': [Command.link(mine.id)]})
        self.as_(self.shared, self.message).action_set_tags(theirs.ids)
        self.env.invalidate_all()
        self.assertEqual(self.as_(self.shared, self.message).tag_ids, theirs, 'each user sees their own tags')
        self.as_(self.shared, self.message).action_set_tags([])
        self.message.invalidate_recordset()
        self.assertEqual(self.message.tag_ids, mine, "the owner's tag stayed")
        with self.assertRaises(IntegrityError), mute_logger('odoo.sql_db'), self.env.cr.savepoint():
            Tag.with_user(self.owner).create({'name': 'Urgent'})

    def test_system_written_fields_are_refused(self):
        """Point 4: every stored message field but what the actions change, and the draft's sending state, are
        MailDesk's to write."""
        message = self.as_(self.owner, self.message)
        allowed = {'is_read', 'flag_status', 'categories', 'folder_id', 'active', 'tag_ids'}
        skip = {'id', 'create_uid', 'create_date', 'write_uid', 'write_date', 'display_name'}
        other = self.env['ir.attachment'].sudo().create({'name': 'payroll.pdf', 'raw': b'%PDF payroll'})
        samples = {'many2one': False, 'many2many': [Command.set(other.ids)], 'boolean': True, 'integer': 7,
                   'datetime': fields.Datetime.now(), 'selection': False, 'many2one_reference': 1}
        refused = []
        for name, field in self.env['maildesk.message']._fields.items():
            if not field.store or name in skip or name in allowed:
                continue
            with self.assertRaises(AccessError, msg=name):
                message.write({name: samples.get(field.type, 'x')})
            refused.append(name)
        self.assertIn('attachment_ids', refused)
        self.assertGreaterEqual(len(refused), 35)
        # the draft: what MailDesk records about a send
        draft = self.env['maildesk.draft'].with_user(self.owner).create({'account_id': self.account.id})
        for vals in ({'sent_message_id': self.message.id}, {'graph_draft_id': self.message.graph_id},
                     {'internet_message_id': '<x@y>'}, {'conversation_id': 'c'}, {'state': 'failed'},
                     {'attempt_count': 0}, {'last_error': 'x'}, {'sent_at': fields.Datetime.now()},
                     {'user_id': self.shared.id}, {'kind': 'forward'}, {'source_message_id': self.message.id}):
            with self.assertRaises(AccessError, msg=str(vals)):
                draft.write(vals)
            if 'source_message_id' not in vals and 'kind' not in vals and 'user_id' not in vals:
                with self.assertRaises(AccessError, msg='create %s' % vals):
                    self.env['maildesk.draft'].with_user(self.owner).create(dict(vals, account_id=self.account.id))
        with self.assertRaises(AccessError):
            draft.write({'attachment_ids': [Command.link(other.id)]})
        draft.write({'subject': 'Hello', 'attachment_ids': [Command.create({'name': 'a.txt', 'raw': b'a'})]})
        # the account's status
        for vals in ({'last_error': 'spoof'}, {'last_sync_at': fields.Datetime.now()}):
            with self.assertRaises(AccessError):
                self.as_(self.owner).write(vals)

    def test_planted_sent_message_is_not_deleted_by_a_failing_send(self):
        """Point 4, the attack behind ``sent_message_id``: a forced failure deleted the row it named."""
        victim = self.env['maildesk.message'].sudo().create({
            'account_id': self.account.id, 'folder_id': self.sent.id, 'graph_id': 'victim', 'is_local': True,
            'subject': 'Kept'})
        draft = self.env['maildesk.draft'].with_user(self.sender).create({
            'account_id': self.account.id, 'to_emails': 'ann@fabrikam.test'})
        with self.assertRaises(AccessError):
            draft.write({'sent_message_id': victim.id})
        self.assertTrue(victim.exists())

    def test_shared_reply_source_must_be_readable(self):
        """Point 4: a draft cannot name, as the message it answers, one its author cannot read."""
        other = self.make_account(email=self.emulator.users[1], user=self.outsider, connected=False).sudo()
        hidden = self.env['maildesk.message'].sudo().create({
            'account_id': other.id, 'graph_id': 'hidden', 'subject': 'Hidden'})
        for values in ({'account_id': self.account.id}, {'account_id': other.id}):
            with self.assertRaises(UserError):  # AccessError (unreadable source) is one
                self.env['maildesk.draft'].with_user(self.sender).create(dict(
                    values, kind='reply', source_message_id=hidden.id))
