"""The user's whole path in a browser, against the Microsoft emulator (static/tests/tours/maildesk_full_path_tour.js).

Headless Chromium walks: create the account -> Authorize Outlook -> the emulator's sign-in and consent page ->
incoming server Test & Confirm -> outgoing server Test -> Fetch Folders -> select -> Sync now -> open a message
(body fetched on open) -> send to self (in Sent Items at once) -> it arrives -> reply (same conversation).
The consent page is another origin where the tour cannot run: the test browser answers it (select the mailbox,
click Accept), as a user would.
"""
import json
import os
from urllib.parse import urlsplit

from odoo.tests import tagged

from .common import MaildeskHttpCase
from .inbox_browser import maildesk_browser, screenshot_dir

MAILBOX = 'adele@contoso.test'
SUBJECT = 'MailDesk tour: hello me'
CONSENT_JS = """
(function accept(tries) {
    const form = document.querySelector('#consent-form');
    if (!form) {
        if (tries < 200) { setTimeout(() => accept(tries + 1), 50); }
        return;
    }
    form.querySelector('select[name=user]').value = %s;
    form.querySelector('#accept').click();
})(0);
"""


@tagged('post_install', '-at_install')
class TestInboxFullPath(MaildeskHttpCase):
    emulator_options = {'users': 2, 'messages': 25}

    def consent_page(self, browser, url):
        if url.startswith(self.emulator.base_url) and urlsplit(url).path.endswith('/oauth2/v2.0/authorize'):
            self.consent_pages += 1
            browser._evaluate(CONSENT_JS % json.dumps(MAILBOX))

    def test_full_path(self):
        self.consent_pages = 0
        shots = screenshot_dir()
        with maildesk_browser(page_hooks=[self.consent_page], shots=shots):
            self.start_tour('/odoo/maildesk?debug=1', 'maildesk_full_path_tour', login='admin', timeout=600)
        self.assertEqual(self.consent_pages, 1, 'authorized through the consent page, once')

        account = self.env['maildesk.account'].search([('email', '=', MAILBOX)])
        self.assertEqual(account.state, 'connected')
        self.assertEqual(account.fetchmail_server_ids.state, 'done', 'incoming server confirmed')
        self.assertTrue(account.mail_server_ids, 'outgoing server created')
        synced = account.folder_ids.filtered('sync_enabled').mapped('role')
        self.assertTrue({'inbox', 'sentitems', 'archive'} <= set(synced))

        Message = self.env['maildesk.message']
        sent = Message.search([('account_id', '=', account.id), ('subject', '=', SUBJECT),
                               ('folder_id.role', '=', 'sentitems')])
        received = Message.search([('account_id', '=', account.id), ('subject', '=', SUBJECT),
                                   ('folder_id.role', '=', 'inbox')])
        self.assertEqual(len(sent), 1, 'one copy in Sent Items: the local entry was replaced, never doubled')
        self.assertFalse(sent.is_local, "after the sync, it is Outlook's copy")
        self.assertEqual(len(received), 1)
        self.assertTrue(received.body_fetched_at, 'the body was fetched when the message was opened')
        replies = Message.search([('account_id', '=', account.id), ('subject', '=ilike', 'Re: ' + SUBJECT)])
        sent_reply = replies.filtered(lambda m: m.folder_id.role == 'sentitems')
        self.assertEqual(len(sent_reply), 1, 'the reply is in Sent Items once')
        # written to oneself, the reply also arrived in the Inbox: all in one conversation
        self.assertEqual(set(replies.mapped('thread_key')), {received.thread_key})
        self.assertEqual(sent.thread_key, received.thread_key)
        for name in ('empty_state', 'account_form', 'inbox_outlook'):
            self.assertTrue(os.path.getsize(os.path.join(shots, '%s.png' % name)) > 10000, name)
