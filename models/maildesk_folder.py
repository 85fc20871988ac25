from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..engine import push

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
    'total_count', 'unread_count', 'role', 'account_id', 'parent_id', 'round_page_count', 'round_item_count',
    'sweep_deferred', 'prefetch_requested_at',
})


class MaildeskFolder(models.Model):
    """One Outlook mail folder and its sync cursor (``delta_link`` / ``next_link``, opaque Graph URLs).

    How a folder syncs (initial round = the progressive backfill, then delta rounds) is :mod:`engine.folder_round`;
    Fetch Folders is :mod:`engine.folder_tree`. The cursor is written only by them.
    """
    _name = 'maildesk.folder'
    _inherit = ['maildesk.bus.mixin']
    _description = 'MailDesk Folder'
    # what the folder pane shows: open inboxes follow it live
    _maildesk_bus_fields = ('sync_state', 'backfill_progress', 'last_error', 'sync_enabled')
    _order = 'account_id, sequence, complete_name, id'
    _parent_store = False

    account_id = fields.Many2one('maildesk.account', required=True, ondelete='cascade', index=True)
    company_id = fields.Many2one(related='account_id.company_id', store=True, index=True)
    graph_id = fields.Char('Graph ID', required=True, readonly=True)
    name = fields.Char(required=True, readonly=True)
    complete_name = fields.Char('Path', readonly=True)
    parent_id = fields.Many2one('maildesk.folder', 'Parent Folder', ondelete='set null', index=True, readonly=True)
    child_ids = fields.One2many('maildesk.folder', 'parent_id', string='Subfolders')
    role = fields.Selection(FOLDER_ROLES, readonly=True)
    sequence = fields.Integer(default=100)
    # Outlook's own counts, as of Fetch Folders or the start of a full read: the backfill's progress denominator
    total_count = fields.Integer('Total (Outlook)', readonly=True,
                                 help='Outlook\'s count at the last Fetch Folders or full read of the folder.')
    unread_count = fields.Integer('Unread (Outlook)', readonly=True,
                                  help='Outlook\'s count at the last Fetch Folders or full read of the folder.')

    sync_enabled = fields.Boolean('Sync', default=False)
    sync_state = fields.Selection(SYNC_STATES, string='Sync Status', default='not_started', readonly=True,
                                  required=True)
    sync_status = fields.Char('Status', compute='_compute_sync_status')
    push_status = fields.Char('New Mail', compute='_compute_push_status', help='"Push active": new mail arrives within '
                              'seconds (Graph change notifications); "Polling": every few minutes, and why.')
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
    prefetch_requested_at = fields.Datetime(readonly=True, copy=False,
                                            help='A user opened the folder: its newest bodies are prefetched soon.')
    round_is_initial = fields.Boolean(readonly=True, copy=False,
                                      help='The round in progress enumerates the whole folder (ends with a sweep).')
    round_number = fields.Integer(readonly=True, copy=False,
                                  help='Initial rounds started so far; messages seen in the current one carry it.')
    round_page_count = fields.Integer(readonly=True, copy=False, help='Pages of the round in progress.')
    round_item_count = fields.Integer(readonly=True, copy=False,
                                      help='Messages the round in progress listed so far (its sweep is checked '
                                           'against the folder count).')
    sweep_deferred = fields.Boolean(readonly=True, copy=False,
                                    help='The last initial round looked incomplete: nothing was hidden and the folder '
                                         'is read once more before its sweep.')

    message_ids = fields.One2many('maildesk.message', 'folder_id', string='Messages')
    # What MailDesk holds: the one source of the Folders tab's and the folder pane's counts. Counted from the local
    # store on every read, so they follow each sync page and each local change without a Graph request (Outlook's
    # totalItemCount / unreadItemCount above come with Fetch Folders and a round's start only: a delta round does
    # not carry them).
    message_total = fields.Integer('Synced', compute='_compute_local_counts',
                                   help='Messages of this folder in MailDesk (0 while the folder is not synced).')
    message_unread = fields.Integer('Unread', compute='_compute_local_counts',
                                    help='Unread messages of this folder in MailDesk: the number the inbox shows.')

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

    def _compute_local_counts(self):
        counts = self._local_counts()
        for folder in self:
            folder.message_total, folder.message_unread = counts.get(folder.id, (0, 0))

    def _local_counts(self):
        """``{folder id: (messages, unread)}`` of the synced folders among these, from the local store."""
        synced = self.filtered('sync_enabled')
        if not synced.ids:
            return {}
        counts = {}
        groups = self.env['maildesk.message']._read_group(
            [('folder_id', 'in', synced.ids)], ['folder_id', 'is_read'], ['__count'])
        for folder, is_read, count in groups:
            total, unread = counts.get(folder.id, (0, 0))
            counts[folder.id] = (total + count, unread + (0 if is_read else count))
        return counts

    def _compute_push_status(self):
        statuses = push.folder_status(self.env, self)
        for folder in self:
            folder.push_status = statuses.get(folder.id, '')

    # ------------------------------------------------------------------ user-facing

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            vals.setdefault('sequence', ROLE_SEQUENCE.get(vals.get('role'), 100))
            if vals.get('sync_enabled') and vals.get('sync_state', 'not_started') == 'not_started':
                vals['sync_state'] = 'newest'
        folders = super().create(vals_list)
        if any(folders.mapped('sync_enabled')):
            self._trigger_sync_cron()
            push.trigger_maintain(self.env)
        return folders

    def write(self, vals):
        if not self.env.su and SYNC_FIELDS & set(vals):
            raise UserError(_('The sync status of a folder is maintained by MailDesk and cannot be edited.'))
        if 'sync_enabled' not in vals:
            return super().write(vals)
        enabling = self.filtered(lambda folder: not folder.sync_enabled) if vals['sync_enabled'] else self.browse()
        result = super().write(vals)
        push.trigger_maintain(self.env)
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
