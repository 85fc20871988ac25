from odoo import _, api, fields, models

from ..engine import feedback, shared_mailbox


class MaildeskSharedMailboxWizard(models.TransientModel):
    """Add a shared mailbox through an authorized personal account, or take over a shared mailbox's connection."""
    _name = 'maildesk.shared.mailbox.wizard'
    _description = 'MailDesk: add a shared mailbox / take over its connection'

    mode = fields.Selection([('add', 'Add'), ('take_over', 'Take over')], required=True, default='add')
    connection_account_id = fields.Many2one(
        'maildesk.account', 'Connect Through', required=True, ondelete='cascade',
        domain="[('mailbox_kind', '=', 'personal'), ('user_id', '=', uid), "
               "('state', 'in', ('authorized', 'connected', 'error'))]",
        default=lambda self: self._default_connection(),
        help='Your own authorized mailbox account: its Microsoft sign-in opens the shared mailbox.')
    shared_account_id = fields.Many2one('maildesk.account', 'Shared Mailbox Account', ondelete='cascade')
    address = fields.Char('Shared Mailbox Address', help='The primary email address, e.g. support@company.com.')
    name = fields.Char('Account Name')
    send_mode = fields.Selection([('send_as', 'Send As'), ('send_on_behalf', 'Send on Behalf')], default='send_as',
                                 required=True)

    @api.model
    def _default_connection(self):
        if self.env.context.get('default_connection_account_id'):
            return self.env.context['default_connection_account_id']
        return self.env['maildesk.account'].search([
            ('mailbox_kind', '=', 'personal'), ('user_id', '=', self.env.uid),
            ('state', 'in', ('authorized', 'connected', 'error'))], limit=1)

    @api.onchange('address')
    def _onchange_address(self):
        if self.address and not self.name:
            self.name = self.address.strip()

    def action_confirm(self):
        self.ensure_one()
        if self.mode == 'take_over':
            shared_mailbox.take_over(self.shared_account_id, self.connection_account_id)
            return feedback.notification(_('%(address)s is now connected through %(connection)s.',
                                           address=self.shared_account_id.email,
                                           connection=self.connection_account_id.display_name), 'success',
                                         next_action=feedback.SOFT_RELOAD)
        account = shared_mailbox.add_shared_mailbox(self.connection_account_id, self.address, self.name,
                                                    self.send_mode)
        return {'type': 'ir.actions.act_window', 'res_model': 'maildesk.account', 'res_id': account.id,
                'view_mode': 'form', 'views': [(False, 'form')], 'target': 'current'}
