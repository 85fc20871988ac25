"""A hostile Microsoft Graph in front of the emulator, for the hostile-input tests (a helper, no test case).

:class:`HostileGraph` is a real HTTPS server on 127.0.0.1 (the emulator's certificate, so MailDesk's CA bundle
trusts it) that forwards every Graph request to the emulator and returns its answer with the links rewritten to
itself -- except for the delta pages of the folders a test marks as hostile, where it

* injects queued malformed items into the page's ``value`` (:meth:`inject_items`), or
* answers with a queued raw body instead of the emulator's (:meth:`queue_wire`): invalid UTF-8, not JSON, wrong
  shapes, a nextLink to another host...

Nothing in MailDesk is patched: its Graph client talks HTTPS to this server as it would to Microsoft.
:class:`EvilListener` is another HTTPS server that only records who calls it (a nextLink pointing there must never
receive a request, let alone the mailbox's token).
"""
import json
import os
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

import requests

FORWARDED_REQUEST_HEADERS = ('Authorization', 'Prefer', 'Accept', 'Content-Type', 'client-request-id')
FORWARDED_RESPONSE_HEADERS = ('Retry-After', 'Location', 'Content-Type', 'Preference-Applied', 'WWW-Authenticate')


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def _https_server(state_dir, handler_class):
    server = _Server(('127.0.0.1', 0), handler_class)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(os.path.join(state_dir, 'server.pem'), os.path.join(state_dir, 'server-key.pem'))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, name='maildesk-hostile-graph', daemon=True)
    thread.start()
    return server, 'https://127.0.0.1:%d' % server.server_address[1]


class HostileGraph:
    """``with HostileGraph(emulator) as graph: ...`` -- ``graph.graph_url`` replaces the emulator's in settings."""

    def __init__(self, emulator):
        self.emulator = emulator
        self.lock = threading.Lock()
        self.items = {}       # folder graph id -> [items still to inject]
        self.per_page = {}    # folder graph id -> items injected per page
        self.wire = {}        # folder graph id -> [(name, status, content type, body)]
        self.served = []      # (folder id, what) for each hostile answer
        self.requests = 0
        self.session = requests.Session()
        hostile = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *args):
                pass

            def _any(self):
                hostile._handle(self)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _any

        self.server, self.base_url = _https_server(emulator.state_dir, Handler)
        self.graph_url = self.base_url + '/v1.0'

    # ------------------------------------------------------------------ configuration by tests

    def inject_items(self, folder_id, items, per_page):
        with self.lock:
            self.items.setdefault(folder_id, []).extend(items)
            self.per_page[folder_id] = per_page

    def queue_wire(self, folder_id, *bodies):
        with self.lock:
            self.wire.setdefault(folder_id, []).extend(bodies)

    def pending(self, folder_id):
        with self.lock:
            return len(self.items.get(folder_id, ())), len(self.wire.get(folder_id, ()))

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # ------------------------------------------------------------------ serving

    def _folder_of(self, path):
        """The hostile folder a delta request is about, if any."""
        if '/messages/delta' not in path:
            return None
        decoded = unquote(path)
        with self.lock:
            for folder_id in set(self.items) | set(self.wire):
                if folder_id in decoded:
                    return folder_id
        return None

    def _handle(self, request):
        with self.lock:
            self.requests += 1
        length = int(request.headers.get('Content-Length') or 0)
        body = request.rfile.read(length) if length else None
        folder_id = self._folder_of(request.path) if request.command == 'GET' else None
        wire = None
        if folder_id:
            with self.lock:
                queue = self.wire.get(folder_id)
                wire = queue.pop(0) if queue else None
        if wire:
            name, status, content_type, raw = wire
            here = self.base_url + request.path
            raw = raw.replace(b'{next}', here.encode()).replace(b'{evil}', self.evil_url.encode())
            with self.lock:
                self.served.append((folder_id, name))
            return self._reply(request, status, raw, {'Content-Type': content_type})
        headers = {name: request.headers[name] for name in FORWARDED_REQUEST_HEADERS if request.headers.get(name)}
        try:
            upstream = self.session.request(request.command, self.emulator.base_url + request.path, data=body,
                                            headers=headers, verify=self.emulator.ca_bundle, timeout=60,
                                            allow_redirects=False)
        except requests.RequestException:
            return self._reply(request, 502, b'', {})
        raw = upstream.content.replace(self.emulator.base_url.encode(), self.base_url.encode())
        if folder_id and upstream.status_code == 200:
            raw = self._inject(folder_id, raw)
        out = {name: upstream.headers[name].replace(self.emulator.base_url, self.base_url)
               for name in FORWARDED_RESPONSE_HEADERS if upstream.headers.get(name)}
        return self._reply(request, upstream.status_code, raw, out)

    def _inject(self, folder_id, raw):
        with self.lock:
            queue = self.items.get(folder_id) or []
            batch, self.items[folder_id] = queue[:self.per_page.get(folder_id, 100)], queue[
                self.per_page.get(folder_id, 100):]
        if not batch:
            return raw
        page = json.loads(raw)
        page['value'] = list(page.get('value') or []) + batch
        with self.lock:
            self.served.append((folder_id, 'items:%d' % len(batch)))
        # allow_nan: NaN / Infinity are part of the hostile input; surrogates travel as \\ud800 escapes
        return json.dumps(page, allow_nan=True).encode('utf-8')

    def _reply(self, request, status, raw, headers):
        request.send_response(status)
        for name, value in headers.items():
            request.send_header(name, value)
        request.send_header('Content-Length', str(len(raw)))
        request.end_headers()
        if request.command != 'HEAD':
            request.wfile.write(raw)

    @property
    def evil_url(self):
        return getattr(self, '_evil_url', 'https://127.0.0.1:9/v1.0/me/mailFolders/steal')

    def set_evil(self, url):
        self._evil_url = url


class EvilListener:
    """An HTTPS listener on another port that records every request (path, whether a bearer token came)."""

    def __init__(self, state_dir):
        self.calls = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *args):
                pass

            def do_GET(self):
                listener.calls.append((self.path, bool(self.headers.get('Authorization'))))
                self.send_response(200)
                self.send_header('Content-Type', 'application/json')
                body = b'{"value": [], "@odata.deltaLink": "https://127.0.0.1:9/x"}'
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server, self.base_url = _https_server(state_dir, Handler)
        self.url = self.base_url + '/v1.0/me/mailFolders/steal/messages/delta'

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
