"""One truthful status while Microsoft refuses the sign-in (issue #19, item 6): the folder pane's status, the Sync
answer and the send error tell the same story, in the user's words, against the emulator (nothing mocked)."""
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.maildesk.engine import feedback

from .test_send import MaildeskSendCase


@tagged('post_install', '-at_install')
class TestTruthfulStatus(MaildeskSendCase):

    def sync_now(self, account=None):
        """The Sync button: action_sync_now, its units on cursors of their own (the test cursor, in test mode)."""
        account = account or self.account
        self.env.flush_all()
        self.registry.enter_test_mode(self.cr)
        try:
            return account.action_sync_now()
        finally:
            self.registry.leave_test_mode()
            self.env.invalidate_all()

    def pane_status(self, account=None):
        account = account or self.account
        tree = self.env['maildesk.inbox'].maildesk_folder_tree()
        return next(node['status'] for node in tree['accounts'] if node['id'] == account.id)

    def suspend(self):
        self.account._write_status({'state': 'auth_invalid', 'auth_failure_count': 3})

    def test_refused_sync_now_does_not_leave_connected(self):
        self.assertEqual(self.pane_status()['kind'], 'connected')
        last_sync = self.account.last_sync_at
        self.emulator.control('POST', '/revoke', {'user': self.account.email, 'access_tokens': True})
        with mute_logger('odoo.addons.maildesk.engine.sign_in'):
            action = self.sync_now()
        toast = self.assertNotification(action, 'danger')['message']
        self.assertEqual((self.account.state, self.account.auth_failure_count), ('connected', 1),
                         'one refusal counts, it does not suspend yet')
        status = self.pane_status()
        self.assertEqual(status['kind'], 'auth_failing', status)
        self.assertNotEqual(status['label'], 'Connected')
        self.assertIn('Authorize Outlook', status['message'])
        self.assertIn(status['message'], toast, 'the toast tells what the status tells')
        self.assertEqual(self.account.last_sync_at, last_sync, 'a refused round is not a sync')

    def test_sync_while_suspended_says_so(self):
        self.suspend()
        self.emulator.reset_counters()
        action = self.sync_now()
        params = self.assertNotification(action, 'warning')
        self.assertIn('suspended', params['message'])
        self.assertIn('Authorize Outlook', params['message'])
        self.assertEqual(self.emulator.counters()['total'], 0, 'nothing asked of Microsoft while suspended')
        status = self.pane_status()
        self.assertEqual((status['kind'], status['label']), ('auth_invalid', 'Sync suspended'))
        self.assertEqual(status['message'], params['message'], 'the pane and the Sync answer say the same')

    def test_send_while_suspended_is_one_sentence(self):
        draft = self.compose(subject='While suspended')
        self.suspend()
        params = self.assertNotification(draft.action_send(), 'danger')
        message = params['message']
        self.assertEqual(message, feedback.suspended_text(self.env))
        for wrong in ('No Microsoft sign-in is stored', 'Microsoft said', '(auth_invalid)'):
            self.assertNotIn(wrong, message)
        self.assertEqual(draft.state, 'failed')
        self.assertEqual(draft.subject, 'While suspended', 'nothing typed is lost')


@tagged('post_install', '-at_install')
class TestFolderCounts(MaildeskSendCase):
    """Issue #19, item 8: the Folders tab and the folder pane count from one source, refreshed by every sync."""

    def pane_unread(self, folder):
        tree = self.env['maildesk.inbox'].maildesk_folder_tree()
        nodes = [node for account in tree['accounts'] for node in account['folders']]
        while nodes:
            node = nodes.pop()
            if node['id'] == folder.id:
                return node['unread']
            nodes.extend(node['children'])
        return None

    def local_counts(self, folder):
        Message = self.env['maildesk.message']
        return (Message.search_count([('folder_id', '=', folder.id)]),
                Message.search_count([('folder_id', '=', folder.id), ('is_read', '=', False)]))

    def assertOneStory(self, folder):
        folder.invalidate_recordset(['message_total', 'message_unread'])
        total, unread = self.local_counts(folder)
        self.assertEqual((folder.message_total, folder.message_unread), (total, unread))
        self.assertEqual(self.pane_unread(folder), unread, 'the pane says what the Folders tab says')
        return total, unread

    def test_counts_follow_each_sync(self):
        total, unread = self.assertOneStory(self.inbox)
        self.assertTrue(total)
        self.emulator.deliver(self.account.email, count=3, subject='Counted')
        self.sync()
        self.assertEqual(self.assertOneStory(self.inbox), (total + 3, unread + 3), 'refreshed by the sync')
        counted = self.env['maildesk.message'].search([('subject', '=', 'Counted')], limit=1)
        counted.sudo().is_read = True
        self.assertEqual(self.assertOneStory(self.inbox), (total + 3, unread + 2))

    def test_unsynced_folder_counts_nothing(self):
        drafts = self.drafts_folder
        self.assertFalse(drafts.sync_enabled)
        self.assertEqual((drafts.message_total, drafts.message_unread), (0, 0))
        self.assertEqual(self.pane_unread(drafts), 0)
