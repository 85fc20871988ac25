"""Log to record: a MailDesk message (body and attachments) posted once on the chatter of an Odoo record."""
import base64

from odoo.exceptions import UserError
from odoo.tests import tagged

from odoo.addons.maildesk.tests.test_send import MaildeskSendCase


@tagged('post_install', '-at_install')
class TestLogToRecord(MaildeskSendCase):

    def test_log_with_attachments_once(self):
        partner = self.env['res.partner'].create({'name': 'Alex Wilber', 'email': 'alexw@fabrikam.test'})
        self.emulator.deliver(self.account.email, subject='Quote request', body='<p>Please quote 10 units</p>',
                              attachments=[{'name': 'specs.pdf', 'contentType': 'application/pdf',
                                            'contentBytes': base64.b64encode(b'%PDF-1.4 specs').decode()}],
                              **{'from': {'name': 'Alex Wilber', 'address': 'alexw@fabrikam.test'}})
        self.sync()
        message = self.rows('Quote request', self.inbox)
        self.assertEqual(message.from_partner_id, partner)

        wizard_action = message.action_log_to_record()
        self.assertEqual(wizard_action['res_model'], 'maildesk.log.record')
        wizard = self.env['maildesk.log.record'].with_context(**wizard_action['context']).create({})
        self.assertEqual(wizard.resource_ref, partner, 'the sender is proposed')
        self.assertIn('res.partner', dict(wizard._selection_target_model()))
        wizard.action_log()

        posted = partner.message_ids.filtered(lambda m: m.subject == 'Quote request')
        self.assertEqual(len(posted), 1)
        self.assertIn('Please quote 10 units', posted.body)
        self.assertEqual(posted.attachment_ids.mapped('name'), ['specs.pdf'])
        self.assertEqual(posted.attachment_ids.raw, b'%PDF-1.4 specs')
        self.assertEqual(posted.attachment_ids.res_model, 'res.partner')
        self.assertEqual(posted.subtype_id, self.env.ref('mail.mt_note'))
        self.assertEqual((message.res_model, message.res_id), ('res.partner', partner.id))

        with self.assertRaisesRegex(UserError, 'already logged'):
            message.action_log_to_record('res.partner', partner.id)
        with self.assertRaisesRegex(UserError, 'already logged'):
            message.action_log_to_record()
        self.assertEqual(len(partner.message_ids.filtered(lambda m: m.subject == 'Quote request')), 1)

    def test_log_on_any_chatter_model_from_the_inbox(self):
        self.emulator.deliver(self.account.email, subject='For the team')
        self.sync()
        message = self.rows('For the team', self.inbox)
        channel_like = self.env['res.partner'].create({'name': 'Some company', 'is_company': True})
        result = message.action_log_to_record('res.partner', channel_like.id)
        self.assertEqual(result, {'model': 'res.partner', 'id': channel_like.id, 'name': 'Some company'})
        with self.assertRaisesRegex(UserError, 'chatter'):
            message.action_log_to_record('res.country', 1)

    def test_log_a_sent_message(self):
        partner = self.env['res.partner'].create({'name': 'Client', 'email': 'client@example.com'})
        draft = self.compose(subject='Offer', to_emails=False, to_partner_ids=[(6, 0, partner.ids)],
                             attachments=[('offer.txt', b'the offer', 'text/plain')])
        draft.action_send()
        sent = draft.sent_message_id
        wizard = self.env['maildesk.log.record'].with_context(default_message_id=sent.id).create({})
        self.assertEqual(wizard.resource_ref, partner, 'for a sent message: its recipient')
        wizard.action_log()
        posted = partner.message_ids.filtered(lambda m: m.subject == 'Offer')
        self.assertEqual(posted.attachment_ids.mapped('name'), ['offer.txt'])
