"""A MIME reply sent through sendMail keeps its reply headers and joins the conversation it answers
(PidTagInternetReferences / thread-index docs on learn.microsoft.com; graph/api/user-sendmail, MIME format)."""
import base64
import email
import uuid

from emulator.tests.test_send import find_by_imid


def mime_reply(emu, parent_imid, imid, references):
    return ('From: %s\r\nTo: alexw@fabrikam.test\r\nReply-To: Sales <catchall@contoso.test>\r\n'
            'Subject: Re: Order\r\nMessage-ID: %s\r\nIn-Reply-To: %s\r\nReferences: %s\r\nMIME-Version: 1.0\r\n'
            'Content-Type: text/plain; charset=utf-8\r\n\r\nWe ship tomorrow.\r\n'
            % (emu.users[0], imid, parent_imid, references)).encode()


def send_mime(igraph, raw):
    r = igraph.post('/me/sendMail', data=base64.b64encode(raw), headers={'Content-Type': 'text/plain'})
    assert r.status_code == 202, r.text


def test_mime_reply_keeps_headers_and_joins_the_conversation(emu, igraph):
    parent_imid = '<%s@fabrikam.test>' % uuid.uuid4().hex
    [parent_id] = emu.deliver(emu.users[0], subject='Order', internetMessageId=parent_imid)
    parent = igraph.ok('GET', '/me/messages/%s?$select=conversationId,conversationIndex' % parent_id)
    imid = '<%s@contoso.test>' % uuid.uuid4().hex
    send_mime(igraph, mime_reply(emu, parent_imid, imid, '<older@fabrikam.test> %s' % parent_imid))
    emu.settle()
    [(where, sent_id, sent)] = find_by_imid(emu, emu.users[0], imid)
    assert where == 'sentitems'
    assert sent['conversationId'] == parent['conversationId']
    item = igraph.ok('GET', '/me/messages/%s?$select=internetMessageHeaders,replyTo,conversationIndex' % sent_id)
    headers = {h['name']: h['value'] for h in item['internetMessageHeaders']}
    assert headers['In-Reply-To'] == parent_imid
    assert headers['References'] == '<older@fabrikam.test> %s' % parent_imid
    assert item['replyTo'] == [{'emailAddress': {'name': 'Sales', 'address': 'catchall@contoso.test'}}]
    assert item['conversationIndex'] != parent['conversationIndex']
    mime = email.message_from_bytes(igraph.get('/me/messages/%s/$value' % sent_id).content)
    assert ' '.join(mime['References'].split()) == '<older@fabrikam.test> %s' % parent_imid
    assert mime['Reply-To'] == 'Sales <catchall@contoso.test>'


def test_mime_reply_to_a_message_not_in_the_mailbox_starts_its_own_conversation(emu, igraph):
    parent_imid = '<%s@fabrikam.test>' % uuid.uuid4().hex
    [parent_id] = emu.deliver(emu.users[0], subject='Order', internetMessageId=parent_imid)
    parent = igraph.ok('GET', '/me/messages/%s?$select=conversationId' % parent_id)
    imid = '<%s@contoso.test>' % uuid.uuid4().hex
    stranger = '<%s@elsewhere.test>' % uuid.uuid4().hex
    send_mime(igraph, mime_reply(emu, stranger, imid, stranger))
    emu.settle()
    [(_, _, sent)] = find_by_imid(emu, emu.users[0], imid)
    assert sent['conversationId'] != parent['conversationId']
