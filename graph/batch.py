"""JSON batching: many Graph requests in one ``POST /$batch`` — building the body, reading the answer.

Pure functions (no HTTP: :meth:`client.GraphClient.batch` sends). Microsoft's rules
("Combine multiple HTTP requests using JSON batching", https://learn.microsoft.com/graph/json-batching):

* at most :data:`MAX_REQUESTS` (20) requests per batch; each has a unique ``id``, a ``method`` and a ``url``
  relative to the version root (``/me/messages/{id}/move``); a ``body`` needs a ``Content-Type`` header;
* Graph runs up to 4 independent requests of a batch at the same time, against the mailbox's 4 concurrent
  requests ("Outlook service limits", https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits;
  Microsoft Q&A 1660054). A *serial* batch (each request ``dependsOn`` the one before; Graph allows parallel or
  serial, not a mix) takes one slot, as one plain request does; when one of its requests fails, those after it
  answer 424 and were not run (:class:`errors.NotRun`);
* the individual requests get none of the batch request's headers (but its authorization), so the
  ``Prefer: IdType="ImmutableId"`` every MailDesk request carries goes on each of them;
* the batch answers 200 with ``{"responses": [{"id", "status", "headers", "body"}]}`` in any order; each response
  is judged on its own — a 429 inside a batch carries its own ``Retry-After`` ("Throttling and batching",
  https://learn.microsoft.com/graph/throttling#throttling-and-batching) and only those requests are sent again.
"""
import collections

from .errors import BadResponse, NotRun, Throttled, classify

MAX_REQUESTS = 20
IMMUTABLE_ID = {'Prefer': 'IdType="ImmutableId"'}

Step = collections.namedtuple('Step', 'id method url body headers', defaults=(None,))
Step.__doc__ = """One request of a batch: ``id`` (unique in the batch), ``method``, ``url`` relative to the version
root (with its query), ``body`` (a JSON-able dict, or None), ``headers`` of its own (e.g. ``Prefer``), or None."""

Result = collections.namedtuple('Result', 'id status body error')
Result.__doc__ = """The answer to one :class:`Step`: HTTP ``status``, decoded ``body`` (dict or None) and ``error``
(a :class:`errors.GraphError`, not raised; None on success)."""


def request_headers(headers=None):
    """``Prefer: IdType="ImmutableId"`` with ``headers``: several preferences travel in one comma-separated
    ``Prefer`` (RFC 7240). Every MailDesk request, plain or in a batch, carries these."""
    out = dict(IMMUTABLE_ID)
    for key, value in (headers or {}).items():
        out[key] = '%s, %s' % (out['Prefer'], value) if key == 'Prefer' else value
    return out


def chunks(steps, size=MAX_REQUESTS):
    """``steps`` in lists of at most ``size`` (one batch each)."""
    steps = list(steps)
    return [steps[i:i + size] for i in range(0, len(steps), size)]


def request_body(steps, serial=False):
    """The JSON body of one ``POST /$batch`` for up to :data:`MAX_REQUESTS` steps, independent or ``serial``."""
    if not steps or len(steps) > MAX_REQUESTS:
        raise ValueError('a batch holds 1 to %d requests, not %d' % (MAX_REQUESTS, len(steps)))
    ids = [str(step.id) for step in steps]
    if len({i.lower() for i in ids}) != len(ids):
        raise ValueError('batch request ids must be unique')
    requests = []
    for step in steps:
        item = {'id': str(step.id), 'method': step.method, 'url': step.url,
                'headers': request_headers(step.headers)}
        if serial and requests:
            item['dependsOn'] = [requests[-1]['id']]
        if step.body is not None:
            item['body'] = step.body
            item['headers']['Content-Type'] = 'application/json'
        requests.append(item)
    return {'requests': requests}


def results(body, steps):
    """``{step id: Result}`` for every step of the batch whose answer is ``body``.

    A step the answer does not mention (or mentions in a shape that is not Graph's) gets a :class:`BadResponse`
    error: an incomplete-looking answer is never taken as a success.
    """
    wanted = {str(step.id): step for step in steps}
    out = {}
    responses = body.get('responses') if isinstance(body, dict) else None
    for item in responses if isinstance(responses, list) else ():
        if not isinstance(item, dict) or str(item.get('id')) not in wanted or str(item.get('id')) in out:
            continue
        status = item.get('status')
        item_body = item.get('body') if isinstance(item.get('body'), dict) else None
        if not isinstance(status, int):
            error = BadResponse('Graph batch answer without a status', code='badResponse')
        elif status < 400:
            error = None
        else:
            error = classify(status, item_body, item.get('headers') if isinstance(item.get('headers'), dict) else None)
        out[str(item['id'])] = Result(str(item['id']), status, item_body, error)
    for step_id in wanted:
        if step_id not in out:
            out[step_id] = Result(step_id, None, None,
                                  BadResponse('Graph batch answer left out request %s' % step_id, code='badResponse'))
    return out


def not_run(batch_results):
    """The ids of the results whose request was not run (424: the one it depended on failed)."""
    return [result.id for result in batch_results.values() if isinstance(result.error, NotRun)]


def throttled(batch_results):
    """The ids of the throttled results and the longest Retry-After among them (None if none said)."""
    ids, waits = [], []
    for result in batch_results.values():
        if isinstance(result.error, Throttled):
            ids.append(result.id)
            if result.error.retry_after is not None:
                waits.append(result.error.retry_after)
    return ids, (max(waits) if waits else None)

