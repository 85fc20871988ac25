"""Send later and Undo send (issue #20): queued drafts leave through DraftSender when due, an Undo sends nothing."""
from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from odoo.addons.maildesk.engine import send_queue

from .test_send import MaildeskSendCase

SEND_ENDPOINTS = ('/send', '/sendMail', '/reply', '/forward')


@tagged('post_install', '-at_install')
class TestSendQueue(MaildeskSendCase):

    def setUp(self):
        super().setUp()
        self.env['ir.config_parameter'].sudo().set_param(send_queue.UNDO_PARAM, 10)

    def run_queue(self):
        self.env.flush_all()
        self.registry.enter_test_mode(self.cr)
        try:
            return self.env['maildesk.draft']._cron_send_queue()
        finally:
            self.registry.leave_test_mode()
            self.env.invalidate_all()

    def time_passes(self, draft, seconds=11):
        """The queue's clock moves on: the draft's due time is ``seconds`` earlier."""
        draft._write_sending({'send_due_at': draft.send_due_at - timedelta(seconds=seconds)})

    def sends(self):
        return sum(self.endpoint_count(fragment) for fragment in SEND_ENDPOINTS)

    def test_undo_within_the_window_sends_nothing(self):
        draft = self.compose(subject='Undo me')
        self.emulator.reset_counters()
        action = draft.action_send()
        self.assertEqual((action['res_model'], action['res_id']), ('maildesk.draft', draft.id),
                         'the composer stays open with its Undo button')
        self.assertTrue(draft.send_due_at)
        self.assertLessEqual(draft.send_due_at, fields.Datetime.now() + timedelta(seconds=10))
        self.assertEqual(self.run_queue(), 0, 'not due yet')
        draft.action_undo_send()
        self.assertFalse(draft.send_due_at)
        self.assertEqual(draft.state, 'draft')
        self.assertEqual(self.run_queue(), 0)
        self.emulator.settle()
        self.assertEqual(self.emulator.counters()['total'], 0, 'Outlook heard nothing')
        self.assertFalse(self.server_messages('Undo me', 'sentitems'))
        self.assertFalse(self.rows('Undo me'))

    def test_after_the_window_the_cron_sends_once(self):
        draft = self.compose(subject='Goes after the window', to=self.account.email)
        draft.action_send()
        self.assertEqual(self.sends(), 0)
        self.time_passes(draft)
        self.assertEqual(self.run_queue(), 1)
        self.assertEqual((draft.state, draft.send_due_at), ('sent', False))
        self.assertEqual(self.run_queue(), 0, 'never twice')
        self.emulator.settle()
        self.assertEqual(len(self.server_messages('Goes after the window', 'sentitems')), 1)
        with self.assertRaisesRegex(UserError, 'Too late'):
            draft.action_undo_send()

    def test_send_later(self):
        self.env['ir.config_parameter'].sudo().set_param(send_queue.UNDO_PARAM, 0)
        draft = self.compose(subject='Tomorrow morning')
        with self.assertRaises(UserError):
            draft.action_send_later()  # no time chosen
        draft.scheduled_at = fields.Datetime.now() + timedelta(hours=1)
        draft.action_send_later()
        self.assertEqual(draft.send_due_at, draft.scheduled_at)
        self.assertEqual(self.run_queue(), 0)
        self.time_passes(draft, seconds=3601)
        self.assertEqual(self.run_queue(), 1)
        self.assertEqual(draft.state, 'sent')
        self.emulator.settle()
        self.assertEqual(len(self.server_messages('Tomorrow morning', 'sentitems')), 1)

    def test_without_window_send_is_immediate(self):
        self.env['ir.config_parameter'].sudo().set_param(send_queue.UNDO_PARAM, 0)
        draft = self.compose(subject='Right now')
        self.assertNotification(draft.action_send(), 'success')
        self.assertEqual(draft.state, 'sent')

    def test_queued_send_checks_the_author_again(self):
        sender = self.make_maildesk_user(self.env, 'queue_sender')
        self.account.write({'is_shared': True, 'shared_user_ids': [(4, sender.id)], 'send_user_ids': [(4, sender.id)]})
        draft = self.env['maildesk.draft'].with_user(sender).create({
            'account_id': self.account.id, 'to_emails': 'ann@example.com', 'subject': 'Shared send'})
        draft.action_send()
        self.account.write({'send_user_ids': [(3, sender.id)]})  # the owner withdraws the right meanwhile
        self.time_passes(draft)
        self.assertEqual(self.run_queue(), 0)
        self.assertEqual(draft.state, 'failed')
        self.assertTrue(draft.last_error)
        with self.assertRaises(AccessError):
            draft.with_user(sender).write({'send_due_at': False})
