"""A mailbox's Microsoft sign-in as ``maildesk.account`` runs it: the auth-code flow (the signed ``state`` that binds
a callback to one account and one user, the pinned Redirect URI, the tokens stored once every check passed) and the
streak of refused sign-ins that suspends an account (``auth_invalid``).

The MSAL mechanics are :mod:`engine.connection`'s; this module decides what the account's status becomes.
"""
import logging
import secrets

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tools import consteq, misc

from ..graph.errors import AuthInvalid, Transient
from . import connection, feedback, incoming_setup, permissions, self_service

_logger = logging.getLogger(__name__)

# Authorization failures in a row that put an account in auth_invalid (background jobs then skip it).
AUTH_FAILURE_LIMIT = 3
COUNTED_AUTH_FAILURES = frozenset({'invalid_grant', 'interaction_required', 'consent_required', 'auth_expired'})
# Exceptions raised before any request (see connection.check_token_usable): nothing new to record.
LOCAL_AUTH_CODES = frozenset({'auth_invalid', 'not_authorized', 'not_configured'})
OAUTH_STATE_SCOPE = 'maildesk_oauth'
CALLBACK_PATH = '/maildesk/oauth/callback'


# ------------------------------------------------------------------ the auth-code flow

def redirect_uri(env):
    """The Redirect URI registered in Entra ID: from the pinned ``maildesk.redirect_base_url`` (Settings), not
    from ``web.base.url``, which Odoo rewrites to whatever host an administrator last logged in through."""
    ICP = env['ir.config_parameter'].sudo()
    base = ICP.get_param('maildesk.redirect_base_url') or ICP.get_param('web.base.url', '')
    return base.rstrip('/') + CALLBACK_PATH


def _pin_redirect_base(env):
    """The first sign-in pins the Redirect URI it used (as saving the settings does): a later login through another
    host name rewrites ``web.base.url``, not the URI registered in Entra ID."""
    ICP = env['ir.config_parameter'].sudo()
    if not ICP.get_param('maildesk.redirect_base_url') and ICP.get_param('web.base.url'):
        ICP.set_param('maildesk.redirect_base_url', ICP.get_param('web.base.url').rstrip('/'))


def _state_signature(account, nonce):
    """HMAC binding a sign-in to this account, the current user and one random nonce."""
    account.ensure_one()
    return misc.hmac(account.env(su=True), OAUTH_STATE_SCOPE, (account._name, account.id, account.env.uid, nonce))


def start(account):
    """Start MSAL's auth-code flow (PKCE, state, nonce).

    :return: the flow dict to keep server-side (the caller stores it in the user's session under
        ``flow['state']``) and redirect to ``flow['auth_uri']``
    """
    account.ensure_one()
    permissions.check_can_authorize(account)
    env = account.env
    nonce = secrets.token_urlsafe(16)
    state = '%d.%s.%s' % (account.id, nonce, _state_signature(account, nonce))
    _pin_redirect_base(env)
    try:
        return connection.start_sign_in(account, state, redirect_uri(env))
    except AuthInvalid as exc:
        raise UserError(feedback.auth_error_text(env, exc)) from None
    except Transient:
        raise UserError(env._('Microsoft sign-in could not be reached. Check the network and the cloud / '
                              'authority in Settings > MailDesk, then try again.')) from None


def account_from_state(account_model, state):
    """The account a callback's ``state`` was signed for by the current user, else an empty recordset."""
    parts = (state or '').split('.')
    # ASCII only: an Arabic-Indic digit is .isdigit() too, and consteq() raises on non-ASCII text (a 500
    # instead of a refusal)
    if len(parts) != 3 or not state.isascii() or not parts[0].isdigit():
        return account_model.browse()
    account = account_model.browse(int(parts[0])).exists()
    if not account or not consteq(parts[2], _state_signature(account, parts[1])):
        return account_model.browse()
    try:
        permissions.check_can_authorize(account)
    except AccessError:
        return account_model.browse()
    return account


def finish(account, flow, params):
    """Redeem the callback for tokens, check who signed in (``account._check_signed_in``, the pinned Entra
    identity), then store the tokens and the signed-in identity (pinned at the first authorization).

    Nothing is stored unless every check passes.

    :raises UserError: with the reason shown to the user
    """
    account.ensure_one()
    permissions.check_can_authorize(account)
    app, result, me = connection.finish_sign_in(account, flow, params)
    pin = connection.identity_pin(account, result, me)  # the pinned Entra identity, else its first sign-in
    signed_in = account._check_signed_in(me, username=result.get('username'))
    connection.store_tokens(account, app, result)
    account._write_status(dict(pin, state='authorized', authorized_at=fields.Datetime.now(), auth_failure_count=0,
                               throttled_until=False, last_error=False, signed_in_email=signed_in))
    incoming_setup.reconfirm(account)
    account._update_connection_state()
    self_service.after_authorization(account)  # a self-service mailbox: its server confirmed, default folders
    account.message_post(body=account.env._('Authorized by %(user)s as %(email)s.',
                                            user=account.env.user.name, email=account.email))


# ------------------------------------------------------------------ refused sign-ins

def record_success(accounts):
    """A token was obtained: the failure streak ends, and an auth/config error clears."""
    for account in accounts:
        if account.auth_failure_count:
            account._write_status({'auth_failure_count': 0})
        if account.state == 'error':
            account._clear_error()


def record_failure(account, exc):
    """Count an authorization failure (a :class:`AuthInvalid`) and move to auth_invalid at the limit.

    ``invalid_grant``, ``interaction_required`` and ``consent_required`` count; a missing account in the
    token cache is final at once; ``invalid_client`` and other configuration problems put the account in
    Error with an administrator-facing message and do not count (re-authorizing would not help).
    """
    account.ensure_one()
    if getattr(exc, 'code', None) in LOCAL_AUTH_CODES:
        return
    env = account.env
    kind = feedback.failure_kind(exc)
    message = feedback.auth_error_text(env, exc)
    if kind in COUNTED_AUTH_FAILURES:
        count = account.auth_failure_count + 1
        vals = {'auth_failure_count': count, 'last_error': message}
        if count >= AUTH_FAILURE_LIMIT:
            vals['state'] = 'auth_invalid'
    elif kind == 'no_account':
        vals = {'auth_failure_count': AUTH_FAILURE_LIMIT, 'last_error': message, 'state': 'auth_invalid'}
    else:
        vals = {'last_error': message}
        if account.state in ('authorized', 'connected'):
            vals['state'] = 'error'
    _logger.warning('MailDesk account %s: authorization failure (%s, %s in a row)',
                    account.id, kind, vals.get('auth_failure_count', account.auth_failure_count))
    account._write_status(vals)
    if vals.get('state') == 'auth_invalid':
        # sudo: a shared user's send or read may be the third failure, and they do not write the account
        account.sudo().message_post(body=env._('Authorization suspended after repeated failures: %(reason)s',
                                               reason=message))
