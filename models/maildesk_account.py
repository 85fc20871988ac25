from odoo import api, fields, models

ACCOUNT_STATES = [
    ('not_authorized', 'Not authorized'),
    ('authorized', 'Authorized'),
    ('connected', 'Connected'),
    ('auth_invalid', 'Invalid OAuth Configuration'),
    ('error', 'Error'),
]


class MaildeskAccount(models.Model):
    """One Outlook mailbox: its identity, its MSAL token cache and its status.

    Tokens live in fields only ``base.group_system`` can read; everything that talks to
    Microsoft goes through ``graph/`` (models -> graph -> HTTP).
    """
    _name = 'maildesk.account'
    _description = 'MailDesk Mailbox Account'
    _inherit = ['mail.thread']
    _order = 'name, id'

    name = fields.Char('Account Name', required=True, tracking=True,
                       help="Internal name, shown in MailDesk's folder tree.")
    active = fields.Boolean(default=True)
    account_type = fields.Selection([('outlook', 'Outlook')], string='Type', required=True, default='outlook')
    email = fields.Char('Email Address', required=True, tracking=True)
    sender_name = fields.Char('Sender Name', help='Display name used on mail sent from this mailbox.')
    signature = fields.Html('Signature', sanitize=True)
    user_id = fields.Many2one('res.users', 'Owner', required=True, index=True, tracking=True,
                              default=lambda self: self.env.user)
    is_shared = fields.Boolean('Shared', tracking=True)
    shared_user_ids = fields.Many2many('res.users', 'maildesk_account_shared_user_rel', 'account_id', 'user_id',
                                       string='Shared With')
    company_id = fields.Many2one('res.company', default=lambda self: self.env.company)

    state = fields.Selection(ACCOUNT_STATES, string='Status', required=True, default='not_authorized',
                             readonly=True, copy=False, tracking=True)
    last_error = fields.Text('Last Error', readonly=True, copy=False)
    last_sync_at = fields.Datetime('Last Successful Sync', readonly=True, copy=False)
    authorized_at = fields.Datetime('Authorized On', readonly=True, copy=False)
    auth_failure_count = fields.Integer(readonly=True, copy=False,
                                        help='Authorization failures in a row; 3 put the account in auth_invalid.')
    throttled_until = fields.Datetime(readonly=True, copy=False,
                                      help='Graph asked us to wait (Retry-After) until this time.')

    # Secrets: MSAL's serialized token cache (access + refresh tokens). System administrators only.
    token_cache = fields.Text(groups='base.group_system', copy=False)
    home_account_id = fields.Char(groups='base.group_system', copy=False)

    folder_ids = fields.One2many('maildesk.folder', 'account_id', string='Folders')
    fetchmail_server_ids = fields.One2many('fetchmail.server', 'maildesk_account_id', string='Incoming Servers')
    mail_server_ids = fields.One2many('ir.mail_server', 'maildesk_account_id', string='Outgoing Servers')
    message_count = fields.Integer(compute='_compute_message_count', string='Synced Messages')

    _sql_constraints = [
        ('email_user_uniq', 'unique(email, user_id)', 'This user already has a mailbox account for this address.'),
    ]

    def _compute_message_count(self):
        counts = dict(self.env['maildesk.message']._read_group(
            [('account_id', 'in', self.ids)], ['account_id'], ['__count']))
        for account in self:
            account.message_count = counts.get(account, 0)

    @api.onchange('email')
    def _onchange_email(self):
        if self.email and not self.name:
            self.name = self.email
