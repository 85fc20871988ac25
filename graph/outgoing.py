"""MailDesk -> Graph: the JSON MailDesk sends (pure functions), next to :mod:`graph.mail` for what it receives.

Callers pass plain values (strings, booleans, lists of (name, address) pairs, bytes) that they have already
validated; only this module knows Graph's property names and shapes (graph-api.md §4.5, §5, §6).
"""
import base64

FLAG_STATUSES = frozenset({'notFlagged', 'flagged', 'complete'})
FILE_ATTACHMENT_TYPE = '#microsoft.graph.fileAttachment'
DEFAULT_CONTENT_TYPE = 'application/octet-stream'
MB = 1024 * 1024
SMALL_ATTACHMENT_LIMIT = 3 * MB  # graph-api.md §4.5: POST .../attachments only below 3 MB
# Graph refuses requests above 4 MB; base64 grows data by a third, so a JSON request that carries attachments
# inline (a draft's creation, or sendMail without a draft) keeps their raw total below 2.5 MB.
INLINE_REQUEST_BUDGET = int(2.5 * MB)


def recipient(name, address):
    """``{'emailAddress': {'address': ..., 'name': ...}}``; an empty name is left out (Outlook shows the address).

    The caller validates the address (Odoo's rules); this only shapes it.
    """
    email_address = {'address': (address or '').strip()}
    name = (name or '').strip()
    if name:
        email_address['name'] = name
    return {'emailAddress': email_address}


def recipients(pairs):
    """A Graph recipient collection from ``(name, address)`` pairs, in their order."""
    return [recipient(name, address) for name, address in pairs]


def file_attachment(name, content_type, data, content_id=None):
    """A ``fileAttachment`` with its bytes inline (base64 ``contentBytes``); only below 3 MB.

    :param content_id: for an image shown in the body: ``isInline`` and the ``contentId`` that the body names as
        ``<img src="cid:...">`` (learn.microsoft.com/graph/api/resources/fileattachment, .../attachmentitem)
    """
    values = {
        '@odata.type': FILE_ATTACHMENT_TYPE,
        'name': name,
        'contentType': content_type or DEFAULT_CONTENT_TYPE,
        'contentBytes': base64.b64encode(data or b'').decode('ascii'),
    }
    if content_id:
        values.update(isInline=True, contentId=content_id)
    return values


def message(subject='', body_html='', to=(), cc=(), bcc=(), sender=None, internet_message_id=None,
            attachments=None, on_behalf_of=None):
    """The message JSON of a draft (create or PATCH) or of ``sendMail`` / ``reply`` / ``forward``.

    :param to, cc, bcc: ``(name, address)`` pairs; every list is sent (an empty one clears a draft's)
    :param sender: ``(name, address)`` for ``from`` (the Sender Name), or None to let Outlook fill it in
    :param internet_message_id: the Message-ID to use (writable only while the message is a draft)
    :param attachments: ``(name, content_type, data[, content_id])`` sent in the request, or None to leave them out
    :param on_behalf_of: ``(name, address)`` of the delegate sending on behalf of the mailbox in ``sender``
        (Graph ``sender``; ``from`` stays the mailbox: learn.microsoft.com/graph/outlook-send-mail-from-other-user)
    """
    values = {
        'subject': subject or '',
        'body': {'contentType': 'html', 'content': body_html or ''},
        'toRecipients': recipients(to),
        'ccRecipients': recipients(cc),
        'bccRecipients': recipients(bcc),
    }
    if sender:
        values['from'] = recipient(*sender)
    if on_behalf_of:
        values['sender'] = recipient(*on_behalf_of)
    if internet_message_id:
        values['internetMessageId'] = internet_message_id
    if attachments is not None:
        values['attachments'] = [file_attachment(*attachment) for attachment in attachments]
    return values


def send_mail(message_json, save_to_sent=True):
    """The ``POST /sendMail`` body; ``saveToSentItems`` is only sent when False (Graph's default is True)."""
    payload = {'message': message_json}
    if not save_to_sent:
        payload['saveToSentItems'] = False
    return payload


def reply(comment=None, message_json=None):
    """The ``reply`` / ``replyAll`` / ``forward`` body (Graph refuses ``comment`` together with a message body)."""
    payload = {}
    if comment is not None:
        payload['comment'] = comment
    if message_json is not None:
        payload['message'] = message_json
    return payload


def upload_session(name, content_type, size):
    """The ``createUploadSession`` body for a file attachment of ``size`` bytes (3 MB and more)."""
    return {'AttachmentItem': {'attachmentType': 'file', 'name': name, 'size': int(size),
                               'contentType': content_type or DEFAULT_CONTENT_TYPE}}


def move(destination):
    """The ``POST /messages/{id}/move`` body: a folder id or a well-known name (``archive``, ``deleteditems``)."""
    return {'destinationId': destination}


def message_patch(is_read=None, flag_status=None, categories=None):
    """The ``PATCH /messages/{id}`` body for the properties given (None: left out, Outlook keeps its value).

    :param bool is_read: read state
    :param str flag_status: ``notFlagged``, ``flagged`` or ``complete``
    :param categories: Outlook category names (an empty list clears them)
    """
    patch = {}
    if is_read is not None:
        patch['isRead'] = bool(is_read)
    if flag_status is not None:
        if flag_status not in FLAG_STATUSES:
            raise ValueError('flag status must be one of %s' % ', '.join(sorted(FLAG_STATUSES)))
        patch['flag'] = {'flagStatus': flag_status}
    if categories is not None:
        patch['categories'] = [str(name).strip() for name in categories if str(name).strip()]
    return patch


def internet_message_id_patch(internet_message_id):
    """The ``PATCH`` body that sets a draft's Message-ID (writable only while the message is a draft)."""
    return {'internetMessageId': internet_message_id}
