"""Pasted and dropped images leave inline (cid:), checked in the recipient's copy at the emulator.

The composer's editor keeps a pasted image as an attachment of the draft behind ``/web/image/<id>...`` (or a
``data:`` URL before the form is saved). Sent, each image the author may read becomes a fileAttachment with
``isInline`` and a ``contentId``, and the ``src`` becomes ``cid:<contentId>`` (learn.microsoft.com/graph/api/
resources/fileattachment). The recipient's copy is read back through Graph with the recipient's own token.
An image of another user's draft is not read: it stays a link and no attachment carries it.
"""
import base64

from odoo.tests import tagged

from odoo.addons.maildesk.tests.common import MaildeskCase

# a 1x1 PNG and a 2x1 PNG: small, valid, different
PIXEL = base64.b64decode('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4z8DwHwAFAAH/iZk9HQAAAABJ'
                         'RU5ErkJggg==')
TWO_PIXELS = base64.b64decode('iVBORw0KGgoAAAANSUhEUgAAAAIAAAABCAYAAAD0In+KAAAAEUlEQVR4nGP4z8DwnwEIGBgAHfIC/k'
                              'MJaUoAAAAASUVORK5CYII=')


class ComposerInlineCase(MaildeskCase):
    """An author (a MailDesk user) with his own mailbox (the emulator's first user) writes to the second one."""

    emulator_options = {'users': 2, 'messages': 3}

    def setUp(self):
        super().setUp()
        self.author = self.make_maildesk_user(self.env, 'md_inline_author')
        self.other = self.make_maildesk_user(self.env, 'md_inline_other')
        self.account = self.make_account(user=self.author, connected=False)
        self.account.action_fetch_folders()
        self.recipient_address = self.emulator.users[1]
        self.recipient = self.make_account(email=self.recipient_address, connected=False)

    def pasted_image(self, draft, data, name='pasted.png'):
        """What html_editor's saveB64Image makes of a pasted image: an attachment of the draft, with a token."""
        attachment = self.env['ir.attachment'].with_user(draft.env.user).create({
            'name': name, 'raw': data, 'mimetype': 'image/png', 'res_model': 'maildesk.draft', 'res_id': draft.id})
        token = attachment.sudo().generate_access_token()[0]
        return '/web/image/%s-%s/%s?access_token=%s' % (attachment.id, attachment.checksum[:8], name, token)

    def compose(self, subject):
        Draft = self.env['maildesk.draft'].with_user(self.author)
        draft = Draft.browse(self.account.with_user(self.author).action_compose()['res_id'])
        other_draft = self.env['maildesk.draft'].with_user(self.other).create(
            {'account_id': self.make_account_of_other().id, 'subject': 'Not yours'})
        foreign = self.pasted_image(other_draft, b'\x89PNG not the author\'s file', 'foreign.png')
        pasted = self.pasted_image(draft, PIXEL)
        dropped = 'data:image/png;base64,%s' % base64.b64encode(TWO_PIXELS).decode()
        draft.write({
            'to_emails': 'Recipient <%s>' % self.recipient_address,
            'subject': subject,
            'body_html': '<p>Pasted: <img src="%s"></p><p>Again: <img src="%s"></p><p>Dropped: <img src="%s"></p>'
                         '<p>Foreign: <img src="%s"></p>' % (pasted, pasted, dropped, foreign),
        })
        return draft, foreign

    def make_account_of_other(self):
        Account = self.env['maildesk.account'].with_user(self.other)
        return Account.search([('user_id', '=', self.other.id)], limit=1) or Account.create(
            {'name': 'Other', 'email': 'other.mailbox@contoso.test'})

    def recipient_copy(self, subject):
        """(body HTML, [fileAttachment JSON]) of the message as it arrived in the recipient's Inbox."""
        self.emulator.settle()
        state = self.emulator.state(self.recipient_address)
        inbox = next(folder for folder in state.values() if folder['well_known'] == 'inbox')
        ids = [mid for mid, message in inbox['messages'].items() if message['subject'] == subject]
        self.assertEqual(len(ids), 1, 'the message arrived once')
        client = self.recipient.sudo()._graph_client()
        message = client.get_message(ids[0])
        attachments = [client.get_attachment(ids[0], att['id']) for att in client.list_attachments(ids[0])]
        return message['body']['content'], attachments

    def assertInlineCopy(self, subject, foreign_src):
        body, attachments = self.recipient_copy(subject)
        inline = {att['contentId']: att for att in attachments if att.get('isInline')}
        self.assertEqual(len(inline), 2, 'the pasted image (used twice) and the dropped one: one attachment each')
        self.assertEqual(sorted(base64.b64decode(att['contentBytes']) for att in inline.values()),
                         sorted([PIXEL, TWO_PIXELS]))
        for content_id in inline:
            self.assertIn('cid:%s' % content_id, body)
        self.assertEqual(body.count('cid:'), 3, 'every readable image is referenced by its cid')
        self.assertNotIn('data:image', body)
        self.assertEqual(body.count('/web/image/'), 1, 'only the foreign image keeps its link')
        self.assertIn(foreign_src.split('?')[0], body)
        self.assertIn('foreign.png', body, "another user's file is not read: it stays a link")
        self.assertFalse([att for att in attachments if att['name'] == 'foreign.png'])
        self.assertNotIn(b"not the author's file", b''.join(base64.b64decode(att.get('contentBytes') or '')
                                                              for att in attachments))


@tagged('post_install', '-at_install')
class TestComposerInlineImages(ComposerInlineCase):
    """Read & write back: an Outlook draft, the images in its creating request or added afterwards."""

    def test_pasted_and_dropped_images_arrive_inline(self):
        draft, foreign = self.compose('Inline images, write back')
        action = draft.action_send()
        self.assertEqual(action['params']['type'], 'success', action['params'].get('message'))
        self.assertInlineCopy('Inline images, write back', foreign)
        self.assertIn('/web/image/', draft.sent_message_id.body_html, 'the local Sent Items entry keeps its links')

    def test_images_added_to_a_reply_draft(self):
        self.emulator.deliver(user=self.account.email, subject='Please send a picture')
        inbox = self.account.folder_ids.filtered(lambda folder: folder.role == 'inbox')
        inbox.sync_enabled = True
        self.env.flush_all()
        self.registry.enter_test_mode(self.cr)
        try:
            self.account._sync_round()
        finally:
            self.registry.leave_test_mode()
        self.env.invalidate_all()
        message = self.env['maildesk.message'].search([('subject', '=', 'Please send a picture')])
        reply = self.env['maildesk.draft'].with_user(self.author).browse(
            message.with_user(self.author).action_reply()['res_id'])
        reply.write({'to_emails': self.recipient_address,
                     'body_html': '<p>Here: <img src="%s"></p>' % self.pasted_image(reply, PIXEL)})
        self.assertEqual(reply.action_send()['params']['type'], 'success')
        body, attachments = self.recipient_copy(reply.subject)
        inline = [att for att in attachments if att.get('isInline')]
        self.assertEqual(len(inline), 1)
        self.assertIn('cid:%s' % inline[0]['contentId'], body)
        self.assertEqual(base64.b64decode(inline[0]['contentBytes']), PIXEL)


@tagged('post_install', '-at_install')
class TestComposerInlineImagesReadOnly(ComposerInlineCase):
    """Read only: the whole message, images included, in one sendMail request."""

    def setUp(self):
        self.configure_maildesk(**{'maildesk.permission_level': 'read'})
        super().setUp()

    def test_pasted_and_dropped_images_arrive_inline(self):
        draft, foreign = self.compose('Inline images, read only')
        self.emulator.reset_counters()
        action = draft.action_send()
        self.assertEqual(action['params']['type'], 'success', action['params'].get('message'))
        counters = self.emulator.counters()['by_endpoint']
        self.assertEqual(counters.get('POST /v1.0/me/sendMail'), 1, 'one request')
        self.assertInlineCopy('Inline images, read only', foreign)
