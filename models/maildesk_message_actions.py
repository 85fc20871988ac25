"""What a user does with a message: write-back to Outlook, conversations, reply / forward, log to an Odoo record.

Write-back (permission level *Read & write back*): the local row changes at once (the inbox's local part,
``super()``), is marked ``pending_action`` while Graph is asked, and is reverted with a visible message when Graph
refuses; the next delta round then brings Outlook's own state, which agrees. With *Read only* the same actions
stay local and the returned notification says so. See ARCHITECTURE.md, "Write-back".
"""
import logging
import re

from markupsafe import Markup

from odoo import _, api, fields, models, tools
from odoo.exceptions import UserError
from odoo.tools import create_index

from ..graph import errors, mail
from ..engine import threads
from .maildesk_message import LOCAL_ID_PREFIX

_logger = logging.getLogger(__name__)

REPLY_SUBJECT = re.compile(r'^\s*(re|aw|sv|antw|fw|fwd|wg|tr)\s*:', re.I)
# Failures that concern the whole mailbox: the other messages of the batch are not even tried.
MAILBOX_ERRORS = (errors.AuthInvalid, errors.AuthExpired, errors.AccessDenied, errors.Throttled)
SNAPSHOT_FIELDS = {
    'mark_read': ('is_read',),
    'mark_unread': ('is_read',),
    'flag': ('flag_status',),
    'categories': ('categories',),
    'move': ('folder_id', 'active'),
    'delete': ('folder_id', 'active'),
}


class MaildeskMessageActions(models.Model):
    _inherit = 'maildesk.message'

    def init(self):
        super().init()
        # children of a message by In-Reply-To (conversation drift); few rows know it, so a small partial index
        create_index(self._cr, 'maildesk_message_in_reply_to_idx', self._table, ['account_id', 'in_reply_to'],
                     where='in_reply_to IS NOT NULL')

    # ------------------------------------------------------------------ write-back

    def action_mark_read(self):
        targets = self.filtered(lambda m: not m.is_read)
        return self._maildesk_write_back('mark_read', targets, lambda: super(MaildeskMessageActions, self)
                                         .action_mark_read(), _patch_fields)

    def action_mark_unread(self):
        targets = self.filtered('is_read')
        return self._maildesk_write_back('mark_unread', targets, lambda: super(MaildeskMessageActions, self)
                                         .action_mark_unread(), _patch_fields)

    def action_toggle_flag(self):
        return self._maildesk_write_back('flag', self, lambda: super(MaildeskMessageActions, self)
                                         .action_toggle_flag(), _patch_fields)

    def action_set_categories(self, categories):
        """Replace the Outlook categories (a list of names, or one comma-separated string)."""
        if isinstance(categories, str):
            categories = categories.split(',')
        names = list(dict.fromkeys(name.strip() for name in categories or () if name and name.strip()))
        value = ', '.join(names) or False

        def local():
            self._maildesk_local_write({'categories': value}, self)
        return self._maildesk_write_back('categories', self, local, _patch_fields)

    def action_move(self, folder_id):
        if self.env.context.get('maildesk_local_only'):
            return super().action_move(folder_id)
        folder = self.env['maildesk.folder'].browse(int(folder_id)).exists()
        targets = self.filtered(lambda m: m.folder_id != folder)

        def call(client, message):
            moved = client.move_message(message.graph_id, folder.graph_id)
            new_id = (moved or {}).get('id')
            if new_id and new_id != message.graph_id:  # only without immutable ids
                message.sudo().graph_id = new_id
        return self._maildesk_write_back('move', targets, lambda: super(MaildeskMessageActions, self)
                                         .action_move(folder_id), call)

    def action_delete(self):
        """Delete in Outlook, which moves the message to Deleted Items (or purges it from there)."""
        def local():
            super(MaildeskMessageActions, self.with_context(maildesk_local_only=True)).action_delete()
        return self._maildesk_write_back('delete', self, local,
                                         lambda client, message: client.delete_message(message.graph_id))

    def _maildesk_write_back(self, action, targets, local, call):
        """Apply ``local()`` now, then ``call(client, message)`` per target; revert the targets Graph refused.

        :return: True, or a notification action (read only, or what failed)
        """
        self.check_access('write')
        snapshots = {message.id: message._maildesk_snapshot(SNAPSHOT_FIELDS[action]) for message in targets}
        local()
        if not targets:
            return True
        if not self.env['maildesk.account']._maildesk_settings()['write_back']:
            return _notification('warning', _('Changed in MailDesk only'), _(
                'MailDesk has the permission level "Read only": this change is not sent to Outlook, where the '
                'message keeps its state. An administrator can choose "Read & write back" in Settings > MailDesk.'))
        targets = targets.exists()
        targets.sudo().write({'pending_action': action})
        failures = []
        for account in targets.account_id:
            failures += targets.filtered(lambda m: m.account_id == account)._maildesk_graph_round(call)
        for message, _exc in failures:
            message._maildesk_revert(snapshots[message.id])
        if not failures:
            return True
        return self._maildesk_failure_notification(action, failures)

    def _maildesk_graph_round(self, call):
        """Ask Graph for each message of one account; returns [(message, exception)] for the refused ones."""
        failures, blocking = [], None
        try:
            client = self.account_id._graph_client()
        except errors.GraphError as exc:
            blocking = exc
        for message in self:
            if blocking is None and message.graph_id.startswith(LOCAL_ID_PREFIX):
                message.sudo().pending_action = False  # not in Outlook yet: nothing to tell it
                continue
            if blocking is not None:
                failures.append((message, blocking))
                continue
            try:
                call(client, message)
            except errors.GraphError as exc:
                _logger.info('MailDesk message %s: write-back %s refused (%s)', message.id,
                             message.pending_action, exc.__class__.__name__)
                failures.append((message, exc))
                if isinstance(exc, MAILBOX_ERRORS):
                    blocking = exc
            else:
                message.sudo().pending_action = False
        return failures

    def _maildesk_snapshot(self, field_names):
        self.ensure_one()
        return {name: self[name].id if self._fields[name].type == 'many2one' else self[name]
                for name in field_names}

    def _maildesk_revert(self, snapshot):
        self.ensure_one()
        folders = self.folder_id
        self.sudo().write(dict(snapshot, pending_action=False))
        self._maildesk_notify(folders | self.folder_id)

    def _maildesk_local_write(self, values, records):
        if records:
            folders = records.folder_id
            records.write(values)
            records._maildesk_notify(folders)

    def _maildesk_notify(self, folders):
        if hasattr(self, '_maildesk_notify_changed'):
            self._maildesk_notify_changed(folders, self.account_id)

    def _maildesk_failure_notification(self, action, failures):
        labels = {
            'mark_read': _('mark as read'), 'mark_unread': _('mark as unread'), 'flag': _('change the flag'),
            'categories': _('set the categories'), 'move': _('move the message'), 'delete': _('delete the message'),
        }
        exc = failures[0][1]
        text = self._graph_error_text(exc, labels[action])
        if len(failures) > 1:
            text = _('%(count)s messages were not changed. %(reason)s', count=len(failures), reason=text)
        return _notification('danger', _('Outlook did not confirm: change undone'), text, sticky=True)

    @api.model
    def _graph_error_text(self, exc, what):
        """A sentence for the user about a Graph failure while trying to ``what`` (e.g. "send the message")."""
        if isinstance(exc, errors.AuthInvalid):
            return self.env['maildesk.account']._auth_error_message(exc)
        if isinstance(exc, errors.AuthExpired):
            return _('Outlook did not accept the mailbox\'s sign-in, so MailDesk could not %(what)s. Click '
                     '"Authorize Outlook" on the account, then try again.', what=what)
        if isinstance(exc, errors.AccessDenied):
            return _('Outlook refused to %(what)s: MailDesk lacks the permission. With "Read & write back" in '
                     'Settings > MailDesk, authorize the account again so it grants it.', what=what)
        if isinstance(exc, errors.Throttled):
            return _('Outlook asked MailDesk to slow down, so it could not %(what)s. Try again in %(seconds)s '
                     'seconds.', what=what, seconds=int(exc.retry_after or 30) + 1)
        if isinstance(exc, errors.NotFound):
            return _('Outlook no longer has this message (moved or deleted in Outlook), so MailDesk could not '
                     '%(what)s. The next sync updates MailDesk.', what=what)
        if isinstance(exc, errors.RequestTooLarge):
            return _('Outlook refused to %(what)s: the message is too large for the mailbox (%(detail)s). Remove '
                     'or shrink attachments.', what=what, detail=exc.message)
        if isinstance(exc, errors.Transient):
            return _('Outlook could not be reached or failed (%(detail)s), so MailDesk could not %(what)s. '
                     'Nothing is lost: try again in a moment.', what=what, detail=exc.message)
        return _('Outlook refused to %(what)s: %(detail)s', what=what, detail=exc.message)

    # ------------------------------------------------------------------ conversations

    def action_open_conversation(self):
        """The conversation of this message across folders (Inbox, Sent Items...), oldest first."""
        self.ensure_one()
        return {
            'type': 'ir.actions.act_window',
            'name': _('Conversation: %(subject)s', subject=self.subject or _('(no subject)')),
            'res_model': self._name,
            'view_mode': 'list,form',
            'views': [(self.env.ref('maildesk.maildesk_message_view_list_conversation').id, 'list'), (False, 'form')],
            'domain': self._conversation_domain(),
            'context': {'create': False},
        }

    def _conversation_domain(self):
        self.ensure_one()
        if not self.thread_key:
            return [('id', '=', self.id)]
        return [('account_id', '=', self.account_id.id), ('thread_key', '=', self.thread_key)]

    def _conversation_messages(self):
        """The messages of the conversation, oldest first."""
        return self.search(self._conversation_domain(), order='received_at asc, id asc')

    def _maildesk_link_threads(self):
        """Set the conversation keys of these messages (see :mod:`engine.threads`)."""
        threads.link_threads(self)

    def _maildesk_fetch_thread_headers(self, client=None):
        """Read In-Reply-To / References from Graph (``internetMessageHeaders`` is only returned when selected)
        and join the conversation they point to. One small GET per message; used when a body is fetched."""
        for message in self.filtered(lambda m: not m.in_reply_to and not m.references
                                     and not m.graph_id.startswith(LOCAL_ID_PREFIX)):
            client = client or message.account_id._graph_client()
            item = client.get_message(message.graph_id, body=False, select=('id', 'internetMessageHeaders'))
            values = threads.header_values(item.get('internetMessageHeaders'))
            if values:
                message.sudo().write(values)
        self._maildesk_link_threads()

    def _fetch_body(self):
        super()._fetch_body()
        if self._maildesk_may_have_drifted():
            try:
                self._maildesk_fetch_thread_headers()
            except errors.GraphError as exc:  # threading is a bonus: never fail opening a message for it
                _logger.info('MailDesk message %s: thread headers not read (%s)', self.id, exc.__class__.__name__)

    def _maildesk_may_have_drifted(self):
        """A reply alone in its conversation: the only case where its headers may find a thread Outlook lost.
        Everything else costs no request."""
        self.ensure_one()
        if self.in_reply_to or self.references or not REPLY_SUBJECT.match(self.subject or ''):
            return False
        others = [('internet_message_id', '!=', self.internet_message_id)] if self.internet_message_id else \
            [('id', '!=', self.id)]
        return not self.search_count(self._conversation_domain() + others, limit=1)

    # ------------------------------------------------------------------ compose entry points

    def action_reply(self):
        return self._maildesk_open_composer('reply')

    def action_reply_all(self):
        return self._maildesk_open_composer('reply_all')

    def action_forward(self):
        return self._maildesk_open_composer('forward')

    def action_compose(self):
        """A new message: from this message's mailbox, else the context's ``default_account_id``."""
        account = self[:1].account_id
        if not account and self.env.context.get('default_account_id'):
            account = self.env['maildesk.account'].browse(int(self.env.context['default_account_id']))
        if not account:
            account = self.env['maildesk.draft']._default_account()
        if not account:
            raise UserError(_('Create a mailbox account first (MailDesk > Configuration > Mailbox Accounts).'))
        return self.env['maildesk.draft']._open_composer(account)

    def _maildesk_open_composer(self, kind):
        self.ensure_one()
        self.check_access('read')
        return self.env['maildesk.draft']._open_composer(self.account_id, kind, self)

    def _maildesk_quote_body(self):
        """The body to quote in a reply / forward: fetched when needed; the preview when Outlook is unreachable."""
        self.ensure_one()
        if not self.body_fetched_at and hasattr(self, '_fetch_body'):
            try:
                with self.env.cr.savepoint():
                    self._fetch_body()
            except UserError:
                pass
        if self.body_html:
            return Markup(self.body_html)
        return Markup(tools.plaintext2html(self.body_preview or ''))

    # ------------------------------------------------------------------ log to an Odoo record

    def action_log_to_record(self, res_model=None, res_id=None):
        """Post the message (body and attachments) on the chatter of an Odoo record, once per message.

        Without arguments (form button) opens the chooser; with them (inbox RPC) logs at once and returns
        ``{'model', 'id', 'name'}``.
        """
        self.ensure_one()
        if res_model is None:
            self._maildesk_check_not_logged()
            return {
                'type': 'ir.actions.act_window',
                'name': _('Log to Record'),
                'res_model': 'maildesk.log.record',
                'view_mode': 'form',
                'target': 'new',
                'context': {'default_message_id': self.id},
            }
        if res_model not in self.env or not hasattr(self.env[res_model], 'message_post'):
            raise UserError(_('Messages can only be logged on records with a chatter.'))
        record = self.env[res_model].browse(int(res_id or 0)).exists()
        if not record:
            raise UserError(_('The record to log this message on no longer exists.'))
        self._maildesk_log_to(record)
        return {'model': record._name, 'id': record.id, 'name': record.display_name}

    def _maildesk_check_not_logged(self):
        if self.res_model and self.res_id:
            target = self.env[self.res_model].browse(self.res_id).exists() if self.res_model in self.env else None
            raise UserError(_('This message is already logged on %(record)s. A message is logged once.',
                              record=target.sudo().display_name if target else '%s,%s' % (self.res_model,
                                                                                          self.res_id)))

    def _maildesk_log_to(self, record):
        self.ensure_one()
        self.check_access('write')
        record.check_access('write')
        # Two clicks at once must not log twice: lock the row, then look again.
        self.env.cr.execute('SELECT 1 FROM maildesk_message WHERE id = %s FOR NO KEY UPDATE', [self.id])
        self.invalidate_recordset(['res_model', 'res_id'])
        self._maildesk_check_not_logged()
        # A message sent from MailDesk has the composer's files; any other gets Outlook's, downloaded now.
        attachments = self.attachment_ids.filtered(lambda a: not a.maildesk_graph_id and not a.maildesk_content_id)
        if not attachments and self.has_attachments and not self.graph_id.startswith(LOCAL_ID_PREFIX):
            attachments = self.env['ir.attachment'].browse(self.action_download_attachments())
        quote_body = self._maildesk_quote_body()
        copies = self.env['ir.attachment']
        for attachment in attachments.sudo():
            copies |= attachment.copy({'res_model': record._name, 'res_id': record.id})
        author = tools.formataddr((self.from_name or '', self.from_address)) if self.from_address else None
        when = self.received_at or self.sent_at
        header = Markup('<p><small>%s</small></p>') % _(
            'Email from %(author)s to %(recipients)s, %(date)s. Logged from MailDesk by %(user)s.',
            author=author or self.from_name or '?', recipients=self.to_recipients or '?',
            date=tools.format_datetime(self.env, when) if when else '?', user=self.env.user.name)
        record.message_post(
            body=header + quote_body, subject=self.subject or False, message_type='email',
            subtype_xmlid='mail.mt_note', email_from=author, attachment_ids=copies.ids,
            email_add_signature=False)
        self.sudo().write({'res_model': record._name, 'res_id': record.id})
        self._maildesk_notify(self.folder_id)
        return record


class MaildeskAccountCompose(models.Model):
    _inherit = 'maildesk.account'

    def action_compose(self):
        """New message from this mailbox."""
        self.ensure_one()
        return self.env['maildesk.draft']._open_composer(self)


def _patch_fields(client, message):
    """Send the message's current read / flag / categories values to Outlook (only the changed one matters,
    but sending the three keeps one code path and is idempotent)."""
    action = message.pending_action
    if action in ('mark_read', 'mark_unread'):
        payload = {'isRead': bool(message.is_read)}
    elif action == 'flag':
        payload = {'flag': {'flagStatus': message.flag_status or 'notFlagged'}}
    else:
        payload = {'categories': [n.strip() for n in (message.categories or '').split(',') if n.strip()]}
    client.update_message(message.graph_id, payload)


def _notification(kind, title, message, sticky=False):
    return {
        'type': 'ir.actions.client',
        'tag': 'display_notification',
        'params': {'type': kind, 'title': title, 'message': message, 'sticky': sticky},
    }

