from odoo import api, fields, models

from ..engine import push

SUBSCRIPTION_STATES = [
    ('active', 'Push active'),
    ('failed', 'Polling'),
]


class MaildeskSubscription(models.Model):
    """A Graph change-notification subscription of one synced folder (its messages: created, updated, deleted).

    Created, renewed and deleted by :mod:`engine.push` only; a notification naming it only sets
    ``delta_requested_at`` and wakes the push cron, which runs the folder's delta (:mod:`engine.sync_run`).
    ``client_state`` is the per-subscription secret Graph echoes in every notification: system-only, never logged.
    """
    _name = 'maildesk.subscription'
    _description = 'MailDesk Push Subscription'
    _order = 'folder_id'

    folder_id = fields.Many2one('maildesk.folder', required=True, ondelete='cascade', index=True, readonly=True)
    account_id = fields.Many2one(related='folder_id.account_id', store=True, index=True)
    graph_subscription_id = fields.Char('Graph Subscription ID', readonly=True, index=True, copy=False)
    client_state = fields.Char(groups='base.group_system', readonly=True, copy=False)
    state = fields.Selection(SUBSCRIPTION_STATES, required=True, default='failed', readonly=True)
    expires_at = fields.Datetime('Expires', readonly=True)
    subscribed_at = fields.Datetime('Active Since', readonly=True, copy=False,
                                    help='When the Graph subscription in use was created.')
    delta_requested_at = fields.Datetime(
        readonly=True, copy=False, help='A notification asked for a delta of the folder (cleared when it runs).')
    last_notification_at = fields.Datetime('Last Notification', readonly=True, copy=False)
    failure_reason = fields.Char('Why Polling', readonly=True)
    retry_at = fields.Datetime(readonly=True, copy=False, help='When a failed subscription is tried again.')

    _sql_constraints = [
        ('folder_uniq', 'unique(folder_id)', 'A folder has one push subscription.'),
    ]

    @api.model
    def _cron_maintain(self):
        """MailDesk: push subscriptions -- create the missing ones, renew before expiry, delete the unused."""
        return push.cron_maintain(self.env)

    @api.model
    def _cron_push_sync(self):
        """MailDesk: push sync -- the delta of the folders notifications named, and only those."""
        return push.cron_push_sync(self.env)
