"""Odoo's own mail over Graph's 4 MB request limit: a MIME message sent through an Outlook draft.

``mail.mail`` through the outgoing server type "Outlook / Microsoft 365" is a complete MIME message
(:mod:`models.ir_mail_server`). Up to 4 MB once base64-encoded it goes out in one ``sendMail``; a larger one
would be refused with 413 ("The maximum request length supported is 4MB", graph-api.md §12). Then:

1. the largest attachments leave the MIME until it fits one request (the text, inline images and small
   attachments stay: they travel in the creating request, as :class:`engine.sending.DraftSender` sends small files
   with a new draft);
2. the rest makes an Outlook draft (``POST /messages`` with base64 MIME, which keeps Odoo's headers: Message-Id,
   In-Reply-To, References -- learn.microsoft.com/graph/api/user-post-messages);
3. each removed attachment is added with the Graph client's ``add_attachment`` (the same call DraftSender uses: a
   POST below 3 MB, an upload session in ranges under 4 MB from 3 MB on -- learn.microsoft.com/graph/
   outlook-large-attachments);
4. the draft is sent. A failure before the send deletes the draft; an unanswered send is checked as DraftSender
   checks it (:func:`engine.sending.still_a_draft`). Every failure is raised: the caller writes it on the mail.
"""
import base64
import logging

from ..graph import errors, outgoing
from .sending import still_a_draft

_logger = logging.getLogger(__name__)

GRAPH_MAX_REQUEST_BYTES = 4 * outgoing.MB  # graph-api.md §12: a larger request body is refused with 413


class StillTooLarge(ValueError):
    """Even without its attachments the message does not fit one request (its text or inline images)."""


def needs_draft(mime_bytes):
    """True when the message is too large for one ``sendMail`` (base64 grows it by a third)."""
    return len(base64.b64encode(mime_bytes)) > GRAPH_MAX_REQUEST_BYTES


def split_mime(message, budget=outgoing.INLINE_REQUEST_BUDGET):
    """Take the largest attachments out of ``message`` (an ``email.message.EmailMessage``, changed in place) until
    its MIME is at most ``budget`` bytes.

    Only parts with ``Content-Disposition: attachment`` leave; inline parts (images a body refers to by cid:) stay.
    :return: the attachments taken out, ``[(name, content_type, data)]``
    :raise StillTooLarge: the message is still larger than ``budget`` without any of them
    """
    candidates = []
    for parent in message.walk():
        if parent.is_multipart():
            candidates += [(parent, part) for part in parent.get_payload()
                           if not part.is_multipart() and part.get_content_disposition() == 'attachment']
    candidates.sort(key=lambda pair: len(pair[1].get_payload()), reverse=True)
    removed = []
    size = len(message.as_bytes())
    for parent, part in candidates:
        if size <= budget:
            break
        parent.set_payload([child for child in parent.get_payload() if child is not part])
        removed.append((part.get_filename() or 'attachment', part.get_content_type(),
                        part.get_payload(decode=True) or b''))
        size = len(message.as_bytes())
    if size > budget:
        raise StillTooLarge(size)
    return removed


def send_through_draft(client, message):
    """Send ``message`` (an ``EmailMessage`` over the one-request limit) through an Outlook draft.

    :return: the Graph id of the sent message
    :raise StillTooLarge: see :func:`split_mime`
    :raise errors.GraphError: Outlook refused a step (the draft is deleted when it was not sent)
    """
    message_id = (message['Message-Id'] or '').strip()
    files = split_mime(message)
    draft = client.create_draft_mime(message.as_bytes())
    draft_id = draft.get('id') if isinstance(draft, dict) else None
    if not isinstance(draft_id, str) or not draft_id:
        raise errors.BadResponse('Graph returned no id for the draft', code='badResponse')
    try:
        if message_id and draft.get('internetMessageId') != message_id:
            # the sync recognises Odoo's mail (and Odoo the replies to it) by Odoo's Message-Id
            client.update_draft(draft_id, outgoing.internet_message_id_patch(message_id))
        for name, content_type, data in files:
            client.add_attachment(draft_id, name, content_type, data)
    except errors.GraphError:
        _delete_quietly(client, draft_id)
        raise
    try:
        client.send_draft(draft_id)
    except errors.Transient:
        if still_a_draft(client, draft_id):
            _delete_quietly(client, draft_id)
            raise
    except errors.GraphError:
        _delete_quietly(client, draft_id)
        raise
    return draft_id


def _delete_quietly(client, draft_id):
    """Leave no unsent draft behind; a failure here is only logged (the mail's own failure is what matters)."""
    try:
        client.delete_message(draft_id)
    except errors.GraphError as exc:
        _logger.info('MailDesk: the unsent Outlook draft of a large mail was not deleted (%s)', exc.message)
