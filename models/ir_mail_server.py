import base64
import logging
from email.message import Message
from email.utils import formataddr, getaddresses, make_msgid

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from odoo.addons.base.models.ir_mail_server import MailDeliveryException

from ..engine import feedback, large_mime, shared_mailbox
from ..graph.errors import GraphError, RequestTooLarge

_logger = logging.getLogger(__name__)

# Largest MIME message (before base64) that fits in one sendMail request, in MB: without write access (no draft
# may be created) the limit of the mail, for Odoo's "convert attachments to links" threshold.
ONE_REQUEST_EMAIL_MB = round(large_mime.GRAPH_MAX_REQUEST_BYTES * 3 / 4 / 1024 / 1024 * 0.95, 2)
# With write access larger mail goes out through a draft and upload sessions: Exchange Online's own limits apply,
# 35 MB by default, at most 150 MB (Exchange Online limits, learn.microsoft.com/office365/servicedescriptions/
# exchange-online-service-description/exchange-online-limits; learn.microsoft.com/graph/outlook-large-attachments).
EXCHANGE_DEFAULT_SEND_MB = 35
EXCHANGE_MAX_SEND_MB = 150


class MaildeskGraphSession:
    """What ``connect()`` returns for a Graph server: duck-types the SMTP session ``send_email`` expects.

    ``from_filter`` / ``smtp_from`` pin the sender to the mailbox, as Graph only sends as the signed-in mailbox.
    """

    def __init__(self, mail_server, client):
        self.mail_server = mail_server
        self.account = mail_server.maildesk_account_id
        self.client = client
        self.from_filter = self.account.email
        self.smtp_from = self.account.email

    def quit(self):
        """Nothing to close: Graph is stateless HTTP."""

    close = quit  # noqa: A003 -- the SMTP session API Odoo calls (smtplib.SMTP.close)


class IrMailServer(models.Model):
    """Outgoing server type "Outlook / Microsoft 365": Odoo's MIME sent through Graph sendMail."""
    _inherit = 'ir.mail_server'

    smtp_authentication = fields.Selection(selection_add=[('maildesk_graph', 'Outlook / Microsoft 365')],
                                           ondelete={'maildesk_graph': 'set default'})
    maildesk_account_id = fields.Many2one('maildesk.account', 'Mailbox Account', ondelete='set null', index=True)
    maildesk_personal = fields.Boolean(
        'Personal Mailbox Server', readonly=True, copy=False,
        help='Created by MailDesk for the chatter mail of the mailbox\'s owner ("Chatter Mail From the User\'s '
             'Mailbox"): what it sends From his own address is his own mail, shown to him like any other.')
    # Odoo 18's mail servers have no company (they serve the whole database): the mailbox's is shown, and only a
    # system administrator moves a server-bound mailbox to another company (engine/permissions.py).
    maildesk_company_id = fields.Many2one(related='maildesk_account_id.company_id', string='Mailbox Company')

    def _compute_smtp_authentication_info(self):
        graph_servers = self.filtered(lambda server: server.smtp_authentication == 'maildesk_graph')
        graph_servers.smtp_authentication_info = _(
            'Mail goes out through Microsoft Graph (sendMail) with the OAuth authorization of the Mailbox '
            'Account, from its address, and Outlook keeps a copy in Sent Items. No SMTP host or password.')
        super(IrMailServer, self - graph_servers)._compute_smtp_authentication_info()

    @api.constrains('smtp_authentication', 'maildesk_account_id')
    def _check_maildesk_account(self):
        for server in self:
            if server.smtp_authentication == 'maildesk_graph' and not server.maildesk_account_id:
                raise ValidationError(_('Choose the Mailbox Account of the Outlook server "%s".', server.name))

    @api.onchange('smtp_authentication', 'maildesk_account_id')
    def _onchange_maildesk_graph(self):
        if self.smtp_authentication != 'maildesk_graph':
            return
        self.smtp_host = False
        self.smtp_user = False
        self.smtp_pass = False
        self.smtp_encryption = 'none'
        if self.maildesk_account_id:
            self.from_filter = self.maildesk_account_id.email

    @api.onchange('smtp_encryption')
    def _onchange_encryption(self):
        if self.smtp_authentication != 'maildesk_graph':
            return super()._onchange_encryption()

    def _get_max_email_size(self):
        """Graph caps the message size (one request's 4 MB without write access, Exchange Online's limit with it):
        above it, Odoo turns record attachments into links."""
        size = super()._get_max_email_size()
        if len(self) == 1 and self.smtp_authentication == 'maildesk_graph':
            return min(size, self._maildesk_email_size_limit())
        return size

    def _maildesk_email_size_limit(self):
        """MB: Exchange Online's largest mail with write access (drafts + upload sessions), else one request's."""
        if self.env['maildesk.account']._maildesk_settings()['write_back']:
            return EXCHANGE_MAX_SEND_MB
        return ONE_REQUEST_EMAIL_MB

    # ------------------------------------------------------------------ core seams

    def connect(self, host=None, port=None, user=None, password=None, encryption=None, smtp_from=None,
                ssl_certificate=None, ssl_private_key=None, smtp_debug=False, mail_server_id=None,
                allow_archived=False):
        """For a Graph server: a :class:`MaildeskGraphSession` (also in test mode: the emulator is local)."""
        server = self._maildesk_graph_server(mail_server_id, host, smtp_from)
        if server:
            return server._maildesk_session(allow_archived=allow_archived)
        return super().connect(
            host=host, port=port, user=user, password=password, encryption=encryption, smtp_from=smtp_from,
            ssl_certificate=ssl_certificate, ssl_private_key=ssl_private_key, smtp_debug=smtp_debug,
            mail_server_id=mail_server_id, allow_archived=allow_archived)

    @api.model
    def send_email(self, message, mail_server_id=None, smtp_server=None, smtp_port=None, smtp_user=None,
                   smtp_password=None, smtp_encryption=None, smtp_ssl_certificate=None, smtp_ssl_private_key=None,
                   smtp_debug=False, smtp_session=None):
        if not isinstance(message, Message):  # e.g. a JSON-RPC call: nothing to send
            raise UserError(_('send_email() sends an email message built by build_email().'))
        session = smtp_session
        if session is None:
            server = self._maildesk_graph_server(mail_server_id, smtp_server, message['From'])
            session = server._maildesk_session() if server else None
        if isinstance(session, MaildeskGraphSession):
            return self._maildesk_send(message, session)
        return super().send_email(
            message, mail_server_id=mail_server_id, smtp_server=smtp_server, smtp_port=smtp_port,
            smtp_user=smtp_user, smtp_password=smtp_password, smtp_encryption=smtp_encryption,
            smtp_ssl_certificate=smtp_ssl_certificate, smtp_ssl_private_key=smtp_ssl_private_key,
            smtp_debug=smtp_debug, smtp_session=smtp_session)

    def test_smtp_connection(self, autodetect_max_email_size=False):
        graph_servers = self.filtered(lambda server: server.smtp_authentication == 'maildesk_graph')
        for server in graph_servers:
            server._maildesk_test_connection()
            if autodetect_max_email_size:
                server.max_email_size = min(EXCHANGE_DEFAULT_SEND_MB, server._maildesk_email_size_limit())
        if self - graph_servers:
            return super(IrMailServer, self - graph_servers).test_smtp_connection(
                autodetect_max_email_size=autodetect_max_email_size)
        message = _('Connection Test Successful!')
        if autodetect_max_email_size:
            message = _('Email maximum size updated (%(size)s MB: Exchange Online\'s default with the permission '
                        'level "Read & write back", else the Microsoft Graph request limit).',
                        size=', '.join(str(size) for size in graph_servers.mapped('max_email_size')))
        return feedback.notification(message, 'success', next_action=feedback.CLOSE_DIALOG)

    # ------------------------------------------------------------------ Graph

    @api.model
    def _maildesk_graph_server(self, mail_server_id, host, smtp_from):
        """The Graph server ``connect``/``send_email`` would use, mirroring core's choice; else empty."""
        if mail_server_id:
            server = self.sudo().browse(mail_server_id).exists()
        elif not host and self.sudo().search_count([('smtp_authentication', '=', 'maildesk_graph')], limit=1):
            server = self.sudo()._find_mail_server(smtp_from)[0]
        else:
            server = None
        return server if server and server.smtp_authentication == 'maildesk_graph' else self.browse()

    def _maildesk_session(self, allow_archived=False):
        self.ensure_one()
        if not allow_archived and not self.active:
            raise UserError(_('The server "%s" cannot be used because it is archived.', self.display_name))
        account = self.maildesk_account_id
        if not account:
            raise UserError(_('Choose the Mailbox Account of the Outlook server "%s".', self.name))
        return MaildeskGraphSession(self, account.sudo()._graph_client())

    def _maildesk_send(self, message, session):
        """Send Odoo's MIME (Message-Id, References... untouched) with Graph sendMail, from the mailbox.

        :return: the Message-Id, like ``send_email``
        :raises MailDeliveryException: with a readable reason; the mail is never dropped silently
        """
        account = session.account
        session.mail_server._maildesk_check_sender(session)
        bcc = message['Bcc']
        original_from = message['From']
        self._prepare_email_message(message, session)  # validates recipients, removes Bcc
        del message['From']
        message['From'] = _sender(original_from, account)
        on_behalf_of = shared_mailbox.on_behalf_sender(account)
        if on_behalf_of:  # Send on Behalf of a shared mailbox: RFC 5322 Sender is the delegate
            del message['Sender']
            message['Sender'] = formataddr(on_behalf_of)
        if not message['Message-Id']:  # Odoo's build_email always sets one; the sync recognises the copy by it
            message['Message-Id'] = make_msgid(domain=account.email.rpartition('@')[2] or None)
        if bcc:
            message['Bcc'] = bcc  # Graph reads Bcc recipients from the MIME and does not transmit the header
        mime = message.as_bytes()
        large = large_mime.needs_draft(mime)
        if large:
            self._maildesk_check_large_mail(mime)
        session.mail_server._maildesk_note_system_mail(account, message)
        try:
            if large:
                large_mime.send_through_draft(session.client, message)
            else:
                session.client.send_mime(mime)
        except large_mime.StillTooLarge:
            raise MailDeliveryException(_('Mail Delivery Failed'), _(
                'Without its attachments this email is still more than Microsoft Graph accepts in one request (its '
                'text or inline images are too large). Shorten it and send it again.')) from None
        except RequestTooLarge:
            raise MailDeliveryException(_('Mail Delivery Failed'), _(
                'Microsoft Graph refused this email as too large. Remove or shrink attachments and send it '
                'again.')) from None
        except GraphError as exc:
            raise MailDeliveryException(_('Mail Delivery Failed'), shared_mailbox.send_refused_text(
                self.env, account, exc) or feedback.graph_error_text(
                self.env, exc, _('send the email from %(mailbox)s', mailbox=account.email))) from None
        _logger.info('MailDesk: sent %s through Graph for account %s', message['Message-Id'], account.id)
        return message['Message-Id']

    def _maildesk_check_large_mail(self, mime):
        """Mail over Graph's 4 MB request limit goes out through an Outlook draft, which needs write access."""
        if not self.env['maildesk.account']._maildesk_settings()['write_back']:
            raise MailDeliveryException(_('Mail Delivery Failed'), _(
                'This email is %(size)s MB once encoded, more than the %(limit)s MB Microsoft Graph accepts in one '
                'request. Larger mail goes out through an Outlook draft, which needs the MailDesk permission level '
                '"Read & write back" (Settings); or remove or shrink attachments (or send them as links) and send '
                'it again.', size=round(len(base64.b64encode(mime)) / 1024 / 1024, 1),
                limit=large_mime.GRAPH_MAX_REQUEST_BYTES // 1024 // 1024))

    def _maildesk_check_sender(self, session):
        """Send only as the mailbox the administrator bound: the account's sign-in must be its address (and the
        server's From filter, when it is an address), else MailDeliveryException and nothing leaves."""
        self.ensure_one()
        account = session.account
        address = (account.email or '').strip().lower()
        signed_in = (account.signed_in_email or '').strip().lower()
        pinned = (self.from_filter or '').strip().lower()
        try:
            if not signed_in:  # authorized before the identity was kept: ask Graph who the token is for
                account._check_signed_in(session.client.me())
            elif signed_in != address and not shared_mailbox.sends_through_connection(account):
                raise UserError(_('the mailbox account %(mailbox)s is authorized as %(signed_in)s',
                                  mailbox=account.email, signed_in=account.signed_in_email))
            if '@' in pinned and pinned != address:
                raise UserError(_('the server sends from %(pinned)s but its mailbox account is now %(mailbox)s',
                                  pinned=self.from_filter, mailbox=account.email))
        except GraphError as exc:
            raise MailDeliveryException(_('Mail Delivery Failed'), feedback.graph_error_text(
                self.env, exc, _('send the email from %(mailbox)s', mailbox=account.email))) from None
        except UserError as exc:
            reason = exc.args[0]
            raise MailDeliveryException(_('Mail Delivery Failed'), _(
                'Nothing was sent through "%(server)s": %(reason)s. A system administrator must check the server '
                'and its mailbox account (the owner signs in with the address the server sends from).',
                server=self.display_name, reason=reason)) from None

    def _maildesk_note_system_mail(self, account, message):
        """Note the Message-ID as Odoo's own mail before it leaves: the sync hides its Outlook copies from users.

        A personal server's mail From the owner's own address is his chatter mail, not Odoo's: never hidden."""
        from_address = (getaddresses([message['From'] or '']) or [('', '')])[0][1]
        if self.maildesk_personal and from_address.lower() == (account.email or '').lower():
            return
        self.env['maildesk.system.mail'].sudo()._record(account.id, message['Message-Id'])

    def _maildesk_test_connection(self):
        """Test Connection: a token for the account, ``/me`` answers for its address, and Mail.Send is granted."""
        self.ensure_one()
        account = self.maildesk_account_id
        if not account:
            raise UserError(_('Choose the Mailbox Account of the Outlook server "%s".', self.name))
        account = account.sudo()
        account._check_send_granted()
        try:
            session = self._maildesk_session(allow_archived=True)
            me = session.client.me()
        except GraphError as exc:
            raise UserError(feedback.graph_error_text(self.env, exc, _('test sending from the mailbox'))) from None
        account._check_signed_in(me)
        account._check_send_granted()


def _sender(original_from, account):
    """From header: the mailbox's address, named after the account's Sender Name or the original author."""
    name, address = (getaddresses([original_from or '']) or [('', '')])[0]
    if address and address.lower() == account.email.lower():
        return original_from
    return formataddr((account.sender_name or name or '', account.email))
