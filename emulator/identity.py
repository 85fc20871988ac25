"""Microsoft identity platform v2 stand-in: OIDC discovery, instance discovery, authorize + consent page, token
endpoint (authorization_code with PKCE, refresh_token with rotation), opaque access tokens (graph-api.md §8-§10)."""
import base64
import hashlib
import html
import json
import secrets
import threading
import time
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit

from . import CLIENT_ID, CLIENT_SECRET, DOMAIN, TENANT_ID
from .util import Response, b64u, guid, network_fault, now

CONSUMERS_TID = '9188040d-6c67-4c5b-b112-36a304b66dad'  # graph-api.md §8.1 [OIDC]
TENANTS = ('common', 'organizations', 'consumers', TENANT_ID, DOMAIN, CONSUMERS_TID)
OIDC_SCOPES = ('openid', 'profile', 'offline_access', 'email')
# the .Shared permissions open other users' mailboxes the signed-in user was granted access to; users consent to
# them themselves, no admin consent (permissions-reference#mail-permissions on learn.microsoft.com)
SHARED_SCOPES = ('mail.read.shared', 'mail.readwrite.shared', 'mail.send.shared')
GRAPH_SCOPES = ('mail.read', 'mail.readwrite', 'mail.send', 'user.read', 'mail.readbasic') + SHARED_SCOPES
APP_PERMISSIONS = frozenset(GRAPH_SCOPES)
# graph-api.md §8.5 [AADSTS]: scenario -> (HTTP status, error, description). invalid_client observed as HTTP 401.
SCENARIOS = {
    '70008': (400, 'invalid_grant', 'The provided authorization code or refresh token has expired due to inactivity. '
                                    'Send a new interactive authorization request for this user and resource.'),
    '700082': (400, 'invalid_grant', 'The refresh token has expired due to inactivity. The token was issued on '
                                     '2024-01-01T00:00:00Z and was inactive for 90.00:00:00.'),
    '50173': (400, 'invalid_grant', 'The provided grant has expired due to it being revoked, a fresh auth token is '
                                    'needed. The user might have changed or reset their password.'),
    '54005': (400, 'invalid_grant', 'OAuth2 Authorization code was already redeemed, please retry with a new valid '
                                    'code or use an existing refresh token.'),
    '501481': (400, 'invalid_grant', 'The Code_Verifier does not match the code_challenge supplied in the '
                                     'authorization request.'),
    '70043': (400, 'invalid_grant', 'The refresh token has expired or is invalid due to sign-in frequency checks '
                                    'by conditional access.'),
    '9002313': (400, 'invalid_grant', 'Invalid request. Request is malformed or invalid.'),
    # graph-api.md §12: AADSTS65001 arrives as invalid_grant with suberror consent_required (MicrosoftDocs/
    # azure-docs issue 39189, Azure-Samples/ms-identity-javascript-tutorial issue 14 show the real body)
    '65001': (400, 'invalid_grant', "The user or administrator has not consented to use the application with ID "
                                    "'%s' named 'MailDesk'. Send an interactive authorization request for this "
                                    "user and resource." % CLIENT_ID),
    '50076': (400, 'interaction_required', 'Due to a configuration change made by your administrator, or because you '
                                           'moved to a new location, you must use multi-factor authentication to '
                                           'access this resource.'),
    '7000215': (401, 'invalid_client', 'Invalid client secret provided. Ensure the secret being sent in the request '
                                       'is the client secret value, not the client secret ID, for a secret added to '
                                       "app '%s'." % CLIENT_ID),
    '7000222': (401, 'invalid_client', "The provided client secret keys for app '%s' are expired." % CLIENT_ID),
    '7000218': (401, 'invalid_client', "The request body must contain the following parameter: 'client_assertion' "
                                       "or 'client_secret'."),
    '700016': (400, 'unauthorized_client', "Application with identifier '%s' was not found in the directory."),
    '50011': (400, 'invalid_request', "The redirect URI '%s' specified in the request does not match the redirect "
                                      "URIs configured for the application."),
    '900144': (400, 'invalid_request', "The request body must contain the following parameter: '%s'."),
    '70003': (400, 'unsupported_grant_type', 'The app requested an unsupported grant type.'),
    '70011': (400, 'invalid_scope', "The provided value for the input parameter 'scope' is not valid."),
    '90002': (400, 'invalid_tenant', "Tenant '%s' not found."),
    # graph-api.md §12: intermittent identity failures that succeed on retry
    '70000': (400, 'invalid_grant', 'The request was denied because one or more scopes requested are unauthorized '
                                    'or expired. The user must first sign in and grant the client application '
                                    'access to the requested scope.'),
    '90033': (503, 'temporarily_unavailable', 'A transient error has occurred. Please try again.'),
    '50196': (429, 'temporarily_unavailable', 'The server terminated an operation because it encountered a client '
                                              'request loop. Please contact your app vendor.'),
}
# Entra's spelling of the Graph permissions it puts in a token response's ``scope`` (graph-api.md §12)
CANONICAL = {'mail.read': 'Mail.Read', 'mail.readwrite': 'Mail.ReadWrite', 'mail.send': 'Mail.Send',
             'user.read': 'User.Read', 'mail.readbasic': 'Mail.ReadBasic', 'mail.read.shared': 'Mail.Read.Shared',
             'mail.readwrite.shared': 'Mail.ReadWrite.Shared', 'mail.send.shared': 'Mail.Send.Shared'}
# injected identity faults (POST /_emulator/faults with a path_contains on an identity path): HTTP status ->
# the AADSTS scenario whose flat body they carry (graph-api.md §8.5: identity errors are never Graph-shaped)
FAULT_SCENARIOS = {429: '50196', 500: '90033', 502: '90033', 503: '90033', 504: '90033', 400: '70000',
                   401: '7000215'}


def normalize_scope(scope):
    """'https://graph.microsoft.com/Mail.Read' | 'Mail.Read' -> 'mail.read' (resource prefix ending in / stripped)."""
    return scope.rsplit('/', 1)[-1].strip().lower()


def graph_scopes(scopes):
    out = set()
    for s in scopes:
        n = normalize_scope(s)
        if n == '.default':
            out |= APP_PERMISSIONS
        elif n in GRAPH_SCOPES:
            out.add(n)
    return frozenset(out)


def token_error(scenario, *args, correlation_id=None, status=None, error=None):
    """graph-api.md §8.5: {error, error_description "AADSTSnnnn: ...", error_codes, timestamp, trace_id,
    correlation_id, error_uri}."""
    code_status, code_error, text = SCENARIOS[scenario]
    if '%s' in text:
        text = text % (args or ('<redacted>',) * text.count('%s'))
    trace, corr = guid(), correlation_id or guid()
    ts = time.strftime('%Y-%m-%d %H:%M:%SZ', time.gmtime())
    body = {'error': error or code_error,
            'error_description': 'AADSTS%s: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s'
                                 % (scenario, text, trace, corr, ts),
            'error_codes': [int(scenario)], 'timestamp': ts, 'trace_id': trace, 'correlation_id': corr,
            'error_uri': 'https://login.microsoftonline.com/error?code=%s' % scenario}
    if scenario == '65001':
        body['suberror'] = 'consent_required'
    return Response(status or code_status, body, {'Cache-Control': 'no-store, no-cache', 'Pragma': 'no-cache'},
                    content_type='application/json; charset=utf-8')


def identity_fault_response(rule, req):
    """An injected fault on an identity endpoint, in the identity platform's flat error shape (graph-api.md §8.5,
    §12): {"error", "error_description", "error_codes", "timestamp", "trace_id", "correlation_id", "error_uri"}.
    ``rule['code']`` may name an AADSTS number (e.g. "90033"), ``rule['error']`` the ``error`` string."""
    broken = network_fault(rule)
    if broken:
        return broken
    status = int(rule.get('status', 503))
    scenario = str(rule.get('code') or FAULT_SCENARIOS.get(status, '90033'))
    if scenario not in SCENARIOS:
        scenario = FAULT_SCENARIOS.get(status, '90033')
    resp = token_error(scenario, correlation_id=req.header('client-request-id'), status=status,
                       error=rule.get('error'))
    if rule.get('retry_after') is not None:
        resp.headers['Retry-After'] = str(rule['retry_after'])
    return resp


def _split(uri):
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
        return parts
    except ValueError:
        return None


def redirect_uri_registered(uri, registered):
    """graph-api.md §12 / "Redirect URI (reply URL) restrictions" (learn.microsoft.com/entra/identity-platform/
    reply-url): exact, case-sensitive match with one registered URI; https only, except http for localhost /
    127.0.0.1 / [::1], whose port is ignored when matching."""
    parts = _split(uri)
    if parts is None or parts.fragment:
        return False
    loopback = (parts.hostname or '') in ('localhost', '127.0.0.1', '::1')
    if parts.scheme != 'https' and not (parts.scheme == 'http' and loopback):
        return False
    for reg in registered or ():
        if reg == uri:
            return True
        r = _split(reg) if loopback else None
        if r is not None and (r.scheme, r.hostname, r.path, r.query) == (
                parts.scheme, parts.hostname, parts.path, parts.query):
            return True
    return False


def entra_scope(graph, requested):
    """The ``scope`` of a token response as Entra writes it for Graph (graph-api.md §12): the short permission
    names in Entra's own case without the https://graph.microsoft.com/ prefix - every permission the user
    consented to for the app, not only those asked for (microsoftgraph/microsoft-graph-docs issue 5722) - plus
    ``email openid profile`` when openid was asked for (offline_access is never listed)."""
    out = {CANONICAL.get(g, g) for g in graph}
    if any(s.lower() == 'openid' for s in requested):
        out |= {'email', 'openid', 'profile'}
    return ' '.join(sorted(out))


def fake_jwt(claims):
    header = {'typ': 'JWT', 'alg': 'RS256', 'kid': 'emulator-key-1'}
    return '.'.join([b64u(json.dumps(header).encode()), b64u(json.dumps(claims, ensure_ascii=False).encode()),
                     b64u(hashlib.sha256(json.dumps(claims).encode()).digest())])  # dummy signature (§10)


class Identity:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        self.codes = {}
        self.refresh_tokens = {}
        self.access_tokens = {}
        self.revoked_at = {}          # user address -> time; refresh tokens issued before are revoked (AADSTS50173)
        self.consent = {'auto': None, 'user': None}
        self.injections = []          # [{"scenario","count","user","grant_type","error"}]
        self.consented = {}           # user address -> Graph permissions consented to (incremental consent)
        self.counters = {'total': 0, 'by_user': {}, 'by_grant': {}}
        self.seeded_oids = {}         # user address -> the oid it was seeded with (before set_identity)
        self.tenant_of = {}           # user address -> another tenant id than TENANT_ID (set_identity)

    # -- helpers ----------------------------------------------------------------------------------------------
    @property
    def base(self):
        return self.app.base_url

    def tid(self, mbx):
        return self.tenant_of.get(mbx.address.lower(), TENANT_ID)

    def client_info(self, mbx):
        return b64u(json.dumps({'uid': mbx.oid, 'utid': self.tid(mbx)}).encode())

    def set_identity(self, mbx, oid=None, tid=None):
        """Give the address another Entra identity, as when a user is deleted and another one created with the same
        address, or the address belongs to a user of another tenant: a new ``oid`` (client_info ``uid``, id_token
        ``oid`` and ``sub``, ``/me`` ``id``) and/or ``tid`` (client_info ``utid``, id_token ``tid``). None: back
        to the seeded value. Tokens issued before keep working."""
        key = mbx.address.lower()
        store = self.app.store
        with self.lock:
            seeded = self.seeded_oids.setdefault(key, mbx.oid)
            store.by_oid.pop(mbx.oid.lower(), None)
            mbx.oid = (oid or seeded).lower()
            store.by_oid[mbx.oid] = mbx
            if tid:
                self.tenant_of[key] = tid.lower()
            else:
                self.tenant_of.pop(key, None)
        return {'user': mbx.address, 'oid': mbx.oid, 'tid': self.tid(mbx)}

    def mint_access_token(self, mbx, scopes, lifetime=None):
        token = 'EwBoA8l6BAAU' + secrets.token_urlsafe(48)
        lifetime = self.app.config['token_lifetime'] if lifetime is None else lifetime
        with self.lock:
            self.access_tokens[token] = (mbx, graph_scopes(scopes), now() + lifetime)
        return token, lifetime

    def mint_refresh_token(self, mbx, scopes):
        token = '0.AXoA' + secrets.token_urlsafe(64)
        with self.lock:
            self.refresh_tokens[token] = {'user': mbx.address, 'scopes': list(scopes), 'issued': now(),
                                          'last_used': now(), 'client_id': CLIENT_ID}
        return token

    def check_access_token(self, header):
        """-> (mailbox, scopes) or (None, message) (graph-api.md §2.4 InvalidAuthenticationToken messages)."""
        if not header or not header.lower().startswith('bearer '):
            return None, 'Access token is empty.'
        token = header[7:].strip()
        if not token:
            return None, 'Access token is empty.'
        entry = self.access_tokens.get(token)
        if entry is None:
            return None, 'CompactToken parsing failed with error code: 80049217'
        if entry[2] < now():
            return None, 'Access token has expired or is not yet valid.'
        return entry[0], entry[1]

    # -- discovery (graph-api.md §8.7, §8.8, §9.2) ------------------------------------------------------------
    def openid_configuration(self, tenant):
        if tenant not in TENANTS:
            return token_error('90002', tenant)
        issuer_tid = '{tenantid}' if tenant in ('common', 'organizations', 'consumers') else (
            CONSUMERS_TID if tenant == CONSUMERS_TID else TENANT_ID)
        b = '%s/%s' % (self.base, tenant)
        body = {'token_endpoint': b + '/oauth2/v2.0/token',
                'token_endpoint_auth_methods_supported': ['client_secret_post', 'private_key_jwt',
                                                          'client_secret_basic'],
                'jwks_uri': b + '/discovery/v2.0/keys', 'response_modes_supported': ['query', 'fragment', 'form_post'],
                'subject_types_supported': ['pairwise'], 'id_token_signing_alg_values_supported': ['RS256'],
                'response_types_supported': ['code', 'id_token', 'code id_token', 'id_token token'],
                'scopes_supported': ['openid', 'profile', 'email', 'offline_access'],
                'issuer': '%s/%s/v2.0' % (self.base, issuer_tid), 'request_uri_parameter_supported': False,
                'userinfo_endpoint': self.app.graph_url.rsplit('/', 1)[0] + '/oidc/userinfo',
                'authorization_endpoint': b + '/oauth2/v2.0/authorize',
                'device_authorization_endpoint': b + '/oauth2/v2.0/devicecode', 'http_logout_supported': True,
                'frontchannel_logout_supported': True, 'end_session_endpoint': b + '/oauth2/v2.0/logout',
                'claims_supported': ['sub', 'iss', 'aud', 'exp', 'iat', 'nonce', 'preferred_username', 'name', 'tid',
                                     'oid', 'ver'],
                'tenant_region_scope': 'EU', 'cloud_instance_name': 'microsoftonline.com',
                'cloud_graph_host_name': 'graph.windows.net', 'msgraph_host': urlsplit(self.base).netloc,
                'rbac_url': 'https://pas.windows.net'}
        return Response(200, body, {'Cache-Control': 'max-age=86400, private', 'Access-Control-Allow-Origin': '*'},
                        content_type='application/json; charset=utf-8')

    def instance_discovery(self, query):
        endpoint = query.get('authorization_endpoint', '')
        parts = urlsplit(endpoint)
        # MSAL sends the authority host without its port (msal/authority.py uses the hostname only)
        if (parts.hostname or '').lower() != (urlsplit(self.base).hostname or '').lower():
            body = {'error': 'invalid_instance', 'error_description': 'AADSTS50049: Unknown or invalid instance.',
                    'error_codes': [50049], 'timestamp': '', 'trace_id': guid(), 'correlation_id': guid()}
            return Response(400, body)
        segs = [s for s in parts.path.split('/') if s]
        tenant = segs[0] if segs else 'common'
        host = urlsplit(self.base).netloc
        return Response(200, {'tenant_discovery_endpoint': '%s/%s/v2.0/.well-known/openid-configuration'
                                                           % (self.base, tenant),
                              'api-version': '1.1',
                              'metadata': [{'preferred_network': host, 'preferred_cache': host, 'aliases': [host]}]})

    # -- authorize + consent (graph-api.md §8.2) --------------------------------------------------------------
    def authorize(self, tenant, params):
        if tenant not in TENANTS:
            return self._error_page(400, '90002', "Tenant '%s' not found." % tenant)
        if params.get('client_id') != CLIENT_ID:
            return self._error_page(400, '700016', "Application with identifier '%s' was not found in the "
                                                   "directory '%s'." % (params.get('client_id'), DOMAIN))
        redirect_uri = params.get('redirect_uri', '')
        if not redirect_uri_registered(redirect_uri, self.app.config.get('redirect_uris')):
            # graph-api.md §12 (reply-url restrictions): exactly one of the app's registered URIs, https except
            # localhost. The URI can't be trusted, so the error is shown rather than redirected (§8.2)
            return self._error_page(400, '50011', "The redirect URI '%s' specified in the request does not match "
                                                  "the redirect URIs configured for the application '%s'. Make "
                                                  "sure the redirect URI sent in the request matches one added to "
                                                  "your application in the Azure portal."
                                    % (redirect_uri, CLIENT_ID))
        state = params.get('state')
        mode = params.get('response_mode') or 'query'
        if params.get('response_type') != 'code':
            return self.redirect(redirect_uri, mode, {'error': 'unsupported_response_type', 'error_description':
                                 'AADSTS70005: response_type must be code.', 'state': state})
        scopes = (params.get('scope') or '').split()
        if not scopes:
            return self.redirect(redirect_uri, mode, {'error': 'invalid_request', 'error_description':
                                 "AADSTS900144: The request body must contain the following parameter: 'scope'.",
                                 'state': state})
        bad = [s for s in scopes if normalize_scope(s) not in OIDC_SCOPES + GRAPH_SCOPES + ('.default',)]
        if bad:
            return self.redirect(redirect_uri, mode, {'error': 'invalid_scope', 'error_description':
                                 "AADSTS70011: The provided value for the input parameter 'scope' is not valid. "
                                 "The scope '%s' does not exist." % bad[0], 'state': state})
        method = params.get('code_challenge_method') or ('plain' if params.get('code_challenge') else None)
        if method not in (None, 'S256', 'plain'):
            return self.redirect(redirect_uri, mode, {'error': 'invalid_request', 'error_description':
                                 'AADSTS501491: Invalid code_challenge_method.', 'state': state})
        req = {k: params.get(k) for k in ('redirect_uri', 'scope', 'state', 'nonce', 'code_challenge', 'client_id',
                                          'login_hint', 'prompt')}
        req.update(response_mode=mode, code_challenge_method=method, tenant=tenant)
        auto = self.consent.get('auto')
        if auto:
            user = self.app.store.mailbox(self.consent.get('user') or params.get('login_hint'))
            user = user or self.app.store.mailboxes[0]
            return self.decide(req, user.address, auto)
        if params.get('prompt') == 'none':
            return self.redirect(redirect_uri, mode, {'error': 'login_required', 'error_description':
                                 'AADSTS50058: A silent sign-in request was sent but no user is signed in.',
                                 'state': state})
        return self._consent_page(tenant, req, params.get('login_hint'))

    def decide_form(self, tenant, form):
        req = self.app.store.sealer.open(form.get('request', ''))
        if not req or req.get('_stale') or req.get('tenant') != tenant:
            return self._error_page(400, '900144', 'The authorization request is missing or invalid.')
        return self.decide(req, form.get('user'), form.get('decision'))

    def decide(self, req, user_addr, decision):
        mode, redirect_uri = req['response_mode'], req['redirect_uri']
        if decision != 'accept':
            # graph-api.md §8.2: error redirect ?error=access_denied&error_description=...
            return self.redirect(redirect_uri, mode, {'error': 'access_denied', 'error_description':
                                 'AADSTS65004: User declined to consent to access the app.', 'state': req['state']})
        mbx = self.app.store.mailbox(user_addr)
        if mbx is None:
            return self._error_page(400, '50034', "The user account '%s' does not exist in the directory."
                                    % html.escape(str(user_addr)))
        if mbx.shared:
            # a shared mailbox's account has sign-in blocked ("About shared mailboxes": "Block sign-in for the
            # shared mailbox account"): Entra refuses it with AADSTS50057 (reference-error-codes)
            return self._error_page(400, '50057', 'The user account is disabled. The user object in Active '
                                    'Directory backing this account has been disabled.')
        code = '1.AXoA' + secrets.token_urlsafe(96)
        with self.lock:
            self.codes[code] = dict(req, user=mbx.address, created=now(), used=False)
        # graph-api.md §8.2: code + state (+ client_info, session_state observed when client_info=1)
        return self.redirect(redirect_uri, mode, {'code': code, 'state': req['state'],
                                                  'client_info': self.client_info(mbx), 'session_state': guid()})

    def redirect(self, uri, mode, params):
        params = {k: v for k, v in params.items() if v is not None}
        if mode == 'form_post':
            inputs = ''.join('<input type="hidden" name="%s" value="%s">' % (html.escape(k), html.escape(v))
                             for k, v in params.items())
            page = ('<!DOCTYPE html><html><head><title>Working...</title></head><body onload="document.forms[0]'
                    '.submit()"><form method="POST" name="hiddenform" action="%s">%s<noscript><p>Script is '
                    'disabled. Click Submit to continue.</p><input type="submit" value="Submit"></noscript></form>'
                    '</body></html>' % (html.escape(uri), inputs))
            return Response(200, page, content_type='text/html; charset=utf-8')
        sep = '#' if mode == 'fragment' else ('&' if '?' in uri else '?')
        return Response(302, b'', {'Location': uri + sep + urlencode(params)})

    def _error_page(self, status, code, message):
        page = ('<!DOCTYPE html><html><head><meta charset="utf-8"><title>Sign in error</title></head><body>'
                '<h1 id="error">Sorry, but we\'re having trouble signing you in.</h1><p id="error-code">AADSTS%s: %s'
                '</p></body></html>' % (code, html.escape(message)))
        return Response(status, page, content_type='text/html; charset=utf-8')

    def _consent_page(self, tenant, req, login_hint):
        sealed = self.app.store.sealer.seal(req)
        hint = (login_hint or '').lower()
        options = ''.join('<option value="%s"%s>%s &lt;%s&gt;</option>' % (
            html.escape(m.address), ' selected' if m.address.lower() == hint else '', html.escape(m.name),
            html.escape(m.address)) for m in self.app.store.mailboxes)
        scopes = ''.join('<li>%s</li>' % html.escape(s) for s in (req['scope'] or '').split())
        page = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Sign in to your account</title>
<style>body{font-family:Segoe UI,Arial,sans-serif;background:#f2f2f2}main{max-width:440px;margin:60px auto;
background:#fff;padding:32px;box-shadow:0 2px 6px rgba(0,0,0,.2)}button{padding:8px 20px;margin-right:8px}
#accept{background:#0067b8;color:#fff;border:0}select{width:100%%;padding:6px;margin:8px 0 16px}</style></head>
<body><main><h1>Microsoft (emulated)</h1><p>Pick an account, then review the permissions requested by
<b>MailDesk</b>.</p><form id="consent-form" method="POST" action="%s/%s/oauth2/v2.0/authorize/decide">
<input type="hidden" name="request" value="%s"><label for="user">Account</label>
<select id="user" name="user">%s</select><p>This app would like to:</p><ul id="scopes">%s</ul>
<button id="accept" class="accept" type="submit" name="decision" value="accept">Accept</button>
<button id="cancel" class="cancel" type="submit" name="decision" value="cancel">Cancel</button></form></main>
</body></html>""" % (self.base, html.escape(tenant), html.escape(sealed), options, scopes)
        return Response(200, page, content_type='text/html; charset=utf-8')

    # -- token endpoint (graph-api.md §8.3-§8.6, §9.4, §9.6) --------------------------------------------------
    def token(self, tenant, req):
        form = dict(parse_qsl(req.body.decode('utf-8', 'replace'), keep_blank_values=True))
        corr = req.header('client-request-id')
        if tenant not in TENANTS:
            return token_error('90002', tenant, correlation_id=corr)
        client_id, secret = form.get('client_id'), form.get('client_secret')
        auth = req.header('Authorization') or ''
        if auth.lower().startswith('basic '):  # graph-api.md §8.3: HTTP Basic client auth also supported
            try:
                basic_id, _, basic_secret = base64.b64decode(auth[6:]).decode().partition(':')
                client_id, secret = unquote_plus(basic_id), unquote_plus(basic_secret)
            except (ValueError, UnicodeDecodeError):
                return token_error('9002313', correlation_id=corr)
        grant = form.get('grant_type') or ''
        # identify the user (without consuming anything) so injected errors can target one
        user = None
        if grant == 'authorization_code':
            user = (self.codes.get(form.get('code') or '') or {}).get('user')
        elif grant == 'refresh_token':
            user = (self.refresh_tokens.get(form.get('refresh_token') or '') or {}).get('user')
        with self.lock:
            self.counters['total'] += 1
            self.counters['by_grant'][grant] = self.counters['by_grant'].get(grant, 0) + 1
            if user:
                self.counters['by_user'][user] = self.counters['by_user'].get(user, 0) + 1
            injected = self._take_injection(user, grant)
        if injected:
            return token_error(injected['scenario'], correlation_id=corr, error=injected.get('error'))
        if not client_id:
            return token_error('900144', 'client_id', correlation_id=corr)
        if client_id != CLIENT_ID:
            return token_error('700016', client_id, correlation_id=corr)
        if not secret:
            return token_error('7000218', correlation_id=corr)
        if secret != CLIENT_SECRET:
            return token_error('7000215', correlation_id=corr)  # graph-api.md §8.5: wrong secret, HTTP 401
        if grant == 'authorization_code':
            return self._grant_code(form, corr)
        if grant == 'refresh_token':
            return self._grant_refresh(form, corr)
        if not grant:
            return token_error('900144', 'grant_type', correlation_id=corr)
        return token_error('70003', correlation_id=corr)

    def _take_injection(self, user, grant):
        for inj in self.injections:
            if inj['count'] <= 0:
                continue
            if inj.get('user') and (user or '').lower() != inj['user'].lower():
                continue
            if inj.get('grant_type') and inj['grant_type'] != grant:
                continue
            inj['count'] -= 1
            return inj
        return None

    def _grant_code(self, form, corr):
        code = form.get('code')
        if not code:
            return token_error('900144', 'code', correlation_id=corr)
        with self.lock:
            rec = self.codes.get(code)
            if rec is None:
                return token_error('9002313', correlation_id=corr)
            if rec['used']:
                return token_error('54005', correlation_id=corr)  # §8.5: code already redeemed (one-time)
            if rec['created'] + self.app.config['code_lifetime'] < now():
                return token_error('70008', correlation_id=corr)  # §8.2: codes live ~10 minutes
            if form.get('redirect_uri') != rec['redirect_uri']:
                return token_error('50011', form.get('redirect_uri'), correlation_id=corr)  # §8.3: same URI
            if rec.get('code_challenge'):
                verifier = form.get('code_verifier') or ''
                if rec['code_challenge_method'] == 'S256':
                    ok = b64u(hashlib.sha256(verifier.encode()).digest()) == rec['code_challenge']
                else:
                    ok = verifier == rec['code_challenge']
                if not ok:
                    return token_error('501481', correlation_id=corr)  # §8.5: PKCE mismatch
            granted = rec['scope'].split()
            requested = (form.get('scope') or rec['scope']).split()
            if not graph_scopes(requested) <= graph_scopes(granted):
                return token_error('65001', correlation_id=corr)
            rec['used'] = True
            # consent given on the sign-in page stays with the user + app (incremental consent)
            user = rec['user'].lower()
            self.consented[user] = self.consented.get(user, frozenset()) | graph_scopes(granted)
        mbx = self.app.store.mailbox(rec['user'])
        return self._success(mbx, requested, form, nonce=rec.get('nonce'), granted=granted)

    def _grant_refresh(self, form, corr):
        token = form.get('refresh_token')
        if not token:
            return token_error('900144', 'refresh_token', correlation_id=corr)
        with self.lock:
            rec = self.refresh_tokens.get(token)
            if rec is None:
                return token_error('9002313', correlation_id=corr)
            if rec['issued'] <= self.revoked_at.get(rec['user'].lower(), 0):
                return token_error('50173', correlation_id=corr)  # §8.5/§8.6: revoked grant
            if rec['last_used'] + self.app.config['refresh_token_lifetime'] < now():
                return token_error('700082', correlation_id=corr)  # §8.5: expired from inactivity
            requested = (form.get('scope') or ' '.join(rec['scopes'])).split()
            consented = graph_scopes(rec['scopes']) | self.consented.get(rec['user'].lower(), frozenset())
            if not graph_scopes(requested) <= consented:
                return token_error('65001', correlation_id=corr)  # asking for more than was consented
            rec['last_used'] = now()
        mbx = self.app.store.mailbox(rec['user'])
        return self._success(mbx, requested, form, granted=rec['scopes'])

    def _success(self, mbx, requested, form, nonce=None, granted=None):
        # the access token carries every Graph permission the user consented to for the app, and the response's
        # ``scope`` says so in Entra's form (graph-api.md §12, microsoftgraph/microsoft-graph-docs issue 5722)
        graph = graph_scopes(requested) | self.consented.get(mbx.address.lower(), frozenset())
        access, lifetime = self.mint_access_token(mbx, sorted(graph))
        # RT only with offline_access, id_token only with openid (graph-api.md §8.4)
        scope = entra_scope(graph, requested) if self.app.config.get('token_scope') != 'echo' else ' '.join(requested)
        body = {'token_type': 'Bearer', 'scope': scope, 'expires_in': int(lifetime),
                'ext_expires_in': int(lifetime), 'access_token': access}
        low = [s.lower() for s in requested]
        if 'offline_access' in low:
            body['refresh_token'] = self.mint_refresh_token(mbx, granted or requested)  # §8.6: rotated on use
        if 'openid' in low:
            t = int(now())
            tid = self.tid(mbx)
            claims = {'aud': CLIENT_ID, 'iss': '%s/%s/v2.0' % (self.base, tid), 'iat': t, 'nbf': t,
                      'exp': t + 3600, 'name': mbx.name, 'oid': mbx.oid, 'preferred_username': mbx.address,
                      'sub': b64u(hashlib.sha256(mbx.oid.encode()).digest())[:43], 'tid': tid, 'ver': '2.0'}
            if nonce:
                claims['nonce'] = nonce  # graph-api.md §9.4: echo the authorize nonce verbatim (sha256 hex)
            body['id_token'] = fake_jwt(claims)
        if form.get('client_info') == '1':
            body['client_info'] = self.client_info(mbx)
        return Response(200, body, {'Cache-Control': 'no-store, no-cache', 'Pragma': 'no-cache'},
                        content_type='application/json; charset=utf-8')

    def revoke(self, user, access_tokens=False):
        with self.lock:
            self.revoked_at[user.lower()] = now()
            if access_tokens:
                for tok, entry in list(self.access_tokens.items()):
                    if entry[0].address.lower() == user.lower():
                        del self.access_tokens[tok]
