"""Compose, reply, reply all and forward from MailDesk, sent through Microsoft Graph on the account's token.

Send path (why draft + send): with the permission level *Read & write back* (Mail.ReadWrite) a message is sent
as an Outlook draft (``POST /me/messages``, or ``createReply`` / ``createReplyAll`` / ``createForward`` so Outlook
keeps the conversation), completed (PATCH, attachments inline or through an upload session) and then sent
(``/send``). Every Graph call carries ``Prefer: IdType="ImmutableId"``, so the draft's id *is* the id of the
Sent Items copy (graph-api.md §5): the local Sent Items entry is stored under that id before ``/send``, and the
sync's upsert by (account, graph_id) later lands on the same row, whatever the order. The draft id is kept on
the ``maildesk.draft`` record, so a retry looks the draft up first (already sent? then nothing is sent again)
and never sends twice. ``sendMail`` with MIME returns no id at all, so it could only be correlated afterwards.

With *Read only* (Mail.Read + Mail.Send, no draft may be created) MailDesk falls back on ``sendMail`` /
``reply`` / ``replyAll`` / ``forward`` with a JSON message carrying its own internetMessageId: the local entry
gets a placeholder id and is adopted by the sync through that internetMessageId. Attachments must then fit in
one request (no upload session without a draft).

A ``maildesk.draft`` is persistent: what was typed survives a failed send, which keeps it with the reason.
"""
import logging
import re
import uuid

from markupsafe import Markup

from odoo import _, api, fields, models, tools
from odoo.exceptions import UserError
from odoo.tools.mail import email_split_tuples

from ..graph import errors
from .maildesk_message import LOCAL_ID_PREFIX

_logger = logging.getLogger(__name__)

MB = 1024 * 1024
# Graph refuses requests above 4 MB; base64 grows data by a third, so the JSON that carries attachments inline
# (the draft creation, or sendMail without a draft) keeps their raw total below 2.5 MB.
INLINE_REQUEST_BUDGET = int(2.5 * MB)
SMALL_ATTACHMENT_LIMIT = 3 * MB  # graph-api.md §4.5: POST .../attachments only below 3 MB
DEFAULT_MAX_MESSAGE_MB = 150  # Graph's upper bound for upload sessions; lower it to the mailbox's own limit
KIND_GRAPH = {'reply': 'reply', 'reply_all': 'replyAll', 'forward': 'forward'}
SUBJECT_PREFIX = {'reply': 'Re: ', 'reply_all': 'Re: ', 'forward': 'Fw: '}
PREFIX_RE = re.compile(r'^\s*(re|aw|sv|fw|fwd|wg|tr)\s*:', re.I)


class DraftGone(errors.GraphError):
    """The Outlook draft of an earlier attempt is gone; its message is user-facing."""


class MaildeskDraft(models.Model):
    """A message being written in MailDesk, then its sending state.

    ``graph_draft_id`` is the Outlook draft (= Sent Items copy) id once created; it never changes afterwards,
    which is what makes a retried send safe.
    """
    _name = 'maildesk.draft'
    _description = 'MailDesk Draft'
    _order = 'write_date desc, id desc'
    _rec_name = 'subject'

    account_id = fields.Many2one('maildesk.account', 'From', required=True, ondelete='cascade', index=True,
                                 default=lambda self: self._default_account())
    user_id = fields.Many2one('res.users', 'Author', required=True, index=True, default=lambda self: self.env.user)
    kind = fields.Selection([('new', 'New message'), ('reply', 'Reply'), ('reply_all', 'Reply all'),
                             ('forward', 'Forward')], required=True, default='new', readonly=True)
    source_message_id = fields.Many2one('maildesk.message', 'In Answer To', ondelete='set null', readonly=True)

    to_partner_ids = fields.Many2many('res.partner', 'maildesk_draft_to_partner_rel', 'draft_id', 'partner_id',
                                      string='To')
    cc_partner_ids = fields.Many2many('res.partner', 'maildesk_draft_cc_partner_rel', 'draft_id', 'partner_id',
                                      string='Cc')
    bcc_partner_ids = fields.Many2many('res.partner', 'maildesk_draft_bcc_partner_rel', 'draft_id', 'partner_id',
                                       string='Bcc')
    to_emails = fields.Char('Other To', help='Addresses without a contact, separated by commas.')
    cc_emails = fields.Char('Other Cc', help='Addresses without a contact, separated by commas.')
    bcc_emails = fields.Char('Other Bcc', help='Addresses without a contact, separated by commas.')
    subject = fields.Char()
    body_html = fields.Html('Body', sanitize='email_outgoing')
    attachment_ids = fields.Many2many('ir.attachment', 'maildesk_draft_attachment_rel', 'draft_id', 'attachment_id',
                                      string='Attachments')
    total_size = fields.Integer('Size (bytes)', compute='_compute_total_size')

    state = fields.Selection([('draft', 'Draft'), ('failed', 'Not sent'), ('sent', 'Sent')], required=True,
                             default='draft', readonly=True, copy=False, index=True)
    last_error = fields.Text('Why It Was Not Sent', readonly=True, copy=False)
    attempt_count = fields.Integer('Send Attempts', readonly=True, copy=False)
    sent_at = fields.Datetime('Sent On', readonly=True, copy=False)
    graph_draft_id = fields.Char('Outlook Draft ID', readonly=True, copy=False,
                                 help='Immutable id of the Outlook draft; the same id names the Sent Items copy.')
    internet_message_id = fields.Char('Message-ID', readonly=True, copy=False)
    conversation_id = fields.Char(readonly=True, copy=False)
    sent_message_id = fields.Many2one('maildesk.message', 'Sent Message', readonly=True, copy=False,
                                      ondelete='set null')
    write_back = fields.Boolean(compute='_compute_write_back')

    @api.model
    def _default_account(self):
        return self.env['maildesk.account'].search([('user_id', '=', self.env.uid)], limit=1) \
            or self.env['maildesk.account'].search([], limit=1)

    @api.depends('attachment_ids.file_size', 'body_html')
    def _compute_total_size(self):
        for draft in self:
            draft.total_size = draft._message_size()

    def _compute_write_back(self):
        self.write_back = self.env['maildesk.account']._maildesk_settings()['write_back']

    @api.depends('subject')
    def _compute_display_name(self):
        for draft in self:
            draft.display_name = draft.subject or _('(no subject)')

    # ------------------------------------------------------------------ opening the composer

    @api.model
    def _open_composer(self, account, kind='new', message=None):
        """Create a draft for ``account`` (a reply to / forward of ``message`` when given) and open it."""
        account.check_access('read')
        vals = {'account_id': account.id, 'kind': kind, 'body_html': self._initial_body(account, kind, message)}
        if message:
            vals.update(source_message_id=message.id, subject=_prefixed_subject(message.subject, kind))
            vals.update(self._reply_recipients(account, kind, message))
        return self.create(vals)._form_action()

    def _form_action(self):
        self.ensure_one()
        return {
            'type': 'ir.actions.act_window',
            'name': dict(self._fields['kind'].selection)[self.kind],
            'res_model': self._name,
            'res_id': self.id,
            'view_mode': 'form',
            'views': [(self.env.ref('maildesk.maildesk_draft_view_form').id, 'form')],
            'target': 'new',
        }

    def action_open(self):
        return self._form_action()

    @api.model
    def _initial_body(self, account, kind, message):
        parts = [Markup('<p><br></p>')]
        if not tools.is_html_empty(account.signature):
            parts.append(Markup('<div class="maildesk_signature"><p>-- </p>%s</div>') % account.signature)
        if message:
            parts.append(self._quoted(kind, message))
        return Markup('').join(parts)

    @api.model
    def _quoted(self, kind, message):
        """The answered / forwarded message below the new text, as Outlook shows it."""
        body = message._maildesk_quote_body()
        when = message.sent_at or message.received_at
        header = [(_('From'), tools.formataddr((message.from_name or '', message.from_address or ''))
                   if message.from_address else message.from_name),
                  (_('Sent'), when and tools.format_datetime(self.env, when)),
                  (_('To'), message.to_recipients), (_('Cc'), message.cc_recipients),
                  (_('Subject'), message.subject)]
        lines = Markup('<br>').join(Markup('<b>%s:</b> %s') % (label, value) for label, value in header if value)
        title = _('Forwarded message') if kind == 'forward' else _('Original message')
        return Markup('<div data-o-mail-quote="1"><hr><p>%s</p><p>%s</p>'
                      '<blockquote data-o-mail-quote="1">%s</blockquote></div>') % (title, lines, body)

    @api.model
    def _reply_recipients(self, account, kind, message):
        """To / Cc of a reply (all): Outlook's rules, without the mailbox itself; a forward starts empty."""
        if kind == 'forward':
            return {}
        me = (account.email or '').strip().lower()
        author = email_split_tuples(message.reply_to or '')
        if not author and message.from_address:
            author = [(message.from_name or '', message.from_address)]
        outgoing = message.direction == 'outgoing' or (message.from_address or '').lower() == me
        to = email_split_tuples(message.to_recipients or '') if outgoing else list(author)
        cc = []
        if kind == 'reply_all':
            if not outgoing:
                to += email_split_tuples(message.to_recipients or '')
            cc = email_split_tuples(message.cc_recipients or '')
        to = _unique_addresses(to, exclude={me})
        cc = _unique_addresses(cc, exclude={me} | {address.lower() for _name, address in to})
        if not to and not cc and me:
            to = [(account.sender_name or '', account.email)]  # a message to oneself is answered to oneself
        vals = {}
        for field, pairs in (('to', to), ('cc', cc)):
            partners, others = self._split_known(pairs)
            vals['%s_partner_ids' % field] = [fields.Command.set(partners.ids)]
            vals['%s_emails' % field] = ', '.join(tools.formataddr(pair) for pair in others) or False
        return vals

    @api.model
    def _split_known(self, pairs):
        """(contacts with these addresses, pairs without a contact), keeping the given order."""
        normalized = [tools.email_normalize(address) for _name, address in pairs]
        found = self.env['res.partner'].search([('email_normalized', 'in', [n for n in normalized if n])])
        by_email = {}
        for partner in found:
            by_email.setdefault(partner.email_normalized, partner)
        partners, others = self.env['res.partner'], []
        for pair, email in zip(pairs, normalized):
            if email in by_email:
                partners |= by_email[email]
            else:
                others.append(pair)
        return partners, others

    # ------------------------------------------------------------------ buttons

    def action_send(self):
        """Send now. Invalid input raises before anything leaves; a Graph failure keeps the draft with its reason.

        :return: an action: a notification and the dialog closed, or the draft reopened with the reason
        """
        self.ensure_one()
        # Two clicks at once: the second waits here, then (its snapshot being stale) is retried by Odoo and finds
        # the message sent. Never two Outlook drafts for one MailDesk draft.
        self.flush_recordset()
        self.env.cr.execute('SELECT id FROM maildesk_draft WHERE id = %s FOR NO KEY UPDATE', [self.id])
        self.invalidate_recordset()
        self._check_sendable()
        self.attempt_count += 1
        try:
            if self._write_back():
                self._send_with_draft()
            else:
                self._send_without_draft()
        except errors.GraphError as exc:
            return self._send_failed(exc)
        return {
            'type': 'ir.actions.client',
            'tag': 'display_notification',
            'params': {
                'type': 'success',
                'message': _('Message sent from %(email)s.', email=self.account_id.email),
                'next': {'type': 'ir.actions.act_window_close'},
            },
        }

    def action_discard(self):
        """Forget the draft (and its Outlook draft when one was created and not sent)."""
        for draft in self:
            if draft.state == 'sent':
                raise UserError(_('A sent message cannot be discarded.'))
            if draft.graph_draft_id and draft._write_back():
                try:
                    client = draft.account_id._graph_client()
                    if client.get_message(draft.graph_draft_id, body=False).get('isDraft'):
                        client.delete_message(draft.graph_draft_id)
                except errors.NotFound:
                    pass
                except errors.GraphError as exc:
                    _logger.info('MailDesk draft %s: Outlook draft not deleted (%s)', draft.id, exc.message)
        self.unlink()
        return {'type': 'ir.actions.act_window_close'}

    # ------------------------------------------------------------------ checks

    def _write_back(self):
        return self.env['maildesk.account']._maildesk_settings()['write_back']

    def _check_sendable(self):
        self.ensure_one()
        if self.state == 'sent':
            raise UserError(_('This message was already sent on %(date)s.', date=self.sent_at))
        self.account_id.check_access('read')
        if not (self.to_partner_ids or self.cc_partner_ids or self.bcc_partner_ids
                or self.to_emails or self.cc_emails or self.bcc_emails):
            raise UserError(_('Add at least one recipient (To, Cc or Bcc).'))
        self._graph_recipients()  # raises on an invalid address
        size, limit = self._message_size(), self._max_message_bytes()
        if size > limit:
            raise UserError(_('This message is %(size)s MB, above the limit of %(limit)s MB for this mailbox. '
                              'Remove or shrink attachments, or share large files as links.',
                              size=_mb(size), limit=_mb(limit)))
        if not self._write_back():
            large = self.attachment_ids.filtered(lambda att: att.file_size >= SMALL_ATTACHMENT_LIMIT)
            if large or sum(self.attachment_ids.mapped('file_size')) > INLINE_REQUEST_BUDGET:
                raise UserError(_(
                    'Attachments of 3 MB or more (or more than %(budget)s MB in total) need an Outlook draft and an '
                    'upload session, which the permission level "Read only" does not allow. Ask an administrator '
                    'to set MailDesk to "Read & write back" and authorize the account again, or send smaller files.',
                    budget=_mb(INLINE_REQUEST_BUDGET)))

    def _message_size(self):
        return sum(self.attachment_ids.mapped('file_size')) + len((self.body_html or '').encode())

    @api.model
    def _max_message_bytes(self):
        value = self.env['ir.config_parameter'].sudo().get_param('maildesk.max_message_mb')
        try:
            megabytes = float(value) if value else DEFAULT_MAX_MESSAGE_MB
        except ValueError:
            megabytes = DEFAULT_MAX_MESSAGE_MB
        return int(megabytes * MB)

    # ------------------------------------------------------------------ Graph JSON

    def _graph_recipients(self):
        """``{'toRecipients': [...], 'ccRecipients': [...], 'bccRecipients': [...]}``; UserError on a bad address."""
        result, invalid = {}, []
        for field in ('to', 'cc', 'bcc'):
            pairs = [(partner.name or '', partner.email or '') for partner in self['%s_partner_ids' % field]]
            pairs += email_split_tuples(self['%s_emails' % field] or '')
            extra = [chunk.strip() for chunk in re.split(r'[,;]', self['%s_emails' % field] or '')
                     if chunk.strip() and not tools.email_split(chunk)]
            invalid += extra
            recipients, seen = [], set()
            for name, address in pairs:
                normalized = tools.email_normalize(address, strict=True)
                if not normalized:
                    invalid.append(name or address or _('(empty address)'))
                    continue
                if normalized in seen:
                    continue
                seen.add(normalized)
                email_address = {'address': address.strip()}
                if name and name.strip().lower() != normalized:
                    email_address['name'] = name.strip()
                recipients.append({'emailAddress': email_address})
            result['%sRecipients' % field] = recipients
        if invalid:
            raise UserError(_('These recipients have no valid email address: %(names)s. Correct them and send '
                              'again.', names=', '.join(invalid)))
        return result

    def _graph_fields(self):
        """The message JSON MailDesk controls: subject, HTML body, recipients and the Sender Name."""
        values = {
            'subject': self.subject or '',
            'body': {'contentType': 'html', 'content': self._outgoing_body()},
        }
        values.update(self._graph_recipients())
        account = self.account_id
        if account.sender_name:
            values['from'] = {'emailAddress': {'name': account.sender_name, 'address': account.email}}
        return values

    def _outgoing_body(self):
        """The HTML sent: local links (images pasted in the editor carry an access token) made absolute."""
        body = self.body_html or ''
        return self.env['mail.render.mixin']._replace_local_links(body) if body else ''

    @api.model
    def _graph_attachment(self, attachment):
        return {
            '@odata.type': '#microsoft.graph.fileAttachment',
            'name': attachment.name,
            'contentType': attachment.mimetype or 'application/octet-stream',
            'contentBytes': attachment.datas.decode() if attachment.datas else '',
        }

    # ------------------------------------------------------------------ sending with a draft (write back)

    def _send_with_draft(self):
        client = self.account_id._graph_client()
        uploaded = []
        if self.graph_draft_id:
            try:
                current = client.get_message(self.graph_draft_id, body=False)
            except errors.NotFound:
                # Deleted in Outlook, or (briefly, graph-api.md §5) still being sent: never guess, ask the user.
                self.graph_draft_id = False
                raise DraftGone(_('Outlook no longer has the draft of this message. If an earlier attempt is '
                                  'still on its way, it shows in Sent Items after the next sync; otherwise click '
                                  'Send again to send it as a new message.')) from None
            if not current.get('isDraft'):
                return self._finish_sent(current)  # an earlier attempt went out: never send twice
            uploaded = [att.get('name') for att in client.list_attachments(self.graph_draft_id)]
            client.update_draft(self.graph_draft_id, self._graph_fields())
        else:
            uploaded = self._create_graph_draft(client)
        self._ensure_local_entry()
        for attachment in self.attachment_ids:
            if attachment.name in uploaded:
                uploaded.remove(attachment.name)
                continue
            client.add_attachment(self.graph_draft_id, attachment.name,
                                  attachment.mimetype or 'application/octet-stream', attachment.raw or b'')
        try:
            client.send_draft(self.graph_draft_id)
        except errors.Transient:
            # The connection dropped after the request left: ask Outlook whether it went out.
            if client.get_message(self.graph_draft_id, body=False).get('isDraft'):
                raise
        self._finish_sent()

    def _create_graph_draft(self, client):
        """Create the Outlook draft; small attachments travel in the creating request.

        :return: names of the attachments already on the draft
        """
        inline = self.env['ir.attachment']
        if self.kind == 'new':
            budget = INLINE_REQUEST_BUDGET - len((self.body_html or '').encode())
            for attachment in self.attachment_ids.sorted('file_size'):
                if attachment.file_size < SMALL_ATTACHMENT_LIMIT and attachment.file_size <= budget:
                    inline |= attachment
                    budget -= attachment.file_size
            payload = dict(self._graph_fields(), attachments=[self._graph_attachment(att) for att in inline])
            draft = client.create_draft(payload)
        else:
            source = self._source_graph_id()
            draft = client.create_reply(source, kind=KIND_GRAPH[self.kind])
        self.write({'graph_draft_id': draft['id'], 'internet_message_id': draft.get('internetMessageId') or False,
                    'conversation_id': draft.get('conversationId') or False})
        if self.kind != 'new':
            # a forward keeps the original's attachments: they are on the draft already
            draft = client.update_draft(self.graph_draft_id, self._graph_fields())
            self.internet_message_id = (draft or {}).get('internetMessageId') or self.internet_message_id
        return list(inline.mapped('name'))

    def _source_graph_id(self):
        source = self.source_message_id
        if not source or not source.graph_id or source.graph_id.startswith(LOCAL_ID_PREFIX):
            raise UserError(_('The message you answer is not in Outlook (yet): wait for the next sync of its '
                              'folder, then reply again.'))
        return source.graph_id

    # ------------------------------------------------------------------ sending without a draft (read only)

    def _send_without_draft(self):
        """sendMail / reply / replyAll / forward with the whole message in one request (Mail.Send only)."""
        if self.attempt_count > 1 and self.internet_message_id and self._find_sent_copy():
            return self._finish_sent()  # the sync already brought the copy of an earlier attempt
        if not self.internet_message_id:
            self.internet_message_id = '<%s@%s>' % (uuid.uuid4().hex, self._message_id_domain())
        payload = dict(self._graph_fields(), internetMessageId=self.internet_message_id,
                       attachments=[self._graph_attachment(att) for att in self.attachment_ids])
        client = self.account_id._graph_client()
        self._ensure_local_entry()
        if self.kind == 'new':
            client.send_message(payload)
        else:
            client.reply(self._source_graph_id(), kind=KIND_GRAPH[self.kind], message=payload)
        self._finish_sent()

    def _message_id_domain(self):
        return (self.account_id.email or '').rpartition('@')[2] or 'maildesk.invalid'

    def _find_sent_copy(self):
        return self.env['maildesk.message'].sudo().with_context(active_test=False).search([
            ('account_id', '=', self.account_id.id), ('internet_message_id', '=', self.internet_message_id),
            ('is_local', '=', False)], limit=1)

    # ------------------------------------------------------------------ the local Sent Items entry

    def _ensure_local_entry(self):
        """The Sent Items row of this message: Outlook's copy when the sync already has it, else a local entry.

        Keyed like the sync, by (account, graph_id): with a draft the id is the future Sent Items id; without one
        a placeholder that the sync replaces through the internetMessageId.
        """
        Message = self.env['maildesk.message'].sudo().with_context(active_test=False)
        graph_id = self.graph_draft_id or '%s%s' % (LOCAL_ID_PREFIX, self.internet_message_id)
        message = Message.search([('account_id', '=', self.account_id.id), ('graph_id', '=', graph_id)], limit=1)
        if not message and self.internet_message_id:
            message = self._find_sent_copy()
        values = self._local_entry_values(graph_id)
        if not message:
            message = Message.create(values)
        elif message.is_local or message.is_draft:
            message.write(values)  # a row of the Outlook draft (Drafts synced), or of an earlier attempt
        if not message.attachment_ids and self.attachment_ids:
            # copies owned by the message, readable by whoever reads the mailbox (the filestore keeps one file)
            message.attachment_ids = [fields.Command.set([
                attachment.copy({'res_model': message._name, 'res_id': message.id}).id
                for attachment in self.attachment_ids.sudo()])]
        self.sent_message_id = message
        return message

    def _local_entry_values(self, graph_id):
        account, source = self.account_id, self.source_message_id
        now = fields.Datetime.now()
        sent_folder = self.env['maildesk.folder'].sudo().search(
            [('account_id', '=', account.id), ('role', '=', 'sentitems')], limit=1)
        recipients = self._graph_recipients()
        partners = self.to_partner_ids | self.cc_partner_ids | self.bcc_partner_ids
        references = ' '.join(filter(None, [source.references, source.internet_message_id])) if source else False
        body = self.body_html or ''
        return {
            'account_id': account.id,
            'folder_id': sent_folder.id,
            'active': True,
            'graph_id': graph_id,
            'internet_message_id': self.internet_message_id or False,
            'conversation_id': self.conversation_id or (source.conversation_id if source else False),
            # unknown without a draft or an answered message: the sync then takes Outlook's conversationId
            'thread_key': (source.thread_key if source else False) or self.conversation_id or False,
            'in_reply_to': source.internet_message_id if source and self.kind != 'forward' else False,
            'references': references if self.kind != 'forward' else False,
            'subject': self.subject or '',
            'from_address': account.email,
            'from_name': account.sender_name or account.email,
            'sender_address': account.email,
            'sender_name': account.sender_name or account.email,
            'to_recipients': _display(recipients['toRecipients']),
            'cc_recipients': _display(recipients['ccRecipients']),
            'bcc_recipients': _display(recipients['bccRecipients']),
            'partner_ids': [fields.Command.set(partners.ids)],
            'received_at': now,
            'sent_at': now,
            'seen_at': now,  # a round in progress must not sweep the entry it did not enumerate yet
            'body_preview': tools.html2plaintext(body)[:255].strip(),
            'body_html': body,
            'body_fetched_at': now,
            'is_read': True,
            'is_draft': False,
            'has_attachments': bool(self.attachment_ids) or (self.kind == 'forward' and source.has_attachments),
            'direction': 'outgoing',
            'is_local': True,
            'pending_action': False,
        }

    def _finish_sent(self, graph_message=None):
        message = self.sent_message_id or self._ensure_local_entry()
        self.write({'state': 'sent', 'sent_at': fields.Datetime.now(), 'last_error': False,
                    'internet_message_id': self.internet_message_id
                    or (graph_message or {}).get('internetMessageId') or False})
        return message

    def _send_failed(self, exc):
        """Keep the draft, drop the local entry of this attempt, and show why (nothing typed is lost)."""
        entry = self.sent_message_id
        if entry and entry.is_local:
            entry.sudo().unlink()
        if isinstance(exc, DraftGone):
            message = exc.message
        else:
            message = self.env['maildesk.message']._graph_error_text(exc, _('send the message'))
        _logger.info('MailDesk draft %s: send failed (%s)', self.id, exc.__class__.__name__)
        self.write({'state': 'failed', 'last_error': message, 'sent_message_id': False})
        return {
            'type': 'ir.actions.client',
            'tag': 'display_notification',
            'params': {
                'type': 'danger',
                'sticky': True,
                'title': _('Not sent'),
                'message': message,
                'next': self._form_action(),
            },
        }


def _prefixed_subject(subject, kind):
    subject = subject or ''
    prefix = SUBJECT_PREFIX.get(kind, '')
    if not prefix:
        return subject
    match = PREFIX_RE.match(subject)
    if match and (match.group(1).lower() in ('fw', 'fwd', 'wg', 'tr')) == (kind == 'forward'):
        return subject
    return prefix + subject


def _unique_addresses(pairs, exclude=()):
    seen, result = set(exclude), []
    for name, address in pairs:
        key = (address or '').strip().lower()
        if key and key not in seen:
            seen.add(key)
            result.append((name or '', address.strip()))
    return result


def _display(recipients):
    return ', '.join(tools.formataddr((r['emailAddress'].get('name') or '', r['emailAddress']['address']))
                     for r in recipients)


def _mb(size):
    return '%.1f' % (size / MB)
