from odoo import models

from ..engine import personal_sending


class MailMail(models.Model):
    """Odoo's outgoing mail: a user's chatter mail through his own mailbox (optional), every MailDesk mailbox
    paced under Exchange's sending limits (engine/personal_sending.py, engine/send_pacing.py)."""
    _inherit = 'mail.mail'

    def send(self, auto_commit=False, raise_exception=False, post_send_callback=None):
        now = personal_sending.prepare(self)
        return super(MailMail, now).send(auto_commit=auto_commit, raise_exception=raise_exception,
                                         post_send_callback=post_send_callback)
