"""Graph mail JSON -> plain Python values for Odoo. Pure functions: no I/O, no Odoo.

Graph payloads are treated as untrusted input. Items that cannot be stored (no usable id, not a message)
raise :class:`MalformedItem` so the caller can skip them; every other oddity (wrong types, bad dates, huge or
invalid strings) is normalized to a safe default so one odd message never stops a mailbox from syncing.
"""
import collections
import datetime
import functools
import html
import re
import zoneinfo

from dateutil import parser as date_parser

from . import collector

# The metadata sync needs: everything shown in lists and used for threading, never the body (bodies are fetched
# lazily when a message is opened, which keeps delta pages small).
MESSAGE_SELECT = (
    'id', 'internetMessageId', 'conversationId', 'subject', 'from', 'sender',
    'toRecipients', 'ccRecipients', 'bccRecipients', 'replyTo',
    'receivedDateTime', 'sentDateTime', 'bodyPreview', 'importance', 'isRead', 'isDraft', 'flag',
    'categories', 'hasAttachments', 'parentFolderId', 'lastModifiedDateTime', 'changeKey',
)

MESSAGE_TYPES = frozenset({
    '#microsoft.graph.message', '#microsoft.graph.eventmessage', '#microsoft.graph.eventmessagerequest',
    '#microsoft.graph.eventmessageresponse', '#microsoft.graph.calendarsharingmessage',
})
IMPORTANCES = ('low', 'normal', 'high')
FLAG_STATUSES = {'notflagged': 'notFlagged', 'flagged': 'flagged', 'complete': 'complete'}

# Limits keep one hostile message from bloating a row; Graph's own values are far below them.
MAX_ID_LENGTH = 1024
MAX_SUBJECT_LENGTH = 1000
MAX_NAME_LENGTH = 256
MAX_ADDRESS_LENGTH = 320  # RFC 5321: 64 local + @ + 255 domain
MAX_RECIPIENT_LIST_LENGTH = 4000
MAX_RECIPIENTS = 500  # Exchange's own cap on to + cc + bcc
MAX_PREVIEW_LENGTH = 1000
MAX_CATEGORIES = 50
MAX_CATEGORY_LENGTH = 255
MAX_BODY_LENGTH = 20 * 1024 * 1024


class MalformedItem(ValueError):
    """A Graph item that cannot be stored; ``reason`` says why (no content from the item itself)."""

    def __init__(self, reason):
        self.reason = reason
        super().__init__(reason)


def is_removed(item):
    """True for a delta ``@removed`` marker: the item left this folder (deleted *or* moved elsewhere)."""
    return isinstance(item, dict) and '@removed' in item


def usable_id(item):
    """The item's Graph id (also of an ``@removed`` marker) when usable -- a str, no NUL or lone surrogate, at most
    :data:`MAX_ID_LENGTH` UTF-8 bytes --, else None (such an item cannot be stored nor looked up)."""
    try:
        return _checked_id(item, allow_removed=True)
    except MalformedItem:
        return None


# The values each selected Graph property maps to. A delta item carries "at least" the changed properties (an
# updated message may come back as just id, isRead and parentFolderId -- graph-api.md §1.6, learn.microsoft.com/
# graph/delta-query-overview "the response ... includes at least the changed properties"): only what an item
# carries may be stored from it.
PROPERTY_VALUES = {
    'internetMessageId': ('internet_message_id',), 'conversationId': ('conversation_id',), 'subject': ('subject',),
    'from': ('from_address', 'from_name'), 'sender': ('sender_address', 'sender_name'),
    'toRecipients': ('to_recipients',), 'ccRecipients': ('cc_recipients',), 'bccRecipients': ('bcc_recipients',),
    'replyTo': ('reply_to',), 'receivedDateTime': ('received_at',), 'sentDateTime': ('sent_at',),
    'lastModifiedDateTime': ('modified_at',), 'bodyPreview': ('body_preview',), 'importance': ('importance',),
    'isRead': ('is_read',), 'isDraft': ('is_draft',), 'flag': ('flag_status',), 'categories': ('categories',),
    'hasAttachments': ('has_attachments',), 'parentFolderId': ('parent_folder_id',), 'changeKey': ('change_key',),
}


ALL_PRESENT = tuple(sorted(value for names in PROPERTY_VALUES.values() for value in names))


def message_values(item):
    """Plain values of one Graph message (delta item or GET result) for storage.

    ``present`` lists the values the item really carries (a property missing from a sparse delta item leaves its
    default here, which must never overwrite a stored value); ``complete`` says every property sync selects is
    there, so the item can become a new row.

    :raises MalformedItem: not a dict, no usable id, a removal marker, or not a message type
    """
    graph_id = _checked_id(item)
    _check_message_type(item)
    sender = _email_address(item.get('sender'))
    author = _email_address(item.get('from'))
    values = {
        'graph_id': graph_id,
        'internet_message_id': clean_identifier(item.get('internetMessageId')),
        'conversation_id': clean_identifier(item.get('conversationId')),
        'subject': clean_text(item.get('subject'), MAX_SUBJECT_LENGTH),
        'from_address': author[1],
        'from_name': author[0],
        'sender_address': sender[1],
        'sender_name': sender[0],
        'received_at': parse_datetime(item.get('receivedDateTime')),
        'sent_at': parse_datetime(item.get('sentDateTime')),
        'modified_at': parse_datetime(item.get('lastModifiedDateTime')),
        'body_preview': clean_text(item.get('bodyPreview'), MAX_PREVIEW_LENGTH),
        'importance': _importance(item.get('importance')),
        'is_read': _boolean(item.get('isRead')),
        'is_draft': _boolean(item.get('isDraft')),
        'flag_status': _flag_status(item.get('flag')),
        'categories': _categories(item.get('categories')),
        'has_attachments': _boolean(item.get('hasAttachments')),
        'parent_folder_id': clean_text(item.get('parentFolderId'), MAX_ID_LENGTH),
        'change_key': clean_text(item.get('changeKey'), MAX_ID_LENGTH),
    }
    values.update(_recipient_values(item))
    complete = PROPERTY_VALUES.keys() <= item.keys()
    values['present'] = list(ALL_PRESENT) if complete else sorted(
        value for prop, names in PROPERTY_VALUES.items() if prop in item for value in names)
    values['complete'] = complete
    return values


Delta = collections.namedtuple('Delta', 'entries skipped skip_reason')
Delta.__doc__ = """A delta page's items as values: ``entries`` ``{graph_id: message values, or None for @removed}``
in page order (the last mention of an id wins, an older duplicate never overwrites a newer one); ``skipped`` items
could not be stored, the last ``skip_reason`` says why."""


def delta_values(items):
    """Map the items of one delta page (raw Graph dicts) for storage: one pass, nothing raised.

    Delta items have no change type and may repeat within a page: a later mention of an id replaces an earlier
    one, unless it is an older version of it (``lastModifiedDateTime``). A removal marker with an unusable id is
    ignored (it could not be looked up).
    """
    with collector.paused():  # 1,000 new dicts, none of them garbage (graph.collector)
        return _delta_values(items or ())


def _delta_values(items):
    entries, skipped, reason = {}, 0, ''
    for item in items:
        if is_removed(item):
            graph_id = usable_id(item)
            if graph_id:
                entries.pop(graph_id, None)
                entries[graph_id] = None
            continue
        try:
            values = message_values(item)
        except MalformedItem as exc:
            skipped, reason = skipped + 1, exc.reason
            continue
        previous = entries.get(values['graph_id'])
        if previous and is_older(values, previous):
            continue
        entries.pop(values['graph_id'], None)
        entries[values['graph_id']] = values
    return Delta(entries, skipped, reason)


def is_older(values, other):
    """True when message values ``values`` are an older version than ``other`` (both have modified_at)."""
    return bool(values['modified_at'] and other['modified_at'] and values['modified_at'] < other['modified_at'])


def folder_values(item, roles_by_id=None):
    """Plain values of one Graph mailFolder.

    :param dict roles_by_id: Graph folder id -> well-known role ('inbox', 'sentitems', ...), from
        ``GraphClient.well_known_folder_ids()`` inverted; v1.0 folders carry no role of their own.
    :raises MalformedItem: not a dict or no usable id
    """
    graph_id = _checked_id(item, allow_removed=False)
    roles_by_id = roles_by_id or {}
    return {
        'graph_id': graph_id,
        'name': clean_text(item.get('displayName'), MAX_NAME_LENGTH) or graph_id[:MAX_NAME_LENGTH],
        'parent_graph_id': clean_text(item.get('parentFolderId'), MAX_ID_LENGTH),
        'role': roles_by_id.get(graph_id) or False,
        'total_count': _count(item.get('totalItemCount')),
        'unread_count': _count(item.get('unreadItemCount')),
        'child_count': _count(item.get('childFolderCount')),
        'is_hidden': _boolean(item.get('isHidden')),
    }


def body_values(message):
    """The body of a message fetched with ``body`` selected, always as HTML (not sanitized here).

    :return: ``{'body_html': str, 'content_type': 'html'|'text'}``; plain text is escaped and line breaks kept
    """
    body = message.get('body') if isinstance(message, dict) else None
    body = body if isinstance(body, dict) else {}
    content = clean_text(body.get('content'), MAX_BODY_LENGTH)
    content_type = 'text' if str(body.get('contentType') or '').lower() == 'text' else 'html'
    if content_type == 'text':
        content = html.escape(content).replace('\r\n', '\n').replace('\n', '<br>\n')
    return {'body_html': content, 'content_type': content_type}


def cid_map(attachments):
    """``{content_id: attachment_id}`` for inline attachments, to rewrite ``<img src="cid:...">`` in bodies.

    Content-IDs are given with or without angle brackets; both spellings map to the same attachment.
    """
    mapping = {}
    for attachment in attachments or ():
        if not isinstance(attachment, dict) or not attachment.get('isInline'):
            continue
        content_id = clean_text(attachment.get('contentId'), MAX_ID_LENGTH).strip().strip('<>').strip()
        attachment_id = attachment.get('id')
        if content_id and isinstance(attachment_id, str) and attachment_id:
            mapping[content_id] = attachment_id
    return mapping


def clean_text(value, limit):
    """A str safe for PostgreSQL: non-strings -> '', lone surrogates replaced, NUL stripped, length capped."""
    if not isinstance(value, str):
        return ''
    if value.isascii() and '\x00' not in value:  # the common case: nothing to repair (sync's hot path)
        return value if len(value) <= limit else value[:limit - 1] + '…'
    # A JSON "\ud800" escape decodes to a lone surrogate that PostgreSQL (UTF-8) cannot store.
    text = value.encode('utf-8', 'surrogatepass').decode('utf-8', 'replace')
    text = text.replace('\x00', '')
    return text if len(text) <= limit else text[:limit - 1] + '…'


def clean_identifier(value):
    """:func:`clean_text` for values PostgreSQL indexes (Message-ID, conversation id): at most
    :data:`MAX_ID_LENGTH` UTF-8 *bytes*, since a btree index entry holds ~2,700 bytes and 1,024 characters of
    CJK or emoji would not fit (the insert would fail on every retry and block the folder)."""
    text = clean_text(value, MAX_ID_LENGTH)
    encoded = text.encode('utf-8')
    return encoded[:MAX_ID_LENGTH].decode('utf-8', 'ignore') if len(encoded) > MAX_ID_LENGTH else text


def parse_datetime(value):
    """Naive UTC datetime (what Odoo stores) from a Graph ISO 8601 string; None when absent or unreadable."""
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        return None
    try:
        # Graph's own form ("2014-01-01T00:00:00Z") parses with the stdlib on 3.11+, several times faster
        # than dateutil on sync's hot path; dateutil covers every other ISO 8601 variant.
        moment = datetime.datetime.fromisoformat(value.strip())
    except ValueError:
        try:
            moment = date_parser.isoparse(value.strip())
        except (ValueError, OverflowError, TypeError):
            return None
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(datetime.timezone.utc)
        except (OverflowError, ValueError):
            return None
    return moment.replace(tzinfo=None)


def format_recipients(recipients):
    """``"Name <addr>, addr2"`` for display, at most :data:`MAX_RECIPIENTS` entries and a bounded length."""
    entries = [_display_address(name, address) for name, address in _recipients(recipients)]
    text = ', '.join(entry for entry in entries if entry)
    return text if len(text) <= MAX_RECIPIENT_LIST_LENGTH else text[:MAX_RECIPIENT_LIST_LENGTH - 1] + '…'


def _recipient_values(item):
    to, cc, bcc = (item.get(key) for key in ('toRecipients', 'ccRecipients', 'bccRecipients'))
    addresses = []
    for recipients in (to, cc, bcc):
        for _name, address in _recipients(recipients):
            address = address.lower()
            if address and address not in addresses:
                addresses.append(address)
    return {
        'to_recipients': format_recipients(to),
        'cc_recipients': format_recipients(cc),
        'bcc_recipients': format_recipients(bcc),
        'reply_to': format_recipients(item.get('replyTo')),
        'recipient_addresses': addresses,
    }


def _recipients(recipients):
    """(name, address) pairs from a Graph recipient collection, skipping entries with neither."""
    if not isinstance(recipients, list):
        return []
    pairs = []
    for recipient in recipients[:MAX_RECIPIENTS]:
        name, address = _email_address(recipient)
        if name or address:
            pairs.append((name, address))
    return pairs


def _email_address(recipient):
    """(name, address) of a Graph ``recipient`` (``{"emailAddress": {"name", "address"}}``); ('', '') if absent."""
    email = recipient.get('emailAddress') if isinstance(recipient, dict) else None
    if not isinstance(email, dict):
        return '', ''
    name, address = email.get('name'), email.get('address')
    if isinstance(name, str) and isinstance(address, str) and len(name) + len(address) <= 2 * MAX_NAME_LENGTH:
        return _clean_pair(name, address)  # a page names the same few people again and again
    return _clean_name(name), clean_text(address, MAX_ADDRESS_LENGTH).strip()


@functools.lru_cache(maxsize=4096)
def _clean_pair(name, address):
    return _clean_name(name), clean_text(address, MAX_ADDRESS_LENGTH).strip()


def _clean_name(name):
    return ' '.join(clean_text(name, MAX_NAME_LENGTH).split())


@functools.lru_cache(maxsize=4096)
def _display_address(name, address):
    if name and address and name.lower() != address.lower():
        # Quote names that would otherwise read as several addresses.
        if any(char in name for char in ',;<>"'):
            name = '"%s"' % name.replace('\\', '\\\\').replace('"', '\\"')
        return '%s <%s>' % (name, address)
    return address or name


def _checked_id(item, allow_removed=False):
    if not isinstance(item, dict):
        raise MalformedItem('item is not a JSON object')
    if is_removed(item) and not allow_removed:
        raise MalformedItem('item is a removal marker; check is_removed() first')
    graph_id = item.get('id')
    if not isinstance(graph_id, str) or not graph_id.strip():
        raise MalformedItem('item has no id')
    if len(graph_id) > MAX_ID_LENGTH or '\x00' in graph_id or graph_id != graph_id.strip():
        raise MalformedItem('item id is not a valid Graph id')
    try:
        encoded = graph_id.encode('utf-8')
    except UnicodeEncodeError:
        raise MalformedItem('item id is not valid UTF-8') from None
    if len(encoded) > MAX_ID_LENGTH:  # indexed (unique): a btree entry holds ~2,700 bytes
        raise MalformedItem('item id is not a valid Graph id')
    return graph_id


def _check_message_type(item):
    odata_type = item.get('@odata.type')
    if odata_type is None:
        return  # $select responses usually omit it
    if not isinstance(odata_type, str) or odata_type.lower() not in MESSAGE_TYPES:
        raise MalformedItem('item is not a message')


def _importance(value):
    value = value.lower() if isinstance(value, str) else ''
    return value if value in IMPORTANCES else 'normal'


def _flag_status(flag):
    status = flag.get('flagStatus') if isinstance(flag, dict) else None
    return FLAG_STATUSES.get(status.lower(), 'notFlagged') if isinstance(status, str) else 'notFlagged'


def _categories(categories):
    if not isinstance(categories, list):
        return []
    names = []
    for category in categories:
        name = clean_text(category, MAX_CATEGORY_LENGTH).strip()
        if name and name not in names:
            names.append(name)
        if len(names) >= MAX_CATEGORIES:
            break
    return names


def _boolean(value):
    # JSON true, and the string forms some of Microsoft's own samples show ("true" / "True")
    return value is True or (isinstance(value, str) and value.strip().lower() == 'true')


def _count(value):
    # bool is an int subclass; True is not a count.
    if isinstance(value, bool) or not isinstance(value, int):
        return 0
    return max(0, min(value, 2 ** 31 - 1))


# -- what the reading pane shows besides the body: attachments of every kind, meeting mail ----------------------------

# Attachment kinds (v1.0 resources/attachment): a file, an attached Outlook item (its $value is the item's MIME,
# learn.microsoft.com/graph/outlook-get-mime-message), a link to a cloud file (no bytes; v1.0 gives it no sourceUrl,
# only beta does -- resources/referenceattachment).
ATTACHMENT_KINDS = {'#microsoft.graph.fileattachment': 'file', '#microsoft.graph.itemattachment': 'item',
                    '#microsoft.graph.referenceattachment': 'reference'}
MAX_URL_LENGTH = 2048
LINK_URL = re.compile(r'^https?://[^\s/?#\\]+', re.I)


def attachment_kind(meta):
    """'file', 'item' or 'reference' for a Graph attachment with a usable id, else None (an unknown type is
    never downloaded). Without ``@odata.type`` it is a file, the base type's only form that carries bytes."""
    if not isinstance(meta, dict) or not isinstance(meta.get('id'), str) or not meta['id']:
        return None
    odata_type = meta.get('@odata.type', '#microsoft.graph.fileAttachment')
    return ATTACHMENT_KINDS.get(odata_type.lower()) if isinstance(odata_type, str) else None


def link_url(value):
    """An http(s) URL safe to put in a link's ``href``, else '' (``javascript:``, ``data:``, relative, no host,
    spaces or control characters, or longer than :data:`MAX_URL_LENGTH`)."""
    if not isinstance(value, str):
        return ''
    url = value.strip()
    if len(url) > MAX_URL_LENGTH or any(ord(char) < 0x21 or char in '"<>`' for char in url):
        return ''
    return url if LINK_URL.match(url) else ''


# Meeting mail (v1.0 resources/eventmessage, eventmessagerequest, eventmessageresponse): properties of the derived
# types, selected with a type cast ($select=meetingMessageType alone is a 400 on microsoft.graph.message:
# microsoft-graph-docs issue 2018). Graph returns the times in UTC unless a Prefer: outlook.timezone asks otherwise.
MEETING_SELECT = tuple('microsoft.graph.eventMessage/%s' % name for name in (
    'meetingMessageType', 'startDateTime', 'endDateTime', 'location', 'isAllDay')) + (
    'microsoft.graph.eventMessageResponse/responseType',)
# meetingMessageType values; Graph's own enum spells one of them "meetingTenativelyAccepted"
MEETING_TYPES = {'meetingrequest': 'meetingRequest', 'meetingcancelled': 'meetingCancelled',
                 'meetingaccepted': 'meetingAccepted', 'meetingtenativelyaccepted': 'meetingTentativelyAccepted',
                 'meetingtentativelyaccepted': 'meetingTentativelyAccepted', 'meetingdeclined': 'meetingDeclined'}
RESPONSE_MEETING_TYPES = {'accepted': 'meetingAccepted', 'tentativelyaccepted': 'meetingTentativelyAccepted',
                          'declined': 'meetingDeclined'}
UTC_ZONES = frozenset({'utc', 'etc/utc', 'gmt', 'z', 'coordinated universal time', 'tzone://microsoft/utc'})
MAX_LOCATION_LENGTH = 255


def meeting_values(item):
    """The meeting summary of a message fetched with :data:`MEETING_SELECT`: ``{}`` for an ordinary message, else
    ``meeting_type`` (a :data:`MEETING_TYPES` value, or 'other'), ``meeting_start`` / ``meeting_end`` (naive UTC or
    None), ``meeting_all_day``, ``meeting_location``."""
    odata_type = item.get('@odata.type') if isinstance(item, dict) else None
    if not isinstance(odata_type, str) or not odata_type.lower().startswith('#microsoft.graph.eventmessage'):
        return {}
    kind = item.get('meetingMessageType')
    response = item.get('responseType')
    meeting_type = (MEETING_TYPES.get(kind.lower()) if isinstance(kind, str) else None) or (
        RESPONSE_MEETING_TYPES.get(response.lower()) if isinstance(response, str) else None) or 'other'
    location = item.get('location')
    return {
        'meeting_type': meeting_type,
        'meeting_start': _date_time_zone(item.get('startDateTime')),
        'meeting_end': _date_time_zone(item.get('endDateTime')),
        'meeting_all_day': _boolean(item.get('isAllDay')),
        'meeting_location': ' '.join(clean_text(location.get('displayName'), MAX_LOCATION_LENGTH).split())
        if isinstance(location, dict) else '',
    }


def _date_time_zone(value):
    """Naive UTC datetime of a Graph dateTimeTimeZone (``{"dateTime", "timeZone"}``); None when unreadable or in
    a zone this cannot convert (a Windows zone name: better no time than a wrong one)."""
    if not isinstance(value, dict) or not isinstance(value.get('dateTime'), str):
        return None
    moment = parse_datetime(value['dateTime'])
    zone = value.get('timeZone')
    zone = zone.strip() if isinstance(zone, str) else 'UTC'
    if moment is None or zone.lower() in UTC_ZONES or re.search(r'(Z|[+-]\d\d:?\d\d)$', value['dateTime'].strip()):
        return moment
    try:
        local = moment.replace(tzinfo=zoneinfo.ZoneInfo(zone))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None
    return local.astimezone(datetime.timezone.utc).replace(tzinfo=None)
