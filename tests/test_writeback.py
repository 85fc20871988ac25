"""Write-back of read / flag / categories / move / delete to Outlook, against the emulator (nothing mocked)."""
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.maildesk.tests.test_send import MaildeskSendCase

LOGGER = 'odoo.addons.maildesk.engine.write_back'


@tagged('post_install', '-at_install')
class TestWriteBack(MaildeskSendCase):

    def setUp(self):
        super().setUp()
        self.subject = 'Write back %s' % self._testMethodName
        self.emulator.deliver(self.account.email, count=2, subject=self.subject)
        self.sync()
        self.messages = self.rows(self.subject, self.inbox)
        self.assertEqual(len(self.messages), 2)
        self.message = self.messages[0]

    def server(self, message=None):
        """The emulator's copy of ``message`` (any folder) and the well-known name of its folder."""
        message = message or self.message
        for folder in self.emulator.state(self.account.email).values():
            if message.graph_id in folder['messages']:
                return folder['messages'][message.graph_id], folder['well_known']
        return None, None

    def test_mark_read_unread_flag_categories(self):
        self.assertFalse(self.message.is_read)
        self.assertIs(self.message.action_mark_read(), True)
        self.assertTrue(self.message.is_read)
        self.assertFalse(self.message.pending_action, 'confirmed by Graph')
        self.assertTrue(self.server()[0]['isRead'])
        self.message.action_mark_unread()
        self.assertFalse(self.server()[0]['isRead'])

        self.message.action_toggle_flag()
        self.assertEqual(self.message.flag_status, 'flagged')
        self.assertEqual(self.server()[0]['flagStatus'], 'flagged')
        self.message.action_toggle_flag()
        self.assertEqual(self.server()[0]['flagStatus'], 'notFlagged')

        self.message.action_set_categories(['Red category', 'Project X'])
        self.assertEqual(self.message.categories, 'Red category, Project X')
        self.assertEqual(self.server()[0]['categories'], ['Red category', 'Project X'])

        # the next delta round agrees: same values, same rows
        self.message.action_mark_read()
        self.sync()
        self.assertTrue(self.message.is_read)
        self.assertEqual(self.message.categories, 'Red category, Project X')
        self.assertEqual(len(self.rows(self.subject)), 2)

    def test_batch_mark_read(self):
        self.emulator.reset_counters()
        self.messages.action_mark_read()
        self.assertEqual(self.emulator.counters()['by_endpoint'].get('POST /v1.0/$batch'), 1,
                         'two messages: one Graph $batch request')
        self.assertTrue(all(self.messages.mapped('is_read')))
        self.assertTrue(all(self.server(m)[0]['isRead'] for m in self.messages))

    def test_move_and_delete(self):
        archive = self.account.folder_ids.filtered(lambda f: f.role == 'archive')
        self.assertTrue(archive)
        archive.sync_enabled = True
        self.sync()
        graph_id = self.message.graph_id
        self.emulator.reset_counters()
        self.message.action_move(archive.id)
        self.assertEqual(self.message.folder_id, archive)
        self.assertEqual(self.server()[1], 'archive')
        self.assertEqual(self.message.graph_id, graph_id, 'immutable id: same id after the move')
        self.sync()
        self.assertEqual(self.message.folder_id, archive, 'the next delta round agrees (no flip back)')
        self.assertTrue(self.message.active)
        self.assertEqual(len(self.rows(self.subject)), 2)

        other = self.messages[1]
        other.action_delete()
        self.assertEqual(self.server(other)[1], 'deleteditems')
        self.assertEqual(other.folder_id.role, 'deleteditems', 'moved locally at once')
        self.sync()
        self.assertEqual(other.folder_id.role, 'deleteditems', "the Inbox's @removed does not undo it")
        self.assertEqual(self.emulator.counters()['by_endpoint'].get('POST /v1.0/me/messages/{id}/move'), 1,
                         'the delete itself is one DELETE, not an extra move')

    def test_injected_500_reverts_with_message(self):
        """Acceptance: a write-back failure (injected 500) reverts the local state with a visible message."""
        self.emulator.faults({'status': 500, 'path_contains': '/messages/', 'method': 'PATCH'})
        with mute_logger(LOGGER):
            result = self.message.action_mark_read()
        self.assertEqual(result['tag'], 'display_notification')
        self.assertEqual(result['params']['type'], 'danger')
        self.assertIn('change undone', result['params']['title'])
        self.assertIn('Outlook could not be reached or failed', result['params']['message'])
        self.assertFalse(self.message.is_read, 'reverted')
        self.assertFalse(self.message.pending_action)
        self.assertFalse(self.server()[0]['isRead'])
        self.emulator.faults()
        self.sync()
        self.assertFalse(self.message.is_read, 'the next delta round agrees')

    def test_failed_move_reverts(self):
        archive = self.account.folder_ids.filtered(lambda f: f.role == 'archive')
        self.emulator.faults({'status': 503, 'path_contains': '/move', 'retry_after': '120'})
        with mute_logger(LOGGER):
            result = self.message.action_move(archive.id)
        self.assertEqual(result['params']['type'], 'danger')
        self.assertIn('slow down', result['params']['message'])
        self.assertEqual(self.message.folder_id, self.inbox)
        self.assertEqual(self.server()[1], 'inbox')

    def test_message_gone_in_outlook(self):
        self.account._graph_client().delete_message(self.message.graph_id)
        self.account._graph_client().delete_message(self.message.graph_id)  # purge from Deleted Items
        with mute_logger(LOGGER):
            result = self.message.action_toggle_flag()
        self.assertIn('no longer has this message', result['params']['message'])
        self.assertEqual(self.message.flag_status, 'notFlagged')

    def test_read_only_stays_local(self):
        self.configure_maildesk(**{'maildesk.permission_level': 'read'})
        self.emulator.reset_counters()
        result = self.message.action_mark_read()
        self.assertEqual(result['params']['type'], 'warning')
        self.assertIn('Read only', result['params']['message'])
        self.assertTrue(self.message.is_read, 'changed in MailDesk')
        self.assertFalse(self.message.pending_action)
        self.assertFalse(self.server()[0]['isRead'], 'Outlook is not told')
        self.assertEqual(self.emulator.counters()['total'], 0)

    def test_not_authorized_reverts(self):
        self.account._write_status({'state': 'auth_invalid'})
        with mute_logger(LOGGER, 'odoo.addons.maildesk.engine.sign_in'):
            result = self.messages.action_mark_read()
        self.assertEqual(result['params']['type'], 'danger')
        self.assertIn('2 messages', result['params']['message'])
        self.assertFalse(any(self.messages.mapped('is_read')))
