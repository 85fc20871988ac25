"""Microsoft identity platform through MSAL: app factory, auth-code flow (PKCE, state, nonce), silent refresh.

MSAL owns the tokens; we own the HTTP (a requests session with our TLS settings) and map every MSAL outcome
onto :mod:`.errors`. MSAL *returns* protocol errors as dicts and *raises* for misuse and network failures;
both end up as :class:`AuthInvalid` or :class:`Transient` here.

Counting failures (for an account's ``auth_invalid`` state): MSAL caches an identical failing token POST for
60 s (HTTP 400) or Retry-After seconds (429/5xx) per app instance, and answers repeats from that cache without
a network call. So count *attempts* (e.g. one per cron run, each with a freshly built :class:`App`), not calls:
several calls within a minute on one App are one failure seen several times, and a fixed refresh token does
not recover sooner by being retried in a loop.
"""
import base64
import binascii
import contextlib
import json
import logging
import os
import ssl
import threading
import time
from urllib.parse import urlsplit

import msal
import requests
from urllib3.util.ssl_ import create_urllib3_context

from .errors import AuthInvalid, FlowMismatch, Transient

_logger = logging.getLogger(__name__)

# Hosts MSAL knows itself; any other authority (ADFS-like or the emulator) must skip instance discovery, which
# would otherwise ask login.microsoftonline.com about it.
MICROSOFT_LOGIN_HOSTS = frozenset({
    'login.microsoftonline.com', 'login.microsoftonline.us', 'login.chinacloudapi.cn',
    'login.partner.microsoftonline.cn', 'login-us.microsoftonline.com',
})
# MSAL adds these itself and refuses them in the scope list.
RESERVED_SCOPES = frozenset({'openid', 'profile', 'offline_access'})
KNOWN_ERROR_KINDS = frozenset({
    'invalid_grant', 'interaction_required', 'consent_required', 'invalid_client', 'access_denied',
})
# Refinements by AADSTS number where the ``error`` value is less specific than the situation.
KIND_BY_AADSTS = {65001: 'consent_required', 50076: 'interaction_required', 50079: 'interaction_required'}
TRANSIENT_ERRORS = frozenset({'temporarily_unavailable', 'server_error'})
MAX_DESCRIPTION_LENGTH = 300


@contextlib.contextmanager
def _network_errors_as_transient():
    """MSAL lets requests' exceptions through and raises MsalServiceError for HTTP >= 500 from the token endpoint."""
    try:
        yield
    except requests.RequestException as exc:
        raise Transient('identity platform unreachable: %s' % type(exc).__name__, code='network') from None
    except msal.exceptions.MsalServiceError:
        raise Transient('identity platform server error', code='server_error') from None


class TlsSession(requests.Session):
    """A requests session that applies ``verify`` and ``timeout`` to every request, and reads the environment once.

    A plain session reads the environment again on every request -- every variable, for the proxies and NO_PROXY,
    and ``~/.netrc`` -- about a tenth of a no-change sync cycle's CPU. This one reads what requests would
    (``requests.utils.get_environ_proxies``, NO_PROXY honoured) once per scheme and host, and ``REQUESTS_CA_BUNDLE`` /
    ``CURL_CA_BUNDLE`` once, when no ``verify`` is given; ``.netrc`` credentials are never used (Microsoft's
    services take bearer tokens, which a netrc entry would replace).
    """

    def __init__(self, verify=None, timeout=30):
        super().__init__()
        self.trust_env = False  # the environment is read here, once (see the class docstring)
        if verify is None:
            verify = os.environ.get('REQUESTS_CA_BUNDLE') or os.environ.get('CURL_CA_BUNDLE') or None
        self.tls_verify = verify
        self.default_timeout = timeout
        self._environ_proxies = {}  # (scheme, host) -> proxies, as requests reads them
        for prefix in ('https://', 'http://'):
            self.mount(prefix, HostPoolAdapter())

    def request(self, method, url, **kwargs):
        if self.tls_verify is not None:
            kwargs['verify'] = self.tls_verify
        if kwargs.get('timeout') is None:
            kwargs['timeout'] = self.default_timeout
        if kwargs.get('proxies') is None:
            kwargs['proxies'] = self._proxies_for(url)
        return super().request(method, url, **kwargs)

    def _proxies_for(self, url):
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        if key not in self._environ_proxies:
            self._environ_proxies[key] = requests.utils.get_environ_proxies(url)
        return self._environ_proxies[key]


_trust_stores = {}  # path of a CA bundle file -> ((mtime_ns, size), SSLContext with that file's CAs loaded)
_trust_stores_lock = threading.Lock()


def verifying_context(ca_file):
    """A client ``SSLContext`` that verifies against the CA bundle file ``ca_file``, shared by every connection of
    the process that verifies against that same file as it is now.

    urllib3 builds a context for each new connection and loads the bundle into it: with OpenSSL 3 that is 25-30 ms
    of CPU for a system bundle of 140 CAs (https://github.com/python/cpython/issues/95031), paid by the first
    requests of every cron run that opens a connection. requests 2.32 shares one loaded context for its default
    bundle for that reason (https://github.com/psf/requests/pull/6667); this does it for the configured bundle too.
    The file's size and modification time are part of the key: a bundle an administrator replaces is read again
    (the concern raised on https://github.com/urllib3/urllib3/pull/4983). Nothing else is ever loaded into a
    shared context (see :meth:`HostPoolAdapter.cert_verify`), and hostnames are still matched per connection.
    """
    stat = os.stat(ca_file)  # follows symlinks: a bundle swapped behind a link is a new version too
    version = (stat.st_mtime_ns, stat.st_size)
    with _trust_stores_lock:
        kept = _trust_stores.get(ca_file)
        if kept and kept[0] == version:
            return kept[1]
    context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
    context.load_verify_locations(cafile=ca_file)  # outside the lock: a slow load never holds other threads
    with _trust_stores_lock:
        _trust_stores[ca_file] = (version, context)
    return context


class HostPoolAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter, finding the connection pool from the URL's scheme, host and port alone, whose new
    connections share one loaded CA bundle (:func:`verifying_context`).

    The stock one has urllib3 parse the whole URL once more for that, percent-checking it byte by byte in Python:
    a delta link is 300 characters or more, and a no-change cycle is one such request per folder. Requests through
    a proxy keep the stock path."""

    def cert_verify(self, conn, url, verify, cert):
        super().cert_verify(conn, url, verify, cert)
        conn_kw = getattr(conn, 'conn_kw', None)
        if conn_kw is None:
            return  # a plain-HTTP pool
        # requests has just checked that ``ca_certs`` exists and is not a directory
        shareable = (conn.cert_reqs == 'CERT_REQUIRED' and conn.ca_certs and not conn.ca_cert_dir and not cert
                     and getattr(conn, 'proxy', None) is None)
        if shareable:
            # urllib3 loads ``ca_certs`` into the context of each new connection: the shared context already holds
            # exactly that file, so nothing is loaded into it (no other CA, no client certificate ever lands there)
            conn_kw['ssl_context'] = verifying_context(conn.ca_certs)
            conn.ca_certs = None
        else:
            # anything else (no verification, a CA directory, a client certificate): urllib3's own context per
            # connection, as stock requests does -- a shared context would carry that connection's settings
            conn_kw.pop('ssl_context', None)

    def get_connection(self, url, proxies=None):
        if requests.utils.select_proxy(url, proxies):
            return super().get_connection(url, proxies)
        parts = urlsplit(url)
        host = parts.hostname or ''
        if ':' in host:
            host = '[%s]' % host  # an IPv6 literal, as urllib3 names its pool
        return self.poolmanager.connection_from_host(host, port=parts.port, scheme=parts.scheme.lower())


class App:
    """An MSAL confidential client plus its serializable token cache (one per account and process, rebuilt after
    a failure: see ``engine/client_pool.py``)."""

    def __init__(self, msal_app, cache):
        self.msal = msal_app
        self.cache = cache

    def cache_state(self):
        """The serialized token cache if it changed since loaded/last saved (persist it), else None."""
        if not self.cache.has_state_changed:
            return None
        return self.cache.serialize()  # also resets has_state_changed


def build_app(client_id, client_secret, authority, cache_state=None, verify=None, timeout=30, http_client=None):
    """Build the MSAL app; MSAL fetches the authority's OpenID configuration right here.

    :param authority: e.g. ``https://login.microsoftonline.com/common`` or the emulator's authority
    :param cache_state: the string previously returned by :meth:`App.cache_state`
    :param http_client: a :class:`TlsSession` to use (e.g. one shared with Graph); default: a new one
    :raises AuthInvalid: the authority is unusable (kind ``other``)
    :raises Transient: the authority could not be reached
    """
    cache = msal.SerializableTokenCache()
    if cache_state:
        try:
            cache.deserialize(cache_state)
        except (ValueError, TypeError):
            # An unreadable cache means no account: the user is asked to authorize again.
            _logger.warning('MSAL token cache could not be read; starting with an empty cache')
    options = msal_options(authority)
    try:
        with _network_errors_as_transient():
            msal_app = msal.ConfidentialClientApplication(
                client_id, client_credential=client_secret, authority=authority, token_cache=cache,
                http_client=http_client or TlsSession(verify=verify, timeout=timeout), **options)
    except ValueError:
        # MSAL: malformed authority URL, or a 4xx answer to its OpenID configuration request.
        raise AuthInvalid('other', 'the sign-in authority is not valid') from None
    return App(msal_app, cache)


def msal_options(authority):
    """Extra ConfidentialClientApplication options for an authority: no instance discovery off Microsoft hosts."""
    host = (urlsplit(authority).hostname or '').lower()
    return {} if host in MICROSOFT_LOGIN_HOSTS else {'instance_discovery': False}


def graph_scopes(write_back, graph_url):
    """Full-URL Graph scopes for the Graph host in use (global, national clouds, emulator).

    Entra answers with its own form (short names such as ``Mail.ReadWrite`` plus ``email openid profile``), which
    MSAL files the access token under, so its exact-string cache lookup misses (msal-python issue 450):
    :func:`acquire_token` compares by permission name instead.
    """
    parts = urlsplit(graph_url)
    resource = '%s://%s' % (parts.scheme, parts.netloc)
    names = ('Mail.ReadWrite' if write_back else 'Mail.Read', 'Mail.Send', 'User.Read')
    return ['%s/%s' % (resource, name) for name in names]


def shared_scopes(write_back, graph_url):
    """The ``.Shared`` Graph scopes that open shared and delegated mailboxes (``/users/{address}``) the signed-in
    user was granted access to in Exchange: ``Mail.ReadWrite.Shared`` (or ``Mail.Read.Shared``) and
    ``Mail.Send.Shared``. Users consent to them themselves, no admin consent (learn.microsoft.com/graph/
    permissions-reference#mail-permissions); asked for at sign-in so adding a shared mailbox needs no new consent.
    """
    parts = urlsplit(graph_url)
    resource = '%s://%s' % (parts.scheme, parts.netloc)
    names = ('Mail.ReadWrite.Shared' if write_back else 'Mail.Read.Shared', 'Mail.Send.Shared')
    return ['%s/%s' % (resource, name) for name in names]


def start_auth_flow(app, scopes, redirect_uri, login_hint=None, state=None, response_mode=None):
    """Start the auth-code flow (PKCE, state, nonce). Keep the returned dict server-side until the callback;
    redirect the user to ``flow['auth_uri']``."""
    scopes = [scope for scope in scopes if scope not in RESERVED_SCOPES]
    return app.msal.initiate_auth_code_flow(
        scopes, redirect_uri=redirect_uri, login_hint=login_hint, state=state, response_mode=response_mode)


def finish_auth_flow(app, flow, params):
    """Redeem the callback parameters for tokens (stored in ``app.cache``).

    :param dict params: the callback's query (or form_post) parameters
    :return: ``{'access_token', 'username', 'home_account_id', 'id_token_claims'}``
    :raises FlowMismatch: state or nonce does not match the flow (stale tab, CSRF)
    :raises AuthInvalid: the user declined or the code could not be redeemed
    :raises Transient: the identity platform could not be reached
    """
    try:
        with _network_errors_as_transient():
            result = app.msal.acquire_token_by_auth_code_flow(flow, dict(params or {}))
    except (ValueError, RuntimeError):
        # ValueError: state mismatch / missing code; RuntimeError: id_token nonce mismatch.
        raise FlowMismatch() from None
    _raise_for_error(result)
    claims = result.get('id_token_claims') or {}
    return {
        'access_token': result.get('access_token'),
        'username': claims.get('preferred_username') or claims.get('upn') or claims.get('email') or '',
        'home_account_id': _home_account_id(app, result, claims),
        'id_token_claims': claims,
    }


def acquire_token(app, scopes, home_account_id, force_refresh=False):
    """An access token for the cached account, refreshed (and the refresh token rotated) when needed.

    After a call, persist :meth:`App.cache_state` when it is not None: the new refresh token lives there.

    :raises AuthInvalid: no such account in the cache (kind ``no_account``) or the grant was refused
    :raises Transient: the identity platform could not be reached or had a server error
    """
    account = _find_account(app, home_account_id)
    if account is None:
        raise AuthInvalid('no_account', 'no signed-in account in the token cache')
    if not force_refresh:
        cached = _cached_access_token(app, account, scopes)
        if cached:
            return cached
    with _network_errors_as_transient():
        result = app.msal.acquire_token_silent_with_error(list(scopes), account, force_refresh=force_refresh)
    if not result:
        # MSAL found neither a usable access token nor a refresh token for these scopes.
        raise AuthInvalid('no_account', 'no usable token in the cache for these scopes')
    _raise_for_error(result)
    return result['access_token']


def scope_name(scope):
    """A scope's permission name, lower-cased: ``https://graph.microsoft.com/Mail.Read`` and ``Mail.Read`` are
    both ``mail.read`` (Entra writes the granted scopes in its short form, whatever form was asked for)."""
    scope = str(scope).strip()
    if '://' in scope:
        scope = scope.rstrip('/').rsplit('/', 1)[-1]
    return scope.lower()


def _cached_access_token(app, account, scopes):
    """A cached access token of ``account`` granting every scope asked for (compared by :func:`scope_name`),
    valid for 5 more minutes and not due for refresh (MSAL's own rules), else None: MSAL then refreshes."""
    wanted = {scope_name(scope) for scope in scopes} - RESERVED_SCOPES
    now = time.time()
    entries = app.cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN, query={
        'home_account_id': account.get('home_account_id'), 'client_id': app.msal.client_id})
    for entry in entries:
        if (entry.get('environment') or '').lower() != (account.get('environment') or '').lower():
            continue
        if int(entry.get('expires_on') or 0) - now < 5 * 60:
            continue
        if entry.get('refresh_on') and int(entry['refresh_on']) < now:
            continue
        if wanted <= {scope_name(scope) for scope in (entry.get('target') or '').split()}:
            return entry.get('secret') or None
    return None


def remove_account(app, home_account_id):
    """Forget the account's tokens (Disconnect). Returns True if an account was removed."""
    account = _find_account(app, home_account_id)
    if account is None:
        return False
    app.msal.remove_account(account)
    return True


def auth_error(result):
    """The exception for an MSAL error dict: kind from ``error``, AADSTS numbers kept, no trace ids in text."""
    error = str(result.get('error') or 'other')
    error_codes = [code for code in result.get('error_codes') or () if isinstance(code, int)]
    message = '%s: %s' % (error, _first_line(result.get('error_description'))) if result.get(
        'error_description') else error
    if error in TRANSIENT_ERRORS:
        return Transient(message, code=error)
    kind = next((KIND_BY_AADSTS[code] for code in error_codes if code in KIND_BY_AADSTS), None)
    if kind is None:
        kind = error if error in KNOWN_ERROR_KINDS else ('invalid_client' if error == 'unauthorized_client'
                                                         else 'other')
    return AuthInvalid(kind, message, code=error, error_codes=error_codes)


def _raise_for_error(result):
    if isinstance(result, dict) and 'error' in result:
        raise auth_error(result)
    if not isinstance(result, dict) or not result.get('access_token'):
        raise AuthInvalid('other', 'the identity platform returned no access token')


def _first_line(description):
    # Microsoft appends "Trace ID / Correlation ID / Timestamp" lines; users need only the first one.
    lines = str(description).strip().splitlines()
    line = lines[0].strip() if lines else ''
    return line if len(line) <= MAX_DESCRIPTION_LENGTH else line[:MAX_DESCRIPTION_LENGTH - 1] + '…'


def _find_account(app, home_account_id):
    if not home_account_id:
        return None
    for account in app.msal.get_accounts():
        if account.get('home_account_id') == home_account_id:
            return account
    return None


def _home_account_id(app, result, claims):
    """The id MSAL filed the account under: ``uid.utid`` from client_info, else the id_token ``sub``.

    Cross-checked against the cache so a server that omits client_info still yields a usable id.
    """
    candidate = _client_info_id(result.get('client_info')) or claims.get('sub')
    accounts = app.msal.get_accounts()
    if any(account.get('home_account_id') == candidate for account in accounts):
        return candidate
    username = (claims.get('preferred_username') or '').lower()
    for account in accounts:
        if username and (account.get('username') or '').lower() == username:
            return account.get('home_account_id')
    return candidate


def _client_info_id(client_info):
    if not isinstance(client_info, str):
        return None
    try:
        info = json.loads(base64.urlsafe_b64decode(client_info + '=' * (-len(client_info) % 4)))
    except (ValueError, binascii.Error, TypeError):
        return None
    if isinstance(info, dict) and info.get('uid') and info.get('utid'):
        return '%s.%s' % (info['uid'], info['utid'])
    return None
