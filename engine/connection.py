"""How a mailbox account gets Microsoft tokens: MSAL app from Settings, token provider, auth-code flow.

Plain Python that knows Odoo's environment but is no model: ``maildesk.account`` calls it (models -> engine ->
graph -> HTTP). The client secret is read in :func:`build_msal_app` and nowhere else; the token cache is read
and written with ``sudo()`` on the account row only (``base.group_system`` fields). Neither is ever logged.
"""
import msal

from odoo.exceptions import UserError

from ..graph import identity
from ..graph.client import GraphClient
from ..graph.errors import AuthInvalid

# Sign-in authority and Graph endpoint per Microsoft cloud (maildesk.cloud); 'custom' reads both from settings.
CLOUD_ENDPOINTS = {
    'global': ('https://login.microsoftonline.com', 'https://graph.microsoft.com/v1.0'),
    'usgov': ('https://login.microsoftonline.us', 'https://graph.microsoft.us/v1.0'),
    'china': ('https://login.chinacloudapi.cn', 'https://microsoftgraph.chinacloudapi.cn/v1.0'),
}


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
        'page_size': max(1, min(1000, _int_param(get('maildesk.page_size'), 1000))),
        'backfill_months': max(0, _int_param(get('maildesk.backfill_months'), 0)),
        'body_retention_days': max(0, _int_param(get('maildesk.body_retention_days'), 30)),
    }


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


def build_msal_app(env, cache_state=None):
    """A fresh MSAL app for the configured Entra ID application (the secret is read here, and only here).

    :raises UserError: OAuth is not configured
    :raises AuthInvalid, Transient: from :func:`identity.build_app`
    """
    if not oauth_configured(env):
        raise UserError(not_configured_text(env))
    settings = maildesk_settings(env)
    secret = env['ir.config_parameter'].sudo().get_param('maildesk.client_secret')
    return identity.build_app(settings['client_id'], secret, settings['authority'],
                              cache_state=cache_state, verify=settings['verify'])


# ---------------------------------------------------------------------- tokens for Graph

def graph_client(account, **kwargs):
    """A :class:`GraphClient` for ``account`` whose tokens come from its MSAL cache (see :func:`token_provider`).

    Keyword arguments go to :class:`GraphClient` (``mailbox``, ``page_size``...).
    """
    settings = maildesk_settings(account.env)
    kwargs.setdefault('page_size', settings['page_size'])
    return GraphClient(settings['graph_url'], token_provider(account, settings), verify=settings['verify'],
                       mailbox_key=(account.email or '').lower() or None, **kwargs)


def token_provider(account, settings):
    """``provide(force_refresh=False) -> access token`` on the account's MSAL cache.

    It refuses at once, without any request, an account that cannot get tokens; persists MSAL's cache whenever
    it changed (new access token, rotated refresh token); counts authorization failures on the account; and
    ends a failure streak only when Microsoft issued tokens just now (a cached access token may be refused).
    """
    holder = {}

    def provide(force_refresh=False):
        check_token_usable(account)
        app = holder.get('app')
        if app is None:
            app = holder['app'] = build_msal_app(account.env, account.sudo().token_cache)
        try:
            token = identity.acquire_token(app, settings['scopes'], account.sudo().home_account_id,
                                           force_refresh=force_refresh)
        except AuthInvalid as exc:
            save_token_cache(account, app)
            account._record_auth_failure(exc)
            raise
        if save_token_cache(account, app):
            account._record_auth_success()
        return token

    return provide


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
    account.sudo().write({'token_cache': state})
    return True


def granted_scopes(account):
    """Scopes Microsoft granted with the account's latest access token (the token response's ``scope``)."""
    account = account.sudo()
    if not account.token_cache or not account.home_account_id:
        return set()
    cache = msal.SerializableTokenCache()
    cache.deserialize(account.token_cache)
    entries = cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN,
                           query={'home_account_id': account.home_account_id})
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
    scopes = maildesk_settings(account.env)['scopes']
    return identity.start_auth_flow(app, scopes, redirect_uri, login_hint=account.email, state=state,
                                    response_mode='form_post')


def finish_sign_in(account, flow, params):
    """Redeem the callback for tokens in a fresh MSAL app (the new sign-in replaces previous tokens) and ask
    Graph ``/me`` who signed in, with the new access token. Nothing is stored.

    :return: ``(app, result, me)``: the app holding the new cache, MSAL's result (``username``,
        ``home_account_id``...) and the ``/me`` answer
    :raises FlowMismatch, AuthInvalid, GraphError: from :func:`identity.finish_auth_flow` and Graph
    """
    app = build_msal_app(account.env)
    result = identity.finish_auth_flow(app, flow, params)
    settings = maildesk_settings(account.env)
    access_token = result['access_token']
    client = GraphClient(settings['graph_url'], lambda force_refresh=False: access_token, verify=settings['verify'])
    return app, result, client.me()


def callback_error(params):
    """The exception for Microsoft's error answer to the sign-in (``error``, ``error_description``: cancelled,
    consent declined...), as if MSAL had returned it; nothing was redeemed."""
    return identity.auth_error({'error': params.get('error'), 'error_description': params.get('error_description')})


def store_tokens(account, app, result):
    """Keep the tokens of a completed sign-in on the account (system-only fields)."""
    account.sudo().write({'token_cache': app.cache.serialize(), 'home_account_id': result['home_account_id']})


def forget_tokens(account):
    """Drop the account's tokens (Disconnect, another address)."""
    account.sudo().write({'token_cache': False, 'home_account_id': False})


def _int_param(value, default):
    if value is False or value is None or value == '':  # get_param() of a parameter never saved
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
