import base64
import logging
import re

from dateutil.relativedelta import relativedelta
from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools.mail import html_sanitize

from ..graph import errors, mail

_logger = logging.getLogger(__name__)

# Written by MailDesk itself only (sync, sending, write-back bookkeeping), as superuser; refused to users' writes.
SYSTEM_WRITTEN_FIELDS = frozenset({'account_id', 'graph_id', 'body_html', 'body_fetched_at', 'is_local',
                                   'pending_action', 'res_model', 'res_id'})
# Graph id of a local Sent Items entry sent without a draft (Read only): adopted later by its Message-ID.
LOCAL_ID_PREFIX = 'maildesk-local:'
CID_SRC = re.compile(r'''(src\s*=\s*["']?)cid:([^"'\s>]+)''', re.IGNORECASE)


class MaildeskMessage(models.Model):
    """One Outlook message, stored by (account, Graph immutable id).

    Sync stores metadata only (:mod:`engine.message_batch`); the body is fetched once when the message is opened
    (:meth:`get_body_html`). Rows are never deleted by sync: a message that leaves every synced folder is
    soft-removed (``active=False``), so a move keeps the same record, its tags and its links to Odoo records.
    """
    _name = 'maildesk.message'
    _inherit = ['maildesk.bus.mixin']
    _description = 'MailDesk Message'
    _order = 'received_at desc, id desc'
    _rec_name = 'subject'

    # account_id lookups use the (account_id, graph_id) unique index
    account_id = fields.Many2one('maildesk.account', required=True, ondelete='cascade')
    folder_id = fields.Many2one('maildesk.folder', ondelete='set null', index=True)
    active = fields.Boolean(default=True)
    graph_id = fields.Char('Graph ID', required=True, readonly=True)
    internet_message_id = fields.Char('Message-ID', index=True, readonly=True)
    conversation_id = fields.Char(readonly=True)  # threads are looked up by thread_key
    thread_key = fields.Char(index=True, readonly=True,
                             help='Conversation key: Graph conversationId, or the thread root when it drifts.')
    in_reply_to = fields.Char(readonly=True)
    references = fields.Text(readonly=True)

    subject = fields.Char()
    from_address = fields.Char('From Address')  # searched with ilike: a btree would not serve it
    from_name = fields.Char('From')
    sender_address = fields.Char()
    sender_name = fields.Char()
    to_recipients = fields.Text('To')
    cc_recipients = fields.Text('Cc')
    bcc_recipients = fields.Text('Bcc')
    reply_to = fields.Text('Reply-To')
    from_partner_id = fields.Many2one('res.partner', 'Sender Contact', index='btree_not_null')
    partner_ids = fields.Many2many('res.partner', 'maildesk_message_partner_rel', 'message_id', 'partner_id',
                                   string='Recipient Contacts')

    received_at = fields.Datetime('Received')  # the inbox's partial indexes order and filter by it
    sent_at = fields.Datetime('Sent')
    modified_at = fields.Datetime('Modified in Outlook', readonly=True)
    change_key = fields.Char(readonly=True)
    seen_at = fields.Datetime(readonly=True, help='Start of the sync round that last saw this message in its folder.')
    seen_round = fields.Integer(readonly=True, help="The folder's initial round that last saw this message.")

    body_preview = fields.Text('Preview')
    body_html = fields.Html('Body', sanitize=False, readonly=True,
                            help='Sanitized with Odoo\'s sanitizer when fetched; cleared by the retention cron.')
    body_fetched_at = fields.Datetime(readonly=True)
    importance = fields.Selection([('low', 'Low'), ('normal', 'Normal'), ('high', 'High')], default='normal')
    is_read = fields.Boolean('Read')
    is_draft = fields.Boolean('Draft')
    flag_status = fields.Selection([('notFlagged', 'Not flagged'), ('flagged', 'Flagged'), ('complete', 'Completed')],
                                   default='notFlagged', string='Flag')
    categories = fields.Char('Outlook Categories', help='Outlook category names, comma separated.')
    tag_ids = fields.Many2many('maildesk.tag', string='Tags')
    has_attachments = fields.Boolean('Attachments')
    attachment_ids = fields.Many2many('ir.attachment', string='Downloaded Attachments')
    direction = fields.Selection([('incoming', 'Incoming'), ('outgoing', 'Outgoing')])

    is_local = fields.Boolean('Local Entry', readonly=True,
                              help='Created by MailDesk at send time; replaced by Outlook\'s copy on the next sync.')
    pending_action = fields.Char(readonly=True, help='Write-back sent to Outlook and not yet confirmed.')
    res_model = fields.Char('Logged To Model', readonly=True)
    res_id = fields.Many2oneReference('Logged To Record', model_field='res_model', readonly=True)

    _sql_constraints = [
        ('graph_id_uniq', 'unique(account_id, graph_id)', 'A message is stored once per account.'),
    ]

    def write(self, vals):
        """A user's write never moves a message into another mailbox nor sets what only MailDesk writes.

        Record rules are checked on the rows *before* a write: without this guard a user could write
        ``account_id`` (or a folder of another account) on their own message and plant it in someone else's
        mailbox, or write a raw ``body_html`` (sanitized only when fetched from Outlook).
        """
        if not self.env.su:
            forbidden = SYSTEM_WRITTEN_FIELDS.intersection(vals)
            if forbidden:
                raise AccessError(_('These message fields are maintained by MailDesk: %(fields)s',
                                    fields=', '.join(sorted(forbidden))))
            if vals.get('folder_id'):
                folder = self.env['maildesk.folder'].browse(vals['folder_id'])
                if any(message.account_id != folder.account_id for message in self):
                    raise AccessError(_('A message can only be moved to a folder of its own mailbox.'))
        return super().write(vals)

    # ------------------------------------------------------------------ bodies on open

    def get_body_html(self):
        """The sanitized HTML body, fetched from Graph once and cached (RPC for the inbox).

        A second call makes no Graph request. ``cid:`` images point at the message's stored attachments.
        """
        self.ensure_one()
        self.check_access('read')
        if not self.body_fetched_at:
            self._fetch_body()
        return self.body_html or ''

    def action_open_body(self):
        """Form button: fetch the body (once) and reopen the message."""
        self.ensure_one()
        self.get_body_html()
        return {'type': 'ir.actions.act_window', 'res_model': self._name, 'res_id': self.id, 'view_mode': 'form',
                'target': 'current'}

    def _fetch_body(self):
        self.ensure_one()
        message = self.sudo()
        client = message.account_id._graph_client()
        try:
            payload = client.get_message(message.graph_id, body=True)
            body = mail.body_values(payload)['body_html']
            if CID_SRC.search(body):
                body = message._resolve_inline_images(client, body)
        except errors.NotFound:
            raise UserError(_('This message no longer exists in Outlook. The next sync removes it.')) from None
        except errors.GraphError as exc:
            raise UserError(_('Outlook did not return the message body: %(error)s', error=exc.message)) from None
        message.write({'body_html': self._sanitize_body(body), 'body_fetched_at': fields.Datetime.now()})

    @api.model
    def _sanitize_body(self, body):
        """Odoo's sanitizer, strict: no scripts, event handlers, javascript: URLs, forms or unsafe styles."""
        cleaned = html_sanitize(body, sanitize_tags=True, sanitize_attributes=True, sanitize_style=True,
                                sanitize_form=True, strip_style=False, strip_classes=True)
        return Markup(cleaned or '')

    def _resolve_inline_images(self, client, body):
        """Store inline attachments as ``ir.attachment`` and point ``cid:`` sources at ``/web/content/<id>``."""
        urls = {attachment.maildesk_content_id: '/web/content/%s' % attachment.id
                for attachment in self._store_graph_attachments(client, inline=True)
                if attachment.maildesk_content_id}

        def replace(match):
            url = urls.get(match.group(2).strip('<>'))
            return match.group(1) + url if url else match.group(0)
        return CID_SRC.sub(replace, body)

    def action_download_attachments(self):
        """Download the message's file attachments not downloaded yet (on demand) into ``ir.attachment``.

        :return: ids of the message's downloaded (non-inline) attachments
        """
        self.ensure_one()
        self.check_access('read')
        message = self.sudo()
        client = message.account_id._graph_client()
        try:
            stored = message._store_graph_attachments(client, inline=False)
        except errors.GraphError as exc:
            raise UserError(_('Outlook did not return the attachments: %(error)s', error=exc.message)) from None
        return stored.ids

    def _store_graph_attachments(self, client, inline):
        """Fetch this message's file attachments (the inline ones, or the others) that are not stored yet.

        One request lists them, one more per attachment not stored yet. Already stored ones are reused.
        :return: the ``ir.attachment`` records, stored before or now
        """
        self.ensure_one()
        Attachment = self.env['ir.attachment'].sudo()
        known = {a.maildesk_graph_id: a for a in Attachment.search([
            ('res_model', '=', self._name), ('res_id', '=', self.id), ('maildesk_graph_id', '!=', False)])}
        result = Attachment
        for meta in client.list_attachments(self.graph_id):
            if not _is_file_attachment(meta) or bool(meta.get('isInline')) != inline:
                continue
            attachment = known.get(meta['id'])
            if not attachment:
                if inline:  # the JSON form carries the contentId the body refers to
                    full = client.get_attachment(self.graph_id, meta['id'])
                    data, content_id = _decode_bytes(full.get('contentBytes')), full.get('contentId')
                else:
                    data, content_id = client.get_attachment_bytes(self.graph_id, meta['id']), None
                attachment = Attachment.create(self._attachment_values(meta, data, content_id))
                self.attachment_ids = [fields.Command.link(attachment.id)]
            result |= attachment
        return result

    def _attachment_values(self, meta, data, content_id):
        content_id = mail.clean_text(content_id, 1024).strip().strip('<>').strip()
        return {
            'name': mail.clean_text(meta.get('name'), 255) or _('attachment'),
            'raw': data or b'',
            'mimetype': mail.clean_text(meta.get('contentType'), 255) or 'application/octet-stream',
            'res_model': self._name,
            'res_id': self.id,
            'maildesk_graph_id': meta['id'],
            'maildesk_content_id': content_id or False,
        }

    @api.model
    def _cron_clear_bodies(self):
        """Daily: drop cached bodies older than the retention; they are fetched again when opened."""
        days = self.env['maildesk.account']._maildesk_settings()['body_retention_days']
        if not days:
            return
        limit = fields.Datetime.now() - relativedelta(days=days)
        old = self.with_context(active_test=False).search([('body_fetched_at', '<', limit)])
        old.write({'body_html': False, 'body_fetched_at': False})
        _logger.info('MailDesk: cleared %d cached message bodies older than %d days', len(old), days)


class IrAttachment(models.Model):
    _inherit = 'ir.attachment'

    maildesk_graph_id = fields.Char('Outlook Attachment ID', readonly=True, copy=False, index='btree_not_null')
    maildesk_content_id = fields.Char('Outlook Content-ID', readonly=True, copy=False,
                                      help='Content-ID an HTML body refers to with cid: (inline images).')


def _decode_bytes(raw):
    try:
        return base64.b64decode(raw) if isinstance(raw, str) else b''
    except ValueError:
        return b''


def _is_file_attachment(meta):
    odata_type = str(meta.get('@odata.type') or '#microsoft.graph.fileAttachment').lower()
    return isinstance(meta.get('id'), str) and odata_type == '#microsoft.graph.fileattachment'
