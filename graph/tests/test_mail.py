"""mail.py: Graph JSON -> plain values; hostile payloads are normalized, unstorable items rejected."""
import datetime
import json

import pytest

from graph import mail
from graph.mail import MalformedItem, body_values, cid_map, folder_values, is_removed, message_values


def recipient(address, name=None):
    email = {'address': address}
    if name is not None:
        email['name'] = name
    return {'emailAddress': email}


FULL_MESSAGE = {
    '@odata.type': '#microsoft.graph.message',
    '@odata.etag': 'W/"CQAAABYAAAAR"',
    'id': 'AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A',
    'internetMessageId': '<abc@example.com>',
    'conversationId': 'AAQkAGI2',
    'subject': 'Quarterly report',
    'from': recipient('Alice@Example.com', 'Alice Liddell'),
    'sender': recipient('assistant@example.com', 'Assistant'),
    'toRecipients': [recipient('Bob@Example.com', 'Bob'), recipient('carol@example.com')],
    'ccRecipients': [recipient('dave@example.com', 'Smith, Dave')],
    'bccRecipients': [recipient('BOB@example.com', 'Bob again')],
    'replyTo': [recipient('reply@example.com', 'Replies')],
    'receivedDateTime': '2024-03-01T10:00:00Z',
    'sentDateTime': '2024-03-01T11:59:58+02:00',
    'lastModifiedDateTime': '2024-03-02T08:30:00.1234567Z',
    'bodyPreview': 'Hello team',
    'importance': 'High',
    'isRead': True,
    'isDraft': False,
    'flag': {'flagStatus': 'flagged'},
    'categories': ['Red category', 'Blue'],
    'hasAttachments': True,
    'parentFolderId': 'AQMkADYAAAIBDAAAAA==',
    'changeKey': 'CQAAABYAAAAR',
}


def test_message_values_full():
    values = message_values(FULL_MESSAGE)
    assert values['graph_id'] == FULL_MESSAGE['id']
    assert values['internet_message_id'] == '<abc@example.com>'
    assert values['conversation_id'] == 'AAQkAGI2'
    assert values['subject'] == 'Quarterly report'
    assert (values['from_address'], values['from_name']) == ('Alice@Example.com', 'Alice Liddell')
    assert (values['sender_address'], values['sender_name']) == ('assistant@example.com', 'Assistant')
    assert values['to_recipients'] == 'Bob <Bob@Example.com>, carol@example.com'
    assert values['cc_recipients'] == '"Smith, Dave" <dave@example.com>'
    assert values['bcc_recipients'] == 'Bob again <BOB@example.com>'
    assert values['reply_to'] == 'Replies <reply@example.com>'
    assert values['recipient_addresses'] == ['bob@example.com', 'carol@example.com', 'dave@example.com']
    assert values['received_at'] == datetime.datetime(2024, 3, 1, 10, 0, 0)
    assert values['sent_at'] == datetime.datetime(2024, 3, 1, 9, 59, 58)
    assert values['modified_at'].tzinfo is None
    assert values['modified_at'].replace(microsecond=0) == datetime.datetime(2024, 3, 2, 8, 30, 0)
    assert values['body_preview'] == 'Hello team'
    assert values['importance'] == 'high'
    assert values['is_read'] is True and values['is_draft'] is False and values['has_attachments'] is True
    assert values['flag_status'] == 'flagged'
    assert values['categories'] == ['Red category', 'Blue']
    assert values['parent_folder_id'] == 'AQMkADYAAAIBDAAAAA=='
    assert values['change_key'] == 'CQAAABYAAAAR'


EXPECTED_KEYS = {
    'graph_id', 'internet_message_id', 'conversation_id', 'subject', 'from_address', 'from_name', 'sender_address',
    'sender_name', 'to_recipients', 'cc_recipients', 'bcc_recipients', 'reply_to', 'recipient_addresses',
    'received_at', 'sent_at', 'modified_at', 'body_preview', 'importance', 'is_read', 'is_draft', 'flag_status',
    'categories', 'has_attachments', 'parent_folder_id', 'change_key', 'present', 'complete',
}


def test_minimal_item_gets_defaults():
    values = message_values({'id': 'X1'})
    assert set(values) == EXPECTED_KEYS
    assert values['subject'] == '' and values['from_address'] == '' and values['to_recipients'] == ''
    assert values['recipient_addresses'] == [] and values['categories'] == []
    assert values['received_at'] is None
    assert values['importance'] == 'normal' and values['flag_status'] == 'notFlagged'
    assert values['is_read'] is False and values['has_attachments'] is False


def test_result_is_json_friendly_apart_from_datetimes():
    values = message_values(FULL_MESSAGE)
    json.dumps({k: v for k, v in values.items() if not isinstance(v, datetime.datetime)})


@pytest.mark.parametrize('item, reason', [
    (None, 'not a JSON object'), ([], 'not a JSON object'), ('id', 'not a JSON object'),
    ({}, 'no id'), ({'id': None}, 'no id'), ({'id': 42}, 'no id'), ({'id': ''}, 'no id'), ({'id': '   '}, 'no id'),
    ({'id': ['a']}, 'no id'), ({'id': 'a\x00b'}, 'not a valid'), ({'id': 'x' * 5000}, 'not a valid'),
    ({'id': '\ud800abc'}, 'UTF-8'),
    ({'id': 'C1', '@odata.type': '#microsoft.graph.contact'}, 'not a message'),
    ({'id': 'C1', '@odata.type': 7}, 'not a message'),
    ({'id': 'R1', '@removed': {'reason': 'deleted'}}, 'removal marker'),
])
def test_malformed_items(item, reason):
    with pytest.raises(MalformedItem) as caught:
        message_values(item)
    assert reason in caught.value.reason
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize('odata_type', ['#microsoft.graph.eventMessage', '#microsoft.graph.eventMessageRequest',
                                        '#Microsoft.Graph.Message', '#microsoft.graph.eventMessageResponse'])
def test_message_subtypes_accepted(odata_type):
    assert message_values({'id': 'E1', '@odata.type': odata_type})['graph_id'] == 'E1'


@pytest.mark.parametrize('field, hostile', [
    ('subject', 42), ('subject', ['a']), ('subject', {'x': 1}), ('from', 'alice@example.com'), ('from', []),
    ('from', {'emailAddress': 'x'}), ('from', {'emailAddress': {'address': 5, 'name': None}}),
    ('toRecipients', 'bob@example.com'), ('toRecipients', [None, 3, 'x', {'emailAddress': None}]),
    ('receivedDateTime', 'not a date'), ('receivedDateTime', 12345), ('receivedDateTime', '9999-99-99'),
    ('receivedDateTime', '2024-13-45T99:99:99Z'),
    pytest.param('receivedDateTime', '1' * 5000, id='receivedDateTime-huge'),
    ('importance', 'urgent'), ('importance', None), ('isRead', 'true'), ('isRead', 1),
    ('flag', 'flagged'), ('flag', {'flagStatus': 3}), ('flag', {'flagStatus': 'weird'}),
    ('categories', 'Red'), ('categories', [1, None, {'a': 1}]), ('hasAttachments', 'yes'),
    ('parentFolderId', 9), ('changeKey', False), ('bodyPreview', None),
])
def test_wrong_types_are_normalized(field, hostile):
    values = message_values({'id': 'H1', field: hostile})
    assert values['graph_id'] == 'H1'
    for value in values.values():
        assert value is None or isinstance(value, (str, bool, list, datetime.datetime))


def test_wrong_types_give_defaults():
    values = message_values({'id': 'H1', 'isRead': 'true', 'importance': 'urgent', 'flag': {'flagStatus': 'x'},
                             'receivedDateTime': 'yesterday', 'categories': 'Red', 'subject': 5})
    assert values['is_read'] is True, 'the string form of a boolean some Microsoft samples show'
    assert values['importance'] == 'normal'
    assert values['flag_status'] == 'notFlagged' and values['received_at'] is None
    assert values['categories'] == [] and values['subject'] == ''


@pytest.mark.parametrize('raw, expected', [
    ('notflagged', 'notFlagged'), ('NotFlagged', 'notFlagged'), ('Complete', 'complete'), ('FLAGGED', 'flagged'),
])
def test_flag_status_case_insensitive(raw, expected):
    assert message_values({'id': 'F', 'flag': {'flagStatus': raw}})['flag_status'] == expected


def test_nul_bytes_and_surrogates_are_cleaned():
    item = json.loads('{"id": "S1", "subject": "a\\u0000b\\ud800c", "bodyPreview": "\\udfff",'
                      ' "from": {"emailAddress": {"name": "N\\u0000am\\ud83d", "address": "x@y.z"}}}')
    values = message_values(item)
    for text in (values['subject'], values['body_preview'], values['from_name']):
        assert '\x00' not in text
        text.encode('utf-8')  # PostgreSQL-safe
    assert values['subject'].startswith('ab') and values['subject'].endswith('c')


def test_valid_astral_characters_survive():
    item = json.loads('{"id": "S2", "subject": "Party \\ud83c\\udf89"}')
    assert message_values(item)['subject'] == 'Party \U0001F389'


def test_huge_strings_are_truncated():
    values = message_values({'id': 'BIG', 'subject': 'S' * 100000, 'bodyPreview': 'P' * 100000,
                             'from': recipient('a' * 10000 + '@x.com', 'N' * 10000)})
    assert len(values['subject']) <= mail.MAX_SUBJECT_LENGTH
    assert len(values['body_preview']) <= mail.MAX_PREVIEW_LENGTH
    assert len(values['from_address']) <= mail.MAX_ADDRESS_LENGTH
    assert len(values['from_name']) <= mail.MAX_NAME_LENGTH


def test_huge_recipient_lists_are_bounded():
    many = [recipient('user%d@example.com' % i, 'User %d' % i) for i in range(5000)]
    values = message_values({'id': 'M', 'toRecipients': many, 'ccRecipients': many})
    assert len(values['to_recipients']) <= mail.MAX_RECIPIENT_LIST_LENGTH
    assert len(values['recipient_addresses']) == mail.MAX_RECIPIENTS  # cc repeats the same addresses


def test_recipient_display_forms():
    assert mail.format_recipients([recipient('a@x.com', 'a@x.com')]) == 'a@x.com'
    assert mail.format_recipients([recipient('', 'Only Name')]) == 'Only Name'
    assert mail.format_recipients([recipient('a@x.com', '  Spaced \n Name ')]) == 'Spaced Name <a@x.com>'
    assert mail.format_recipients([recipient('q@x.com', 'He said "hi"')]) == '"He said \\"hi\\"" <q@x.com>'
    assert mail.format_recipients(None) == ''


def test_dates_are_naive_utc():
    assert mail.parse_datetime('2024-01-01T00:30:00-05:00') == datetime.datetime(2024, 1, 1, 5, 30)
    assert mail.parse_datetime('2024-01-01T00:30:00') == datetime.datetime(2024, 1, 1, 0, 30)
    assert mail.parse_datetime('0001-01-01T00:00:00+01:00') is None  # would underflow the year
    assert mail.parse_datetime('') is None and mail.parse_datetime(None) is None


def test_categories_dedupe_and_cap():
    values = message_values({'id': 'C', 'categories': ['A', 'A', ' B ', ''] + ['c%d' % i for i in range(200)]})
    assert values['categories'][:2] == ['A', 'B']
    assert len(values['categories']) == mail.MAX_CATEGORIES


def test_is_removed():
    assert is_removed({'id': 'x', '@removed': {'reason': 'deleted'}})
    assert is_removed({'id': 'x', '@removed': None})
    assert not is_removed({'id': 'x'}) and not is_removed(None) and not is_removed(['@removed'])


def test_message_select_has_no_body_and_needed_fields():
    assert 'body' not in mail.MESSAGE_SELECT and 'uniqueBody' not in mail.MESSAGE_SELECT
    for field in ('id', 'internetMessageId', 'parentFolderId', 'changeKey', 'lastModifiedDateTime', 'flag'):
        assert field in mail.MESSAGE_SELECT
    assert len(set(mail.MESSAGE_SELECT)) == len(mail.MESSAGE_SELECT)


FOLDER = {'id': 'AQMkADYAAAIBXQAAAA==', 'displayName': 'Archive', 'parentFolderId': 'ROOT',
          'childFolderCount': 2, 'unreadItemCount': 3, 'totalItemCount': 10, 'isHidden': False}


def test_folder_values():
    values = folder_values(FOLDER, {'AQMkADYAAAIBXQAAAA==': 'archive'})
    assert values == {'graph_id': 'AQMkADYAAAIBXQAAAA==', 'name': 'Archive', 'parent_graph_id': 'ROOT',
                      'role': 'archive', 'total_count': 10, 'unread_count': 3, 'child_count': 2,
                      'is_hidden': False}


def test_folder_values_hostile():
    values = folder_values({'id': 'F', 'displayName': None, 'totalItemCount': True, 'unreadItemCount': -4,
                            'childFolderCount': '3', 'isHidden': 'yes', 'parentFolderId': 7})
    assert values['name'] == 'F' and values['role'] is False
    assert (values['total_count'], values['unread_count'], values['child_count']) == (0, 0, 0)
    assert values['is_hidden'] is False and values['parent_graph_id'] == ''
    assert folder_values({'id': 'G', 'totalItemCount': 10 ** 20})['total_count'] == 2 ** 31 - 1
    with pytest.raises(MalformedItem):
        folder_values({'displayName': 'no id'})


def test_body_values_html_and_text():
    assert body_values({'body': {'contentType': 'html', 'content': '<p>Hi</p>'}}) == {
        'body_html': '<p>Hi</p>', 'content_type': 'html'}
    text = body_values({'body': {'contentType': 'Text', 'content': 'a < b & c\r\nline 2'}})
    assert text == {'body_html': 'a &lt; b &amp; c<br>\nline 2', 'content_type': 'text'}
    assert body_values({'body': 'oops'}) == {'body_html': '', 'content_type': 'html'}
    assert body_values(None)['body_html'] == ''
    assert '\x00' not in body_values({'body': {'content': 'x\x00y'}})['body_html']


def test_cid_map():
    attachments = [
        {'id': 'A1', 'isInline': True, 'contentId': '<image001.png@01D>'},
        {'id': 'A2', 'isInline': True, 'contentId': 'logo'},
        {'id': 'A3', 'isInline': False, 'contentId': 'not-inline'},
        {'id': 'A4', 'isInline': True},
        {'id': None, 'isInline': True, 'contentId': 'noid'},
        'junk',
    ]
    assert cid_map(attachments) == {'image001.png@01D': 'A1', 'logo': 'A2'}
    assert cid_map(None) == {}


def test_delta_values_keeps_the_newest_mention_and_counts_the_unusable():
    """One pass over a page: later mentions win unless older, removals by usable id, malformed items counted."""
    new = dict(FULL_MESSAGE, id='AAMkA1', lastModifiedDateTime='2024-05-02T10:00:00Z', isRead=True)
    old = dict(new, lastModifiedDateTime='2024-05-01T10:00:00Z', isRead=False)
    other = dict(FULL_MESSAGE, id='AAMkA2')
    delta = mail.delta_values([new, old, other, {'id': 'AAMkA2', '@removed': {'reason': 'deleted'}},
                               {'id': 'bad\x00id', '@removed': {}}, None, {'id': ''}])
    assert list(delta.entries) == ['AAMkA1', 'AAMkA2']
    assert delta.entries['AAMkA1']['is_read'] is True, 'an older duplicate never overwrites the newer one'
    assert delta.entries['AAMkA2'] is None, 'a later @removed wins'
    assert delta.skipped == 2 and delta.skip_reason
    assert mail.delta_values(None) == mail.Delta({}, 0, '')
