"""sendMail (JSON + MIME), drafts, replies/forwards, attachments and upload sessions (graph-api.md §4.5, §5)."""
import base64
import uuid

from emulator.tests.helpers import Graph


def find_by_imid(emu, user, imid):
    hits = []
    for folder in emu.state(user).values():
        for mid, m in folder['messages'].items():
            if m['internetMessageId'] == imid:
                hits.append((folder['well_known'], mid, m))
    return hits


def test_sendmail_json_to_self_lands_in_sent_and_inbox(emu, graph):
    me = emu.users[0]
    subject = 'Self test %s ✓' % uuid.uuid4().hex[:6]
    r = graph.post('/me/sendMail', json={'message': {
        'subject': subject, 'body': {'contentType': 'Text', 'content': 'hello'},
        'toRecipients': [{'emailAddress': {'address': me}}, {'emailAddress': {'address': emu.users[1]}}],
        'internetMessageHeaders': [{'name': 'x-maildesk', 'value': '1'}]}})
    assert r.status_code == 202 and r.content == b''  # graph-api.md §5: 202, empty body, no id
    emu.settle()  # the Sent Items copy and the deliveries are asynchronous (sent_copy_delay, test_realistic.py)
    inbox = graph.ok('GET', "/me/mailFolders/inbox/messages?$filter=subject eq '%s'" % subject)['value']
    sent = graph.ok('GET', "/me/mailFolders/sentitems/messages?$filter=subject eq '%s'" % subject)['value']
    assert len(inbox) == 1 and len(sent) == 1
    assert inbox[0]['internetMessageId'] == sent[0]['internetMessageId'] and not inbox[0]['isRead']
    assert [w for w, _, _ in find_by_imid(emu, emu.users[1], sent[0]['internetMessageId'])] == ['inbox']
    bad = graph.post('/me/sendMail', json={'message': {'subject': 'x', 'internetMessageHeaders':
                                                       [{'name': 'Custom', 'value': '1'}],
                                                       'toRecipients': [{'emailAddress': {'address': me}}]}})
    assert bad.status_code == 400
    assert graph.post('/me/sendMail', json={'message': {'subject': 'nobody'}}).status_code == 400


def test_sendmail_save_to_sent_false(emu, graph):
    subject = 'nosave %s' % uuid.uuid4().hex[:6]
    graph.ok('POST', '/me/sendMail', status=202, json={'saveToSentItems': False, 'message': {
        'subject': subject, 'toRecipients': [{'emailAddress': {'address': 'someone@fabrikam.test'}}]}})
    assert graph.ok('GET', "/me/mailFolders/sentitems/messages?$filter=subject eq '%s'" % subject)['value'] == []


def test_sendmail_mime_keeps_message_id_and_rejects_bad_base64(emu, graph):
    imid = '<%s@maildesk.test>' % uuid.uuid4().hex
    mime = ('From: Adele <%s>\r\nTo: %s\r\nSubject: MIME send\r\nMessage-ID: %s\r\nMIME-Version: 1.0\r\n'
            'Content-Type: text/html; charset=utf-8\r\n\r\n<p>hi from MIME</p>\r\n'
            % (emu.users[0], emu.users[0], imid))
    r = graph.post('/me/sendMail', data=base64.b64encode(mime.encode()), headers={'Content-Type': 'text/plain'})
    assert r.status_code == 202
    emu.settle()
    where = sorted(w for w, _, _ in find_by_imid(emu, emu.users[0], imid))
    assert where == ['inbox', 'sentitems']
    r = graph.post('/me/sendMail', data=b'not*base64!', headers={'Content-Type': 'text/plain'})
    assert r.status_code == 400 and r.json()['error']['code'] == 'ErrorMimeContentInvalidBase64String'


def test_draft_create_patch_send_with_immutable_id(emu, igraph):
    draft = igraph.ok('POST', '/me/messages', status=201, json={
        'subject': 'Draft one', 'body': {'contentType': 'HTML', 'content': '<b>x</b>'},
        'toRecipients': [{'emailAddress': {'address': emu.users[0]}}]})
    assert draft['isDraft'] and draft['internetMessageId'] and draft['sentDateTime'] is None
    assert draft['parentFolderId'] == igraph.ok('GET', '/me/mailFolders/drafts')['id']
    upd = igraph.ok('PATCH', '/me/messages/%s' % draft['id'],
                    json={'subject': 'Draft one (edited)', 'body': {'contentType': 'text', 'content': 'edited'}})
    assert upd['subject'] == 'Draft one (edited)' and upd['changeKey'] != draft['changeKey']
    r = igraph.post('/me/messages/%s/send' % draft['id'])
    assert r.status_code == 202 and r.content == b''
    # graph-api.md §12 / outlook-immutable-id: the GET "may not succeed immediately" - 404 until the copy is there
    r = igraph.get('/me/messages/%s' % draft['id'])
    assert r.status_code == 404 and r.json()['error']['code'] == 'ErrorItemNotFound'
    emu.settle()
    sent = igraph.ok('GET', '/me/messages/%s' % draft['id'])  # graph-api.md §5 [IMMUT]: same id -> Sent copy
    assert not sent['isDraft'] and sent['sentDateTime']
    assert sent['parentFolderId'] == igraph.ok('GET', '/me/mailFolders/sentitems')['id']
    assert igraph.post('/me/messages/%s/send' % draft['id']).status_code == 400  # not a draft any more
    arrived = find_by_imid(emu, emu.users[0], draft['internetMessageId'])
    assert sorted(w for w, _, _ in arrived) == ['inbox', 'sentitems']


def test_draft_regular_id_gone_after_send(emu, graph):
    draft = graph.ok('POST', '/me/messages', status=201, json={
        'subject': 'Draft two', 'toRecipients': [{'emailAddress': {'address': 'x@fabrikam.test'}}]})
    assert graph.post('/me/messages/%s/send' % draft['id']).status_code == 202
    emu.settle()
    assert graph.get('/me/messages/%s' % draft['id']).status_code == 404
    hits = graph.ok('GET', "/me/mailFolders/sentitems/messages?$filter=internetMessageId eq '%s'"
                    % draft['internetMessageId'])['value']
    assert len(hits) == 1


def test_reply_family(emu):
    g = Graph(emu, emu.users[1])
    orig = g.ok('GET', '/me/mailFolders/inbox/messages?$top=1')['value'][0]
    rep = g.ok('POST', '/me/messages/%s/createReply' % orig['id'], status=201, json={'comment': 'thanks!'})
    assert rep['isDraft'] and rep['subject'].startswith('RE: ') and rep['conversationId'] == orig['conversationId']
    assert rep['toRecipients'][0]['emailAddress']['address'] == orig['from']['emailAddress']['address']
    hdrs = g.ok('GET', '/me/messages/%s?$select=internetMessageHeaders' % rep['id'])['internetMessageHeaders']
    assert {'name': 'In-Reply-To', 'value': orig['internetMessageId']} in hdrs
    fwd = g.ok('POST', '/me/messages/%s/createForward' % orig['id'], status=201, json={})
    assert fwd['subject'].startswith('FW: ') and fwd['toRecipients'] == []
    ra = g.ok('POST', '/me/messages/%s/createReplyAll' % orig['id'], status=201)
    assert ra['subject'].startswith('RE: ')
    assert g.post('/me/messages/%s/reply' % orig['id'], json={'comment': 'ok'}).status_code == 202
    both = g.post('/me/messages/%s/reply' % orig['id'], json={'comment': 'a', 'message': {'body': {
        'contentType': 'text', 'content': 'b'}}})
    assert both.status_code == 400
    assert g.post('/me/messages/%s/forward' % orig['id'], json={'comment': 'fyi'}).status_code == 400
    r = g.post('/me/messages/%s/forward' % orig['id'], json={
        'comment': 'fyi', 'toRecipients': [{'emailAddress': {'address': emu.users[2]}}]})
    assert r.status_code == 202
    emu.settle()
    arrived = Graph(emu, emu.users[2]).ok('GET', "/me/mailFolders/inbox/messages?$filter=subject eq '%s'"
                                          % ('FW: ' + orig['subject']).replace("'", "''"))['value']
    assert arrived


def test_attachments_small_post_large_upload_session(emu, igraph):
    draft = igraph.ok('POST', '/me/messages', status=201, json={
        'subject': 'with attachments', 'toRecipients': [{'emailAddress': {'address': emu.users[0]}}]})
    mid = draft['id']
    small = igraph.ok('POST', '/me/messages/%s/attachments' % mid, status=201, json={
        '@odata.type': '#microsoft.graph.fileAttachment', 'name': 'a.txt', 'contentType': 'text/plain',
        'contentBytes': base64.b64encode(b'hello').decode()})
    assert small['size'] >= 5
    big = b'\x00' * (3 * 1024 * 1024 + 10)
    r = igraph.post('/me/messages/%s/attachments' % mid, json={
        '@odata.type': '#microsoft.graph.fileAttachment', 'name': 'big.bin', 'contentBytes':
        base64.b64encode(big).decode()})
    assert r.status_code == 413  # graph-api.md §4.5 [POSTATT]: < 3 MB only
    r = igraph.post('/me/messages/%s/attachments/createUploadSession' % mid,
                    json={'AttachmentItem': {'attachmentType': 'file', 'name': 'tiny', 'size': 100}})
    assert r.status_code == 400 and r.json()['error']['code'] == 'ErrorAttachmentSizeShouldNotBeLessThanMinimumSize'
    sess = igraph.ok('POST', '/me/messages/%s/attachments/createUploadSession' % mid, status=201,
                     json={'AttachmentItem': {'attachmentType': 'file', 'name': 'big.bin', 'size': len(big)}})
    assert sess['nextExpectedRanges'] == ['0-']
    import requests
    url = sess['uploadUrl']
    with_auth = requests.put(url, data=big[:10], verify=emu.ca_bundle, headers={
        'Authorization': 'Bearer ' + igraph.token, 'Content-Range': 'bytes 0-9/%d' % len(big)})
    assert with_auth.status_code == 401  # pre-authenticated URL: no Authorization header
    chunk = 2 * 1024 * 1024
    r = requests.put(url, data=big[:chunk], verify=emu.ca_bundle,
                     headers={'Content-Range': 'bytes 0-%d/%d' % (chunk - 1, len(big))})
    assert r.status_code == 200 and r.json()['nextExpectedRanges'] == ['%d-' % chunk]
    r = requests.put(url, data=big[:10], verify=emu.ca_bundle, headers={'Content-Range': 'bytes 0-9/%d' % len(big)})
    assert r.status_code == 416
    r = requests.put(url, data=big[chunk:], verify=emu.ca_bundle,
                     headers={'Content-Range': 'bytes %d-%d/%d' % (chunk, len(big) - 1, len(big))})
    assert r.status_code == 201 and 'attachments(' in r.headers['Location']
    atts = igraph.ok('GET', '/me/messages/%s/attachments' % mid)['value']
    assert sorted(a['name'] for a in atts) == ['a.txt', 'big.bin']
    assert igraph.post('/me/messages/%s/send' % mid).status_code == 202
    emu.config(max_message_size=1024)
    r = igraph.post('/me/sendMail', json={'message': {'subject': 'big', 'toRecipients': [
        {'emailAddress': {'address': emu.users[0]}}], 'attachments': [{
            '@odata.type': '#microsoft.graph.fileAttachment', 'name': 'b', 'contentBytes':
            base64.b64encode(b'x' * 4096).decode()}]}})
    assert r.status_code == 413 and r.json()['error']['code'] == 'ErrorMessageSizeExceeded'


def test_inline_image_reaches_the_recipient_with_its_content_id(emu, graph):
    """fileAttachment isInline + contentId (learn.microsoft.com/graph/api/resources/fileattachment): the body names
    the image as cid:, the recipient's copy keeps both; a non-boolean isInline is refused."""
    subject = 'Inline %s' % uuid.uuid4().hex[:6]
    image = {'@odata.type': '#microsoft.graph.fileAttachment', 'name': 'dot.png', 'contentType': 'image/png',
             'contentBytes': base64.b64encode(b'\x89PNG tiny').decode(), 'isInline': True, 'contentId': 'dot@test'}
    message = {'subject': subject, 'body': {'contentType': 'HTML', 'content': '<p><img src="cid:dot@test"></p>'},
               'toRecipients': [{'emailAddress': {'address': emu.users[1]}}], 'attachments': [image]}
    graph.ok('POST', '/me/sendMail', status=202, json={'message': message})
    emu.settle()
    [(where, mid)] = [(folder['well_known'], mid) for folder in emu.state(emu.users[1]).values()
                      for mid, m in folder['messages'].items() if m['subject'] == subject]
    assert where == 'inbox'
    other = Graph(emu, user=emu.users[1], immutable=True)
    body = other.ok('GET', '/me/messages/%s' % mid)['body']['content']
    [att] = other.ok('GET', '/me/messages/%s/attachments' % mid)['value']
    assert 'cid:dot@test' in body
    assert (att['isInline'], att['contentId'], base64.b64decode(att['contentBytes'])) == (True, 'dot@test',
                                                                                        b'\x89PNG tiny')
    bad = dict(message, attachments=[dict(image, isInline='yes')])
    response = graph.post('/me/sendMail', json={'message': bad})
    assert response.status_code == 400 and response.json()['error']['code'] == 'RequestBodyRead'
