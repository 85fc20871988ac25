from odoo import api, fields, models


class MaildeskSystemMail(models.Model):
    """A Message-ID Odoo itself sent through an outgoing server bound to a mailbox account (password resets,
    notifications, any ``mail.mail``): noted before the mail leaves, so the sync marks Outlook's copies of it
    ``is_system_mail`` and record rules keep them for system administrators. System administrators only."""
    _name = 'maildesk.system.mail'
    _description = 'MailDesk: mail Odoo sent through a mailbox'
    _order = 'id desc'

    account_id = fields.Many2one('maildesk.account', required=True, ondelete='cascade', readonly=True)
    message_id = fields.Char('Message-ID', required=True, readonly=True)

    _sql_constraints = [
        ('message_uniq', 'unique(account_id, message_id)', 'A Message-ID is noted once per mailbox.'),
    ]

    @api.model
    def _record(self, account_id, message_id):
        """Note one Message-ID (idempotent: a mail sent again after a failure keeps its Message-ID)."""
        self.env.cr.execute("""
            INSERT INTO maildesk_system_mail (account_id, message_id, create_uid, create_date, write_uid, write_date)
            VALUES (%s, %s, %s, now() at time zone 'UTC', %s, now() at time zone 'UTC')
            ON CONFLICT (account_id, message_id) DO NOTHING
        """, [account_id, message_id, self.env.uid, self.env.uid])
