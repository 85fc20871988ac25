"""Mail from the person: chatter mail a user sends from any Odoo record goes out through his own MailDesk mailbox.

With ``maildesk.personal_sending`` on, a ``mail.mail`` of a user's chatter message (``message_type='comment'``
on a record, the author an internal user owning a MailDesk account that can send) is given his mailbox's outgoing
server (``ir.mail_server`` of type ``maildesk_graph``, created once as MailDesk, visible to administrators):
Odoo's own MIME then leaves through Graph sendMail From his address, Outlook files it in his Sent Items (once:
sendMail saves one copy), and Odoo's Message-ID, References and Reply-To are untouched, so answers come back to
the record through Odoo's mail gateway as before. When his mailbox cannot send (not authorized, Invalid OAuth
Configuration, Error, Mail.Send not granted), the mail goes through the company's server instead and the record
says so in a note. Whatever the route, :mod:`.send_pacing` keeps each mailbox under Exchange's sending limits.
"""
import logging

from markupsafe import Markup

from odoo import tools
from odoo.exceptions import UserError

from . import connection, send_pacing

_logger = logging.getLogger(__name__)

SETTING = 'maildesk.personal_sending'
SENDABLE_STATES = ('authorized', 'connected')


def enabled(env):
    return connection.setting_enabled(env, SETTING)


def prepare(mails):
    """Route the mails of users' chatter messages through their mailboxes, then pace every MailDesk mailbox.

    :return: the mails to send now (the others wait in the queue, see :mod:`.send_pacing`)
    """
    # sudo: Odoo's outgoing mail and mail servers are MailDesk's to read here, whoever triggered the send
    queued = mails.sudo()
    IrMailServer = queued.env['ir.mail_server']
    all_servers = IrMailServer.search([], order='sequence, id')
    if enabled(queued.env):
        for mail in queued:
            all_servers |= _route(mail, all_servers)
    if not any(server.smtp_authentication == 'maildesk_graph' for server in all_servers):
        return mails
    resolved = {mail.id: mail.mail_server_id or IrMailServer._find_mail_server(mail.email_from, all_servers)[0]
                for mail in queued}
    return mails.browse(send_pacing.hold_over_budget(queued, resolved).ids)


def author_account(mail):
    """The MailDesk account the mail's author sends his own mail from (his address first), or an empty recordset."""
    user = mail.author_id.user_ids.filtered(lambda u: not u.share)[:1]
    if not user:
        return mail.env['maildesk.account']
    accounts = mail.env['maildesk.account'].sudo().search([('user_id', '=', user.id)], order='id')
    address = tools.email_normalize(mail.email_from or '') or tools.email_normalize(user.email or '')
    return accounts.filtered(lambda a: tools.email_normalize(a.email) == address)[:1] or accounts[:1]


def cannot_send_reason(account):
    """Why the mailbox cannot send now, as a sentence; None when it can."""
    if account.state not in SENDABLE_STATES:
        return account._check_can_sync() or account.last_error or account.env._(
            'the mailbox is not authorized: click "Authorize Outlook" on it')
    try:
        account._check_send_granted()
    except UserError as exc:
        return str(exc)
    return None


def _route(mail, all_servers):
    """Give ``mail`` its author's mailbox server, or the company's when his mailbox cannot send.

    :return: the server created for it, if any (the caller's list of servers grows)
    """
    message = mail.mail_message_id
    created = mail.env['ir.mail_server']
    if mail.mail_server_id or message.message_type != 'comment' or not (message.model and message.res_id):
        return created
    account = author_account(mail)
    if not account:
        return created
    own = all_servers.filtered(lambda s: s.smtp_authentication == 'maildesk_graph'
                               and s.maildesk_account_id.user_id == account.user_id)
    reason = cannot_send_reason(account)
    if reason:
        # Odoo would pick his mailbox's server by its From filter: the company's server instead
        company, _from = mail.env['ir.mail_server']._find_mail_server(mail.email_from, all_servers - own)
        mail.mail_server_id = company
        _note_fallback(mail, account, reason)
        return created
    server = own.filtered(lambda s: s.maildesk_account_id == account)[:1]
    if not server:
        server = created = ensure_server(account)
    mail.mail_server_id = server
    return created


def ensure_server(account):
    """The outgoing server of a user's mailbox for his chatter mail, created as MailDesk (sudo) when missing."""
    # sudo: mail servers are administrators' records; this one only sends as the account's own address
    server = account.env['ir.mail_server'].sudo().create({
        'name': account.env._('Outlook %(email)s (personal)', email=account.email),
        'smtp_authentication': 'maildesk_graph',
        'maildesk_account_id': account.id,
        'from_filter': account.email,
        'maildesk_personal': True,
        'sequence': 50,
    })
    account.sudo().message_post(body=account.env._(
        'Outgoing mail server "%(server)s" created: chatter mail of %(user)s goes out from this mailbox.',
        server=server.name, user=account.user_id.name))
    return server


def _note_fallback(mail, account, reason):
    message = mail.mail_message_id
    record = mail.env[message.model].browse(message.res_id).exists()
    if not record or not hasattr(record, 'message_post'):
        return
    record.sudo().message_post(
        body=Markup('<p>%s</p>') % mail.env._(
            'Sent from the company mail server, not from %(mailbox)s: %(reason)s', mailbox=account.email,
            reason=reason),
        message_type='notification', subtype_xmlid='mail.mt_note')
    _logger.info('MailDesk: mail %s of account %s falls back to the company server', mail.id, account.id)
