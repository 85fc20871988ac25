import logging

from dateutil.relativedelta import relativedelta
from markupsafe import Markup

from odoo import _, api, fields, models, tools
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL, create_index

from ..engine import bodies, feedback, log_to_record
from ..engine.write_back import WriteBack
from ..graph import mail

_logger = logging.getLogger(__name__)

# Values mail.message_values() returns that are columns of maildesk_message, compared on every upsert.
SYNCED_COLUMNS = (
    'internet_message_id', 'conversation_id', 'subject', 'from_address', 'from_name', 'sender_address',
    'sender_name', 'to_recipients', 'cc_recipients', 'bcc_recipients', 'reply_to', 'received_at', 'sent_at',
    'modified_at', 'change_key', 'body_preview', 'importance', 'is_read', 'is_draft', 'flag_status', 'categories',
    'has_attachments',
)
# Written by MailDesk itself only (sync, sending, write-back bookkeeping), as superuser; refused to users' writes.
SYSTEM_WRITTEN_FIELDS = frozenset({'account_id', 'graph_id', 'body_html', 'body_fetched_at', 'is_local',
                                   'pending_action', 'res_model', 'res_id'})
BOOLEAN_COLUMNS = frozenset({'is_read', 'is_draft', 'has_attachments', 'active', 'is_local'})
RECIPIENT_COLUMNS = ('to_recipients', 'cc_recipients', 'bcc_recipients')
# Graph id of a local Sent Items entry sent without a draft (Read only): adopted later by its Message-ID.
LOCAL_ID_PREFIX = 'maildesk-local:'


class MaildeskMessage(models.Model):
    """One Outlook message, stored by (account, Graph immutable id).

    Sync stores metadata only (:meth:`_upsert_graph_batch`); the body is fetched once when the message is opened
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

    # ------------------------------------------------------------------ batch upsert (sync)

    @api.model
    def _upsert_graph_batch(self, folder, items):
        """Apply one delta page of ``folder`` to the store. Idempotent: replays and duplicates are no-ops.

        One query finds the existing rows (locked in id order, so concurrent workers never deadlock), one INSERT
        adds the new ones, one UPDATE per set of changed columns touches only rows whose values changed (the ORM
        is told about both, as ``create()``/``write()`` would, without their per-row cost). ``@removed`` only
        soft-removes a row still in ``folder`` (a move's destination may already have claimed it); an item older
        than the stored version (``modified_at``) is a stale replay and ignored. Malformed items are skipped and
        counted, never fatal. No partner is ever created.
        :return: dict(created, updated, removed, skipped, skip_reason, stored)
        """
        account = folder.account_id
        latest, skipped, skip_reason = self._latest_by_id(items)
        stats = {'created': 0, 'updated': 0, 'removed': 0, 'skipped': skipped, 'skip_reason': skip_reason}
        if latest:
            existing = self._existing_rows(account, list(latest))
            context = self._batch_context(folder, latest)
            to_create = []
            for graph_id, values in latest.items():
                row = existing.get(graph_id)
                if values is None:
                    stats['removed'] += self._apply_removal(folder, row, context)
                elif row is None:
                    to_create.append(values)
                else:
                    stats['updated'] += self._apply_update(folder, row, values, context)
            if to_create:
                stats['created'] += self._create_from_graph(folder, to_create, context)
            self._flush_batch(context)
        stats['stored'] = stats['created'] + stats['updated']
        return stats

    @api.model
    def _latest_by_id(self, items):
        """``{graph_id: values or None (removed)}`` in page order, the last mention of an id winning."""
        latest, skipped, reason = {}, 0, ''
        for item in items or ():
            if mail.is_removed(item):
                graph_id = mail.usable_id(item)  # None for an unusable id (NUL, surrogates, too long): ignored
                if graph_id:
                    latest.pop(graph_id, None)
                    latest[graph_id] = None
                continue
            try:
                values = mail.message_values(item)
            except mail.MalformedItem as exc:
                skipped, reason = skipped + 1, exc.reason
                continue
            previous = latest.get(values['graph_id'])
            if previous and _is_older(values, previous):
                continue  # a duplicate of an item already seen in a newer version
            latest.pop(values['graph_id'], None)
            latest[values['graph_id']] = values
        return latest, skipped, reason

    @api.model
    def _existing_rows(self, account, graph_ids):
        """Existing rows (active or not) by graph id: ONE query, rows locked in id order."""
        self.flush_model()
        columns = ', '.join(SYNCED_COLUMNS)
        self.env.cr.execute(f"""
            SELECT id, graph_id, folder_id, active, is_local, seen_round, {columns}
              FROM maildesk_message
             WHERE account_id = %s AND graph_id = ANY(%s)
          ORDER BY id
               FOR NO KEY UPDATE
        """, [account.id, graph_ids])
        return {row['graph_id']: row for row in self.env.cr.dictfetchall()}

    @api.model
    def _batch_context(self, folder, latest):
        """What every row of the batch needs: partners by address (one query), cutoff, round marks."""
        addresses = set()
        for values in latest.values():
            if values:
                addresses.update(values['recipient_addresses'])
                if values['from_address']:
                    addresses.add(values['from_address'].lower())
        months = folder.account_id._maildesk_settings()['backfill_months']
        return {
            'folder': folder,
            'account_email': (folder.account_id.email or '').strip().lower(),
            'partners': self._partners_by_email(addresses),
            'cutoff': fields.Datetime.now() - relativedelta(months=months) if months else None,
            'seen': {'seen_round': folder.round_number, 'seen_at': folder.round_started_at or fields.Datetime.now()},
            'same_round': [],   # ids of unchanged rows to mark as seen by this round
            'updates': {},      # row id -> changed columns
            'partner_updates': {},  # row id -> recipient partner ids
        }

    @api.model
    def _partners_by_email(self, addresses):
        """``{normalized email: partner id}`` for existing partners (lowest id wins); never creates one."""
        if not addresses:
            return {}
        self.env['res.partner'].flush_model(['email_normalized', 'active'])
        self.env.cr.execute("""
            SELECT email_normalized, min(id) FROM res_partner
             WHERE email_normalized = ANY(%s) AND active
          GROUP BY email_normalized
        """, [list(addresses)])
        return dict(self.env.cr.fetchall())

    @api.model
    def _row_values(self, values, context):
        """Column values for one Graph item (the part compared with a stored row)."""
        row = {key: values[key] for key in SYNCED_COLUMNS if key != 'categories'}
        row['categories'] = ', '.join(values['categories']) or False
        for key in ('received_at', 'sent_at'):  # modified_at keeps its precision: it orders versions
            if row[key]:
                row[key] = row[key].replace(microsecond=0)
        for key, value in row.items():
            if value == '' or value is None:
                row[key] = False
        return row

    @api.model
    def _partner_values(self, values, context):
        partners = context['partners']
        sender = partners.get((values['from_address'] or '').lower(), False)
        recipients = [partners[address] for address in values['recipient_addresses'] if address in partners]
        return sender, sorted(set(recipients))

    @api.model
    def _create_from_graph(self, folder, values_list, context):
        """Insert the new items in ONE statement (local entries sent from Odoo are adopted instead).

        A plain multi-row INSERT, not ``create()``: the ORM's per-record work (defaults, cache, inverse fields)
        costs more than everything else a sync page does. The rows are complete (every column the ORM would set),
        and :meth:`modified` then tells the ORM about them, as ``create()`` does.
        """
        # Backfill depth ("last N months"): the round is still followed to its deltaLink, older items are just
        # not stored (existing rows still update). Not `$filter=receivedDateTime ge X`: a filtered delta caps the
        # round at 5,000 messages (graph-api.md §1.2), silently truncating a busy mailbox's window, and bakes the
        # cutoff into the delta token. Following costs ~1 request per 1,000 older messages, with no DB work.
        cutoff = context['cutoff']
        if cutoff:
            values_list = [v for v in values_list if not v['received_at'] or v['received_at'] >= cutoff]
        adopted = self._adopt_local_entries(folder, values_list, context)
        rows, recipients = [], []
        for values in values_list:
            if values['graph_id'] in adopted:
                continue
            row = self._row_values(values, context)
            sender, partner_ids = self._partner_values(values, context)
            row.update({
                'account_id': folder.account_id.id,
                'folder_id': folder.id,
                'graph_id': values['graph_id'],
                'active': True,
                'is_local': False,
                'thread_key': values['conversation_id'] or False,
                'direction': self._direction(values, context),
                'from_partner_id': sender,
                **context['seen'],
            })
            rows.append(row)
            recipients.append(partner_ids)
        if rows:
            self._insert_rows(rows, recipients)
        return len(rows) + len(adopted)

    @api.model
    def _insert_rows(self, rows, recipients):
        """INSERT complete rows (same keys each) and their recipient partner links; returns the new records.

        One statement whose parameters are one array per column (``unnest``): PostgreSQL parses 40 values
        instead of 40,000, and no per-row SQL is built in Python.
        """
        now, uid = self.env.cr.now(), self.env.uid
        names = list(rows[0])
        arrays = [[_column_value(name, row[name]) for row in rows] for name in names]
        columns = names + ['create_uid', 'create_date', 'write_uid', 'write_date']
        types = [self._fields[name].column_type[1] for name in names]
        self.flush_model()
        self.env.cr.execute(SQL(
            'INSERT INTO maildesk_message (%s) SELECT *, %s, %s, %s, %s FROM unnest(%s) RETURNING id',
            SQL(', ').join(SQL.identifier(name) for name in columns), uid, now, uid, now,
            SQL(', ').join(SQL('%s::%s[]', array, SQL(column_type)) for array, column_type in zip(arrays, types)),
        ))
        ids = [row[0] for row in self.env.cr.fetchall()]
        links = [(message_id, partner_id) for message_id, partner_ids in zip(ids, recipients)
                 for partner_id in partner_ids]
        if links:
            self.env.cr.execute(SQL(
                'INSERT INTO maildesk_message_partner_rel (message_id, partner_id) '
                'SELECT * FROM unnest(%s::int4[], %s::int4[]) ON CONFLICT DO NOTHING',
                [link[0] for link in links], [link[1] for link in links]))
        records = self.browse(ids)
        records.modified([name for name in columns if name in self._fields] + ['partner_ids'], create=True)
        return records

    @api.model
    def _adopt_local_entries(self, folder, values_list, context):
        """Outlook's copy of a message sent from MailDesk replaces its local entry (same row): never two."""
        message_ids = [v['internet_message_id'] for v in values_list if v['internet_message_id']]
        if not message_ids:
            return set()
        locals_by_mid = {m.internet_message_id: m for m in self.search([
            ('account_id', '=', folder.account_id.id), ('is_local', '=', True),
            ('internet_message_id', 'in', message_ids)])}
        adopted = set()
        for values in values_list:
            local = locals_by_mid.pop(values['internet_message_id'], None) if values['internet_message_id'] else None
            if local:
                row = self._row_values(values, context)
                local.write(dict(row, graph_id=values['graph_id'], folder_id=folder.id, is_local=False,
                                 thread_key=local.thread_key or values['conversation_id'] or False,
                                 **context['seen']))
                adopted.add(values['graph_id'])
        return adopted

    @api.model
    def _direction(self, values, context):
        address = (values['from_address'] or '').strip().lower()
        return 'outgoing' if address and address == context['account_email'] else 'incoming'

    @api.model
    def _apply_update(self, folder, row, values, context):
        """Update one existing row from a Graph item; returns 1 when something changed, else 0."""
        in_folder = row['folder_id'] == folder.id and row['active']
        if row['modified_at'] and values['modified_at'] and values['modified_at'] < row['modified_at']:
            # Stale replay: the stored version is newer. Still present in this folder though.
            if in_folder and row['seen_round'] != context['seen']['seen_round']:
                context['same_round'].append(row['id'])
            return 0
        new = self._row_values(values, context)
        changes = {key: value for key, value in new.items() if _differs(row[key], value, key)}
        if not in_folder:
            # A move into this folder, or a return after a soft-removal: same record, same tags.
            changes.update(folder_id=folder.id, active=True)
        if not changes:
            if row['seen_round'] != context['seen']['seen_round']:
                context['same_round'].append(row['id'])
            return 0
        changes.update(context['seen'])
        if 'from_address' in changes:
            changes['from_partner_id'], _recipients = self._partner_values(values, context)
            changes['direction'] = self._direction(values, context)
        if any(key in changes for key in RECIPIENT_COLUMNS):
            context['partner_updates'][row['id']] = self._partner_values(values, context)[1]
        if 'conversation_id' in changes:
            changes['thread_key'] = values['conversation_id'] or False
        context['updates'][row['id']] = changes
        return 1

    @api.model
    def _apply_removal(self, folder, row, context):
        """``@removed`` in ``folder``: soft-remove the row only if it is still there (else it moved on)."""
        if row is None or row['folder_id'] != folder.id or not row['active'] or row['is_local']:
            return 0
        context['updates'][row['id']] = {'active': False, 'folder_id': False}
        return 1

    @api.model
    def _flush_batch(self, context):
        """Write the batch's changes: one UPDATE per set of changed columns (most pages have one or two)."""
        updates = context['updates']
        for row_id in context['same_round']:
            updates.setdefault(row_id, dict(context['seen']))
        groups = {}
        for row_id, changes in updates.items():
            groups.setdefault(tuple(sorted(changes)), []).append(row_id)
        for names, ids in groups.items():
            self._update_rows(names, ids, updates)
        for row_id, partner_ids in context['partner_updates'].items():
            self.browse(row_id).write({'partner_ids': [fields.Command.set(partner_ids)]})
        self.flush_model()

    @api.model
    def _update_rows(self, names, ids, updates):
        """``UPDATE ... FROM unnest(...)``: the same columns of many rows, each with its own values; then the ORM
        is told, as ``write()`` would (cache invalidated, dependents marked)."""
        self.flush_model()
        arrays = [ids] + [[_column_value(name, updates[row_id][name]) for row_id in ids] for name in names]
        types = ['int4'] + [self._fields[name].column_type[1] for name in names]
        self.env.cr.execute(SQL(
            'UPDATE maildesk_message AS m SET %s, write_uid = %s, write_date = %s FROM unnest(%s) AS v(%s) '
            'WHERE m.id = v.id',
            SQL(', ').join(SQL('%s = v.%s', SQL.identifier(name), SQL.identifier(name)) for name in names),
            self.env.uid, self.env.cr.now(),
            SQL(', ').join(SQL('%s::%s[]', array, SQL(column_type)) for array, column_type in zip(arrays, types)),
            SQL(', ').join(SQL.identifier(name) for name in ('id',) + names),
        ))
        records = self.browse(ids)
        records.invalidate_recordset(list(names) + ['write_uid', 'write_date'])
        records.modified(list(names))
        if 'folder_id' in names:
            self.env['maildesk.folder'].invalidate_model(['message_ids'])

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
            for account in self.account_id:
                messages = self.filtered(lambda m: m.account_id == account)
                trash = account.folder_ids.filtered(lambda f: f.role == 'deleteditems')[:1]
                to_trash = messages.filtered(lambda m: trash and m.folder_id != trash)
                to_trash.write({'folder_id': trash.id})
                (messages - to_trash).write({'active': False})
        return WriteBack(self, 'delete').run(self, change)

    def action_set_tags(self, tag_ids):
        """Replace the MailDesk tags of the messages (tags never go to Outlook)."""
        if self:
            self.write({'tag_ids': [fields.Command.set([int(t) for t in tag_ids])]})
            self._maildesk_notify_changed(self)
        return True

    @api.model
    def _graph_error_text(self, exc, what):
        """Kept for callers outside this model; see :func:`engine.feedback.graph_error_text`."""
        return feedback.graph_error_text(self.env, exc, what)

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
            log_to_record.check_not_logged(self)
            return {
                'type': 'ir.actions.act_window',
                'name': _('Log to Record'),
                'res_model': 'maildesk.log.record',
                'view_mode': 'form',
                'target': 'new',
                'context': {'default_message_id': self.id},
            }
        if res_model not in self.env or not isinstance(self.env[res_model], self.pool['mail.thread']):
            raise UserError(_('Messages can only be logged on records with a chatter.'))
        record = self.env[res_model].browse(int(res_id or 0)).exists()
        if not record:
            raise UserError(_('The record to log this message on no longer exists.'))
        log_to_record.log_message(self, record)
        return {'model': record._name, 'id': record.id, 'name': record.display_name}


def _column_value(name, value):
    """ORM-style column value: False means NULL, except in boolean columns."""
    return None if value is False and name not in BOOLEAN_COLUMNS else value


def _is_older(values, other):
    return bool(values['modified_at'] and other['modified_at'] and values['modified_at'] < other['modified_at'])


def _differs(stored, new, key):
    if key in BOOLEAN_COLUMNS:
        return bool(stored) != bool(new)
    if stored is None or stored == '':
        stored = False
    return stored != new
