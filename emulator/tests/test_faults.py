"""Throttling, 5xx, dropped connections, MailboxConcurrency and counters (graph-api.md §2.4, §2.5)."""
import concurrent.futures
import time

import pytest
import requests

from emulator.tests.helpers import Graph


@pytest.mark.parametrize('retry_after', ['2.128', '3'])
def test_429_with_retry_after_integer_and_fractional(emu, graph, retry_after):
    emu.faults({'status': 429, 'count': 2, 'retry_after': retry_after, 'path_contains': '/messages/delta'})
    url = '/me/mailFolders/inbox/messages/delta'
    for _ in range(2):
        r = graph.get(url)
        assert r.status_code == 429 and r.headers['Retry-After'] == retry_after
        err = r.json()['error']
        assert err['code'] == 'TooManyRequests' and err['innerError']['status'] == '429'
    assert graph.get(url).status_code == 200  # count exhausted
    assert graph.get('/me/mailFolders').status_code == 200  # other paths untouched


def test_share_is_deterministic_and_partial(emu, graph):
    emu.control('POST', '/faults', {'rules': [{'status': 429, 'share': 0.5, 'path_contains': '/mailFolders/'}],
                                    'seed': 42})
    first = [graph.get('/me/mailFolders/inbox').status_code for _ in range(40)]
    emu.control('POST', '/faults', {'rules': [{'status': 429, 'share': 0.5, 'path_contains': '/mailFolders/'}],
                                    'seed': 42})
    second = [graph.get('/me/mailFolders/inbox').status_code for _ in range(40)]
    assert first == second and 5 < first.count(429) < 35


def test_user_scoped_rule_and_5xx(emu):
    g0, g1 = Graph(emu, emu.users[0]), Graph(emu, emu.users[1])
    emu.faults({'status': 503, 'retry_after': '1', 'user': emu.users[1], 'count': 1},
               {'status': 504, 'count': 1, 'user': emu.users[0]})
    r = g1.get('/me/mailFolders')
    assert r.status_code == 503 and r.headers['Retry-After'] == '1' and 'error' in r.json()
    r = g0.get('/me/mailFolders')
    assert r.status_code == 504
    assert g0.get('/me/mailFolders').status_code == 200 and g1.get('/me/mailFolders').status_code == 200


def test_dropped_connection_and_timeout(emu, graph):
    emu.faults({'status': 'drop', 'count': 1})
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(emu.graph_url + '/me/mailFolders', headers=graph.headers(), verify=emu.ca_bundle)
    emu.faults({'status': 'timeout', 'delay': 1.0, 'count': 1})
    with pytest.raises((requests.exceptions.Timeout, requests.exceptions.ConnectionError)):
        requests.get(emu.graph_url + '/me/mailFolders', headers=graph.headers(), verify=emu.ca_bundle, timeout=0.3)
    emu.faults({'status': 'delay', 'delay': 0.3, 'count': 1})
    t = time.monotonic()
    assert graph.get('/me/mailFolders').status_code == 200 and time.monotonic() - t >= 0.3


def test_410_fault_on_delta_has_location(emu, graph):
    emu.faults({'status': 410, 'count': 1, 'path_contains': '/messages/delta', 'code': 'resyncRequired'})
    r = graph.get('/me/mailFolders/inbox/messages/delta')
    assert r.status_code == 410 and r.json()['error']['code'] == 'resyncRequired'
    assert r.headers['Location'].endswith("mailFolders('inbox')/messages/delta")


def test_mailbox_concurrency_429(emu):
    g = Graph(emu, emu.users[1])
    other = Graph(emu, emu.users[2])
    emu.reset_counters()
    emu.config(latency=0.4)

    def call(client):
        return client.get('/me/mailFolders/inbox?x=%f' % time.monotonic())
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        futures = [pool.submit(call, g) for _ in range(8)] + [pool.submit(call, other) for _ in range(2)]
        results = [f.result() for f in futures]
    mine = results[:8]
    throttled = [r for r in mine if r.status_code == 429]
    assert throttled and len([r for r in mine if r.status_code == 200]) >= 4
    for r in throttled:
        assert r.json()['error']['code'] == 'ApplicationThrottled'
        assert r.json()['error']['message'] == 'Application is over its MailboxConcurrency limit.'
        assert r.headers['Retry-After']
    assert all(r.status_code == 200 for r in results[8:])  # another mailbox is not affected (§2.5)
    counters = emu.counters()
    assert counters['max_in_flight'][emu.users[1]] > 4
    assert counters['by_endpoint']['GET /v1.0/me/mailFolders/{id}'] >= 10


def test_counters_and_budget(emu):
    g = Graph(emu, emu.users[0])
    emu.reset_counters()
    g.get('/me/mailFolders/inbox/messages/delta')
    g.get('/me/mailFolders/inbox/messages/delta')
    g.get('/me')
    c = emu.counters()
    assert c['total'] == 3 and c['by_user'][emu.users[0]] == 3
    assert c['by_endpoint'] == {'GET /v1.0/me/mailFolders/{id}/messages/delta': 2, 'GET /v1.0/me': 1}
    assert c['max_requests_10min'][emu.users[0]] == 3
    emu.config(mailbox_budget=4)
    assert g.get('/me').status_code == 200
    r = g.get('/me')
    assert r.status_code == 429 and r.json()['error']['code'] == 'ApplicationThrottled'
