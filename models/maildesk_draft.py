"""``maildesk.draft``: compose, reply, reply all and forward from MailDesk, then the sending state.

A draft is persistent: what was typed survives a failed send, which keeps it with the reason. The model opens the
composer, checks what was typed and locks the draft; :mod:`..engine.sending` sends it through Graph (draft + send
with immutable ids, or one request with the permission level *Read only*) and writes the local Sent Items entry.
"""
import re

from markupsafe import Markup

from odoo import _, api, fields, models, tools
from odoo.exceptions import AccessError, UserError
from odoo.tools.mail import email_split_tuples

from ..engine import feedback, permissions, recipients, send_queue
from ..engine.sending import DraftSender
from ..graph.outgoing import INLINE_REQUEST_BUDGET, MB, SMALL_ATTACHMENT_LIMIT

DEFAULT_MAX_MESSAGE_MB = 150  # Graph's upper bound for upload sessions; lower it to the mailbox's own limit
SUBJECT_PREFIX = {'reply': 'Re: ', 'reply_all': 'Re: ', 'forward': 'Fw: '}
PREFIX_RE = re.compile(r'^\s*(re|aw|sv|fw|fwd|wg|tr)\s*:', re.I)
# The sending state, written by MailDesk only (:meth:`MaildeskDraft._write_sending`, sudo): refused to users.
SENDING_FIELDS = frozenset({'state', 'last_error', 'attempt_count', 'sent_at', 'graph_draft_id',
                            'internet_message_id', 'conversation_id', 'sent_message_id', 'send_requested_at',
                            'send_due_at'})
# Set when the composer opens (the message answered, how, by whom), never changed afterwards by a user.
COMPOSER_FIELDS = frozenset({'kind', 'source_message_id', 'user_id'})


class MaildeskDraft(models.Model):
    """A message being written in MailDesk, then its sending state.

    ``graph_draft_id`` is the Outlook draft (= Sent Items copy) id once created; it never changes afterwards,
    which is what makes a retried send safe.
    """
    _name = 'maildesk.draft'
    _description = 'MailDesk Draft'
    _order = 'write_date desc, id desc'
    _rec_name = 'subject'
    _check_company_auto = True

    account_id = fields.Many2one('maildesk.account', 'From', required=True, ondelete='cascade', index=True,
                                 default=lambda self: self._default_account())
    company_id = fields.Many2one(related='account_id.company_id', store=True, index=True)
    user_id = fields.Many2one('res.users', 'Author', required=True, index=True, default=lambda self: self.env.user)
    kind = fields.Selection([('new', 'New message'), ('reply', 'Reply'), ('reply_all', 'Reply all'),
                             ('forward', 'Forward')], required=True, default='new', readonly=True)
    source_message_id = fields.Many2one('maildesk.message', 'In Answer To', ondelete='set null', readonly=True,
                                        check_company=True)

    # The composer's recipients: one line of addresses each (engine/recipients.py), contacts and free addresses
    # alike. The contact fields are kept for programs that set contacts; the composer shows them only when set.
    to_emails = fields.Char('To', help='Contacts or addresses, separated by commas.')
    cc_emails = fields.Char('Cc', help='Contacts or addresses, separated by commas.')
    bcc_emails = fields.Char('Bcc', help='Contacts or addresses, separated by commas.')
    to_partner_ids = fields.Many2many('res.partner', 'maildesk_draft_to_partner_rel', 'draft_id', 'partner_id',
                                      string='To (Contacts)')
    cc_partner_ids = fields.Many2many('res.partner', 'maildesk_draft_cc_partner_rel', 'draft_id', 'partner_id',
                                      string='Cc (Contacts)')
    bcc_partner_ids = fields.Many2many('res.partner', 'maildesk_draft_bcc_partner_rel', 'draft_id', 'partner_id',
                                       string='Bcc (Contacts)')
    subject = fields.Char()
    body_html = fields.Html('Body', sanitize='email_outgoing')
    attachment_ids = fields.Many2many('ir.attachment', 'maildesk_draft_attachment_rel', 'draft_id', 'attachment_id',
                                      string='Attachments')
    total_size_label = fields.Char('Message Size', compute='_compute_total_size')

    state = fields.Selection([('draft', 'Draft'), ('failed', 'Not sent'), ('sent', 'Sent')], required=True,
                             default='draft', readonly=True, copy=False, index=True)
    last_error = fields.Text('Why It Was Not Sent', readonly=True, copy=False)
    attempt_count = fields.Integer('Send Attempts', readonly=True, copy=False)
    sent_at = fields.Datetime('Sent On', readonly=True, copy=False)
    send_requested_at = fields.Datetime('Send Requested On', readonly=True, copy=False,
                                        help='When MailDesk last asked Outlook to send the draft (cleared when Outlook '
                                             'refused): a retry soon after treats a missing draft as on its way.')
    graph_draft_id = fields.Char('Outlook Draft ID', readonly=True, copy=False,
                                 help='Immutable id of the Outlook draft; the same id names the Sent Items copy.')
    internet_message_id = fields.Char('Message-ID', readonly=True, copy=False)
    conversation_id = fields.Char(readonly=True, copy=False)
    sent_message_id = fields.Many2one('maildesk.message', readonly=True, copy=False,
                                      ondelete='set null')
    write_back = fields.Boolean(compute='_compute_write_back')
    # Send later / Undo send (engine/send_queue.py): the author picks scheduled_at; send_due_at is the queue
    scheduled_at = fields.Datetime('Send At', copy=False, help='Send later: the message leaves at this time.')
    send_due_at = fields.Datetime('Queued Until', readonly=True, copy=False, index='btree_not_null',
                                  help='The message is queued and leaves at this time, unless you click Undo.')

    @api.model
    def _default_account(self):
        return self.env['maildesk.account'].search([('user_id', '=', self.env.uid)], limit=1) \
            or self.env['maildesk.account'].search([], limit=1)

    @api.depends('attachment_ids.file_size', 'body_html')
    def _compute_total_size(self):
        for draft in self:
            draft.total_size_label = tools.misc.human_size(draft._message_size()) if draft.attachment_ids else False

    def _compute_write_back(self):
        self.write_back = self.env['maildesk.account']._maildesk_settings()['write_back']

    @api.depends('subject')
    def _compute_display_name(self):
        for draft in self:
            draft.display_name = draft.subject or _('(no subject)')

    # ------------------------------------------------------------------ field guards

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            for vals in vals_list:
                self._check_user_vals(vals, SENDING_FIELDS)
                source = self.env['maildesk.message'].browse(vals.get('source_message_id') or [])
                source.check_access('read')
                if source and source.account_id.id != vals.get('account_id', source.account_id.id):
                    raise AccessError(_('A reply is sent from the mailbox of the message it answers.'))
        return super().create(vals_list)

    def write(self, vals):
        """What MailDesk records about a send (Outlook draft id, Sent Items row, state...) is not the user's to set:
        a planted ``sent_message_id`` would be deleted by a failing send, a planted ``graph_draft_id`` sent."""
        if not self.env.su:
            self._check_user_vals(vals, SENDING_FIELDS | COMPOSER_FIELDS)
        return super().write(vals)

    @api.model
    def _check_user_vals(self, vals, forbidden):
        if forbidden.intersection(vals):
            raise AccessError(_('These draft fields are maintained by MailDesk: %(fields)s',
                                fields=', '.join(sorted(forbidden.intersection(vals)))))
        if 'attachment_ids' in vals:
            permissions.check_linked_attachments(self.env, vals['attachment_ids'])

    def _write_sending(self, vals):
        """Record the sending state (the guarded fields) as MailDesk, once the caller's access was checked."""
        return self.sudo().write(vals)

    # ------------------------------------------------------------------ opening the composer

    @api.model
    def _open_composer(self, account, kind='new', message=None):
        """Create a draft for ``account`` (a reply to / forward of ``message`` when given) and open it."""
        permissions.check_can_send(account)
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
        return {'to_emails': recipients.format_line(to), 'cc_emails': recipients.format_line(cc)}

    @api.model
    def maildesk_recipient_suggestions(self, term, limit=recipients.SUGGESTION_LIMIT):
        """The composer's autocomplete: contacts and addresses of the synced mail the caller may read.

        :return: ``[{'name', 'email', 'source'}]`` (see :func:`engine.recipients.suggestions`)
        """
        return recipients.suggestions(self.env, term if isinstance(term, str) else '', limit=limit)

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
        if held := send_queue.hold_for_undo(self):  # Undo send: queued for a few seconds
            return held
        self._write_sending({'attempt_count': self.attempt_count + 1})
        return DraftSender(self).send()

    def action_send_later(self):
        """Send later: queue the message for its "Send At" time."""
        self.ensure_one()
        send_queue.schedule(self)
        return feedback.notification(_('The message will be sent on %(when)s.', when=tools.format_datetime(
            self.env, self.scheduled_at)), 'success', next_action=feedback.CLOSE_DIALOG)

    def action_undo_send(self):
        """Undo send / cancel a scheduled send: the message stays a draft."""
        self.ensure_one()
        send_queue.undo(self)
        return self._form_action()

    @api.model
    def _cron_send_queue(self):
        return send_queue.send_due(self.env)

    def action_discard(self):
        """Forget the draft (and its Outlook draft when one was created and not sent)."""
        for draft in self:
            if draft.state == 'sent':
                raise UserError(_('A sent message cannot be discarded.'))
            if draft.graph_draft_id and draft._write_back():
                DraftSender(draft).delete_outlook_draft()
        self.unlink()
        return feedback.CLOSE_DIALOG

    # ------------------------------------------------------------------ checks

    def _write_back(self):
        return self.env['maildesk.account']._maildesk_settings()['write_back']

    def _check_sendable(self):
        self.ensure_one()
        if self.state == 'sent':
            raise UserError(_('This message was already sent on %(date)s.', date=self.sent_at))
        permissions.check_can_send(self.account_id)
        if not (self.to_partner_ids or self.cc_partner_ids or self.bcc_partner_ids
                or self.to_emails or self.cc_emails or self.bcc_emails):
            raise UserError(_('Add at least one recipient (To, Cc or Bcc).'))
        self._recipients()  # raises on an invalid address
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

    # ------------------------------------------------------------------ recipients

    def _recipients(self):
        """``{'to': [(name, address)], 'cc': [...], 'bcc': [...]}``, each address once; UserError on a bad one.

        A name that only repeats the address is left empty (Outlook then shows the address).
        """
        result, invalid = {}, []
        for field in ('to', 'cc', 'bcc'):
            pairs = [(partner.name or '', partner.email or '') for partner in self['%s_partner_ids' % field]]
            pairs += recipients.parse_line(self['%s_emails' % field])
            invalid += recipients.invalid_chunks(self['%s_emails' % field])
            line, seen = [], set()
            for name, address in pairs:
                normalized = tools.email_normalize(address, strict=True)
                if not normalized:
                    invalid.append(name or address or _('(empty address)'))
                    continue
                if normalized in seen:
                    continue
                seen.add(normalized)
                name = name.strip() if name and name.strip().lower() != normalized else ''
                line.append((name, address.strip()))
            result[field] = line
        if invalid:
            raise UserError(_('These recipients have no valid email address: %(names)s. Correct them and send '
                              'again.', names=', '.join(invalid)))
        return result

    def _recipient_partners(self):
        """The contacts among the recipients (linked to the Sent Items entry), as far as the author may read them."""
        self.ensure_one()
        partners = self.to_partner_ids | self.cc_partner_ids | self.bcc_partner_ids
        addresses = {tools.email_normalize(address) for field in ('to', 'cc', 'bcc')
                     for _name, address in recipients.parse_line(self['%s_emails' % field])}
        addresses.discard(False)
        if addresses:
            partners |= self.env['res.partner'].search([('email_normalized', 'in', sorted(addresses))])
        return partners


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


def _mb(size):
    return '%.1f' % (size / MB)
