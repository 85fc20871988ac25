from odoo import _, api, fields, models
from odoo.exceptions import AccessError, ValidationError


class ResConfigSettings(models.TransientModel):
    """Settings > MailDesk: the Entra ID app (client id/secret, tenant, cloud), permissions and sync limits.

    The client secret is write-only: ``maildesk_client_secret`` always opens empty and is saved only when
    filled, so a saved secret never travels back to a browser. These methods are public (JSON-RPC reaches them on an
    empty recordset, without the model's access rights): each checks that the caller is a system administrator.
    """
    _inherit = 'res.config.settings'

    maildesk_client_id = fields.Char('Microsoft Client ID', config_parameter='maildesk.client_id')
    maildesk_client_secret = fields.Char(
        'Microsoft Client Secret', help='Write-only: leave empty to keep the saved secret.')
    maildesk_client_secret_set = fields.Boolean('Client Secret Saved', readonly=True)
    maildesk_tenant = fields.Char(
        'Tenant', config_parameter='maildesk.tenant', default='common',
        help='"common" (work, school and personal accounts), "organizations", "consumers", or your tenant ID or '
             'domain (required for single-tenant app registrations).')
    maildesk_cloud = fields.Selection(
        [('global', 'Global (microsoftonline.com)'), ('usgov', 'US Government'), ('china', 'China (21Vianet)'),
         ('custom', 'Custom endpoints')],
        string='Microsoft Cloud', config_parameter='maildesk.cloud', default='global')
    maildesk_authority_url = fields.Char(
        'Sign-in Authority URL', config_parameter='maildesk.authority_url',
        help='Custom cloud only: e.g. https://login.example.com (the tenant is appended) or a full authority.')
    maildesk_graph_url = fields.Char(
        'Graph URL', config_parameter='maildesk.graph_url',
        help='Custom cloud only: e.g. https://graph.example.com/v1.0')
    maildesk_ca_bundle = fields.Char(
        'CA Bundle', config_parameter='maildesk.ca_bundle',
        help='Optional path to a CA bundle on the server, to trust custom endpoints (e.g. the emulator).')
    maildesk_permission_level = fields.Selection(
        [('read', 'Read only (Mail.Read)'), ('write', 'Read & write back (Mail.ReadWrite)')],
        string='Mailbox Permission', config_parameter='maildesk.permission_level', default='read',
        help='Mail.Send and User.Read are always requested. Changing the level requires authorizing each '
             'account again.')
    maildesk_client_secret_remove = fields.Boolean(
        'Remove the Saved Secret',
        help='Saved with the other settings: every mailbox stops until a new secret is saved.')
    maildesk_redirect_base_url = fields.Char(
        'Redirect Base URL', config_parameter='maildesk.redirect_base_url',
        help='The address of Odoo in the Redirect URI registered in Entra ID. Pinned when the settings are first '
             'saved, so that logging in through another host name (Odoo then rewrites web.base.url) does not '
             'change it.')
    maildesk_redirect_uri = fields.Char('Redirect URI', readonly=True)
    maildesk_redirect_warning = fields.Char(readonly=True)
    maildesk_backfill_months = fields.Integer(
        'Backfill (months)', config_parameter='maildesk.backfill_months', default=0,
        help='How far back MailDesk back-fills older mail in each synchronized folder (0: everything).')
    maildesk_page_size = fields.Integer(
        'Page Size', config_parameter='maildesk.page_size', default=1000,
        help='Messages per Graph delta page (at most 1000).')
    maildesk_body_retention_days = fields.Integer(
        'Keep Bodies (days)', config_parameter='maildesk.body_retention_days', default=30,
        help='Downloaded message bodies older than this are dropped and fetched again when opened (0: keep).')

    maildesk_push_enabled = fields.Boolean(
        'Push (new mail in seconds)', config_parameter='maildesk.push_enabled',
        help='Microsoft Graph change notifications: needs Odoo reachable from the internet over HTTPS (see the '
             'README). Polling continues as the safety net.')
    maildesk_push_url = fields.Char(
        'Public URL', config_parameter='maildesk.push_url',
        help='Optional: the public HTTPS address of this Odoo when it differs from web.base.url.')

    # Issue #20 (engine/health.py, engine/self_service.py, engine/send_queue.py)
    maildesk_health_stall_minutes = fields.Integer(
        'Folder Stalled After (minutes)', config_parameter='maildesk.health_stall_minutes', default=120,
        help='A synchronized folder without a successful sync for this long makes its owner and the MailDesk '
             'managers get an activity.')
    maildesk_client_secret_expires_on = fields.Date(
        'Client Secret Expires On', compute='_compute_maildesk_client_secret_expires_on',
        inverse='_inverse_maildesk_client_secret_expires_on', readonly=False,
        help='The "Expires" date Entra ID shows for the secret: administrators are warned 30, 7 and 1 day(s) before.')
    maildesk_self_service = fields.Boolean(
        'Users Connect Their Own Mailbox', config_parameter='maildesk.self_service',
        help='MailDesk users connect their own Outlook mailbox (account, sign-in, incoming server, folders) '
             'without an administrator.')
    maildesk_personal_sending = fields.Boolean(
        'Chatter Mail From the User\'s Mailbox', config_parameter='maildesk.personal_sending',
        help='Mail a user sends from the chatter of any record goes out through his own MailDesk mailbox (From him, '
             'a copy in his Sent Items); the company server is used when his mailbox cannot send.')
    maildesk_undo_send_seconds = fields.Integer(
        'Undo Send (seconds)', config_parameter='maildesk.undo_send_seconds', default=0,
        help='Send waits this long, during which "Undo" keeps the message as a draft (0: send at once).')

    def _compute_maildesk_client_secret_expires_on(self):
        value = self.env['ir.config_parameter'].sudo().get_param('maildesk.client_secret_expires_on')
        self.maildesk_client_secret_expires_on = fields.Date.to_date(value) if value else False

    def _inverse_maildesk_client_secret_expires_on(self):
        self._maildesk_check_admin()
        for settings in self:
            self.env['ir.config_parameter'].sudo().set_param(
                'maildesk.client_secret_expires_on', fields.Date.to_string(settings.maildesk_client_secret_expires_on)
                if settings.maildesk_client_secret_expires_on else False)

    def get_values(self):
        res = super().get_values()
        if not self._maildesk_is_admin():  # the settings form is administrators'; others learn nothing here
            return res
        ICP = self.env['ir.config_parameter'].sudo()
        pinned = (ICP.get_param('maildesk.redirect_base_url') or '').rstrip('/')
        base_url = (ICP.get_param('web.base.url') or '').rstrip('/')
        res.update(
            maildesk_client_secret_set=bool(ICP.get_param('maildesk.client_secret')),
            maildesk_redirect_uri=self.env['maildesk.account']._oauth_redirect_uri(),
            maildesk_redirect_warning=_(
                'Odoo is now reached as %(base)s (web.base.url), but MailDesk keeps the Redirect URI on %(pinned)s, '
                'the address registered in Entra ID. Change the Redirect Base URL only together with Entra ID.',
                base=base_url, pinned=pinned) if pinned and base_url and pinned != base_url else False,
        )
        return res

    @api.constrains('maildesk_page_size', 'maildesk_backfill_months', 'maildesk_body_retention_days',
                    'maildesk_health_stall_minutes', 'maildesk_undo_send_seconds')
    def _check_maildesk_numbers(self):
        for settings in self:
            if not 1 <= settings.maildesk_page_size <= 1000:
                raise ValidationError(_('The MailDesk page size must be between 1 and 1000.'))
            if settings.maildesk_backfill_months < 0 or settings.maildesk_body_retention_days < 0:
                raise ValidationError(_('MailDesk backfill and retention cannot be negative.'))
            if settings.maildesk_health_stall_minutes < 1 or not 0 <= settings.maildesk_undo_send_seconds <= 60:
                raise ValidationError(_('A folder is stalled after at least 1 minute, and Undo Send lasts 0 to 60 '
                                        'seconds.'))

    def set_values(self):
        self._maildesk_check_admin()  # before core writes any config parameter (MailDesk's included)
        if not (self.maildesk_redirect_base_url or '').strip():  # pin it: see maildesk_redirect_base_url
            self.maildesk_redirect_base_url = self.env['ir.config_parameter'].sudo().get_param('web.base.url')
        super().set_values()
        secret = (self.maildesk_client_secret or '').strip()
        if self.maildesk_client_secret_remove and not secret:
            # a checkbox saved with the rest of the form: a button would be lost behind "save your changes?"
            self.env['ir.config_parameter'].sudo().set_param('maildesk.client_secret', False)
            self.maildesk_client_secret_remove = False
        if secret:
            self.env['ir.config_parameter'].sudo().set_param('maildesk.client_secret', secret)
            # Do not keep the secret in the transient settings row either.
            self.maildesk_client_secret = False

    def action_maildesk_clear_client_secret(self):
        """Remove the saved client secret (every mailbox stops until a new one is saved)."""
        self._maildesk_check_admin()
        self.env['ir.config_parameter'].sudo().set_param('maildesk.client_secret', False)
        return {'type': 'ir.actions.client', 'tag': 'reload'}

    def _maildesk_is_admin(self):
        return self.env.su or self.env.user.has_group('base.group_system')

    def _maildesk_check_admin(self):
        if not self._maildesk_is_admin():
            raise AccessError(_('Only system administrators can change the MailDesk settings.'))
