from odoo import api, fields, models

from ..engine.send_pacing import DAY, MINUTE


class MaildeskSendPace(models.Model):
    """What each mailbox sent lately (engine/send_pacing.py), to stay under Exchange Online's sending limits.

    Rows older than a day are dropped as new ones come. System administrators only (Odoo's mail is theirs).
    """
    _name = 'maildesk.send.pace'
    _description = 'MailDesk: mail sent per mailbox (pacing)'
    _order = 'id desc'
    _log_access = False

    account_id = fields.Many2one('maildesk.account', required=True, ondelete='cascade', index=True, readonly=True)
    sent_at = fields.Datetime(required=True, default=fields.Datetime.now, readonly=True, index=True)
    message_count = fields.Integer(readonly=True, default=1)
    recipient_count = fields.Integer(readonly=True, default=1)

    @api.model
    def _usage(self, account_id, now):
        """(messages in the last minute, recipients in the last day, the oldest row of each window)."""
        self.env.flush_all()
        self.env.cr.execute('DELETE FROM maildesk_send_pace WHERE account_id = %s AND sent_at <= %s',
                            [account_id, now - DAY])
        self.env.cr.execute("""
            SELECT COALESCE(sum(message_count) FILTER (WHERE sent_at > %(minute)s), 0),
                   COALESCE(sum(recipient_count), 0),
                   min(sent_at) FILTER (WHERE sent_at > %(minute)s), min(sent_at)
              FROM maildesk_send_pace WHERE account_id = %(account)s
        """, {'account': account_id, 'minute': now - MINUTE})
        minute_used, day_used, minute_oldest, day_oldest = self.env.cr.fetchone()
        return minute_used, day_used, minute_oldest or now, day_oldest or now


