"""Selection, bulk move, Undo, an unsynced folder and drag and drop in a real browser (maildesk_selection_tour)."""
from odoo.tests import HttpCase, tagged

from .inbox_browser import maildesk_browser, screenshot_dir
from .inbox_data import seed_inbox


@tagged('post_install', '-at_install')
class TestInboxSelectionTour(HttpCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env['ir.config_parameter'].sudo().set_param('maildesk.permission_level', 'read')
        cls.data = seed_inbox(cls.env, messages=30)
        cls.folders = cls.data['folders']['sales']
        cls.folders['archive'].sync_enabled = False  # an Outlook folder MailDesk does not sync
        cls.customer = cls.env['res.partner'].create({'name': 'Tour Customer'})

    def test_selection_bulk_move_undo_unsynced_drag_and_drop(self):
        inbox, archive, projects = self.folders['inbox'], self.folders['archive'], self.folders['projects']
        Message = self.env['maildesk.message']
        rows = Message.search([('folder_id', '=', inbox.id)], order='received_at desc, id desc')
        unread_before = {m.id: m.is_read for m in rows[1:5]}
        with maildesk_browser(shots=screenshot_dir()):
            self.start_tour('/odoo/maildesk', 'maildesk_selection_tour', login='admin', timeout=240)
        self.assertEqual({m.id: m.is_read for m in rows[1:5]}, unread_before,
                         'Ctrl- and Shift-click changed no read state')
        self.assertEqual(Message.search([('folder_id', '=', archive.id)]), rows[:2],
                         'x + checkbox, then bulk move to the unsynced Archive (the first move was undone)')
        self.assertIn(rows[2], Message.search([('folder_id', '=', projects.id)]),
                      'the row dragged onto Projects moved there')
        self.assertEqual(rows[3:5].folder_id, inbox, 'the undone move put them back')
        self.assertEqual(rows[3:5].mapped('res_id'), [self.customer.id] * 2, 'both logged on the record chosen once')
        self.assertEqual(len(self.customer.message_ids.filtered(lambda m: m.message_type == 'email')), 2)
