"""Shared and delegated mailboxes (``info@``, ``support@``, a manager's inbox) reached through a user's own grant.

An Exchange shared mailbox cannot sign in; a user who was granted *Full Access* on it opens it with his own
delegated token and the ``.Shared`` scopes at ``/users/{address}`` ("Get messages in a shared or delegated
folder", learn.microsoft.com/graph/outlook-share-messages-folders; "Send Outlook messages from another user",
learn.microsoft.com/graph/outlook-send-mail-from-other-user). In MailDesk such a mailbox is an account of kind
``shared`` whose ``connection_account_id`` is the *connecting* personal account: its token provider is used as is,
tokens are never copied, and the connecting account alone counts authorization failures.

When the grant ends (the connecting account is no longer authorized, or Exchange answers 403 / 404 on the shared
mailbox) the shared account says so and stops; its folders, messages, tags and links stay. Another user with access
takes the connection over with his own authorized account (:func:`take_over`).
"""
import logging

from odoo import fields, tools
from odoo.exceptions import AccessError, UserError

from ..graph import errors
from . import connection, feedback, permissions

_logger = logging.getLogger(__name__)

PERSONAL = 'personal'
SHARED = 'shared'
SEND_AS = 'send_as'
SEND_ON_BEHALF = 'send_on_behalf'
# Graph's codes for "no such mailbox here" (graph-api.md §2.4): a wrong address, or a mailbox that is not in
# Exchange Online (on-premises, unlicensed, soft-deleted)
INVALID_USER = 'errorinvaliduser'
NOT_IN_EXCHANGE_ONLINE = 'mailboxnotenabledforrestapi'
READ_SHARED = frozenset({'mail.read.shared', 'mail.readwrite.shared'})


def is_shared(account):
    return account.mailbox_kind == SHARED


def token_account(account):
    """The account whose Microsoft tokens serve ``account``: itself, or the connecting account of a shared one.

    sudo: the caller's access to ``account`` is established; the connecting account may be another user's, whose
    tokens are used (never read or copied) for this mailbox only."""
    return account.sudo().connection_account_id if is_shared(account) else account


def graph_client(account, **kwargs):
    """A :class:`GraphClient` at ``/users/{address}`` on the connecting account's token provider."""
    kwargs.setdefault('mailbox_key', (account.email or '').lower() or None)
    return connection.graph_client(token_account(account), mailbox=account.email, **kwargs)


# ---------------------------------------------------------------------- checking access

def access_problem(connecting, address):
    """Why ``connecting``'s grant cannot open the mailbox ``address``, in plain words; None when it can.

    One request: ``GET /users/{address}/mailFolders/inbox`` with the connecting account's token.
    """
    env = connecting.env
    if is_shared(connecting) or connecting.state not in ('authorized', 'connected', 'error'):
        return env._('%(account)s is not an authorized personal mailbox: authorize it first ("Authorize Outlook"), '
                     'then add the shared mailbox from it.', account=connecting.display_name)
    client = connection.graph_client(connecting, mailbox=address, mailbox_key=address.lower())
    try:
        client.get_folder('inbox')
    except errors.AccessDenied:
        scopes = {scope.rsplit('/', 1)[-1].lower() for scope in connection.granted_scopes(connecting)}
        if scopes and not scopes & READ_SHARED:
            return env._('Your sign-in does not include the permission to open shared mailboxes '
                         '(Mail.ReadWrite.Shared / Mail.Read.Shared). Click "Authorize Again" on %(account)s and '
                         'accept the permissions, then add %(address)s again.',
                         account=connecting.display_name, address=address)
        return env._('Exchange does not give %(user)s Full Access to %(address)s. An Exchange administrator must '
                     'grant it (Exchange admin center > Mailboxes > %(address)s > Delegation > Read and manage, or '
                     'Add-MailboxPermission -AccessRights FullAccess); it can take up to an hour to apply.',
                     user=connecting.signed_in_email or connecting.email, address=address)
    except errors.NotFound as exc:
        code = (exc.code or '').lower()
        if code == NOT_IN_EXCHANGE_ONLINE:
            return env._('%(address)s exists but has no mailbox in Exchange Online (on-premises, not licensed or '
                         'deleted): MailDesk can only open Exchange Online mailboxes.', address=address)
        return env._('Microsoft 365 has no mailbox %(address)s: check the address (the shared mailbox\'s primary '
                     'email address, e.g. support@company.com).', address=address)
    except errors.AuthInvalid as exc:
        return feedback.auth_error_text(env, exc)
    except errors.GraphError as exc:
        return feedback.graph_error_text(env, exc, env._('open the mailbox %s', address))
    return None


def check_can_connect(connecting):
    """Only the owner of the connecting account (or a MailDesk manager) lends its grant to a shared mailbox."""
    connecting.check_access('write')
    env = connecting.env
    if not permissions.is_manager(env) and connecting.user_id != env.user:
        raise AccessError(env._('Only the owner of %(account)s or a MailDesk manager can add a shared mailbox '
                                'through it.', account=connecting.display_name))


def check_address_change(accounts, vals):
    """A shared account's address is the mailbox its access was checked for: another one is another account."""
    if 'email' not in vals:
        return
    new = (vals['email'] or '').strip().lower()
    for account in accounts:
        if is_shared(account) and (account.email or '').strip().lower() != new:
            raise UserError(accounts.env._('The address of a shared mailbox account cannot change: add the other '
                                           'mailbox with "Add Shared Mailbox" on the connecting account.'))


def _normalized_address(env, address):
    normalized = tools.email_normalize(address or '')
    if not normalized:
        raise UserError(env._('"%(address)s" is not an email address: type the shared mailbox\'s address, e.g. '
                              'support@company.com.', address=address or ''))
    return normalized


# ---------------------------------------------------------------------- adding, reconnecting, taking over

def add_shared_mailbox(connecting, address, name=None, send_mode=SEND_AS):
    """A new account for the shared mailbox ``address``, reached through ``connecting``; access is checked first.

    :raises UserError: what is missing (Full Access, the address, Exchange Online), nothing created
    """
    connecting.ensure_one()
    check_can_connect(connecting)
    env = connecting.env
    address = _normalized_address(env, address)
    if address == (connecting.email or '').strip().lower():
        raise UserError(env._('%(address)s is this account\'s own mailbox.', address=address))
    Account = env['maildesk.account'].sudo().with_context(active_test=False)
    if Account.search_count([('email', '=ilike', address), ('user_id', '=', connecting.user_id.id)]):
        raise UserError(env._('%(user)s already has a mailbox account for %(address)s.',
                              user=connecting.user_id.name, address=address))
    problem = access_problem(connecting, address)
    if problem:
        raise UserError(problem)
    # sudo: the connection fields are MailDesk's own (an RPC write of them is refused, see STATUS_FIELDS)
    account = Account.create({
        'name': name or address, 'email': address, 'user_id': connecting.user_id.id,
        'mailbox_kind': SHARED, 'connection_account_id': connecting.id,
        'send_mode': send_mode if send_mode in (SEND_AS, SEND_ON_BEHALF) else SEND_AS,
    })
    _connected(account, connecting)
    account.message_post(body=env._('Shared mailbox added by %(user)s, through %(connection)s.',
                                    user=env.user.name, connection=connecting.display_name))
    return account.with_env(env)


def reconnect(account):
    """Check access again through the current connection (after Exchange granted it anew); clears the stop."""
    account.ensure_one()
    env = account.env
    _check_shared(account)
    connecting = account.sudo().connection_account_id
    check_can_connect(connecting.with_env(env))
    problem = access_problem(connecting, account.email)
    if problem:
        raise UserError(problem)
    _connected(account, connecting)


def take_over(account, connecting):
    """Another user with access connects his own authorized account: same account, folders, messages, tags, links.

    The caller must read the shared account (its owner, a user it is shared with, a manager) and own ``connecting``
    (or be a manager); Exchange decides the rest (the access check). The owner follows the connection, except on
    an account a mail server is bound to, whose owner only a system administrator changes (engine/permissions.py).
    """
    account.ensure_one()
    connecting.ensure_one()
    env = account.env
    _check_shared(account)
    account.check_access('read')
    check_can_connect(connecting)
    if connecting == account.sudo().connection_account_id:
        return reconnect(account)
    new_owner = connecting.user_id if permissions.is_system(env) or not permissions.bound_accounts(
        account.sudo()) else account.user_id
    if new_owner != account.user_id and env['maildesk.account'].sudo().with_context(
            active_test=False).search_count([('email', '=ilike', account.email),
                                             ('user_id', '=', new_owner.id)]):
        raise UserError(env._('%(user)s already has another mailbox account for %(address)s.',
                              user=connecting.user_id.name, address=account.email))
    problem = access_problem(connecting, account.email)
    if problem:
        raise UserError(problem)
    previous = account.sudo().connection_account_id
    account.sudo().write({'connection_account_id': connecting.id, 'user_id': new_owner.id})
    _connected(account, connecting)
    account.sudo().message_post(body=env._(
        '%(user)s took over the connection: %(new)s instead of %(old)s. Folders, messages, tags and links are kept.',
        user=env.user.name, new=connecting.display_name, old=previous.display_name or '-'))


def _connected(account, connecting):
    account._write_status({'state': 'authorized', 'signed_in_email': connecting.signed_in_email or connecting.email,
                           'authorized_at': fields.Datetime.now(), 'shared_access_error': False,
                           'last_error': False, 'auth_failure_count': 0})
    account._update_connection_state()


def _check_shared(account):
    if not is_shared(account):
        raise UserError(account.env._('%(account)s is a personal mailbox: it signs in itself ("Authorize Outlook").',
                                      account=account.display_name))


# ---------------------------------------------------------------------- when the grant ends

def blocked_reason(account):
    """Why a shared account must not sync now (its grant ended), as a sentence; None when it may."""
    env = account.env
    if account.shared_access_error:
        return account.shared_access_error
    connecting = account.sudo().connection_account_id
    if not connecting or not connecting.active:
        return env._('This shared mailbox has no connecting account any more. A user with access to %(address)s '
                     'clicks "Take Over Connection" and picks his own authorized account.', address=account.email)
    if connecting.state in ('not_authorized', 'auth_invalid'):
        return env._('The connecting account %(connection)s is no longer authorized, so %(address)s is not '
                     'synchronized (nothing is lost). Its owner clicks "Authorize Again" on it, or another user '
                     'with access clicks "Take Over Connection".', connection=connecting.display_name,
                     address=account.email)
    return None


def grant_ended(account, exc):
    """Whether a Graph failure on a shared account means its access ended: 403 (Full Access revoked, the .Shared
    permission withdrawn) or 404 ErrorInvalidUser / MailboxNotEnabledForRESTAPI (the mailbox is gone)."""
    if not is_shared(account):
        return False
    if isinstance(exc, errors.AccessDenied):
        return True
    return isinstance(exc, errors.NotFound) and (exc.code or '').lower() in (INVALID_USER, NOT_IN_EXCHANGE_ONLINE)


def record_grant_end(account, exc):
    """Stop the shared account with the reason; nothing of its state is touched (folders, messages, tags)."""
    env = account.env
    who = account.signed_in_email or account.sudo().connection_account_id.email or '?'
    if isinstance(exc, errors.AccessDenied):
        reason = env._('Exchange no longer gives %(user)s access to %(address)s (Full Access revoked?), so MailDesk '
                       'stopped synchronizing it; nothing is lost. After an Exchange administrator grants it again, '
                       'click "Check Access"; or another user with access clicks "Take Over Connection".',
                       user=who, address=account.email)
    else:
        reason = env._('Microsoft 365 no longer has the mailbox %(address)s (deleted, renamed or moved out of '
                       'Exchange Online), so MailDesk stopped synchronizing it; nothing is lost.',
                       address=account.email)
    _logger.info('MailDesk account %s: shared mailbox access ended (%s)', account.id, exc.code)
    vals = {'shared_access_error': reason, 'last_error': reason}
    if account.state in ('authorized', 'connected'):
        vals['state'] = 'error'  # the inbox shows it with the reason
    account._write_status(vals)
    account.sudo().message_post(body=reason)


# ---------------------------------------------------------------------- sending

def on_behalf_sender(account):
    """``(name, address)`` of the delegate for Send on Behalf (``sender``; ``from`` stays the shared mailbox), or
    None (Send As, or a personal mailbox)."""
    if not is_shared(account) or account.send_mode != SEND_ON_BEHALF:
        return None
    connecting = account.sudo().connection_account_id
    address = account.signed_in_email or connecting.signed_in_email or connecting.email
    return (connecting.user_id.name or '', address) if address else None


def send_refused_text(env, account, exc):
    """The sentence for Exchange's ``ErrorSendAsDenied`` on a shared mailbox (the draft is kept), else None."""
    if not is_shared(account) or (getattr(exc, 'code', '') or '').lower() != 'errorsendasdenied':
        return None
    right = 'Send on Behalf' if account.send_mode == SEND_ON_BEHALF else 'Send As'
    return env._('Exchange refused to send from %(address)s: %(user)s has no %(right)s permission on it. Nothing '
                 'is lost, the message stays here. An Exchange administrator grants it (Exchange admin center > '
                 'Mailboxes > %(address)s > Delegation), or change "Send Mode" on the mailbox account; then send '
                 'again.', address=account.email, user=account.signed_in_email or '?', right=right)


def check_send_granted(account):
    """The connecting sign-in must hold Mail.Send.Shared (when its grant is known)."""
    scopes = {scope.rsplit('/', 1)[-1].lower() for scope in connection.granted_scopes(token_account(account))}
    if scopes and 'mail.send.shared' not in scopes:
        raise UserError(account.env._(
            'The Mail.Send.Shared permission was not granted to %(connection)s, which %(mailbox)s sends through: '
            'click "Authorize Again" on it and accept the permissions.',
            connection=token_account(account).display_name, mailbox=account.email))


def sends_through_connection(account):
    """An outgoing server bound to a shared account sends as that mailbox with the connecting user's sign-in."""
    return is_shared(account) and bool(account.signed_in_email) and (
        (account.signed_in_email or '').lower()
        == (token_account(account).signed_in_email or token_account(account).email or '').lower())
