from collections import defaultdict

from odoo import SUPERUSER_ID, api, fields, models

from ..engine.message_batch import mark_system_mail

PENDING_KEY = 'maildesk.system_mail'


class MaildeskSystemMail(models.Model):
    """A Message-ID Odoo itself sent through an outgoing server bound to a mailbox account (password resets,
    notifications, any ``mail.mail``): noted as the mail leaves, so the sync stores Outlook's copies of it
    ``is_system_mail`` and record rules keep those for system administrators. System administrators only."""
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
        """Note one Message-ID (idempotent: a mail sent again after a failure keeps its Message-ID).

        A sync in another worker may store Outlook's copy before this transaction commits (it cannot see the note
        yet): once it commits, the copies already stored are marked too (:func:`engine.message_batch.mark_system_mail`).
        """
        self.env.cr.execute("""
            INSERT INTO maildesk_system_mail (account_id, message_id, create_uid, create_date, write_uid, write_date)
            VALUES (%s, %s, %s, now() at time zone 'UTC', %s, now() at time zone 'UTC')
            ON CONFLICT (account_id, message_id) DO NOTHING
        """, [account_id, message_id, self.env.uid, self.env.uid])
        postcommit = self.env.cr.postcommit
        if PENDING_KEY not in postcommit.data:
            registry = self.env.registry

            @postcommit.add
            def mark_stored_copies():
                pending = postcommit.data.pop(PENDING_KEY, {})
                with registry.cursor() as cr:
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    for account, message_ids in sorted(pending.items()):
                        mark_system_mail(env, account, sorted(message_ids))
        postcommit.data.setdefault(PENDING_KEY, defaultdict(set))[account_id].add(message_id)
