"""Bodies on open: a message's body is fetched from Graph once, sanitized, its inline images stored as attachments;
file attachments are downloaded on demand.

Sync stores metadata only. When a body is fetched for a reply alone in its conversation, its In-Reply-To /
References are read too (one small GET), so it can join the thread Outlook lost (see :mod:`engine.threads`).

A body never makes the reader's browser request anything from Odoo: :func:`confine_urls` keeps only the message's
own inline images, ``data:`` images and remote ``http(s)`` images of other hosts (which the body frame's CSP loads
only after "Show images"), when the body is stored and again each time it is shown.
"""
import base64
import contextlib
import logging
import re
from urllib.parse import urlsplit

import lxml.html
from markupsafe import Markup

from odoo import fields
from odoo.exceptions import UserError
from odoo.http import request
from odoo.tools.mail import html_sanitize

from ..graph import errors, mail
from . import threads

_logger = logging.getLogger(__name__)

CID_SRC = re.compile(r'''(src\s*=\s*["']?)cid:([^"'\s>]+)''', re.IGNORECASE)
REPLY_SUBJECT = re.compile(r'^\s*(re|aw|sv|antw|fw|fwd|wg|tr)\s*:', re.I)
INLINE_IMAGE_PATH = '/web/content/%d'
# Attributes through which an element fetches something (or sends a request: ping, action...). Only <img src> and
# <a>/<area> href survive confine_urls(), and only as it allows.
URL_ATTRIBUTES = frozenset({
    'src', 'srcset', 'href', 'xlink:href', 'background', 'poster', 'data', 'action', 'formaction', 'ping', 'lowsrc',
    'dynsrc', 'longdesc', 'cite', 'codebase', 'archive', 'classid', 'manifest', 'icon', 'usemap', 'imagesrcset',
    'profile', 'srcdoc',
})
# Elements that fetch (or navigate) by themselves: removed with their content.
FETCHING_ELEMENTS = frozenset({
    'link', 'meta', 'base', 'style', 'script', 'object', 'embed', 'iframe', 'frame', 'frameset', 'applet', 'portal',
    'bgsound', 'form', 'input', 'isindex', 'template', 'noscript',
})
STYLE_FETCH = re.compile(r'url\s*\(|image-set|image\s*\(|@import|expression\s*\(|src\s*\(|\\', re.I)
LINK_URL = re.compile(r'^(https?|mailto|tel):', re.I)
DATA_IMAGE = re.compile(r'^data:image/(png|gif|jpe?g|webp|bmp);base64,', re.I)
REMOTE_URL = re.compile(r'^https?://([^/?#\\]*)', re.I)
HOST_NAME = re.compile(r'^[a-z0-9_-]+(\.[a-z0-9_-]+)*$')
NUMERIC_LABEL = re.compile(r'^([0-9]+|0x[0-9a-f]*)$')  # WHATWG: a host ending in a number is an IPv4 address
URL_SPACES = ''.join(chr(code) for code in range(0x21))  # browsers strip these around a URL (and tab/newline in it)


# meeting mail's summary (when, where) comes with the body: its properties are selected by type cast
BODY_SELECT = mail.MESSAGE_SELECT + mail.MEETING_SELECT


def fetch_body(message):
    """Fetch, sanitize and store the body of ``message`` (``cid:`` images pointed at stored attachments).

    :raise UserError: Outlook did not return the body (the reading pane shows why)
    """
    stored = message.sudo()
    client = stored.account_id._graph_client()
    with _body_errors(message.env):
        payload = client.get_message(stored.graph_id, body=True, select=BODY_SELECT)
    store_body(message, client, payload)


def body_step(message, client):
    """The batch step of :func:`fetch_body`'s request (its answer goes to :func:`store_body`)."""
    return client.get_message_step(message.id, message.sudo().graph_id, body=True, select=BODY_SELECT)


@contextlib.contextmanager
def _body_errors(env):
    """Graph's refusal as the reading pane says it."""
    try:
        yield
    except errors.NotFound:
        raise UserError(env._('This message no longer exists in Outlook. The next sync removes it.')) from None
    except errors.GraphError as exc:
        raise UserError(env._('Outlook did not return the message body: %(error)s', error=exc.message)) from None


def store_body(message, client, payload):
    """Sanitize and store the body Graph returned for ``message`` (``payload``: the message with its body).

    :raise UserError: Outlook did not return its inline images
    """
    stored = message.sudo()
    with _body_errors(message.env):
        body = mail.body_values(payload)['body_html']
        if CID_SRC.search(body):
            body = resolve_inline_images(stored, client, body)
    stored.write(dict(mail.meeting_values(payload),
                      body_html=sanitize_body(body, inline_image_paths(stored), odoo_hosts(message.env)),
                      body_fetched_at=fields.Datetime.now()))
    if may_have_drifted(message):
        try:
            read_thread_headers(message, client)
        except errors.GraphError as exc:  # threading is a bonus: never fail opening a message for it
            _logger.info('MailDesk message %s: thread headers not read (%s)', message.id, exc.__class__.__name__)


def sanitize_body(body, inline_paths=(), hosts=()):
    """Odoo's sanitizer, strict (no scripts, event handlers, javascript: URLs, forms or unsafe styles), then
    :func:`confine_urls`."""
    cleaned = html_sanitize(body, sanitize_tags=True, sanitize_attributes=True, sanitize_style=True,
                            sanitize_form=True, strip_style=False, strip_classes=True)
    return confine_urls(cleaned, inline_paths, hosts)


def body_display(message):
    """What the body frame shows: ``{'body_html', 'inline_images'}``, the stored body confined again (a body
    stored before may hold anything) and the paths of its inline images, the only URLs its CSP allows before
    "Show images"."""
    paths = inline_image_paths(message)
    return {'body_html': confine_urls(message.body_html, paths, odoo_hosts(message.env)),
            'inline_images': sorted(paths)}


def inline_image_paths(message):
    return {INLINE_IMAGE_PATH % attachment.id for attachment in message.sudo().attachment_ids
            if attachment.maildesk_content_id}


def odoo_hosts(env):
    """The names this Odoo answers to (``web.base.url``, the request's host): a body never points at them."""
    urls = [env['ir.config_parameter'].sudo().get_param('web.base.url') or '']
    if request:
        urls.append('//%s' % request.httprequest.host)
    return {(urlsplit(url).hostname or '').rstrip('.') for url in urls} - {''}


def confine_urls(html, inline_paths=(), hosts=()):
    """``html`` with no URL that makes the reader's browser fetch anything from Odoo, nor from a relative, local
    or IP-literal address.

    Kept: ``<img src>`` = one of ``inline_paths`` (this message's stored inline images), a ``data:`` image, an
    unresolved ``cid:`` (inert), or a remote ``http(s)`` URL on a host name that is not in ``hosts`` nor
    ``localhost`` (the frame's CSP loads it only after "Show images"); ``<a>``/``<area>`` ``href`` to http(s),
    mailto: or tel: (followed on a click only, in a new tab). Every other URL attribute goes, and so do the
    elements that fetch by themselves (``<link>``, ``<meta>``, ``<style>``, ``<object>``...) and any inline
    style that could (``url()``, ``image-set``, ``@import``, escapes).
    """
    if not html:
        return Markup('')
    root = lxml.html.fragment_fromstring(str(html), create_parent='div')
    for element in list(root.iter()):
        if not isinstance(element.tag, str) or element is root:
            continue
        tag = element.tag.lower()
        if tag in FETCHING_ELEMENTS:
            element.drop_tree()
            continue
        for name, value in list(element.attrib.items()):
            name = name.lower()
            if name == 'style' and STYLE_FETCH.search(value):
                del element.attrib[name]
            elif name in URL_ATTRIBUTES:
                url = _clean_url(value)
                if _url_kept(tag, name, url, inline_paths, hosts):
                    element.set(name, url)
                else:
                    del element.attrib[name]
    return Markup(lxml.html.tostring(root, encoding='unicode')[len('<div>'):-len('</div>')])


def _clean_url(value):
    return re.sub(r'[\t\n\r]', '', value or '').strip(URL_SPACES)


def _url_kept(tag, attribute, url, inline_paths, hosts):
    if attribute == 'href' and tag in ('a', 'area'):
        return bool(LINK_URL.match(url))
    return attribute == 'src' and tag == 'img' and _image_allowed(url, inline_paths, hosts)


def _image_allowed(url, inline_paths, hosts):
    if url in inline_paths or DATA_IMAGE.match(url) or url.lower().startswith('cid:'):
        return True
    match = REMOTE_URL.match(url)
    if not match:
        return False  # relative (Odoo's origin), protocol-relative, another scheme, a malformed URL
    authority = match.group(1).rsplit('@', 1)[-1]
    host, _colon, port = authority.partition(':')
    host = host.lower().rstrip('.')
    if not HOST_NAME.match(host) or (port and not port.isdigit()):
        return False  # an IPv6 literal, %-escapes, non-ASCII (IDNA-mapped by browsers), no host
    if host in hosts or host == 'localhost' or host.endswith('.localhost'):
        return False
    return not NUMERIC_LABEL.match(host.rsplit('.', 1)[-1])


def resolve_inline_images(message, client, body):
    """Store inline attachments as ``ir.attachment`` and point ``cid:`` sources at ``/web/content/<id>``.

    The images already stored with their Content-ID (a routed message: the gateway linked those Odoo created from
    the MIME) are used as they are: nothing is downloaded nor stored again when they cover every ``cid:``."""
    urls = {attachment.maildesk_content_id: INLINE_IMAGE_PATH % attachment.id
            for attachment in message.attachment_ids if attachment.maildesk_content_id}
    if not {match.group(2).strip('<>') for match in CID_SRC.finditer(body)} <= set(urls):
        urls.update({attachment.maildesk_content_id: INLINE_IMAGE_PATH % attachment.id
                     for attachment in store_attachments(message, client, inline=True)
                     if attachment.maildesk_content_id})

    def replace(match):
        url = urls.get(match.group(2).strip('<>'))
        return match.group(1) + url if url else match.group(0)
    return CID_SRC.sub(replace, body)


def download_attachments(message):
    """The message's attachments, those not stored yet downloaded now (``message`` as superuser): files, attached
    messages (as ``.eml``) and cloud links (a URL, never fetched).

    :raise UserError: Outlook did not return them
    """
    client = message.account_id._graph_client()
    try:
        return store_attachments(message, client, inline=False)
    except errors.GraphError as exc:
        raise UserError(message.env._('Outlook did not return the attachments: %(error)s',
                                      error=exc.message)) from None


def store_attachments(message, client, inline):
    """Fetch this message's attachments (the inline images, or the others) that are not stored yet.

    One request lists them, one more per file or attached message not stored yet (an attached message is stored
    as its MIME, an ``.eml``: ``$value`` of an itemAttachment, learn.microsoft.com/graph/outlook-get-mime-message).
    A cloud link (referenceAttachment) costs no request and is never fetched: it is stored as a URL attachment,
    its ``sourceUrl`` (beta) or else the link of the same name in the body (v1.0 has no sourceUrl).
    Already stored ones are reused.
    :return: the ``ir.attachment`` records, stored before or now
    """
    message.ensure_one()
    Attachment = message.env['ir.attachment'].sudo()
    known = {a.maildesk_graph_id: a for a in Attachment.search([
        ('res_model', '=', message._name), ('res_id', '=', message.id), ('maildesk_graph_id', '!=', False)])}
    # and those the gateway linked from the record (named with their Outlook id once matched)
    known.update({a.maildesk_graph_id: a for a in message.attachment_ids.sudo() if a.maildesk_graph_id})
    result = Attachment
    for meta in client.list_attachments(message.graph_id):
        kind = mail.attachment_kind(meta)
        if kind is None or (kind == 'file' and bool(meta.get('isInline'))) != inline:
            continue
        attachment = known.get(meta['id'])
        if not attachment:
            if kind == 'reference':
                values = link_values(message, meta)
            elif inline:  # the JSON form carries the contentId the body refers to
                full = client.get_attachment(message.graph_id, meta['id'])
                values = attachment_values(message, meta, _decode_bytes(full.get('contentBytes')),
                                           full.get('contentId'))
                linked = _linked_inline(message, values['maildesk_content_id'])
                if linked:  # the gateway's copy (from the MIME): named, not stored twice
                    linked.maildesk_graph_id = meta['id']
                    result |= linked
                    continue
            else:
                data = client.get_attachment_bytes(message.graph_id, meta['id'])
                values = attachment_values(message, meta, data, None)
                if kind == 'item':
                    values.update(name=_eml_name(values['name']), mimetype=ATTACHED_MESSAGE_TYPE)
            attachment = Attachment.create(values)
            message.attachment_ids = [fields.Command.link(attachment.id)]
        result |= attachment
    return result


def _linked_inline(message, content_id):
    """The attachment linked to ``message`` with this Content-ID and no Outlook id yet (the gateway's), if any."""
    if not content_id:
        return message.env['ir.attachment']
    return message.attachment_ids.sudo().filtered(
        lambda attachment: attachment.maildesk_content_id == content_id and not attachment.maildesk_graph_id)[:1]


ATTACHED_MESSAGE_TYPE = 'message/rfc822'
FILE_NAME_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\]+')


def attachment_values(message, meta, data, content_id):
    content_id = mail.clean_text(content_id, 1024).strip().strip('<>').strip()
    return {
        'name': _file_name(meta.get('name')) or message.env._('attachment'),
        'raw': data or b'',
        'mimetype': mail.clean_text(meta.get('contentType'), 255) or 'application/octet-stream',
        'res_model': message._name,
        'res_id': message.id,
        'maildesk_graph_id': meta['id'],
        'maildesk_content_id': content_id or False,
    }


def link_values(message, meta):
    """A cloud link as a URL attachment; without a safe http(s) URL it keeps only its name (shown, not a link)."""
    name = _file_name(meta.get('name')) or message.env._('link')
    url = mail.link_url(meta.get('sourceUrl')) or _link_in_body(message, name)
    return {'name': name, 'type': 'url', 'url': url or False, 'mimetype': 'text/uri-list',
            'res_model': message._name, 'res_id': message.id, 'maildesk_graph_id': meta['id']}


def _link_in_body(message, name):
    """The http(s) link of the stored (sanitized) body whose text is ``name``, else ''."""
    if not message.body_html:
        return ''
    root = lxml.html.fragment_fromstring(str(message.body_html), create_parent='div')
    wanted = ' '.join(name.split()).casefold()
    for link in root.iter('a'):
        if ' '.join(link.text_content().split()).casefold() == wanted and mail.link_url(link.get('href')):
            return mail.link_url(link.get('href'))
    return ''


def _file_name(name):
    """A file name to store and offer for download: no path separators or control characters, bounded length."""
    return ' '.join(FILE_NAME_UNSAFE.sub(' ', mail.clean_text(name, 255)).split())


def _eml_name(name):
    return name if name.lower().endswith('.eml') else name[:250] + '.eml'


def attachment_rows(message):
    """The reading pane's attachments stored so far (inline images are part of the body): files, attached
    messages (``kind`` 'message', an .eml) and cloud links (``kind`` 'link', with the URL only when it is http(s))."""
    rows = []
    for attachment in message.sudo().attachment_ids:
        if attachment.maildesk_content_id:
            continue
        row = {'id': attachment.id, 'name': attachment.name, 'mimetype': attachment.mimetype,
               'size': attachment.file_size, 'kind': 'file', 'url': False}
        if attachment.type == 'url':
            row.update(kind='link', size=0, url=mail.link_url(attachment.url) or False)
        elif attachment.mimetype == ATTACHED_MESSAGE_TYPE:
            row['kind'] = 'message'
        rows.append(row)
    return rows


def meeting_summary(message):
    """The invitation's summary shown above the body of meeting mail, or False: what (its type), when, where, and
    who (the organizer for a request or a cancellation, the attendee for a response -- the sender either way)."""
    if not message.meeting_type:
        return False
    labels = dict(message._fields['meeting_type']._description_selection(message.env))
    response = message.meeting_type in ('meetingAccepted', 'meetingTentativelyAccepted', 'meetingDeclined')
    person = {'name': message.from_name or message.from_address or '', 'address': message.from_address or ''}
    return {
        'type': message.meeting_type,
        'label': labels.get(message.meeting_type, ''),
        'start': fields.Datetime.to_string(message.meeting_start) or False,
        'end': fields.Datetime.to_string(message.meeting_end) or False,
        'all_day': message.meeting_all_day,
        'location': message.meeting_location or '',
        'organizer': False if response else person,
        'attendee': person if response else False,
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
