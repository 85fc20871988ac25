"""Mail that real mailboxes hold (graph-api.md §12): attached messages (itemAttachment), cloud links
(referenceAttachment), meeting messages (eventMessage*), plain-text bodies - seeded and deliverable."""
import email
import email.policy

from emulator.tests.helpers import Graph
from emulator.tests.test_delta import walk

EVENT_TYPES = {'#microsoft.graph.eventMessageRequest', '#microsoft.graph.eventMessage',
               '#microsoft.graph.eventMessageResponse'}


def inbox(g):
    return g.ok('GET', '/me/mailFolders/inbox/messages?$top=1000')['value']


def attachments_of(g, msgs, odata_type):
    for m in msgs:
        if m['hasAttachments']:
            for a in g.ok('GET', '/me/messages/%s/attachments' % m['id'])['value']:
                if a['@odata.type'] == odata_type:
                    return m, a
    raise AssertionError('no %s seeded' % odata_type)


def test_seeded_item_attachment_and_its_mime(emu, igraph):
    msgs = inbox(igraph)
    msg, att = attachments_of(igraph, msgs, '#microsoft.graph.itemAttachment')
    # v1.0 itemAttachment: base properties only, contentType null, no contentBytes (resources/itemattachment)
    assert set(att) == {'@odata.type', 'id', 'lastModifiedDateTime', 'name', 'contentType', 'size', 'isInline'}
    assert att['contentType'] is None and att['isInline'] is False and att['size'] > 0
    assert igraph.ok('GET', '/me/messages/%s/attachments/%s' % (msg['id'], att['id']))['name'] == att['name']
    raw = igraph.get('/me/messages/%s/attachments/%s/$value' % (msg['id'], att['id']))
    assert raw.status_code == 200 and raw.headers['Content-Type'] == 'message/rfc822'
    inner = email.message_from_bytes(raw.content, policy=email.policy.default)
    assert inner['Subject'].startswith('Original: ') and inner['Message-ID']
    outer = email.message_from_bytes(igraph.get('/me/messages/%s/$value' % msg['id']).content,
                                     policy=email.policy.default)
    parts = [p for p in outer.walk() if p.get_content_type() == 'message/rfc822']
    assert len(parts) == 1 and parts[0].get_payload()[0]['Message-ID'] == inner['Message-ID']


def test_seeded_reference_attachment(emu, igraph):
    msg, att = attachments_of(igraph, inbox(igraph), '#microsoft.graph.referenceAttachment')
    # v1.0 referenceAttachment: no sourceUrl (beta only); the link is in the body
    assert 'sourceUrl' not in att and 'contentBytes' not in att and att['contentType'] is None
    body = igraph.ok('GET', '/me/messages/%s?$select=body' % msg['id'])['body']['content']
    assert 'https://contoso-my.sharepoint.com/' in body
    r = igraph.get('/me/messages/%s/attachments/%s/$value' % (msg['id'], att['id']))
    assert r.status_code == 400


def test_seeded_meeting_messages(emu, igraph):
    msgs = inbox(igraph)
    meetings = {m['@odata.type']: m for m in msgs if m.get('@odata.type') in EVENT_TYPES}
    assert set(meetings) == EVENT_TYPES  # the derived type is named in a plain listing
    assert all('@odata.type' not in m for m in msgs if m['id'] not in {x['id'] for x in meetings.values()})
    req = meetings['#microsoft.graph.eventMessageRequest']
    assert req['meetingMessageType'] == 'meetingRequest' and req['subject'].startswith('Invitation: ')
    assert set(req['startDateTime']) == {'dateTime', 'timeZone'} and req['endDateTime']['dateTime'] > \
        req['startDateTime']['dateTime']
    assert req['location']['displayName'] and req['allowNewTimeProposals'] is True
    assert meetings['#microsoft.graph.eventMessage']['meetingMessageType'] == 'meetingCancelled'
    resp = meetings['#microsoft.graph.eventMessageResponse']
    assert resp['meetingMessageType'] == 'meetingAccepted' and resp['responseType'] == 'accepted'
    one = igraph.ok('GET', '/me/messages/%s?$select=subject' % req['id'])
    assert set(one) - {'@odata.context'} == {'@odata.etag', '@odata.type', 'id', 'subject'}
    cast = igraph.ok('GET', '/me/messages/%s?$select=subject,microsoft.graph.eventMessage/meetingMessageType'
                     % req['id'])
    assert cast['meetingMessageType'] == 'meetingRequest'
    assert igraph.get('/me/messages/%s?$select=meetingMessageType' % req['id']).status_code == 400
    # delta carries the derived type too
    items, _, _ = walk(igraph, '/me/mailFolders/inbox/messages/delta?$select=subject', page_size=500)
    assert {m['@odata.type'] for m in items} >= EVENT_TYPES | {'#microsoft.graph.message'}


def test_seeded_text_bodies(emu, igraph):
    msgs = igraph.ok('GET', '/me/mailFolders/inbox/messages?$top=1000&$select=body')['value']
    text = [m for m in msgs if m['body']['contentType'] == 'text']
    # without a Prefer header a body comes in its stored format (microsoft-graph-docs-contrib issue 664)
    assert len(text) == 2 and '<b>not html</b>' in text[0]['body']['content']
    r = igraph.get('/me/messages/%s?$select=body' % text[0]['id'], prefer=['outlook.body-content-type="html"'])
    assert r.json()['body']['contentType'] == 'html' and '&lt;b&gt;not html&lt;/b&gt;' in r.json()['body']['content']


def test_deliver_each_kind(emu):
    user = emu.users[1]
    g = Graph(emu, user=user, immutable=True)
    [mid] = emu.deliver(user, subject='With attached message and link', attachments=[
        {'@odata.type': '#microsoft.graph.itemAttachment', 'name': 'Forwarded',
         'item': {'subject': 'Inner', 'from': 'inner@fabrikam.test', 'body': {'contentType': 'text',
                                                                           'content': 'inner text'}}},
        {'@odata.type': '#microsoft.graph.referenceAttachment', 'name': 'Plan.docx',
         'sourceUrl': 'https://contoso-my.sharepoint.com/plan.docx'},
        {'name': 'a.txt', 'contentBytes': 'aGk='}])
    atts = g.ok('GET', '/me/messages/%s/attachments' % mid)['value']
    assert [a['@odata.type'] for a in atts] == ['#microsoft.graph.itemAttachment',
                                                '#microsoft.graph.referenceAttachment',
                                                '#microsoft.graph.fileAttachment']
    inner = g.get('/me/messages/%s/attachments/%s/$value' % (mid, atts[0]['id'])).content
    assert b'Subject: Inner' in inner and b'inner text' in inner
    [meeting] = emu.deliver(user, subject='Sync', type='eventMessageRequest', startDateTime='2030-03-01T10:00:00Z',
                            endDateTime='2030-03-01T11:00:00Z', location='Room 1')
    m = g.ok('GET', '/me/messages/%s' % meeting)
    assert m['@odata.type'] == '#microsoft.graph.eventMessageRequest' and m['location']['displayName'] == 'Room 1'
    assert m['startDateTime'] == {'dateTime': '2030-03-01T10:00:00.0000000', 'timeZone': 'UTC'}
    [plain] = emu.deliver(user, subject='Plain', body={'contentType': 'text', 'content': 'just text'})
    assert g.ok('GET', '/me/messages/%s' % plain)['body'] == {'contentType': 'text', 'content': 'just text'}
