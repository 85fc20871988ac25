"""Bodies on open: a message's body is fetched from Graph once, sanitized, its inline images stored as attachments;
file attachments are downloaded on demand.

Sync stores metadata only. When a body is fetched for a reply alone in its conversation, its In-Reply-To /
References are read too (one small GET), so it can join the thread Outlook lost (see :mod:`engine.threads`).
"""
import base64
import logging
import re

from markupsafe import Markup

from odoo import fields
from odoo.exceptions import UserError
from odoo.tools.mail import html_sanitize

from ..graph import errors, mail
from . import threads

_logger = logging.getLogger(__name__)

CID_SRC = re.compile(r'''(src\s*=\s*["']?)cid:([^"'\s>]+)''', re.IGNORECASE)
REPLY_SUBJECT = re.compile(r'^\s*(re|aw|sv|antw|fw|fwd|wg|tr)\s*:', re.I)


def fetch_body(message):
    """Fetch, sanitize and store the body of ``message`` (``cid:`` images pointed at stored attachments).

    :raise UserError: Outlook did not return the body (the reading pane shows why)
    """
    env = message.env
    stored = message.sudo()
    client = stored.account_id._graph_client()
    try:
        payload = client.get_message(stored.graph_id, body=True)
        body = mail.body_values(payload)['body_html']
        if CID_SRC.search(body):
            body = resolve_inline_images(stored, client, body)
    except errors.NotFound:
        raise UserError(env._('This message no longer exists in Outlook. The next sync removes it.')) from None
    except errors.GraphError as exc:
        raise UserError(env._('Outlook did not return the message body: %(error)s', error=exc.message)) from None
    stored.write({'body_html': sanitize_body(body), 'body_fetched_at': fields.Datetime.now()})
    if may_have_drifted(message):
        try:
            read_thread_headers(message, client)
        except errors.GraphError as exc:  # threading is a bonus: never fail opening a message for it
            _logger.info('MailDesk message %s: thread headers not read (%s)', message.id, exc.__class__.__name__)


def sanitize_body(body):
    """Odoo's sanitizer, strict: no scripts, event handlers, javascript: URLs, forms or unsafe styles."""
    cleaned = html_sanitize(body, sanitize_tags=True, sanitize_attributes=True, sanitize_style=True,
                            sanitize_form=True, strip_style=False, strip_classes=True)
    return Markup(cleaned or '')


def resolve_inline_images(message, client, body):
    """Store inline attachments as ``ir.attachment`` and point ``cid:`` sources at ``/web/content/<id>``."""
    urls = {attachment.maildesk_content_id: '/web/content/%s' % attachment.id
            for attachment in store_attachments(message, client, inline=True)
            if attachment.maildesk_content_id}

    def replace(match):
        url = urls.get(match.group(2).strip('<>'))
        return match.group(1) + url if url else match.group(0)
    return CID_SRC.sub(replace, body)


def download_attachments(message):
    """The message's file attachments, those not stored yet downloaded now (``message`` as superuser).

    :raise UserError: Outlook did not return them
    """
    client = message.account_id._graph_client()
    try:
        return store_attachments(message, client, inline=False)
    except errors.GraphError as exc:
        raise UserError(message.env._('Outlook did not return the attachments: %(error)s',
                                      error=exc.message)) from None


def store_attachments(message, client, inline):
    """Fetch this message's file attachments (the inline ones, or the others) that are not stored yet.

    One request lists them, one more per attachment not stored yet. Already stored ones are reused.
    :return: the ``ir.attachment`` records, stored before or now
    """
    message.ensure_one()
    Attachment = message.env['ir.attachment'].sudo()
    known = {a.maildesk_graph_id: a for a in Attachment.search([
        ('res_model', '=', message._name), ('res_id', '=', message.id), ('maildesk_graph_id', '!=', False)])}
    result = Attachment
    for meta in client.list_attachments(message.graph_id):
        if not _is_file_attachment(meta) or bool(meta.get('isInline')) != inline:
            continue
        attachment = known.get(meta['id'])
        if not attachment:
            if inline:  # the JSON form carries the contentId the body refers to
                full = client.get_attachment(message.graph_id, meta['id'])
                data, content_id = _decode_bytes(full.get('contentBytes')), full.get('contentId')
            else:
                data, content_id = client.get_attachment_bytes(message.graph_id, meta['id']), None
            attachment = Attachment.create(attachment_values(message, meta, data, content_id))
            message.attachment_ids = [fields.Command.link(attachment.id)]
        result |= attachment
    return result


def attachment_values(message, meta, data, content_id):
    content_id = mail.clean_text(content_id, 1024).strip().strip('<>').strip()
    return {
        'name': mail.clean_text(meta.get('name'), 255) or message.env._('attachment'),
        'raw': data or b'',
        'mimetype': mail.clean_text(meta.get('contentType'), 255) or 'application/octet-stream',
        'res_model': message._name,
        'res_id': message.id,
        'maildesk_graph_id': meta['id'],
        'maildesk_content_id': content_id or False,
    }


def may_have_drifted(message):
    """A reply alone in its conversation: the only case where its headers may find a thread Outlook lost.
    Everything else costs no request."""
    if message.in_reply_to or message.references or not REPLY_SUBJECT.match(message.subject or ''):
        return False
    others = [('internet_message_id', '!=', message.internet_message_id)] if message.internet_message_id else \
        [('id', '!=', message.id)]
    return not message.search_count(message._conversation_domain() + others, limit=1)


def read_thread_headers(message, client):
    """Read In-Reply-To / References from Graph (``internetMessageHeaders`` is only returned when selected) and
    join the conversation they point to."""
    if message._maildesk_in_outlook():
        item = client.get_message(message.graph_id, body=False, select=('id', 'internetMessageHeaders'))
        values = threads.header_values(item.get('internetMessageHeaders'))
        if values:
            message.sudo().write(values)
    threads.link_threads(message)


def _decode_bytes(raw):
    try:
        return base64.b64decode(raw) if isinstance(raw, str) else b''
    except ValueError:
        return b''


def _is_file_attachment(meta):
    odata_type = str(meta.get('@odata.type') or '#microsoft.graph.fileAttachment').lower()
    return isinstance(meta.get('id'), str) and odata_type == '#microsoft.graph.fileattachment'
