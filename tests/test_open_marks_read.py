"""Opening a message: the reading pane's read is local (``maildesk_read(..., mark_read=False)``), then
``maildesk_mark_opened`` marks it read in MailDesk and Outlook. Against the emulator, nothing mocked."""
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from odoo.addons.maildesk.tests.test_send import MaildeskSendCase

LOGGER = 'odoo.addons.maildesk.engine.write_back'


@tagged('post_install', '-at_install')
class TestOpenMarksRead(MaildeskSendCase):

    def setUp(self):
        super().setUp()
        self.subject = 'Opened %s' % self._testMethodName
        self.emulator.deliver(self.account.email, count=1, subject=self.subject)
        self.sync()
        self.message = self.rows(self.subject, self.inbox)
        self.assertEqual(len(self.message), 1)
        self.Inbox = self.env['maildesk.inbox']

    def outlook_is_read(self):
        for folder in self.emulator.state(self.account.email).values():
            if self.message.graph_id in folder['messages']:
                return folder['messages'][self.message.graph_id]['isRead']
        raise AssertionError('not in Outlook')

    def test_open_asks_nothing_of_outlook_then_marks_read(self):
        self.message.sudo().write({'body_html': '<p>stored</p>', 'body_fetched_at': '2026-01-01 00:00:00'})
        self.emulator.reset_counters()
        data = self.Inbox.maildesk_read(self.message.id, mark_read=False)
        self.assertIn('stored', data['body_html'])
        self.assertFalse(data['is_read'])
        self.assertEqual(self.emulator.counters()['total'], 0, 'a stored body is a local read')
        self.assertIs(self.Inbox.maildesk_mark_opened(self.message.id), False)
        self.assertTrue(self.message.is_read)
        self.assertTrue(self.outlook_is_read())
        self.emulator.reset_counters()
        self.assertIs(self.Inbox.maildesk_mark_opened(self.message.id), False, 'already read: nothing to do')
        self.assertEqual(self.emulator.counters()['total'], 0)

    def test_refusal_comes_back_and_the_message_stays_unread(self):
        self.emulator.faults({'status': 500, 'path_contains': '/messages/', 'method': 'PATCH'})
        with mute_logger(LOGGER):
            result = self.Inbox.maildesk_mark_opened(self.message.id)
        self.emulator.faults()
        self.assertEqual(result['params']['type'], 'danger')
        self.assertFalse(self.message.is_read, 'undone, as Outlook has it')
        self.assertFalse(self.outlook_is_read())

    def test_read_only_marks_locally_and_says_nothing(self):
        self.configure_maildesk(**{'maildesk.permission_level': 'read'})
        self.assertIs(self.Inbox.maildesk_mark_opened(self.message.id), False)
        self.assertTrue(self.message.is_read)
        self.assertFalse(self.outlook_is_read())

    def test_others_cannot_mark_a_message_they_may_not_read(self):
        stranger = new_test_user(self.env, login='md_open_stranger',
                                 groups='base.group_user,maildesk.group_maildesk_user')
        self.emulator.reset_counters()
        self.assertIs(self.Inbox.with_user(stranger).maildesk_mark_opened(self.message.id), False)
        self.assertFalse(self.message.is_read)
        self.assertEqual(self.emulator.counters()['total'], 0)
