from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..engine import self_service


class MaildeskConnect(models.TransientModel):
    """Connect my Outlook: the self-service flow of a MailDesk user (account -> Authorize -> folders)."""
    _name = 'maildesk.connect'
    _description = 'MailDesk: connect my Outlook mailbox'

    email = fields.Char('Outlook Address', required=True, default=lambda self: self.env.user.email)
    sender_name = fields.Char('Your Name on Sent Mail', default=lambda self: self.env.user.name)
    # What the form shows; what is allowed is checked again by self_service.start()
    allowed = fields.Boolean(readonly=True, default=lambda self: self._default_allowed())

    @api.model
    def _default_allowed(self):
        return self_service.enabled(self.env) or self.env.user.has_group('maildesk.group_maildesk_manager')

    def action_connect(self):
        """Create (or reuse) my account and its incoming server, then sign in at Microsoft."""
        if len(self) != 1:
            raise UserError(_('Open "Connect my Outlook" in MailDesk to connect your mailbox.'))
        _account, action = self_service.start(self.env, self.email, self.sender_name)
        return action
