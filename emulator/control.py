"""Control API under /_emulator/ (JSON in/out, loopback only) + fault injection (graph-api.md §2.5, §10)."""
import random
import threading
import time
from collections import deque

from . import graph_write, render, seed
from .identity import SCENARIOS
from .mailstore import message_id
from .util import Response, graph_error, guid, iso, network_fault, now, parse_iso


class Faults:
    """Rules: {"status": 429|503|504|500|410|401|"drop"|"timeout"|"delay", "share": 0..1, "count": N,
    "retry_after": "2.128", "path_contains": "/messages/delta", "method": "GET", "user": addr, "code", "message",
    "delay": seconds}. Deterministic: one RNG seeded from --seed."""

    def __init__(self, seed_value):
        self.lock = threading.Lock()
        self.rules = []
        self.rng = random.Random('faults:%s' % seed_value)

    def set(self, rules, seed_value=None):
        with self.lock:
            if seed_value is not None:
                self.rng = random.Random('faults:%s' % seed_value)
            self.rules = [dict(r, fired=0) for r in rules]

    def match(self, req, user, whole_batch=False):
        """The first rule for this request, counted as fired. A ``$batch`` request itself (``whole_batch``) meets
        only rules that name its path (``path_contains``: "$batch"); the others go to its individual requests."""
        with self.lock:
            for rule in self.rules:
                if rule.get('count') is not None and rule['count'] <= 0:
                    continue
                if whole_batch and 'path_contains' not in rule:
                    continue
                if rule.get('path_contains', '/v1.0/') not in req.path:
                    continue
                if rule.get('method') and rule['method'].upper() != req.method:
                    continue
                if rule.get('user') and (user or '').lower() != rule['user'].lower():
                    continue
                if rule.get('share') is not None and self.rng.random() >= float(rule['share']):
                    continue
                if rule.get('count') is not None:
                    rule['count'] -= 1
                rule['fired'] += 1
                return rule
        return None


def fault_response(rule, req, fresh_link=None):
    broken = network_fault(rule)
    if broken:
        return broken
    status = int(rule.get('status', 429))
    headers = {}
    if rule.get('retry_after') is not None:
        headers['Retry-After'] = str(rule['retry_after'])
    if status == 429:
        # graph-api.md §2.5 [THR]: 429 + Retry-After (may be fractional, e.g. 2.128) + TooManyRequests body
        headers.setdefault('Retry-After', '1')
        return graph_error(429, rule.get('code', 'TooManyRequests'), rule.get('message', 'Please retry again later.'),
                           headers, req, {'code': '429', 'message': 'Please retry after', 'status': '429'})
    if status == 503:
        # graph-api.md §2.2 [ERR]: 503 service unavailable (may carry Retry-After)
        return graph_error(503, rule.get('code', 'serviceNotAvailable'), rule.get('message', 'Service Unavailable'),
                           headers, req)
    if status == 504:
        return graph_error(504, rule.get('code', 'UnknownError'), rule.get('message', 'Gateway Timeout'), headers, req)
    if status == 410:
        # graph-api.md §1.8: expired sync state, with a Location to a fresh delta URL when known
        if fresh_link:
            headers['Location'] = fresh_link
        return graph_error(410, rule.get('code', 'SyncStateNotFound'), rule.get(
            'message', 'The sync state generation is not found; generation=149;[highest=157][157][155][156].'),
            headers, req)
    if status == 401:
        return graph_error(401, 'InvalidAuthenticationToken', 'Access token validation failure.', headers, req)
    return graph_error(status, rule.get('code', 'generalException'), rule.get('message', 'Injected failure.'),
                       headers, req)


class Counters:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.total = 0           # Graph requests: each individual request of a batch counts, and the batch
            self.in_batches = 0      # of those, the individual requests of batches (total - in_batches: HTTP requests)
            self.by_endpoint = {}
            self.by_user = {}
            self.by_status = {}
            self.max_in_flight = {}
            self.max_10min = {}
            self.windows = {}
            self.in_flight = {}
            self.connections = 0     # TLS connections a client opened (the control API's own excluded)
            self.by_identity = {}    # identity platform requests: openid-configuration, instance-discovery, token

    def connection(self):
        with self.lock:
            self.connections += 1

    def identity(self, endpoint):
        with self.lock:
            self.by_identity[endpoint] = self.by_identity.get(endpoint, 0) + 1

    def record(self, endpoint, user):
        with self.lock:
            self.total += 1
            self.by_endpoint[endpoint] = self.by_endpoint.get(endpoint, 0) + 1
            if user:
                self.by_user[user] = self.by_user.get(user, 0) + 1
                win = self.windows.setdefault(user, deque())
                t = time.monotonic()
                win.append(t)
                while win and win[0] < t - 600:  # graph-api.md §2.5 [THRL]: 10,000 requests / 10 min / mailbox
                    win.popleft()
                self.max_10min[user] = max(self.max_10min.get(user, 0), len(win))
                return len(win)
        return 0

    def batched(self):
        with self.lock:
            self.in_batches += 1

    def status(self, code):
        with self.lock:
            self.by_status[str(code)] = self.by_status.get(str(code), 0) + 1

    def enter(self, user):
        with self.lock:
            n = self.in_flight.get(user, 0) + 1
            self.in_flight[user] = n
            self.max_in_flight[user] = max(self.max_in_flight.get(user, 0), n)
            return n

    def leave(self, user):
        with self.lock:
            self.in_flight[user] = self.in_flight.get(user, 1) - 1


def _body(req):
    return req.json() if req.body else {}


def _mbx(app, ref):
    mbx = app.store.mailbox(ref) if ref else app.store.mailboxes[0]
    if mbx is None:
        raise KeyError('unknown user %r' % ref)
    return mbx


def ground_truth(app, user=None):
    out = {}
    for mbx in app.store.mailboxes:
        if user and mbx.address.lower() != user.lower():
            continue
        folders = {}
        for folder in mbx.folders.values():
            msgs = {}
            for _, core in folder.keys:
                m = mbx.msgs[core]
                msgs[message_id(m, True)] = {
                    'isRead': m.is_read, 'flagStatus': (m.flag or {}).get('flagStatus', 'notFlagged'),
                    'categories': list(m.categories), 'internetMessageId': m.imid,
                    'receivedDateTime': iso(m.received), 'subject': m.subject, 'conversationId': m.conv,
                    'isDraft': m.is_draft, 'regularId': message_id(m, False), 'changeKey': render.change_key(m)}
            folders[folder.id] = {'name': folder.name, 'parent': folder.parent, 'well_known': folder.wk,
                                  'hidden': folder.hidden, 'messages': msgs}
        out[mbx.address] = folders
    return out


def deliver(app, data):
    """New mail arriving from outside (as Exchange would deliver it)."""
    store = app.store
    mbx = _mbx(app, data.get('user'))
    folder = store.resolve_folder(mbx, data.get('folder') or 'inbox')
    if folder is None:
        raise KeyError('unknown folder %r' % data.get('folder'))
    spec = data.get('message') or {}
    ids, regular = [], []
    rng = random.Random('deliver:%s:%s' % (mbx.idx, mbx.counter))
    for i in range(int(data.get('count', 1))):
        frm = spec.get('from') or {'name': 'Alex Wilber', 'address': 'alexw@fabrikam.test'}
        if isinstance(frm, str):
            frm = {'name': frm, 'address': frm}
        frm = frm.get('emailAddress', frm)
        to = spec.get('to') or [mbx.address]
        to = tuple((t, t) if isinstance(t, str) else (t.get('name') or t['address'], t['address']) for t in to)
        received = parse_iso(spec['receivedDateTime']) if spec.get('receivedDateTime') else now() - 0.001 * (
            int(data.get('count', 1)) - i)
        subject = spec.get('subject') or 'Delivered message %d' % (mbx.counter + 1)
        msg = seed.new_message(mbx, rng, received, subject, (frm.get('name') or frm['address'], frm['address']),
                               to, spec.get('conversationId') or seed.conversation_id(mbx, 10 ** 6 + mbx.counter),
                               is_read=bool(spec.get('isRead', False)))
        msg.created = msg.modified = now()
        msg.flag = None
        msg.categories = tuple(spec.get('categories') or ())
        msg.att_kind = 0
        if spec.get('internetMessageId'):
            msg.imid = spec['internetMessageId'] if i == 0 else '%s.%d' % (spec['internetMessageId'], i)
        if spec.get('body') is not None:
            body = spec['body']
            msg.body = (body.get('contentType', 'html').lower(), body.get('content', '')) if isinstance(body, dict) \
                else ('html', str(body))
        elif spec.get('attachments') and any((a.get('@odata.type') or '').lower().endswith('referenceattachment')
                                             for a in spec['attachments']):
            links = ''.join('<p><a href="%s">%s</a></p>' % (a.get('sourceUrl') or '', a.get('name') or 'link')
                            for a in spec['attachments']
                            if (a.get('@odata.type') or '').lower().endswith('referenceattachment'))
            msg.body = ('html', '<html><body><p>Shared with you:</p>%s</body></html>' % links)
        if spec.get('type') or spec.get('meetingMessageType'):
            # meeting mail (graph-api.md §12): eventMessageRequest / eventMessage / eventMessageResponse
            kind = (spec.get('type') or 'eventMessageRequest').replace('#microsoft.graph.', '')
            if kind not in ('eventMessage', 'eventMessageRequest', 'eventMessageResponse'):
                raise ValueError('unknown message type %r' % kind)
            start = parse_iso(_dt(spec.get('startDateTime'))) if spec.get('startDateTime') else received + 86400
            end = parse_iso(_dt(spec.get('endDateTime'))) if spec.get('endDateTime') else start + 1800
            location = spec.get('location')
            if isinstance(location, dict):
                location = location.get('displayName')
            default_type = {'eventMessageRequest': 'meetingRequest', 'eventMessageResponse': 'meetingAccepted'}
            msg.event = {'type': kind, 'meetingMessageType': spec.get('meetingMessageType') or default_type.get(
                kind, 'meetingCancelled'), 'start': start, 'end': end, 'location': location or '',
                'isAllDay': bool(spec.get('isAllDay')), 'responseType': spec.get('responseType', 'accepted')}
        if spec.get('attachments'):
            msg.atts = []
            for a in spec['attachments']:
                otype = (a.get('@odata.type') or '').lower()
                if otype.endswith('itemattachment'):
                    # an attached message (graph-api.md §12); "item": {subject, from, body, internetMessageId}
                    item = a.get('item') or {}
                    msg.atts.append({'kind': 'item', 'name': a.get('name') or item.get('subject') or 'message',
                                     'contentType': None, 'isInline': False, 'contentId': None, 'data': None,
                                     'item': seed.attached_message(msg, item)})
                    continue
                if otype.endswith('referenceattachment'):
                    msg.atts.append({'kind': 'reference', 'name': a.get('name') or 'link', 'contentType': None,
                                     'isInline': False, 'contentId': None, 'data': b'',
                                     'sourceUrl': a.get('sourceUrl') or seed.REF_URL % msg.core[:8],
                                     'providerType': a.get('providerType') or 'oneDriveBusiness',
                                     'permission': a.get('permission') or 'view', 'isFolder': bool(a.get('isFolder'))})
                    continue
                if 'size' in a and 'contentBytes' not in a:
                    raw = (b'0123456789abcdef' * (int(a['size']) // 16 + 1))[:int(a['size'])]
                else:
                    import base64
                    raw = base64.b64decode(a.get('contentBytes', ''))
                msg.atts.append({'name': a.get('name', 'file.bin'), 'isInline': bool(a.get('isInline')),
                                 'contentType': a.get('contentType', 'application/octet-stream'),
                                 'contentId': a.get('contentId'), 'data': raw})
            graph_write._finish_atts(msg)
        store.insert(mbx, folder, msg)
        ids.append(message_id(msg, True))
        regular.append(message_id(msg, False))
    return {'ids': ids, 'regular_ids': regular, 'folder': folder.id}


def _dt(value):
    return value.get('dateTime') if isinstance(value, dict) else value


def mutate(app, data):
    """Server-side changes, as another Outlook client would make them."""
    store = app.store
    mbx = _mbx(app, data.get('user'))
    op = data.get('op')
    if op in ('create_folder', 'rename_folder', 'delete_folder'):
        if op == 'create_folder':
            parent = store.resolve_folder(mbx, data.get('parent') or 'msgfolderroot')
            folder = store.add_folder(mbx, data['name'], parent.id, hidden=bool(data.get('hidden')))
            return {'folder': folder.id}
        folder = store.resolve_folder(mbx, data.get('folder'))
        if folder is None:
            raise KeyError('unknown folder')
        if op == 'rename_folder':
            store.rename_folder(mbx, folder, data['name'])
        else:
            store.delete_folder(mbx, folder)
        return {'folder': folder.id}
    ids = data.get('ids') or [data.get('id')]
    out = []
    for mid in ids:
        msg = store.find_message(mbx, mid or '')
        if msg is None:
            raise KeyError('unknown message %r' % mid)
        if op == 'move':
            dest = store.resolve_folder(mbx, data.get('destination') or '')
            if dest is None:
                raise KeyError('unknown destination')
            store.move(mbx, msg, dest)
        elif op == 'delete':
            if data.get('hard'):
                store.hard_delete(mbx, msg)
            else:
                store.soft_delete(mbx, msg)
        elif op == 'update':
            fields = {}
            f = data.get('fields') or {}
            if 'isRead' in f:
                fields['is_read'] = bool(f['isRead'])
            if 'flag' in f:
                fields['flag'] = f['flag'] if isinstance(f['flag'], dict) else {'flagStatus': f['flag']}
            if 'categories' in f:
                fields['categories'] = tuple(f['categories'])
            if 'subject' in f:
                fields['subject'] = f['subject']
            store.update(mbx, msg, fields)
        else:
            raise KeyError('unknown op %r' % op)
        out.append(message_id(msg, False) if msg.core in mbx.msgs else None)
    return {'ok': True, 'regular_ids': out}


def handle(app, req):
    """-> Response. Every control call is JSON; unknown paths 404."""
    path = req.path[len('/_emulator'):].rstrip('/')
    m = req.method
    try:
        data = _body(req) if m in ('POST', 'PUT', 'PATCH') else {}
        with app.store.lock:
            graph_write.settle(app.store)  # time passes for the control API too (Sent Items copies)
            result = _route(app, req, path, m, data)
    except (KeyError, ValueError, TypeError) as exc:
        return Response(400, {'error': str(exc)})
    if isinstance(result, Response):
        return result
    return Response(200, result)


def _route(app, req, path, m, data):
    store, ident = app.store, app.identity
    if path == '/info':
        return app.info()
    if path == '/state':
        return ground_truth(app, req.query.get('user'))
    if path == '/deliver' and m == 'POST':
        return deliver(app, data)
    if path == '/mutate' and m == 'POST':
        return mutate(app, data)
    if path == '/seed' and m == 'POST':
        mbx = _mbx(app, data.get('user'))
        folder = store.resolve_folder(mbx, data.get('folder') or 'inbox')
        t = time.perf_counter()
        msgs = seed.gen_messages(mbx, random.Random('seed:%s:%s' % (mbx.idx, mbx.counter)), int(data['count']))
        store.bulk_insert(mbx, folder, msgs)
        return {'count': len(msgs), 'folder': folder.id, 'seconds': round(time.perf_counter() - t, 3)}
    if path == '/expire_delta' and m == 'POST':
        # graph-api.md §1.8: tokens issued before now -> 410 SyncStateNotFound | resyncRequired | SyncStateInvalid
        code = data.get('code') or 'SyncStateNotFound'
        mbxs = [_mbx(app, data['user'])] if data.get('user') else store.mailboxes
        for mbx in mbxs:
            key = '*'
            if data.get('folder'):
                key = 'hierarchy' if data['folder'] == 'hierarchy' else store.resolve_folder(mbx, data['folder']).id
            mbx.delta_expired[key] = (store.token_gen, code)
        return {'ok': True, 'cutoff': store.token_gen, 'code': code}
    if path == '/delta_quirks' and m == 'POST':
        mbx = _mbx(app, data.get('user'))
        folder = store.resolve_folder(mbx, data['folder']).id if data.get('folder') else None
        for name in ('empty_pages', 'duplicates', 'replay'):
            if name in data:
                mbx.quirks[name] = {'count': int(data[name]), 'folder': folder, 'n': int(data.get('replay_n', 2))}
        return {'ok': True, 'quirks': mbx.quirks}
    if path == '/faults':
        if m == 'DELETE':
            app.faults.set([])
            return {'ok': True}
        if m == 'POST':
            app.faults.set(data.get('rules') or [], data.get('seed'))
        return {'rules': app.faults.rules}
    if path == '/token_errors':
        if m == 'DELETE':
            ident.injections = []
            return {'ok': True}
        if m == 'POST':
            items = data.get('errors') or [data]
            for item in items:
                scenario = str(item['scenario'])
                if scenario not in SCENARIOS:
                    raise ValueError('unknown scenario %s' % scenario)
                ident.injections.append({'scenario': scenario, 'count': int(item.get('count', 1)),
                                         'user': item.get('user'), 'grant_type': item.get('grant_type'),
                                         'error': item.get('error')})
        return {'pending': ident.injections}
    if path == '/revoke' and m == 'POST':
        ident.revoke(data['user'], bool(data.get('access_tokens')))
        return {'ok': True}
    if path == '/identity' and m == 'POST':
        return ident.set_identity(_mbx(app, data['user']), oid=data.get('oid'), tid=data.get('tid'))
    if path == '/identity' and m == 'DELETE':
        for mbx in store.mailboxes:
            ident.set_identity(mbx)
        return {'ok': True}
    if path == '/consent' and m == 'POST':
        ident.consent = {'auto': data.get('auto'), 'user': data.get('user')}
        return ident.consent
    if path == '/tokens' and m == 'POST':
        mbx = _mbx(app, data.get('user'))
        if mbx.shared:
            # a shared mailbox cannot sign in (About shared mailboxes: sign-in blocked), so it never has tokens
            raise ValueError('%s is a shared mailbox: it cannot sign in (AADSTS50057)' % mbx.address)
        scopes = data.get('scopes') or ['Mail.ReadWrite', 'Mail.Send', 'User.Read']
        token, lifetime = ident.mint_access_token(mbx, scopes, data.get('lifetime'))
        out = {'access_token': token, 'expires_in': lifetime, 'user': mbx.address}
        if data.get('refresh_token'):
            out['refresh_token'] = ident.mint_refresh_token(mbx, list(scopes) + ['openid', 'profile',
                                                                                 'offline_access'])
        return out
    if path == '/counters':
        c = app.counters
        with c.lock:
            return {'total': c.total, 'in_batches': c.in_batches, 'by_endpoint': dict(c.by_endpoint),
                    'by_user': dict(c.by_user), 'by_status': dict(c.by_status),
                    'token': {'total': ident.counters['total'], 'by_user': dict(ident.counters['by_user']),
                              'by_grant': dict(ident.counters['by_grant'])},
                    'max_in_flight': dict(c.max_in_flight), 'max_requests_10min': dict(c.max_10min),
                    'in_flight': dict(c.in_flight), 'connections': c.connections,
                    'by_identity': dict(c.by_identity)}
    if path == '/counters/reset' and m == 'POST':
        app.counters.reset()
        ident.counters = {'total': 0, 'by_user': {}, 'by_grant': {}}
        return {'ok': True}
    if path == '/config':
        if m == 'POST':
            unknown = set(data) - set(app.config)
            if unknown:
                raise KeyError('unknown config keys %s' % sorted(unknown))
            from .server import apply_config
            apply_config(app.config, data)
        return dict(app.config)
    if path == '/neutral' and m == 'POST':
        # back to a neutral service between tests: no faults, token errors, auto-consent, consent grants,
        # delta quirks, mailbox switches, changed identities or sends in flight; the realism knobs as the
        # emulator started
        app.faults.set([])
        app.subscriptions.reset()
        ident.injections = []
        ident.consent = {'auto': None, 'user': None}
        ident.consented = {}
        graph_write.settle(store, force=True)
        store.grants = dict(store.startup_grants)  # Exchange permissions as the emulator started
        for mbx in store.mailboxes:
            mbx.quirks = {}
            mbx.exchange_online = True
            mbx.send_as = []
            ident.set_identity(mbx)
        from .server import KIND
        for key in list(KIND) + ['realistic']:
            app.config[key] = app.startup_config[key]
        for key in ('max_request_size', 'max_upload_range', 'redirect_uris', 'token_scope', 'push_http_loopback',
                    'push_max_lifetime_minutes'):
            app.config[key] = app.startup_config[key]
        return {'ok': True, 'config': dict(app.config)}
    if path == '/subscriptions':
        return app.subscriptions.listing()  # change notifications (emulator/subscriptions.py)
    if path == '/subscriptions/expire' and m == 'POST':
        return app.subscriptions.expire(data)
    if path == '/lifecycle' and m == 'POST':
        return app.subscriptions.lifecycle(data)
    if path == '/settle' and m == 'POST':
        # every send in flight completes now (its Sent Items copy appears, recipients get it)
        pending = store.transit
        graph_write.settle(store, force=True)
        return {'ok': True, 'settled': pending}
    if path == '/mailbox' and m == 'POST':
        # per-mailbox switches (graph-api.md §12): {"user", "exchange_online": false} -> 404
        # MailboxNotEnabledForRESTAPI on mail calls; {"send_as": [addresses]} -> allowed From addresses
        mbx = _mbx(app, data.get('user'))
        if 'exchange_online' in data:
            mbx.exchange_online = bool(data['exchange_online'])
        if 'send_as' in data:
            mbx.send_as = [str(a) for a in data['send_as'] or []]
        return {'user': mbx.address, 'exchange_online': mbx.exchange_online, 'send_as': list(mbx.send_as),
                'in_transit': len(mbx.in_transit)}
    if path.startswith(('/shared', '/permissions')):
        return shared_mailboxes(app, path, m, data, req.query)
    return Response(404, {'error': 'unknown control endpoint %s %s' % (m, path), 'request_id': guid()})


def shared_mailboxes(app, path, m, data, query):
    """Exchange shared mailboxes and mailbox permissions.

    ``POST /shared {"address", "name", "messages", "grant": {user: [rights]}}``: create a shared mailbox (it cannot
    sign in) with seeded mail; ``POST /permissions {"mailbox", "user", "full_access", "send_as",
    "send_on_behalf"}``: grant (true) / revoke (false) rights, missing ones unchanged, effective on the next request
    (Add-/Remove-MailboxPermission, Add-/Remove-RecipientPermission, Set-Mailbox -GrantSendOnBehalfTo);
    ``GET /permissions[?mailbox=]``: the grants.
    """
    store = app.store
    if path == '/shared' and m == 'POST':
        mbx = seed.add_shared_mailbox(store, data['address'], data.get('name'), int(data.get('messages', 20)),
                                      store.seed)
        for user, rights in (data.get('grant') or {}).items():
            store.set_rights(mbx, _mbx(app, user), **dict.fromkeys(rights, True))
        return {'address': mbx.address, 'name': mbx.name, 'id': mbx.oid, 'shared': True}
    if path == '/shared' and m == 'GET':
        return {'shared': [mbx.address for mbx in store.mailboxes if mbx.shared]}
    if path == '/permissions' and m == 'POST':
        mbx, user = _mbx(app, data['mailbox']), _mbx(app, data['user'])
        if user.shared:
            raise ValueError('%s is a shared mailbox: permissions are granted to users' % user.address)
        changes = {name: bool(data[name]) for name in ('full_access', 'send_as', 'send_on_behalf') if name in data}
        return {'mailbox': mbx.address, 'user': user.address, 'rights': store.set_rights(mbx, user, **changes)}
    if path == '/permissions' and m == 'GET':
        wanted = (query.get('mailbox') or '').lower()
        return {'grants': [{'mailbox': box, 'user': user, 'rights': sorted(rights)}
                           for (box, user), rights in sorted(store.grants.items()) if not wanted or box == wanted]}
    return Response(404, {'error': 'unknown control endpoint %s %s' % (m, path), 'request_id': guid()})
