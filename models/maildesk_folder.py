from odoo import fields, models

FOLDER_ROLES = [
    ('inbox', 'Inbox'),
    ('sentitems', 'Sent Items'),
    ('drafts', 'Drafts'),
    ('deleteditems', 'Deleted Items'),
    ('archive', 'Archive'),
    ('junkemail', 'Junk Email'),
]

SYNC_STATES = [
    ('not_started', 'Not started'),
    ('newest', 'Syncing newest'),
    ('backfilling', 'Backfilling'),
    ('done', 'Up to date'),
    ('error', 'Error'),
]


class MaildeskFolder(models.Model):
    """One Outlook mail folder and its sync cursor.

    ``next_link`` is the nextLink of the delta round in progress (the backfill cursor),
    ``delta_link`` the deltaLink that ended the last round. Both are opaque Graph URLs.
    """
    _name = 'maildesk.folder'
    _description = 'MailDesk Folder'
    _order = 'account_id, sequence, complete_name, id'
    _parent_store = False

    account_id = fields.Many2one('maildesk.account', required=True, ondelete='cascade', index=True)
    graph_id = fields.Char('Graph ID', required=True, readonly=True)
    name = fields.Char(required=True)
    complete_name = fields.Char('Path')
    parent_id = fields.Many2one('maildesk.folder', 'Parent Folder', ondelete='set null', index=True)
    child_ids = fields.One2many('maildesk.folder', 'parent_id', string='Subfolders')
    role = fields.Selection(FOLDER_ROLES, readonly=True)
    sequence = fields.Integer(default=100)
    total_count = fields.Integer('Total (Outlook)', readonly=True)
    unread_count = fields.Integer('Unread (Outlook)', readonly=True)

    sync_enabled = fields.Boolean('Sync', default=False)
    sync_state = fields.Selection(SYNC_STATES, string='Sync Status', default='not_started', readonly=True,
                                  required=True)
    synced_count = fields.Integer('Synced Messages', readonly=True)
    backfill_progress = fields.Float('Backfill %', readonly=True)
    last_sync_at = fields.Datetime('Last Sync', readonly=True)
    last_error = fields.Text(readonly=True)
    skipped_count = fields.Integer('Skipped Items', readonly=True,
                                   help='Items Graph returned that could not be stored (see Last Error).')

    # Sync cursor: opaque Graph links; internal, never edited by hand.
    delta_link = fields.Char(readonly=True, copy=False, groups='base.group_system')
    next_link = fields.Char(readonly=True, copy=False, groups='base.group_system')
    round_started_at = fields.Datetime(readonly=True, copy=False)

    message_ids = fields.One2many('maildesk.message', 'folder_id', string='Messages')

    _sql_constraints = [
        ('graph_id_uniq', 'unique(account_id, graph_id)', 'A folder is stored once per account.'),
    ]
