from odoo import fields, models


class IrAttachment(models.Model):
    """A file of an Outlook message, downloaded into Odoo (inline images with the body, the others on demand)."""
    _inherit = 'ir.attachment'

    maildesk_graph_id = fields.Char('Outlook Attachment ID', readonly=True, copy=False, index='btree_not_null')
    maildesk_content_id = fields.Char('Outlook Content-ID', readonly=True, copy=False,
                                      help='Content-ID an HTML body refers to with cid: (inline images).')
