"""POST /v1.0/$batch as Graph serves it (emulator/batch.py; https://learn.microsoft.com/graph/json-batching)."""
import concurrent.futures
import time


def _inbox(graph, n):
    return [m['id'] for m in graph.ok('GET', '/me/mailFolders/inbox/messages?$top=%d&$select=id' % n)['value']]


def _batch(graph, requests):
    return graph.post('/$batch', json={'requests': requests})


def test_batch_answers_each_request_with_its_own_status(graph):
    ids = _inbox(graph, 2)
    r = _batch(graph, [
        {'id': '1', 'method': 'PATCH', 'url': '/me/messages/%s' % ids[0], 'body': {'isRead': False},
         'headers': {'Content-Type': 'application/json'}},
        {'id': '2', 'method': 'GET', 'url': '/me/messages/nosuchmessage'},
        {'id': '3', 'method': 'GET', 'url': 'me/messages/%s?$select=isRead' % ids[0], 'dependsOn': ['1']},
    ])
    assert r.status_code == 200
    by_id = {item['id']: item for item in r.json()['responses']}
    assert by_id['1']['status'] == 200 and by_id['2']['status'] in (400, 404)
    assert by_id['3']['status'] == 200 and by_id['3']['body']['isRead'] is False


def test_batch_limits_and_shape_are_enforced(graph):
    many = [{'id': str(i), 'method': 'GET', 'url': '/me'} for i in range(21)]
    assert _batch(graph, many).status_code == 400
    assert _batch(graph, [{'id': 'a', 'method': 'GET', 'url': '/me'},
                          {'id': 'A', 'method': 'GET', 'url': '/me'}]).status_code == 400
    assert _batch(graph, [{'id': 'a', 'method': 'GET', 'url': '/me', 'dependsOn': ['z']}]).status_code == 400
    assert _batch(graph, [{'id': 'a', 'method': 'PATCH', 'url': '/me/messages/x', 'body': {}}]).status_code == 400
    assert _batch(graph, [{'id': 'a', 'method': 'GET', 'url': 'https://graph.microsoft.com/v1.0/me'}]
                  ).status_code == 400


def test_failed_dependency_is_424_and_not_run(graph):
    ids = _inbox(graph, 1)
    r = _batch(graph, [
        {'id': '1', 'method': 'GET', 'url': '/me/messages/nosuchmessage'},
        {'id': '2', 'method': 'DELETE', 'url': '/me/messages/%s' % ids[0], 'dependsOn': ['1']},
    ])
    by_id = {item['id']: item for item in r.json()['responses']}
    assert by_id['2']['status'] == 424
    assert graph.ok('GET', '/me/messages/%s?$select=id' % ids[0])['id'] == ids[0], 'the dependent DELETE never ran'


def test_individual_requests_get_no_header_of_the_batch_but_authorization(igraph):
    """The batch's Prefer: IdType="ImmutableId" is not passed on: each request must carry its own."""
    immutable = _inbox(igraph, 1)[0]
    r = _batch(igraph, [{'id': '1', 'method': 'GET', 'url': '/me/mailFolders/inbox/messages?$top=1&$select=id'},
                        {'id': '2', 'method': 'GET', 'url': '/me/mailFolders/inbox/messages?$top=1&$select=id',
                         'headers': {'Prefer': 'IdType="ImmutableId"'}}])
    by_id = {item['id']: item for item in r.json()['responses']}
    assert by_id['2']['body']['value'][0]['id'] == immutable
    assert by_id['1']['body']['value'][0]['id'] != immutable


def test_throttling_inside_a_batch_is_per_request_with_retry_after(emu, graph):
    ids = _inbox(graph, 3)
    emu.faults({'status': 429, 'retry_after': '2', 'count': 1, 'path_contains': ids[1]})
    r = _batch(graph, [{'id': str(i), 'method': 'GET', 'url': '/me/messages/%s?$select=id' % mid}
                       for i, mid in enumerate(ids)])
    by_id = {item['id']: item for item in r.json()['responses']}
    assert [by_id[k]['status'] for k in '012'] == [200, 429, 200]
    assert by_id['1']['headers']['Retry-After'] == '2'


def test_batch_without_a_token_is_401(emu):
    from emulator.testing import session
    r = session(emu.ca_bundle).post(emu.graph_url + '/$batch', json={'requests': []}, verify=emu.ca_bundle)
    assert r.status_code == 401


def test_mixed_sequencing_is_refused(graph):
    """Graph known issues, "JSON batching": parallel, serial, or every dependent request on the same one."""
    mixed = [{'id': '1', 'method': 'GET', 'url': '/me'}, {'id': '2', 'method': 'GET', 'url': '/me'},
             {'id': '3', 'method': 'GET', 'url': '/me', 'dependsOn': ['1']},
             {'id': '4', 'method': 'GET', 'url': '/me', 'dependsOn': ['2']}]
    r = _batch(graph, mixed)
    assert r.status_code == 400 and 'fully sequential or fully parallel' in r.json()['error']['message']
    two = [{'id': '1', 'method': 'GET', 'url': '/me'}, {'id': '2', 'method': 'GET', 'url': '/me'},
           {'id': '3', 'method': 'GET', 'url': '/me', 'dependsOn': ['1', '2']}]
    assert _batch(graph, two).status_code == 400, 'one dependency per request at most'
    serial = [{'id': str(i), 'method': 'GET', 'url': '/me', **({'dependsOn': [str(i - 1)]} if i else {})}
              for i in range(5)]
    assert _batch(graph, serial).status_code == 200


def _batch_beside_a_slow_request(emu, graph, requests):
    """``requests`` as a batch while another request of the same mailbox is in flight; the batch's statuses."""
    emu.reset_counters()
    emu.faults({'status': 'delay', 'delay': 1.5, 'count': 1, 'path_contains': 'mailFolders/drafts'})
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        slow = pool.submit(graph.get, '/me/mailFolders/drafts')
        time.sleep(0.4)
        r = _batch(graph, requests)
        slow.result()
    return sorted(item['status'] for item in r.json()['responses'])


def test_parallel_batch_takes_four_concurrency_slots(emu, graph):
    """Graph runs 4 independent requests of a batch at once against the mailbox's 4 slots (Microsoft Q&A
    1660054): beside another request in flight, some of them are throttled."""
    ids = _inbox(graph, 6)
    statuses = _batch_beside_a_slow_request(emu, graph, [
        {'id': str(i), 'method': 'GET', 'url': '/me/messages/%s?$select=id' % mid} for i, mid in enumerate(ids)])
    assert 429 in statuses and 200 in statuses, statuses
    assert emu.counters()['max_in_flight'][emu.users[0]] > 4


def test_serial_batch_takes_one_concurrency_slot(emu, graph):
    ids = _inbox(graph, 6)
    statuses = _batch_beside_a_slow_request(emu, graph, [
        {'id': str(i), 'method': 'GET', 'url': '/me/messages/%s?$select=id' % mid,
         **({'dependsOn': [str(i - 1)]} if i else {})} for i, mid in enumerate(ids)])
    assert statuses == [200] * 6
    counters = emu.counters()
    assert counters['max_in_flight'][emu.users[0]] <= 2
    assert (counters['total'], counters['in_batches']) == (8, 6), 'the slow GET, the batch and its 6 requests'


def test_a_fault_naming_the_batch_fails_the_batch_itself(emu, graph):
    """Rules with a path_contains of "$batch" fail the batch request; other rules reach its individual requests."""
    requests = [{'id': '1', 'method': 'GET', 'url': '/me/mailFolders/inbox'}]
    emu.faults({'status': 500, 'count': 1, 'path_contains': '$batch'})
    assert _batch(graph, requests).status_code == 500
    emu.faults({'status': 503, 'count': 1})
    r = _batch(graph, requests)
    assert r.status_code == 200 and r.json()['responses'][0]['status'] == 503
