"""Sync-side overrides of ``maildesk.message`` waiting for the one sync pipeline (issue #12): local entries,
conversations and the inbox's bus notification after each upsert batch; and ``maildesk.account.action_compose``.

Everything a user does with a message lives in ``models/maildesk_message.py``.
"""
from odoo import api, models

from ..graph import mail
from ..engine import threads


class MaildeskMessageBatchNotify(models.Model):
    _inherit = 'maildesk.message'

    @api.model
    def _upsert_graph_batch(self, folder, items, *args, **kwargs):
        """After the sync stored a delta page: open inboxes refresh (delivered when the page commits)."""
        stats = super()._upsert_graph_batch(folder, items, *args, **kwargs)
        if not isinstance(stats, dict) or any(stats.get(key) for key in ('created', 'updated', 'removed')):
            self._maildesk_notify_changed(folder)
        return stats


class MaildeskMessageActions(models.Model):
    _inherit = 'maildesk.message'

    def _maildesk_link_threads(self):
        """Set the conversation keys of these messages (see :mod:`engine.threads`)."""
        threads.link_threads(self)

    @api.model
    def _upsert_graph_batch(self, folder, items, *args, **kwargs):
        """After the sync's upsert: Outlook's copy of a sent message is no longer a local entry (same immutable
        id: the sync updates the row in place), and the batch's messages join their conversations."""
        result = super()._upsert_graph_batch(folder, items, *args, **kwargs)
        graph_ids = [item['id'] for item in items or () if isinstance(item, dict) and '@removed' not in item
                     and mail.usable_id(item)]  # a hostile id (NUL, lone surrogate) cannot even be searched
        if graph_ids:
            rows = self.sudo().with_context(active_test=False).search(
                [('account_id', '=', folder.account_id.id), ('graph_id', 'in', graph_ids)])
            rows.filtered(lambda m: m.is_local and m.folder_id == folder).write({'is_local': False})
            rows._maildesk_link_threads()
        return result

    @api.model
    def _adopt_local_entries(self, folder, values_list, context):
        """Only a copy in the local entry's own folder replaces it: the Inbox copy of a message sent to oneself
        carries the same internetMessageId, and must not take the local entry out of Sent Items."""
        message_ids = [v['internet_message_id'] for v in values_list if v.get('internet_message_id')]
        if not message_ids:
            return set()
        folders = [folder.id, False] if folder.role == 'sentitems' else [folder.id]
        here = set(self.sudo().with_context(active_test=False).search([
            ('account_id', '=', folder.account_id.id), ('is_local', '=', True),
            ('internet_message_id', 'in', message_ids), ('folder_id', 'in', folders)]).mapped('internet_message_id'))
        candidates = [v for v in values_list if v.get('internet_message_id') in here]
        return super()._adopt_local_entries(folder, candidates, context) if candidates else set()


class MaildeskAccountCompose(models.Model):
    _inherit = 'maildesk.account'

    def action_compose(self):
        """New message from this mailbox."""
        self.ensure_one()
        return self.env['maildesk.draft']._open_composer(self)
