import logging

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..engine import feedback, gateway
from ..graph.errors import GraphError

_logger = logging.getLogger(__name__)


class FetchmailServer(models.Model):
    """Incoming server type "Outlook OAuth / Microsoft Graph", bound to a MailDesk account.

    Such a server never speaks IMAP/POP: Test & Confirm checks Graph with the account's token, and
    fetching runs the account's MailDesk sync. The standard mail-gateway cron leaves these servers to
    MailDesk's own crons (see :meth:`_fetch_mails`). With "Route to Odoo Records", Inbox mail received since the
    server was confirmed goes through Odoo's mail gateway with the server's own options (Create a New Record,
    Keep Attachments, Keep Original), see :mod:`engine.gateway`.
    """
    _inherit = 'fetchmail.server'

    server_type = fields.Selection(selection_add=[('maildesk_graph', 'Outlook OAuth / Microsoft Graph')],
                                   ondelete={'maildesk_graph': 'set default'})
    maildesk_account_id = fields.Many2one('maildesk.account', 'Mailbox Account', ondelete='set null', index=True)
    # Odoo 18's mail servers have no company (they serve the whole database): the mailbox's is shown, and only a
    # system administrator moves a server-bound mailbox to another company (engine/permissions.py).
    maildesk_company_id = fields.Many2one(related='maildesk_account_id.company_id', string='Mailbox Company')

    maildesk_route_mail = fields.Boolean(
        'Route to Odoo Records',
        help='Send the mail arriving in the Inbox through Odoo\'s mail gateway, as an IMAP server does: aliases, '
             'replies to records and "Create a New Record" decide where each message goes.')
    maildesk_route_since = fields.Datetime(
        'Routing Since', readonly=True, copy=False,
        help='Inbox mail received from this moment on is routed (set when the server is confirmed).')
    maildesk_route_history_since = fields.Date(
        'Route History Since', copy=False,
        help='Also route older Inbox mail received since this date (progressively, as it is synchronized).')
    maildesk_route_count = fields.Integer('Routed Messages', compute='_compute_maildesk_route_count')
    maildesk_reconfirm = fields.Boolean(
        'Confirm Again at Sign-in', copy=False, readonly=True,
        help='Disconnect put this server back to Not Confirmed: the next sign-in of its mailbox confirms it again.')

    @api.depends('server_type')
    def _compute_server_type_info(self):
        graph_servers = self.filtered(lambda server: server.server_type == 'maildesk_graph')
        graph_servers.server_type_info = _(
            'MailDesk reads this mailbox through Microsoft Graph with the OAuth authorization of its Mailbox '
            'Account (no password, no IMAP). Authorize the account first, then click "Test & Confirm".')
        super(FetchmailServer, self - graph_servers)._compute_server_type_info()

    def _compute_maildesk_route_count(self):
        counts = dict(self.env['maildesk.route'].sudo()._read_group(
            [('server_id', 'in', self.ids), ('state', '=', 'routed')], ['server_id'], ['__count']))
        for server in self:
            server.maildesk_route_count = counts.get(server, 0)

    @api.constrains('server_type', 'maildesk_account_id')
    def _check_maildesk_account(self):
        for server in self:
            if server.server_type == 'maildesk_graph' and not server.maildesk_account_id:
                raise ValidationError(_('Choose the Mailbox Account of the Outlook server "%s".', server.name))

    @api.onchange('server_type', 'is_ssl', 'object_id')
    def onchange_server_type(self):
        if self.server_type != 'maildesk_graph':
            return super().onchange_server_type()
        self.port = 0
        self.is_ssl = True
        self.server = False
        self.password = False
        self.configuration = False

    @api.onchange('maildesk_account_id')
    def _onchange_maildesk_account_id(self):
        if self.server_type == 'maildesk_graph' and self.maildesk_account_id:
            self.user = self.maildesk_account_id.email
            if not self.name:
                self.name = self.maildesk_account_id.name

    @api.onchange('object_id')
    def _onchange_object_id_route(self):
        if self.server_type == 'maildesk_graph' and self.object_id:
            self.maildesk_route_mail = True

    def write(self, vals):
        accounts = self.maildesk_account_id
        if vals.get('state') == 'done':
            vals = dict(vals, maildesk_reconfirm=False)  # confirmed: nothing left for the next sign-in to do
        res = super().write(vals)
        if vals.get('state') == 'done' or vals.get('maildesk_route_mail'):
            # the routing watermark: what arrives from now on (history only when asked for)
            self.filtered(lambda server: server.server_type == 'maildesk_graph' and server.state == 'done'
                          and not server.maildesk_route_since).with_context(fetchmail_cron_running=True).write(
                {'maildesk_route_since': fields.Datetime.now()})
        if {'state', 'active', 'maildesk_account_id', 'server_type'} & set(vals):
            (accounts | self.maildesk_account_id)._update_connection_state()
        return res

    def unlink(self):
        accounts = self.maildesk_account_id
        res = super().unlink()
        accounts.exists()._update_connection_state()
        return res

    # ------------------------------------------------------------------ core seams

    def connect(self, allow_archived=False):
        """For a Graph server: a :class:`GraphClient` for its account (no IMAP/POP connection)."""
        self.ensure_one()
        if self.server_type != 'maildesk_graph':
            return super().connect(allow_archived=allow_archived)
        if not allow_archived and not self.active:
            raise UserError(_('The server "%s" cannot be used because it is archived.', self.display_name))
        return self.maildesk_account_id._graph_client()

    def button_confirm_login(self):
        graph_servers = self.filtered(lambda server: server.server_type == 'maildesk_graph')
        for server in graph_servers:
            server._maildesk_test_and_confirm()
        return super(FetchmailServer, self - graph_servers).button_confirm_login()

    def fetch_mail(self, raise_exception=True):
        graph_servers = self.filtered(lambda server: server.server_type == 'maildesk_graph')
        if not self.env.context.get('maildesk_skip_graph_servers'):
            for server in graph_servers:
                server._maildesk_fetch(raise_exception)
        return super(FetchmailServer, self - graph_servers).fetch_mail(raise_exception=raise_exception)

    @api.model
    def _fetch_mails(self):
        """Mail-gateway cron: Graph servers are synchronized by MailDesk's cron, not here."""
        return super(FetchmailServer, self.with_context(maildesk_skip_graph_servers=True))._fetch_mails()

    # ------------------------------------------------------------------ Graph

    def _maildesk_test_and_confirm(self):
        """Test & Confirm: ``/me`` and the Inbox with the account's token, then Confirmed; else the reason."""
        self.ensure_one()
        account = self.maildesk_account_id
        if not account:
            raise UserError(_('Choose the Mailbox Account of the Outlook server "%s".', self.name))
        if account.state in ('not_authorized', 'auth_invalid'):
            raise UserError(_('The mailbox account "%(account)s" is not authorized: open it and click '
                              '"Authorize Outlook" first.', account=account.name))
        try:
            client = self.connect(allow_archived=True)
            me = client.me()
            client.get_folder('inbox')
        except GraphError as exc:
            raise UserError(_('The server stays Not Confirmed: %(reason)s', reason=feedback.graph_error_text(
                self.env, exc, _('read the mailbox and its Inbox')))) from None
        account._check_signed_in(me)
        self.write({'state': 'done', 'user': account.email})

    def _maildesk_fetch(self, raise_exception=True):
        """Fetch Now on a Graph server: one MailDesk sync round of its account (which moves Last Fetch Date)."""
        self.ensure_one()
        account = self.maildesk_account_id
        reason = account._check_can_sync() if account else _('No mailbox account on this server.')
        if reason or self.state != 'done':
            reason = reason or _('The server is not confirmed.')
            if raise_exception:
                raise UserError(reason)
            _logger.info('MailDesk: not fetching server %s: %s', self.name, reason)
            return
        account._sync_round()
        gateway.route_server(self)

    def action_open_maildesk_routes(self):
        """Smart button: the messages this server routed, skipped or could not route."""
        self.ensure_one()
        return {'type': 'ir.actions.act_window', 'name': _('Routed Mail'), 'res_model': 'maildesk.route',
                'view_mode': 'list,form', 'domain': [('server_id', '=', self.id)], 'context': {'create': False}}

    @api.model
    def _cron_maildesk_gateway(self):
        return gateway.cron_route(self.env)
