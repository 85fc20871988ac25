"""GraphClient: the only code that talks HTTP to Microsoft Graph.

One ``requests.Session`` per client, one retry loop (:meth:`GraphClient._request`), one error mapping
(:func:`errors.classify`). Delta and paging links are opaque: they are GETted verbatim, never parsed or built.
"""
import base64
import collections
import json
import logging
import random
import threading
import time
from urllib.parse import quote, urlsplit

import requests
import urllib3

from . import batch, collector, outgoing
from .errors import AuthExpired, BadResponse, GraphError, NotFound, Throttled, Transient, classify
from .mail import MESSAGE_SELECT
from .outgoing import SMALL_ATTACHMENT_LIMIT

_logger = logging.getLogger(__name__)

Page = collections.namedtuple('Page', 'items next_link delta_link')
Page.__doc__ = """One page of a delta round: ``items`` (raw Graph dicts, incl. ``@removed`` markers), and exactly one
of ``next_link`` (more pages follow, even when ``items`` is empty) or ``delta_link`` (the round is complete)."""

# Outlook allows 4 concurrent requests per app and mailbox; more are answered 429 MailboxConcurrency.
MAX_IN_FLIGHT_PER_MAILBOX = 4
# Ranges of an upload session: a multiple of 320 KiB, under the 4 MB Graph refuses (12 x 320 KiB = 3.75 MB)
UPLOAD_CHUNK_SIZE = 12 * 320 * 1024
FOLDER_PAGE_SIZE = 100
MAX_FOLDERS = 10000  # a safety net against a server that keeps inventing folders
MAX_COLLECTION_PAGES = 1000  # pages of one listing (folders, attachments): far above any real mailbox
WELL_KNOWN_FOLDERS = ('inbox', 'sentitems', 'drafts', 'deleteditems', 'archive', 'junkemail')
REPLY_KINDS = {'reply': 'Reply', 'replyAll': 'ReplyAll', 'forward': 'Forward'}
IDEMPOTENT_METHODS = frozenset({'GET', 'PUT', 'PATCH', 'DELETE', 'HEAD'})
RETRYABLE_SERVER_STATUSES = frozenset({500, 502, 504})
# Failures of the connection itself (incl. a body cut off mid-way), worth a short retry.
NETWORK_FAILURES = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError)

_semaphores = {}
_semaphores_lock = threading.Lock()


def mailbox_semaphore(mailbox_key):
    """The process-wide semaphore bounding concurrent requests for one mailbox (shared by all its clients)."""
    with _semaphores_lock:
        semaphore = _semaphores.get(mailbox_key)
        if semaphore is None:
            semaphore = _semaphores[mailbox_key] = threading.BoundedSemaphore(MAX_IN_FLIGHT_PER_MAILBOX)
        return semaphore


class GraphClient:
    """Microsoft Graph mail client for one mailbox, usable from several threads.

    :param str graph_url: Graph base URL incl. version, e.g. ``https://graph.microsoft.com/v1.0`` (national
        clouds and the emulator differ); a URL without a path gets ``/v1.0``
    :param token_provider: ``callable(force_refresh: bool) -> str`` returning an access token; it is called
        once lazily and with ``force_refresh=True`` after a 401
    :param verify: CA bundle path or bool for TLS verification; None keeps requests' default
    :param mailbox_key: identifies the mailbox for the in-flight limit (e.g. the address); None -> per client
    :param int page_size: ``Prefer: odata.maxpagesize`` for delta pages
    :param mailbox: None for the signed-in user's own mailbox (``/me``); else the address or id of another
        mailbox the signed-in user may open (``/users/{mailbox}``: a shared or delegated mailbox)
    :param float max_wait: longest Retry-After this process sleeps; longer waits raise :class:`Throttled`
    """

    max_throttle_retries = 4
    max_transient_retries = 2
    backoff_base = 0.25

    def __init__(self, graph_url, token_provider, verify=None, mailbox_key=None, page_size=1000, timeout=30,
                 max_wait=5.0, session=None, mailbox=None):
        self.graph_url = _normalized_base_url(graph_url)
        self.mailbox = mailbox or None
        # Every mailbox path starts here: the signed-in user's own, or /users/{id | address} for another one.
        self.root = '/users/%s' % quote(str(mailbox), safe='@') if mailbox else '/me'
        self.token_provider = token_provider
        self.verify = verify
        self.page_size = int(page_size)
        self.timeout = timeout
        self.max_wait = float(max_wait)
        self.session = session or requests.Session()
        # Without a key the limit applies to this client alone (and nothing is added to the process registry).
        self.semaphore = mailbox_semaphore(mailbox_key) if mailbox_key is not None else threading.BoundedSemaphore(
            MAX_IN_FLIGHT_PER_MAILBOX)
        self.request_count = 0
        self._count_lock = threading.Lock()
        self._token = None
        self._token_lock = threading.Lock()
        origin = urlsplit(self.graph_url)
        self._origin = (origin.scheme.lower(), origin.netloc.lower())

    def without_refresh(self):
        """A client for another thread: same session, mailbox limit and current access token, but it never calls
        the token provider (which may write to its caller's database): a refused token raises
        :class:`AuthExpired` there, and the caller's own client refreshes."""
        token = self.access_token()

        def fixed_token(force_refresh=False):
            if force_refresh:
                raise AuthExpired('the access token was refused (no refresh from this thread)')
            return token

        clone = GraphClient(self.graph_url, fixed_token, verify=self.verify, page_size=self.page_size,
                            timeout=self.timeout, max_wait=self.max_wait, session=self.session, mailbox=self.mailbox)
        clone.semaphore = self.semaphore
        return clone

    # ------------------------------------------------------------------ user and folders

    def me(self):
        """The signed-in user (``GET /me``, whatever mailbox the client opens); ``mail`` may be null for personal
        accounts."""
        return self._get_json('/me')

    def list_folders(self):
        """Every visible mail folder, as raw Graph dicts with ``parentFolderId``; a parent precedes its children.

        v1.0 lists only one level per call, so child folders are walked recursively; all pages are followed.
        """
        folders, seen = [], set()
        pending = [(None, self.root + '/mailFolders')]
        while pending:
            parent_id, path = pending.pop()
            for folder in self._collect_pages(path, {'$top': FOLDER_PAGE_SIZE}):
                folder_id = folder.get('id') if isinstance(folder, dict) else None
                if not isinstance(folder_id, str) or folder_id in seen or folder.get('isHidden') is True:
                    continue
                seen.add(folder_id)
                if parent_id and not folder.get('parentFolderId'):
                    folder['parentFolderId'] = parent_id
                folders.append(folder)
                if len(folders) >= MAX_FOLDERS:
                    return folders
                if folder.get('childFolderCount') != 0:
                    pending.append((folder_id, '%s/mailFolders/%s/childFolders' % (self.root, _quote_id(folder_id))))
        return folders

    def well_known_folder_ids(self, names=WELL_KNOWN_FOLDERS):
        """``{role: folder id}`` for the well-known folders the mailbox has (v1.0 folders carry no role)."""
        roles = {}
        for name in names:
            try:
                folder = self.get_folder(name)
            except NotFound:
                continue  # e.g. a mailbox without an archive folder
            folder_id = folder.get('id')
            if isinstance(folder_id, str) and folder_id:
                roles[name] = folder_id
        return roles

    def get_folder(self, id_or_name):
        """One mail folder by id or well-known name (``inbox``, ``sentitems``...)."""
        return self._get_json('%s/mailFolders/%s' % (self.root, _quote_id(id_or_name)))

    # ------------------------------------------------------------------ delta sync

    def delta_page(self, folder_id, link=None, select=MESSAGE_SELECT, page_size=None):
        """One page of a folder's message delta.

        :param link: the stored ``next_link`` or ``delta_link`` to continue from; None starts an initial round
            (newest first). Query options are only sent on the initial request: Graph encodes them in the links.
        :param page_size: at most this many items in this page (``Prefer: odata.maxpagesize`` is a preference of
            each request, not of the round: the pages after it follow the client's own size)
        :raises SyncStateExpired: the link expired; start again with ``link=None``
        """
        headers = {'Prefer': 'odata.maxpagesize=%d' % min(page_size or self.page_size, self.page_size)}
        if link:
            self._check_same_origin(link)
            body = self._request('GET', link, headers=headers)
        else:
            params = {'$select': ','.join(select), '$orderby': 'receivedDateTime desc'}
            path = '%s/mailFolders/%s/messages/delta' % (self.root, _quote_id(folder_id))
            body = self._request('GET', path, params=params, headers=headers)
        page = _page_from_body(body)
        # Checked on receipt, not only when followed: a foreign link must never become the stored cursor
        # (the folder would be stuck on it); refusing the page keeps the previous, good link.
        self._check_same_origin(page.next_link or page.delta_link)
        return page

    # ------------------------------------------------------------------ reading messages

    def get_message(self, message_id, body=True, select=MESSAGE_SELECT):
        """One message; with ``body`` its HTML body (``Prefer: outlook.body-content-type="html"``)."""
        params, headers = _message_query(body, select)
        return self._get_json(self._message_path(message_id), params=params, headers=headers)

    def get_message_step(self, step_id, message_id, body=True, select=MESSAGE_SELECT):
        """The :class:`batch.Step` of :meth:`get_message` (its answer's body is what that returns)."""
        params, headers = _message_query(body, select)
        query = '&'.join('%s=%s' % (name, quote(value, safe=',/.')) for name, value in params.items())
        return batch.Step(str(step_id), 'GET', '%s?%s' % (self._message_path(message_id), query), None, headers)

    def list_attachments(self, message_id):
        """Attachment metadata of a message (all pages); ``contentBytes`` is fetched per attachment instead."""
        path = self._message_path(message_id, '/attachments')
        return list(self._collect_pages(path, {'$select': 'id,name,contentType,size,isInline,lastModifiedDateTime'}))

    def get_attachment(self, message_id, attachment_id):
        """One attachment as Graph JSON (a fileAttachment carries ``contentBytes`` and ``contentId``)."""
        return self._get_json(self._message_path(message_id, '/attachments/%s' % _quote_id(attachment_id)))

    def get_attachment_bytes(self, message_id, attachment_id):
        """The raw bytes of a file attachment (``/$value``)."""
        path = self._message_path(message_id, '/attachments/%s/$value' % _quote_id(attachment_id))
        return self._request('GET', path, expect='bytes')

    def get_mime(self, message_id):
        """The message as RFC 822 MIME bytes (``/$value``)."""
        return self._request('GET', self._message_path(message_id, '/$value'), expect='bytes')

    # ------------------------------------------------------------------ sending

    def send_mime(self, mime_bytes):
        """Send a complete MIME message (``POST {root}/sendMail``, base64 text body); Graph returns no id."""
        self._request('POST', self.root + '/sendMail', data=base64.b64encode(mime_bytes),
                      headers={'Content-Type': 'text/plain'}, expect='none')

    def send_message(self, message_json, save_to_sent=True):
        """Send a message JSON (:func:`outgoing.message`) in one call; Graph returns no id (correlate by
        internetMessageId)."""
        self._request('POST', self.root + '/sendMail', json_body=outgoing.send_mail(message_json, save_to_sent),
                      expect='none')

    def create_draft(self, message_json):
        """Create a draft in Drafts from a message JSON (:func:`outgoing.message`); returns the message (its
        immutable id survives the send)."""
        return self._request('POST', self.root + '/messages', json_body=message_json)

    def create_draft_mime(self, mime_bytes):
        """Create a draft in Drafts from a complete MIME message (base64 text body, as for sendMail: "Create a draft
        of a new message in either JSON or MIME format", learn.microsoft.com/graph/api/user-post-messages); returns
        the message. The request is bound by Graph's 4 MB limit like any other."""
        return self._request('POST', self.root + '/messages', data=base64.b64encode(mime_bytes),
                             headers={'Content-Type': 'text/plain'})

    def update_draft(self, message_id, fields):
        """PATCH a draft with a message JSON (:func:`outgoing.message`, no attachments): body, recipients and
        internetMessageId are only writable while it is a draft."""
        return self.update_message(message_id, fields)

    def send_draft(self, message_id):
        """Send an existing draft; it moves to Sent Items (same id under ImmutableId)."""
        self._request('POST', self._message_path(message_id, '/send'), headers={'Content-Length': '0'},
                      expect='none')

    def add_attachment(self, message_id, name, content_type, data, content_id=None):
        """Attach a file to a draft: inline POST below 3 MB, an upload session from 3 MB on.

        ``content_id`` (below 3 MB only) makes it an inline image the body names as ``cid:<content_id>``.

        :return: the attachment JSON for small files; for uploads ``{'location': str or None}`` plus the final
            response JSON when Graph sends one
        """
        if len(data) < SMALL_ATTACHMENT_LIMIT:
            return self._request('POST', self._message_path(message_id, '/attachments'),
                                 json_body=outgoing.file_attachment(name, content_type, data, content_id))
        return self._upload_attachment(message_id, name, content_type, data)

    def create_reply(self, message_id, kind='reply'):
        """Create a reply / reply-all / forward draft (``createReply`` & co.); returns the draft message."""
        action = 'create%s' % _reply_action(kind)
        return self._request('POST', self._message_path(message_id, '/' + action), headers={'Content-Length': '0'})

    def reply(self, message_id, kind='reply', comment=None, message=None):
        """Reply / reply-all / forward in one call (Graph accepts ``comment`` or ``message.body``, not both).

        :param message: a message JSON (:func:`outgoing.message`): the body, and a forward's recipients
        """
        action = _reply_action(kind)
        path = self._message_path(message_id, '/' + action[0].lower() + action[1:])
        self._request('POST', path, json_body=outgoing.reply(comment, message), expect='none')

    # ------------------------------------------------------------------ write-back

    def update_message(self, message_id, fields):
        """PATCH only the given fields (:func:`outgoing.message_patch`, e.g. ``{'isRead': True}``)."""
        return self._request('PATCH', self._message_path(message_id), json_body=fields)

    def move_message(self, message_id, destination):
        """Move to a folder id or well-known name; returns the moved message (same id under ImmutableId)."""
        return self._request('POST', self._message_path(message_id, '/move'), json_body=outgoing.move(destination))

    def delete_message(self, message_id):
        """Delete a message (Outlook moves it to Deleted Items)."""
        self._request('DELETE', self._message_path(message_id), expect='none')

    # ------------------------------------------------------------------ other resources

    def call(self, method, path, json_body=None, expect='json'):
        """One request on a Graph path outside the mailbox root (e.g. ``/subscriptions``), through the retry loop
        and error mapping every other call uses."""
        return self._request(method, path, json_body=json_body, expect=expect)

    def message_request(self, method, message_id, suffix='', body=None):
        """One request on a message (what a :meth:`message_step` sends alone); its JSON answer, None for DELETE."""
        return self._request(method, self._message_path(message_id, suffix), json_body=body,
                             expect='none' if method == 'DELETE' else 'json')

    def message_step(self, step_id, method, message_id, suffix='', body=None):
        """A :class:`batch.Step` on one message of this mailbox (``suffix``: e.g. ``/move``)."""
        return batch.Step(str(step_id), method, self._message_path(message_id, suffix), body)

    def batch(self, steps, serial=False):
        """Send ``steps`` in ``POST /$batch`` requests of 20; returns ``{step id: batch.Result}``.

        ``serial``: each batch runs its requests one after the other (one of the mailbox's 4 concurrent requests,
        as one plain request; see :mod:`graph.batch`). The steps a failure left unrun (424) are sent again, in a
        new batch, as long as each batch answers at least one of them.
        Steps throttled inside a batch (429 / 503 with their own Retry-After) are sent again, in a new batch,
        within the same wait cap and number of tries as a single request; past it they keep their Throttled error
        (and those after them in a serial batch their NotRun).
        A failure of the batch request itself (auth, network, 5xx) raises, as for any request.
        """
        pending, out, tries = list(steps), {}, 0
        while pending:
            for chunk in batch.chunks(pending):
                out.update(batch.results(
                    self._request('POST', '/$batch', json_body=batch.request_body(chunk, serial)), chunk))
            answers = {s.id: out[s.id] for s in pending}
            again, wait = batch.throttled(answers)
            unrun = batch.not_run(answers)
            if again:
                tries += 1
                wait = self._backoff(tries) if wait is None else wait
                if tries > self.max_throttle_retries or wait > self.max_wait:
                    break
                self._sleep(wait)
            elif len(unrun) in (0, len(pending)):  # all answered, or a batch that answered none of them
                break
            resend = set(again) | set(unrun)
            pending = [s for s in pending if s.id in resend]
        return out

    # ------------------------------------------------------------------ internals: paths and pages

    def _message_path(self, message_id, suffix=''):
        return '%s/messages/%s%s' % (self.root, _quote_id(message_id), suffix)

    def _get_json(self, path, params=None, headers=None):
        return self._request('GET', path, params=params, headers=headers)

    def _collect_pages(self, path, params):
        """Yield the ``value`` items of a collection, following every ``@odata.nextLink`` verbatim."""
        body = self._request('GET', path, params=params)
        followed = set()
        while True:
            items, next_link = _collection_page(body)
            yield from items
            if not next_link:
                return
            # A nextLink seen before means the listing goes round in circles; no page budget left means it never
            # ends: either way stop with a clear error instead of looping (the caller keeps what it had).
            if next_link in followed or len(followed) >= MAX_COLLECTION_PAGES:
                raise BadResponse('Graph kept paging %s without reaching the end (%d pages)' % (
                    urlsplit(path).path or 'a collection', len(followed) + 1), code='pagingLoop')
            followed.add(next_link)
            self._check_same_origin(next_link)
            body = self._request('GET', next_link)

    def _upload_attachment(self, message_id, name, content_type, data):
        path = self._message_path(message_id, '/attachments/createUploadSession')
        session = self._request('POST', path, json_body=outgoing.upload_session(name, content_type, len(data)))
        upload_url = session.get('uploadUrl') if isinstance(session, dict) else None
        if not isinstance(upload_url, str) or not upload_url.lower().startswith('https://'):
            raise BadResponse('Graph returned no usable upload URL', code='badResponse')
        result = {}
        for start in range(0, len(data), UPLOAD_CHUNK_SIZE):
            chunk = data[start:start + UPLOAD_CHUNK_SIZE]
            headers = {
                'Content-Type': 'application/octet-stream',
                'Content-Range': 'bytes %d-%d/%d' % (start, start + len(chunk) - 1, len(data)),
            }
            # The upload URL is pre-authenticated: sending our bearer token there is refused (and needless).
            response = self._request('PUT', upload_url, data=chunk, headers=headers, expect='response', auth=False)
            result = {'location': response.headers.get('Location')}
            result.update(_json_or_empty(response))
        return result

    # ------------------------------------------------------------------ internals: the one retry loop

    def _request(self, method, path_or_url, params=None, json_body=None, data=None, headers=None, expect='json',
                 auth=True):
        """Send one logical request, retrying as the failure deserves; returns per ``expect``.

        ``expect``: 'json' (decoded body), 'bytes', 'none', or 'response' (the requests.Response).
        Retries: one token refresh on 401; Retry-After up to ``max_wait``; short backoff on 5xx and network
        failures, but only for idempotent methods (a timed-out POST may already have sent the mail).
        """
        url = path_or_url if path_or_url.startswith(('https://', 'http://')) else self.graph_url + path_or_url
        if json_body is not None:
            data = json.dumps(json_body).encode('utf-8')
            headers = dict(headers or {}, **{'Content-Type': 'application/json'})
        refreshed, attempts = False, collections.Counter()
        token = self.access_token() if auth else None
        while True:
            try:
                response = self._send(method, url, params, data, headers, token)
            except NETWORK_FAILURES as exc:
                attempts['transient'] += 1
                if not self._may_retry_network(method, exc, attempts['transient']):
                    raise Transient('Graph request failed: %s' % type(exc).__name__, code='network') from None
                self._sleep(self._backoff(attempts['transient']))
                continue
            except requests.RequestException as exc:
                # Invalid URL, too many redirects...: a configuration problem, not worth a retry.
                raise GraphError('Graph request could not be made: %s' % type(exc).__name__,
                                 code='requestError') from None
            if response.status_code < 400:
                return _decode(response, expect)
            error = classify(response.status_code, _json_or_none(response), response.headers)
            if isinstance(error, AuthExpired) and auth and not refreshed:
                refreshed = True
                token = self._refresh_token(token)
                continue
            self._sleep(self._delay_before_retry(error, method, attempts))

    def _delay_before_retry(self, error, method, attempts):
        """Seconds to wait before repeating a failed request, or raise ``error`` when it must not be repeated."""
        if isinstance(error, Throttled):
            attempts['throttle'] += 1
            wait = error.retry_after if error.retry_after is not None else self._backoff(attempts['throttle'])
            # Above the cap the caller (a cron) reschedules instead of blocking a worker.
            if wait > self.max_wait or attempts['throttle'] > self.max_throttle_retries:
                raise error
            return wait
        if error.status in RETRYABLE_SERVER_STATUSES and method in IDEMPOTENT_METHODS:
            attempts['transient'] += 1
            if attempts['transient'] <= self.max_transient_retries:
                return self._backoff(attempts['transient'])
        raise error

    def _send(self, method, url, params, data, headers, token):
        request_headers = {'Accept': 'application/json', **batch.request_headers(headers)}
        if token is not None:
            request_headers['Authorization'] = 'Bearer %s' % token
        with self._count_lock:
            self.request_count += 1
        # REQUESTS_CA_BUNDLE overrides Session.verify, so verify must travel with every request.
        extra = {} if self.verify is None else {'verify': self.verify}
        with self.semaphore:
            response = self.session.request(method, url, params=params, data=data, headers=request_headers,
                                            timeout=self.timeout, **extra)
        _logger.debug('Graph %s %s -> %s', method, urlsplit(url).path, response.status_code)
        return response

    def _may_retry_network(self, method, exc, attempts):
        if attempts > self.max_transient_retries:
            return False
        # A failed connect never reached the server, so even a POST is safe to repeat; a read timeout or a
        # dropped connection on POST may mean the mail already went out.
        return method in IDEMPOTENT_METHODS or _never_reached_server(exc)

    def _backoff(self, attempt):
        delay = self.backoff_base * (2 ** (attempt - 1))
        return min(self.max_wait, delay * (1 + random.random() / 4))

    def _sleep(self, seconds):
        time.sleep(seconds)

    def access_token(self):
        """The client's access token, asked of the token provider only when the client has none yet: a caller
        that gets it before its first request (to learn early that the mailbox cannot sign in) costs no second
        token lookup."""
        with self._token_lock:
            if self._token is None:
                self._token = self.token_provider(force_refresh=False)
            return self._token

    def _refresh_token(self, stale_token):
        """Force one refresh, unless another thread already replaced the token that was refused."""
        with self._token_lock:
            if self._token == stale_token:
                self._token = self.token_provider(force_refresh=True)
            return self._token

    def _check_same_origin(self, link):
        """Links come from stored data; never send the mailbox's token to another host."""
        parts = urlsplit(link) if isinstance(link, str) else None
        if parts is None or (parts.scheme.lower(), parts.netloc.lower()) != self._origin:
            raise BadResponse('link does not belong to the configured Graph endpoint', code='foreignLink')


def _normalized_base_url(graph_url):
    url = str(graph_url).rstrip('/')
    return url if urlsplit(url).path else url + '/v1.0'


def _never_reached_server(exc):
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], 'reason', None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def _message_query(body, select):
    """The ``$select`` and headers of a message GET (with ``body``: the body, as HTML)."""
    fields = list(select) + (['body'] if body else [])
    return {'$select': ','.join(fields)}, ({'Prefer': 'outlook.body-content-type="html"'} if body else None)


def _quote_id(value):
    # Ids are URL-safe base64 ('-', '_', '=' padding); quoting keeps any other character in its path segment.
    return quote(str(value), safe='=')


def _reply_action(kind):
    try:
        return REPLY_KINDS[kind]
    except KeyError:
        raise ValueError('reply kind must be one of %s' % ', '.join(REPLY_KINDS)) from None


def _decode(response, expect):
    if expect == 'response':
        return response
    if expect == 'bytes':
        return response.content
    if expect == 'none':
        return None
    body = _json_or_none(response)
    if not isinstance(body, dict):
        # Every Graph JSON answer (entity or collection) is an object; anything else is not Graph talking.
        raise BadResponse('Graph returned a non-JSON or non-object body (HTTP %s)' % response.status_code,
                          status=response.status_code, code='badResponse')
    return body


def _json_or_none(response):
    if not response.content:
        return None
    try:
        # Decode leniently: invalid UTF-8 must not turn a readable answer into an exception.
        text = response.content.decode('utf-8', 'replace')
        with collector.paused():  # a delta page is thousands of containers, none of them garbage
            return json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting ([[[[...]]]])
        return None


def _json_or_empty(response):
    body = _json_or_none(response)
    return body if isinstance(body, dict) else {}


def _collection_page(body):
    if not isinstance(body, dict) or not isinstance(body.get('value'), list):
        raise BadResponse('Graph returned a collection without a value list', code='badResponse')
    next_link = body.get('@odata.nextLink')
    if next_link is not None and not isinstance(next_link, str):
        raise BadResponse('Graph returned an invalid nextLink', code='badResponse')
    return body['value'], next_link or None


def _page_from_body(body):
    items, next_link = _collection_page(body)
    delta_link = body.get('@odata.deltaLink')
    if delta_link is not None and not isinstance(delta_link, str):
        raise BadResponse('Graph returned an invalid deltaLink', code='badResponse')
    if not next_link and not delta_link:
        # Without either link the round can neither continue nor end: storing nothing would loop forever.
        raise BadResponse('delta page has neither nextLink nor deltaLink', code='badResponse')
    return Page(items, next_link, None if next_link else delta_link)
