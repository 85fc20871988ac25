"""Mail as real Microsoft mailboxes hold and send it (issue 13, Deliver 6 and 7).

* The reading pane shows an attached message (Graph itemAttachment) as an ``.eml`` to download, a cloud link
  (referenceAttachment) as a link that is never fetched, and meeting mail (eventMessage*) with the invitation's
  summary above the body; plain-text bodies display escaped with their line breaks; hostile values stay inert.
* Odoo's own ``mail.mail`` over Graph's 4 MB request limit goes out through an Outlook draft and upload sessions
  (the emulator refuses larger requests and upload ranges of 4 MB or more), or fails with its reason on the mail.
"""
import base64
import email
import email.policy
from email.message import EmailMessage

from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.maildesk.engine import bodies, large_mime
from odoo.addons.maildesk.graph import mail

from .common import MaildeskCase
from .sync_common import SyncTestMixin
from .test_mail_servers import SentItemsMixin

MB = 1024 * 1024


@tagged('post_install', '-at_install')
class TestReadingPaneRealMail(SyncTestMixin, MaildeskCase):
    """Attached messages, cloud links, meeting mail and text bodies in the reading pane (``maildesk_read``)."""

    emulator_options = {'users': 2, 'messages': 5}

    def setUp(self):
        super().setUp()
        self.account = self.sync_account(roles=('inbox',))
        self.sync_until_done(self.account)

    def synced_message(self, **message):
        graph_id = self.emulator.deliver(self.account.email, **message)[0]
        self.run_changes()
        record = self.env['maildesk.message'].search([('graph_id', '=', graph_id)])
        self.assertTrue(record, 'the delivered message should be synced')
        return record

    def open_in_pane(self, message):
        return self.env['maildesk.inbox'].maildesk_read(message.id)

    def requests_to(self, fragment):
        return sum(count for endpoint, count in self.emulator.counters()['by_endpoint'].items() if fragment in endpoint)

    def test_attached_message_downloads_as_eml(self):
        message = self.synced_message(subject='FW: contract', attachments=[
            {'@odata.type': '#microsoft.graph.itemAttachment', 'name': 'Signed contract',
             'item': {'subject': 'Signed contract', 'from': 'legal@fabrikam.test',
                      'body': {'contentType': 'text', 'content': 'Attached, signed.'}}}])
        self.assertTrue(self.open_in_pane(message)['attachments_missing'])
        [attachment] = self.env['ir.attachment'].browse(message.action_download_attachments())
        self.assertEqual((attachment.name, attachment.mimetype), ('Signed contract.eml', 'message/rfc822'))
        inner = email.message_from_bytes(attachment.raw, policy=email.policy.default)
        self.assertEqual(inner['Subject'], 'Signed contract', "the attachment is the attached message's MIME")
        self.assertIn('Attached, signed.', inner.get_body(('plain', 'html')).get_content())
        [row] = self.open_in_pane(message)['attachments']
        self.assertEqual((row['kind'], row['name'], row['url']), ('message', 'Signed contract.eml', False))
        self.assertEqual(message.action_download_attachments(), attachment.ids, 'stored once, reused')

    def test_cloud_link_is_a_link_never_fetched(self):
        url = 'https://contoso-my.sharepoint.com/personal/adele/Plan.docx'
        message = self.synced_message(subject='Plan', attachments=[
            {'@odata.type': '#microsoft.graph.referenceAttachment', 'name': 'Plan.docx', 'sourceUrl': url},
            {'name': 'notes.txt', 'contentBytes': base64.b64encode(b'notes').decode()}])
        self.open_in_pane(message)  # opens the body: v1.0 gives no sourceUrl, the link is in the body
        self.emulator.reset_counters()
        message.action_download_attachments()
        self.assertEqual(self.requests_to('$value'), 1, "only the file's bytes are fetched, never the link's")
        rows = {row['name']: row for row in self.open_in_pane(message)['attachments']}
        self.assertEqual((rows['Plan.docx']['kind'], rows['Plan.docx']['url']), ('link', url))
        self.assertEqual((rows['notes.txt']['kind'], rows['notes.txt']['url']), ('file', False))

    def test_hostile_cloud_link_and_name_stay_inert(self):
        message = self.synced_message(subject='Shared', attachments=[
            {'@odata.type': '#microsoft.graph.referenceAttachment', 'name': 'x/../' * 3000 + 'evil',
             'sourceUrl': 'javascript:alert(document.cookie)'}])
        self.open_in_pane(message)
        message.action_download_attachments()
        [row] = self.open_in_pane(message)['attachments']
        self.assertEqual(row['kind'], 'link')
        self.assertFalse(row['url'], 'a javascript: link is no link')
        self.assertLessEqual(len(row['name']), 255)
        self.assertNotIn('/', row['name'])

    def test_source_url_is_used_only_when_http(self):
        """A beta-style listing with ``sourceUrl`` (v1.0 has none): an http(s) URL is the link, others are not."""
        message = self.synced_message(subject='Links')

        class Listing:  # what a Graph client answers, without the network
            def list_attachments(self, graph_id):
                return [{'@odata.type': '#microsoft.graph.referenceAttachment', 'id': 'ref-1', 'name': 'ok.xlsx',
                         'sourceUrl': ' https://contoso.sharepoint.com/ok.xlsx '},
                        {'@odata.type': '#microsoft.graph.referenceAttachment', 'id': 'ref-2', 'name': 'bad',
                         'sourceUrl': 'data:text/html,<script>alert(1)</script>'},
                        {'@odata.type': '#microsoft.graph.somethingNew', 'id': 'new-1', 'name': 'unknown'}]

        stored = bodies.store_attachments(message.sudo(), Listing(), inline=False)
        self.assertEqual(sorted(stored.mapped('name')), ['bad', 'ok.xlsx'], 'an unknown kind is not stored')
        urls = {row['name']: row['url'] for row in bodies.attachment_rows(message)}
        self.assertEqual(urls, {'ok.xlsx': 'https://contoso.sharepoint.com/ok.xlsx', 'bad': False})

    def test_meeting_request_summary(self):
        message = self.synced_message(subject='Invitation: Quarterly review', type='eventMessageRequest',
                                      startDateTime='2030-03-01T10:00:00Z', endDateTime='2030-03-01T11:30:00Z',
                                      location={'displayName': 'Room <b>Ærø</b>'},
                                      **{'from': {'name': 'Megan Bowen', 'address': 'megan@fabrikam.test'}})
        meeting = self.open_in_pane(message)['meeting']
        self.assertEqual(meeting['type'], 'meetingRequest')
        self.assertEqual((meeting['start'], meeting['end']), ('2030-03-01 10:00:00', '2030-03-01 11:30:00'))
        self.assertEqual(meeting['location'], 'Room <b>Ærø</b>', 'plain text, escaped by the template')
        self.assertEqual(meeting['organizer']['name'], 'Megan Bowen')
        self.assertFalse(meeting['attendee'])
        self.assertTrue(meeting['label'])

    def test_meeting_response_and_cancellation(self):
        response = self.synced_message(subject='Declined: Review', type='eventMessageResponse',
                                       meetingMessageType='meetingDeclined', responseType='declined')
        summary = self.open_in_pane(response)['meeting']
        self.assertEqual(summary['type'], 'meetingDeclined')
        self.assertTrue(summary['attendee'])
        self.assertFalse(summary['organizer'])
        cancelled = self.synced_message(subject='Canceled: Review', type='eventMessage',
                                        meetingMessageType='meetingCancelled')
        self.assertEqual(self.open_in_pane(cancelled)['meeting']['type'], 'meetingCancelled')
        plain = self.synced_message(subject='Just mail')
        self.assertFalse(self.open_in_pane(plain)['meeting'])

    def test_text_body_escaped_with_line_breaks(self):
        message = self.synced_message(subject='Plain', body={
            'contentType': 'text', 'content': 'Line one <script>alert(1)</script>\nLine two & more\n\nBye'})
        body = self.open_in_pane(message)['body_html']
        self.assertNotIn('<script', body)
        self.assertIn('&lt;script&gt;', body)
        self.assertIn('&amp; more', body)
        self.assertRegex(body, r'Line one .*(<br>|\n)\s*Line two', 'line breaks are kept')

    def test_link_url_accepts_only_http_links(self):
        self.assertEqual(mail.link_url(' https://contoso.sharepoint.com/a?b=1 '), 'https://contoso.sharepoint.com/a?b=1')
        for hostile in ('javascript:alert(1)', 'JaVaScRiPt:alert(1)', ' java\tscript:x', 'data:text/html,x',
                        '//evil.test/x', '/web/content/1', 'https://', 'https://a.test/x y', 'https://a.test/"><x',
                        'https://a.test/' + 'x' * 3000, None, 42, ['https://a.test']):
            self.assertEqual(mail.link_url(hostile), '', hostile)

    def test_text_body_mapping(self):
        values = mail.body_values({'body': {'contentType': 'text', 'content': 'a\r\n<b>b</b>'}})
        self.assertEqual(values, {'body_html': 'a<br>\n&lt;b&gt;b&lt;/b&gt;', 'content_type': 'text'})

    def test_meeting_values_mapping(self):
        item = {'@odata.type': '#microsoft.graph.eventMessageResponse',
                'meetingMessageType': 'meetingTenativelyAccepted',
                'startDateTime': {'dateTime': '2030-07-01T10:00:00.0000000', 'timeZone': 'Europe/Paris'},
                'endDateTime': {'dateTime': '2030-07-01T11:00:00', 'timeZone': 'Pacific Standard Time'},
                'location': {'displayName': 'x' * 5000}, 'isAllDay': 'true'}
        values = mail.meeting_values(item)
        self.assertEqual(values['meeting_type'], 'meetingTentativelyAccepted', "Graph's own spelling is mapped")
        self.assertEqual(str(values['meeting_start']), '2030-07-01 08:00:00', 'an IANA zone is converted to UTC')
        self.assertIsNone(values['meeting_end'], 'a zone that cannot be converted gives no time, not a wrong one')
        self.assertTrue(values['meeting_all_day'])
        self.assertLessEqual(len(values['meeting_location']), 255)
        self.assertEqual(mail.meeting_values({'@odata.type': '#microsoft.graph.message', 'id': 'x'}), {})
        self.assertEqual(mail.meeting_values({'@odata.type': '#microsoft.graph.eventMessage'})['meeting_type'],
                         'other')


@tagged('post_install', '-at_install')
class TestLargeOdooMail(SentItemsMixin, MaildeskCase):
    """``mail.mail`` over 4 MB through the outgoing server type "Outlook / Microsoft 365"."""

    emulator_options = {'users': 2, 'messages': 5}

    def setUp(self):
        super().setUp()
        self.account = self.make_account(sender_name='Contoso Sales')
        self.server = self.make_outgoing_server(self.account, test=False)
        self.recipient = self.emulator.users[1]
        self.data = bytes(range(256)) * (6 * MB // 256)  # 6 MB: over one request, over one upload range
        self.file = self.env['ir.attachment'].create({'name': 'scan 6MB.bin', 'raw': self.data,
                                                      'mimetype': 'application/octet-stream'})

    def make_mail(self, **values):
        return self.env['mail.mail'].create(dict({
            'subject': 'The scans', 'body_html': '<p>Here are the scans.</p>',
            'email_from': '"Mitchell Admin" <admin@yourcompany.example.com>', 'email_to': self.recipient,
            'mail_server_id': self.server.id, 'attachment_ids': [(6, 0, self.file.ids)],
            'references': '<thread.root@fabrikam.test>', 'headers': {'In-Reply-To': '<thread.root@fabrikam.test>'},
        }, **values))

    def drafts(self, user):
        folders = self.emulator.state(user).values()
        return next(folder for folder in folders if folder['well_known'] == 'drafts')['messages']

    def test_six_mb_mail_arrives_whole(self):
        small = self.env['ir.attachment'].create({'name': 'note.txt', 'raw': b'small note', 'mimetype': 'text/plain'})
        mail_mail = self.make_mail(attachment_ids=[(6, 0, (self.file | small).ids)])
        message_id = mail_mail.message_id
        drafts_before = set(self.drafts(self.account.email))
        self.emulator.reset_counters()
        mail_mail.send(raise_exception=True)
        self.assertEqual(mail_mail.state, 'sent', mail_mail.failure_reason)
        endpoints = self.emulator.counters()['by_endpoint']
        self.assertFalse(endpoints.get('POST /v1.0/me/sendMail'), 'too large for one sendMail')
        self.assertEqual(endpoints.get('POST /v1.0/me/messages'), 1, 'one draft, from the MIME')
        self.assertEqual(sum(n for e, n in endpoints.items() if 'createUploadSession' in e), 1)
        self.assertEqual(sum(n for e, n in endpoints.items() if e.endswith('/send')), 1)
        graph_id = self.sent_items(self.account)[message_id]
        client = self.account._graph_client()
        files = {a['name']: a for a in client.list_attachments(graph_id)}
        self.assertEqual(set(files), {'scan 6MB.bin', 'note.txt'})
        self.assertEqual(client.get_attachment_bytes(graph_id, files['scan 6MB.bin']['id']), self.data,
                         'the 6 MB file arrives whole')
        self.assertEqual(client.get_attachment_bytes(graph_id, files['note.txt']['id']), b'small note')
        mime = self.sent_mime(self.account, message_id)
        self.assertEqual(mime['In-Reply-To'], '<thread.root@fabrikam.test>', "Odoo's headers are kept")
        inbox = next(f for f in self.emulator.state(self.recipient).values() if f['well_known'] == 'inbox')
        self.assertIn(message_id, [m['internetMessageId'] for m in inbox['messages'].values()],
                      'delivered to the recipient')
        self.assertEqual(set(self.drafts(self.account.email)), drafts_before, 'no draft left behind')

    def test_failed_upload_fails_the_mail_and_leaves_no_draft(self):
        self.emulator.faults({'status': 404, 'path_contains': '/upload/', 'count': 1,
                              'code': 'ErrorItemNotFound', 'message': 'The upload session was not found.'})
        mail_mail = self.make_mail()
        drafts_before = set(self.drafts(self.account.email))
        with mute_logger('odoo.addons.mail.models.mail_mail'):
            mail_mail.send()
        self.assertEqual(mail_mail.state, 'exception')
        self.assertTrue(mail_mail.failure_reason)
        self.assertNotIn(mail_mail.message_id, self.sent_items(self.account))
        self.assertEqual(set(self.drafts(self.account.email)), drafts_before, 'the unsent draft is deleted')

    def test_too_large_even_without_attachments(self):
        mail_mail = self.make_mail(body_html='<p>%s</p>' % ('long text ' * (330 * 1024)), attachment_ids=[])
        self.emulator.reset_counters()
        with mute_logger('odoo.addons.mail.models.mail_mail'):
            mail_mail.send()
        self.assertEqual(mail_mail.state, 'exception')
        self.assertIn('Without its attachments', mail_mail.failure_reason)
        self.assertEqual(self.emulator.counters()['total'], 0, 'nothing was sent to Outlook')

    def test_split_keeps_text_and_inline_parts(self):
        message = EmailMessage()
        message['Subject'] = 'split'
        message.set_content('text')
        message.add_alternative('<p>html <img src="cid:logo"></p>', subtype='html')
        message.get_payload()[1].add_related(b'PNG' * 100, maintype='image', subtype='png', cid='<logo>')
        message.add_attachment(b'a' * (3 * MB), maintype='application', subtype='pdf', filename='big.pdf')
        message.add_attachment(b'b' * 1000, maintype='text', subtype='plain', filename='small.txt')
        removed = large_mime.split_mime(message)
        self.assertEqual([name for name, _type, _data in removed], ['big.pdf'], 'the largest leave first, only')
        self.assertEqual(removed[0][2], b'a' * (3 * MB))
        names = [part.get_filename() for part in message.walk() if part.get_filename()]
        self.assertEqual(names, ['small.txt'], 'small files travel in the MIME')
        self.assertTrue(any(part['Content-ID'] == '<logo>' for part in message.walk()), 'inline images stay')
        self.assertFalse(large_mime.needs_draft(message.as_bytes()))
