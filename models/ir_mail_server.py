from odoo import fields, models


class IrMailServer(models.Model):
    """Outgoing server type "Outlook / Microsoft 365": Odoo's MIME sent through Graph sendMail."""
    _inherit = 'ir.mail_server'

    smtp_authentication = fields.Selection(selection_add=[('maildesk_graph', 'Outlook / Microsoft 365')],
                                           ondelete={'maildesk_graph': 'set default'})
    maildesk_account_id = fields.Many2one('maildesk.account', 'Mailbox Account', ondelete='set null', index=True)
