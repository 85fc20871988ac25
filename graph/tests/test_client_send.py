"""GraphClient sending and write-back against the emulator: sendMail (MIME and JSON), drafts with inline and
uploaded attachments, replies and forwards, PATCH / move / delete, with the JSON of :mod:`graph.outgoing`."""
import email.message
import email.utils

import pytest

from graph import outgoing
from graph.errors import AccessDenied

from .conftest import authorize, make_client

# ------------------------------------------------------------------ sending

def sent_by_internet_id(emu, user, internet_message_id):
    truth = emu.state(user)
    sent = next(fid for fid, f in truth.items() if f['well_known'] == 'sentitems')
    return [mid for mid, m in truth[sent]['messages'].items() if m['internetMessageId'] == internet_message_id]


def test_send_mime(account, emu):
    client, _tokens, user = account
    message = email.message.EmailMessage()
    message['From'] = user
    message['To'] = 'someone@fabrikam.test'
    message['Subject'] = 'MIME send'
    message['Message-ID'] = email.utils.make_msgid(domain='odoo.test')
    message.set_content('Hello from MailDesk')
    assert client.send_mime(message.as_bytes()) is None
    assert len(sent_by_internet_id(emu, user, message['Message-ID'])) == 1


def test_send_message_json(account, emu):
    client, _tokens, user = account
    before = emu.state(user)
    client.send_message({'subject': 'JSON send', 'body': {'contentType': 'HTML', 'content': '<p>hi</p>'},
                         'toRecipients': [{'emailAddress': {'address': 'x@fabrikam.test'}}]})
    after = emu.state(user)
    sent = next(fid for fid, f in after.items() if f['well_known'] == 'sentitems')
    new = set(after[sent]['messages']) - set(before[sent]['messages'])
    assert [after[sent]['messages'][mid]['subject'] for mid in new] == ['JSON send']


def test_draft_with_small_and_large_attachments_then_send(account, emu):
    client, _tokens, _user = account
    draft = client.create_draft({'subject': 'Draft with files', 'toRecipients': [
        {'emailAddress': {'address': 'x@fabrikam.test'}}]})
    assert draft['isDraft'] is True
    updated = client.update_draft(draft['id'], {'subject': 'Draft with files (v2)'})
    assert updated['subject'] == 'Draft with files (v2)'
    small = client.add_attachment(draft['id'], 'note.txt', 'text/plain', b'small file')
    assert small['name'] == 'note.txt'
    large_data = bytes(range(256)) * (5 * 1024 * 1024 // 256 + 7)  # > 4 MB: two upload chunks
    before = client.request_count
    large = client.add_attachment(draft['id'], 'large.bin', 'application/octet-stream', large_data)
    assert client.request_count - before == 3  # createUploadSession + 2 PUTs (no bearer token on them)
    assert large['location']
    client.send_draft(draft['id'])
    sent = client.get_message(draft['id'], body=False)  # ImmutableId: the draft id is the Sent Items id
    assert sent['isDraft'] is False and sent['subject'] == 'Draft with files (v2)'
    names = {a['name']: a for a in client.list_attachments(draft['id'])}
    assert set(names) == {'note.txt', 'large.bin'}
    assert client.get_attachment_bytes(draft['id'], names['large.bin']['id']) == large_data


def test_reply_variants(account, emu):
    client, _tokens, user = account
    [original] = emu.deliver(user, subject='Question')
    conversation = client.get_message(original, body=False)['conversationId']
    for kind in ('reply', 'replyAll', 'forward'):
        draft = client.create_reply(original, kind)
        assert draft['isDraft'] is True and draft['conversationId'] == conversation
    client.reply(original, 'reply', comment='Thanks!')
    client.reply(original, 'forward', message={'toRecipients': [{'emailAddress': {'address': 'f@fabrikam.test'}}]},
                 comment='FYI')
    with pytest.raises(ValueError):
        client.create_reply(original, 'replyToAll')


def test_outgoing_builders_are_what_graph_accepts(account, emu):
    """The JSON of graph.outgoing through the client: a draft with its Sender Name, Message-ID and an inline
    file, a large file through an upload session, a sendMail, a forward and a move."""
    client, _tokens, user = account
    message = outgoing.message('Built by outgoing', '<p>Hello</p>', to=[('Ann Other', 'ann@fabrikam.test')],
                               cc=[('', 'cc@fabrikam.test')], sender=('Sender Name', user),
                               internet_message_id='<outgoing.draft@fabrikam.test>',
                               attachments=[('note.txt', 'text/plain', b'small note')])
    draft = client.create_draft(message)
    got = client.get_message(draft['id'])
    assert got['toRecipients'] == [{'emailAddress': {'name': 'Ann Other', 'address': 'ann@fabrikam.test'}}]
    assert [r['emailAddress']['address'] for r in got['ccRecipients']] == ['cc@fabrikam.test']
    assert got['from']['emailAddress']['name'] == 'Sender Name'
    assert got['internetMessageId'] == '<outgoing.draft@fabrikam.test>'
    assert 'Hello' in got['body']['content']
    large_data = b'L' * (outgoing.SMALL_ATTACHMENT_LIMIT + 1)
    assert client.add_attachment(draft['id'], 'large.bin', None, large_data)['location']
    names = {a['name']: a for a in client.list_attachments(draft['id'])}
    assert client.get_attachment_bytes(draft['id'], names['note.txt']['id']) == b'small note'
    assert client.get_attachment_bytes(draft['id'], names['large.bin']['id']) == large_data
    client.update_draft(draft['id'], outgoing.message('Built by outgoing (v2)', '<p>Hello</p>',
                                                      to=[('', 'ann@fabrikam.test')]))
    client.send_draft(draft['id'])
    assert client.get_message(draft['id'], body=False)['subject'] == 'Built by outgoing (v2)'

    client.send_message(outgoing.message('Sent by outgoing', '<p>one request</p>', to=[('', 'x@fabrikam.test')],
                                         internet_message_id='<outgoing.send@fabrikam.test>'))
    assert len(sent_by_internet_id(emu, user, '<outgoing.send@fabrikam.test>')) == 1

    [original] = emu.deliver(user, subject='Forward me')
    client.reply(original, 'forward', message=outgoing.message(
        'Fw: Forward me', '<p>FYI</p>', to=[('Friend', 'friend@fabrikam.test')],
        internet_message_id='<outgoing.forward@fabrikam.test>'))
    assert len(sent_by_internet_id(emu, user, '<outgoing.forward@fabrikam.test>')) == 1
    roles = client.well_known_folder_ids()
    assert client.move_message(original, 'archive')['parentFolderId'] == roles['archive']


# ------------------------------------------------------------------ write-back

def test_update_move_delete(account, emu):
    client, _tokens, user = account
    [message_id] = emu.deliver(user, subject='Write-back')
    updated = client.update_message(message_id, {'isRead': True, 'flag': {'flagStatus': 'flagged'},
                                                 'categories': ['Blue']})
    assert updated['isRead'] is True
    roles = client.well_known_folder_ids()
    truth = emu.state(user)[roles['inbox']]['messages'][message_id]
    assert truth['isRead'] is True and truth['flagStatus'] == 'flagged' and truth['categories'] == ['Blue']
    moved = client.move_message(message_id, 'archive')
    assert moved['id'] == message_id and moved['parentFolderId'] == roles['archive']
    assert message_id in emu.state(user)[roles['archive']]['messages']
    client.delete_message(message_id)
    assert message_id in emu.state(user)[roles['deleteditems']]['messages']


def test_read_only_token_gets_access_denied(emu):
    user = emu.users[1]
    tokens, _ = authorize(emu, user, write_back=False)
    client = make_client(emu, tokens, user)
    [message_id] = emu.deliver(user, subject='Read only')
    with pytest.raises(AccessDenied) as caught:
        client.update_message(message_id, {'isRead': True})
    assert caught.value.status == 403 and client.request_count == 1  # never retried
