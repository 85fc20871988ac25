from odoo import _, api, models
from odoo.exceptions import UserError

from ..engine import feedback, folder_tree, sync_run


class MaildeskAccountSync(models.Model):
    _inherit = 'maildesk.account'

    def action_fetch_folders(self):
        """Fetch Folders: make the account's folder tree equal to Outlook's (all levels, hidden left out)."""
        self.ensure_one()
        self.check_access('write')
        if self.state in ('not_authorized', 'auth_invalid'):
            raise UserError(_('Authorize the mailbox first: click "Authorize Outlook".'))
        created, updated, removed = folder_tree.fetch_folders(self)
        message = _('%(count)d folders: %(created)d new, %(updated)d updated, %(removed)d removed.',
                    count=len(self.folder_ids), created=created, updated=updated, removed=removed)
        return feedback.notification(message, 'success', title=_('Folders fetched'), next_action=feedback.SOFT_RELOAD)

    def action_sync_now(self):
        """Sync now: one round in the foreground (changes, newest pages, then backfill for a few seconds)."""
        self.ensure_one()
        self.check_access('write')
        reason = self._check_can_sync()
        if reason:
            raise UserError(reason)
        if not self.folder_ids.filtered('sync_enabled'):
            raise UserError(_('No folder is selected for sync: click "Fetch Folders", then tick the folders to '
                              'synchronize in the Folders tab.'))
        title, message, kind = self._sync_round().summary(self.env)
        return feedback.notification(message, kind, title=title, next_action=feedback.SOFT_RELOAD)

    def _sync_round(self, budget=sync_run.SYNC_NOW_BUDGET):
        """One sync round of these accounts (Sync now, Fetch Now on a Graph incoming server): :class:`SyncRun`."""
        return sync_run.sync_round(self, budget)

    @api.model
    def _cron_sync_changes(self):
        return sync_run.cron_sync_changes(self.env)

    @api.model
    def _cron_backfill(self):
        return sync_run.cron_backfill(self.env)
