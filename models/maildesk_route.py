from odoo import _, fields, models
from odoo.exceptions import AccessError

ROUTE_STATES = [
    ('pending', 'To Route'),
    ('routed', 'Routed'),
    ('skipped', 'Skipped'),
    ('no_route', 'No Route'),
    ('error', 'Error'),
]


class MaildeskRoute(models.Model):
    """Where Odoo's mail gateway put one Outlook message of a gateway mailbox: one row per (account, Graph
    immutable id), written in the same transaction as the records ``message_process`` created.

    The row is what makes routing idempotent: a message synced twice, moved back to the Inbox or claimed by two
    workers at once is routed once (:mod:`engine.gateway`). Rows are MailDesk-written; managers read them and may
    send a failed one through the gateway again (:meth:`action_retry`).
    """
    _name = 'maildesk.route'
    _description = 'MailDesk: message routed by the mail gateway'
    _order = 'received_at desc, id desc'
    _rec_name = 'subject'

    account_id = fields.Many2one('maildesk.account', required=True, ondelete='cascade', readonly=True)
    server_id = fields.Many2one('fetchmail.server', 'Incoming Server', ondelete='set null', readonly=True)
    message_id = fields.Many2one('maildesk.message', 'Outlook Message', ondelete='set null', index='btree_not_null',
                                 readonly=True)
    graph_id = fields.Char('Graph ID', required=True, readonly=True)
    internet_message_id = fields.Char('Message-ID', readonly=True)
    subject = fields.Char(related='message_id.subject')
    received_at = fields.Datetime('Received', readonly=True)
    state = fields.Selection(ROUTE_STATES, required=True, default='pending', readonly=True, index=True)
    reason = fields.Text(readonly=True, help='Why the gateway skipped or could not route the message.')
    attempts = fields.Integer(readonly=True)
    routed_at = fields.Datetime(readonly=True)
    res_model = fields.Char('Routed To Model', readonly=True)
    res_id = fields.Many2oneReference('Routed To Record', model_field='res_model', readonly=True)
    mail_message_id = fields.Many2one('mail.message', 'Posted Message', ondelete='set null', readonly=True)

    _sql_constraints = [
        ('graph_id_uniq', 'unique(account_id, graph_id)', 'An Outlook message goes through the gateway once.'),
    ]

    def init(self):
        super().init()
        # the gateway's claim: the oldest pending rows first
        self.env.cr.execute("CREATE INDEX IF NOT EXISTS maildesk_route_pending_idx ON maildesk_route "
                            "(account_id, received_at, id) WHERE state = 'pending'")

    def action_open_record(self):
        """The record the message went to."""
        self.ensure_one()
        if not self.res_model or self.res_model not in self.env:
            return False
        return {'type': 'ir.actions.act_window', 'res_model': self.res_model, 'res_id': self.res_id,
                'view_mode': 'form', 'views': [(False, 'form')]}

    def action_retry(self):
        """Managers: send messages that failed (or found no route) through the gateway again, on its next run."""
        if not self.env.user.has_group('maildesk.group_maildesk_manager'):
            raise AccessError(_('Only MailDesk managers can route messages again.'))
        retry = self.filtered(lambda route: route.state in ('error', 'no_route'))
        retry.sudo().write({'state': 'pending', 'reason': False, 'attempts': 0})
        if retry:
            self.env.ref('maildesk.ir_cron_maildesk_gateway').sudo()._trigger()
        return True
