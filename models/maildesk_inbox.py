from odoo import models


class MaildeskMessageInbox(models.Model):
    """The small RPC surface of the OWL inbox."""
    _inherit = 'maildesk.message'
