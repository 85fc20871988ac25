import logging

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..graph import errors, mail

_logger = logging.getLogger(__name__)

# Well-known folders in the order every list shows them (the folder pane, the account's Folders tab).
FOLDER_ROLES = [
    ('inbox', 'Inbox'),
    ('drafts', 'Drafts'),
    ('sentitems', 'Sent Items'),
    ('archive', 'Archive'),
    ('deleteditems', 'Deleted Items'),
    ('junkemail', 'Junk Email'),
]
ROLE_ORDER = {role: index for index, (role, _label) in enumerate(FOLDER_ROLES)}
ROLE_SEQUENCE = {role: 10 * (index + 1) for role, index in ROLE_ORDER.items()}
DEFAULT_SYNCED_ROLES = ('inbox', 'sentitems')
# Advisory lock (UPSERT_LOCK, account id): one mailbox's page writes run one at a time across workers, so two
# workers never insert the same message or lock rows in opposite orders.
UPSERT_LOCK = 0x4D44_0100

SYNC_STATES = [
    ('not_started', 'Not started'),
    ('newest', 'Syncing newest'),
    ('backfilling', 'Backfilling'),
    ('done', 'Up to date'),
    ('error', 'Error'),
]
# Fields only the sync engine writes; RPC writes to them are refused (style guide rule 17). account_id and
# parent_id too: record rules are checked before a write, so a user could otherwise move their own folder (and its
# messages) into another user's mailbox.
SYNC_FIELDS = frozenset({
    'graph_id', 'delta_link', 'next_link', 'round_started_at', 'round_number', 'round_is_initial', 'sync_state',
    'synced_count', 'backfill_progress', 'last_sync_at', 'last_checked_at', 'last_error', 'skipped_count',
    'total_count', 'unread_count', 'role', 'account_id', 'parent_id',
})


class MaildeskFolder(models.Model):
    """One Outlook mail folder and its sync cursor.

    A folder syncs with ONE mechanism, the folder's message delta: an *initial round* (started without a link,
    newest first) enumerates the folder page by page -- that is the progressive backfill -- and ends with a
    ``delta_link``; later rounds GET the delta link and return only changes. ``next_link`` is the nextLink of the
    round in progress, committed with the rows of each page, so a kill loses at most the page in flight.
    Both links are opaque Graph URLs.
    """
    _name = 'maildesk.folder'
    _inherit = ['maildesk.bus.mixin']
    _description = 'MailDesk Folder'
    # what the folder pane shows: open inboxes follow it live
    _maildesk_bus_fields = ('sync_state', 'backfill_progress', 'last_error', 'sync_enabled')
    _order = 'account_id, sequence, complete_name, id'
    _parent_store = False

    account_id = fields.Many2one('maildesk.account', required=True, ondelete='cascade', index=True)
    graph_id = fields.Char('Graph ID', required=True, readonly=True)
    name = fields.Char(required=True, readonly=True)
    complete_name = fields.Char('Path', readonly=True)
    parent_id = fields.Many2one('maildesk.folder', 'Parent Folder', ondelete='set null', index=True, readonly=True)
    child_ids = fields.One2many('maildesk.folder', 'parent_id', string='Subfolders')
    role = fields.Selection(FOLDER_ROLES, readonly=True)
    sequence = fields.Integer(default=100)
    total_count = fields.Integer('Total (Outlook)', readonly=True)
    unread_count = fields.Integer('Unread (Outlook)', readonly=True)

    sync_enabled = fields.Boolean('Sync', default=False)
    sync_state = fields.Selection(SYNC_STATES, string='Sync Status', default='not_started', readonly=True,
                                  required=True)
    sync_status = fields.Char('Status', compute='_compute_sync_status')
    synced_count = fields.Integer('Synced Messages', readonly=True)
    backfill_progress = fields.Float('Backfill %', readonly=True, aggregator=None)
    last_sync_at = fields.Datetime('Last Sync', readonly=True)
    last_checked_at = fields.Datetime(readonly=True, copy=False,
                                      help='When the "sync changes" cron last visited the folder (one visit per run).')
    last_error = fields.Text(readonly=True)
    skipped_count = fields.Integer('Skipped Items', readonly=True,
                                   help='Items Graph returned that could not be stored (see Last Error).')

    # Sync cursor: opaque Graph links; internal, never edited by hand.
    delta_link = fields.Char(readonly=True, copy=False, groups='base.group_system')
    next_link = fields.Char(readonly=True, copy=False, groups='base.group_system')
    round_started_at = fields.Datetime(readonly=True, copy=False)
    round_is_initial = fields.Boolean(readonly=True, copy=False,
                                      help='The round in progress enumerates the whole folder (ends with a sweep).')
    round_number = fields.Integer(readonly=True, copy=False,
                                  help='Initial rounds started so far; messages seen in the current one carry it.')

    message_ids = fields.One2many('maildesk.message', 'folder_id', string='Messages')

    _sql_constraints = [
        ('graph_id_uniq', 'unique(account_id, graph_id)', 'A folder is stored once per account.'),
    ]

    @api.depends('sync_state', 'backfill_progress', 'sync_enabled')
    def _compute_sync_status(self):
        labels = dict(self._fields['sync_state']._description_selection(self.env))
        for folder in self:
            if folder.sync_state == 'backfilling':
                folder.sync_status = _('Backfilling %(percent)d%%', percent=int(folder.backfill_progress))
            else:
                folder.sync_status = labels.get(folder.sync_state, '')

    # ------------------------------------------------------------------ user-facing

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get('sync_enabled') and vals.get('sync_state', 'not_started') == 'not_started':
                vals['sync_state'] = 'newest'
        folders = super().create(vals_list)
        if any(folders.mapped('sync_enabled')):
            self._trigger_sync_cron()
        return folders

    def write(self, vals):
        if not self.env.su and SYNC_FIELDS & set(vals):
            raise UserError(_('The sync status of a folder is maintained by MailDesk and cannot be edited.'))
        if 'sync_enabled' not in vals:
            return super().write(vals)
        enabling = self.filtered(lambda folder: not folder.sync_enabled) if vals['sync_enabled'] else self.browse()
        result = super().write(vals)
        if enabling:
            # Queued for its newest page; the "sync changes" cron is woken up at once.
            enabling.filtered(lambda f: f.sync_state == 'not_started').sudo().write({'sync_state': 'newest'})
            self._trigger_sync_cron()
        return result

    def action_toggle_sync(self):
        for folder in self:
            folder.sync_enabled = not folder.sync_enabled

    def _trigger_sync_cron(self):
        cron = self.env.ref('maildesk.ir_cron_maildesk_sync_changes', raise_if_not_found=False)
        if cron:
            cron.sudo()._trigger()

    # ------------------------------------------------------------------ folder tree

    @api.model
    def _store_folder_tree(self, account, items, roles_by_id):
        """Make the account's folders equal to ``items`` (raw Graph folders): create, rename, re-parent, delete.

        Idempotent: re-fetching an unchanged tree writes nothing. A folder that disappeared is removed and its
        messages soft-removed (Outlook moved them with the folder, or deleted them). New Inbox / Sent Items
        are preselected for sync.
        :return: ``(created, updated, removed)`` counts
        """
        Folder = self.sudo().with_context(active_test=False)
        existing = {f.graph_id: f for f in Folder.search([('account_id', '=', account.id)])}
        wanted = {}
        for item in items:
            try:
                values = mail.folder_values(item, roles_by_id)
            except mail.MalformedItem as exc:
                _logger.info('MailDesk: folder skipped for account %s: %s', account.id, exc.reason)
                continue
            if not values['is_hidden']:
                wanted[values['graph_id']] = values
        to_create = [self._folder_create_values(account, values) for graph_id, values in wanted.items()
                     if graph_id not in existing]
        created = Folder.create(to_create) if to_create else Folder
        by_graph_id = dict(existing, **{f.graph_id: f for f in created})
        updated = 0
        for graph_id, values in wanted.items():
            folder = by_graph_id[graph_id]
            changes = self._folder_changes(folder, values, by_graph_id)
            if changes:
                folder.write(changes)
                updated += folder not in created
        gone = Folder.browse([f.id for graph_id, f in existing.items() if graph_id not in wanted])
        if gone:
            gone._remove_vanished()
        kept = Folder.browse([by_graph_id[graph_id].id for graph_id in wanted])
        kept._update_complete_names()
        return len(created), updated, len(gone)

    @api.model
    def _folder_create_values(self, account, values):
        role = values['role']
        return {
            'account_id': account.id,
            'graph_id': values['graph_id'],
            'name': values['name'],
            'role': role,
            'sequence': ROLE_SEQUENCE.get(role, 100),
            'total_count': values['total_count'],
            'unread_count': values['unread_count'],
            'sync_enabled': role in DEFAULT_SYNCED_ROLES,
        }

    @api.model
    def _folder_changes(self, folder, values, by_graph_id):
        parent = by_graph_id.get(values['parent_graph_id'])
        wanted = {
            'name': values['name'],
            'parent_id': parent.id if parent else False,
            'role': values['role'],
            'total_count': values['total_count'],
            'unread_count': values['unread_count'],
        }
        current = {
            'name': folder.name, 'parent_id': folder.parent_id.id, 'role': folder.role,
            'total_count': folder.total_count, 'unread_count': folder.unread_count,
        }
        return {key: value for key, value in wanted.items() if current[key] != value}

    def _update_complete_names(self):
        for folder in self:
            names, node, seen = [], folder, set()
            while node and node.id not in seen:
                seen.add(node.id)
                names.append(node.name)
                node = node.parent_id
            path = ' / '.join(reversed(names))
            if folder.complete_name != path:
                folder.complete_name = path

    def _remove_vanished(self):
        """The folder is gone from Outlook: soft-remove its messages (tags kept) and delete the folder."""
        messages = self.env['maildesk.message'].sudo().search([('folder_id', 'in', self.ids)])
        messages.write({'active': False, 'folder_id': False})
        self.sudo().unlink()

    # ------------------------------------------------------------------ sync state helpers

    def _cursor_state(self):
        """The sync state the folder's cursor implies (used after every successful page)."""
        self.ensure_one()
        if self.next_link and self.round_is_initial:
            return 'backfilling'
        if self.delta_link or self.next_link:
            return 'done'
        return 'newest' if self.sync_enabled else 'not_started'

    def _refresh_counts(self):
        """Synced count and backfill progress from the local store (one indexed count query)."""
        self.ensure_one()
        self.env['maildesk.message'].flush_model(['folder_id', 'active'])
        self.env.cr.execute('SELECT count(*) FROM maildesk_message WHERE folder_id = %s AND active', [self.id])
        synced = self.env.cr.fetchone()[0]
        state = self._cursor_state()
        if state == 'done':
            progress = 100.0
        elif state == 'backfilling':
            progress = min(99.0, 100.0 * synced / self.total_count) if self.total_count else 0.0
        else:
            progress = 0.0
        return {'synced_count': synced, 'backfill_progress': progress, 'sync_state': state}

    # ------------------------------------------------------------------ one page of the folder's delta

    def _sync_page(self, client, fetch_page):
        """Process one delta page of this (claimed, locked) folder in the current transaction.

        Every Graph call comes before the first write, so a Graph failure leaves nothing to undo.

        :param fetch_page: ``callable(folder, link) -> graph.Page`` (caches pages across DB retries)
        :return: dict(stored, more, initial, first): ``more`` the round continues (a next_link), ``initial`` the
            page belongs to an initial round, ``first`` it was the first page of one (the newest mail)
        """
        self.ensure_one()
        now = fields.Datetime.now()
        link = self.next_link or self.delta_link or None
        if link is None:
            self._start_initial_round(client, now)
        try:
            page = fetch_page(self, link)
        except errors.SyncStateExpired:
            # 410 / syncStateNotFound: drop the links, enumerate again; the round's sweep removes what is gone.
            _logger.info('MailDesk: delta state of folder %s expired, re-enumerating', self.id)
            self._start_initial_round(client, now)
            link, page = None, fetch_page(self, None)
        self.env.cr.execute('SELECT pg_advisory_xact_lock(%s, %s)', [UPSERT_LOCK, self.account_id.id])
        stats = self.env['maildesk.message']._upsert_graph_batch(self, page.items)
        values = {'last_sync_at': now, 'last_error': False}
        if stats['skipped']:
            values['skipped_count'] = self.skipped_count + stats['skipped']
            values['last_error'] = _('%(count)d item(s) skipped: %(reason)s',
                                     count=stats['skipped'], reason=stats['skip_reason'])
        initial = self.round_is_initial
        if page.next_link:
            values['next_link'] = page.next_link
        else:
            if initial:
                self._sweep_round()
            values.update(next_link=False, delta_link=page.delta_link, round_is_initial=False)
        self.write(values)
        self.write(self._refresh_counts())
        return {'stored': stats['stored'], 'more': bool(page.next_link), 'initial': initial, 'first': link is None}

    def _start_initial_round(self, client, now):
        """Forget the links and start enumerating the folder again, newest first."""
        values = {'next_link': False, 'delta_link': False, 'round_is_initial': True, 'round_started_at': now,
                  'round_number': self.round_number + 1}
        try:
            # One extra request per initial round keeps the progress denominator honest.
            values.update(_folder_counts(client.get_folder(self.graph_id)))
        except (errors.Transient, errors.BadResponse):
            pass
        self.write(values)

    def _sweep_round(self):
        """End of an initial round: soft-remove rows of the folder it did not return (never local entries)."""
        Message = self.env['maildesk.message'].with_context(active_test=False)
        gone = Message.search([
            ('folder_id', '=', self.id), ('active', '=', True), ('is_local', '=', False),
            '|', ('seen_round', '!=', self.round_number), ('seen_round', '=', False),
        ])
        if gone:
            _logger.info('MailDesk: sweep of folder %s soft-removed %d message(s)', self.id, len(gone))
            gone.write({'active': False, 'folder_id': False})
        return len(gone)


def _folder_counts(item):
    values = mail.folder_values(item) if isinstance(item, dict) and item.get('id') else None
    return {'total_count': values['total_count'], 'unread_count': values['unread_count']} if values else {}

