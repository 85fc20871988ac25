import base64
from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import tagged

from odoo.addons.maildesk.tests.common import MaildeskCase
from odoo.addons.maildesk.tests.sync_common import SyncTestMixin

HOSTILE = ('<p>Hello <b>there</b></p><script>alert("pwned")</script>'
           '<img src="https://tracker.evil.test/p.gif" onerror="alert(1)">'
           '<a href="javascript:alert(document.cookie)">Click me</a>'
           '<div onclick="steal()" style="color: red; background:url(javascript:alert(3))">hover</div>'
           '<iframe src="https://evil.test/"></iframe><form action="https://evil.test"><input name="pw"></form>'
           '<svg onload="alert(4)"></svg><object data="x.swf"></object>')
PNG = base64.b64encode(b'\x89PNG\r\n\x1a\n0000').decode()


@tagged('post_install', '-at_install')
class TestBodies(SyncTestMixin, MaildeskCase):
    """Bodies on open: fetched once, sanitized, inline images resolved; attachments on demand; retention."""

    emulator_options = {'users': 2, 'messages': 5}

    def synced_message(self, **message):
        """Deliver one message to the Inbox and sync it; returns the local record."""
        account = self.account
        graph_id = self.emulator.deliver(account.email, **message)[0]
        self.run_changes()
        record = self.env['maildesk.message'].search([('graph_id', '=', graph_id)])
        self.assertTrue(record, 'the delivered message should be synced')
        return record

    def setUp(self):
        super().setUp()
        self.account = self.sync_account(roles=('inbox',))
        self.sync_until_done(self.account)

    def requests(self):
        return self.graph_requests(self.account)

    def test_body_fetched_once_and_sanitized(self):
        message = self.synced_message(subject='Hostile', body={'contentType': 'html', 'content': HOSTILE})
        self.assertFalse(message.body_fetched_at, 'sync stores no body')
        self.emulator.reset_counters()
        body = message.get_body_html()
        self.assertEqual(self.requests(), 1, 'one GET for the body (no cid: images here)')
        self.assertIn('<b>there</b>', body)
        self.assertIn('Click me', body)
        lowered = body.lower()
        for bad in ('<script', 'onerror', 'onclick', 'onload', 'javascript:', '<iframe', '<form', '<object',
                    'alert('):
            self.assertNotIn(bad, lowered)
        self.assertTrue(message.body_fetched_at)
        self.assertEqual(message.get_body_html(), body)
        self.assertEqual(message.action_open_body()['res_id'], message.id)
        self.assertEqual(self.requests(), 1, 'opening it again makes no Graph call')

    def test_plain_text_body_is_escaped(self):
        message = self.synced_message(body={'contentType': 'text', 'content': 'a < b\n<script>x</script>'})
        body = message.get_body_html()
        self.assertIn('a &lt; b', body)
        self.assertNotIn('<script', body)

    def test_inline_images_resolved_through_attachments(self):
        html = '<p>Logo: <img src="cid:logo-1@maildesk" alt="logo"></p><p><img src="cid:missing@x"></p>'
        message = self.synced_message(body={'contentType': 'html', 'content': html}, attachments=[
            {'name': 'logo.png', 'contentType': 'image/png', 'isInline': True, 'contentId': '<logo-1@maildesk>',
             'contentBytes': PNG},
            {'name': 'report.txt', 'contentType': 'text/plain', 'contentBytes': base64.b64encode(b'report').decode()},
        ])
        self.emulator.reset_counters()
        body = message.get_body_html()
        inline = message.attachment_ids
        self.assertEqual(len(inline), 1, 'only the inline image is downloaded with the body')
        self.assertEqual((inline.res_model, inline.res_id, inline.raw), ('maildesk.message', message.id,
                                                                         base64.b64decode(PNG)))
        self.assertIn('src="/web/content/%d"' % inline.id, body)
        self.assertIn('cid:missing@x', body, 'an unknown content id is left alone')
        self.assertEqual(self.requests(), 3, 'body + attachment list + the inline image')
        # after the retention cron the body is fetched again, the stored image is reused
        message.body_fetched_at = fields.Datetime.now() - timedelta(days=40)
        self.env['ir.config_parameter'].sudo().set_param('maildesk.body_retention_days', 30)
        self.env['maildesk.message']._cron_clear_bodies()
        self.assertFalse(message.body_html or message.body_fetched_at)
        self.emulator.reset_counters()
        self.assertIn('src="/web/content/%d"' % inline.id, message.get_body_html())
        self.assertEqual(self.requests(), 2, 'body + attachment list; the image is already stored')
        self.assertEqual(message.attachment_ids, inline)

    def test_attachments_downloaded_on_demand(self):
        data = b'%PDF-1.4 quarterly numbers'
        message = self.synced_message(attachments=[
            {'name': 'q3.pdf', 'contentType': 'application/pdf', 'contentBytes': base64.b64encode(data).decode()}])
        self.assertTrue(message.has_attachments)
        self.assertFalse(message.attachment_ids)
        ids = message.action_download_attachments()
        attachment = self.env['ir.attachment'].browse(ids)
        self.assertEqual((attachment.name, attachment.raw, attachment.mimetype), ('q3.pdf', data, 'application/pdf'))
        self.assertEqual(message.attachment_ids, attachment)
        self.emulator.reset_counters()
        self.assertEqual(message.action_download_attachments(), ids)
        self.assertEqual(self.requests(), 1, 'already downloaded: only the list is asked again')

    def test_retention_keeps_recent_bodies(self):
        recent, old = self.synced_message(subject='recent'), self.synced_message(subject='old')
        for message in recent | old:
            message.get_body_html()
        old.body_fetched_at = fields.Datetime.now() - timedelta(days=31)
        self.env['ir.config_parameter'].sudo().set_param('maildesk.body_retention_days', 30)
        self.env['maildesk.message']._cron_clear_bodies()
        self.assertTrue(recent.body_html)
        self.assertFalse(old.body_html)

    def test_body_access_follows_the_account(self):
        message = self.synced_message()
        stranger = self.make_maildesk_user(self.env, 'body_stranger')
        with self.assertRaises(AccessError):
            message.with_user(stranger).get_body_html()
