"""JSON batching: ``POST /v1.0/$batch`` as Microsoft Graph serves it.

"Combine multiple HTTP requests using JSON batching", https://learn.microsoft.com/graph/json-batching:

* the body is ``{"requests": [{"id", "method", "url", "headers"?, "body"?, "dependsOn"?}]}``, at most 20 requests
  ("JSON batch requests are currently limited to 20 individual requests"), more -> 400 for the whole batch;
* ``id`` is required and unique (case-insensitive) within the batch, else 400; ``url`` is relative to the version
  root (``/me/messages/{id}``); a ``body`` needs a ``Content-Type`` header, else 400;
* ``dependsOn`` names earlier requests; a request whose dependency failed is not run and answers
  ``424 Failed Dependency``;
* the answer is ``200 {"responses": [{"id", "status", "headers", "body"}]}`` whatever the individual statuses;
  "the order of the responses may be different from the order of the requests" (realistic mode shuffles them);
* every individual request is evaluated against the throttling limits on its own (a 429 inside the batch, with
  its ``Retry-After`` in that response's headers) — "Throttling and batching",
  https://learn.microsoft.com/graph/throttling#throttling-and-batching;
* no header of the batch request is passed on to the individual requests but the authorization: the individual
  ``headers`` are all they have (so ``Prefer: IdType="ImmutableId"`` goes on each of them).

Outlook runs four individual requests of a batch at a time ("Outlook service batching",
https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits): the emulator runs them one after the
other, which never exceeds that, and each goes through :meth:`server.App.graph` (auth, faults, limits, counters).
"""
import json
import random
from email.message import Message
from urllib.parse import parse_qsl

from .util import Request, Response, graph_error

MAX_REQUESTS = 20


def _fail(message, req):
    return graph_error(400, 'BadRequest', message, request=req)


def handle(app, req):
    """The answer to one ``POST /v1.0/$batch``."""
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
    statuses, responses = {}, []
    for item in requests:
        failed = [d for d in item.get('dependsOn') or () if not 200 <= statuses[d.lower()] < 300]
        if failed:
            answer = graph_error(424, 'FailedDependency', 'Failed dependency: %s.' % ', '.join(failed))
        else:
            answer = app.graph(_individual_request(req, item))
            if answer.status == 0:  # a dropped / timed-out individual request: the gateway gives up on it
                answer = graph_error(504, 'GatewayTimeout', 'The request timed out.')
        statuses[item['id'].lower()] = answer.status
        responses.append(_response_json(item['id'], answer))
    if app.config.get('realistic'):
        random.Random(req.header('client-request-id') or len(responses)).shuffle(responses)
    return Response(200, {'responses': responses})


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
