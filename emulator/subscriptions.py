"""Graph change notifications: the /subscriptions API, the validation handshake and webhook delivery.

What Microsoft documents, and what this module does:
- POST /subscriptions validates ``notificationUrl`` (and ``lifecycleNotificationUrl``) first: a POST with
  ``?validationToken=...`` that must answer 200, text/plain, the token as body, within 10 seconds, else 400
  ValidationError "Subscription validation request failed..." ("Receive change notifications through webhooks",
  https://learn.microsoft.com/graph/change-notifications-delivery-webhooks; the message as reported on Microsoft Q&A
  416427). Only ``https`` notification URLs are accepted; ``push_http_loopback`` (on: Odoo's test server speaks
  plain http on 127.0.0.1) also lets ``http://127.0.0.1`` / ``localhost`` through -- MailDesk itself never sends an
  http URL to Microsoft's clouds (engine/push.py).
- ``expirationDateTime`` at most 10,080 minutes ahead for Outlook messages, else 400; under 45 minutes it is set
  to 45 minutes (subscription resource type, "Subscription lifetime",
  https://learn.microsoft.com/graph/api/resources/subscription); ``clientState`` at most 128 characters (same page).
  PATCH renews with the same checks; an expired subscription is gone (404).
- Notifications: ``{"value": [{subscriptionId, subscriptionExpirationDateTime, changeType, resource,
  resourceData: {@odata.type, @odata.id, @odata.etag, id}, clientState, tenantId}]}`` (changeNotification resource
  type, https://learn.microsoft.com/graph/api/resources/changenotification), several per POST, "near real time"
  (no published latency: Microsoft Q&A 1533722) -> ``push_delay`` seconds (jittered). Delivery is not guaranteed
  and may repeat (the lifecycle event ``missed`` exists for lost ones,
  https://learn.microsoft.com/graph/change-notifications-lifecycle-events) -> ``push_drop_share`` /
  ``push_duplicate_share``. A failed delivery (non-2xx, no answer in 3 s) is retried with a backoff, then dropped.
- Lifecycle events (``reauthorizationRequired``, ``subscriptionRemoved``, ``missed``) go to the lifecycle URL; the
  control API fires them (``POST /_emulator/lifecycle``).

Changes are read from the folders' change logs (the ones delta reads) after a watermark, so every way a message
changes (delivery, Graph writes, control mutations) is noticed without hooks in the store.
"""
import bisect
import json
import random
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode, urlsplit

from . import CLIENT_ID, TENANT_ID
from .mailstore import message_id
from .util import GraphFail, Response, graph_error, guid, iso, now, parse_iso

CHANGE_TYPES = ('created', 'updated', 'deleted')
MIN_LIFETIME = 45 * 60
VALIDATION_TIMEOUT = 10.0
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy
DELIVERY_TIMEOUT = 3.0
RETRY_DELAYS = (2.0, 10.0, 30.0)
TICK = 0.05
READ_SCOPES = ('mail.read', 'mail.readwrite')


class Subscription:
    __slots__ = ('change_types', 'client_state', 'expires', 'folder', 'id', 'lifecycle_url', 'mbx',
                 'notification_url', 'resource', 'watermark')

    def json(self, graph_url):
        return {'@odata.context': '%s/$metadata#subscriptions/$entity' % graph_url, 'id': self.id,
                'resource': self.resource, 'changeType': ','.join(self.change_types),
                'notificationUrl': self.notification_url, 'lifecycleNotificationUrl': self.lifecycle_url,
                'clientState': self.client_state, 'expirationDateTime': iso(self.expires),
                'applicationId': CLIENT_ID, 'creatorId': self.mbx.oid, 'includeResourceData': False,
                'latestSupportedTlsVersion': 'v1_2', 'notificationUrlAppId': None}


class Subscriptions:
    """The subscriptions of one emulator process and the thread that delivers their notifications."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        self.subs = {}
        self.outbox = []   # (due, attempt, url, [items])
        self.rng = random.Random('push:%s' % app.store.seed)
        self.delivered = self.dropped = self.duplicated = self.failed = 0
        self._thread = None

    # -- Graph API ---------------------------------------------------------------------------------------------
    def handle(self, req, rest):
        """``/v1.0/subscriptions[/{id}]``: (after the access token check) create, list, get, renew, delete."""
        app = self.app
        req.template = '%s /v1.0/subscriptions%s' % (req.method, '/{id}' if rest else '')
        mbx, scopes = app.identity.check_access_token(req.header('Authorization'))
        app.counters.record(req.template, mbx.address if mbx else None)
        if mbx is None:
            return graph_error(401, 'InvalidAuthenticationToken', scopes, request=req)
        try:
            if not any(scope in scopes for scope in READ_SCOPES):
                raise GraphFail(403, 'ExtensionError', 'Operation: Create; Exception: [Status Code: Forbidden; '
                                'Reason: Access is denied. Check credentials and try again.]')
            if not rest and req.method == 'POST':
                return Response(201, self.create(req, mbx).json(app.graph_url))
            if not rest and req.method == 'GET':
                with self.lock:
                    mine = [s.json(app.graph_url) for s in self.subs.values() if s.mbx is mbx]
                return Response(200, {'value': mine})
            if len(rest) != 1:
                raise GraphFail(400, 'BadRequest', 'Invalid request.')
            sub = self._own(rest[0], mbx)
            if req.method == 'GET':
                return Response(200, sub.json(app.graph_url))
            if req.method == 'PATCH':
                body = _json(req)
                sub.expires = self._expiration(body.get('expirationDateTime'))
                return Response(200, sub.json(app.graph_url))
            if req.method == 'DELETE':
                with self.lock:
                    self.subs.pop(sub.id, None)
                return Response(204)
            raise GraphFail(405, 'BadRequest', 'Unsupported method.')
        except GraphFail as exc:
            return graph_error(exc.status, exc.code, exc.message, exc.headers, req)

    def create(self, req, mbx):
        body = _json(req)
        changes = [c.strip() for c in str(body.get('changeType') or '').split(',') if c.strip()]
        if not changes or any(c not in CHANGE_TYPES for c in changes):
            raise GraphFail(400, 'InvalidRequest', "'changeType' must be created, updated, deleted or a "
                            'comma-separated combination.')
        client_state = body.get('clientState')
        if client_state is not None and (not isinstance(client_state, str) or len(client_state) > 128):
            raise GraphFail(400, 'InvalidRequest', "'clientState' is limited to 128 characters.")
        notification_url, lifecycle_url = body.get('notificationUrl'), body.get('lifecycleNotificationUrl')
        self._check_url(notification_url, 'notificationUrl')
        if lifecycle_url is not None:
            self._check_url(lifecycle_url, 'lifecycleNotificationUrl')
        sub = Subscription()
        sub.id, sub.mbx, sub.change_types = guid(), mbx, tuple(changes)
        sub.resource, sub.folder = self._resource(body.get('resource'), mbx)
        sub.notification_url, sub.lifecycle_url, sub.client_state = notification_url, lifecycle_url, client_state
        sub.expires = self._expiration(body.get('expirationDateTime'))
        # The handshake runs without the store lock: the endpoint may call Graph meanwhile.
        for url in filter(None, (notification_url, lifecycle_url)):
            if not validate(url):
                raise GraphFail(400, 'ValidationError', 'Subscription validation request failed. Notification '
                                'endpoint must respond with 200 OK to validation request.')
        with self.app.store.lock:
            sub.watermark = mbx.seq
        with self.lock:
            self.subs[sub.id] = sub
        self.start()
        return sub

    def _own(self, sub_id, mbx):
        with self.lock:
            sub = self.subs.get(sub_id)
            if sub is not None and sub.expires <= now():
                del self.subs[sub_id]  # expired subscriptions are gone
                sub = None
        if sub is None or sub.mbx is not mbx:
            raise GraphFail(404, 'ResourceNotFound', "The object '%s' doesn't exist." % sub_id)
        return sub

    def _check_url(self, url, name):
        parts = urlsplit(url) if isinstance(url, str) else None
        host = (parts.hostname or '') if parts else ''
        loopback = host in ('127.0.0.1', 'localhost', '::1')
        if parts is None or not host or not (parts.scheme == 'https' or (
                parts.scheme == 'http' and loopback and self.app.config.get('push_http_loopback'))):
            raise GraphFail(400, 'InvalidRequest', "The Notification Url '%s' must use https (%s)." % (url, name))

    def _expiration(self, value):
        if not isinstance(value, str):
            raise GraphFail(400, 'InvalidRequest', "'expirationDateTime' is required.")
        try:
            moment = parse_iso(value)
        except ValueError:
            raise GraphFail(400, 'InvalidRequest', "'expirationDateTime' is not a valid date.") from None
        limit = float(self.app.config.get('push_max_lifetime_minutes') or 10080)
        if moment > now() + limit * 60:
            raise GraphFail(400, 'ExtensionError', 'Subscription expiration can only be %d minutes in the future.'
                            % limit)
        return max(moment, now() + MIN_LIFETIME)

    def _resource(self, resource, mbx):
        """``me/mailFolders('{id}')/messages``, ``users/{id|address}/...`` or ``me/messages`` -> (text, folder id)."""
        from .graph_api import split_path

        segs = split_path(resource) if isinstance(resource, str) else []
        low = [s.lower() for s in segs]
        if low[:1] == ['users'] and len(segs) > 1:
            owner = self.app.store.mailbox(segs[1])
            if owner is None:
                raise GraphFail(404, 'ResourceNotFound', "The requested user '%s' is invalid." % segs[1])
            if owner is not mbx:
                raise GraphFail(403, 'ExtensionError', 'Access is denied. Check credentials and try again.')
            low, segs = low[2:], segs[2:]
        elif low[:1] == ['me']:
            low, segs = low[1:], segs[1:]
        else:
            raise GraphFail(400, 'InvalidRequest', "The resource '%s' is not supported." % resource)
        if low == ['messages']:
            return resource, None
        if len(low) == 3 and low[0] == 'mailfolders' and low[2] == 'messages':
            folder = self.app.store.resolve_folder(mbx, segs[1])
            if folder is None:
                raise GraphFail(404, 'ResourceNotFound', "The object '%s' doesn't exist." % segs[1])
            return resource, folder.id
        raise GraphFail(400, 'InvalidRequest', "The resource '%s' is not supported." % resource)

    # -- lifecycle (control API) -------------------------------------------------------------------------------
    def lifecycle(self, data):
        """Fire a lifecycle event: ``{"event", "subscription" (id) | "user"}``; subscriptionRemoved deletes it."""
        event = data.get('event')
        if event not in ('reauthorizationRequired', 'subscriptionRemoved', 'missed'):
            raise ValueError('unknown lifecycle event %r' % event)
        with self.lock:
            subs = [s for s in self.subs.values() if s.id == data.get('subscription') or (
                data.get('user') and s.mbx.address.lower() == data['user'].lower())]
            if event == 'subscriptionRemoved':
                for sub in subs:
                    self.subs.pop(sub.id, None)
            for sub in subs:
                if sub.lifecycle_url:
                    item = {'lifecycleEvent': event, 'subscriptionId': sub.id, 'clientState': sub.client_state,
                            'subscriptionExpirationDateTime': iso(sub.expires), 'tenantId': _tenant(sub),
                            'organizationId': _tenant(sub)}
                    self.outbox.append((now(), 0, sub.lifecycle_url, [item]))
        self.start()
        return {'fired': [s.id for s in subs]}

    def expire(self, data):
        """Let a subscription (``subscription``) or all of a mailbox (``user``) expire now."""
        with self.lock:
            gone = [s.id for s in self.subs.values() if s.id == data.get('subscription') or (
                data.get('user') and s.mbx.address.lower() == data['user'].lower())]
            for sub_id in gone:
                self.subs[sub_id].expires = now() - 1
        return {'expired': gone}

    def listing(self):
        with self.lock:
            subs = [dict(s.json(self.app.graph_url), user=s.mbx.address, folder=s.folder) for s in self.subs.values()]
            return {'value': subs, 'delivered': self.delivered, 'dropped': self.dropped,
                    'duplicated': self.duplicated, 'failed': self.failed, 'pending': len(self.outbox)}

    def reset(self):
        with self.lock:
            self.subs.clear()
            self.outbox.clear()
            self.delivered = self.dropped = self.duplicated = self.failed = 0

    # -- delivery ----------------------------------------------------------------------------------------------
    def start(self):
        with self.lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name='push-delivery', daemon=True)
                self._thread.start()

    def _loop(self):
        while True:
            time.sleep(TICK)
            try:
                self._collect()
                self._send_due()
            except Exception:  # noqa: BLE001 - the delivery thread must survive any bug of one round
                import traceback
                traceback.print_exc()

    def _collect(self):
        """New entries of the subscribed folders' change logs -> notifications, queued after ``push_delay``."""
        config = self.app.config
        store = self.app.store
        with self.lock:
            subs = list(self.subs.values())
        queued = []
        with store.lock:
            for sub in subs:
                if sub.expires <= now():
                    with self.lock:
                        self.subs.pop(sub.id, None)
                    continue
                mbx = sub.mbx
                if mbx.seq == sub.watermark:
                    continue
                folders = [mbx.folders[sub.folder]] if sub.folder in mbx.folders else (
                    list(mbx.folders.values()) if sub.folder is None else [])
                items = []
                for folder in folders:
                    start = bisect.bisect_right(folder.log_seq, sub.watermark)
                    for core in dict.fromkeys(folder.log_core[start:]):
                        items.extend(self._items(sub, folder, core))
                sub.watermark = mbx.seq
                if items:
                    queued.append((sub.notification_url, items))
        delay = float(config.get('push_delay') or 0)
        with self.lock:
            for url, items in queued:
                kept = []
                for item in items:
                    if self.rng.random() < float(config.get('push_drop_share') or 0):
                        self.dropped += 1
                        continue
                    kept.append(item)
                    if self.rng.random() < float(config.get('push_duplicate_share') or 0):
                        self.duplicated += 1
                        kept.append(item)
                if kept:
                    due = now() + delay * (0.5 + self.rng.random()) if delay else now()
                    self.outbox.append((due, 0, url, kept))

    def _items(self, sub, folder, core):
        mbx = sub.mbx
        msg = mbx.msgs.get(core)
        if msg is None or msg.folder != folder.id:
            change = 'deleted'
        elif msg.entered > sub.watermark:
            change = 'created'
        else:
            change = 'updated'
        if change not in sub.change_types:
            return []
        mid = message_id(msg, True) if msg is not None else core
        resource = "Users/%s/Messages/%s" % (mbx.oid, mid)
        return [{'subscriptionId': sub.id, 'subscriptionExpirationDateTime': iso(sub.expires), 'changeType': change,
                 'resource': resource, 'clientState': sub.client_state, 'tenantId': _tenant(sub),
                 'resourceData': {'@odata.type': '#Microsoft.Graph.Message', '@odata.id': resource,
                                  '@odata.etag': 'W/"%s"' % guid()[:12], 'id': mid}}]

    def _send_due(self):
        with self.lock:
            moment = now()
            due = [entry for entry in self.outbox if entry[0] <= moment]
            if not due:
                return
            self.outbox = [entry for entry in self.outbox if entry[0] > moment]
        batches = {}
        for _due, attempt, url, items in due:
            batches.setdefault((url, attempt), []).extend(items)
        for (url, attempt), items in batches.items():
            threading.Thread(target=self._post, args=(url, attempt, items), daemon=True).start()

    def _post(self, url, attempt, items):
        ok = post_json(url, {'value': items})
        with self.lock:
            if ok:
                self.delivered += len(items)
            elif attempt < len(RETRY_DELAYS):
                self.outbox.append((now() + RETRY_DELAYS[attempt], attempt + 1, url, items))
            else:
                self.failed += len(items)


def _tenant(_sub):
    return TENANT_ID


def _json(req):
    try:
        body = req.json()
    except ValueError:
        raise GraphFail(400, 'BadRequest', 'Unable to read JSON request payload.') from None
    if not isinstance(body, dict):
        raise GraphFail(400, 'BadRequest', 'Unable to read JSON request payload.')
    return body


def validate(url):
    """The validation handshake: POST ``url?validationToken=...``; True when 200 + text/plain + the token echoed
    within 10 seconds."""
    token = 'Validation: Testing client application reachability for subscription Request-Id: %s' % guid()
    separator = '&' if '?' in url else '?'
    request = urllib.request.Request(url + separator + urlencode({'validationToken': token}), data=b'',
                                     method='POST', headers={'Content-Type': 'text/plain; charset=utf-8'})
    try:
        with _OPENER.open(request, timeout=VALIDATION_TIMEOUT) as response:
            body = response.read(4096).decode('utf-8', 'replace')
            kind = response.headers.get('Content-Type', '')
            return response.status == 200 and kind.startswith('text/plain') and body == token
    except (urllib.error.URLError, OSError, ValueError):
        return False


def post_json(url, body):
    """One delivery: True on a 2xx answer within :data:`DELIVERY_TIMEOUT`."""
    request = urllib.request.Request(url, data=json.dumps(body).encode('utf-8'), method='POST',
                                     headers={'Content-Type': 'application/json; charset=utf-8'})
    try:
        with _OPENER.open(request, timeout=DELIVERY_TIMEOUT) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False
