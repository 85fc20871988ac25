from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from ..engine import (
    connection,
    feedback,
    folder_tree,
    health,
    incoming_setup,
    permissions,
    push,
    shared_mailbox,
    sign_in,
    sync_run,
)

ACCOUNT_STATES = [
    ('not_authorized', 'Not authorized'),
    ('authorized', 'Authorized'),
    ('connected', 'Connected'),
    ('auth_invalid', 'Invalid OAuth Configuration'),
    ('error', 'Error'),
]
# Fields only MailDesk itself may write (through _write_status, i.e. sudo): RPC writes of them are refused.
STATUS_FIELDS = frozenset({'state', 'auth_failure_count', 'authorized_at', 'throttled_until', 'signed_in_email',
                           'last_error', 'last_sync_at', 'entra_object_id', 'entra_tenant_id',
                           # a shared mailbox's connection lends another account's tokens: MailDesk sets it after an
                           # access check (engine/shared_mailbox.py), never a user's RPC write
                           'mailbox_kind', 'connection_account_id', 'shared_access_error'})


class MaildeskAccount(models.Model):
    """One Outlook mailbox: its address, who signed in for it, its MSAL token cache and its status.

    Tokens live in fields only ``base.group_system`` can read; the MSAL and token mechanics are in
    ``engine/connection.py`` (models -> engine -> graph -> HTTP). Status fields are written only
    through :meth:`_write_status`, never by a user's RPC write.
    """
    _name = 'maildesk.account'
    _description = 'MailDesk Mailbox Account'
    _inherit = ['mail.thread', 'mail.activity.mixin', 'maildesk.bus.mixin']
    # what the folder pane shows of an account: open inboxes follow it live
    # not last_sync_at: every sync cycle moves it, and open inboxes would reload for it every time
    # (engine/sync_run.py tells them at most every LAST_SYNC_NOTICE_EVERY seconds; the time shown ticks on its own)
    _maildesk_bus_fields = ('state', 'last_error', 'name', 'active')
    _order = 'name, id'
    _check_company_auto = True

    name = fields.Char('Account Name', required=True, tracking=True,
                       help="Internal name, shown in MailDesk's folder tree.")
    active = fields.Boolean(default=True)
    account_type = fields.Selection([('outlook', 'Outlook')], string='Type', required=True, default='outlook')
    # The mailbox read and sent from; signed_in_email is who authorized it (the same address for a personal
    # mailbox, the only kind today). Set at sign-in, cleared with the tokens.
    email = fields.Char('Email Address', required=True, tracking=True)
    signed_in_email = fields.Char('Signed In As', readonly=True, copy=False,
                                  help='The Microsoft account that authorized this mailbox.')
    sender_name = fields.Char(help='Display name used on mail sent from this mailbox.')
    signature = fields.Html(sanitize=True)
    user_id = fields.Many2one('res.users', 'Owner', required=True, index=True, tracking=True, check_company=True,
                              default=lambda self: self.env.user)
    is_shared = fields.Boolean('Shared', tracking=True)
    shared_user_ids = fields.Many2many('res.users', 'maildesk_account_shared_user_rel', 'account_id', 'user_id',
                                       string='Shared With', check_company=True)
    send_user_ids = fields.Many2many('res.users', 'maildesk_account_send_user_rel', 'account_id', 'user_id',
                                     string='May Send', check_company=True,
                                     help='Users it is shared with who may also send from it.')
    can_manage = fields.Boolean(compute='_compute_permissions')  # owner or MailDesk manager
    address_locked = fields.Boolean(compute='_compute_permissions')  # server-bound: address/owner for admins only
    # Multi-company: the account's folders, messages and drafts carry its company (stored related); the global
    # rules of security/maildesk_security.xml keep each company's mailboxes to its users.
    company_id = fields.Many2one('res.company', index=True, default=lambda self: self.env.company)

    state = fields.Selection(ACCOUNT_STATES, string='Status', required=True, default='not_authorized',
                             readonly=True, copy=False, tracking=True)
    last_error = fields.Text(readonly=True, copy=False)
    last_sync_at = fields.Datetime('Last Successful Sync', readonly=True, copy=False)
    authorized_at = fields.Datetime('Authorized On', readonly=True, copy=False)
    auth_failure_count = fields.Integer(readonly=True, copy=False,
                                        help='Authorization failures in a row; 3 put the account in auth_invalid.')
    throttled_until = fields.Datetime(readonly=True, copy=False,
                                      help='Graph asked us to wait (Retry-After) until this time.')
    sync_blocked_reason = fields.Char('Sync Blocked', compute='_compute_sync_blocked_reason',
                                      help='Why MailDesk does not synchronize this mailbox right now.')
    is_oauth_configured = fields.Boolean(compute='_compute_is_oauth_configured')
    push_status = fields.Char('New Mail', compute='_compute_push_status',
                              help='"Push active": new mail arrives within seconds; "Polling": every few minutes.')

    # Secrets: MSAL's serialized token cache (access + refresh tokens), encrypted with the token key (not in the
    # database, see engine/token_key.py). System administrators only.
    token_cache = fields.Text(groups='base.group_system', copy=False)
    home_account_id = fields.Char(groups='base.group_system', copy=False)
    # The Entra identity (object id + tenant id) of the first authorization: another one is refused, even with the
    # same address. Kept by Disconnect; a manager forgets it (action_forget_identity).
    entra_object_id = fields.Char('Microsoft Object ID', readonly=True, copy=False,
                                  groups='maildesk.group_maildesk_manager')
    entra_tenant_id = fields.Char('Microsoft Tenant ID', readonly=True, copy=False,
                                  groups='maildesk.group_maildesk_manager')

    # Shared / delegated mailboxes (engine/shared_mailbox.py): reached with the connecting personal account's
    # tokens at /users/{email}; tokens are never copied.
    mailbox_kind = fields.Selection([('personal', 'Own mailbox'), ('shared', 'Shared / delegated mailbox')],
                                    required=True, default='personal', readonly=True,
                                    copy=False)
    connection_account_id = fields.Many2one('maildesk.account', 'Connected Through', readonly=True, copy=False,
                                            ondelete='set null', index='btree_not_null',
                                            domain=[('mailbox_kind', '=', 'personal')],
                                            help='The personal account whose Microsoft sign-in opens this mailbox.')
    dependent_account_ids = fields.One2many('maildesk.account', 'connection_account_id', string='Shared Mailboxes')
    send_mode = fields.Selection([('send_as', 'Send As'), ('send_on_behalf', 'Send on Behalf')], default='send_as',
                                 required=True, help='Send As: mail comes from the shared address. Send on Behalf: '
                                 'from the shared address, "on behalf of" the connecting user. Exchange must grant '
                                 'the same permission.')
    shared_access_error = fields.Text(readonly=True, copy=False,
                                      help='Why the shared mailbox stopped: its access ended.')

    folder_ids = fields.One2many('maildesk.folder', 'account_id', string='Folders')
    # Mail servers are administrators' records (system-only ACLs): so are these lists.
    fetchmail_server_ids = fields.One2many('fetchmail.server', 'maildesk_account_id', string='Incoming Servers',
                                           groups='base.group_system')
    mail_server_ids = fields.One2many('ir.mail_server', 'maildesk_account_id', string='Outgoing Servers',
                                      groups='base.group_system')
    message_count = fields.Integer(compute='_compute_message_count', string='Synced Messages')
    incoming_server_count = fields.Integer(compute='_compute_server_counts', groups='base.group_system')
    outgoing_server_count = fields.Integer(compute='_compute_server_counts', groups='base.group_system')

    _sql_constraints = [
        ('email_user_uniq', 'unique(email, user_id)', 'This user already has a mailbox account for this address.'),
    ]

    def _compute_message_count(self):
        counts = dict(self.env['maildesk.message']._read_group(
            [('account_id', 'in', self.ids)], ['account_id'], ['__count']))
        for account in self:
            account.message_count = counts.get(account, 0)

    def _compute_server_counts(self):
        for account in self:
            account.incoming_server_count = len(account.fetchmail_server_ids)
            account.outgoing_server_count = len(account.mail_server_ids)

    def _compute_push_status(self):
        statuses = push.account_status(self.env, self)
        for account in self:
            account.push_status = statuses.get(account.id, '')

    def _compute_sync_blocked_reason(self):
        for account in self:
            account.sync_blocked_reason = account._check_can_sync() if account.id else False

    @api.depends('user_id')
    @api.depends_context('uid')
    def _compute_permissions(self):
        permissions.compute_account_permissions(self)

    def _compute_is_oauth_configured(self):
        self.is_oauth_configured = connection.oauth_configured(self.env)

    @api.onchange('email')
    def _onchange_email(self):
        if self.email and not self.name:
            self.name = self.email

    # ------------------------------------------------------------------ CRUD guards

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            for vals in vals_list:
                permissions.check_status_fields(self.env, vals, STATUS_FIELDS)
        for vals in vals_list:
            if vals.get('email'):
                vals['email'] = vals['email'].strip()
        accounts = super().create(vals_list)
        permissions.normalize_sharing(accounts, {key for vals in vals_list for key in vals})
        return accounts

    def write(self, vals):
        if not self.env.su:
            permissions.check_status_fields(self.env, vals, STATUS_FIELDS)
            permissions.check_account_write(self, vals)
            shared_mailbox.check_address_change(self, vals)
        if 'email' in vals and any(account.state != 'not_authorized' for account in self):
            # The tokens belong to the mailbox that signed in: another address needs another sign-in.
            vals = dict(vals, email=(vals['email'] or '').strip())
            changed = self.filtered(lambda account: account.email != vals['email'])
            if changed:
                changed._forget_tokens()
        result = super().write(vals)
        permissions.normalize_sharing(self, vals)
        return result

    def unlink(self):
        permissions.check_account_unlink(self)
        push.drop_subscriptions(self)
        # Tokens go with the row; servers bound to the account stop being usable.
        self.sudo().fetchmail_server_ids.filtered(lambda server: server.state == 'done').set_draft()
        return super().unlink()

    def _write_status(self, vals):
        """Write status fields (state, failure count, throttling...) as MailDesk, bypassing the RPC guard.

        Call it only after the caller's access to ``self`` was established (a search or browse under rules).
        """
        result = self.sudo().write(vals)
        health.status_written(self, vals)  # a broken mailbox speaks up, a recovered one closes its activity
        return result

    # ------------------------------------------------------------------ settings

    @api.model
    def _maildesk_settings(self):
        """MailDesk's OAuth and Graph settings (system parameters), without the client secret.

        :return: dict with ``client_id, tenant, cloud, authority, graph_url, permission_level, write_back,
            ca_bundle, verify, scopes, page_size, backfill_months, body_retention_days``
        """
        return connection.maildesk_settings(self.env)

    # ------------------------------------------------------------------ status

    def _check_can_sync(self):
        """Why this account must not be synchronized now, as a sentence for the user; None when it may."""
        self.ensure_one()
        if not connection.oauth_configured(self.env):
            return connection.not_configured_text(self.env)
        if shared_mailbox.is_shared(self) and shared_mailbox.blocked_reason(self):
            return shared_mailbox.blocked_reason(self)
        if self.state == 'not_authorized':
            return _('Not authorized yet: click "Authorize Outlook" and sign in to %(email)s.', email=self.email)
        if self.state == 'auth_invalid':
            return feedback.suspended_text(self.env)
        if not self._confirmed_incoming_servers():
            return incoming_setup.hint(self)
        if self.throttled_until and self.throttled_until > fields.Datetime.now():
            return _('Microsoft Graph asked MailDesk to slow down: sync resumes after %(when)s (UTC).',
                     when=fields.Datetime.to_string(self.throttled_until))
        return None

    def _confirmed_incoming_servers(self):
        # one search, no server fields read: every sync run asks (sudo: servers are the administrators' records)
        return self.env['fetchmail.server'].sudo().search([
            ('maildesk_account_id', 'in', self.ids), ('server_type', '=', 'maildesk_graph'), ('state', '=', 'done')])

    def _update_connection_state(self):
        """Authorized <-> Connected: connected once an incoming server is confirmed and folders are chosen."""
        for account in self:
            if account.state not in ('authorized', 'connected'):
                continue
            connected = bool(account._confirmed_incoming_servers()
                             and account.sudo().folder_ids.filtered('sync_enabled'))
            target = 'connected' if connected else 'authorized'
            if account.state != target:
                account._write_status({'state': target})

    def _set_error(self, message):
        """Put the account in Error with a user-readable message (background failures that are not auth)."""
        for account in self:
            if account.state in ('authorized', 'connected', 'error'):
                account._write_status({'state': 'error', 'last_error': message})
            else:
                account._write_status({'last_error': message})

    def _clear_error(self):
        """Leave Error after a success: back to Authorized / Connected, last error cleared."""
        errored = self.filtered(lambda account: account.state == 'error')
        errored._write_status({'state': 'authorized', 'last_error': False})
        errored._update_connection_state()
        (self - errored).filtered('last_error')._write_status({'last_error': False})

    def _set_throttled(self, retry_after_seconds):
        """Graph asked to wait: background jobs skip the account until then (see :meth:`_check_can_sync`)."""
        seconds = max(1.0, float(retry_after_seconds or 0))
        self._write_status({'throttled_until': fields.Datetime.now() + timedelta(seconds=seconds)})

    def _record_auth_success(self):
        """A token was obtained: the failure streak ends (:func:`engine.sign_in.record_success`)."""
        sign_in.record_success(self)

    def _record_auth_failure(self, exc):
        """Count an authorization failure; suspended at the limit (:func:`engine.sign_in.record_failure`)."""
        sign_in.record_failure(self, exc)

    # ------------------------------------------------------------------ tokens and Graph

    def _graph_client(self, **kwargs):
        """A :class:`GraphClient` for this mailbox whose tokens come from the account's MSAL cache.

        The token provider persists MSAL's cache (rotated refresh token) whenever it changed, counts
        authorization failures, and raises :class:`AuthInvalid` at once, without any token request, when the
        account is auth_invalid or not authorized. Extra keyword arguments go to :class:`GraphClient`.
        """
        self.ensure_one()
        if shared_mailbox.is_shared(self):
            return shared_mailbox.graph_client(self, **kwargs)  # the connecting account's tokens
        kwargs.setdefault('mailbox', self._graph_mailbox())
        return connection.graph_client(self, **kwargs)

    def _graph_mailbox(self):
        """The ``mailbox`` of :class:`GraphClient`: None (``/me``) when the mailbox is the signed-in user's own,
        which every account is today; else the mailbox address (``/users/{address}``)."""
        self.ensure_one()
        own = (self.email or '').strip().lower()
        return None if (self.signed_in_email or '').strip().lower() in ('', own) else self.email

    def _granted_scopes(self):
        """Scopes Microsoft granted with the latest access token (the token response's ``scope``)."""
        self.ensure_one()
        return connection.granted_scopes(shared_mailbox.token_account(self))

    def _check_send_granted(self):
        """Raise a UserError when the latest grant lacks Mail.Send (no token, nothing to say yet)."""
        if shared_mailbox.is_shared(self):
            return shared_mailbox.check_send_granted(self)
        scopes = {scope.rsplit('/', 1)[-1].lower() for scope in self._granted_scopes()}
        if scopes and 'mail.send' not in scopes:
            raise UserError(_('The Mail.Send permission was not granted for %(mailbox)s: add it to the app '
                              'registration (API permissions > Microsoft Graph > Delegated > Mail.Send), then '
                              'click "Authorize Outlook" on the account again.', mailbox=self.email))

    def _forget_tokens(self):
        connection.forget_tokens(self)
        self._write_status({'state': 'not_authorized', 'auth_failure_count': 0, 'authorized_at': False,
                            'throttled_until': False, 'signed_in_email': False})

    # ------------------------------------------------------------------ authorization (auth-code flow)

    def action_authorize(self):
        """Authorize Outlook: start Microsoft sign-in through the controller (it keeps the flow in the session)."""
        self.ensure_one()
        self._check_can_authorize()
        if shared_mailbox.is_shared(self):
            raise UserError(_('A shared mailbox cannot sign in: it is opened through %(connection)s. Authorize that '
                              'account, or click "Take Over Connection".',
                              connection=self.sudo().connection_account_id.display_name or '-'))
        if not connection.oauth_configured(self.env):
            raise UserError(connection.not_configured_text(self.env))
        return {
            'type': 'ir.actions.act_url',
            'url': '/maildesk/oauth/start?account_id=%d' % self.id,
            'target': 'self',
        }

    def action_disconnect(self):
        """Forget the tokens; incoming servers of the account go back to Not Confirmed."""
        self._check_can_authorize()
        incoming_setup.reset_for_disconnect(self)
        push.drop_subscriptions(self)
        self._forget_tokens()
        self._write_status({'last_error': False})
        for account in self:
            account.message_post(body=_('Disconnected: the tokens of this mailbox were removed.'))
        return True

    def action_forget_identity(self):
        """Manager only: Disconnect and forget the pinned Entra identity; the next authorization pins anew."""
        if not (self.env.su or self.env.user.has_group('maildesk.group_maildesk_manager')):
            raise AccessError(_('Only a MailDesk manager can forget the Microsoft identity of a mailbox.'))
        self.action_disconnect()
        self._write_status({'entra_object_id': False, 'entra_tenant_id': False})
        for account in self:
            account.message_post(body=_('Microsoft identity forgotten by %(user)s: the next authorization ties the '
                                        'mailbox to the Microsoft account that signs in.', user=self.env.user.name))
        return True

    def _check_can_authorize(self):
        """Only the owner (or a MailDesk manager) binds Microsoft credentials to an account."""
        permissions.check_can_authorize(self)

    @api.model
    def _oauth_redirect_uri(self):
        """The Redirect URI registered in Entra ID, pinned in Settings (:func:`engine.sign_in.redirect_uri`)."""
        return sign_in.redirect_uri(self.env)

    def _start_authorization(self):
        """Start Microsoft sign-in: the flow to keep in the session (:func:`engine.sign_in.start`)."""
        return sign_in.start(self)

    @api.model
    def _account_from_oauth_state(self, state):
        """The account a callback's ``state`` was signed for by the current user, else an empty recordset."""
        return sign_in.account_from_state(self, state)

    def _finish_authorization(self, flow, params):
        """Redeem the callback, check who signed in, store the tokens (:func:`engine.sign_in.finish`).

        :raises UserError: with the reason shown to the user
        """
        sign_in.finish(self, flow, params)

    def _check_signed_in(self, me, username=None):
        """Refuse tokens of another Microsoft user: the one check of sign-in, incoming server Test & Confirm and
        outgoing server Test Connection (:func:`engine.connection.check_signed_in`: the signed-in address, then
        the pinned Entra object).

        :param dict me: Graph ``/me`` (``id``, ``mail``, ``userPrincipalName``)
        :param username: the id_token's name, at sign-in
        :return: the matching name, as Microsoft spells it
        :raises UserError: naming who signed in and who was expected
        """
        self.ensure_one()
        return connection.check_signed_in(shared_mailbox.token_account(self), me, username)

    # ------------------------------------------------------------------ sync and compose (engine entry points)

    def action_fetch_folders(self):
        """Fetch Folders: make the account's folder tree equal to Outlook's (all levels, hidden left out)."""
        self.ensure_one()
        self.check_access('write')
        if self.state in ('not_authorized', 'auth_invalid'):
            raise UserError(_('Authorize the mailbox first: click "Authorize Outlook".'))
        created, updated, removed = folder_tree.fetch_folders(self)
        message = _('%(count)d folders: %(created)d new, %(updated)d updated, %(removed)d removed.',
                    count=len(self.folder_ids), created=created, updated=updated, removed=removed)
        return feedback.notification(message, 'success', title=_('Folders fetched'), next_action=feedback.SOFT_RELOAD)

    def action_sync_now(self):
        """Sync now (whoever reads the mailbox): one round in the foreground (changes, newest pages, backfill)."""
        self.ensure_one()
        self.check_access('read')
        reason = self._check_can_sync()
        if reason and self.state == 'auth_invalid':
            # the Sync button's answer while suspended: a notification, the same words as the account's status
            return feedback.notification(reason, 'warning', title=_('Sync suspended'), sticky=True)
        if reason:
            raise UserError(reason)
        if not self.folder_ids.filtered('sync_enabled'):
            raise UserError(_('No folder is selected for sync: click "Fetch Folders", then tick the folders to '
                              'synchronize in the Folders tab.'))
        run = self._sync_round()
        title, message, kind = run.summary(self.env)
        if self.id in run.auth_failures and self.last_error:
            message = '%s\n%s' % (message, self.last_error)  # the toast says what the account's status says
        return feedback.notification(message, kind, title=title, next_action=feedback.SOFT_RELOAD)

    def _sync_round(self, budget=sync_run.SYNC_NOW_BUDGET):
        """One sync round of these accounts (Sync now, Fetch Now on a Graph incoming server): a finished
        :class:`engine.sync_run.SyncRun`."""
        return sync_run.sync_round(self, budget)

    @api.model
    def _cron_sync_changes(self):
        return sync_run.cron_sync_changes(self.env)

    @api.model
    def _cron_backfill(self):
        return sync_run.cron_backfill(self.env)

    @api.model
    def _cron_health(self):
        return health.cron_check(self.env)

    def action_compose(self):
        """New message from this mailbox."""
        self.ensure_one()
        return self.env['maildesk.draft']._open_composer(self)

    # ------------------------------------------------------------------ smart buttons

    def action_open_inbox(self):
        """Smart button: this mailbox in the inbox."""
        self.ensure_one()
        self.check_access('read')
        return {'type': 'ir.actions.client', 'tag': 'maildesk.inbox', 'name': _('Inbox'),
                'params': {'account_id': self.id}}

    def action_set_up_incoming_server(self):
        """Create and Test & Confirm the account's Outlook incoming server (administrators; others: whom to ask)."""
        self.ensure_one()
        self.check_access('read')
        return incoming_setup.set_up(self)

    def action_open_incoming_servers(self):
        self.ensure_one()
        return self._server_action('fetchmail.server', _('Incoming Mail Servers'), self.fetchmail_server_ids, {
            'default_server_type': 'maildesk_graph', 'default_maildesk_account_id': self.id,
            'default_name': self.name})

    def action_open_outgoing_servers(self):
        self.ensure_one()
        return self._server_action('ir.mail_server', _('Outgoing Mail Servers'), self.mail_server_ids, {
            'default_smtp_authentication': 'maildesk_graph', 'default_maildesk_account_id': self.id,
            'default_name': self.name, 'default_from_filter': self.email,
            # the limit Outlook applies, not a "0.00 MB" that means "the default"
            'default_max_email_size': self.env['ir.mail_server']._maildesk_email_size_limit()})

    def _server_action(self, model, name, servers, context):
        action = {'type': 'ir.actions.act_window', 'name': name, 'res_model': model, 'context': context,
                  'domain': [('maildesk_account_id', '=', self.id)]}
        if len(servers) == 1:
            return dict(action, view_mode='form', views=[(False, 'form')], res_id=servers.id)
        return dict(action, view_mode='list,form', views=[(False, 'list'), (False, 'form')])

    # ------------------------------------------------------------------ incoming servers

    def _record_synced(self):
        """A sync of these accounts succeeded now: their Last Successful Sync and the Last Fetch Date of their
        confirmed incoming servers move."""
        # Plain UPDATEs, not the ORM's write: every sync cycle moves these display dates, which nothing depends on
        # (no tracking, no cron to reschedule, no compute; open inboxes are told of it now and then, see
        # engine.sync_run._notice_last_sync); the cache is told.
        now = fields.Datetime.now()
        self.env.cr.execute('UPDATE maildesk_account SET last_sync_at = %s WHERE id = ANY(%s)', [now, self.ids])
        self.invalidate_recordset(['last_sync_at'])
        servers = self._confirmed_incoming_servers()
        if servers:
            self.env.cr.execute('UPDATE fetchmail_server SET date = %s WHERE id = ANY(%s)', [now, servers.ids])
            servers.invalidate_recordset(['date'])

    # ------------------------------------------------------------------ shared mailboxes (engine/shared_mailbox.py)

    def action_add_shared_mailbox(self):
        """Add shared mailbox: the wizard, from this (authorized, personal) account."""
        self.ensure_one()
        shared_mailbox.check_can_connect(self)
        return {'type': 'ir.actions.act_window', 'res_model': 'maildesk.shared.mailbox.wizard', 'view_mode': 'form',
                'target': 'new', 'name': _('Add Shared Mailbox'),
                'context': {'default_connection_account_id': self.id, 'default_mode': 'add'}}

    def action_check_shared_access(self):
        """Check Access: the connection opens the shared mailbox again; a stopped mailbox resumes."""
        self.ensure_one()
        shared_mailbox.reconnect(self)
        return feedback.notification(_('MailDesk can open %(address)s again.', address=self.email), 'success',
                                     next_action=feedback.SOFT_RELOAD)

    def action_take_over_connection(self):
        """Take Over Connection: the wizard, to connect one's own authorized account instead."""
        self.ensure_one()
        self.check_access('read')
        return {'type': 'ir.actions.act_window', 'res_model': 'maildesk.shared.mailbox.wizard', 'view_mode': 'form',
                'target': 'new', 'name': _('Take Over Connection'),
                'context': {'default_shared_account_id': self.id, 'default_mode': 'take_over'}}
