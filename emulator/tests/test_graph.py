"""Graph v1.0 mail reads and writes with real requests (graph-api.md §2, §3, §4, §6, §7)."""
import email

import pytest

from emulator.tests.helpers import Graph

SELECT = 'subject,isRead,receivedDateTime,flag,categories,internetMessageId,parentFolderId'


def test_me_and_users_route(emu, graph):
    me = graph.ok('GET', '/me')
    assert me['userPrincipalName'] == emu.users[0] and me['mail'] == emu.users[0] and me['displayName']
    assert graph.ok('GET', '/users/%s' % emu.users[0])['id'] == me['id']
    assert graph.ok('GET', '/users/%s' % me['id'])['mail'] == emu.users[0]
    r = graph.get('/users/%s/mailFolders' % emu.users[1])  # delegated token, another mailbox
    assert r.status_code == 403 and r.json()['error']['code'] == 'ErrorAccessDenied'
    emu.config(null_mail_users=[emu.users[0]])
    assert graph.ok('GET', '/me')['mail'] is None  # graph-api.md §7: personal accounts


def test_immutable_prefer_is_case_insensitive(graph):
    r = graph.get('/me/mailFolders/inbox/messages?$top=1&$select=id', prefer=['idtype="immutableid"'])
    assert r.json()['value'][0]['id'].startswith('AAkALgAA')
    r = graph.get('/me/mailFolders/inbox/messages?$top=1&$select=id', headers={'Prefer': 'IDTYPE=ImmutableId'})
    assert r.json()['value'][0]['id'].startswith('AAkALgAA')


def test_401_without_or_with_bad_token(emu, graph):
    import requests
    r = requests.get(emu.graph_url + '/me/mailFolders', verify=emu.ca_bundle)
    assert r.status_code == 401
    err = r.json()['error']
    assert err['code'] == 'InvalidAuthenticationToken' and {'date', 'request-id'} <= set(err['innerError'])
    assert 'client_id="00000003-0000-0000-c000-000000000000"' in r.headers['WWW-Authenticate']
    r = requests.get(emu.graph_url + '/me', headers={'Authorization': 'Bearer garbage'}, verify=emu.ca_bundle)
    assert r.status_code == 401


def test_403_when_scope_missing(emu):
    reader = Graph(emu, scopes=['https://graph.microsoft.com/Mail.Read'])
    assert reader.get('/me/mailFolders/inbox/messages').status_code == 200
    for method, path, body in (('PATCH', '/me/messages/%s', {'isRead': True}), ('DELETE', '/me/messages/%s', None)):
        mid = reader.ok('GET', '/me/mailFolders/inbox/messages?$top=1')['value'][0]['id']
        r = reader.request(method, path % mid, json=body)
        assert r.status_code == 403 and r.json()['error']['code'] == 'ErrorAccessDenied'
    assert reader.get('/me').status_code == 403  # no User.Read
    assert reader.post('/me/sendMail', json={'message': {}}).status_code == 403  # no Mail.Send
    assert Graph(emu, scopes=['mail.readwrite']).get('/me/mailFolders').status_code == 200  # case-insensitive


def test_folders_top_level_paging_hidden_and_children(graph):
    first = graph.ok('GET', '/me/mailFolders')
    assert len(first['value']) == 10 and '$skip=10' in first['@odata.nextLink']  # graph-api.md §1.11
    second = graph.ok('GET', first['@odata.nextLink'])
    names = [f['displayName'] for f in first['value'] + second['value']]
    assert len(names) > 10 and 'Inbox' in names and 'פרויקטים' in names and 'PersonMetadata' not in names
    hidden = graph.ok('GET', '/me/mailFolders?includeHiddenFolders=true&$top=100')['value']
    assert any(f['isHidden'] and f['displayName'] == 'PersonMetadata' for f in hidden)
    inbox = graph.ok('GET', '/me/mailFolders/inbox')
    truth = graph.emu.state(graph.user)[inbox['id']]['messages']
    assert inbox['childFolderCount'] == 3 and inbox['totalItemCount'] == len(truth) >= 300
    assert inbox['unreadItemCount'] == sum(1 for m in truth.values() if not m['isRead'])
    assert 'wellKnownName' not in inbox  # graph-api.md §3: beta only
    kids = graph.ok('GET', "/me/mailFolders('%s')/childFolders" % inbox['id'])['value']
    projects = next(f for f in kids if f['displayName'] == 'Projects')
    apollo = next(f for f in graph.ok('GET', '/me/mailFolders/%s/childFolders' % projects['id'])['value']
                  if f['displayName'] == 'Apollo')
    specs = graph.ok('GET', '/me/mailFolders/%s/childFolders' % apollo['id'])['value']
    assert [f['displayName'] for f in specs] == ['Specs'] and specs[0]['parentFolderId'] == apollo['id']
    for wk in ('inbox', 'sentitems', 'drafts', 'deleteditems', 'archive', 'junkemail', 'outbox', 'msgfolderroot'):
        assert graph.ok('GET', '/me/mailFolders/%s' % wk)['id'].startswith('AQMk')
    assert graph.ok('GET', '/me/mailFolders/msgfolderroot')['id'] == inbox['parentFolderId']
    r = graph.get('/me/mailFolders/AQMkADAwNOPE')
    assert r.status_code == 404 and r.json()['error']['code'] == 'ErrorItemNotFound'


def test_list_messages_select_top_skip_filter_orderby(graph):
    page = graph.ok('GET', '/me/mailFolders/inbox/messages?$select=subject,receivedDateTime')
    assert len(page['value']) == 10  # graph-api.md §3: default page size 10
    assert set(page['value'][0]) == {'@odata.etag', 'id', 'subject', 'receivedDateTime'}
    dates = [m['receivedDateTime'] for m in page['value']]
    assert dates == sorted(dates, reverse=True)
    nxt = graph.ok('GET', page['@odata.nextLink'])
    assert '$skip=10' in page['@odata.nextLink'] and nxt['value'][0]['receivedDateTime'] <= dates[-1]
    big = graph.ok('GET', '/me/mailFolders/inbox/messages?$top=1000&$select=id')
    total = graph.ok('GET', '/me/mailFolders/inbox')['totalItemCount']
    assert len(big['value']) == total and '@odata.nextLink' not in big
    assert graph.get('/me/mailFolders/inbox/messages?$top=1001').status_code == 400
    assert graph.get('/me/mailFolders/inbox/messages?$top=0').status_code == 400
    cut = dates[4]
    older = graph.ok('GET', '/me/mailFolders/inbox/messages?$filter=receivedDateTime lt %s'
                            '&$orderby=receivedDateTime desc&$top=5&$select=receivedDateTime' % cut)['value']
    assert all(m['receivedDateTime'] < cut for m in older) and len(older) == 5
    unread = graph.ok('GET', '/me/mailFolders/inbox/messages?$filter=isRead eq false&$top=50&$select=isRead')
    assert unread['value'] and all(not m['isRead'] for m in unread['value'])
    # graph-api.md §3 [LISTMSG]: $orderby property must lead the $filter -> InefficientFilter
    r = graph.get('/me/mailFolders/inbox/messages?$filter=isRead eq false&$orderby=receivedDateTime desc')
    assert r.status_code == 400 and r.json()['error']['code'] == 'InefficientFilter'
    ok = graph.get('/me/mailFolders/inbox/messages?$filter=receivedDateTime ge 2000-01-01T00:00:00Z and '
                   'isRead eq false&$orderby=receivedDateTime desc')
    assert ok.status_code == 200
    asc = graph.ok('GET', '/me/mailFolders/inbox/messages?$orderby=receivedDateTime asc&$select=receivedDateTime')
    assert [m['receivedDateTime'] for m in asc['value']] == sorted(m['receivedDateTime'] for m in asc['value'])
    assert graph.get('/me/mailFolders/inbox/messages?$select=nope').status_code == 400
    whole = graph.ok('GET', '/me/messages?$top=5&$select=parentFolderId')
    assert len(whole['value']) == 5


def test_get_message_full_shape_and_body_preference(graph):
    mid = graph.ok('GET', '/me/mailFolders/inbox/messages?$top=1')['value'][0]['id']
    full = graph.ok('GET', '/me/messages/%s' % mid)
    for prop in ('id', 'createdDateTime', 'lastModifiedDateTime', 'changeKey', 'categories', 'receivedDateTime',
                 'sentDateTime', 'hasAttachments', 'internetMessageId', 'subject', 'bodyPreview', 'importance',
                 'parentFolderId', 'conversationId', 'conversationIndex', 'isRead', 'isDraft', 'webLink',
                 'inferenceClassification', 'body', 'sender', 'from', 'toRecipients', 'ccRecipients',
                 'bccRecipients', 'replyTo', 'flag', '@odata.etag'):
        assert prop in full, prop
    assert 'internetMessageHeaders' not in full and full['body']['contentType'] == 'html'
    assert full['flag'] == {'flagStatus': 'notFlagged'} or 'flagStatus' in full['flag']
    assert full['receivedDateTime'].endswith('Z') and full['@odata.etag'] == 'W/"%s"' % full['changeKey']
    r = graph.get('/me/messages/%s' % mid, prefer=['outlook.body-content-type="text"'])
    assert r.json()['body']['contentType'] == 'text' and '<p>' not in r.json()['body']['content']
    assert r.headers['Preference-Applied'] == 'outlook.body-content-type="text"'
    hdrs = graph.ok('GET', '/me/messages/%s?$select=internetMessageHeaders' % mid)['internetMessageHeaders']
    assert any(h['name'] == 'Message-ID' and h['value'] == full['internetMessageId'] for h in hdrs)


def test_mime_value_and_attachments(emu, graph):
    # the generator puts one > 3 MB attachment in every Inbox; find it through hasAttachments
    msgs = graph.ok('GET', '/me/mailFolders/inbox/messages?$top=1000&$select=hasAttachments,subject')['value']
    with_att = [m for m in msgs if m['hasAttachments']]
    assert with_att
    sizes = {}
    for m in with_att:
        atts = graph.ok('GET', '/me/messages/%s/attachments' % m['id'])['value']
        for a in atts:
            if a['@odata.type'] != '#microsoft.graph.fileAttachment':
                # item / reference attachments carry no bytes (test_realistic.py)
                assert a['@odata.type'] in ('#microsoft.graph.itemAttachment', '#microsoft.graph.referenceAttachment')
                assert 'contentBytes' not in a
                continue
            assert 'contentBytes' in a
            sizes[a['id']] = (m['id'], a['size'], a['name'])
    mid, size, name = max(sizes.values(), key=lambda x: x[1])
    assert size > 3 * 1024 * 1024
    att_id = next(k for k, v in sizes.items() if v[0] == mid and v[1] == size)
    raw = graph.get('/me/messages/%s/attachments/%s/$value' % (mid, att_id))
    assert raw.status_code == 200 and len(raw.content) > 3 * 1024 * 1024
    one = graph.ok('GET', '/me/messages/%s/attachments/%s' % (mid, att_id))
    assert one['name'] == name
    mime = graph.get('/me/messages/%s/$value' % with_att[0]['id'])
    parsed = email.message_from_bytes(mime.content)
    assert parsed['MIME-Version'] == '1.0' and parsed['Message-ID'] and mime.content.startswith(b'Received:')


def test_patch_bumps_changekey_and_rejects_body_on_non_draft(emu, graph):
    msg = graph.ok('GET', '/me/mailFolders/inbox/messages?$top=1&$select=' + SELECT + ',changeKey,'
                                                                                   'lastModifiedDateTime')['value'][0]
    upd = graph.ok('PATCH', '/me/messages/%s' % msg['id'],
                   json={'isRead': not msg['isRead'], 'flag': {'flagStatus': 'flagged'}, 'categories': ['Travel']})
    assert upd['isRead'] is (not msg['isRead']) and upd['flag']['flagStatus'] == 'flagged'
    assert upd['categories'] == ['Travel']
    assert upd['changeKey'] != msg['changeKey'] and upd['@odata.etag'] != msg['@odata.etag']
    assert upd['lastModifiedDateTime'] >= msg['lastModifiedDateTime']
    truth = emu.state(emu.users[0])[upd['parentFolderId']]['messages']
    assert any(v['flagStatus'] == 'flagged' and v['categories'] == ['Travel'] and v['regularId'] == msg['id']
               for v in truth.values())
    r = graph.patch('/me/messages/%s' % msg['id'], json={'body': {'contentType': 'text', 'content': 'x'}})
    assert r.status_code == 400 and r.json()['error']['code'] == 'ErrorInvalidPropertyUpdateSentMessage'
    r = graph.patch('/me/messages/%s' % msg['id'], json={'flag': {'flagStatus': 'flagged',
                                                                  'dueDateTime': {'dateTime': '2030-01-01T00:00:00',
                                                                                  'timeZone': 'UTC'}}})
    assert r.status_code == 400
    assert graph.patch('/me/messages/%s' % msg['id'], json={'bogus': 1}).status_code == 400


@pytest.mark.parametrize('immutable', [False, True])
def test_move_ids_regular_vs_immutable(emu, immutable):
    g = Graph(emu, user=emu.users[1], immutable=immutable)
    mid = g.ok('GET', '/me/mailFolders/inbox/messages?$top=1&$select=id')['value'][0]['id']
    assert mid.startswith('AAkALgAA' if immutable else 'AAMkAGI2')
    moved = g.ok('POST', '/me/messages/%s/move' % mid, status=201, json={'destinationId': 'archive'})
    archive = g.ok('GET', '/me/mailFolders/archive')
    assert moved['parentFolderId'] == archive['id']
    old = g.get('/me/messages/%s' % mid)
    if immutable:
        assert moved['id'] == mid and old.status_code == 200  # graph-api.md §4.3: stable across moves
    else:
        assert moved['id'] != mid and old.status_code == 404  # regular ids change on move
        assert old.json()['error']['code'] == 'ErrorItemNotFound'
        assert g.get('/me/messages/%s' % moved['id']).status_code == 200
    assert g.get('/me/messages/not-an-id').status_code == 400


def test_delete_moves_to_deleted_items_then_hard_deletes(emu, igraph):
    mid = igraph.ok('GET', '/me/mailFolders/inbox/messages?$top=1&$select=id')['value'][0]['id']
    assert igraph.delete('/me/messages/%s' % mid).status_code == 204
    again = igraph.ok('GET', '/me/messages/%s' % mid)
    assert again['parentFolderId'] == igraph.ok('GET', '/me/mailFolders/deleteditems')['id']
    assert igraph.delete('/me/messages/%s' % mid).status_code == 204
    assert igraph.get('/me/messages/%s' % mid).status_code == 404


def test_folder_delta_tree_and_changes(emu):
    g = Graph(emu, user=emu.users[2])
    items, link = [], '/me/mailFolders/delta'
    while True:
        page = g.ok('GET', link)
        items += page['value']
        if '@odata.deltaLink' in page:
            delta_link = page['@odata.deltaLink']
            break
        link = page['@odata.nextLink']
    names = {f['displayName'] for f in items}
    assert {'Inbox', 'Specs', 'Apollo', 'Conflicts'} <= names  # whole tree (§1.10, observed)
    assert g.ok('GET', delta_link)['value'] == []
    created = g.ok('POST', '/me/mailFolders/inbox/childFolders', status=201, json={'displayName': 'New one'})
    gone = emu.control('POST', '/mutate', {'user': emu.users[2], 'op': 'create_folder', 'name': 'Temp'})['folder']
    emu.control('POST', '/mutate', {'user': emu.users[2], 'op': 'delete_folder', 'folder': gone})
    page = g.ok('GET', delta_link)
    by_id = {f['id']: f for f in page['value']}
    assert by_id[created['id']]['displayName'] == 'New one'
    assert by_id[gone]['@removed'] == {'reason': 'deleted'}
