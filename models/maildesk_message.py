import logging

from dateutil.relativedelta import relativedelta
from markupsafe import Markup

from odoo import _, api, fields, models, tools
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL, create_index

from ..engine import bodies, body_prefetch, log_to_record, permissions
from ..engine.sending import LOCAL_ID_PREFIX
from ..engine.write_back import WriteBack

_logger = logging.getLogger(__name__)

# The only fields a user's write may change: what the message actions change (read, flag, categories, move,
# delete) and the user's own tags. Everything else is what Outlook says a message is, or MailDesk's bookkeeping
# (sync, sending, write-back, bodies, downloaded attachments, system mail), written by MailDesk as superuser: a
# new field is protected until it is listed here.
USER_WRITABLE_FIELDS = frozenset({'is_read', 'flag_status', 'categories', 'folder_id', 'active', 'tag_ids'})


class MaildeskMessage(models.Model):
    """One Outlook message, stored by (account, Graph immutable id).

    Sync stores metadata only (:mod:`engine.message_batch`); the body is fetched once when the message is opened
    (:meth:`get_body_html`). Rows are never deleted by sync: a message that leaves every synced folder is
    soft-removed (``active=False``), so a move keeps the same record, its tags and its links to Odoo records.
    The ``action_*`` methods are what a user does with a message: read, flag, move, delete (written back to
    Outlook, see :mod:`engine.write_back`), reply / forward, log to an Odoo record.
    """
    _name = 'maildesk.message'
    _inherit = ['maildesk.bus.mixin']
    _description = 'MailDesk Message'
    _order = 'received_at desc, id desc'
    _rec_name = 'subject'
    _check_company_auto = True

    # account_id lookups use the (account_id, graph_id) unique index
    account_id = fields.Many2one('maildesk.account', required=True, ondelete='cascade')
    company_id = fields.Many2one(related='account_id.company_id', store=True, index=True)
    folder_id = fields.Many2one('maildesk.folder', ondelete='set null', index=True, check_company=True)
    active = fields.Boolean(default=True)
    graph_id = fields.Char('Graph ID', required=True, readonly=True)
    internet_message_id = fields.Char('Message-ID', index=True, readonly=True)
    conversation_id = fields.Char(readonly=True)  # threads are looked up by thread_key
    thread_key = fields.Char(index=True, readonly=True,
                             help='Conversation key: Graph conversationId, or the thread root when it drifts.')
    in_reply_to = fields.Char(readonly=True)
    references = fields.Text(readonly=True)

    subject = fields.Char()
    from_address = fields.Char()  # searched with ilike: a btree would not serve it
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
    # Meeting mail (Graph eventMessage*): the invitation's summary, read with the body (engine/bodies.py)
    meeting_type = fields.Selection([
        ('meetingRequest', 'Meeting request'), ('meetingCancelled', 'Meeting cancelled'),
        ('meetingAccepted', 'Accepted'), ('meetingTentativelyAccepted', 'Tentatively accepted'),
        ('meetingDeclined', 'Declined'), ('other', 'Meeting message')], readonly=True)
    meeting_start = fields.Datetime(readonly=True)
    meeting_end = fields.Datetime(readonly=True)
    meeting_all_day = fields.Boolean(readonly=True)
    meeting_location = fields.Char(readonly=True)

    # A copy of mail Odoo itself sent through an outgoing server bound to the account (password resets,
    # notifications): only system administrators read these rows (record rules); set by the sync.
    is_system_mail = fields.Boolean('Sent by Odoo', readonly=True, copy=False)
    is_local = fields.Boolean('Local Entry', readonly=True,
                              help='Created by MailDesk at send time; replaced by Outlook\'s copy on the next sync.')
    pending_action = fields.Char(readonly=True, help='Write-back sent to Outlook and not yet confirmed.')
    res_model = fields.Char('Logged To Model', readonly=True)
    res_id = fields.Many2oneReference('Logged To Record', model_field='res_model', readonly=True)

    _sql_constraints = [
        ('graph_id_uniq', 'unique(account_id, graph_id)', 'A message is stored once per account.'),
    ]

    def init(self):
        super().init()
        # The inbox's list of one folder, newest first, in the ORM's own ORDER BY (``received_at DESC, id DESC``):
        # a page at any offset of a 50k-row folder is an index-only scan; conversations (thread_key) and the
        # unread filter read the same index. "All mailboxes" uses received_at's own index.
        self._cr.execute('DROP INDEX IF EXISTS maildesk_message_inbox_folder_idx, maildesk_message_inbox_received_idx')
        self._cr.execute(SQL(
            'CREATE INDEX IF NOT EXISTS maildesk_message_inbox_page_idx ON %s (folder_id, received_at DESC, id DESC) '
            'INCLUDE (thread_key, is_read) WHERE active', SQL.identifier(self._table)))
        # unread badges: a tiny partial index
        create_index(self._cr, 'maildesk_message_inbox_unread_idx', self._table,
                     ['folder_id'], where='active AND is_read IS NOT TRUE')
        # children of a message by In-Reply-To (conversation drift); few rows know it, so a small partial index
        create_index(self._cr, 'maildesk_message_in_reply_to_idx', self._table, ['account_id', 'in_reply_to'],
                     where='in_reply_to IS NOT NULL')
        # local entries (sent from MailDesk, waiting for Outlook's copy), looked up by Message-ID on every sync page:
        # a few rows at most, so a page's 1,000 lookups cost nothing
        create_index(self._cr, 'maildesk_message_local_idx', self._table, ['account_id', 'internet_message_id'],
                     where='is_local')

    def write(self, vals):
        """A user's write never moves a message into another mailbox nor sets what only MailDesk writes.

        Record rules are checked on the rows *before* a write: without this guard a user could write
        ``account_id`` (or a folder of another account) on their own message and plant it in someone else's
        mailbox, or write a raw ``body_html`` (sanitized only when fetched from Outlook).
        """
        if not self.env.su:
            forbidden = set(vals) - USER_WRITABLE_FIELDS
            if forbidden:
                raise AccessError(_('These message fields are maintained by MailDesk: %(fields)s',
                                    fields=', '.join(sorted(forbidden))))
            if vals.get('folder_id'):
                folder = self.env['maildesk.folder'].browse(vals['folder_id'])
                if any(message.account_id != folder.account_id for message in self):
                    raise AccessError(_('A message can only be moved to a folder of its own mailbox.'))
            if 'tag_ids' in vals:
                vals = dict(vals, tag_ids=permissions.tag_commands(self, vals['tag_ids']))
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
        """Fetch the body from Outlook (and, for a reply alone in its conversation, its thread headers)."""
        self.ensure_one()
        bodies.fetch_body(self)

    def action_download_attachments(self):
        """Download the message's file attachments not downloaded yet (on demand) into ``ir.attachment``.

        :return: ids of the message's downloaded (non-inline) attachments
        """
        self.ensure_one()
        self.check_access('read')
        return bodies.download_attachments(self.sudo()).ids

    @api.model
    def _cron_prefetch_bodies(self):
        return body_prefetch.cron_prefetch(self.env)

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

    def _maildesk_in_outlook(self):
        """False for a local entry sent without a draft (Read only): Outlook does not know its placeholder id."""
        self.ensure_one()
        return not self.graph_id.startswith(LOCAL_ID_PREFIX)

    # ------------------------------------------------------------------ actions (written back to Outlook)

    def action_mark_read(self):
        unread = self.filtered(lambda m: not m.is_read)
        return WriteBack(self, 'mark_read').run(unread, lambda: unread.write({'is_read': True}))

    def action_mark_unread(self):
        read = self.filtered('is_read')
        return WriteBack(self, 'mark_unread').run(read, lambda: read.write({'is_read': False}))

    def action_toggle_flag(self):
        flagged = self.filtered(lambda m: m.flag_status == 'flagged')

        def change():
            flagged.write({'flag_status': 'notFlagged'})
            (self - flagged).write({'flag_status': 'flagged'})
        return WriteBack(self, 'flag').run(self, change)

    def action_set_categories(self, categories):
        """Replace the Outlook categories (a list of names, or one comma-separated string)."""
        if isinstance(categories, str):
            categories = categories.split(',')
        names = list(dict.fromkeys(name.strip() for name in categories or () if name and name.strip()))
        return WriteBack(self, 'categories').run(self, lambda: self.write({'categories': ', '.join(names) or False}))

    def action_move(self, folder_id):
        folder = self.env['maildesk.folder'].browse(int(folder_id)).exists()
        targets = self.filtered(lambda m: m.folder_id != folder)

        def change():
            if not folder or set(self.account_id.ids) != set(folder.account_id.ids):
                raise UserError(_('Choose a folder of the same mailbox.'))
            targets.write({'folder_id': folder.id})
        return WriteBack(self, 'move').run(targets, change)

    def action_delete(self):
        """Move to the account's Deleted Items; delete for good (``active=False``) what is already there."""
        def change():
            for account, messages in self.grouped('account_id').items():
                trash = account.folder_ids.filtered(lambda f: f.role == 'deleteditems')[:1]
                to_trash = messages.filtered(lambda m, trash=trash: trash and m.folder_id != trash)
                to_trash.write({'folder_id': trash.id})
                (messages - to_trash).write({'active': False})
        return WriteBack(self, 'delete').run(self, change)

    def action_set_tags(self, tag_ids):
        """Replace the MailDesk tags of the messages (tags never go to Outlook)."""
        if self:
            self.write({'tag_ids': [fields.Command.set([int(t) for t in tag_ids])]})
            self._maildesk_notify_changed(self)
        return True

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
        if not self.body_fetched_at:
            try:
                with self.env.cr.savepoint():
                    self._fetch_body()
            except UserError as exc:
                _logger.info('MailDesk message %s: quoting the preview, the body is not available (%s)', self.id, exc)
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
            log_to_record.check_not_logged(self)
            return {
                'type': 'ir.actions.act_window',
                'name': _('Log to Record'),
                'res_model': 'maildesk.log.record',
                'view_mode': 'form',
                'target': 'new',
                'context': {'default_message_id': self.id},
            }
        record = log_to_record.target_record(self.env, [res_model, res_id])
        log_to_record.log_message(self, record)
        return {'model': record._name, 'id': record.id, 'name': record.display_name}
