"""``maildesk.health``: the administrators' one-screen health overview, a read-only SQL view over the accounts.

One row per active mailbox account: its state, last successful sync, the oldest folder sync (the lag), throttling,
the last error, the failed sends (MailDesk drafts not sent, and Odoo mail through the mailbox's outgoing server in
the *Delivery Failed* state) and what to do, from :mod:`..engine.health` (the same sentences the owner's activity
carries).
"""
from odoo import api, fields, models, tools

from ..engine import health
from .maildesk_account import ACCOUNT_STATES


class MaildeskHealth(models.Model):
    _name = 'maildesk.health'
    _description = 'MailDesk Mailbox Health'
    _auto = False
    _order = 'needs_attention desc, name, id'

    account_id = fields.Many2one('maildesk.account', 'Mailbox', readonly=True)
    name = fields.Char('Account Name', readonly=True)
    email = fields.Char('Email Address', readonly=True)
    user_id = fields.Many2one('res.users', 'Owner', readonly=True)
    state = fields.Selection(ACCOUNT_STATES, 'Status', readonly=True)
    needs_attention = fields.Boolean(readonly=True)
    last_sync_at = fields.Datetime('Last Successful Sync', readonly=True)
    oldest_folder_sync_at = fields.Datetime('Oldest Folder Sync', readonly=True,
                                            help='The least recently synchronized of the folders selected for sync.')
    synced_folder_count = fields.Integer('Synced Folders', readonly=True)
    folder_error_count = fields.Integer('Folders in Error', readonly=True)
    throttled_until = fields.Datetime(readonly=True)
    auth_failure_count = fields.Integer('Sign-in Failures', readonly=True)
    last_error = fields.Text(readonly=True)
    failed_draft_count = fields.Integer('Failed Sends (MailDesk)', readonly=True)
    failed_mail_count = fields.Integer('Failed Sends (Odoo mail)', readonly=True,
                                       help="Odoo's outgoing mail through this mailbox in the Delivery Failed state.")
    lag = fields.Char(compute='_compute_health', help='Time since the oldest folder sync.')
    sync_mode = fields.Char('Push / Polling', compute='_compute_health',
                            help='MailDesk polls Outlook with delta queries (Graph change notifications are not '
                                 'used yet).')
    is_throttled = fields.Boolean('Throttled', compute='_compute_health')
    what_to_do = fields.Text(compute='_compute_health')
    client_secret_expires_on = fields.Date(compute='_compute_health')

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute("""
            CREATE OR REPLACE VIEW maildesk_health AS (
                SELECT a.id, a.id AS account_id, a.name, a.email, a.user_id, a.state, a.last_sync_at,
                       a.throttled_until, a.auth_failure_count, a.last_error,
                       f.oldest_folder_sync_at, COALESCE(f.synced_folder_count, 0) AS synced_folder_count,
                       COALESCE(f.folder_error_count, 0) AS folder_error_count,
                       COALESCE(d.failed_draft_count, 0) AS failed_draft_count,
                       COALESCE(m.failed_mail_count, 0) AS failed_mail_count,
                       (a.state IN ('auth_invalid', 'error') OR COALESCE(f.folder_error_count, 0) > 0)
                           AS needs_attention
                  FROM maildesk_account a
             LEFT JOIN (SELECT account_id, min(COALESCE(last_sync_at, create_date)) AS oldest_folder_sync_at,
                               count(*) AS synced_folder_count,
                               count(*) FILTER (WHERE sync_state = 'error') AS folder_error_count
                          FROM maildesk_folder WHERE sync_enabled GROUP BY account_id) f ON f.account_id = a.id
             LEFT JOIN (SELECT account_id, count(*) AS failed_draft_count
                          FROM maildesk_draft WHERE state = 'failed' GROUP BY account_id) d ON d.account_id = a.id
             LEFT JOIN (SELECT s.maildesk_account_id AS account_id, count(*) AS failed_mail_count
                          FROM mail_mail mm JOIN mail_message mg ON mg.id = mm.mail_message_id
                          JOIN ir_mail_server s ON s.id = mg.mail_server_id
                         WHERE mm.state = 'exception' GROUP BY s.maildesk_account_id) m ON m.account_id = a.id
                 WHERE a.active
            )""")

    @api.depends_context('uid')
    def _compute_health(self):
        now = fields.Datetime.now()
        expiry = health.secret_expiry(self.env)
        stalled = health.stalled_folders(self.account_id)
        for row in self:
            row.client_secret_expires_on = expiry
            row.sync_mode = self.env._('Polling')
            row.is_throttled = bool(row.throttled_until and row.throttled_until > now)
            row.lag = _duration(self.env, now - row.oldest_folder_sync_at) if row.oldest_folder_sync_at else False
            mine = stalled.filtered(lambda folder, row=row: folder.account_id == row.account_id)
            lines = health.incidents(row.account_id, mine)
            row.what_to_do = lines[0] if lines else False

    def action_open_account(self):
        self.ensure_one()
        return {'type': 'ir.actions.act_window', 'res_model': 'maildesk.account', 'res_id': self.account_id.id,
                'view_mode': 'form', 'views': [(False, 'form')]}


def _duration(env, delta):
    minutes = max(int(delta.total_seconds() // 60), 0)
    if minutes < 60:
        return env._('%(minutes)d min', minutes=minutes)
    if minutes < 48 * 60:
        return env._('%(hours)d h %(minutes)d min', hours=minutes // 60, minutes=minutes % 60)
    return env._('%(days)d days', days=minutes // (24 * 60))
