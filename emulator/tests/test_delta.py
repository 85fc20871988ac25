"""Message delta: rounds, paging, tokens, @removed, expiry, replays, caps (graph-api.md §1).

These assert exact pages, so they run the emulator with ``realistic=False``; test_realistic.py covers what the
realistic mode adds (sparse, repeated, empty and jittered pages, deltaLink expiry, A -> B -> A).
"""
import pytest

from emulator.tests.helpers import Graph

SEL = 'subject,isRead,receivedDateTime'


def walk(g, link, page_size=None, limit=100):
    """Follow nextLinks to the deltaLink -> (items, pages, delta_link)."""
    prefer = ['odata.maxpagesize=%d' % page_size] if page_size else None
    items, pages = [], []
    for _ in range(limit):
        page = g.ok('GET', link, prefer=prefer)
        pages.append(page)
        items += page['value']
        if '@odata.deltaLink' in page:
            assert '@odata.nextLink' not in page
            return items, pages, page['@odata.deltaLink']
        link = page['@odata.nextLink']
    raise AssertionError('no deltaLink after %d pages' % limit)


def new_folder(emu, user, name, count):
    fid = emu.control('POST', '/mutate', {'user': user, 'op': 'create_folder', 'name': name})['folder']
    if count:
        emu.control('POST', '/seed', {'user': user, 'folder': fid, 'count': count})
    return fid


def test_10k_folder_in_10_pages_then_only_changes(emu):
    emu.config(realistic=False)  # exact pages and full items (the realistic mode: test_realistic.py)
    user = emu.users[0]
    g = Graph(emu, user=user, immutable=True)
    fid = new_folder(emu, user, 'Bulk 10k', 10000)
    start = "/me/mailFolders/%s/messages/delta?$select=%s&$orderby=receivedDateTime desc" % (fid, SEL)
    items, pages, delta_link = walk(g, start, page_size=1000)
    assert len(pages) == 10 and all(len(p['value']) == 1000 for p in pages)
    ids = [m['id'] for m in items]
    assert len(set(ids)) == 10000
    dates = [m['receivedDateTime'] for m in items]
    assert dates == sorted(dates, reverse=True)  # $orderby=receivedDateTime desc honoured (§1.2)
    assert set(items[0]) == {'@odata.type', '@odata.etag', 'id', 'subject', 'isRead', 'receivedDateTime'}
    assert '$skiptoken=' in pages[0]['@odata.nextLink'] and "mailFolders('%s')" % fid in pages[0]['@odata.nextLink']
    assert '$deltatoken=' in delta_link
    # caught up: a new round with no changes is empty
    quiet = g.ok('GET', delta_link, prefer=['odata.maxpagesize=1000'])
    assert quiet['value'] == [] and '@odata.deltaLink' in quiet
    delta_link = quiet['@odata.deltaLink']

    # server-side mutations (another Outlook client) + one change through Graph
    read_ids, moved_ids, deleted_id, patched = ids[10:13], ids[20:22], ids[30], ids[40]
    for mid in read_ids:
        emu.control('POST', '/mutate', {'user': user, 'op': 'update', 'id': mid,
                                        'fields': {'isRead': True, 'flag': 'flagged', 'categories': ['Red']}})
    emu.control('POST', '/mutate', {'user': user, 'op': 'move', 'ids': moved_ids, 'destination': 'archive'})
    emu.control('POST', '/mutate', {'user': user, 'op': 'delete', 'id': deleted_id, 'hard': True})
    g.ok('PATCH', '/me/messages/%s' % patched, json={'isRead': True})
    new_ids = emu.deliver(user, folder=fid, count=2, subject='fresh 🎉')
    changes, _cpages, delta_link2 = walk(g, delta_link, page_size=1000)
    present = {m['id'] for m in changes if '@removed' not in m}
    removed = {m['id'] for m in changes if '@removed' in m}
    assert present == set(read_ids) | {patched} | set(new_ids)
    assert removed == set(moved_ids) | {deleted_id}
    assert all(m['@removed'] == {'reason': 'deleted'} for m in changes if '@removed' in m)
    assert all('changeType' not in m for m in changes)  # graph-api.md §1.6: no change type
    assert all(set(m) == {'@odata.type', '@odata.etag', 'id', 'subject', 'isRead', 'receivedDateTime'}
               for m in changes if '@removed' not in m)  # $select carried in the token
    assert g.ok('GET', delta_link2)['value'] == []

    # $filter on delta caps at 5000 (graph-api.md §1.2)
    capped, _, _ = walk(g, "/me/mailFolders/%s/messages/delta?$filter=receivedDateTime ge 2000-01-01T00:00:00Z"
                           "&$select=subject" % fid, page_size=1000)
    assert len(capped) == 5000


def test_default_page_size_top_cap_and_filter(emu):
    emu.config(realistic=False)  # exact pages and full items (the realistic mode: test_realistic.py)
    user = emu.users[1]
    g = Graph(emu, user=user)
    fid = new_folder(emu, user, 'Twenty', 20)
    first = g.ok('GET', '/me/mailFolders/%s/messages/delta' % fid)
    assert len(first['value']) == 10 and '@odata.nextLink' in first  # §1.3: default 10 per page
    assert 'body' in first['value'][0] and first['value'][0]['@odata.type'] == '#microsoft.graph.message'
    # §1.2 observed: $top caps the round; the nextLink after it yields an empty page with a deltaLink
    page = g.ok('GET', '/me/mailFolders/%s/messages/delta?$top=5&$select=subject' % fid)
    assert len(page['value']) == 5 and '@odata.nextLink' in page
    end = g.ok('GET', page['@odata.nextLink'])
    assert end['value'] == [] and '@odata.deltaLink' in end
    all_items, _, _ = walk(g, '/me/mailFolders/%s/messages/delta?$select=receivedDateTime' % fid)
    cut = sorted(m['receivedDateTime'] for m in all_items)[15]
    newer, _, _ = walk(g, '/me/mailFolders/%s/messages/delta?$filter=receivedDateTime ge %s' % (fid, cut))
    assert len(newer) == 5 and all(m['receivedDateTime'] >= cut for m in newer)
    bad = g.get('/me/mailFolders/%s/messages/delta?$filter=isRead eq false' % fid)
    assert bad.status_code == 400
    assert g.get('/me/mailFolders/%s/messages/delta?$orderby=subject' % fid).status_code == 400
    assert g.get('/me/mailFolders/%s/messages/delta?$deltatoken=garbage' % fid).status_code == 400


def test_move_reports_removed_in_source_and_present_in_destination(emu):
    emu.config(realistic=False)  # exact pages and full items (the realistic mode: test_realistic.py)
    user = emu.users[1]
    g = Graph(emu, user=user)  # regular ids: @removed carries the id the client knew
    src = new_folder(emu, user, 'Src', 5)
    dst = new_folder(emu, user, 'Dst', 1)
    src_items, _, src_link = walk(g, '/me/mailFolders/%s/messages/delta?$select=subject' % src)
    _, _, dst_link = walk(g, '/me/mailFolders/%s/messages/delta?$select=subject' % dst)
    old_id = src_items[0]['id']
    moved = g.ok('POST', '/me/messages/%s/move' % old_id, status=201, json={'destinationId': dst})
    src_changes, _, _ = walk(g, src_link)
    dst_changes, _, _ = walk(g, dst_link)
    assert src_changes == [{'@odata.type': '#microsoft.graph.message', 'id': old_id, '@removed': {'reason': 'deleted'}}]
    assert [m['id'] for m in dst_changes] == [moved['id']] and moved['id'] != old_id


@pytest.mark.parametrize('code', ['SyncStateNotFound', 'resyncRequired', 'SyncStateInvalid'])
def test_expired_token_410_then_fresh_round(emu, code):
    user = emu.users[2]
    g = Graph(emu, user=user)
    fid = new_folder(emu, user, 'Expiring %s' % code, 25)
    items, _, delta_link = walk(g, '/me/mailFolders/%s/messages/delta?$select=subject' % fid)
    first = g.ok('GET', '/me/mailFolders/%s/messages/delta' % fid)  # a round in progress (nextLink)
    emu.control('POST', '/expire_delta', {'user': user, 'folder': fid, 'code': code})
    for link in (delta_link, first['@odata.nextLink']):
        r = g.get(link)
        assert r.status_code == 410
        assert r.json()['error']['code'] == code
        assert r.headers['Location'].endswith("mailFolders('%s')/messages/delta" % fid)
    again, _, new_link = walk(g, r.headers['Location'])  # a fresh round re-enumerates everything
    assert {m['id'] for m in again} == {m['id'] for m in items}
    assert walk(g, new_link)[0] == []  # tokens issued after the expiry work


def test_replays_duplicates_and_empty_pages(emu):
    emu.config(realistic=False)  # exact pages and full items (the realistic mode: test_realistic.py)
    user = emu.users[2]
    g = Graph(emu, user=user)
    fid = new_folder(emu, user, 'Quirky', 12)
    emu.control('POST', '/delta_quirks', {'user': user, 'folder': fid, 'empty_pages': 1})
    items, pages, link = walk(g, '/me/mailFolders/%s/messages/delta?$select=subject' % fid, page_size=5)
    assert pages[0]['value'] == [] and '@odata.nextLink' in pages[0]  # §1.3: empty page, keep following
    assert len({m['id'] for m in items}) == 12
    emu.control('POST', '/delta_quirks', {'user': user, 'folder': fid, 'duplicates': 1})
    items, pages, link = walk(g, '/me/mailFolders/%s/messages/delta?$select=subject' % fid, page_size=5)
    ids = [m['id'] for m in pages[0]['value']]
    assert len(ids) == 6 and len(set(ids)) == 5  # §1.7: same item twice in one response
    emu.control('POST', '/delta_quirks', {'user': user, 'folder': fid, 'replay': 1, 'replay_n': 2})
    items, pages, link = walk(g, '/me/mailFolders/%s/messages/delta?$select=subject' % fid, page_size=5)
    ids = [m['id'] for m in items]
    assert len(ids) > 12 and len(set(ids)) == 12  # §1.7: replays of already-sent items
    # replay in a later round: already-synced changes come again
    one = g.ok('GET', '/me/mailFolders/%s/messages?$top=1&$select=id' % fid)['value'][0]['id']
    g.ok('PATCH', '/me/messages/%s' % one, json={'isRead': True})
    _, _, link = walk(g, link)
    emu.control('POST', '/delta_quirks', {'user': user, 'folder': fid, 'replay': 1, 'replay_n': 1})
    replayed, _, _ = walk(g, link)
    assert [m['id'] for m in replayed] == [one]


def test_change_type_filters_later_rounds_only(emu):
    emu.config(realistic=False)  # exact pages and full items (the realistic mode: test_realistic.py)
    user = emu.users[0]
    g = Graph(emu, user=user, immutable=True)
    fid = new_folder(emu, user, 'ChangeType', 6)
    items, _, link = walk(g, '/me/mailFolders/%s/messages/delta?changeType=deleted&$select=subject' % fid)
    assert len(items) == 6  # graph-api.md §1.2: the initial round still returns all messages
    g.ok('PATCH', '/me/messages/%s' % items[0]['id'], json={'isRead': True})
    emu.control('POST', '/mutate', {'user': user, 'op': 'delete', 'id': items[1]['id'], 'hard': True})
    emu.deliver(user, folder=fid, count=1)
    changes, _, _ = walk(g, link)
    assert [m['id'] for m in changes] == [items[1]['id']] and '@removed' in changes[0]


def test_opt_in_stale_nextlinks_and_idtype_switch(emu):
    emu.config(realistic=False)  # exact pages and full items (the realistic mode: test_realistic.py)
    user = emu.users[1]
    g = Graph(emu, user=user)
    fid = new_folder(emu, user, 'Stale', 30)
    emu.config(stale_nextlinks=True, strict_idtype_tokens=True)
    p1 = g.ok('GET', '/me/mailFolders/%s/messages/delta' % fid)
    p2 = g.ok('GET', p1['@odata.nextLink'])
    assert g.get(p2['@odata.nextLink']).status_code == 200  # the newest link (and retrying it) is fine
    r = g.get(p1['@odata.nextLink'])  # an older page of the round after later pages were fetched
    assert r.status_code == 410 and r.json()['error']['code'] == 'SyncStateNotFound'
    r = g.get(p2['@odata.nextLink'], prefer=['IdType="ImmutableId"'])  # switching IdType mid-round
    assert r.status_code == 410 and r.json()['error']['code'] == 'SyncStateInvalid'
