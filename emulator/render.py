"""Graph JSON / MIME representations of users, folders, messages and attachments (graph-api.md §3, §4, §7)."""
import base64
import email.policy
import email.utils
import time
from email.message import EmailMessage
from email.parser import BytesParser
from urllib.parse import quote

from . import seed
from .mailstore import message_id
from .util import GraphFail, iso

MESSAGE_PROPS = ['id', 'createdDateTime', 'lastModifiedDateTime', 'changeKey', 'categories', 'receivedDateTime',
                 'sentDateTime', 'hasAttachments', 'internetMessageId', 'subject', 'bodyPreview', 'importance',
                 'parentFolderId', 'conversationId', 'conversationIndex', 'isDeliveryReceiptRequested',
                 'isReadReceiptRequested', 'isRead', 'isDraft', 'webLink', 'inferenceClassification', 'body',
                 'sender', 'from', 'toRecipients', 'ccRecipients', 'bccRecipients', 'replyTo', 'flag']
# graph-api.md §4.1: internetMessageHeaders and uniqueBody only come back when $selected
SELECT_ONLY = ['internetMessageHeaders', 'uniqueBody']
_CANON = {p.lower(): p for p in MESSAGE_PROPS + SELECT_ONLY}
FOLDER_PROPS = ['id', 'displayName', 'parentFolderId', 'childFolderCount', 'unreadItemCount', 'totalItemCount',
                'isHidden']
_FCANON = {p.lower(): p for p in FOLDER_PROPS}
# graph-api.md §12: meeting mail is an eventMessage (v1.0 resources/eventmessage, eventmessagerequest,
# eventmessageresponse on learn.microsoft.com): extra properties, returned without $select (or when cast-selected
# as microsoft.graph.eventMessage/<name>), with an @odata.type naming the derived type in every listing
EVENT_PROPS = ['meetingMessageType', 'startDateTime', 'endDateTime', 'location', 'isAllDay', 'isDelegated',
               'isOutOfDate', 'recurrence', 'type']
REQUEST_PROPS = ['allowNewTimeProposals', 'previousStartDateTime', 'previousEndDateTime', 'previousLocation',
                 'responseRequested']
RESPONSE_PROPS = ['proposedNewTime', 'responseType']
_ECANON = {p.lower(): p for p in EVENT_PROPS + REQUEST_PROPS + RESPONSE_PROPS}
_CAST_PROPS = {'microsoft.graph.eventmessage': {p.lower() for p in EVENT_PROPS},
               'microsoft.graph.eventmessagerequest': {p.lower() for p in EVENT_PROPS + REQUEST_PROPS},
               'microsoft.graph.eventmessageresponse': {p.lower() for p in EVENT_PROPS + RESPONSE_PROPS}}
USER_PROPS = ['businessPhones', 'displayName', 'givenName', 'id', 'jobTitle', 'mail', 'mobilePhone',
              'officeLocation', 'preferredLanguage', 'surname', 'userPrincipalName']


def parse_select(text, kind='message'):
    """$select -> canonical property list (id always returned; graph-api.md §1.2 [MDELTA]). None = default set."""
    if not text:
        return None
    canon = _CANON if kind == 'message' else _FCANON
    out = ['id']
    for raw in text.split(','):
        name = raw.strip()
        if not name:
            continue
        if kind == 'message' and '/' in name:
            # a derived type's property: microsoft.graph.eventMessage/meetingMessageType (OData type cast)
            cast, _, sub = name.rpartition('/')
            # the property must be declared on the cast type or a base of it: responseType is on
            # eventMessageResponse only, so microsoft.graph.eventMessage/responseType is refused (OData v4.01 URL
            # conventions, "type-cast segment" in $select; v1.0 resources/eventmessageresponse)
            prop = _ECANON.get(sub.lower()) if sub.lower() in _CAST_PROPS.get(cast.lower(), ()) else None
            if prop is None:
                raise GraphFail(400, 'RequestBroker--ParseUri',
                                "Could not find a property named '%s' on type '%s'." % (sub, cast))
            if prop not in out:
                out.append(prop)
            continue
        prop = canon.get(name.lower())
        if prop is None:
            raise GraphFail(400, 'RequestBroker--ParseUri',
                            "Could not find a property named '%s' on type 'microsoft.graph.%s'." % (name, kind))
        if prop not in out:
            out.append(prop)
    return out


def _addr(pair):
    return {'emailAddress': {'name': pair[0], 'address': pair[1]}}


def _addrs(pairs):
    return [_addr(p) for p in pairs]


def change_key(msg):
    return 'CQAAABYAAAD%s%06x' % (msg.core[:10], msg.ck)


def native_body_type(msg):
    """The format a body is stored in: plain text for text mail (graph-api.md §12), else HTML."""
    if msg.body is not None:
        return 'text' if msg.body[0] == 'text' else 'html'
    return 'text' if msg.kind == 'text' else 'html'


def _body(msg, body_type):
    if body_type is None:
        body_type = native_body_type(msg)  # no Prefer header: the stored format (docs-contrib issue 664)
    if body_type == 'text':
        return {'contentType': 'text', 'content': seed.body_text(msg)}
    return {'contentType': 'html', 'content': seed.body_html(msg)}


def headers_of(msg):
    out = [{'name': 'Received', 'value': 'from mail.%s by emulator.contoso.test; %s'
            % (msg.sender[1].split('@')[-1], email.utils.formatdate(msg.received, usegmt=True))},
           {'name': 'From', 'value': email.utils.formataddr(msg.sender)},
           *([{'name': 'Sender', 'value': email.utils.formataddr(msg.acting)}] if msg.acting else []),
           {'name': 'To', 'value': ', '.join(email.utils.formataddr(p) for p in msg.to)},
           {'name': 'Subject', 'value': msg.subject},
           {'name': 'Date', 'value': email.utils.formatdate(msg.sent, usegmt=True)},
           {'name': 'Message-ID', 'value': msg.imid}]
    if msg.reply_to:
        out.append({'name': 'Reply-To', 'value': ', '.join(email.utils.formataddr(p) for p in msg.reply_to)})
    if msg.in_reply_to:
        out.append({'name': 'In-Reply-To', 'value': msg.in_reply_to})
    if msg.references or msg.in_reply_to:
        out.append({'name': 'References', 'value': msg.references or msg.in_reply_to})
    for h in msg.headers or ():
        out.append({'name': h[0], 'value': h[1]})
    out.append({'name': 'MIME-Version', 'value': '1.0'})
    return out


_GETTERS = {
    'createdDateTime': lambda m, o: iso(m.created),
    'lastModifiedDateTime': lambda m, o: iso(m.modified),
    'changeKey': lambda m, o: change_key(m),
    'categories': lambda m, o: list(m.categories),
    'receivedDateTime': lambda m, o: iso(m.received),
    'sentDateTime': lambda m, o: None if m.is_draft else iso(m.sent),
    'hasAttachments': lambda m, o: seed.has_attachments(m),
    'internetMessageId': lambda m, o: m.imid,
    'subject': lambda m, o: m.subject,
    'bodyPreview': lambda m, o: seed.body_preview(m),
    'importance': lambda m, o: m.importance,
    'parentFolderId': lambda m, o: m.folder,
    'conversationId': lambda m, o: m.conv,
    'conversationIndex': lambda m, o: base64.b64encode(b'\x01\xd0' + m.core[:14].encode()
                                                       + bytes([m.conv_index % 256]) * (1 + m.conv_index)).decode(),
    'isDeliveryReceiptRequested': lambda m, o: m.drr,
    'isReadReceiptRequested': lambda m, o: m.rrr,
    'isRead': lambda m, o: m.is_read,
    'isDraft': lambda m, o: m.is_draft,
    'webLink': lambda m, o: 'https://outlook.office365.com/owa/?ItemID=%s&exvsurl=1&viewmodel=ReadMessageItem'
                            % quote(message_id(m, False), safe=''),
    'inferenceClassification': lambda m, o: m.inference,
    'body': lambda m, o: _body(m, o),
    'uniqueBody': lambda m, o: _body(m, o),
    # send on behalf: ``from`` is the mailbox, ``sender`` the delegate who sent (outlook-send-mail-from-other-user)
    'sender': lambda m, o: _addr(m.acting or m.sender),
    'from': lambda m, o: _addr(m.sender),
    'toRecipients': lambda m, o: _addrs(m.to),
    'ccRecipients': lambda m, o: _addrs(m.cc),
    'bccRecipients': lambda m, o: _addrs(m.bcc),
    'replyTo': lambda m, o: _addrs(m.reply_to),
    'flag': lambda m, o: dict(m.flag) if m.flag else {'flagStatus': 'notFlagged'},
    'internetMessageHeaders': lambda m, o: headers_of(m),
}


def _dtz(ts):
    return {'dateTime': time.strftime('%Y-%m-%dT%H:%M:%S.0000000', time.gmtime(ts)), 'timeZone': 'UTC'}


def _location(name):
    if not name:
        return {'displayName': '', 'locationType': 'default', 'uniqueIdType': 'unknown'}
    return {'displayName': name, 'locationType': 'default', 'uniqueId': name, 'uniqueIdType': 'private'}


def _event_value(msg, prop):
    ev = msg.event
    if prop == 'meetingMessageType':
        return ev.get('meetingMessageType', 'meetingRequest')
    if prop in ('startDateTime', 'endDateTime'):
        return _dtz(ev['start'] if prop == 'startDateTime' else ev['end'])
    if prop == 'location':
        return _location(ev.get('location'))
    if prop == 'isAllDay':
        return bool(ev.get('isAllDay'))
    if prop in ('isDelegated', 'isOutOfDate'):
        return bool(ev.get(prop))
    if prop == 'recurrence':
        return None
    if prop == 'type':
        return 'singleInstance'
    if prop == 'allowNewTimeProposals':
        return True
    if prop in ('previousStartDateTime', 'previousEndDateTime'):
        return None
    if prop == 'previousLocation':
        return None
    if prop == 'responseRequested':
        return True
    if prop == 'proposedNewTime':
        return None
    if prop == 'responseType':
        return ev.get('responseType', 'accepted')
    return None


def event_props(msg):
    kind = msg.event.get('type', 'eventMessage')
    return EVENT_PROPS + (REQUEST_PROPS if kind == 'eventMessageRequest' else RESPONSE_PROPS
                          if kind == 'eventMessageResponse' else [])


def default_props(msg):
    return MESSAGE_PROPS + event_props(msg) if msg.event else MESSAGE_PROPS


def message_json(msg, select, immutable, body_type=None, odata_type=False, only=None):
    """One message; ``select`` None = default property set (bodies only generated when body is selected).

    ``only``: a sparse updated delta item - just the properties in ``only`` (+ parentFolderId) of those
    selected (graph-api.md §1.6 / §12)."""
    out = {'@odata.etag': 'W/"%s"' % change_key(msg)}
    if msg.event:
        # a derived type always names itself, also in a plain message listing (graph-api.md §12)
        out['@odata.type'] = '#microsoft.graph.%s' % msg.event.get('type', 'eventMessage')
    elif odata_type:
        out['@odata.type'] = '#microsoft.graph.message'
    out['id'] = message_id(msg, immutable)
    getters = _GETTERS
    props = select or default_props(msg)
    if only is not None:
        props = [p for p in props if p in only or p == 'parentFolderId']
    for prop in props:
        if prop == 'id':
            continue
        getter = getters.get(prop)
        if getter is not None:
            out[prop] = getter(msg, body_type)
        elif msg.event and prop in event_props(msg):
            out[prop] = _event_value(msg, prop)
    return out


def removed_json(msg_core, immutable, gen=0):
    """graph-api.md §1.5 [DQM]: removed instance = id + @removed {"reason":"deleted"}."""
    class _M:  # minimal stand-in for message_id()
        core = msg_core
    _M.gen = gen
    return {'@odata.type': '#microsoft.graph.message', 'id': message_id(_M, immutable),
            '@removed': {'reason': 'deleted'}}


def folder_json(mbx, folder, select=None):
    props = select or FOLDER_PROPS
    values = {'id': folder.id, 'displayName': folder.name, 'parentFolderId': folder.parent,
              'childFolderCount': len(folder.children), 'unreadItemCount': folder.unread,
              'totalItemCount': len(folder.keys), 'isHidden': folder.hidden}
    return {p: values[p] for p in props}


def user_json(mbx):
    given, _, surname = mbx.name.partition(' ')
    return {'businessPhones': [], 'displayName': mbx.name, 'givenName': given, 'id': mbx.oid, 'jobTitle': None,
            'mail': mbx.address, 'mobilePhone': None, 'officeLocation': None, 'preferredLanguage': 'en-US',
            'surname': surname or None, 'userPrincipalName': mbx.address}


def attachment_json(att, with_bytes=True):
    kind = att.get('kind')
    if kind in ('item', 'reference'):
        # graph-api.md §12: itemAttachment (an attached message) / referenceAttachment (a cloud link). v1.0
        # gives them only the base attachment properties - contentType null unless set, no contentBytes; a
        # referenceAttachment's sourceUrl is beta-only (resources/itemattachment, resources/referenceattachment
        # on learn.microsoft.com), the link itself is in the message body
        return {'@odata.type': '#microsoft.graph.%sAttachment' % kind, 'id': att['id'],
                'lastModifiedDateTime': iso(att['modified']), 'name': att['name'],
                'contentType': att.get('contentType'), 'size': att_size(att), 'isInline': False}
    out = {'@odata.type': '#microsoft.graph.fileAttachment', '@odata.mediaContentType': att['contentType'],
           'id': att['id'], 'lastModifiedDateTime': iso(att['modified']), 'name': att['name'],
           'contentType': att['contentType'], 'size': len(att['data']) + 160, 'isInline': att['isInline'],
           'contentId': att['contentId'], 'contentLocation': None}
    if with_bytes:
        out['contentBytes'] = base64.b64encode(att['data']).decode('ascii')
    return out


def att_size(att):
    if att.get('kind') == 'reference':
        return 300 + len(att.get('sourceUrl') or '')  # "the size of the metadata ... not the size of the file"
    return len(att_data(att)) + 160


def att_data(att):
    """The attachment's raw bytes; for an itemAttachment the MIME of the attached message (its $value)."""
    if att.get('kind') == 'item':
        if att.get('data') is None:
            att['data'] = mime_bytes(att['item'])
        return att['data']
    return att.get('data') or b''


def mime_bytes(msg):
    """graph-api.md §4.4 [MIME]: RFC 822 text starting with Received/From/... headers, MIME-Version: 1.0."""
    em = EmailMessage(policy=email.policy.SMTP)
    for h in headers_of(msg):
        if h['name'] != 'MIME-Version':
            em[h['name']] = h['value']
    if msg.cc:
        em['Cc'] = ', '.join(email.utils.formataddr(p) for p in msg.cc)
    em['Thread-Topic'] = msg.subject
    em.set_content(seed.body_text(msg))
    em.add_alternative(seed.body_html(msg), subtype='html')
    for att in seed.attachments(msg):
        if att.get('kind') == 'reference':
            continue  # a cloud link lives in the body, not in the MIME
        if att.get('kind') == 'item':
            inner = BytesParser(policy=email.policy.SMTP).parsebytes(att_data(att))
            em.add_attachment(inner, filename=att['name'] + '.eml')  # message/rfc822 part
            continue
        maintype, _, subtype = att['contentType'].partition('/')
        kwargs = {'filename': att['name']}
        if att['isInline']:
            kwargs.update(disposition='inline', cid='<%s>' % att['contentId'])
        em.add_attachment(att['data'], maintype=maintype, subtype=subtype or 'octet-stream', **kwargs)
    return em.as_bytes()
