"""Self-service connect: a MailDesk user connects his own Outlook mailbox, without an administrator.

With ``maildesk.self_service`` on (Settings > MailDesk), :func:`start` creates (or reuses) the user's account under
his own rights, creates its incoming server of type "Outlook OAuth / Microsoft Graph" as MailDesk (``sudo``: mail
servers are administrators' records, and this is the only place a user's action creates one) and sends him to
Microsoft's sign-in. Once he signed in, :func:`after_authorization` confirms that server (the same Test & Confirm
an administrator clicks: ``/me`` and the Inbox with the new token, identity checked) and selects Inbox and Sent
Items, so the mailbox is Connected in one flow. The server stays an ordinary record administrators see under
Settings > Technical > Incoming Mail Servers and may remove (the account then goes back to Authorized).
"""
import logging

from odoo.exceptions import AccessError, UserError

from . import connection

_logger = logging.getLogger(__name__)

SETTING = 'maildesk.self_service'
DEFAULT_FOLDERS = ('inbox', 'sentitems')


def enabled(env):
    return connection.setting_enabled(env, SETTING)


def check_allowed(env):
    """Raise unless the current user may connect a mailbox of his own without an administrator."""
    if not env.user.has_group('maildesk.group_maildesk_user'):
        raise AccessError(env._('Only MailDesk users can connect a mailbox.'))
    if not (enabled(env) or env.user.has_group('maildesk.group_maildesk_manager')):
        raise UserError(env._('Connecting your own mailbox is not enabled: ask your MailDesk administrator to '
                              'enable "Users Connect Their Own Mailbox" in Settings > MailDesk, or to set up the '
                              'mailbox for you.'))


def start(env, email, sender_name=None):
    """The user's account for ``email`` (created under his rights if new), its self-service incoming server, and
    the action that starts Microsoft sign-in.

    :return: ``(account, action)``
    """
    check_allowed(env)
    email = (email or '').strip()
    if not email or '@' not in email:
        raise UserError(env._('Enter the address of your Outlook mailbox, e.g. name@company.com.'))
    Account = env['maildesk.account']
    account = Account.search([('user_id', '=', env.uid), ('email', '=ilike', email)], limit=1)
    if not account:
        account = Account.create({'name': email, 'email': email, 'user_id': env.uid,
                                  'sender_name': sender_name or env.user.name})
    ensure_incoming_server(account)
    return account, account.action_authorize()


def ensure_incoming_server(account):
    """The account's Graph incoming server, created as MailDesk when it has none (not confirmed yet)."""
    servers = account.sudo().fetchmail_server_ids.filtered(lambda server: server.server_type == 'maildesk_graph')
    if servers:
        return servers[:1]
    # sudo: the narrowest point; the record is created for this account only, with nothing but its type
    server = account.env['fetchmail.server'].sudo().create({
        'name': account.env._('Outlook %(email)s (self-service)', email=account.email),
        'server_type': 'maildesk_graph',
        'maildesk_account_id': account.id,
        'user': account.email,
    })
    account.sudo().message_post(body=account.env._(
        'Incoming mail server "%(server)s" created by %(user)s (self-service connect).',
        server=server.name, user=account.env.user.name))
    _logger.info('MailDesk account %s: self-service incoming server %s created by user %s',
                 account.id, server.id, account.env.uid)
    return server


def after_authorization(account):
    """After the owner signed in: confirm the incoming server self-service created for him and choose the default
    folders, once. Servers an administrator created stay his to confirm."""
    if not enabled(account.env):
        return
    servers = account.sudo().fetchmail_server_ids.filtered(
        lambda server: server.server_type == 'maildesk_graph' and server.state == 'draft'
        and server.create_uid == account.user_id)
    if not servers:
        return
    try:
        servers.button_confirm_login()
    except UserError as exc:
        account.sudo().message_post(body=account.env._(
            'The incoming mail server could not be confirmed: %(reason)s', reason=str(exc)))
        return
    if not account.folder_ids:
        account.action_fetch_folders()
        account.folder_ids.filtered(lambda folder: folder.role in DEFAULT_FOLDERS).write({'sync_enabled': True})
    account._update_connection_state()
