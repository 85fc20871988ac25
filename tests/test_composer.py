"""The composer's recipients: one line per field, parsing, and the autocomplete by role (no Graph involved).

Roles: the owner of a mailbox, a user it is shared with, a MailDesk user it is not shared with, an internal user
without MailDesk, a portal user. The autocomplete reads contacts and the addresses of synced mail through the
caller's own rights: a user never sees the correspondents of a mailbox not shared with them.
"""
import random

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError
from odoo.modules.migration import load_script
from odoo.tests import TransactionCase, new_test_user, tagged

from odoo.addons.maildesk.engine import recipients
from odoo.addons.maildesk.tests.common import MaildeskMixin
from odoo.addons.maildesk.tests.inbox_data import make_mailbox, message_values

SECRET_CORRESPONDENT = 'only.sales@northwind-secret.test'
SUPPORT_CORRESPONDENT = 'helpdesk.caller@tailspin-calls.test'


@tagged('post_install', '-at_install')
class TestComposerRecipients(TransactionCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        make = MaildeskMixin.make_maildesk_user
        cls.owner = make(cls.env, 'md_comp_owner')
        cls.shared = make(cls.env, 'md_comp_shared')
        cls.outsider = make(cls.env, 'md_comp_outsider')
        cls.internal = new_test_user(cls.env, login='md_comp_internal', groups='base.group_user')
        cls.portal = new_test_user(cls.env, login='md_comp_portal', groups='base.group_portal')
        cls.sales, folders = make_mailbox(cls.env, 'sales@contoso.test', 'Sales', owner=cls.owner)
        cls.sales.sudo().write({'is_shared': True, 'shared_user_ids': [Command.set(cls.shared.ids)]})
        cls.support, support_folders = make_mailbox(cls.env, 'support@contoso.test', 'Support', owner=cls.outsider)
        rng, now = random.Random(3), fields.Datetime.now()
        Message = cls.env['maildesk.message'].sudo()
        Message.create([
            message_values(cls.sales, folders['inbox'], 1, rng, now, from_name='Secret Buyer',
                           from_address=SECRET_CORRESPONDENT),
            message_values(cls.sales, folders['sentitems'], 2, rng, now, direction='outgoing',
                           to_recipients='"Doe, Jane" <jane.doe@northwind-secret.test>',
                           cc_recipients='Cc Person <cc.person@northwind-secret.test>'),
            message_values(cls.support, support_folders['inbox'], 3, rng, now, from_name='Caller',
                           from_address=SUPPORT_CORRESPONDENT),
        ])
        cls.contact = cls.env['res.partner'].create({'name': 'Northwind Contact',
                                                     'email': 'contact@northwind-secret.test'})

    def suggest(self, user, term):
        return self.env['maildesk.draft'].with_user(user).maildesk_recipient_suggestions(term)

    def emails(self, user, term):
        return {item['email'] for item in self.suggest(user, term)}

    # ------------------------------------------------------------------ autocomplete, by role

    def test_owner_sees_contacts_and_seen_addresses(self):
        found = self.suggest(self.owner, 'northwind-secret')
        by_email = {item['email']: item for item in found}
        self.assertEqual(by_email['contact@northwind-secret.test']['source'], 'contact')
        self.assertEqual(found[0]['source'], 'contact', 'contacts come first')
        for address in (SECRET_CORRESPONDENT, 'jane.doe@northwind-secret.test', 'cc.person@northwind-secret.test'):
            self.assertEqual(by_email[address]['source'], 'mail', address)
        self.assertEqual(by_email['jane.doe@northwind-secret.test']['name'], 'Doe, Jane')
        self.assertNotIn(SUPPORT_CORRESPONDENT, self.emails(self.owner, 'tailspin-calls'),
                         'the support mailbox is not the owner\'s')

    def test_a_name_finds_the_address(self):
        self.assertEqual(self.emails(self.owner, 'secret buyer'), {SECRET_CORRESPONDENT})

    def test_shared_user_sees_the_shared_mailbox(self):
        self.assertIn(SECRET_CORRESPONDENT, self.emails(self.shared, 'northwind-secret'))

    def test_user_without_the_mailbox_never_sees_its_addresses(self):
        found = self.emails(self.outsider, 'northwind-secret')
        self.assertEqual(found, {'contact@northwind-secret.test'}, 'contacts only, no address of Sales')
        self.assertEqual(self.emails(self.outsider, 'tailspin-calls'), {SUPPORT_CORRESPONDENT},
                         'his own mailbox is searched')
        self.sales.sudo().shared_user_ids = [Command.clear()]
        self.assertNotIn(SECRET_CORRESPONDENT, self.emails(self.shared, 'northwind-secret'),
                         'no longer shared: no longer suggested')

    def test_internal_and_portal_users_are_refused(self):
        for user in (self.internal, self.portal):
            with self.assertRaises(AccessError, msg=user.login):
                self.suggest(user, 'northwind')

    def test_results_are_limited(self):
        self.env['res.partner'].create([{'name': 'Many %s' % i, 'email': 'many%s@limit.test' % i}
                                        for i in range(30)])
        self.assertEqual(len(self.suggest(self.owner, 'limit.test')), recipients.SUGGESTION_LIMIT)
        found = self.env['maildesk.draft'].with_user(self.owner).maildesk_recipient_suggestions('limit.test', 500)
        self.assertEqual(len(found), recipients.MAX_SUGGESTION_LIMIT, 'a caller cannot ask for everything')
        self.assertEqual(len(self.env['maildesk.draft'].with_user(self.owner).maildesk_recipient_suggestions(
            'limit.test', 'many')), recipients.SUGGESTION_LIMIT, 'a bad limit falls back to the default')
        self.assertEqual(self.suggest(self.owner, '   '), [])
        self.assertEqual(self.env['maildesk.draft'].with_user(self.owner).maildesk_recipient_suggestions(
            {'not': 'a term'}), [])

    # ------------------------------------------------------------------ one line per field

    def draft(self, **values):
        return self.env['maildesk.draft'].with_user(self.owner).create(dict({'account_id': self.sales.id}, **values))

    def test_one_line_holds_contacts_and_free_addresses(self):
        partners_before = self.env['res.partner'].search_count([])
        draft = self.draft(to_emails='"Doe, Jane" <jane.doe@northwind-secret.test>; new.person@nowhere.test, '
                                     'Northwind Contact <contact@northwind-secret.test>',
                           cc_emails='Cc Person <cc.person@northwind-secret.test>')
        result = draft._recipients()
        self.assertEqual(result['to'], [('Doe, Jane', 'jane.doe@northwind-secret.test'),
                                        ('', 'new.person@nowhere.test'),
                                        ('Northwind Contact', 'contact@northwind-secret.test')])
        self.assertEqual(result['cc'], [('Cc Person', 'cc.person@northwind-secret.test')])
        self.assertEqual(draft._recipient_partners(), self.contact, 'a known address links its contact')
        self.assertEqual(self.env['res.partner'].search_count([]), partners_before, 'no contact was created')

    def test_a_typing_mistake_is_named(self):
        draft = self.draft(to_emails='ok@example.com, not an address')
        with self.assertRaisesRegex(UserError, 'not an address'):
            draft._recipients()

    def test_reply_puts_everyone_on_the_lines(self):
        message = self.env['maildesk.message'].search([('from_address', '=', SECRET_CORRESPONDENT)])
        vals = self.env['maildesk.draft'].with_user(self.owner)._reply_recipients(self.sales, 'reply_all', message)
        self.assertEqual(set(vals), {'to_emails', 'cc_emails'})
        self.assertIn(SECRET_CORRESPONDENT, vals['to_emails'])
        self.assertNotIn('sales@contoso.test', vals['to_emails'], 'never answer oneself')

    def test_migration_moves_contacts_into_the_line(self):
        migration = load_script('maildesk/migrations/18.0.1.3.0/post-recipient-lines.py', 'maildesk_recipient_lines')
        other = self.env['res.partner'].create({'name': 'No Address'})
        unsent = self.draft(to_emails='kept@example.com', to_partner_ids=[Command.set((self.contact | other).ids)],
                            bcc_partner_ids=[Command.set(self.contact.ids)])
        sent = self.draft(to_partner_ids=[Command.set(self.contact.ids)])
        sent.sudo().state = 'sent'
        migration.migrate(self.env.cr, '18.0.1.2.0')
        self.env.invalidate_all()
        self.assertEqual(recipients.parse_line(unsent.to_emails),
                         [('', 'kept@example.com'), ('Northwind Contact', 'contact@northwind-secret.test')])
        self.assertEqual(unsent.to_partner_ids, other, 'a contact without an address stays (refused at send)')
        self.assertEqual(recipients.parse_line(unsent.bcc_emails),
                         [('Northwind Contact', 'contact@northwind-secret.test')])
        self.assertFalse(unsent.bcc_partner_ids)
        self.assertEqual(sent.to_partner_ids, self.contact, 'a sent draft is history')
