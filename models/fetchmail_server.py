from odoo import fields, models


class FetchmailServer(models.Model):
    """Incoming server type "Outlook OAuth / Microsoft Graph", bound to a MailDesk account."""
    _inherit = 'fetchmail.server'

    server_type = fields.Selection(selection_add=[('maildesk_graph', 'Outlook OAuth / Microsoft Graph')],
                                   ondelete={'maildesk_graph': 'set default'})
    maildesk_account_id = fields.Many2one('maildesk.account', 'Mailbox Account', ondelete='set null', index=True)
