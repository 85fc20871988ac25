"""A send and a sync of Sent Items in two transactions at once, with real commits (what two Odoo workers do)."""
import threading
from unittest.mock import patch

from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from odoo.addons.maildesk.engine.sending import DraftSender
from odoo.addons.maildesk.tests.common import MaildeskMixin, committed_env
from odoo.addons.maildesk.tests.reliability_common import committed_connected_account

TIMEOUT = 120


@tagged('post_install', '-at_install')
class TestSendConcurrency(MaildeskMixin, TransactionCase):
    """The send's transaction holds the uncommitted local entry while Outlook already has the message in Sent
    Items; a sync worker stores that folder meanwhile. The unique (account, graph_id) index makes the worker wait
    for the send to commit, then it updates the same row: one row, whatever the timing."""

    emulator_options = {'users': 2, 'messages': 3}

    @classmethod
    def configure_maildesk(cls, **overrides):
        cls.configure_maildesk_committed(**overrides)

    @classmethod
    def committed_env(cls):
        return committed_env(cls.registry)

    def committed_account(self):
        return committed_connected_account(self, self.emulator.users[1],
                                           lambda folder: folder.role in ('inbox', 'sentitems'))

    def sync(self, account_id):
        with self.committed_env() as env:
            env['maildesk.account'].browse(account_id)._sync_round()

    def test_sync_while_send_in_flight_two_transactions(self):
        account_id = self.committed_account()
        self.sync(account_id)
        with self.committed_env() as env:
            action = env['maildesk.account'].browse(account_id).action_compose()
            env['maildesk.draft'].browse(action['res_id']).write(
                {'to_emails': 'someone@example.com', 'subject': 'Two workers', 'body_html': '<p>hi</p>'})
            draft_id = action['res_id']

        sent_to_outlook, outcome = threading.Event(), {}
        finish_sent = DraftSender._finish_sent

        def slow_finish(sender, *args, **kwargs):
            # Outlook has sent the message and filed its Sent Items copy (same immutable id; seconds after /send
            # in reality: the emulator's sent_copy_delay, completed now); MailDesk has not committed yet.
            self.emulator.settle()
            sent_to_outlook.set()
            threading.Event().wait(2.0)  # the worker's sync hits the uncommitted local entry meanwhile
            return finish_sent(sender, *args, **kwargs)

        def send():
            try:
                with self.committed_env() as env:
                    outcome['result'] = env['maildesk.draft'].browse(draft_id).action_send()
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                outcome['error'] = exc
            finally:
                sent_to_outlook.set()

        with patch.object(DraftSender, '_finish_sent', slow_finish), mute_logger('odoo.sql_db'):
            sender = threading.Thread(target=send, name='maildesk-send')
            sender.start()
            self.assertTrue(sent_to_outlook.wait(TIMEOUT))
            self.sync(account_id)  # waits on the unique index for the send's commit, then updates that row
            sender.join(TIMEOUT)
        self.assertFalse(outcome.get('error'))
        self.assertEqual(outcome['result']['params']['type'], 'success', outcome['result']['params'])
        with self.committed_env() as env:
            row = env['maildesk.message'].search([('account_id', '=', account_id), ('subject', '=', 'Two workers')])
            self.assertEqual(len(row), 1)
            self.assertTrue(row.change_key, 'the in-flight sync stored Outlook\'s copy on the same row')
        self.sync(account_id)

        with self.committed_env() as env:
            draft = env['maildesk.draft'].browse(draft_id)
            rows = env['maildesk.message'].with_context(active_test=False).search(
                [('account_id', '=', account_id), ('subject', '=', 'Two workers')])
            self.assertEqual(len(rows), 1, 'one row, never two')
            self.assertEqual(rows.graph_id, draft.graph_draft_id)
            self.assertEqual(rows.folder_id.role, 'sentitems')
            self.assertFalse(rows.is_local, "Outlook's copy replaced the local entry")
