"""Sending from MailDesk against the emulator: local Sent Items entry, reconciliation by sync, retries, replies.

Nothing is mocked: MSAL, the Graph client and the emulator run for real. Where a test needs "sync while the send is
in flight", it wraps MailDesk's own step (a spy that calls the real method) to run a real sync at that moment.
"""
from contextlib import contextmanager
from unittest.mock import patch

from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.maildesk.engine.sending import DraftSender
from odoo.addons.maildesk.graph import errors
from odoo.addons.maildesk.graph.client import GraphClient
from odoo.addons.maildesk.tests.common import MaildeskCase

MB = 1024 * 1024


class MaildeskSendCase(MaildeskCase):
    """An authorized account with Inbox and Sent Items synced; helpers to write, send and sync."""

    emulator_options = {'users': 2, 'messages': 5}

    def setUp(self):
        super().setUp()
        self.account = self.make_account(sender_name='Megan Sender',
                                         signature='<p>Megan, <b>MailDesk</b> team</p>')
        self.account.action_fetch_folders()
        folders = self.account.folder_ids
        self.inbox = folders.filtered(lambda f: f.role == 'inbox')
        self.sent = folders.filtered(lambda f: f.role == 'sentitems')
        self.drafts_folder = folders.filtered(lambda f: f.role == 'drafts')
        self.assertTrue(self.inbox and self.sent)
        (self.inbox | self.sent).write({'sync_enabled': True})
        self.sync()
        self.Message = self.env['maildesk.message'].with_context(active_test=False)

    # ------------------------------------------------------------------ helpers

    def sync(self, account=None):
        """One real sync round (its units use cursors of their own: the test cursor, in test mode)."""
        self.sync_account(account or self.account)

    def compose(self, to=None, subject='Hello', body='<p>Hello there</p>', attachments=(), **values):
        action = self.account.action_compose()
        draft = self.env['maildesk.draft'].browse(action['res_id'])
        draft.write(dict({
            'to_emails': to or 'Ann Other <ann.other@example.com>',
            'subject': subject,
            'body_html': body,
            'attachment_ids': [(0, 0, {'name': name, 'raw': data, 'mimetype': mimetype})
                               for name, data, mimetype in attachments],
        }, **values))
        return draft

    def rows(self, subject, folder=None):
        domain = [('account_id', '=', self.account.id), ('subject', '=', subject)]
        if folder is not None:
            domain.append(('folder_id', '=', folder.id))
        return self.Message.search(domain)

    def server_messages(self, subject, role):
        """Ground truth: the emulator's messages with ``subject`` in the well-known folder ``role``."""
        state = self.emulator.state(self.account.email)
        folder = next(f for f in state.values() if f['well_known'] == role)
        return {mid: m for mid, m in folder['messages'].items() if m['subject'] == subject}

    def settle_and_sync(self):
        """Outlook files the Sent Items copies of what was sent (seconds later in reality: ``sent_copy_delay``),
        then one sync round."""
        self.emulator.settle()
        self.sync()

    def endpoint_count(self, fragment):
        return sum(n for endpoint, n in self.emulator.counters()['by_endpoint'].items() if fragment in endpoint)

    @contextmanager
    def spy(self, method_name, before=None, after=None):
        """Run ``before()`` / ``after()`` around MailDesk's own send step ``DraftSender.<method_name>`` (real call)."""
        original = getattr(DraftSender, method_name)

        def wrapper(sender, *args, **kwargs):
            if before:
                before()
            result = original(sender, *args, **kwargs)
            if after:
                after()
            return result
        with patch.object(DraftSender, method_name, wrapper):
            yield

    def assertNotification(self, action, kind):
        self.assertEqual(action['type'], 'ir.actions.client')
        self.assertEqual(action['tag'], 'display_notification')
        self.assertEqual(action['params']['type'], kind, action['params'].get('message'))
        return action['params']


@tagged('post_install', '-at_install')
class TestSend(MaildeskSendCase):

    def test_send_to_self_reply_one_conversation(self):
        """Acceptance: send to self -> one local entry at once -> after sync exactly one row, the server's ->
        it arrived in Inbox -> reply from MailDesk -> both in one conversation, in both folders."""
        draft = self.compose(subject='Acceptance hello', body='<p>First message</p>', to=self.account.email)
        self.assertNotification(draft.action_send(), 'success')
        self.assertEqual(draft.state, 'sent')

        local = self.rows('Acceptance hello', self.sent)
        self.assertEqual(len(local), 1, 'the sent message shows in Sent Items at once')
        self.assertTrue(local.is_local)
        self.assertEqual(local.graph_id, draft.graph_draft_id, 'the draft id is the Sent Items id (ImmutableId)')
        self.assertEqual(local.direction, 'outgoing')
        self.assertEqual(draft.sent_message_id, local)
        self.emulator.settle()
        server = self.server_messages('Acceptance hello', 'sentitems')
        self.assertEqual(list(server), [local.graph_id], 'Outlook has exactly one Sent Items copy')

        self.sync()
        sent_rows = self.rows('Acceptance hello', self.sent)
        self.assertEqual(sent_rows, local, 'exactly one row: the local entry became the server copy')
        self.assertFalse(sent_rows.is_local)
        self.assertTrue(sent_rows.change_key, 'updated from Outlook')
        received = self.rows('Acceptance hello', self.inbox)
        self.assertEqual(len(received), 1, 'the message arrived in the Inbox')
        self.assertEqual(received.thread_key, sent_rows.thread_key)

        action = received.action_reply()
        reply = self.env['maildesk.draft'].browse(action['res_id'])
        self.assertEqual(reply.kind, 'reply')
        self.assertEqual(reply.subject, 'Re: Acceptance hello')
        self.assertIn(self.account.email, reply.to_emails)
        self.assertIn('First message', reply.body_html, 'the answered message is quoted')
        self.assertIn('MailDesk', reply.body_html, 'the signature is in the body')
        reply.body_html = '<p>My answer</p>' + reply.body_html
        self.assertNotification(reply.action_send(), 'success')
        local_reply = self.rows('Re: Acceptance hello', self.sent)
        self.assertEqual(len(local_reply), 1)
        self.assertEqual(local_reply.thread_key, received.thread_key, 'the local entry is in the conversation')
        self.assertEqual(local_reply.in_reply_to, received.internet_message_id)

        self.settle_and_sync()
        conversation = self.Message.search(received._conversation_domain())
        self.assertEqual(len(self.rows('Re: Acceptance hello', self.sent)), 1)
        self.assertEqual(len(self.rows('Re: Acceptance hello', self.inbox)), 1)
        self.assertEqual(len(conversation), 4, 'original + reply, each in Sent Items and Inbox')
        self.assertEqual(conversation.folder_id, self.inbox | self.sent)
        self.assertFalse(conversation.filtered('is_local'))
        server_reply = self.server_messages('Re: Acceptance hello', 'sentitems')
        self.assertEqual(len(server_reply), 1)
        server_original = self.server_messages('Acceptance hello', 'sentitems')
        self.assertEqual(next(iter(server_reply.values()))['conversationId'],
                         next(iter(server_original.values()))['conversationId'],
                         'createReply kept the Outlook conversation')
        opened = received.action_open_conversation()
        self.assertEqual(self.Message.search(opened['domain']), conversation)

    def test_local_entry_before_sync_has_what_was_sent(self):
        draft = self.compose(subject='Details', cc_emails='Bob <bob@example.com>', bcc_emails='hidden@example.com')
        draft.action_send()
        local = draft.sent_message_id
        self.assertEqual(local.folder_id, self.sent)
        self.assertEqual(local.from_name, 'Megan Sender')
        self.assertIn('bob@example.com', local.cc_recipients)
        self.assertIn('hidden@example.com', local.bcc_recipients)
        self.assertIn('Hello there', local.body_html)
        self.assertTrue(local.is_read)
        self.assertTrue(local.internet_message_id)
        self.sync()
        self.assertEqual(self.rows('Details'), local, 'one row (not sent to self: nothing in Inbox)')
        self.assertEqual(local.internet_message_id, draft.internet_message_id)

    def test_retry_after_network_error_one_row(self):
        """Acceptance: a send that fails on a dropped connection keeps the draft; the retry sends once."""
        draft = self.compose(subject='Retry me')
        self.emulator.faults({'status': 'drop', 'path_contains': '/send', 'method': 'POST', 'count': 1})
        params = self.assertNotification(draft.action_send(), 'danger')
        self.assertIn('could not be reached', params['message'])
        self.assertEqual(draft.state, 'failed')
        self.assertTrue(draft.last_error)
        self.assertEqual(draft.subject, 'Retry me', 'nothing typed is lost')
        self.assertEqual(params['next']['res_id'], draft.id, 'the composer opens again on the draft')
        self.assertFalse(self.rows('Retry me'), 'no local entry for a message that did not go out')
        self.assertEqual(len(self.server_messages('Retry me', 'drafts')), 1)
        draft_id = draft.graph_draft_id

        self.emulator.faults()
        self.assertNotification(draft.action_send(), 'success')
        self.assertEqual(draft.graph_draft_id, draft_id, 'the retry reuses the same Outlook draft')
        self.assertEqual(len(self.rows('Retry me', self.sent)), 1)
        self.settle_and_sync()
        self.assertEqual(len(self.rows('Retry me')), 1)
        self.assertEqual(len(self.server_messages('Retry me', 'sentitems')), 1, 'sent once')
        self.assertFalse(self.server_messages('Retry me', 'drafts'))

    def test_retry_when_the_first_attempt_went_out(self):
        """The connection drops after Outlook sent the message (and Sent Items is synced before the retry):
        the retry sends nothing and finds the one row."""
        draft = self.compose(subject='Went out')
        self.emulator.faults({'status': 'drop', 'path_contains': '/send', 'method': 'POST', 'count': 1})
        self.assertNotification(draft.action_send(), 'danger')
        self.emulator.faults()
        self.account._graph_client().send_draft(draft.graph_draft_id)  # what Outlook did before the drop
        self.settle_and_sync()
        self.assertEqual(len(self.rows('Went out', self.sent)), 1)
        self.emulator.reset_counters()
        self.assertNotification(draft.action_send(), 'success')
        self.assertEqual(self.endpoint_count('/send'), 0, 'not sent a second time')
        self.assertEqual(draft.state, 'sent')
        self.sync()
        self.assertEqual(len(self.rows('Went out')), 1)
        self.assertEqual(len(self.server_messages('Went out', 'sentitems')), 1)

    def test_late_sent_copy_after_an_unanswered_send(self):
        """Issue 13: /send went out but its answer was lost, and Outlook files the Sent Items copy later (the
        draft's id answers 404 meanwhile): sent, never a false 'failed'; one row, the local entry, adopted by the
        sync when the copy arrives."""
        self.emulator.config(sent_copy_delay=60)  # the copy is late for as long as the test needs
        draft = self.compose(subject='Late copy')
        real_send = GraphClient.send_draft

        def send_then_drop(client, message_id):
            real_send(client, message_id)
            raise errors.Transient('connection dropped after the request left', code='network')
        with patch.object(GraphClient, 'send_draft', send_then_drop):
            self.assertNotification(draft.action_send(), 'success')
        self.assertEqual(draft.state, 'sent')
        local = self.rows('Late copy', self.sent)
        self.assertEqual(len(local), 1, 'the local entry stays')
        self.assertTrue(local.is_local)
        self.assertEqual(local.graph_id, draft.graph_draft_id)
        self.sync()
        self.assertFalse(self.server_messages('Late copy', 'sentitems'), 'the copy is still on its way')
        self.assertEqual(self.rows('Late copy'), local, 'a sync before the copy arrives keeps the one entry')
        self.settle_and_sync()
        self.assertEqual(self.rows('Late copy'), local, 'one row: the local entry became Outlook\'s copy')
        self.assertFalse(local.is_local)
        self.assertEqual(list(self.server_messages('Late copy', 'sentitems')), [draft.graph_draft_id])

    def test_retry_while_the_first_send_is_in_flight(self):
        """Issue 13: the first /send went out unanswered and its check failed too; the retry, while the Sent
        Items copy is still on its way (404 for the draft's id), sends nothing again and keeps one row."""
        self.emulator.config(sent_copy_delay=60)
        draft = self.compose(subject='Retry in flight')
        real_send = GraphClient.send_draft

        def send_then_drop(client, message_id):
            real_send(client, message_id)
            raise errors.Transient('connection dropped after the request left', code='network')

        def check_fails(sender, client):
            raise errors.Transient('identity platform unreachable', code='network')
        with patch.object(GraphClient, 'send_draft', send_then_drop), \
                patch.object(DraftSender, '_still_a_draft', check_fails), \
                mute_logger('odoo.addons.maildesk.engine.sending'):
            self.assertNotification(draft.action_send(), 'danger')
        self.assertEqual(draft.state, 'failed')
        self.emulator.reset_counters()
        self.assertNotification(draft.action_send(), 'success')
        self.assertEqual(self.endpoint_count('/send'), 0, 'not sent a second time')
        self.assertEqual(draft.state, 'sent')
        local = self.rows('Retry in flight', self.sent)
        self.assertEqual(len(local), 1)
        self.assertTrue(local.is_local)
        self.settle_and_sync()
        self.assertEqual(self.rows('Retry in flight'), local)
        self.assertFalse(local.is_local)
        self.assertEqual(len(self.server_messages('Retry in flight', 'sentitems')), 1, 'sent once')

    def test_sync_while_send_in_flight(self):
        """Acceptance: Sent Items synced after Outlook sent the message, before MailDesk finished: one row."""
        draft = self.compose(subject='In flight')
        with self.spy('_finish_sent', before=self.settle_and_sync):
            self.assertNotification(draft.action_send(), 'success')
        rows = self.rows('In flight')
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows.graph_id, draft.graph_draft_id)
        self.sync()
        self.assertEqual(self.rows('In flight'), rows)
        self.assertFalse(rows.is_local)

    def test_sync_between_local_entry_and_send(self):
        draft = self.compose(subject='Before send')
        with self.spy('_ensure_local_entry', after=self.sync):
            draft.action_send()
        self.settle_and_sync()
        self.assertEqual(len(self.rows('Before send')), 1)
        self.assertEqual(len(self.server_messages('Before send', 'sentitems')), 1)

    def test_drafts_folder_synced_too(self):
        """With Drafts synced, the Outlook draft and the Sent Items copy are one row (same immutable id)."""
        self.drafts_folder.sync_enabled = True
        self.sync()
        draft = self.compose(subject='Via drafts')
        self.emulator.faults({'status': 'drop', 'path_contains': '/send', 'method': 'POST', 'count': 1})
        draft.action_send()
        self.emulator.faults()
        self.sync()
        self.assertEqual(self.rows('Via drafts').folder_id, self.drafts_folder)
        draft.action_send()
        self.settle_and_sync()
        rows = self.rows('Via drafts')
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows.folder_id, self.sent)
        self.assertTrue(rows.active)

    def test_large_attachment_through_upload_session(self):
        """Acceptance: a 5 MB attachment goes through an upload session; a small one inline."""
        big = bytes(range(256)) * (5 * MB // 256)
        draft = self.compose(subject='Big file', attachments=[('big.bin', big, 'application/octet-stream'),
                                                               ('small.txt', b'hello', 'text/plain')])
        self.emulator.reset_counters()
        self.assertNotification(draft.action_send(), 'success')
        self.assertEqual(self.endpoint_count('createUploadSession'), 1)
        self.emulator.settle()
        client = self.account._graph_client()
        attachments = {a['name']: a for a in client.list_attachments(draft.graph_draft_id)}
        self.assertEqual(set(attachments), {'big.bin', 'small.txt'})
        self.assertEqual(client.get_attachment_bytes(draft.graph_draft_id, attachments['big.bin']['id']), big)
        self.assertTrue(draft.sent_message_id.has_attachments)

    def test_over_mailbox_limit_refused_before_sending(self):
        self.env['ir.config_parameter'].sudo().set_param('maildesk.max_message_mb', '1')
        draft = self.compose(subject='Too big', attachments=[('big.bin', b'x' * (2 * MB), 'application/x')])
        self.emulator.reset_counters()
        with self.assertRaisesRegex(UserError, 'above the limit of 1.0 MB'):
            draft.action_send()
        self.assertEqual(self.emulator.counters()['total'], 0, 'nothing was sent to Outlook')
        self.assertEqual(draft.state, 'draft')

    def test_outlook_refuses_too_large(self):
        """Outlook's own limit (413) is reported as such and keeps the draft."""
        self.emulator.config(max_message_size=1 * MB)
        self.addCleanup(self.emulator.config, max_message_size=150 * MB)
        draft = self.compose(subject='Outlook limit', attachments=[('a.bin', b'y' * (2 * MB), 'application/x')])
        with mute_logger('odoo.addons.maildesk.engine.sending'):
            params = self.assertNotification(draft.action_send(), 'danger')
        self.assertIn('too large', params['message'])
        self.assertEqual(draft.state, 'failed')
        self.assertFalse(self.rows('Outlook limit'))

    def test_validation(self):
        draft = self.compose(subject='Nobody', to_emails=False)
        with self.assertRaisesRegex(UserError, 'at least one recipient'):
            draft.action_send()
        draft.to_emails = 'not an address, ok@example.com'
        with self.assertRaisesRegex(UserError, 'not an address'):
            draft.action_send()

    def test_partner_recipients_and_discard(self):
        partner = self.env['res.partner'].create({'name': 'Carla Contact', 'email': 'carla@example.com'})
        draft = self.compose(subject='To a contact', to_emails=False, to_partner_ids=[(6, 0, partner.ids)])
        self.assertEqual(draft._recipients()['to'], [('Carla Contact', 'carla@example.com')])
        self.assertNotification(draft.action_send(), 'success')
        self.assertIn(partner, draft.sent_message_id.partner_ids)
        self.emulator.settle()
        sent = self.account._graph_client().get_message(draft.graph_draft_id, body=False)
        self.assertEqual(sent['toRecipients'],
                         [{'emailAddress': {'address': 'carla@example.com', 'name': 'Carla Contact'}}],
                         'Outlook got the contact as the recipient, with its name')
        self.assertEqual(sent['from']['emailAddress'], {'name': 'Megan Sender', 'address': self.account.email},
                         'the Sender Name is the From of the Outlook message')
        other = self.compose(subject='Discarded')
        other.action_discard()
        self.assertFalse(other.exists())

    def test_discard_deletes_the_outlook_draft(self):
        draft = self.compose(subject='Drop it')
        self.emulator.faults({'status': 'drop', 'path_contains': '/send', 'method': 'POST', 'count': 1})
        draft.action_send()
        self.emulator.faults()
        self.assertTrue(self.server_messages('Drop it', 'drafts'))
        draft.action_discard()
        self.assertFalse(self.server_messages('Drop it', 'drafts'))

    def test_reply_all_and_forward(self):
        self.emulator.deliver(self.account.email, subject='Team news', **{
            'from': {'name': 'Alex Wilber', 'address': 'alexw@fabrikam.test'},
            'to': [self.account.email, 'ann@fabrikam.test']})
        self.sync()
        news = self.rows('Team news', self.inbox)
        self.assertEqual(len(news), 1)
        reply_all = self.env['maildesk.draft'].browse(news.action_reply_all()['res_id'])
        self.assertIn('alexw@fabrikam.test', reply_all.to_emails)
        self.assertIn('ann@fabrikam.test', reply_all.to_emails)
        self.assertNotIn(self.account.email, reply_all.to_emails or '', 'never answer oneself')
        forward = self.env['maildesk.draft'].browse(news.action_forward()['res_id'])
        self.assertEqual(forward.subject, 'Fw: Team news')
        self.assertFalse(forward.to_emails)
        forward.to_emails = 'friend@example.com'
        self.assertNotification(forward.action_send(), 'success')
        self.settle_and_sync()
        sent = self.rows('Fw: Team news', self.sent)
        self.assertEqual(len(sent), 1)
        self.assertEqual(sent.thread_key, news.thread_key)


@tagged('post_install', '-at_install')
class TestSendReadOnly(MaildeskSendCase):
    """Permission level "Read only" (Mail.Read + Mail.Send): no Outlook draft may be created, so MailDesk sends the
    whole message in one request with its own internetMessageId; the sync adopts the local entry through it."""

    def setUp(self):
        # before the account is authorized: the permission level decides the scopes it consents to
        self.configure_maildesk(**{'maildesk.permission_level': 'read'})
        super().setUp()

    def test_send_reply_one_row_each(self):
        draft = self.compose(subject='Read only hello', to=self.account.email,
                             attachments=[('note.txt', b'small note', 'text/plain')])
        self.emulator.reset_counters()
        self.assertNotification(draft.action_send(), 'success')
        counters = self.emulator.counters()['by_endpoint']
        self.assertEqual(counters.get('POST /v1.0/me/sendMail'), 1)
        self.assertFalse(counters.get('POST /v1.0/me/messages'), 'no draft without Mail.ReadWrite')
        local = self.rows('Read only hello', self.sent)
        self.assertEqual(len(local), 1)
        self.assertTrue(local.is_local)
        self.assertTrue(local.graph_id.startswith('maildesk-local:'))
        self.emulator.settle()
        server = self.server_messages('Read only hello', 'sentitems')
        self.assertEqual([m['internetMessageId'] for m in server.values()], [draft.internet_message_id])

        self.sync()
        self.assertEqual(self.rows('Read only hello', self.sent), local, 'adopted: the same row')
        self.assertFalse(local.is_local)
        self.assertEqual(local.graph_id, next(iter(server)))
        received = self.rows('Read only hello', self.inbox)
        self.assertEqual(len(received), 1, 'the Inbox copy (same Message-ID) did not take the local entry')

        reply = self.env['maildesk.draft'].browse(received.action_reply()['res_id'])
        self.assertNotification(reply.action_send(), 'success')
        self.settle_and_sync()
        self.assertEqual(len(self.rows('Re: Read only hello', self.sent)), 1)
        self.assertEqual(len(self.rows('Re: Read only hello', self.inbox)), 1)
        self.assertEqual(len(received._conversation_messages()), 4)

    def test_retry_after_network_error(self):
        draft = self.compose(subject='Read only retry')
        self.emulator.faults({'status': 'drop', 'path_contains': '/sendMail', 'count': 1})
        self.assertNotification(draft.action_send(), 'danger')
        self.assertFalse(self.rows('Read only retry'))
        self.emulator.faults()
        self.sync()
        self.assertNotification(draft.action_send(), 'success')
        self.settle_and_sync()
        self.assertEqual(len(self.rows('Read only retry')), 1)
        self.assertEqual(len(self.server_messages('Read only retry', 'sentitems')), 1)

    def test_large_attachment_needs_write_back(self):
        draft = self.compose(subject='Too big for one request',
                             attachments=[('big.bin', b'z' * (3 * MB), 'application/octet-stream')])
        with self.assertRaisesRegex(UserError, 'Read & write back'):
            draft.action_send()
