"""graph/batch.py (pure) and GraphClient.batch against the emulator's $batch (real loopback HTTPS)."""
import pytest

from graph import batch, outgoing
from graph.errors import BadResponse, NotFound, NotRun, Throttled


def _steps(n):
    return [batch.Step(str(i), 'PATCH', '/me/messages/m%d' % i, {'isRead': True}) for i in range(n)]


def test_request_body_carries_immutable_ids_and_content_type_on_each_request():
    body = batch.request_body(_steps(2) + [batch.Step('x', 'DELETE', '/me/messages/m9', None)])
    first, last = body['requests'][0], body['requests'][-1]
    assert first == {'id': '0', 'method': 'PATCH', 'url': '/me/messages/m0', 'body': {'isRead': True},
                     'headers': {'Prefer': 'IdType="ImmutableId"', 'Content-Type': 'application/json'}}
    assert 'body' not in last and 'Content-Type' not in last['headers']


def test_request_body_refuses_more_than_twenty_and_duplicate_ids():
    with pytest.raises(ValueError):
        batch.request_body(_steps(21))
    with pytest.raises(ValueError):
        batch.request_body([batch.Step('a', 'GET', '/me', None), batch.Step('A', 'GET', '/me', None)])
    assert [len(c) for c in batch.chunks(_steps(45))] == [20, 20, 5]


def test_results_per_item_errors_and_missing_items():
    steps = _steps(4)
    answer = {'responses': [
        {'id': '2', 'status': 429, 'headers': {'Retry-After': '3'}, 'body': {'error': {'code': 'TooManyRequests'}}},
        {'id': '0', 'status': 200, 'body': {'id': 'm0'}},
        {'id': '1', 'status': 404, 'body': {'error': {'code': 'ErrorItemNotFound', 'message': 'gone'}}},
        {'id': 'stranger', 'status': 200},
    ]}
    out = batch.results(answer, steps)
    assert set(out) == {'0', '1', '2', '3'}
    assert out['0'].error is None and out['0'].body == {'id': 'm0'}
    assert isinstance(out['1'].error, NotFound)
    assert isinstance(out['2'].error, Throttled) and out['2'].error.retry_after == 3
    assert isinstance(out['3'].error, BadResponse), 'an item the answer leaves out is never a success'
    assert batch.throttled(out) == (['2'], 3)
    assert all(isinstance(r.error, BadResponse) for r in batch.results({'responses': 'x'}, steps).values())


@pytest.fixture()
def other_account(emu):
    """A mailbox the other graph tests do not count on (these tests move its messages around)."""
    from .conftest import authorize, make_client
    user = emu.users[3]
    tokens, _result = authorize(emu, user)
    return make_client(emu, tokens, user), tokens, user


def _inbox_ids(client, n):
    page = client.delta_page('inbox')
    return [item['id'] for item in page.items if '@removed' not in item][:n]


def test_client_batch_moves_forty_five_messages_in_three_requests(other_account, emu):
    client, _tokens, _user = other_account
    ids = _inbox_ids(client, 45)
    archive = client.get_folder('archive')['id']
    before = client.request_count
    steps = [client.message_step(i, 'POST', mid, '/move', outgoing.move(archive)) for i, mid in enumerate(ids)]
    out = client.batch(steps)
    assert client.request_count - before == 3
    assert all(r.error is None and r.status == 201 for r in out.values()), out
    moved = client.get_message(ids[0], body=False)
    assert moved['parentFolderId'] == archive and moved['id'] == ids[0], 'immutable ids inside the batch'


def test_client_batch_resends_only_the_throttled_items(other_account, emu):
    client, _tokens, _user = other_account
    ids = _inbox_ids(client, 5)
    emu.faults({'status': 429, 'retry_after': '0.2', 'count': 2, 'path_contains': '/messages/', 'method': 'PATCH'})
    before = client.request_count
    out = client.batch([client.message_step(i, 'PATCH', mid, body=outgoing.message_patch(is_read=False))
                        for i, mid in enumerate(ids)])
    assert all(r.error is None for r in out.values()), out
    assert client.request_count - before == 2, 'one batch, then one with the two throttled items'


def test_client_batch_keeps_an_endless_429_as_throttled_and_a_404_as_not_found(other_account, emu):
    client, _tokens, _user = other_account
    ids = _inbox_ids(client, 2)
    emu.faults({'status': 429, 'retry_after': '60', 'path_contains': ids[0][-12:]})
    out = client.batch([client.message_step('a', 'PATCH', ids[0], body={'isRead': True}),
                        client.message_step('b', 'PATCH', 'AAkALgAAnosuchmessage', body={'isRead': True}),
                        client.message_step('c', 'PATCH', ids[1], body={'isRead': True})])
    assert isinstance(out['a'].error, Throttled) and out['a'].error.retry_after == 60
    assert out['b'].error is not None and out['c'].error is None


def test_serial_batch_of_bodies_chains_the_requests_and_carries_each_ones_headers():
    html = {'Prefer': 'outlook.body-content-type="html"'}
    steps = [batch.Step('a', 'GET', '/me/messages/1?$select=id,body', None, html),
             batch.Step('b', 'GET', '/me/messages/2?$select=id,body', None)]
    body = batch.request_body(steps, serial=True)['requests']
    assert 'dependsOn' not in body[0] and body[1]['dependsOn'] == ['a']
    assert body[0]['headers'] == {'Prefer': 'IdType="ImmutableId", outlook.body-content-type="html"'}
    assert body[1]['headers'] == {'Prefer': 'IdType="ImmutableId"'}
    assert 'dependsOn' not in batch.request_body(steps)['requests'][1], 'parallel unless asked'


def test_client_serial_batch_reads_bodies_past_a_missing_message(other_account, emu):
    """A 404 in a serial batch leaves the requests after it unrun (424): they are sent again, and answered."""
    client, _tokens, _user = other_account
    ids = _inbox_ids(client, 4)
    wanted = ids[:2] + ['AAkALgAAnosuchmessage'] + ids[2:]
    emu.reset_counters()
    before = client.request_count
    out = client.batch([client.get_message_step(i, mid, body=True) for i, mid in enumerate(wanted)], serial=True)
    assert client.request_count - before == 2, 'one batch, then one with the two it left unrun'
    assert isinstance(out['2'].error, NotFound)
    for key, mid in zip('0134', ids, strict=True):
        assert out[key].error is None and out[key].body['id'] == mid
        assert out[key].body['body']['contentType'] == 'html', 'the Prefer header of each request'
    assert emu.counters()['max_in_flight'].get(_user, 0) == 1, 'a serial batch takes one concurrency slot'


def test_client_serial_batch_keeps_an_endless_429_and_what_it_left_unrun(other_account, emu):
    client, _tokens, _user = other_account
    ids = _inbox_ids(client, 3)
    emu.faults({'status': 429, 'retry_after': '60', 'path_contains': ids[1][-12:]})
    out = client.batch([client.get_message_step(i, mid) for i, mid in enumerate(ids)], serial=True)
    assert out['0'].error is None
    assert isinstance(out['1'].error, Throttled) and out['1'].error.retry_after == 60
    assert isinstance(out['2'].error, NotRun), 'not run, not lost: the caller sends it again later'
