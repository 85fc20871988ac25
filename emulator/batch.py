"""JSON batching: ``POST /v1.0/$batch`` as Microsoft Graph serves it.

"Combine multiple HTTP requests using JSON batching", https://learn.microsoft.com/graph/json-batching:

* the body is ``{"requests": [{"id", "method", "url", "headers"?, "body"?, "dependsOn"?}]}``, at most 20 requests
  ("JSON batch requests are currently limited to 20 individual requests"), more -> 400 for the whole batch;
* ``id`` is required and unique (case-insensitive) within the batch, else 400; ``url`` is relative to the version
  root (``/me/messages/{id}``); a ``body`` needs a ``Content-Type`` header, else 400;
* ``dependsOn`` names earlier requests; a request whose dependency failed is not run and answers
  ``424 Failed Dependency``. A request depends on one other at most, and a batch is parallel (no ``dependsOn``),
  serial (each request after the first depends on the one before) or all its dependent requests depend on the
  same one; anything else is 400 "Batch should be either fully sequential or fully parallel" (Graph known
  issues, "JSON batching", as the Graph JS SDK's BatchRequestContent validates it; Microsoft Q&A 1532547);
* the answer is ``200 {"responses": [{"id", "status", "headers", "body"}]}`` whatever the individual statuses;
  "the order of the responses may be different from the order of the requests" (realistic mode shuffles them);
* every individual request is evaluated against the throttling limits on its own (a 429 inside the batch, with
  its ``Retry-After`` in that response's headers) — "Throttling and batching",
  https://learn.microsoft.com/graph/throttling#throttling-and-batching;
* no header of the batch request is passed on to the individual requests but the authorization: the individual
  ``headers`` are all they have (so ``Prefer: IdType="ImmutableId"`` goes on each of them).

Graph dispatches up to four independent requests of a batch to Outlook at the same time, whatever their mailbox
("Outlook service limits", https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits; Microsoft
Q&A 1660054), and those count against the mailbox's 4 concurrent requests. The emulator runs them one after the
other, each through :meth:`server.App.graph` (auth, faults, limits, counters), and while one runs it holds a
concurrency slot of its mailbox for each of the (up to 3) independent requests Graph would be running beside it:
a parallel batch of 4 or more fills a mailbox's 4 slots, and a request of another client meanwhile is throttled
(429 MailboxConcurrency), as are requests of the batch beside another client's. A serial batch takes one slot.
"""
import json
import random
from email.message import Message
from urllib.parse import parse_qsl

from . import graph_api
from .util import Request, Response, graph_error

MAX_REQUESTS = 20
OUTLOOK_PARALLEL = 4


def _fail(message, req):
    return graph_error(400, 'BadRequest', message, request=req)


def handle(app, req, caller):
    """The answer to one ``POST /v1.0/$batch`` of ``caller`` (the token's mailbox)."""
    if req.method != 'POST':
        return graph_error(405, 'BadRequest', 'The batch endpoint only supports POST.', request=req)
    try:
        payload = req.json()
    except ValueError:
        return _fail('Invalid batch payload format.', req)
    requests = payload.get('requests') if isinstance(payload, dict) else None
    if not isinstance(requests, list) or not requests:
        return _fail('Invalid batch payload format.', req)
    if len(requests) > MAX_REQUESTS:
        return _fail('Number of requests exceeds the limit of %d.' % MAX_REQUESTS, req)
    seen = set()
    for item in requests:
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) and item.get(k)
                                                 for k in ('id', 'method', 'url')):
            return _fail('Invalid batch payload format.', req)
        if item['id'].lower() in seen:
            return _fail('Batch request contains duplicate request ids: %s.' % item['id'], req)
        depends = item.get('dependsOn') or []
        if not isinstance(depends, list) or any(not isinstance(d, str) or d.lower() not in seen for d in depends):
            return _fail('Depends-on request with id %s was not found in the batch.' % item['id'], req)
        if item.get('body') is not None and not _content_type(item.get('headers')):
            return _fail('Content-Type header is required when a body is present (request %s).' % item['id'], req)
        if item['url'].lower().startswith(('http://', 'https://')):
            return _fail('Only relative URLs are supported in a batch (request %s).' % item['id'], req)
        seen.add(item['id'].lower())
    sequencing = _sequencing(requests)
    if sequencing is None:
        return _fail('Batch should be either fully sequential or fully parallel.', req)
    statuses, responses = {}, []
    for index, item in enumerate(requests):
        failed = [d for d in item.get('dependsOn') or () if not 200 <= statuses[d.lower()] < 300]
        if failed:
            answer = graph_error(424, 'FailedDependency', 'Failed dependency: %s.' % ', '.join(failed))
        else:
            beside = [_mailbox_of(app, caller, other) for other in _running_beside(requests, index, sequencing)]
            beside = [user for user in beside if user]
            for user in beside:
                app.counters.enter(user)
            app.counters.batched()
            try:
                answer = app.graph(_individual_request(req, item))
            finally:
                for user in beside:
                    app.counters.leave(user)
            if answer.status == 0:  # a dropped / timed-out individual request: the gateway gives up on it
                answer = graph_error(504, 'GatewayTimeout', 'The request timed out.')
        statuses[item['id'].lower()] = answer.status
        responses.append(_response_json(item['id'], answer))
    if app.config.get('realistic'):
        random.Random(req.header('client-request-id') or len(responses)).shuffle(responses)
    return Response(200, {'responses': responses})


def _sequencing(requests):
    """'parallel', 'serial' (each request after the first on the one before), 'same' (every dependent request on
    the same one) or None (unsupported); one dependency per request at most."""
    depends = [[d.lower() for d in item.get('dependsOn') or ()] for item in requests]
    if any(len(d) > 1 for d in depends):
        return None
    if not any(depends):
        return 'parallel'
    if not depends[0] and all(depends[i] == [requests[i - 1]['id'].lower()] for i in range(1, len(requests))):
        return 'serial'
    return 'same' if len({d[0] for d in depends if d}) == 1 else None


def _running_beside(requests, index, sequencing):
    """The requests Graph runs beside request ``index``: up to 3 of the later ones of its group (the independent
    requests, or those waiting for the same one); none in a serial batch."""
    if sequencing == 'serial':
        return []
    waits = bool(requests[index].get('dependsOn'))
    return [item for item in requests[index + 1:] if bool(item.get('dependsOn')) == waits][:OUTLOOK_PARALLEL - 1]


def _mailbox_of(app, caller, item):
    """The mailbox whose concurrency an individual request takes: ``/users/{id}``'s, else the caller's."""
    _template, target, _rest = graph_api.route(graph_api.split_path(item['url'].partition('?')[0]))
    owner = app.store.mailbox(target[1]) if target and target[0] == 'users' else caller
    return owner.address if owner else None


def _content_type(headers):
    return any(k.lower() == 'content-type' for k in (headers or {}))


def _individual_request(batch_req, item):
    headers = Message()
    for key, value in (item.get('headers') or {}).items():
        headers[str(key)] = str(value)
    if batch_req.header('Authorization'):
        headers['Authorization'] = batch_req.header('Authorization')
    url = '/' + item['url'].lstrip('/')
    path, _, raw_query = url.partition('?')
    body = item.get('body')
    raw = b'' if body is None else json.dumps(body).encode('utf-8')
    return Request(item['method'].upper(), '/v1.0' + path, dict(parse_qsl(raw_query, keep_blank_values=True)),
                   raw_query, headers, raw, batch_req.base_url)


def _response_json(request_id, answer):
    out = {'id': request_id, 'status': answer.status,
           'headers': {k: v for k, v in answer.headers.items() if k.lower() in ('retry-after', 'content-type',
                                                                                   'location')}}
    if answer.body:
        try:
            out['body'] = json.loads(answer.body.decode('utf-8'))
        except ValueError:
            out['body'] = answer.body.decode('utf-8', 'replace')
    return out
