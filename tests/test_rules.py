"""Mail rules of a gateway mailbox: in order, a dry run that changes nothing, then the gateway applying them."""
import base64

from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.maildesk.engine import rules
from odoo.addons.maildesk.tests.test_gateway import GatewayCase


@tagged('post_install', '-at_install')
class TestRules(GatewayCase):

    def setUp(self):
        super().setUp()
        self.server.object_id = False  # only the rules (and aliases) decide where mail goes
        self.archive = self.account.folder_ids.filtered(lambda f: f.role == 'archive')
        self.assertTrue(self.archive)
        self.billing = self.env['maildesk.tag'].create({'name': 'Billing'})
        self.seller = self.make_maildesk_user(self.env, 'seller')
        Rule = self.env['maildesk.rule']
        self.invoices = Rule.create({
            'name': 'Invoices', 'sequence': 1, 'account_id': self.account.id, 'subject_contains': 'INVOICE',
            'tag_ids': [(6, 0, self.billing.ids)], 'mark_read': True, 'stop_processing': True})
        self.customers = Rule.create({
            'name': 'Fabrikam to partners', 'sequence': 2, 'account_id': self.account.id,
            'from_contains': '@fabrikam.test', 'route_model_id': self.env['ir.model']._get_id('res.partner'),
            'assign_user_id': self.seller.id})
        self.files = Rule.create({
            'name': 'Files to Archive', 'sequence': 3, 'account_id': self.account.id, 'has_attachments': 'yes',
            'move_folder_id': self.archive.id})
        # the class's emulator keeps every test's mail: subjects of this test only
        self.invoice_subject, self.specs_subject, self.lunch_subject = (
            '%s (%s)' % (subject, self._testMethodName) for subject in ('Invoice 12 for March', 'Specs attached',
                                                                        'Lunch?'))
        self.deliver(self.invoice_subject)
        self.deliver(self.specs_subject, attachments=[{'name': 'specs.txt', 'contentType': 'text/plain',
                                                       'contentBytes': base64.b64encode(b'specs').decode()}])
        self.deliver(self.lunch_subject, **{'from': {'name': 'Ann', 'address': 'ann@example.com'}})
        self.sync_account(self.account)

    def test_dry_run_shows_and_changes_nothing(self):
        self.invoices.dry_run_limit = 10
        self.invoices.action_dry_run()
        report = {row['message'].subject: row for row in rules.dry_run(self.account, 10)}
        self.assertEqual(report[self.invoice_subject]['rule_ids'], self.invoices.ids, '"Stop Here" stops')
        self.assertEqual(report[self.specs_subject]['rule_ids'], (self.customers | self.files).ids, 'in order')
        self.assertEqual(report[self.lunch_subject]['rule_ids'], [])
        self.assertIn('move to %s' % self.archive.name, report[self.specs_subject]['actions'])
        self.assertIn(self.specs_subject, self.invoices.dry_run_report)
        self.assertTrue(self.invoices.message_ids.filtered(lambda m: 'Dry run' in (m.body or '')), 'logged')
        # nothing happened
        self.assertFalse(self.env['maildesk.route'].search([('account_id', '=', self.account.id)]))
        self.assertFalse(self.partners(self.specs_subject))
        self.assertFalse(self.message(self.invoice_subject).tag_ids)
        self.assertFalse(self.message(self.invoice_subject).is_read)
        self.assertEqual(self.message(self.specs_subject).folder_id, self.inbox)

    def test_gateway_applies_rules_in_order(self):
        with mute_logger('odoo.addons.mail.models.mail_thread'):
            self.route()
        invoice = self.message(self.invoice_subject)
        self.assertEqual(invoice.tag_ids, self.billing)
        self.assertTrue(invoice.is_read)
        self.assertEqual(self.routes(invoice).state, 'no_route', 'the Invoices rule stops before routing rules')

        specs = self.message(self.specs_subject)
        partner = self.partners(self.specs_subject)
        self.assertEqual(len(partner), 1, 'routed to the rule\'s model')
        self.assertEqual(partner.user_id, self.seller, 'assigned to the rule\'s user')
        self.assertEqual(specs.folder_id, self.archive, 'moved by the Files rule')
        state = self.emulator.state(self.account.email)
        archive = next(folder for folder in state.values() if folder['well_known'] == 'archive')
        self.assertIn(specs.graph_id, archive['messages'], 'moved in Outlook too (write-back)')
        self.assertFalse(specs.tag_ids)

        self.assertEqual(self.routes(self.message(self.lunch_subject)).state, 'no_route')
        logged = self.customers.message_ids.filtered(lambda m: 'Applied to' in (m.body or ''))
        self.assertEqual(len(logged), 1, 'each application is logged on the rule')
        self.assertIn(self.specs_subject, logged.body)
        self.assertEqual(len(self.invoices.message_ids.filtered(lambda m: 'Applied to' in (m.body or ''))), 1)

    def test_rule_folder_is_routed_too(self):
        self.files.write({'folder_id': self.archive.id, 'has_attachments': False, 'move_folder_id': False})
        self.archive.sync_enabled = True
        self.emulator.deliver(self.account.email, folder='archive', subject='Filed by Outlook',
                              **{'from': {'name': 'Alex', 'address': 'alexw@fabrikam.test'}})
        self.sync_account(self.account)
        with mute_logger('odoo.addons.mail.models.mail_thread'):
            self.route()
        filed = self.message('Filed by Outlook')
        self.assertEqual(filed.folder_id, self.archive)
        self.assertEqual(self.routes(filed).state, 'routed')
        self.assertEqual(len(self.partners('Filed by Outlook')), 1)
