from odoo import api, models

PENDING_KEY = 'maildesk.bus.changed'


class MaildeskBusMixin(models.AbstractModel):
    """Open inboxes follow MailDesk's records live through Odoo's bus.

    A model inheriting this mixin lists in ``_maildesk_bus_fields`` the fields the inbox shows (a folder's sync
    status, an account's state...): a write that changes one of them sends ``maildesk/changed``. Anything else
    (the sync's message batches, message actions) calls :meth:`_maildesk_notify_changed` itself, once. A write
    in the context ``maildesk_bus_quiet`` tells nothing (the sync's progress on a page of older mail, see
    ``engine.folder_round``).
    """
    _name = 'maildesk.bus.mixin'
    _description = 'MailDesk: live updates of open inboxes'

    _maildesk_bus_fields = ()

    def write(self, vals):
        watched = [name for name in self._maildesk_bus_fields if name in vals]
        changed = self.filtered(lambda record: any(record[name] != vals[name] for name in watched)) \
            if watched else self.browse()
        result = super().write(vals)
        if changed and not self.env.context.get('maildesk_bus_quiet'):
            self._maildesk_notify_changed(changed)
        return result

    @api.model
    def _maildesk_notify_changed(self, *recordsets):
        """Tell open inboxes that these folders / accounts / messages changed (new mail, read, moved, status).

        ``recordsets``: any number of ``maildesk.folder``, ``maildesk.account`` and ``maildesk.message``
        recordsets. What a transaction changes is gathered and sent once when it commits: one ``maildesk/changed``
        ``{account_ids: [id], folder_ids}`` per account, to its owner, its shared users and the MailDesk managers
        (a sync page that stores mail and moves its folder's progress is one message, not three). Open inboxes
        then refresh counts and the open page.
        """
        folders = self.env['maildesk.folder']
        accounts = self.env['maildesk.account']
        for records in recordsets:
            if records._name == 'maildesk.message':
                folders |= records.folder_id
                accounts |= records.account_id
            elif records._name == 'maildesk.folder':
                folders |= records
            elif records._name == 'maildesk.account':
                accounts |= records
        if not folders and not accounts:
            return
        pending = self._maildesk_pending_changes()
        for folder in folders.sudo():
            pending.setdefault(folder.account_id.id, set()).add(folder.id)
        for account in accounts:
            pending.setdefault(account.id, set())

    @api.model
    def _maildesk_pending_changes(self):
        """``{account id: {folder ids}}`` of this transaction, sent by a precommit hook registered once."""
        precommit = self.env.cr.precommit
        pending = precommit.data.get(PENDING_KEY)
        if pending is None:
            pending = precommit.data[PENDING_KEY] = {}
            env = self.env(su=True)

            @precommit.add
            def send_changes():
                changes = precommit.data.pop(PENDING_KEY, {})
                managers = env.ref('maildesk.group_maildesk_manager')
                for account in env['maildesk.account'].browse(sorted(changes)).exists():
                    payload = {'account_ids': account.ids, 'folder_ids': sorted(changes[account.id])}
                    (account.user_id | account.shared_user_ids).partner_id._bus_send('maildesk/changed', payload)
                    managers._bus_send('maildesk/changed', payload)
        return pending
