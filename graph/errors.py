"""The one exception taxonomy of the Graph layer, and the one place that maps HTTP failures onto it.

Callers (the Odoo models) branch on the exception *class*, never on a status code or a Graph error code.
Every message is built from the HTTP status, the Graph ``error.code`` and the first line of Graph's
``error.message`` only: never from request bodies, URLs (delta links carry state tokens) or access tokens.
"""
import email.utils
import math
import time

MAX_MESSAGE_LENGTH = 300

# Graph spells one condition several ways (``ErrorItemNotFound`` vs ``itemNotFound``, ``SyncStateNotFound`` vs
# ``syncStateNotFound``), so every code comparison below is done on lower-cased codes.
SYNC_STATE_CODES = frozenset({'syncstatenotfound', 'resyncrequired', 'syncstateinvalid'})
BAD_SYNC_TOKEN_TEXT = 'badly formed token'


class GraphError(Exception):
    """Base of every failure the graph package raises.

    :param status: HTTP status, or None when no response arrived
    :param code: Graph error code (outermost), or an MSAL ``error`` value
    :param message: short, secret-free text meant for logs and ``last_error`` fields
    :param retry_after: seconds the server asked us to wait, when it said so
    """

    def __init__(self, message='', status=None, code=None, retry_after=None):
        self.status = status
        self.code = code
        self.message = message or self.__class__.__name__
        self.retry_after = retry_after
        super().__init__(self.message)


class AuthExpired(GraphError):
    """401 even after one token refresh and retry: the access token is not accepted."""


class AuthInvalid(GraphError):
    """The grant itself is unusable: the user must authorize again (or the admin fix the app registration).

    ``kind`` is one of :data:`AUTH_INVALID_KINDS`; ``error_codes`` keeps the AADSTS numbers MSAL returned.
    """

    def __init__(self, kind='other', message='', status=None, code=None, error_codes=None):
        self.kind = kind
        self.error_codes = list(error_codes or [])
        super().__init__(message or 'authorization is not valid (%s)' % kind, status=status, code=code or kind)


AUTH_INVALID_KINDS = frozenset({
    'invalid_grant', 'interaction_required', 'consent_required', 'invalid_client', 'access_denied',
    'no_account', 'other',
})


class FlowMismatch(AuthInvalid, ValueError):
    """The OAuth callback does not belong to the flow we started (state or nonce mismatch): possible CSRF.

    Also a ValueError, which is what MSAL raises for it and what callers may already catch.
    """

    def __init__(self, message='the sign-in response does not match the sign-in request'):
        super().__init__(kind='other', message=message, code='flow_mismatch')


class AccessDenied(GraphError):
    """403: a permission or consent is missing. Retrying will not help."""


class Throttled(GraphError):
    """429/503 whose wait exceeds what this process may sleep. Try again after ``retry_after`` seconds."""


class SyncStateExpired(GraphError):
    """The delta link is no longer valid: drop it and start a new initial round for the folder."""


class NotFound(GraphError):
    """404: the item (or folder) is gone, or was moved away under a non-immutable id."""


class Transient(GraphError):
    """Server errors, timeouts and dropped connections that persisted through the client's retries."""


class BadResponse(GraphError):
    """A success status with a body that is not JSON or not the documented shape."""


class NotRun(GraphError):
    """424 inside a JSON batch: not run, because the request it depended on failed. Sending it again may work."""


class RequestTooLarge(GraphError):
    """413: the request body is too large (e.g. an attachment that needs an upload session)."""


def classify(status, body, headers=None):
    """Map one failed HTTP response onto the taxonomy. The only place where status codes are interpreted.

    :param int status: HTTP status code
    :param body: the decoded JSON body, or None (any other shape is tolerated)
    :param headers: response headers (a dict or requests' case-insensitive dict), or None
    :return: a :class:`GraphError` instance (not raised)
    """
    codes, messages = _error_codes_and_messages(body)
    code = codes[0] if codes else None
    text = _message_text(status, code, messages[0] if messages else '')
    lowered_codes = {c.lower() for c in codes}
    lowered_messages = ' '.join(messages).lower()
    if status == 410 or lowered_codes & SYNC_STATE_CODES:
        return SyncStateExpired(text, status=status, code=code)
    if status == 400 and (BAD_SYNC_TOKEN_TEXT in lowered_messages
                          or any(BAD_SYNC_TOKEN_TEXT in c for c in lowered_codes)):
        return SyncStateExpired(text, status=status, code=code)
    if status in (429, 503):
        retry_after = parse_retry_after(_header(headers, 'Retry-After'))
        return Throttled(text, status=status, code=code, retry_after=retry_after)
    exception_class = _STATUS_CLASSES.get(status)
    if exception_class is None and isinstance(status, int) and status >= 500:
        exception_class = Transient
    return (exception_class or GraphError)(text, status=status, code=code)


_STATUS_CLASSES = {
    401: AuthExpired,
    403: AccessDenied,
    404: NotFound,
    413: RequestTooLarge,
    424: NotRun,
}


def parse_retry_after(value, now=None):
    """Seconds to wait from a ``Retry-After`` header value, or None when absent or unreadable.

    Graph sends integers and fractional seconds (``2.128``); HTTP also allows an HTTP-date.
    """
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        return _seconds_until_http_date(text, now)
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def _seconds_until_http_date(text, now):
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment is None:
        return None
    now = time.time() if now is None else now
    try:
        return max(0.0, moment.timestamp() - now)
    except (OverflowError, OSError, ValueError):
        return None


def _error_codes_and_messages(body):
    """Codes and messages of ``error`` and its nested ``innerError``/``innererror`` chain, outermost first."""
    codes, messages = [], []
    node = body.get('error') if isinstance(body, dict) else None
    depth = 0
    # Bounded walk: a hostile or buggy body could nest thousands of levels.
    while isinstance(node, dict) and depth < 10:
        code, message = node.get('code'), node.get('message')
        if isinstance(code, str) and code.strip():
            codes.append(code.strip())
        if isinstance(message, str) and message.strip():
            messages.append(message.strip())
        node = _inner_error(node)
        depth += 1
    return codes, messages


def _inner_error(node):
    for key, value in node.items():
        if isinstance(key, str) and key.lower() == 'innererror':
            return value
    return None


def _message_text(status, code, message):
    first_line = message.splitlines()[0] if message else ''
    parts = ['Graph HTTP %s' % status]
    if code:
        parts.append(code)
    text = ' '.join(parts)
    if first_line:
        text = '%s: %s' % (text, first_line)
    return _shorten(text)


def _shorten(text, limit=MAX_MESSAGE_LENGTH):
    text = text.replace('\x00', '')
    return text if len(text) <= limit else text[:limit - 1] + '…'


def _header(headers, name):
    if not headers:
        return None
    try:
        items = headers.items()
    except AttributeError:
        return None
    wanted = name.lower()
    for key, value in items:
        if isinstance(key, str) and key.lower() == wanted:
            return value
    return None
