"""Graph mail write surface: PATCH / move / copy / DELETE, drafts, send, replies, attachments, upload sessions
(graph-api.md §4.5, §5, §6)."""
import base64
import binascii
import email.policy
import email.utils
import html
import re
from email.parser import BytesParser

from . import render, seed
from .mailstore import Message
from .util import GraphFail, Response, guid, iso, now, parse_iso

ATTACH_LIMIT = 3 * 1024 * 1024  # graph-api.md §4.5 [POSTATT][LARGE]: POST attachment < 3 MB, else upload session
UPDATABLE = {'isRead', 'flag', 'categories', 'importance', 'inferenceClassification', 'isDeliveryReceiptRequested',
             'isReadReceiptRequested', 'from', 'sender', 'toRecipients', 'ccRecipients', 'bccRecipients'}
DRAFT_ONLY = {'body', 'internetMessageId', 'replyTo', 'subject'}  # graph-api.md §6 [UPD]: only while isDraft
FLAG_STATUS = ('notFlagged', 'flagged', 'complete')


def _bad(message, code='ErrorInvalidRequest', status=400):
    return GraphFail(status, code, message)


def _json(ctx):
    try:
        body = ctx.req.json()
    except (ValueError, UnicodeDecodeError):
        raise _bad('Unable to read JSON request payload. Please ensure Content-Type header is set and payload '
                   'is of valid JSON format.', 'BadRequest') from None
    if not isinstance(body, dict):
        raise _bad('Empty Payload. JSON content expected.', 'BadRequest')
    return body


def _type_error(value, edm):
    """OData's answer to a JSON value of the wrong type (graph-api.md §12: PATCH values are typed,
    https://learn.microsoft.com/graph/api/message-update)."""
    if isinstance(value, (dict, list)):
        return _bad("An unexpected '%s' node was found when reading from the JSON reader. A 'PrimitiveValue' node "
                    "was expected." % ('StartObject' if isinstance(value, dict) else 'StartArray'),
                    'RequestBodyRead')
    return _bad("Cannot convert the literal '%s' to the expected type '%s'." % (
        str(value).lower() if isinstance(value, bool) else value, edm), 'RequestBodyRead')


def _bool(value):
    if not isinstance(value, bool):
        raise _type_error(value, 'Edm.Boolean')
    return value


def _string(value, prop):
    if value is not None and not isinstance(value, str):
        raise _type_error(value, 'Edm.String')
    return value


def _recipients(value, prop):
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _bad("Invalid value for '%s'." % prop, 'RequestBodyRead')
    out = []
    for r in value:
        if not isinstance(r, dict) or not isinstance(r.get('emailAddress', {}), dict):
            raise _bad("An unexpected 'PrimitiveValue' node was found when reading from the JSON reader. A "
                       "'StartObject' node was expected.", 'RequestBodyRead')
        addr = r.get('emailAddress') or {}
        if not isinstance(addr.get('address'), str) or '@' not in addr['address']:
            raise _bad('At least one recipient is not valid.', 'ErrorInvalidRecipients')
        out.append((addr.get('name') or addr['address'], addr['address']))
    return tuple(out)


def _date_time_zone(value, prop):
    """graph-api.md §12: followupFlag dates are dateTimeTimeZone {"dateTime", "timeZone"}, never a bare string
    (resources/followupflag, resources/datetimetimezone on learn.microsoft.com)."""
    if not isinstance(value, dict):
        raise _bad("An unexpected 'PrimitiveValue' node was found when reading from the JSON reader. A "
                   "'StartObject' node was expected.", 'RequestBodyRead')
    dt, tz = value.get('dateTime'), value.get('timeZone')
    if not isinstance(dt, str) or (tz is not None and not isinstance(tz, str)):
        raise _type_error(dt, 'Edm.String')
    try:
        parse_iso(dt)
    except ValueError:
        # the value of a dateTimeTimeZone must parse (microsoftgraph/microsoft-graph-toolkit issue 152)
        raise _bad("The value '%s' of parameter 'DateTime' is invalid." % dt, 'InvalidDateTime') from None
    return {'dateTime': dt, 'timeZone': tz or 'UTC'}


def _flag(value):
    if not isinstance(value, dict):
        raise _bad("An unexpected '%s' node was found when reading from the JSON reader. A 'StartObject' node "
                   "was expected." % ('StartArray' if isinstance(value, list) else 'PrimitiveValue'),
                   'RequestBodyRead')
    status = value.get('flagStatus', 'notFlagged')
    if not isinstance(status, str) or status not in FLAG_STATUS:
        raise _bad("The request is invalid. Requested value '%s' was not found." % status, 'RequestBodyRead')
    flag = {'flagStatus': status}
    for k in ('startDateTime', 'dueDateTime', 'completedDateTime'):
        if value.get(k) is not None:
            flag[k] = _date_time_zone(value[k], k)
    if flag.get('dueDateTime') and not flag.get('startDateTime'):
        # dueDateTime requires startDateTime (resources/followupflag.md); the service answers
        # ErrorInvalidArgument "The request is invalid." (microsoftgraph/microsoft-graph-docs-contrib issue 6473)
        raise _bad('The request is invalid.', 'ErrorInvalidArgument')
    return flag


def _body_value(value):
    if not isinstance(value, dict):
        raise _bad("Invalid value for 'body'.", 'RequestBodyRead')
    ctype = value.get('contentType') or 'text'
    content = value.get('content') or ''
    if not isinstance(ctype, str) or ctype.lower() not in ('text', 'html'):
        raise _bad("The request is invalid. Requested value '%s' was not found." % ctype, 'RequestBodyRead')
    if not isinstance(content, str):
        raise _type_error(content, 'Edm.String')
    return ('html' if ctype.lower() == 'html' else 'text', content)


def _fields(ctx, data, msg=None, creating=False):
    """Validate message JSON -> Message attribute dict (graph-api.md §6 [UPD])."""
    out = {}
    for prop, value in data.items():
        if prop.startswith('@odata'):
            continue
        if prop in DRAFT_ONLY and msg is not None and not msg.is_draft:
            raise _bad("Update operation is invalid for property '%s' of a sent message." % prop,
                       'ErrorInvalidPropertyUpdateSentMessage')
        if prop == 'isRead':
            out['is_read'] = _bool(value)
        elif prop == 'flag':
            out['flag'] = _flag(value)
        elif prop == 'categories':
            if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
                raise _type_error(value if not isinstance(value, list) else next(
                    c for c in value if not isinstance(c, str)), 'Edm.String')
            out['categories'] = tuple(value)
        elif prop == 'importance':
            if not isinstance(value, str) or value.lower() not in ('low', 'normal', 'high'):
                raise _bad("The request is invalid. Requested value '%s' was not found." % value, 'RequestBodyRead')
            out['importance'] = value.lower()
        elif prop == 'inferenceClassification':
            if not isinstance(value, str) or value.lower() not in ('focused', 'other'):
                raise _bad("The request is invalid. Requested value '%s' was not found." % value, 'RequestBodyRead')
            out['inference'] = value.lower()
        elif prop == 'isDeliveryReceiptRequested':
            out['drr'] = _bool(value)
        elif prop == 'isReadReceiptRequested':
            out['rrr'] = _bool(value)
        elif prop == 'from':
            out['sender'] = _recipients([value], prop)[0] if value else (ctx.mbx.name, ctx.mbx.address)
        elif prop == 'sender':
            # who actually sends; differs from ``from`` only when a delegate sends on behalf of the mailbox
            # (outlook-send-mail-from-other-user: from = the mailbox, sender = the delegate)
            out['acting'] = _recipients([value], prop)[0] if value else None
        elif prop in ('toRecipients', 'ccRecipients', 'bccRecipients', 'replyTo'):
            out[{'toRecipients': 'to', 'ccRecipients': 'cc', 'bccRecipients': 'bcc', 'replyTo': 'reply_to'}[prop]] = \
                _recipients(value, prop)
        elif prop == 'body':
            out['body'] = _body_value(value)
        elif prop == 'subject':
            out['subject'] = _string(value, prop) or ''
        elif prop == 'internetMessageId':
            out['imid'] = _string(value, prop)
        elif prop == 'internetMessageHeaders' and creating:
            hdrs = []
            for h in value or []:
                if not str(h.get('name', '')).lower().startswith('x-'):
                    # graph-api.md §4.1 (beta docs): custom header names must start with x-
                    raise _bad("The internet message header name '%s' should start with 'x-' or 'X-'."
                               % h.get('name'), 'InvalidInternetMessageHeader')
                hdrs.append((h['name'], str(h.get('value', ''))))
            out['headers'] = tuple(hdrs)
        elif prop == 'attachments' and creating:
            out['atts'] = [_new_attachment(a) for a in value or []]
        elif prop in render._CANON.values() or prop in ('attachments', 'internetMessageHeaders'):
            raise _bad("The property '%s' is read-only and cannot be set." % prop, 'ErrorInvalidPropertySet')
        else:
            raise _bad("The property '%s' does not exist on type 'microsoft.graph.message'." % prop, 'RequestBodyRead')
    if out.get('acting'):
        frm = out.get('sender') or (msg.sender if msg is not None else (ctx.mbx.name, ctx.mbx.address))
        if out['acting'][1].lower() == frm[1].lower():
            out['acting'] = None
    return out


def _new_attachment(data):
    if (data.get('@odata.type') or '#microsoft.graph.fileAttachment').lower() != '#microsoft.graph.fileattachment':
        raise _bad('Only fileAttachment is emulated.', 'ErrorInvalidRequest')
    try:
        raw = base64.b64decode(data.get('contentBytes') or '', validate=True)
    except (binascii.Error, ValueError):
        raise _bad('Invalid base64 string for contentBytes.', 'ErrorInvalidRequest') from None
    if len(raw) >= ATTACH_LIMIT:
        # graph-api.md §4.5 [POSTATT]: direct attachment POST is limited to < 3 MB; bigger needs an upload session
        raise GraphFail(413, 'ErrorRequestEntityTooLarge', 'The request entity is too large; attachments of 3 MB '
                        'or more must be added with an upload session.')
    # fileAttachment (learn.microsoft.com/graph/api/resources/fileattachment): isInline is an Edm.Boolean and
    # contentId a String, the id an HTML body names as <img src="cid:..."> (.../resources/attachmentitem); a value
    # of another JSON type is refused as for any typed property
    is_inline = data.get('isInline')
    return {'name': data.get('name') or 'attachment', 'contentType': data.get('contentType') or
            'application/octet-stream', 'isInline': False if is_inline is None else _bool(is_inline),
            'contentId': _string(data.get('contentId'), 'contentId'), 'data': raw}


def _size(msg):
    atts = seed.attachments(msg) if msg.att_kind or msg.atts else []
    return sum(len(render.att_data(a)) for a in atts) + len(seed.body_html(msg))


def _check_size(ctx, msg):
    if _size(msg) > ctx.config['max_message_size']:
        raise GraphFail(413, 'ErrorMessageSizeExceeded', 'The message exceeds the maximum supported size.')


def _materialize_atts(msg):
    if msg.atts is None:
        msg.atts = [dict(a) for a in seed.attachments(msg)]
    return msg.atts


def _finish_atts(msg):
    for n, att in enumerate(msg.atts or []):
        att['id'] = seed.attachment_id(msg, n)
        att.setdefault('modified', now())


def new_local(mbx, **kw):
    msg = Message()
    msg.core = mbx.new_core()
    t = now()
    msg.received = msg.sent = msg.created = t
    msg.modified = t
    msg.sender = (mbx.name, mbx.address)
    msg.to = ()
    msg.subject = ''
    msg.is_read = True
    msg.imid = '<%s@%s>' % (guid().replace('-', '')[:24].upper(), mbx.address.split('@')[-1])
    msg.conv = 'AAQkAGI2%s' % guid().replace('-', '')[:20] + 'AQAQAA=='
    msg.conv_index = 0
    msg.body = ('html', '')
    msg.atts = []
    for k, v in kw.items():
        setattr(msg, k, v)
    if msg.atts:
        _finish_atts(msg)
    return msg


# -- PATCH / DELETE / move / copy ---------------------------------------------------------------------------------
def update_message(ctx, msg):
    fields = _fields(ctx, _json(ctx), msg)
    ctx.store.update(ctx.mbx, msg, fields)  # graph-api.md §10: changeKey / lastModifiedDateTime / etag bumped
    return render.message_json(msg, None, ctx.immutable, ctx.body_type)  # graph-api.md §6: 200 + message


def delete_message(ctx, msg):
    ctx.store.soft_delete(ctx.mbx, msg)  # graph-api.md §6 [DEL]: 204; soft delete to Deleted Items
    return Response(204)


def _dest(ctx, data):
    ref = data.get('destinationId') or data.get('DestinationId')
    if not ref:
        raise _bad("Missing 'destinationId'.", 'ErrorInvalidRequest')
    folder = ctx.store.resolve_folder(ctx.mbx, ref)
    if folder is None:
        raise GraphFail(404, 'ErrorItemNotFound', 'The specified object was not found in the store.')
    return folder


def copy_message(store, mbx, msg, folder, **overrides):
    clone = Message()
    for slot in Message.__slots__:
        if hasattr(msg, slot):
            setattr(clone, slot, getattr(msg, slot))
    clone.core = mbx.new_core()
    clone.gen = 0
    clone.ck = 1
    if msg.atts is not None or msg.att_kind:
        clone.atts = [dict(a) for a in seed.attachments(msg)]
    if msg.body is None:
        clone.body = ('html', seed.body_html(msg))
    for k, v in overrides.items():
        setattr(clone, k, v)
    _finish_atts(clone)
    store.insert(mbx, folder, clone)
    return clone


# -- drafts, sending, replies (graph-api.md §5) -------------------------------------------------------------------
def create_draft(ctx, folder):
    """graph-api.md §5 [DRAFT]: POST /me/messages -> 201 + message saved in Drafts (isDraft true).

    JSON, or base64 MIME with ``Content-Type: text/plain`` ("Create a draft of a new message in either JSON or MIME
    format", learn.microsoft.com/graph/api/user-post-messages; bad base64 -> 400 as for sendMail): the MIME's
    headers and parts make the draft, its Message-ID included (as sendMail keeps it)."""
    if (ctx.req.header('Content-Type') or '').lower().startswith('text/plain'):
        msg = _from_mime(ctx, ctx.req.body)
        msg.is_draft = True
    else:
        msg = new_local(ctx.mbx, is_draft=True, **_fields(ctx, _json(ctx), creating=True))
    _check_size(ctx, msg)
    ctx.store.insert(ctx.mbx, folder or ctx.mbx.folders[ctx.mbx.wk['drafts']], msg)
    return Response(201, render.message_json(msg, None, ctx.immutable, ctx.body_type))


def deliver_local(store, msg):
    """Mail to a mailbox of this emulator lands in its Inbox (so "send to self" arrives)."""
    seen = set()
    for _, addr in tuple(msg.to) + tuple(msg.cc) + tuple(msg.bcc):
        target = store.mailbox(addr)
        if target is None or target.address in seen:
            continue
        seen.add(target.address)
        copy = copy_message(store, target, msg, target.folders[target.wk['inbox']], is_read=False, is_draft=False,
                            bcc=(), received=now())
        join_conversation(target, copy)  # the recipient's mailbox threads it with what it holds


def _check_send_as(ctx, msg):
    """Whom the signed-in user may send as (outlook-send-mail-from-other-user, learn.microsoft.com/graph/
    outlook-send-mail-from-other-user): ``from`` is the user himself, or a mailbox he holds *Send As* on (``from``
    = ``sender`` = the mailbox), or *Send on Behalf* with ``sender`` = himself ("on behalf of"); the legacy
    ``send_as`` switch of his own mailbox counts as Send As. Anything else: 403 ErrorSendAsDenied at send time
    (microsoftgraph/microsoft-graph-docs-contrib issue 7401)."""
    caller, store = ctx.caller, ctx.store
    frm = (msg.sender[1] if msg.sender else ctx.mbx.address).lower()
    acting = msg.acting[1].lower() if msg.acting else None
    target = store.mailbox(frm)
    rights = store.rights(target, caller) if target is not None else frozenset()
    if acting is None:
        allowed = frm == caller.address.lower() or frm in [a.lower() for a in caller.send_as] or (
            'send_as' in rights)
    else:
        allowed = acting == caller.address.lower() and 'send_on_behalf' in rights
    if not allowed:
        raise GraphFail(403, 'ErrorSendAsDenied', 'The user account which was used to submit this request does not '
                        'have the right to send mail on behalf of the specified sending account., Cannot submit '
                        'message.')


def _complete_send(store, mbx, msg, save, t):
    """The send is through: the Sent Items copy appears (same core = same immutable id), recipients get it."""
    msg.is_draft = False
    msg.sent = msg.received = t
    msg.is_read = True
    if save:
        store.attach(mbx, mbx.folders[mbx.wk['sentitems']], msg)
    deliver_local(store, msg)


def settle(store, force=False):
    """Complete the sends whose ``sent_copy_delay`` is over (caller holds the store lock)."""
    if not store.transit:
        return
    t = now()
    for mbx in store.mailboxes:
        for core, (due, msg, save, sent_at) in sorted(mbx.in_transit.items(), key=lambda kv: kv[1][0]):
            if force or due <= t:
                del mbx.in_transit[core]
                store.transit -= 1
                _complete_send(store, mbx, msg, save, sent_at)


def _send(ctx, msg, save=True):
    if not (msg.to or msg.cc or msg.bcc):
        raise _bad('At least one recipient is not valid., A message can\'t be sent because it contains no '
                   'recipients.', 'ErrorInvalidRecipients')
    _check_send_as(ctx, msg)
    _check_size(ctx, msg)
    t = now()
    store, mbx = ctx.store, ctx.mbx
    delay = float(ctx.config.get('sent_copy_delay') or 0)
    if msg.core in mbx.msgs:
        if delay > 0:
            # graph-api.md §12 / outlook-immutable-id: the draft leaves Drafts at once; its Sent Items copy (same
            # immutable id) appears a few seconds later - meanwhile a GET by the id answers 404
            store.detach(mbx, msg)
            mbx.in_transit[msg.core] = (t + delay, msg, True, t)
            store.transit += 1
            return Response(202)
        # graph-api.md §5 [MSEND][IMMUT]: the draft becomes the Sent Items copy (same immutable id)
        store.move(mbx, msg, mbx.folders[mbx.wk['sentitems']], received=t)
        store.update(mbx, msg, {'is_draft': False, 'sent': t, 'is_read': True})
        deliver_local(store, msg)
        return Response(202)
    if delay > 0:
        mbx.in_transit[msg.core] = (t + delay, msg, save, t)
        store.transit += 1
        return Response(202)
    if save:
        msg.is_draft = False
        msg.sent = msg.received = t
        store.insert(mbx, mbx.folders[mbx.wk['sentitems']], msg)
    deliver_local(store, msg)
    return Response(202)


def send_mail(ctx):
    """graph-api.md §5 [SEND]: JSON or base64 MIME (Content-Type text/plain) -> 202, empty body, no id."""
    ctype = (ctx.req.header('Content-Type') or '').lower()
    if ctype.startswith('text/plain'):
        msg = _from_mime(ctx, ctx.req.body)
        return _send(ctx, msg, True)
    data = _json(ctx)
    message = data.get('message') or data.get('Message')
    if not isinstance(message, dict):
        raise _bad('Empty Payload. JSON content expected.', 'ErrorInvalidRequest')
    save = data.get('saveToSentItems', data.get('SaveToSentItems', True))
    save = str(save).lower() != 'false'
    msg = new_local(ctx.mbx, **_fields(ctx, message, creating=True))
    return _send(ctx, msg, save)


def _from_mime(ctx, raw_b64):
    try:
        raw = base64.b64decode(raw_b64.strip(), validate=True)
        if not raw:
            raise ValueError('empty')
    except (binascii.Error, ValueError):
        # graph-api.md §2.4 / §5 [SEND]: malformed MIME base64 -> 400 ErrorMimeContentInvalidBase64String
        raise _bad('Invalid base64 string for MIME content.', 'ErrorMimeContentInvalidBase64String') from None
    em = BytesParser(policy=email.policy.default).parsebytes(raw)

    def addrs(name):
        return tuple((n or a, a) for n, a in email.utils.getaddresses(em.get_all(name, [])) if a)
    body_part = em.get_body(preferencelist=('html', 'plain'))
    body = ('text', '')
    if body_part is not None:
        body = ('html' if body_part.get_content_subtype() == 'html' else 'text', body_part.get_content())
    atts = []
    for part in em.iter_attachments():
        cid = (part.get('Content-ID') or '').strip('<>') or None
        atts.append({'name': part.get_filename() or 'attachment', 'contentType': part.get_content_type(),
                     'isInline': part.get_content_disposition() == 'inline', 'contentId': cid,
                     'data': part.get_payload(decode=True) or b''})
    fields = {'subject': str(em.get('Subject', '')), 'to': addrs('To'), 'cc': addrs('Cc'), 'bcc': addrs('Bcc'),
              'body': body, 'atts': atts}
    frm = addrs('From')
    if frm:
        fields['sender'] = frm[0]
    acting = addrs('Sender')  # RFC 5322 Sender: the delegate of a send on behalf
    if acting and (not frm or acting[0][1].lower() != frm[0][1].lower()):
        fields['acting'] = acting[0]
    if em.get('Message-ID'):
        fields['imid'] = str(em['Message-ID']).strip()  # sent copy keeps the MIME Message-Id (graph-api.md §5)
    # Exchange keeps the MIME's own identification and reply headers: they come back in internetMessageHeaders
    # and the Sent Items $value ("MIME readers must copy the value of the References header field",
    # PidTagInternetReferences, learn.microsoft.com/office/client-developer/outlook/mapi/
    # pidtaginternetreferences-canonical-property; PidTagInReplyToId likewise; Reply-To becomes replyTo)
    if em.get('In-Reply-To'):
        fields['in_reply_to'] = ' '.join(str(em['In-Reply-To']).split())
    if em.get('References'):
        fields['references'] = ' '.join(str(em['References']).split())
    if addrs('Reply-To'):
        fields['reply_to'] = addrs('Reply-To')
    msg = new_local(ctx.mbx, **fields)
    msg.conv_drift = bool(ctx.config.get('conversation_drift'))  # kept by every copy (sent, delivered)
    join_conversation(ctx.mbx, msg)
    return msg


MESSAGE_ID = re.compile(r'<[^<>\s]+>')


def join_conversation(mbx, msg):
    """A reply joins the conversation of the message it answers when that message is in the mailbox.

    Exchange threads by the conversation index (Thread-Index), "computed from message references"
    (thread-index Field, learn.microsoft.com/previous-versions/exchange-server/exchange-10/ms526219): a reply
    whose In-Reply-To / References name a message of the mailbox gets that message's conversationId and a
    conversationIndex one level deeper (resources/message: conversationId, conversationIndex). Nothing named in
    the mailbox: a conversation of its own -- as Exchange does for a reply whose parent it never saw (Microsoft
    Q&A "Sometimes the Conversation ID changes when a user replies to an email").
    """
    named = MESSAGE_ID.findall(msg.in_reply_to or '') + MESSAGE_ID.findall(msg.references or '')[::-1]
    if not named or getattr(msg, 'conv_drift', False):
        return
    by_imid = {}
    for other in mbx.msgs.values():
        if other.imid in named and other is not msg:
            by_imid.setdefault(other.imid, other)
    parent = next((by_imid[imid] for imid in named if imid in by_imid), None)
    if parent is not None:
        msg.conv = parent.conv
        msg.conv_index = parent.conv_index + 1


def _reply_draft(ctx, orig, kind, data):
    """graph-api.md §5 [CREPLY]: createReply/createReplyAll/createForward -> 201 draft in the same conversation."""
    comment = data.get('comment')
    overrides = data.get('message') or {}
    if comment is not None and isinstance(overrides, dict) and overrides.get('body'):
        raise _bad('comment and message.body cannot both be specified.', 'ErrorInvalidRequest')  # [REPLY]
    me = (ctx.mbx.address or '').lower()
    if kind == 'forward':
        prefix, to, cc = 'FW: ', (), ()
    else:
        prefix, to, cc = 'RE: ', (orig.sender,), ()
        if kind == 'replyall':
            to = tuple(dict.fromkeys([orig.sender] + [p for p in orig.to if p[1].lower() != me]))
            cc = tuple(p for p in orig.cc if p[1].lower() != me)
    subject = orig.subject
    if not subject.upper().startswith(prefix.strip()):
        subject = prefix + subject
    quoted = ('<html><body><div>%s</div><hr><div><b>From:</b> %s<br><b>Sent:</b> %s<br><b>Subject:</b> %s</div>%s'
              '</body></html>' % (html.escape(comment or ''), html.escape(email.utils.formataddr(orig.sender)),
                                  iso(orig.sent), html.escape(orig.subject), seed.body_html(orig)))
    fields = {'subject': subject, 'to': to, 'cc': cc, 'body': ('html', quoted), 'conv': orig.conv,
              'conv_index': orig.conv_index + 1, 'in_reply_to': orig.imid}
    if kind == 'forward':
        fields['atts'] = [dict(a) for a in seed.attachments(orig) if not a['isInline']]
        if 'toRecipients' in data:
            fields['to'] = _recipients(data['toRecipients'], 'toRecipients')
    if isinstance(overrides, dict) and overrides:
        fields.update(_fields(ctx, overrides, creating=True))
    return new_local(ctx.mbx, is_draft=True, **fields)


def action(ctx, msg, name):
    data = _json(ctx) if ctx.req.body else {}
    if name in ('move', 'copy'):
        dest = _dest(ctx, data)
        if name == 'move':
            # graph-api.md §6 [MOVE]: 201 + the message in its new folder (new id unless ImmutableId)
            ctx.store.move(ctx.mbx, msg, dest)
            return Response(201, render.message_json(msg, None, ctx.immutable, ctx.body_type))
        clone = copy_message(ctx.store, ctx.mbx, msg, dest)
        return Response(201, render.message_json(clone, None, ctx.immutable, ctx.body_type))
    if name == 'send':
        if not msg.is_draft:
            raise _bad('Only draft messages can be sent.', 'ErrorInvalidOperation')
        return _send(ctx, msg)
    kind = {'createreply': 'reply', 'createreplyall': 'replyall', 'createforward': 'forward',
            'reply': 'reply', 'replyall': 'replyall', 'forward': 'forward'}.get(name)
    if kind is None:
        raise GraphFail(400, 'BadRequest', "Unsupported action '%s'." % name)
    draft = _reply_draft(ctx, msg, kind, data)
    if name.startswith('create'):
        ctx.store.insert(ctx.mbx, ctx.mbx.folders[ctx.mbx.wk['drafts']], draft)
        return Response(201, render.message_json(draft, None, ctx.immutable, ctx.body_type))
    draft.is_draft = False
    return _send(ctx, draft, True)  # graph-api.md §5 [REPLY][FWD]: reply/replyAll/forward -> 202


# -- folders ------------------------------------------------------------------------------------------------------
def create_folder(ctx, parent):
    data = _json(ctx)
    name = data.get('displayName')
    if not name:
        raise _bad("Missing 'displayName'.", 'ErrorInvalidRequest')
    for fid in parent.children:
        if ctx.mbx.folders[fid].name == name:
            raise GraphFail(409, 'ErrorFolderExists', 'A folder with the specified name already exists.')
    folder = ctx.store.add_folder(ctx.mbx, name, parent.id, hidden=bool(data.get('isHidden')))
    return Response(201, render.folder_json(ctx.mbx, folder))


def update_folder(ctx, folder):
    data = _json(ctx)
    if 'displayName' in data:
        if folder.wk:
            raise _bad('Cannot rename a distinguished folder.', 'ErrorInvalidRequest')
        ctx.store.rename_folder(ctx.mbx, folder, data['displayName'])
    return render.folder_json(ctx.mbx, folder)


def delete_folder(ctx, folder):
    if folder.wk:
        raise _bad('Distinguished folders cannot be deleted.', 'ErrorDeleteDistinguishedFolder')
    ctx.store.delete_folder(ctx.mbx, folder)
    return Response(204)
