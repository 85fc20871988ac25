"""GraphClient against the emulator over loopback HTTPS: real requests, real MSAL tokens, injected faults."""
import base64
import json
import threading
import time

import pytest
import requests

from graph import mail
from graph.client import MAX_IN_FLIGHT_PER_MAILBOX, GraphClient, Page
from graph.errors import (
    AuthExpired,
    BadResponse,
    GraphError,
    NotFound,
    SyncStateExpired,
    Throttled,
    Transient,
)

from .conftest import authorize, make_client


def folder_truth(emu, user, folder_id):
    return emu.state(user)[folder_id]


def walk_round(client, folder_id, link=None):
    """Follow one delta round to its deltaLink; returns (pages, delta_link)."""
    pages = []
    while True:
        page = client.delta_page(folder_id, link)
        pages.append(page)
        if page.delta_link:
            return pages, page.delta_link
        link = page.next_link


def create_folder(emu, user, name, parent=None, hidden=False):
    body = {'user': user, 'op': 'create_folder', 'name': name, 'hidden': hidden}
    if parent:
        body['parent'] = parent
    return emu.mutate(**body)['folder']


# ------------------------------------------------------------------ reading: me, folders

def test_me_and_request_count(account):
    client, tokens, user = account
    assert client.me()['userPrincipalName'].lower() == user.lower()
    assert client.request_count == 1
    assert tokens.calls == [False]  # the token is fetched once, lazily


def visible_folders(truth):
    """Folder ids Outlook lists without includeHiddenFolders: not hidden, no hidden ancestor, not the root."""
    def shown(folder_id):
        folder = truth.get(folder_id)
        if folder is None or folder['well_known'] == 'msgfolderroot':
            return folder is not None
        return not folder['hidden'] and shown(folder['parent'])
    return {fid for fid, f in truth.items() if f['well_known'] != 'msgfolderroot' and shown(fid)}


def test_list_folders_walks_the_nested_tree_over_pages(emu):
    user = emu.users[2]
    tokens, _ = authorize(emu, user)
    client = make_client(emu, tokens, user)
    projects = create_folder(emu, user, 'Projects')
    created = {projects}
    for i in range(12):  # more top-level folders than Graph's default page of 10
        created.add(create_folder(emu, user, 'Top %02d' % i))
    crowded = create_folder(emu, user, 'Crowded')
    for i in range(105):  # more children than one $top=100 page
        created.add(create_folder(emu, user, 'Client %03d' % i, parent=crowded))
    level2 = create_folder(emu, user, 'Level 2', parent=projects)
    level3 = create_folder(emu, user, 'Level 3', parent=level2)
    created |= {crowded, level2, level3}
    hidden = create_folder(emu, user, 'Hidden one', hidden=True)
    under_hidden = create_folder(emu, user, 'Under hidden', parent=hidden)

    folders = client.list_folders()
    by_id = {folder['id']: folder for folder in folders}
    assert len(by_id) == len(folders)  # no duplicates
    assert created <= set(by_id)
    assert hidden not in by_id and under_hidden not in by_id
    assert set(by_id) == visible_folders(emu.state(user))
    assert by_id[level3]['parentFolderId'] == level2
    assert by_id[crowded]['childFolderCount'] == 105
    with_children = sum(1 for folder in folders if folder.get('childFolderCount'))
    assert client.request_count == 1 + with_children + 1  # top level, each parent once, one extra page
    for folder in folders:
        assert folder['parentFolderId']
        assert mail.folder_values(folder)['graph_id'] == folder['id']


def test_well_known_folder_ids_and_get_folder(account, emu):
    client, _tokens, user = account
    roles = client.well_known_folder_ids()
    truth = emu.state(user)
    expected = {f['well_known']: fid for fid, f in truth.items() if f['well_known']}
    for role in ('inbox', 'sentitems', 'drafts', 'deleteditems', 'junkemail'):
        assert roles[role] == expected[role]
    assert client.get_folder('sentitems')['id'] == expected['sentitems']
    assert client.get_folder(expected['inbox'])['displayName']
    values = mail.folder_values(client.get_folder('inbox'), {v: k for k, v in roles.items()})
    assert values['role'] == 'inbox'


def test_unknown_folder_is_not_found(account):
    client, _tokens, _user = account
    with pytest.raises(NotFound) as caught:
        client.get_folder('AQMkADAwNoSuchFolderAAAA')
    assert caught.value.status == 404


# ------------------------------------------------------------------ delta

def test_delta_walk_with_maxpagesize_1000(emu):
    user = emu.users[3]
    tokens, _ = authorize(emu, user)
    client = make_client(emu, tokens, user)
    folder = create_folder(emu, user, 'Bulk')
    emu.control('POST', '/seed', {'user': user, 'folder': folder, 'count': 2345})
    pages, delta_link = walk_round(client, folder)
    assert [len(page.items) for page in pages[:2]] == [1000, 1000]
    assert all(isinstance(page, Page) for page in pages)
    assert all(page.next_link and not page.delta_link for page in pages[:-1])
    items = [item for page in pages for item in page.items]
    ids = {item['id'] for item in items}
    truth = folder_truth(emu, user, folder)['messages']
    assert ids == set(truth)  # immutable ids: the ImmutableId Prefer header went out
    received = [item['receivedDateTime'] for item in pages[0].items]
    assert received == sorted(received, reverse=True)  # newest first
    values = [mail.message_values(item) for item in items]
    assert all(v['parent_folder_id'] == folder for v in values)
    assert 'body' not in items[0]

    # Next round: only the changes.
    new_ids = emu.deliver(user, folder=folder, count=3)
    changed = sorted(truth)[0]
    emu.mutate(user=user, op='update', id=changed, fields={'isRead': True, 'flag': 'flagged'})
    gone = sorted(truth)[1]
    emu.mutate(user=user, op='delete', id=gone)
    pages, next_delta = walk_round(client, folder, delta_link)
    items = [item for page in pages for item in page.items]
    removed = {item['id'] for item in items if mail.is_removed(item)}
    present = {item['id']: item for item in items if not mail.is_removed(item)}
    assert removed == {gone}
    assert set(new_ids) | {changed} <= set(present)
    assert mail.message_values(present[changed])['flag_status'] == 'flagged'
    assert next_delta

    # A page may ask for fewer items than the client's size; the pages after it follow the client's size again.
    small = client.delta_page(folder, page_size=7)
    assert 0 < len(small.items) <= 7 and small.next_link
    assert len(client.delta_page(folder, small.next_link).items) > 7

    # A no-change round costs one request.
    before = client.request_count
    pages, _ = walk_round(client, folder, next_delta)
    assert client.request_count == before + 1 and pages[0].items == []


def test_expired_delta_link_raises_sync_state_expired(account, emu):
    client, _tokens, user = account
    _pages, delta_link = walk_round(client, 'drafts')
    for code in ('SyncStateNotFound', 'resyncRequired', 'SyncStateInvalid'):
        emu.control('POST', '/expire_delta', {'user': user, 'code': code})
        with pytest.raises(SyncStateExpired) as caught:
            client.delta_page('drafts', delta_link)
        assert caught.value.code.lower() == code.lower()
        assert 'deltatoken' not in str(caught.value).lower()
        _pages, delta_link = walk_round(client, 'drafts')  # a new initial round works


def test_garbage_delta_token_is_sync_state_expired(account, emu):
    client, _tokens, _user = account
    _pages, delta_link = walk_round(client, 'drafts')
    # Simulates a stored link that got corrupted (the client itself never edits tokens).
    corrupted = delta_link[:-12] + 'AAAAAAAAAAAA'
    with pytest.raises(SyncStateExpired) as caught:
        client.delta_page('drafts', corrupted)
    assert caught.value.status == 400


def test_empty_pages_and_duplicates_are_walked_through(account, emu):
    client, _tokens, user = account
    emu.control('POST', '/delta_quirks', {'user': user, 'folder': 'inbox', 'empty_pages': 2, 'duplicates': 1})
    client.page_size = 50
    pages, delta_link = walk_round(client, 'inbox')
    assert any(page.items == [] and page.next_link for page in pages)
    ids = [item['id'] for page in pages for item in page.items]
    assert len(ids) > len(set(ids))  # a duplicate was delivered; upserts must be idempotent
    assert set(ids) == set(folder_truth(emu, user, client.get_folder('inbox')['id'])['messages'])
    assert delta_link


def test_immutable_id_header_on_every_call_keeps_strict_tokens_valid(account, emu):
    client, _tokens, user = account
    emu.config(strict_idtype_tokens=True)
    client.page_size = 40
    pages, delta_link = walk_round(client, 'inbox')
    assert len(pages) > 1
    emu.deliver(user, count=2)
    pages, _ = walk_round(client, 'inbox', delta_link)
    assert len([item for page in pages for item in page.items]) >= 2


def test_seeded_international_and_hostile_mail_maps_cleanly(account):
    client, _tokens, _user = account
    pages, _ = walk_round(client, 'inbox')
    items = [item for page in pages for item in page.items]
    values = [mail.message_values(item) for item in items if not mail.is_removed(item)]
    assert len(values) == len(items) > 100
    assert all(v['received_at'] is not None and v['from_address'] for v in values)
    assert any(any(ord(char) > 0x2000 for char in v['subject']) for v in values)  # CJK / emoji survived


def test_injected_410_on_delta(account, emu):
    client, _tokens, _user = account
    emu.faults({'status': 410, 'path_contains': '/messages/delta', 'count': 1})
    with pytest.raises(SyncStateExpired) as caught:
        client.delta_page('inbox')
    assert caught.value.status == 410


def test_foreign_link_is_refused_before_sending_the_token(account):
    client, _tokens, _user = account
    with pytest.raises(BadResponse):
        client.delta_page('inbox', 'https://evil.example/v1.0/me/mailFolders/x/messages/delta?$deltatoken=abc')
    assert client.request_count == 0


def test_non_json_and_wrong_shape_are_bad_response(account, emu):
    client, _tokens, _user = account
    with pytest.raises(BadResponse):
        client.delta_page('inbox', emu.base_url + '/')  # an HTML page on the same host
    with pytest.raises(BadResponse):
        client.delta_page('inbox', emu.authority + '/v2.0/.well-known/openid-configuration')  # JSON, no value
    with pytest.raises(BadResponse):
        client.delta_page('inbox', emu.graph_url + '/me')  # a collection-less answer


# ------------------------------------------------------------------ messages

def test_get_message_with_html_body_and_attachments(account, emu):
    client, _tokens, user = account
    png = b'\x89PNG\r\n\x1a\n' + bytes(range(256))
    [message_id] = emu.deliver(user, subject='With picture', body={'contentType': 'text', 'content': 'Hi <you>\nok'},
                               attachments=[{'name': 'pic.png', 'contentType': 'image/png', 'isInline': True,
                                             'contentId': 'pic001', 'contentBytes': base64.b64encode(png).decode()},
                                            {'name': 'big.bin', 'size': 5000}])
    message = client.get_message(message_id)
    assert message['id'] == message_id and 'body' in message
    body = mail.body_values(message)
    assert body['content_type'] in ('html', 'text') and body['body_html']
    without_body = client.get_message(message_id, body=False)
    assert 'body' not in without_body
    attachments = client.list_attachments(message_id)
    assert {a['name'] for a in attachments} == {'pic.png', 'big.bin'}
    picture = next(a for a in attachments if a['name'] == 'pic.png')
    assert client.get_attachment_bytes(message_id, picture['id']) == png
    full = client.get_attachment(message_id, picture['id'])
    assert mail.cid_map([full]) == {'pic001': picture['id']}
    assert b'MIME-Version' in client.get_mime(message_id)


def test_vanished_message_is_not_found_and_malformed_id_is_a_graph_error(account, emu):
    client, _tokens, user = account
    [message_id] = emu.deliver(user, subject='Short-lived')
    emu.mutate(user=user, op='delete', id=message_id, hard=True)
    with pytest.raises(NotFound):
        client.get_message(message_id)
    with pytest.raises(GraphError) as caught:
        client.get_message('not-an-id')
    assert caught.value.status == 400 and caught.value.code == 'ErrorInvalidIdMalformed'


# ------------------------------------------------------------------ 401: one refresh, one retry

def test_injected_401_refreshes_once_and_retries(account, emu):
    client, tokens, _user = account
    emu.faults({'status': 401, 'count': 1})
    assert client.me()
    assert tokens.calls == [False, True]
    assert client.request_count == 2


def test_persistent_401_raises_auth_expired_after_one_refresh(account, emu):
    client, tokens, _user = account
    emu.faults({'status': 401, 'count': 5})
    with pytest.raises(AuthExpired):
        client.me()
    assert tokens.calls == [False, True] and client.request_count == 2


def test_expired_access_token_is_refreshed(emu):
    user = emu.users[1]
    emu.config(token_lifetime=2)
    tokens, _ = authorize(emu, user)
    client = make_client(emu, tokens, user)
    assert client.me()
    time.sleep(2.5)
    assert client.me()  # 401 (expired) -> force refresh -> retry
    assert tokens.calls == [False, True]
    assert tokens.saved_states  # the rotated refresh token was handed over for persistence


def test_refresh_failure_surfaces_auth_invalid(account, emu):
    client, _tokens, _user = account
    emu.faults({'status': 401, 'count': 1})
    emu.control('POST', '/token_errors', {'scenario': '70008', 'grant_type': 'refresh_token'})
    from graph.errors import AuthInvalid
    with pytest.raises(AuthInvalid) as caught:
        client.me()
    assert caught.value.kind == 'invalid_grant'


# ------------------------------------------------------------------ throttling and transient failures

def test_fractional_retry_after_is_honoured(account, emu):
    client, _tokens, _user = account
    emu.faults({'status': 429, 'retry_after': '1.128', 'count': 1})
    started = time.monotonic()
    assert client.me()
    assert time.monotonic() - started >= 1.1
    assert client.request_count == 2


def test_503_with_retry_after_then_success(account, emu):
    client, _tokens, _user = account
    emu.faults({'status': 503, 'retry_after': '0.2', 'count': 2})
    assert client.me() and client.request_count == 3


def test_503_without_retry_after_backs_off(account, emu):
    client, _tokens, _user = account
    emu.faults({'status': 503, 'count': 2})
    assert client.me() and client.request_count == 3


def test_retry_after_above_cap_raises_throttled_at_once(account, emu):
    client, _tokens, _user = account
    emu.faults({'status': 429, 'retry_after': '30', 'count': 3})
    started = time.monotonic()
    with pytest.raises(Throttled) as caught:
        client.me()
    assert caught.value.retry_after == 30.0
    assert time.monotonic() - started < 2 and client.request_count == 1


def test_endless_throttling_is_bounded(account, emu):
    client, _tokens, _user = account
    emu.faults({'status': 429, 'retry_after': '0.05', 'count': 100})
    with pytest.raises(Throttled):
        client.me()
    assert client.request_count == client.max_throttle_retries + 1


@pytest.mark.parametrize('status', [500, 502, 504, 'drop'])
def test_persistent_server_failures_become_transient(account, emu, status):
    client, tokens, _user = account
    emu.faults({'status': status, 'count': 100, 'delay': 0})
    with pytest.raises(Transient) as caught:
        client.get_folder('inbox')
    assert client.request_count == client.max_transient_retries + 1
    assert tokens.calls == [False]
    for secret in ('Bearer', 'https://', 'eyJ'):
        assert secret not in str(caught.value)


@pytest.mark.parametrize('status', [502, 504, 'drop'])
def test_one_server_failure_is_retried(account, emu, status):
    client, _tokens, _user = account
    emu.faults({'status': status, 'count': 1, 'delay': 0})
    assert client.get_folder('inbox')['id']
    assert client.request_count == 2


def test_read_timeout_is_retried_for_get(emu):
    user = emu.users[0]
    tokens, _ = authorize(emu, user)
    client = make_client(emu, tokens, user, timeout=0.5)
    emu.faults({'status': 'delay', 'delay': 1.0, 'count': 1})
    assert client.get_folder('inbox')['id']
    assert client.request_count == 2


def test_post_is_not_repeated_after_a_gateway_timeout(account, emu):
    client, _tokens, _user = account
    emu.faults({'status': 504, 'count': 5, 'method': 'POST'})
    with pytest.raises(Transient):
        client.send_message({'subject': 'maybe sent', 'toRecipients': []})
    assert client.request_count == 1  # a repeat could send the mail twice


def test_other_client_errors_are_graph_errors_without_retry(account):
    client, _tokens, _user = account
    with pytest.raises(GraphError) as caught:
        client.move_message('AAkALgNoSuchMessage', 'nowhere')
    assert caught.value.status in (400, 404) and client.request_count == 1


# ------------------------------------------------------------------ concurrency per mailbox

def test_never_more_than_four_in_flight_per_mailbox(emu):
    user = emu.users[0]
    tokens, _ = authorize(emu, user)
    emu.config(latency=0.1)
    emu.reset_counters()
    # Two clients of the same mailbox share the process-wide limit.
    clients = [make_client(emu, tokens, user), make_client(emu, tokens, user)]
    errors = []

    def work(client):
        try:
            for _ in range(6):
                client.get_folder('inbox')
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
    threads = [threading.Thread(target=work, args=(clients[i % 2],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counters = emu.counters()
    assert not errors
    assert 1 < counters['max_in_flight'][user] <= MAX_IN_FLIGHT_PER_MAILBOX
    assert counters['by_status'].get('429', 0) == 0
    assert sum(c.request_count for c in clients) == 48


def test_in_flight_counter_would_catch_an_unbounded_client(emu):
    """Control experiment: the same load without the semaphore exceeds 4, so the test above is meaningful."""
    user = emu.users[0]
    token = emu.token(user)['access_token']
    emu.config(latency=0.5, max_concurrency=100)
    emu.reset_counters()
    start = threading.Barrier(8)

    def work():
        with requests.Session() as http:
            start.wait()
            http.get(emu.graph_url + '/me/mailFolders/inbox', headers={'Authorization': 'Bearer ' + token},
                     verify=emu.ca_bundle, timeout=30)
    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert emu.counters()['max_in_flight'][user] > MAX_IN_FLIGHT_PER_MAILBOX


def test_graph_url_without_version_gets_v1(emu):
    client = GraphClient(emu.base_url, lambda force_refresh=False: 'x', verify=emu.ca_bundle)
    assert client.graph_url == emu.base_url + '/v1.0'


# ------------------------------------------------------------------ secrets never leak into errors or logs

def test_no_token_secret_or_delta_token_in_errors_or_logs(account, emu, caplog):
    client, tokens, _user = account
    caplog.set_level('DEBUG')
    _pages, delta_link = walk_round(client, 'drafts')
    delta_token = delta_link.split('$deltatoken=')[-1]
    raised = []
    scenarios = [
        ({'status': 401, 'count': 5}, lambda: client.me()),
        ({'status': 429, 'retry_after': '60', 'count': 1}, lambda: client.delta_page('drafts', delta_link)),
        ({'status': 410, 'count': 1}, lambda: client.delta_page('drafts', delta_link)),
        ({'status': 500, 'count': 10}, lambda: client.delta_page('drafts', delta_link)),
        ({'status': 'drop', 'count': 10, 'delay': 0}, lambda: client.delta_page('drafts', delta_link)),
        ({'status': 504, 'count': 10, 'method': 'POST'}, lambda: client.send_mime(b'Subject: secret body\r\n\r\nx')),
    ]
    for rule, call in scenarios:
        emu.faults(rule)
        with pytest.raises(GraphError) as caught:
            call()
        raised.append(caught.value)
        emu.faults()
    emu.control('POST', '/token_errors', {'scenario': '7000215', 'grant_type': 'refresh_token'})
    with pytest.raises(GraphError) as caught:
        tokens(force_refresh=True)
    raised.append(caught.value)
    cache = json.loads(tokens.app.cache.serialize())
    secrets = [client._token, delta_token, emu.client_secret, 'secret body']
    secrets += [entry['secret'] for entry in cache.get('RefreshToken', {}).values()]
    secrets += [entry['secret'] for entry in cache.get('AccessToken', {}).values()]
    # urllib3's own DEBUG lines carry full URLs (delta tokens); Odoo logs urllib3 at WARNING and above.
    logged = [record.getMessage() for record in caplog.records if not record.name.startswith('urllib3')]
    assert any(record.name == 'graph.client' for record in caplog.records)
    texts = [str(error) + repr(error) + error.message for error in raised] + logged
    for secret in filter(None, secrets):
        for text in texts:
            assert secret not in text


# ------------------------------------------------------------------ the mailbox seam

def test_mailbox_seam_builds_users_root_and_reads_the_same_mailbox(account, emu):
    """``GraphClient(mailbox=address)`` reaches the mailbox through ``/users/{address}``: same folders and ids
    as ``/me`` for one's own mailbox; ``me()`` is still the signed-in user."""
    client, tokens, user = account
    own = make_client(emu, tokens, user, mailbox=user)
    assert own.root == '/users/%s' % user and client.root == '/me'
    assert own.get_folder('inbox')['id'] == client.get_folder('inbox')['id']
    assert own.me()['userPrincipalName'].lower() == user.lower()
    page = own.delta_page(own.get_folder('inbox')['id'])
    assert page.items and (page.next_link or page.delta_link)


# ------------------------------------------------------------------ bounded paging

class _LoopingClient(GraphClient):
    """A client whose server answers every page of a listing with the same nextLink (a loop Graph must not cause
    here): only the paging logic runs, the HTTP layer is replaced by the looping answer."""

    def _request(self, method, path_or_url, **kwargs):
        self.request_count += 1
        return {'value': [{'id': 'F%d' % self.request_count}], '@odata.nextLink': self.graph_url + '/me/x?page=2'}


def test_a_repeated_next_link_stops_a_listing_with_a_clear_error():
    client = _LoopingClient('https://graph.example.test/v1.0', lambda force_refresh=False: 't')
    with pytest.raises(BadResponse, match='without reaching the end'):
        client.list_attachments('M1')
    assert client.request_count == 2, 'the second answer repeats the nextLink: stop there'
