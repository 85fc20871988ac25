"""Drafts created from MIME, large mail through a draft + upload session, and $select casts of meeting mail
(learn.microsoft.com/graph/api/user-post-messages, graph/outlook-large-attachments, resources/eventmessage*)."""
import base64
import uuid

import requests

from emulator.tests.test_mail_kinds import EVENT_TYPES, inbox
from emulator.tests.test_send import find_by_imid

MB = 1024 * 1024


def mime_text(emu, imid, extra=''):
    return ('From: Adele <%s>\r\nTo: %s\r\nSubject: MIME draft\r\nMessage-ID: %s\r\n'
            'In-Reply-To: <root@fabrikam.test>\r\nMIME-Version: 1.0\r\n%s'
            'Content-Type: text/html; charset=utf-8\r\n\r\n<p>drafted from MIME</p>\r\n'
            % (emu.users[0], emu.users[1], imid, extra)).encode()


def test_mime_draft_keeps_headers_then_sends(emu, igraph):
    imid = '<%s@maildesk.test>' % uuid.uuid4().hex
    r = igraph.post('/me/messages', data=base64.b64encode(mime_text(emu, imid)),
                    headers={'Content-Type': 'text/plain'})
    assert r.status_code == 201, r.text
    draft = r.json()
    assert draft['isDraft'] is True and draft['internetMessageId'] == imid
    assert 'drafted from MIME' in draft['body']['content']
    assert [w for w, _, _ in find_by_imid(emu, emu.users[0], imid)] == ['drafts']
    assert igraph.post('/me/messages/%s/send' % draft['id'], headers={'Content-Length': '0'}).status_code == 202
    emu.settle()
    assert sorted(w for w, _, _ in find_by_imid(emu, emu.users[0], imid)) == ['sentitems']
    assert [w for w, _, _ in find_by_imid(emu, emu.users[1], imid)] == ['inbox']
    mime = igraph.get('/me/messages/%s/$value' % draft['id']).content
    assert b'In-Reply-To: <root@fabrikam.test>' in mime


def test_mime_draft_bad_base64_and_over_4mb(emu, igraph):
    r = igraph.post('/me/messages', data=b'not*base64!', headers={'Content-Type': 'text/plain'})
    assert r.status_code == 400 and r.json()['error']['code'] == 'ErrorMimeContentInvalidBase64String'
    big = mime_text(emu, '<big@maildesk.test>') + b'x' * (3 * MB + MB // 2)
    r = igraph.post('/me/messages', data=base64.b64encode(big), headers={'Content-Type': 'text/plain'})
    assert r.status_code == 413  # graph-api.md §12: the 4 MB request limit holds for MIME drafts too


def test_large_attachment_through_an_upload_session_onto_a_mime_draft(emu, igraph):
    imid = '<%s@maildesk.test>' % uuid.uuid4().hex
    draft = igraph.ok('POST', '/me/messages', status=201, data=base64.b64encode(mime_text(emu, imid)),
                      headers={'Content-Type': 'text/plain'})
    data = bytes(range(256)) * (6 * MB // 256)
    session = igraph.ok('POST', '/me/messages/%s/attachments/createUploadSession' % draft['id'], status=201,
                        json={'AttachmentItem': {'attachmentType': 'file', 'name': 'big.bin', 'size': len(data)}})
    url = session['uploadUrl']
    too_big = requests.put(url, data=data[:4 * MB], verify=emu.ca_bundle, timeout=60, headers={
        'Content-Range': 'bytes 0-%d/%d' % (4 * MB - 1, len(data))})
    assert too_big.status_code == 413  # ranges of 4 MB or more are refused
    chunk = 12 * 320 * 1024
    for start in range(0, len(data), chunk):
        part = data[start:start + chunk]
        r = requests.put(url, data=part, verify=emu.ca_bundle, timeout=60, headers={
            'Content-Range': 'bytes %d-%d/%d' % (start, start + len(part) - 1, len(data))})
        assert r.status_code in (200, 201), r.text
    atts = igraph.ok('GET', '/me/messages/%s/attachments' % draft['id'])['value']
    [big] = [a for a in atts if a['name'] == 'big.bin']
    assert igraph.get('/me/messages/%s/attachments/%s/$value' % (draft['id'], big['id'])).content == data


def test_meeting_casts_must_name_the_declaring_type(emu, igraph):
    msgs = inbox(igraph)
    meetings = {m['@odata.type']: m for m in msgs if m.get('@odata.type') in EVENT_TYPES}
    resp = meetings['#microsoft.graph.eventMessageResponse']
    ok = igraph.ok('GET', '/me/messages/%s?$select=subject,microsoft.graph.eventMessageResponse/responseType,'
                   'microsoft.graph.eventMessage/startDateTime' % resp['id'])
    assert ok['responseType'] == 'accepted' and ok['startDateTime']['timeZone'] == 'UTC'
    # responseType is declared on eventMessageResponse, not on eventMessage (OData type-cast segments)
    bad = igraph.get('/me/messages/%s?$select=microsoft.graph.eventMessage/responseType' % resp['id'])
    assert bad.status_code == 400
    plain = next(m for m in msgs if '@odata.type' not in m)
    one = igraph.ok('GET', '/me/messages/%s?$select=subject,microsoft.graph.eventMessage/meetingMessageType'
                    % plain['id'])
    assert 'meetingMessageType' not in one  # a plain message has no such property: nothing is returned
