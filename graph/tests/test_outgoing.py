"""graph.outgoing: the JSON MailDesk sends to Graph, built from plain values (pure, no HTTP)."""
import base64
import json
import subprocess
import sys

import pytest

from graph import client, outgoing

from .conftest import ADDON_ROOT

# ------------------------------------------------------------------ recipients

def test_recipient_with_and_without_name():
    assert outgoing.recipient('Ann Other', 'ann@example.com') == {
        'emailAddress': {'address': 'ann@example.com', 'name': 'Ann Other'}}
    assert outgoing.recipient('', 'ann@example.com') == {'emailAddress': {'address': 'ann@example.com'}}
    assert outgoing.recipient(None, 'ann@example.com') == {'emailAddress': {'address': 'ann@example.com'}}


def test_recipient_strips_name_and_address_and_drops_a_blank_name():
    assert outgoing.recipient('  Ann  ', ' ann@example.com ') == {
        'emailAddress': {'address': 'ann@example.com', 'name': 'Ann'}}
    assert outgoing.recipient('   ', 'ann@example.com') == {'emailAddress': {'address': 'ann@example.com'}}


def test_recipients_keep_their_order():
    pairs = [('B', 'b@example.com'), ('', 'a@example.com'), ('C', 'c@example.com')]
    assert [r['emailAddress']['address'] for r in outgoing.recipients(pairs)] == [
        'b@example.com', 'a@example.com', 'c@example.com']
    assert outgoing.recipients([]) == []


# ------------------------------------------------------------------ attachments

def test_file_attachment_carries_base64_bytes():
    data = bytes(range(256)) * 3
    attachment = outgoing.file_attachment('bytes.bin', 'application/x-test', data)
    assert attachment['@odata.type'] == '#microsoft.graph.fileAttachment'
    assert attachment['name'] == 'bytes.bin'
    assert attachment['contentType'] == 'application/x-test'
    assert base64.b64decode(attachment['contentBytes'], validate=True) == data
    assert isinstance(attachment['contentBytes'], str)


def test_file_attachment_defaults_content_type_and_accepts_empty_data():
    attachment = outgoing.file_attachment('empty', None, b'')
    assert attachment['contentType'] == 'application/octet-stream'
    assert attachment['contentBytes'] == ''
    assert outgoing.file_attachment('none', '', None)['contentBytes'] == ''


def test_upload_session_attachment_item():
    assert outgoing.upload_session('big.bin', 'application/zip', 5 * outgoing.MB) == {
        'AttachmentItem': {'attachmentType': 'file', 'name': 'big.bin', 'size': 5 * outgoing.MB,
                           'contentType': 'application/zip'}}
    assert outgoing.upload_session('big', None, 3 * outgoing.MB)['AttachmentItem']['contentType'] == \
        'application/octet-stream'


def test_size_limits_fit_graph_requests():
    # graph-api.md §4.5: POST .../attachments only below 3 MB; the client uses the same limit
    assert outgoing.SMALL_ATTACHMENT_LIMIT == 3 * 1024 * 1024 == client.SMALL_ATTACHMENT_LIMIT
    # attachments inline in one JSON request stay below Graph's 4 MB request limit once base64-encoded
    assert len(base64.b64encode(b'x' * outgoing.INLINE_REQUEST_BUDGET)) < 4 * 1024 * 1024


# ------------------------------------------------------------------ messages

def test_message_has_subject_html_body_and_every_recipient_list():
    message = outgoing.message('Hello', '<p>Hi</p>', to=[('Ann', 'ann@example.com')], cc=[('', 'cc@example.com')],
                               bcc=[('Hidden', 'bcc@example.com')])
    assert message == {
        'subject': 'Hello',
        'body': {'contentType': 'html', 'content': '<p>Hi</p>'},
        'toRecipients': [{'emailAddress': {'address': 'ann@example.com', 'name': 'Ann'}}],
        'ccRecipients': [{'emailAddress': {'address': 'cc@example.com'}}],
        'bccRecipients': [{'emailAddress': {'address': 'bcc@example.com', 'name': 'Hidden'}}],
    }


def test_message_empty_values_still_clear_a_draft():
    # a PATCH of a draft must send empty lists and an empty subject / body: they replace Outlook's values
    assert outgoing.message(None, None) == {
        'subject': '', 'body': {'contentType': 'html', 'content': ''},
        'toRecipients': [], 'ccRecipients': [], 'bccRecipients': []}


def test_message_sender_name_message_id_and_attachments():
    message = outgoing.message('S', '<p>b</p>', to=[('', 'to@example.com')],
                               sender=('Megan Sender', 'megan@example.com'),
                               internet_message_id='<abc@example.com>',
                               attachments=[('note.txt', 'text/plain', b'small note')])
    assert message['from'] == {'emailAddress': {'address': 'megan@example.com', 'name': 'Megan Sender'}}
    assert message['internetMessageId'] == '<abc@example.com>'
    [attachment] = message['attachments']
    assert attachment['name'] == 'note.txt' and base64.b64decode(attachment['contentBytes']) == b'small note'
    json.dumps(message)  # what the client sends


def test_message_leaves_out_what_is_not_given():
    message = outgoing.message('S', '<p>b</p>')
    assert not {'from', 'internetMessageId', 'attachments'} & set(message)
    assert outgoing.message('S', '<p>b</p>', attachments=[])['attachments'] == []


# ------------------------------------------------------------------ request bodies

def test_send_mail_body():
    message = outgoing.message('S', '<p>b</p>')
    assert outgoing.send_mail(message) == {'message': message}
    assert outgoing.send_mail(message, save_to_sent=False) == {'message': message, 'saveToSentItems': False}


def test_reply_body_has_only_what_is_given():
    message = {'toRecipients': [outgoing.recipient('', 'f@example.com')]}
    assert outgoing.reply() == {}
    assert outgoing.reply(comment='Thanks!') == {'comment': 'Thanks!'}
    assert outgoing.reply(message_json=message) == {'message': message}
    assert outgoing.reply('FYI', message) == {'comment': 'FYI', 'message': message}
    assert outgoing.reply(comment='') == {'comment': ''}


def test_move_body():
    assert outgoing.move('archive') == {'destinationId': 'archive'}
    assert outgoing.move('AAMkAGI2=') == {'destinationId': 'AAMkAGI2='}


def test_message_patch_only_the_given_properties():
    assert outgoing.message_patch() == {}
    assert outgoing.message_patch(is_read=True) == {'isRead': True}
    assert outgoing.message_patch(is_read=0) == {'isRead': False}
    assert outgoing.message_patch(flag_status='flagged') == {'flag': {'flagStatus': 'flagged'}}
    assert outgoing.message_patch(categories=[' Blue ', '', 'Red']) == {'categories': ['Blue', 'Red']}
    assert outgoing.message_patch(categories=[]) == {'categories': []}
    with pytest.raises(ValueError):
        outgoing.message_patch(flag_status='maybe')


def test_outgoing_never_imports_odoo():
    code = 'import sys; import graph.outgoing, graph.client; print("odoo" in sys.modules)'
    result = subprocess.run([sys.executable, '-c', code], cwd=ADDON_ROOT, capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == 'False'
