"""The realistic mode (graph-api.md §12), on by default: sparse updated delta items, repeated items, empty pages
with a nextLink, page sizes below odata.maxpagesize, expiring deltaLinks, the Sent Items copy arriving late, and
an immutable-id move A -> B -> A reported @removed in A. Each knob is switched on alone to test it."""
import itertools
import time

from emulator.testing import running_emulator
from emulator.tests.helpers import Graph
from emulator.tests.test_delta import new_folder, walk

SEL = 'subject,isRead,receivedDateTime,flag,categories,parentFolderId,changeKey'
KNOBS = ('delta_sparse_updates', 'delta_duplicate_share', 'delta_replay_share', 'delta_empty_page_share',
         'delta_page_jitter', 'delta_link_ttl', 'sent_copy_delay', 'delta_move_back_removed')


def only(emu, **knobs):
    """The kind service plus the knobs under test."""
    emu.config(realistic=False, **knobs)


def test_realistic_is_the_default_and_neutral_keeps_it(emu):
    assert emu.info['realistic'] is True
    config = emu.control('GET', '/config')
    assert config['realistic'] is True and config['delta_sparse_updates'] and config['sent_copy_delay'] > 0
    assert config['delta_link_ttl'] and config['delta_page_jitter'] and config['delta_move_back_removed']
    emu.config(realistic=False)
    kind = emu.control('GET', '/config')
    assert not any(kind[k] for k in KNOBS)
    emu.config(delta_sparse_updates=True)  # one knob on its own
    assert emu.control('GET', '/config')['delta_sparse_updates'] is True
    emu.neutral()  # back to how the emulator started: realistic, not kind
    assert emu.control('GET', '/config') == config


def test_no_realistic_flag_and_startup_config_are_what_neutral_restores():
    with running_emulator(users=1, messages=5, realistic=False, config={'sent_copy_delay': 0.5}) as emu:
        assert emu.info['realistic'] is False
        config = emu.control('GET', '/config')
        assert config['sent_copy_delay'] == 0.5 and not config['delta_sparse_updates']
        emu.config(realistic=True)
        assert emu.control('GET', '/config')['delta_sparse_updates'] is True
        emu.neutral()
        assert emu.control('GET', '/config') == config


def test_sparse_updated_items_created_items_full(emu):
    user = emu.users[0]
    only(emu, delta_sparse_updates=True)
    g = Graph(emu, user=user, immutable=True)
    fid = new_folder(emu, user, 'Sparse', 6)
    items, _, link = walk(g, '/me/mailFolders/%s/messages/delta?$select=%s' % (fid, SEL))
    full_keys = {'@odata.type', '@odata.etag', 'id'} | set(SEL.split(','))
    assert all(set(m) == full_keys for m in items)
    read, flagged = items[0]['id'], items[1]['id']
    g.ok('PATCH', '/me/messages/%s' % read, json={'isRead': not items[0]['isRead']})
    g.ok('PATCH', '/me/messages/%s' % flagged, json={'flag': {'flagStatus': 'flagged'}, 'categories': ['Red']})
    new = emu.deliver(user, folder=fid, subject='brand new')[0]
    changes, _, link = walk(g, link)
    by_id = {m['id']: m for m in changes}
    # graph-api.md §12 (docs issue 7776): a read toggle -> id, isRead, parentFolderId only
    assert set(by_id[read]) == {'@odata.type', '@odata.etag', 'id', 'isRead', 'parentFolderId'}
    assert by_id[read]['isRead'] is (not items[0]['isRead'])
    assert set(by_id[flagged]) == {'@odata.type', '@odata.etag', 'id', 'flag', 'categories', 'parentFolderId'}
    assert set(by_id[new]) == full_keys and by_id[new]['subject'] == 'brand new'  # created: full
    # moved in from elsewhere: full in the destination (it is new there)
    other = emu.deliver(user, folder='inbox', subject='moved in')[0]
    g.ok('POST', '/me/messages/%s/move' % other, status=201, json={'destinationId': fid})
    changes, _, _ = walk(g, link)
    assert [set(m) for m in changes] == [full_keys]
    emu.config(delta_sparse_updates=False)
    g.ok('PATCH', '/me/messages/%s' % read, json={'isRead': True})


def test_duplicates_replays_empty_pages_and_jitter(emu):
    user = emu.users[1]
    g = Graph(emu, user=user)
    fid = new_folder(emu, user, 'Repeats', 40)
    start = '/me/mailFolders/%s/messages/delta?$select=subject' % fid

    only(emu, delta_duplicate_share=1.0)
    items, pages, _ = walk(g, start, page_size=10)
    for page in pages:  # graph-api.md §1.7: the same item twice within a page
        ids = [m['id'] for m in page['value']]
        assert not ids or len(ids) == len(set(ids)) + 1
    assert len({m['id'] for m in items}) == 40

    only(emu, delta_replay_share=1.0)
    items, pages, _ = walk(g, start, page_size=10)
    for before, after in itertools.pairwise(pages):  # a later page starts with the last items of the one before
        if after['value']:
            assert after['value'][0]['id'] in {m['id'] for m in before['value']}
    assert len({m['id'] for m in items}) == 40 < len(items)

    only(emu, delta_empty_page_share=1.0)
    items, pages, _ = walk(g, start, page_size=10)
    runs, run = [], 0
    for page in pages:
        if page['value'] or '@odata.deltaLink' in page:
            runs.append(run)
            run = 0
        else:
            assert '@odata.nextLink' in page  # empty, and still a nextLink (delta-query-overview)
            run += 1
    assert max(runs) == 3 and len({m['id'] for m in items}) == 40  # at most 3 in a row, then progress

    only(emu, delta_page_jitter=True)
    items, pages, _ = walk(g, start, page_size=10)
    sizes = [len(p['value']) for p in pages]
    assert all(1 <= n <= 10 for n in sizes[:-1]) and len(set(sizes)) > 1 and len(items) == 40


def test_realistic_round_is_complete_and_repeatable(emu):
    user = emu.users[1]
    g = Graph(emu, user=user, immutable=True)
    fid = new_folder(emu, user, 'Realistic walk', 300)
    link = '/me/mailFolders/%s/messages/delta?$select=subject' % fid
    nxt = g.ok('GET', link, prefer=['odata.maxpagesize=50'])['@odata.nextLink']
    again = [g.ok('GET', nxt, prefer=['odata.maxpagesize=50'])['value'] for _ in range(2)]
    assert again[0] == again[1]  # the same link gives the same page (a retry sees no new quirk)
    items, pages, _ = walk(g, link, page_size=50)
    assert {m['id'] for m in items} == set(emu.state(user)[fid]['messages'])
    assert any(len(p['value']) < 50 for p in pages[:-1])  # "the number of objects in each page can vary"


def test_delta_link_expires(emu):
    user = emu.users[2]
    only(emu, delta_link_ttl=1)
    g = Graph(emu, user=user)
    fid = new_folder(emu, user, 'Expiring links', 15)
    first = g.ok('GET', '/me/mailFolders/%s/messages/delta' % fid)
    _, _, link = walk(g, '/me/mailFolders/%s/messages/delta' % fid)
    assert g.get(link).status_code == 200
    time.sleep(1.3)
    r = g.get(link)  # graph-api.md §1.8: an evicted sync state
    assert r.status_code == 410 and r.json()['error']['code'] == 'SyncStateNotFound'
    assert r.headers['Location'].endswith("mailFolders('%s')/messages/delta" % fid)
    assert g.get(first['@odata.nextLink']).status_code == 200  # nextLinks of a round are not deltaLinks


def test_sent_items_copy_arrives_late(emu):
    user = emu.users[0]
    only(emu, sent_copy_delay=1.0)
    g = Graph(emu, user=user, immutable=True)
    _, _, drafts_link = walk(g, '/me/mailFolders/drafts/messages/delta?$select=subject')
    draft = g.ok('POST', '/me/messages', status=201, json={
        'subject': 'Late copy', 'toRecipients': [{'emailAddress': {'address': user}}]})
    _, _, drafts_link = walk(g, drafts_link)
    assert g.post('/me/messages/%s/send' % draft['id']).status_code == 202
    r = g.get('/me/messages/%s' % draft['id'])  # outlook-immutable-id: "may not succeed immediately"
    assert r.status_code == 404 and r.json()['error']['code'] == 'ErrorItemNotFound'
    gone, _, _ = walk(g, drafts_link)
    assert gone == [{'@odata.type': '#microsoft.graph.message', 'id': draft['id'], '@removed': {'reason': 'deleted'}}]
    subject_filter = "/me/mailFolders/%s/messages?$filter=subject eq 'Late copy'"
    assert g.ok('GET', subject_filter % 'sentitems')['value'] == []
    assert g.ok('GET', subject_filter % 'inbox')['value'] == []  # the delivery to oneself is later too
    g.ok('POST', '/me/sendMail', status=202, json={'message': {
        'subject': 'Late sendMail', 'toRecipients': [{'emailAddress': {'address': 'x@fabrikam.test'}}]}})
    time.sleep(1.2)
    sent = g.ok('GET', '/me/messages/%s' % draft['id'])  # same immutable id, now the Sent Items copy
    assert sent['parentFolderId'] == g.ok('GET', '/me/mailFolders/sentitems')['id'] and not sent['isDraft']
    assert len(g.ok('GET', subject_filter % 'inbox')['value']) == 1
    assert len(g.ok('GET', "/me/mailFolders/sentitems/messages?$filter=subject eq 'Late sendMail'")['value']) == 1
    # /_emulator/settle completes what is in flight at once
    g.ok('POST', '/me/sendMail', status=202, json={'message': {
        'subject': 'Settled', 'toRecipients': [{'emailAddress': {'address': 'x@fabrikam.test'}}]}})
    assert emu.settle()['settled'] == 1
    assert len(g.ok('GET', "/me/mailFolders/sentitems/messages?$filter=subject eq 'Settled'")['value']) == 1


def test_move_there_and_back_is_removed_and_not_re_reported(emu):
    user = emu.users[2]
    only(emu, delta_move_back_removed=True)
    g = Graph(emu, user=user, immutable=True)
    a = new_folder(emu, user, 'A', 4)
    b = new_folder(emu, user, 'B', 0)
    items, _, link = walk(g, '/me/mailFolders/%s/messages/delta?$select=subject' % a)
    mid = items[0]['id']
    g.ok('POST', '/me/messages/%s/move' % mid, status=201, json={'destinationId': b})
    g.ok('POST', '/me/messages/%s/move' % mid, status=201, json={'destinationId': a})
    changes, _, link = walk(g, link)
    # microsoft-graph-docs-contrib issue 72: @removed in A, although the item is back in A
    assert changes == [{'@odata.type': '#microsoft.graph.message', 'id': mid, '@removed': {'reason': 'deleted'}}]
    assert g.ok('GET', '/me/messages/%s' % mid)['parentFolderId'] == a
    again, _, link = walk(g, link)
    assert again == []  # not re-reported ...
    g.ok('PATCH', '/me/messages/%s' % mid, json={'isRead': True})
    again, _, link = walk(g, link)
    assert [m['id'] for m in again] == [mid] and '@removed' not in again[0]  # ... until it changes
    # regular ids: the item comes back under a new id (no quirk); the knob off: reported present
    r = Graph(emu, user=user)
    items, _, rlink = walk(r, '/me/mailFolders/%s/messages/delta?$select=subject' % a)
    rid = items[0]['id']
    moved = r.ok('POST', '/me/messages/%s/move' % rid, status=201, json={'destinationId': b})
    back = r.ok('POST', '/me/messages/%s/move' % moved['id'], status=201, json={'destinationId': a})
    changes, _, _ = walk(r, rlink)
    assert {m['id'] for m in changes if '@removed' in m} == {rid}
    assert [m['id'] for m in changes if '@removed' not in m] == [back['id']]
    only(emu, delta_move_back_removed=False)
    g.ok('POST', '/me/messages/%s/move' % mid, status=201, json={'destinationId': b})
    g.ok('POST', '/me/messages/%s/move' % mid, status=201, json={'destinationId': a})
    changes, _, _ = walk(g, link)
    assert [m['id'] for m in changes] == [mid] and '@removed' not in changes[0]
