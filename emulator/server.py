"""HTTPS server (stdlib ThreadingHTTPServer + ssl, HTTP/1.1 keep-alive) and request routing."""
import contextlib
import email.utils
import json
import socket
import ssl
import sys
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote

from . import CLIENT_ID, CLIENT_SECRET, GRAPH_APP_ID, TENANT_ID, attachments, batch, control, graph_api, graph_write
from .identity import Identity, identity_fault_response
from .permissions import check_mailbox_access
from .subscriptions import Subscriptions
from .util import GraphFail, Request, Response, graph_error

DEFAULT_CONFIG = {
    'token_lifetime': 3599,            # graph-api.md §8.4: expires_in ~3599
    'code_lifetime': 600,              # graph-api.md §8.2: codes live ~10 minutes
    'refresh_token_lifetime': 90 * 86400,  # graph-api.md §8.6: 90 days (inactivity)
    'max_concurrency': 4,              # graph-api.md §2.5 [THR]: 4 concurrent requests per app per mailbox
    'concurrency_retry_after': '1',
    'mailbox_budget': None,            # graph-api.md §2.5 [THRL]: 10000 / 10 min; None = count only, don't enforce
    'budget_retry_after': '30',
    'max_message_size': 150 * 1024 * 1024,  # graph-api.md §4.5 [LARGE]: up to 150 MB
    # graph-api.md §12: "The maximum request length supported is 4MB" -> 413 (O365/python-o365 issue 472,
    # microsoftgraph/microsoft-graph-docs-contrib issue 3816)
    'max_request_size': 4 * 1024 * 1024,
    # "iteratively upload ranges of bytes (up to 4 MB each time)" - attachment: createUploadSession,
    # https://learn.microsoft.com/graph/api/attachment-createuploadsession; graph-api.md §12: each under 4 MB
    'max_upload_range': 4 * 1024 * 1024,
    # the app registration's redirect URIs, matched exactly (case-sensitive path); http only for localhost /
    # 127.0.0.1, whose port is ignored ("Redirect URI (reply URL) restrictions and limitations",
    # https://learn.microsoft.com/entra/identity-platform/reply-url) -> AADSTS50011 otherwise
    'redirect_uris': ['https://maildesk.test/maildesk/oauth/callback', 'https://odoo.test/maildesk/oauth/callback',
                      'http://localhost/maildesk/oauth/callback', 'http://127.0.0.1/maildesk/oauth/callback'],
    # graph-api.md §12: a token response's ``scope`` in Entra's form ("entra": short Graph names in Entra's case,
    # every consented permission, + email openid profile). "echo" = the requested strings (an older, kinder
    # emulator; only for tests that still need it)
    'token_scope': 'entra',
    'delta_token_ttl': None,           # graph-api.md §1.8: lifetime "not fixed"; None = never expires by itself
    'strict_idtype_tokens': False,     # graph-api.md §1.8 observed SyncStateInvalid on IdType switch (opt-in)
    'stale_nextlinks': False,          # graph-api.md §1.8 observed: older nextLinks of a round -> 410 (opt-in)
    'latency': 0.0,                    # artificial per-request latency (seconds) for Graph calls
    'null_mail_users': [],             # graph-api.md §7: /me.mail is null for personal (MSA) accounts
    # change notifications (emulator/subscriptions.py): Outlook message subscriptions live 10,080 minutes at most
    # (subscription resource type); Graph takes only https notification URLs, http on loopback is let through for
    # Odoo's test server (MailDesk never sends such a URL to Microsoft's clouds)
    'push_max_lifetime_minutes': 10080,
    'push_http_loopback': True,
    # a MIME reply sent now is filed in a conversation of its own even though the message it answers is in the
    # mailbox: "Sometimes the Conversation ID changes when a user replies to an email" (Microsoft Q&A); off:
    # replies join their parent's conversation (graph_write.join_conversation)
    'conversation_drift': False,
}

# The realistic mode (graph-api.md §12): what Microsoft documents or is publicly reported to do. ``realistic``
# (on by default; ``--no-realistic`` / ``{"realistic": false}``) sets every knob below at once; each knob can
# then be set on its own. KIND is the deterministic, "kind" service older tests were written against.
REALISTIC = {
    # "Updated instances are represented by their id with at least the properties that have been updated"
    # (Use delta query to track changes, https://learn.microsoft.com/graph/delta-query-overview); a read toggle
    # came back as id, isRead, parentFolderId only (microsoftgraph/microsoft-graph-docs issue 7776)
    'delta_sparse_updates': True,
    # "The same entity may appear more than once in a response" / replays (delta-query-overview; duplicates
    # observed: microsoftgraph/microsoft-graph-docs issue 3611): share of pages repeating one of their items
    'delta_duplicate_share': 0.1,
    # share of pages that start again with the last item(s) of the page before (replays, delta-query-overview)
    'delta_replay_share': 0.1,
    # "a response can be empty ... a nextLink means more pages" (delta-query-overview; long runs of empty pages:
    # microsoftgraph/microsoft-graph-docs-contrib issue 1316): share of pages served empty with a nextLink
    'delta_empty_page_share': 0.1,
    # "The number of objects in each page can vary" (delta-query-overview): page sizes vary below the
    # Prefer: odata.maxpagesize the client asked for
    'delta_page_jitter': True,
    # Outlook delta tokens are evicted, lifetime "not fixed" (delta-query-overview, graph-api.md §1.8): a deltaLink
    # older than this (seconds) answers 410 SyncStateNotFound
    'delta_link_ttl': 3600,
    # "the GET ... may not succeed immediately" after send (Obtain immutable identifiers for Outlook resources,
    # https://learn.microsoft.com/graph/outlook-immutable-id): the Sent Items copy appears this many seconds
    # after send / sendMail / reply / forward; meanwhile the draft's id answers 404
    'sent_copy_delay': 2.0,
    # immutable ids, moved A -> B -> A between rounds: @removed in A and not re-reported until changed again
    # (microsoftgraph/microsoft-graph-docs-contrib issue 72)
    'delta_move_back_removed': True,
    # change notifications arrive "near real time" (no published latency, Microsoft Q&A 1533722): seconds,
    # jittered 0.5x-1.5x; delivery is not guaranteed and may repeat (lifecycle "missed",
    # https://learn.microsoft.com/graph/change-notifications-lifecycle-events): shares of lost / doubled ones
    'push_delay': 1.0,
    'push_drop_share': 0.02,
    'push_duplicate_share': 0.05,
}
KIND = {'delta_sparse_updates': False, 'delta_duplicate_share': 0.0, 'delta_replay_share': 0.0,
        'delta_empty_page_share': 0.0, 'delta_page_jitter': False, 'delta_link_ttl': None, 'sent_copy_delay': 0.0,
        'delta_move_back_removed': False, 'push_delay': 0.0, 'push_drop_share': 0.0, 'push_duplicate_share': 0.0}


def apply_config(config, values):
    """``values`` over ``config``: ``realistic`` first sets every knob (REALISTIC / KIND), then single knobs."""
    values = dict(values)
    if 'realistic' in values:
        realistic = bool(values.pop('realistic'))
        config.update(REALISTIC if realistic else KIND)
        config['realistic'] = realistic
    config.update(values)
    return config


class App:
    def __init__(self, store, config=None, verbose=False):
        self.store = store
        self.config = apply_config(dict(DEFAULT_CONFIG, realistic=True, **REALISTIC), config or {})
        self.startup_config = dict(self.config)  # what /_emulator/neutral puts the realism knobs back to
        self.identity = Identity(self)
        self.faults = control.Faults(store.seed)
        self.counters = control.Counters()
        self.uploads = attachments.Uploads(self)
        self.subscriptions = Subscriptions(self)
        self.verbose = verbose
        self.base_url = self.graph_url = self.authority = ''
        self.ca_bundle = None

    def bind(self, base_url, ca_bundle):
        self.base_url = base_url
        self.graph_url = base_url + '/v1.0'
        self.authority = base_url + '/common'
        self.ca_bundle = ca_bundle

    def info(self):
        return {'base_url': self.base_url, 'authority': self.authority, 'graph_url': self.graph_url,
                'ca_bundle': self.ca_bundle, 'client_id': CLIENT_ID, 'client_secret': CLIENT_SECRET,
                'tenant_id': TENANT_ID, 'users': [m.address for m in self.store.mailboxes if not m.shared],
                'shared_mailboxes': [m.address for m in self.store.mailboxes if m.shared],
                'control_url': self.base_url + '/_emulator', 'realistic': bool(self.config.get('realistic'))}

    # -- dispatch ---------------------------------------------------------------------------------------------
    def handle(self, req):
        path = req.path
        if path.startswith('/_emulator/') or path == '/_emulator':
            return control.handle(self, req)
        if path == '/v1.0/$batch':
            return self.batch(req)
        if path.startswith('/v1.0/') or path == '/v1.0':
            return self.graph(req)
        fault = self.faults.match(req, None)  # identity / upload paths: only rules with a matching path_contains
        if fault:
            if path.startswith('/upload/'):
                resp = control.fault_response(fault, req)  # the upload URL is Outlook's: Graph-shaped errors
            else:
                # graph-api.md §8.5 / §12: the identity platform answers in its own flat shape
                resp = identity_fault_response(fault, req)
            if resp.status != 0:
                return resp
            time.sleep(resp.delay)  # drop / timeout: after the delay the connection is cut; delay: answer late
            if resp.drop:
                return resp
        if path.startswith('/upload/'):
            with self.store.lock:
                result = self.uploads.handle(req, path[len('/upload/'):])
            if isinstance(result, GraphFail):
                return graph_error(result.status, result.code, result.message, result.headers, req)
            return result
        return self.identity_route(req)

    def identity_route(self, req):
        segs = list(path_segments(req.path))
        ident = self.identity
        if not segs:
            return Response(200, '<!DOCTYPE html><html><body><h1>MailDesk Microsoft emulator</h1><pre>%s</pre>'
                            '</body></html>' % json.dumps(self.info(), indent=2),
                            content_type='text/html; charset=utf-8')
        tenant, rest = segs[0], segs[1:]
        if rest == ['discovery', 'instance']:
            self.counters.identity('instance-discovery')
            return ident.instance_discovery(req.query)  # graph-api.md §8.8 / §9.2
        if rest in (['v2.0', '.well-known', 'openid-configuration'], ['.well-known', 'openid-configuration']):
            self.counters.identity('openid-configuration')
            return ident.openid_configuration(tenant)  # graph-api.md §8.7 / §9.2
        if rest in (['discovery', 'v2.0', 'keys'], ['discovery', 'keys']):
            return Response(200, {'keys': []})
        if rest == ['oauth2', 'v2.0', 'authorize']:
            params = dict(req.query)
            if req.method == 'POST':
                params.update(parse_qsl(req.body.decode('utf-8', 'replace'), keep_blank_values=True))
            return ident.authorize(tenant, params)
        if rest == ['oauth2', 'v2.0', 'authorize', 'decide'] and req.method == 'POST':
            return ident.decide_form(tenant, dict(parse_qsl(req.body.decode('utf-8', 'replace'))))
        if rest == ['oauth2', 'v2.0', 'token']:
            self.counters.identity('token')
            if req.method != 'POST':
                return Response(405, {'error': 'invalid_request', 'error_description': 'AADSTS900561: The endpoint '
                                      'only accepts POST requests.'})
            return ident.token(tenant, req)
        if rest == ['oauth2', 'v2.0', 'logout']:
            return Response(200, '<html><body><p id="signed-out">You signed out of your account.</p></body></html>',
                            content_type='text/html; charset=utf-8')
        return Response(404, {'error': 'not_found', 'error_description': 'No such identity endpoint.'})

    def batch(self, req):
        """JSON batching (emulator/batch.py): the batch itself is authenticated and counted, then each request."""
        req.template = 'POST /v1.0/$batch'
        mbx, scopes = self.identity.check_access_token(req.header('Authorization'))
        self.counters.record(req.template, mbx.address if mbx else None)
        if mbx is None:
            return graph_error(401, 'InvalidAuthenticationToken', scopes, request=req)
        fault = self.faults.match(req, mbx.address, whole_batch=True)
        failed = _fault_answer(fault, req) if fault else None
        return failed or batch.handle(self, req, mbx)

    def graph(self, req):
        limit = self.config.get('max_request_size')
        if limit and len(req.body) > limit:
            # graph-api.md §12: a body over 4 MB -> 413 "The maximum request length supported is 4MB."
            # (O365/python-o365 issue 472; microsoftgraph/microsoft-graph-docs-contrib issue 3816)
            return graph_error(413, 'BadRequest', 'The maximum request length supported is 4MB.', request=req)
        segs = graph_api.split_path(req.path[len('/v1.0'):])
        if segs[:1] == ['subscriptions']:
            return self.subscriptions.handle(req, segs[1:])  # not under /me: change notifications
        template, target, rest = graph_api.route(segs)
        if template is None:
            return graph_error(400, 'BadRequest', 'Invalid request.', request=req)
        req.template = '%s %s' % (req.method, template)
        mbx, scopes = self.identity.check_access_token(req.header('Authorization'))
        if mbx is None:
            self.counters.record(req.template, None)
            # graph-api.md §2.4: 401 InvalidAuthenticationToken + WWW-Authenticate naming Graph's app id
            challenge = 'Bearer realm="", authorization_uri="%s/oauth2/authorize", client_id="%s"' % (
                self.authority, GRAPH_APP_ID)
            return graph_error(401, 'InvalidAuthenticationToken', scopes, {'WWW-Authenticate': challenge}, req)
        req.scopes = scopes
        caller = mbx
        if target[0] == 'users':
            owner = self.store.mailbox(target[1])
            if owner is None:
                # graph-api.md §2.4: an address no mailbox has -> 404 ErrorInvalidUser
                return graph_error(404, 'ErrorInvalidUser', "The requested user '%s' is invalid." % target[1],
                                   request=req)
            denied = check_mailbox_access(self.store, caller, owner, rest)
            if denied:
                self.counters.record(req.template, owner.address)
                return graph_error(*denied, request=req)
            mbx = owner
            link_base = '%s/users/%s' % (self.graph_url, quote(target[1], safe='@'))
        else:
            link_base = self.graph_url + '/me'
        user = mbx.address
        if not mbx.exchange_online and rest:
            # graph-api.md §2.4 / §12: a user without an Exchange Online mailbox (on-premises, unlicensed, guest)
            # -> 404 MailboxNotEnabledForRESTAPI on every mail call (iyear/E5SubBot issue 39,
            # microsoftgraph/microsoft-graph-docs-contrib issue 405); /me (the directory user) still answers
            self.counters.record(req.template, user)
            return graph_error(404, 'MailboxNotEnabledForRESTAPI',
                               'The mailbox is either inactive, soft-deleted, or is hosted on-premise.', request=req)
        in_window = self.counters.record(req.template, user)
        fault = self.faults.match(req, user)
        n = self.counters.enter(user)
        try:
            if self.config['latency']:
                time.sleep(self.config['latency'])
            failed = _fault_answer(fault, req, _fresh_delta_link(link_base, rest)) if fault else None
            if failed:
                return failed
            if n > self.config['max_concurrency']:
                # graph-api.md §2.4/§2.5: over 4 concurrent requests for one mailbox -> 429 ApplicationThrottled
                return graph_error(429, 'ApplicationThrottled', 'Application is over its MailboxConcurrency limit.',
                                   {'Retry-After': str(self.config['concurrency_retry_after'])}, req)
            budget = self.config['mailbox_budget']
            if budget and in_window > budget:
                return graph_error(429, 'ApplicationThrottled', 'Application is over its MailboxRequests limit.',
                                   {'Retry-After': str(self.config['budget_retry_after'])}, req)
            ctx = graph_api.Ctx(self, req, mbx, link_base, caller)
            try:
                with self.store.lock:
                    graph_write.settle(self.store)  # Sent Items copies whose delay is over (graph-api.md §12)
                    result = graph_api.dispatch(ctx, req.method, rest)
            except GraphFail as exc:
                return graph_error(exc.status, exc.code, exc.message, exc.headers, req)
            if isinstance(result, Response):
                return result
            return Response(200, result)
        finally:
            self.counters.leave(user)


def _fault_answer(fault, req, fresh_link=None):
    """What a fault rule answers instead of Graph: an error, a dropped connection, or None (a delay, then the
    normal answer)."""
    resp = control.fault_response(fault, req, fresh_link)
    if resp.status == 0:  # drop / timeout / delay
        time.sleep(resp.delay)
        return resp if resp.drop else None
    return resp


def _fresh_delta_link(link_base, rest):
    low = [s.lower() for s in rest]
    if low[-1:] == ['delta']:
        if len(rest) >= 4:
            return "%s/mailFolders('%s')/messages/delta" % (link_base, rest[1])
        return link_base + '/mailFolders/delta'
    return None


def path_segments(path):
    return [s for s in path.split('/') if s]


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'  # keep-alive; every response carries Content-Length
    server_version = 'Microsoft-HTTPAPI/2.0'
    sys_version = ''
    timeout = 900

    def log_message(self, fmt, *args):
        if self.server.app.verbose:
            sys.stderr.write('%s - %s\n' % (self.address_string(), fmt % args))

    def _serve(self):
        app = self.server.app
        if not getattr(self, 'counted', False):  # one handler per connection: its first request counts it
            self.counted = True
            if not self.path.startswith('/_emulator'):
                app.counters.connection()
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length) if length else b''
        path, _, raw_query = self.path.partition('?')
        query = dict(parse_qsl(raw_query, keep_blank_values=True))
        req = Request(self.command, path, query, raw_query, self.headers, body, app.base_url)
        cpu = time.thread_time()
        try:
            resp = app.handle(req)
            resp.headers['X-Emulator-Cpu-Ms'] = '%.1f' % ((time.thread_time() - cpu) * 1000)
        except Exception as exc:  # noqa: BLE001 - a bug must surface as a 500, never kill the connection thread
            import traceback
            traceback.print_exc(file=sys.stderr)
            resp = graph_error(500, 'generalException', 'Emulator error: %s' % exc, request=req)
        if resp.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if not path.startswith('/_emulator'):
            app.counters.status(resp.status)
        self._write(resp)

    def _write(self, resp):
        try:
            phrase = HTTPStatus(resp.status).phrase
        except ValueError:
            phrase = 'Status'
        headers = resp.headers
        lines = ['HTTP/1.1 %d %s' % (resp.status, phrase), 'Date: ' + email.utils.formatdate(usegmt=True),
                 'Server: ' + self.server_version, 'Content-Length: %d' % len(resp.body)]
        if resp.body and 'Content-Type' not in headers:
            headers['Content-Type'] = 'application/octet-stream'
        for k, v in headers.items():
            lines.append('%s: %s' % (k, v))
        if self.close_connection or (self.headers.get('Connection', '').lower() == 'close'):
            lines.append('Connection: close')
            self.close_connection = True
        head = ('\r\n'.join(lines) + '\r\n\r\n').encode('utf-8')
        self.wfile.write(head + resp.body)  # one write: no Nagle / delayed-ACK stall between header and body

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _serve


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, app, port, ssl_ctx):
        self.app = app
        self.ssl_ctx = ssl_ctx
        super().__init__(('127.0.0.1', port), Handler)  # loopback only

    def finish_request(self, request, client_address):
        """TLS handshake in the connection's own thread (a slow client never blocks accept)."""
        try:
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            request.settimeout(30)
            conn = self.ssl_ctx.wrap_socket(request, server_side=True)
            conn.settimeout(None)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(conn, client_address, self)
        except (ConnectionError, ssl.SSLError, OSError):
            pass
        finally:
            with contextlib.suppress(OSError):
                conn.close()

    def handle_error(self, request, client_address):
        if self.app.verbose:
            super().handle_error(request, client_address)
