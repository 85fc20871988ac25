from odoo import models


class MaildeskAccountSync(models.Model):
    """Sync entry points of an account (fetch folders, sync rounds, crons)."""
    _inherit = 'maildesk.account'
