from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..engine import feedback, log_to_record


class MaildeskLogRecord(models.TransientModel):
    """Chooser of "Log to record": a record of any model with a chatter the user may write on.

    With a message, "Log" logs it. Without (the inbox's selection: ``message_count`` messages), "Log" only hands the
    record chosen back to the inbox, which logs the selection in chunks with a progress bar
    (``maildesk.inbox.maildesk_bulk``, action ``log``).
    """
    _name = 'maildesk.log.record'
    _description = 'MailDesk: log a message to an Odoo record'

    message_id = fields.Many2one('maildesk.message', ondelete='cascade')
    message_count = fields.Integer(default=1, readonly=True)
    resource_ref = fields.Reference(selection='_selection_target_model', string='Record',
                                    default=lambda self: self._default_resource_ref())

    @api.model
    def _selection_target_model(self):
        models_ = self.env['ir.model'].sudo().search([('is_mail_thread', '=', True), ('transient', '=', False)])
        return [(model.model, model.name) for model in models_
                if model.model in self.env and not self.env[model.model]._abstract
                and self.env[model.model].has_access('write')]

    @api.model
    def _default_resource_ref(self):
        message = self.env['maildesk.message'].browse(self.env.context.get('default_message_id')).exists()
        partner = message.from_partner_id if message.direction != 'outgoing' else message.partner_ids[:1]
        return '%s,%s' % (partner._name, partner.id) if partner else False

    def action_log(self):
        self.ensure_one()
        if not self.resource_ref:
            raise UserError(_('Choose the record to log this message on.'))
        if not self.message_id:  # the inbox's selection: the inbox logs it, chunk by chunk
            record = log_to_record.target_record(self.env, [self.resource_ref._name, self.resource_ref.id])
            return {'type': 'ir.actions.act_window_close',
                    'infos': {'model': record._name, 'id': record.id, 'name': record.display_name}}
        record = self.message_id.action_log_to_record(self.resource_ref._name, self.resource_ref.id)
        return feedback.notification(_('Logged on %(record)s.', record=record['name']), 'success',
                                     next_action=feedback.CLOSE_DIALOG)
