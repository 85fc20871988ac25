"""The composer in a real browser, against the emulator (static/tests/tours/maildesk_composer_tour.js).

Adele's Inbox holds a message from Megan (so Megan's address is "seen in synced mail", not a contact). The tour
writes to Megan through the one To line, pastes an image into the text and sends; Megan's copy at the emulator,
read through Graph with her own token, must show the image inline: the body names ``cid:X`` and an inline
attachment with contentId X carries the image (learn.microsoft.com/graph/api/resources/fileattachment).
"""
import base64

from odoo.tests import tagged

from .common import MaildeskHttpCase
from .inbox_browser import maildesk_browser, screenshot_dir

SUBJECT = 'MailDesk tour: a picture inline'
DRAFT_SUBJECT = 'MailDesk tour: kept when closed'


@tagged('post_install', '-at_install')
class TestComposerTour(MaildeskHttpCase):
    emulator_options = {'users': 2, 'messages': 3}

    def test_composer_pasted_image_received_inline(self):
        adele, megan = self.emulator.users[0], self.emulator.users[1]
        self.assertEqual(megan, 'megan@contoso.test', 'the tour types her name')
        self.emulator.deliver(adele, count=1, subject='Lunch on Friday?',
                              **{'from': {'emailAddress': {'name': 'Megan Bowen', 'address': megan}}})
        admin = self.env.ref('base.user_admin')
        account = self.make_account(email=adele, name='Adele', connected=False, user=admin)
        account.action_fetch_folders()
        account.folder_ids.filtered(lambda folder: folder.role in ('inbox', 'sentitems')).sync_enabled = True
        account._sync_round()
        self.assertTrue(self.env['maildesk.message'].search_count([('from_address', '=', megan)]))
        self.assertFalse(self.env['res.partner'].search_count([('email', 'ilike', megan)]), 'not a contact')
        partners_before = self.env['res.partner'].search_count([])

        # no console warning while composing (the composer once logged "Missing widget: binary_size" on opening)
        with self.assertNoLogs(__name__, 'WARNING'), maildesk_browser(shots=screenshot_dir()):
            self.start_tour('/odoo/maildesk', 'maildesk_composer_tour', login='admin', timeout=300)

        draft = self.env['maildesk.draft'].search([('subject', '=', SUBJECT)])
        self.assertEqual(draft.state, 'sent', draft.last_error)
        self.assertEqual(draft._recipients()['to'], [('Megan Bowen', megan)], 'the seen name came with it')
        self.assertEqual(self.env['res.partner'].search_count([]), partners_before, 'no contact was created')
        kept = self.env['maildesk.draft'].search([('subject', '=', DRAFT_SUBJECT)])
        self.assertEqual((len(kept), kept.state), (1, 'draft'), 'saved while idle')
        self.assertIn('Typed just before Escape.', kept.body_html, 'closing with Escape saved the last words')

        # Megan's copy, read through Graph with her own token
        self.emulator.settle()
        recipient = self.make_account(email=megan, name='Megan', connected=False)
        inbox = next(folder for folder in self.emulator.state(megan).values() if folder['well_known'] == 'inbox')
        ids = [mid for mid, message in inbox['messages'].items() if message['subject'] == SUBJECT]
        self.assertEqual(len(ids), 1, 'Megan received it once')
        client = recipient.sudo()._graph_client()
        body = client.get_message(ids[0])['body']['content']
        attachments = [client.get_attachment(ids[0], att['id']) for att in client.list_attachments(ids[0])]
        inline = [att for att in attachments if att.get('isInline')]
        self.assertEqual(len(inline), 1, attachments)
        self.assertIn('cid:%s' % inline[0]['contentId'], body)
        self.assertNotIn('/web/image/', body, 'no link into this Odoo')
        self.assertEqual(inline[0]['contentType'], 'image/png')
        self.assertTrue(base64.b64decode(inline[0]['contentBytes']).startswith(b'\x89PNG'))
