"""How a mailbox account gets Microsoft tokens: MSAL app from Settings, token provider, auth-code flow, the
encrypted token cache and the Entra identity a mailbox is pinned to.

Plain Python that knows Odoo's environment but is no model: ``maildesk.account`` calls it (models -> engine ->
graph -> HTTP). The client secret is read in :func:`build_msal_app` and nowhere else (:func:`client_fingerprint`
keeps only its hash). The token cache is stored
encrypted with the token key (:mod:`engine.token_key`, never in the database), read and written with ``sudo()``
on the account row only (``base.group_system`` fields) and decrypted in :func:`read_token_cache` only. Neither
the secret nor a token is ever logged.
"""
import hashlib
import json
import re

import msal
from cryptography.fernet import InvalidToken

from odoo.exceptions import UserError
from odoo.tools import str2bool

from ..graph import identity
from ..graph.client import GraphClient
from ..graph.errors import AuthInvalid, FlowMismatch, GraphError
from . import client_pool, feedback, token_key

# Sign-in authority and Graph endpoint per Microsoft cloud (maildesk.cloud); 'custom' reads both from settings.
CLOUD_ENDPOINTS = {
    'global': ('https://login.microsoftonline.com', 'https://graph.microsoft.com/v1.0'),
    'usgov': ('https://login.microsoftonline.us', 'https://graph.microsoft.us/v1.0'),
    'china': ('https://login.chinacloudapi.cn', 'https://microsoftgraph.chinacloudapi.cn/v1.0'),
}
# A stored token cache is this prefix + a Fernet token; anything else is a clear-text cache of an earlier version.
ENCRYPTED_PREFIX = 'fernet:'
# AuthInvalid codes (see engine/feedback.py): the key cannot decrypt the stored cache / the key itself is unusable
TOKEN_KEY_MISMATCH = 'token_key'
TOKEN_KEY_UNUSABLE = 'token_key_unusable'
GUID = r'[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}'
HOME_ACCOUNT_ID = re.compile(r'^(%s)\.(%s)$' % (GUID, GUID))  # MSAL's <oid>.<tid> (from client_info)


# ---------------------------------------------------------------------- settings

def maildesk_settings(env):
    """MailDesk's OAuth and Graph settings (system parameters), without the client secret.

    :return: dict with ``client_id, tenant, cloud, authority, graph_url, permission_level, write_back,
        ca_bundle, verify, scopes, page_size, backfill_months, body_retention_days``
    """
    get = env['ir.config_parameter'].sudo().get_param
    tenant = (get('maildesk.tenant') or 'common').strip().strip('/')
    cloud = get('maildesk.cloud') or 'global'
    if cloud == 'custom' or cloud not in CLOUD_ENDPOINTS:
        authority = (get('maildesk.authority_url') or '').strip().rstrip('/')
        graph_url = (get('maildesk.graph_url') or '').strip().rstrip('/')
        # An authority given as a bare host gets the tenant appended; a full authority is used as is.
        if authority and authority.count('/') <= 2:
            authority = '%s/%s' % (authority, tenant)
    else:
        login_host, graph_url = CLOUD_ENDPOINTS[cloud]
        authority = '%s/%s' % (login_host, tenant)
    permission_level = get('maildesk.permission_level') or 'read'
    ca_bundle = (get('maildesk.ca_bundle') or '').strip() or None
    return {
        'client_id': (get('maildesk.client_id') or '').strip(),
        'tenant': tenant,
        'cloud': cloud,
        'authority': authority,
        'graph_url': graph_url,
        'permission_level': permission_level,
        'write_back': permission_level == 'write',
        'ca_bundle': ca_bundle,
        'verify': ca_bundle,
        'scopes': identity.graph_scopes(permission_level == 'write', graph_url) if graph_url else [],
        # sign-in also asks for the .Shared scopes (shared mailboxes, engine/shared_mailbox.py); token refreshes
        # ask for 'scopes' only: the access token carries every permission consented to, and an account
        # authorized before keeps refreshing without a new consent
        'sign_in_scopes': (identity.graph_scopes(permission_level == 'write', graph_url)
                           + identity.shared_scopes(permission_level == 'write', graph_url)) if graph_url else [],
        'page_size': max(1, min(1000, _int_param(get('maildesk.page_size'), 1000))),
        'backfill_months': max(0, _int_param(get('maildesk.backfill_months'), 0)),
        'body_retention_days': max(0, _int_param(get('maildesk.body_retention_days'), 30)),
    }


def setting_enabled(env, key):
    """A Settings checkbox kept as a system parameter (``config_parameter=``): set means on, unset means off."""
    return str2bool(env['ir.config_parameter'].sudo().get_param(key) or 'false', False)


def oauth_configured(env):
    """True when Settings > MailDesk holds a client id and a client secret."""
    get = env['ir.config_parameter'].sudo().get_param
    return bool((get('maildesk.client_id') or '').strip() and get('maildesk.client_secret'))


def not_configured_text(env):
    """"OAuth not configured" and the next step, worded for an administrator or for anyone else."""
    if env.user.has_group('base.group_system'):
        next_step = env._('Enter the Microsoft Client ID and Client Secret of your Entra ID app registration '
                          'in Settings > MailDesk, then click "Authorize Outlook" again.')
    else:
        next_step = env._('Ask an administrator to enter the Microsoft Client ID and Client Secret in '
                          'Settings > MailDesk, then click "Authorize Outlook" again.')
    return '%s\n%s' % (env._('OAuth not configured'), next_step)


def build_msal_app(env, cache_state=None, http_client=None):
    """A fresh MSAL app for the configured Entra ID application (the secret is read here, and only here).

    :raises UserError: OAuth is not configured
    :raises AuthInvalid, Transient: from :func:`identity.build_app`
    """
    if not oauth_configured(env):
        raise UserError(not_configured_text(env))
    settings = maildesk_settings(env)
    secret = env['ir.config_parameter'].sudo().get_param('maildesk.client_secret')
    return identity.build_app(settings['client_id'], secret, settings['authority'],
                              cache_state=cache_state, verify=settings['verify'], http_client=http_client)


def client_fingerprint(account, settings):
    """What a pooled client of ``account`` was built from (:mod:`engine.client_pool`): the settings, the signed-in
    identity and the client secret's SHA-256 (the secret itself is never kept)."""
    secret = account.env['ir.config_parameter'].sudo().get_param('maildesk.client_secret') or ''
    parts = [settings[key] for key in ('client_id', 'tenant', 'authority', 'graph_url', 'ca_bundle',
                                       'permission_level')]
    parts += [hashlib.sha256(secret.encode('utf-8')).hexdigest(), account.sudo().home_account_id or '']
    return hashlib.sha256(json.dumps(parts).encode('utf-8')).hexdigest()


# ---------------------------------------------------------------------- tokens for Graph

def graph_client(account, **kwargs):
    """A :class:`GraphClient` for ``account`` whose tokens come from its MSAL cache (see :func:`token_provider`).

    Its HTTPS session and MSAL app are the account's pooled ones (:mod:`engine.client_pool`): kept across runs
    and requests in this process while the settings and the signed-in identity stay the same.
    Keyword arguments go to :class:`GraphClient` (``mailbox``, ``page_size``...).
    """
    settings = maildesk_settings(account.env)
    kwargs.setdefault('page_size', settings['page_size'])
    kwargs.setdefault('mailbox_key', (account.email or '').lower() or None)
    pooled = client_pool.checkout(account.env.cr.dbname, account.id, client_fingerprint(account, settings),
                                  lambda: identity.TlsSession(verify=settings['verify']))
    return GraphClient(settings['graph_url'], token_provider(account, settings, pooled), verify=settings['verify'],
                       session=pooled.session, **kwargs)


def token_provider(account, settings, pooled):
    """``provide(force_refresh=False) -> access token`` on the account's MSAL cache.

    It refuses at once, without any request, an account that cannot get tokens; persists MSAL's cache whenever
    it changed (new access token, rotated refresh token); counts authorization failures on the account; and
    ends a failure streak only when Microsoft issued tokens just now (a cached access token may be refused).
    The pooled MSAL app's cache is the stored one: read again whenever the stored copy is not the one it was
    loaded from or saved as (another worker refreshed, a new key re-encrypted it), and the app is built anew
    after any failure.
    """

    def provide(force_refresh=False):
        check_token_usable(account)
        with pooled.lock:
            try:
                app = _pooled_app(account, pooled)
            except AuthInvalid as exc:  # the token key: an administrator's matter, not counted
                pooled.forget_app()
                account._record_auth_failure(exc)
                raise
            try:
                token = identity.acquire_token(app, settings['scopes'], account.sudo().home_account_id,
                                               force_refresh=force_refresh)
            except AuthInvalid as exc:
                save_token_cache(account, app)
                pooled.forget_app()
                account._record_auth_failure(exc)
                raise
            except Exception:
                pooled.forget_app()  # e.g. Transient: the next attempt asks Microsoft again, not MSAL's cache
                raise
            if save_token_cache(account, app):
                pooled.stored_cache = account.sudo().token_cache
                account._record_auth_success()
            return token

    return provide


def _pooled_app(account, pooled):
    """The pooled MSAL app, its cache the account's stored one. The stored cache is decrypted on every use (the
    token key in use must still open it), and loaded into the app unless the app holds that very copy already."""
    stored = account.sudo().token_cache
    cache = read_token_cache(account)
    if pooled.app is None:
        pooled.app = build_msal_app(account.env, cache, http_client=pooled.session)
    elif stored != pooled.stored_cache:
        pooled.app.cache.deserialize(cache)
    pooled.stored_cache = account.sudo().token_cache  # a clear-text cache was encrypted just now
    return pooled.app


def check_token_usable(account):
    """Raise :class:`AuthInvalid` without any network call when ``account`` cannot get tokens."""
    account.ensure_one()
    if account.state == 'auth_invalid':
        raise AuthInvalid('no_account', 'the account is suspended (auth_invalid) until it is authorized again',
                          code='auth_invalid')
    if account.state == 'not_authorized' or not account.sudo().home_account_id:
        raise AuthInvalid('no_account', 'the account is not authorized', code='not_authorized')
    if not oauth_configured(account.env):
        raise AuthInvalid('invalid_client', 'OAuth not configured', code='not_configured')


def save_token_cache(account, app):
    """Persist MSAL's cache if it changed (new access token, rotated refresh token); True if it did."""
    state = app.cache_state()
    if state is None:
        return False
    write_token_cache(account, state)
    return True


# ---------------------------------------------------------------------- the token cache at rest

def read_token_cache(account):
    """The account's MSAL token cache in clear (serialized JSON), or None: the one place it is decrypted.

    A cache an earlier version stored in clear is encrypted now, on this first use.

    :raises AuthInvalid: code :data:`TOKEN_KEY_MISMATCH` (the key cannot decrypt it) or
        :data:`TOKEN_KEY_UNUSABLE` (no usable key)
    """
    stored = account.sudo().token_cache
    if not stored:
        return None
    if not stored.startswith(ENCRYPTED_PREFIX):
        write_token_cache(account, stored)
        return stored
    try:
        return _token_fernet().decrypt(stored[len(ENCRYPTED_PREFIX):].encode('ascii')).decode('utf-8')
    except (InvalidToken, ValueError):
        raise AuthInvalid('other', 'the stored tokens cannot be decrypted with the current token key',
                          code=TOKEN_KEY_MISMATCH) from None


def write_token_cache(account, state):
    """Store ``state`` (MSAL's serialized cache, or False) encrypted with the current token key."""
    account.sudo().write({'token_cache': _stored(state)})


def check_token_key():
    """:raises AuthInvalid: code :data:`TOKEN_KEY_UNUSABLE` when no usable key can be had (before a sign-in)."""
    _token_fernet()


def rotate_token_key(cr, new_fernet, old_fernet):
    """Re-encrypt every account's token cache (archived ones too) with ``new_fernet``, in ``cr``'s transaction,
    rows locked. Clear-text caches are encrypted too. Nothing is written unless ``old_fernet`` decrypts them all.

    :return: the number of caches re-encrypted
    :raises TokenKeyMismatch: with the ids of the accounts whose cache ``old_fernet`` cannot decrypt
    """
    cr.execute("SELECT id, token_cache FROM maildesk_account WHERE coalesce(token_cache, '') != '' "
               "ORDER BY id FOR UPDATE")
    clear, failed = {}, []
    for account_id, stored in cr.fetchall():
        if not stored.startswith(ENCRYPTED_PREFIX):
            clear[account_id] = stored
            continue
        try:
            clear[account_id] = old_fernet.decrypt(stored[len(ENCRYPTED_PREFIX):].encode('ascii')).decode('utf-8')
        except (InvalidToken, ValueError):
            failed.append(account_id)
    if failed:
        raise TokenKeyMismatch(failed)
    for account_id, state in clear.items():
        cr.execute('UPDATE maildesk_account SET token_cache = %s WHERE id = %s',
                   [_encrypt(new_fernet, state), account_id])
    client_pool.drop(cr.dbname)
    return len(clear)


class TokenKeyMismatch(Exception):
    """The key cannot decrypt the token caches of ``account_ids``."""

    def __init__(self, account_ids):
        self.account_ids = account_ids
        super().__init__('the token key cannot decrypt the tokens of accounts %s' % account_ids)


def _token_fernet():
    try:
        return token_key.current_key().fernet
    except token_key.TokenKeyError as exc:
        raise AuthInvalid('other', str(exc), code=TOKEN_KEY_UNUSABLE) from None


def _stored(state):
    return _encrypt(_token_fernet(), state) if state else False


def _encrypt(fernet, state):
    return ENCRYPTED_PREFIX + fernet.encrypt(state.encode('utf-8')).decode('ascii')


def granted_scopes(account):
    """Scopes Microsoft granted with the account's latest access token (the token response's ``scope``)."""
    if not account.sudo().home_account_id:
        return set()
    try:
        state = read_token_cache(account)
    except AuthInvalid:
        return set()
    if not state:
        return set()
    cache = msal.SerializableTokenCache()
    cache.deserialize(state)
    entries = cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN,
                           query={'home_account_id': account.sudo().home_account_id})
    latest = max(entries, key=lambda entry: int(entry.get('cached_at') or 0), default={})
    return set((latest.get('target') or '').split())


# ---------------------------------------------------------------------- sign-in (auth-code flow)

def start_sign_in(account, state, redirect_uri):
    """Start MSAL's auth-code flow (PKCE, nonce) for ``account`` with the caller's signed ``state``.

    The code comes back in a POST body (``form_post``), never in a URL (see controllers/oauth.py).

    :return: the flow dict to keep server-side until the callback; redirect to ``flow['auth_uri']``
    :raises UserError: OAuth is not configured
    :raises AuthInvalid, Transient: the authority is unusable or unreachable
    """
    app = build_msal_app(account.env)
    scopes = maildesk_settings(account.env)['sign_in_scopes']
    return identity.start_auth_flow(app, scopes, redirect_uri, login_hint=account.email, state=state,
                                    response_mode='form_post')


def finish_sign_in(account, flow, params):
    """Redeem the callback for tokens in a fresh MSAL app (the new sign-in replaces previous tokens) and ask
    Graph ``/me`` who signed in, with the new access token. Nothing is stored.

    :return: ``(app, result, me)``: the app holding the new cache, MSAL's result (``username``,
        ``home_account_id``, ``id_token_claims``...) and the ``/me`` answer
    :raises UserError: why not (state or nonce mismatch, Microsoft's refusal, no usable token key, no answer)
    """
    env = account.env
    try:
        check_token_key()  # the tokens could not be stored: say so before the code is redeemed
        app = build_msal_app(env)
        result = identity.finish_auth_flow(app, flow, params)
        settings = maildesk_settings(env)
        access_token = result['access_token']
        client = GraphClient(settings['graph_url'], lambda force_refresh=False: access_token,
                             verify=settings['verify'])
        return app, result, client.me()
    except FlowMismatch:
        raise UserError(env._('The Microsoft sign-in response does not match the sign-in MailDesk started. '
                              'Nothing was saved: click "Authorize Outlook" again.')) from None
    except AuthInvalid as exc:
        raise UserError(feedback.auth_error_text(env, exc)) from None
    except GraphError as exc:  # Transient included
        raise UserError(env._('Microsoft could not complete the sign-in (%(reason)s). Nothing was saved: '
                              'try again in a moment.', reason=exc.message)) from None


# ---------------------------------------------------------------------- who signed in: address, pinned identity

def check_signed_in(account, me, username=None):
    """Graph ``/me`` (and the id_token's ``username``) must be the account's signed-in address, and ``/me``'s
    ``id`` the pinned Entra object once the account is pinned (:func:`check_pinned_object`).

    The address is ``signed_in_email``; while it is empty (not signed in yet, or authorized before it was kept) it
    is the mailbox address, which is what it is for a personal mailbox.

    :return: the matching name, as Microsoft spells it
    :raises UserError: naming who signed in and who was expected
    """
    env = account.env
    expected = (account.signed_in_email or account.email or '').strip()
    names = [name.strip() for name in (me.get('mail'), me.get('userPrincipalName'), username)
             if isinstance(name, str) and name.strip()]
    match = next((name for name in names if expected and name.lower() == expected.lower()), None)
    if not match:
        raise UserError(env._(
            'You signed in at Microsoft as %(signed_in)s, but this account is for %(expected)s. Nothing was '
            'saved. Click "Authorize Outlook" again and sign in with %(expected)s (use "Sign in with another '
            'account" at Microsoft if needed).',
            signed_in=', '.join(sorted({name.lower() for name in names})) or env._('an unknown user'),
            expected=expected))
    check_pinned_object(account, me)
    return match


def identity_pin(account, result, me):
    """The Entra identity of a completed sign-in, checked against the account's pin.

    The identity is the id_token's ``oid`` + ``tid`` (MSAL's ``home_account_id`` is ``<oid>.<tid>``, its
    fallback), and Graph ``/me`` must be that object. Addresses (``mail``, ``preferred_username``) can be
    changed or given to another user; these ids cannot.

    :return: the pin values to store (``entra_object_id``, ``entra_tenant_id``)
    :raises UserError: no identity in the answer, or another identity than the pinned one (nothing is stored)
    """
    claims = result.get('id_token_claims') or {}
    oid, tid = _guid(claims.get('oid')), _guid(claims.get('tid'))
    if not (oid and tid):
        home_oid, _dot, home_tid = str(result.get('home_account_id') or '').partition('.')
        oid, tid = _guid(home_oid), _guid(home_tid)
    if not (oid and tid and _same_object(me.get('id'), oid)):
        raise UserError(account.env._('Microsoft did not say which account signed in (no object and tenant id, '
                                      'or not the one Graph answers for). Nothing was saved.'))
    pinned_oid, pinned_tid = _pin(account)
    if pinned_oid and (pinned_oid, pinned_tid) != (oid, tid):
        raise UserError(pinned_identity_text(account, me, oid, tid))
    return {'entra_object_id': oid, 'entra_tenant_id': tid}


def check_pinned_object(account, me):
    """Graph ``/me`` must be the pinned Entra object (no pin yet: nothing to check).

    :raises UserError: it is another object, or ``/me`` has no ``id``
    """
    pinned_oid, _pinned_tid = _pin(account)
    if pinned_oid and not _same_object(me.get('id'), pinned_oid):
        raise UserError(pinned_identity_text(account, me, _guid(me.get('id')) or '?'))


def pinned_identity_text(account, me, oid, tid=None):
    """Why another Entra identity than the pinned one is refused, and what a manager can do."""
    env = account.env
    pinned_oid, pinned_tid = _pin(account)
    this = env._('object %(oid)s in tenant %(tid)s', oid=oid, tid=tid) if tid else env._('object %(oid)s', oid=oid)
    return env._(
        'You signed in at Microsoft as %(signed_in)s, but that is not the Microsoft account this mailbox was first '
        'authorized with (object %(pinned_oid)s in tenant %(pinned_tid)s; this sign-in: %(this)s). An address can '
        'be given to another account, so MailDesk refuses it. Nothing was saved. If the mailbox really moved to '
        'another Microsoft account, a MailDesk manager can click "Forget the Microsoft identity" on the account, '
        'then authorize it again.',
        signed_in=me.get('mail') or me.get('userPrincipalName') or '?', pinned_oid=pinned_oid,
        pinned_tid=pinned_tid, this=this)


def _pin(account):
    """``(oid, tid)`` the account is pinned to; an account authorized before pins were kept is pinned by its tokens'
    ``home_account_id`` (``<oid>.<tid>``) until its next authorization stores the pin."""
    account = account.sudo()  # manager-only fields; the caller's access to the account is established
    if account.entra_object_id:
        return account.entra_object_id, account.entra_tenant_id
    home = HOME_ACCOUNT_ID.match(account.home_account_id or '')
    return (home.group(1).lower(), home.group(2).lower()) if home else (None, None)


def _guid(value):
    return value.strip().lower() if isinstance(value, str) and value.strip() else None


def _same_object(graph_id, oid):
    """Graph ``/me`` ``id`` vs the id_token ``oid``: equal for work and school accounts; a personal account's
    ``/me`` id is its 16-hex CID, which its ``oid`` ends with (``00000000-0000-0000-<cid>``)."""
    graph_id = (_guid(graph_id) or '').replace('-', '')
    oid = (oid or '').replace('-', '')
    return bool(graph_id) and (graph_id == oid or (len(graph_id) == 16 and oid == '0' * 16 + graph_id))


def callback_error(params):
    """The exception for Microsoft's error answer to the sign-in (``error``, ``error_description``: cancelled,
    consent declined...), as if MSAL had returned it; nothing was redeemed."""
    return identity.auth_error({'error': params.get('error'), 'error_description': params.get('error_description')})


def store_tokens(account, app, result):
    """Keep the tokens of a completed sign-in on the account (system-only fields)."""
    account.sudo().write({'token_cache': _stored(app.cache.serialize()),
                          'home_account_id': result['home_account_id']})
    client_pool.drop(account.env.cr.dbname, account.ids)


def forget_tokens(account):
    """Drop the account's tokens (Disconnect, another address)."""
    account.sudo().write({'token_cache': False, 'home_account_id': False})
    client_pool.drop(account.env.cr.dbname, account.ids)


def _int_param(value, default):
    if value is False or value is None or value == '':  # get_param() of a parameter never saved
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
