from odoo import api, models


class MaildeskBusMixin(models.AbstractModel):
    """Open inboxes follow MailDesk's records live through Odoo's bus.

    A model inheriting this mixin lists in ``_maildesk_bus_fields`` the fields the inbox shows (a folder's sync
    status, an account's state...): a write that changes one of them sends ``maildesk/changed``. Anything else
    (the sync's message batches, message actions) calls :meth:`_maildesk_notify_changed` itself, once.
    """
    _name = 'maildesk.bus.mixin'
    _description = 'MailDesk: live updates of open inboxes'

    _maildesk_bus_fields = ()

    def write(self, vals):
        watched = [name for name in self._maildesk_bus_fields if name in vals]
        changed = self.filtered(lambda record: any(record[name] != vals[name] for name in watched)) \
            if watched else self.browse()
        result = super().write(vals)
        if changed:
            self._maildesk_notify_changed(changed)
        return result

    @api.model
    def _maildesk_notify_changed(self, *recordsets):
        """Tell open inboxes that these folders / accounts / messages changed (new mail, read, moved, status).

        ``recordsets``: any number of ``maildesk.folder``, ``maildesk.account`` and ``maildesk.message``
        recordsets. Sends ``maildesk/changed`` ``{account_ids, folder_ids}`` (delivered on commit) to the
        accounts' owners, shared users and MailDesk managers; open inboxes refresh counts and the open page.
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
        accounts |= folders.account_id
        if not accounts:
            return
        payload = {'account_ids': accounts.ids, 'folder_ids': folders.ids}
        accounts = accounts.sudo()
        (accounts.user_id | accounts.shared_user_ids).partner_id._bus_send('maildesk/changed', payload)
        self.env.ref('maildesk.group_maildesk_manager').sudo()._bus_send('maildesk/changed', payload)
