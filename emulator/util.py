"""Small shared helpers: time formatting, opaque sealed tokens, request/response objects."""
import base64
import datetime as _dt
import hashlib
import hmac
import json
import time
import uuid
import zlib


def now():
    return time.time()


def iso(ts):
    """graph-api.md §4.1: DateTimeOffset is ISO 8601, always UTC, e.g. 2014-01-01T00:00:00Z."""
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(ts))


def parse_iso(value):
    """Parse an OData DateTimeOffset literal (Z / offset / date only) to epoch seconds, or raise ValueError."""
    value = value.strip().strip("'")
    if len(value) == 10:
        value += 'T00:00:00'
    dt = _dt.datetime.fromisoformat(value.replace('Z', '+00:00').replace('z', '+00:00'))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=_dt.timezone.utc)
    return dt.timestamp()


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode('ascii')


def b64u_dec(text):
    text = text.strip()
    return base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))


def guid():
    return str(uuid.uuid4())


class Sealer:
    """Opaque, tamper-evident tokens (delta skip/delta tokens, authorize requests, upload urls)."""

    def __init__(self, secret):
        self.key = hashlib.sha256(('emulator:' + str(secret)).encode()).digest()

    def seal(self, obj):
        data = zlib.compress(json.dumps(obj, separators=(',', ':')).encode(), 6)
        mac = hmac.new(self.key, data, hashlib.sha256).digest()[:12]
        return b64u(mac + data)

    def open(self, token):
        try:
            raw = b64u_dec(token)
            mac, data = raw[:12], raw[12:]
            obj = json.loads(zlib.decompress(data))
            if not hmac.compare_digest(mac, hmac.new(self.key, data, hashlib.sha256).digest()[:12]):
                return {'_stale': True}  # well-formed but sealed by another emulator process / key
            return obj
        except Exception:  # noqa: BLE001 - anything malformed is simply "not a token"
            return None


class Request:
    __slots__ = (
        'base_url',
        'body',
        'client',
        'headers',
        'mailbox',
        'method',
        'path',
        'query',
        'raw_query',
        'scopes',
        'template',
        'user',
    )

    def __init__(self, method, path, query, raw_query, headers, body, base_url):
        self.method = method
        self.path = path
        self.query = query
        self.raw_query = raw_query
        self.headers = headers
        self.body = body
        self.base_url = base_url
        self.user = None
        self.mailbox = None
        self.template = None
        self.scopes = frozenset()

    def header(self, name, default=None):
        return self.headers.get(name, default)

    def json(self):
        if not self.body:
            return {}
        return json.loads(self.body.decode('utf-8'))

    def prefer(self):
        """Parse every Prefer header into {lower-name: value}; graph-api.md §4.2 (IdType is case-insensitive)."""
        out = {}
        for raw in self.headers.get_all('Prefer') or []:
            for part in raw.split(','):
                part = part.strip()
                if not part:
                    continue
                name, _, value = part.partition('=')
                out[name.strip().lower()] = value.strip().strip('"')
        return out


class Response:
    __slots__ = ('body', 'delay', 'drop', 'headers', 'status')

    def __init__(self, status=200, body=b'', headers=None, content_type=None):
        self.status = status
        self.headers = dict(headers or {})
        self.drop = False
        self.delay = 0.0
        if isinstance(body, (dict, list)):
            body = json.dumps(body, ensure_ascii=False, separators=(',', ':')).encode('utf-8')
            content_type = content_type or 'application/json; odata.metadata=minimal; charset=utf-8'
        elif isinstance(body, str):
            body = body.encode('utf-8')
        self.body = body
        if content_type:
            self.headers['Content-Type'] = content_type


def graph_error(status, code, message, headers=None, request=None, inner=None):
    """graph-api.md §2.1: {"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}."""
    inner_error = {'date': iso(now()), 'request-id': guid(),
                   'client-request-id': (request.header('client-request-id') if request else None) or guid()}
    if inner:
        inner_error.update(inner)
    body = {'error': {'code': code, 'message': message, 'innerError': inner_error}}
    hdrs = {'request-id': inner_error['request-id'], 'client-request-id': inner_error['client-request-id']}
    hdrs.update(headers or {})
    return Response(status, body, hdrs)


class GraphFail(Exception):
    """Raised inside handlers; converted into a Graph JSON error response."""

    def __init__(self, status, code, message, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def network_fault(rule):
    """The Response of a fault rule that breaks the connection itself (``status`` drop / timeout / delay), else
    None: drop closes it at once, timeout after ``delay`` s (1 by default), delay answers normally later."""
    status = rule.get('status')
    if status not in ('drop', 'timeout', 'delay'):
        return None
    resp = Response(0)
    resp.delay = float(rule.get('delay', 0 if status == 'drop' else 1.0))
    resp.drop = status != 'delay'
    return resp
