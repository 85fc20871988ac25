"""Conversations: Outlook's conversationId, and In-Reply-To / References when Outlook's conversation drifts."""
from email.message import EmailMessage
from email.utils import make_msgid

from odoo.tests import tagged

from odoo.addons.maildesk.tests.test_send import MaildeskSendCase


@tagged('post_install', '-at_install')
class TestConversations(MaildeskSendCase):

    def send_mime(self, subject, in_reply_to=None, references=None):
        """Mail to oneself through sendMail + MIME: Outlook files it in a new conversation (the drift case)."""
        mime = EmailMessage()
        mime['From'] = self.account.email
        mime['To'] = self.account.email
        mime['Subject'] = subject
        mime['Message-ID'] = make_msgid(domain='example.com')
        if in_reply_to:
            mime['In-Reply-To'] = in_reply_to
        if references:
            mime['References'] = references
        mime.set_content('Body of %s' % subject)
        self.account._graph_client().send_mime(mime.as_bytes())
        self.emulator.settle()  # Outlook files the Sent Items copy and delivers a few seconds later
        return mime['Message-ID']

    def test_reply_joins_the_conversation_across_folders(self):
        draft = self.compose(subject='Plan', to=self.account.email)
        draft.action_send()
        self.emulator.settle()  # the copy and the delivery come a moment later
        self.sync()
        received = self.rows('Plan', self.inbox)
        reply = self.env['maildesk.draft'].browse(received.action_reply()['res_id'])
        reply.action_send()
        self.emulator.settle()  # the copy and the delivery come a moment later
        self.sync()
        conversation = received._conversation_messages()
        self.assertEqual(set(conversation.mapped('subject')), {'Plan', 'Re: Plan'})
        self.assertEqual(conversation.folder_id, self.inbox | self.sent)
        self.assertEqual(conversation.mapped('received_at'), sorted(conversation.mapped('received_at')),
                         'oldest first')
        action = received.action_open_conversation()
        self.assertEqual(action['res_model'], 'maildesk.message')
        self.assertIn(('thread_key', '=', received.thread_key), action['domain'])

    def test_drifted_reply_found_by_headers(self):
        """A reply Outlook put in another conversation joins its thread through In-Reply-To, read from Graph's
        internetMessageHeaders when its body is fetched (one small request, only for a lonely reply)."""
        root_id = self.send_mime('Budget 2025')
        self.sync()
        root = self.rows('Budget 2025', self.inbox)
        self.assertEqual(root.internet_message_id, root_id)
        self.emulator.config(conversation_drift=True)  # Outlook files this reply in a conversation of its own
        self.send_mime('RE: Budget 2025', in_reply_to=root_id, references=root_id)
        self.sync()
        answer = self.rows('RE: Budget 2025', self.inbox)
        self.assertNotEqual(answer.conversation_id, root.conversation_id, 'Outlook lost the conversation')
        self.assertNotEqual(answer.thread_key, root.thread_key)
        answer.get_body_html()
        self.assertEqual(answer.in_reply_to, root_id)
        self.assertEqual(answer.thread_key, root.thread_key, 'joined through In-Reply-To')
        # ...and the Sent Items copies of both follow (each message keeps its own conversation id)
        sent_answer = self.rows('RE: Budget 2025', self.sent)
        self.assertEqual(sent_answer.conversation_id, answer.conversation_id)
        self.assertEqual(sent_answer.thread_key, root.thread_key, 'the whole drifted conversation merged')
        # a later update of the message by sync keeps it in the thread
        answer.action_mark_read()
        self.sync()
        self.assertEqual(answer.thread_key, root.thread_key)

    def test_parent_arriving_after_the_child(self):
        """Threads merge whichever of parent and child is stored first."""
        parent_id = make_msgid(domain='example.com')
        self.send_mime('RE: Early bird', in_reply_to=parent_id)
        self.sync()
        child = self.rows('RE: Early bird', self.inbox)
        child.get_body_html()
        self.assertEqual(child.in_reply_to, parent_id)
        mime = EmailMessage()
        mime['From'] = mime['To'] = self.account.email
        mime['Subject'] = 'Early bird'
        mime['Message-ID'] = parent_id
        mime.set_content('the parent')
        self.account._graph_client().send_mime(mime.as_bytes())
        self.emulator.settle()
        self.sync()
        parent = self.rows('Early bird', self.inbox)
        self.assertEqual(child.thread_key, parent.thread_key)

    def test_no_header_request_for_ordinary_messages(self):
        self.emulator.deliver(self.account.email, subject='Just news')
        self.sync()
        news = self.rows('Just news', self.inbox)
        self.emulator.reset_counters()
        news.get_body_html()
        self.assertEqual(self.emulator.counters()['total'], 1, 'only the body: not a reply, no header request')
