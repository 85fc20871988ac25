"""Mail from the person and pacing (issue #20): a user's chatter mail leaves through his own mailbox, From him,
once in his Sent Items; a mailbox that cannot send falls back to the company server with a note; a burst is paced
under Exchange Online's 30 messages per minute without losing a mail."""
from email import message_from_bytes
from unittest.mock import patch

from odoo.tests import tagged

from odoo.addons.maildesk.engine import personal_sending, send_pacing
from odoo.addons.maildesk.graph.client import GraphClient

from .common import MaildeskCase
from .test_mail_servers import SentItemsMixin


@tagged('post_install', '-at_install')
class TestPersonalSending(SentItemsMixin, MaildeskCase):

    emulator_options = {'users': 2, 'messages': 2}

    def setUp(self):
        super().setUp()
        self.env['ir.config_parameter'].sudo().set_param(personal_sending.SETTING, True)
        self.user = self.make_maildesk_user(self.env, 'person', groups='base.group_partner_manager')
        self.user.email = self.emulator.users[0]
        self.account = self.make_account(email=self.emulator.users[0], user=self.user, sender_name='Adele Person')
        # a catchall: Odoo's Reply-To brings answers back to the record through the mail gateway
        self.env.company.alias_domain_id = self.env['mail.alias.domain'].create({'name': 'crm.example.com'})
        self.customer = self.env['res.partner'].create({'name': 'Customer', 'email': 'customer@fabrikam.test'})
        self.record = self.env['res.partner'].create({'name': 'Deal partner'})
        self.company_server = self.env['ir.mail_server'].sudo().create({
            'name': 'Company SMTP', 'smtp_host': 'smtp.example.com', 'smtp_port': 25, 'sequence': 90})

    def post(self, body='Here is the offer.', record=None):
        record = (record or self.record).with_user(self.user)
        return record.message_post(body=body, partner_ids=self.customer.ids, message_type='comment',
                                   subtype_xmlid='mail.mt_comment')

    def sent_copies(self, message_id):
        self.emulator.settle()
        sent = next(f for f in self.emulator.state(self.account.email).values() if f['well_known'] == 'sentitems')
        return [m for m in sent['messages'].values() if m['internetMessageId'] == message_id]

    def status(self, message):
        notification = message.sudo().notification_ids.filtered(lambda n: n.res_partner_id == self.customer)
        return notification.notification_status, notification.failure_reason

    def test_chatter_mail_goes_out_from_the_author_mailbox_once(self):
        sent_mime, send_mime = [], GraphClient.send_mime

        def spy(client, mime):
            sent_mime.append(message_from_bytes(mime))
            return send_mime(client, mime)
        with patch.object(GraphClient, 'send_mime', spy):
            message = self.post()
        status, failure = self.status(message)
        self.assertEqual(status, 'sent', failure)
        copies = self.sent_copies(message.message_id)
        self.assertEqual(len(copies), 1, 'exactly one copy in his Sent Items')
        mime = self.sent_mime(self.account, message.message_id)
        self.assertIn(self.account.email, mime['From'], 'From = the author')
        self.assertEqual(mime['Message-Id'].strip(), message.message_id,
                         "Odoo's Message-ID: replies come back to the record")
        self.assertIn('@crm.example.com', mime['Reply-To'], "Outlook's copy keeps Odoo's catchall Reply-To")
        self.assertEqual(len(sent_mime), 1)
        self.assertIn('@crm.example.com', sent_mime[0]['Reply-To'], "Odoo's catchall, not the mailbox")
        server = self.account.sudo().mail_server_ids
        self.assertEqual(len(server), 1, 'one personal outgoing server, visible to administrators')
        self.assertFalse(self.env['maildesk.system.mail'].sudo().search(
            [('message_id', '=', message.message_id)]), "his own mail: its Sent Items copy is shown to him")
        self.post(body='Second one')
        self.assertEqual(self.account.sudo().mail_server_ids, server, 'reused')

    def test_mailbox_that_cannot_send_falls_back_with_a_note(self):
        self.account._write_status({'state': 'auth_invalid'})
        self.emulator.reset_counters()
        message = self.post()
        self.assertEqual(self.status(message)[0], 'sent')
        self.assertFalse(self.sent_copies(message.message_id))
        self.assertEqual(self.emulator.counters()['total'], 0, 'nothing asked of Microsoft')
        notes = self.record.message_ids.filtered(lambda m: 'company mail server' in (m.body or ''))
        self.assertEqual(len(notes), 1)
        self.assertIn('Authorize Outlook', notes.body)

    def test_setting_off_keeps_odoo_routing(self):
        self.env['ir.config_parameter'].sudo().set_param(personal_sending.SETTING, False)
        message = self.post()
        self.assertEqual(self.status(message)[0], 'sent')
        self.assertFalse(self.sent_copies(message.message_id))
        self.assertFalse(self.account.sudo().mail_server_ids)

    def test_burst_of_100_is_paced_without_losing_one(self):
        Mail = self.env['mail.mail'].sudo()
        messages = self.env['mail.message']
        for index in range(100):
            messages |= self.post(body='Burst %d' % index)
        sent_per_window, rounds = [], 0
        outgoing = Mail.search_count([('mail_message_id', 'in', messages.ids), ('state', '=', 'outgoing')])
        sent_per_window.append(100 - outgoing)
        while outgoing and rounds < 10:
            rounds += 1
            # a minute passes for the pacing window
            self.env.flush_all()
            self.env.cr.execute("UPDATE maildesk_send_pace SET sent_at = sent_at - interval '61 seconds'")
            self.env.invalidate_all()
            Mail.process_email_queue()
            left = Mail.search_count([('mail_message_id', 'in', messages.ids), ('state', '=', 'outgoing')])
            sent_per_window.append(outgoing - left)
            outgoing = left
        self.assertEqual(sent_per_window, [30, 30, 30, 10], 'never more than 30 messages a minute')
        self.assertFalse(Mail.search_count([('mail_message_id', 'in', messages.ids), ('state', '=', 'exception')]))
        self.emulator.settle()
        sent = next(f for f in self.emulator.state(self.account.email).values() if f['well_known'] == 'sentitems')
        delivered = {m['internetMessageId'] for m in sent['messages'].values()}
        self.assertEqual(set(messages.mapped('message_id')) - delivered, set(), 'not one lost')
        self.assertEqual(send_pacing.MESSAGES_PER_MINUTE, 30)
