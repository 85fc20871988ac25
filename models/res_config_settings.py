from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = 'res.config.settings'

    maildesk_client_id = fields.Char('Microsoft Client ID', config_parameter='maildesk.client_id')
