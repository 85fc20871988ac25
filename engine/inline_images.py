"""Images in a draft's body sent inline (``cid:``), not as links.

Odoo's html editor keeps a pasted or dropped image as a ``data:`` URL until the form is saved, then as an
``ir.attachment`` of the draft behind ``/web/image/<id>-<unique>/<name>?access_token=...`` (html_editor's
media plugin, ``saveB64Image``). Sent as it is, the recipient gets a link into this Odoo (or nothing: most mail
clients drop ``data:`` images). Outlook sends an inline image as a ``fileAttachment`` with ``isInline: true``
and a ``contentId`` that the HTML body names as ``<img src="cid:contentId">``
(learn.microsoft.com/graph/api/resources/fileattachment; learn.microsoft.com/graph/api/resources/attachmentitem:
"The CID or Content-Id of the attachment for referencing [...] using <img src="cid:contentId"> tag in HTML
messages").

Only images the author may read leave: an attachment named in a ``src`` is read with the author's rights
(``ir.attachment``'s own check: the access to its record), never as superuser; an image that fails the check,
is not an image or is too large for one attachment request stays as it was (a link).
"""
import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from lxml import etree, html

from odoo.exceptions import AccessError, MissingError

from ..graph.outgoing import SMALL_ATTACHMENT_LIMIT

DATA_URL_RE = re.compile(r'^data:(image/[\w.+-]+);base64,(.*)$', re.I | re.S)
# /web/image/<id>, /web/image/<id>-<unique>/<name>, /web/content/<id>..., /web/image/ir.attachment/<id>/datas
LOCAL_PATH_RE = re.compile(r'^/web/(?:image|content)/(?:ir\.attachment/)?(\d+)(?:-[0-9a-f]+)?(?:/|$)', re.I)
EXTENSIONS = {'image/png': 'png', 'image/jpeg': 'jpg', 'image/gif': 'gif', 'image/webp': 'webp',
              'image/bmp': 'bmp', 'image/svg+xml': 'svg'}


@dataclass(frozen=True)
class InlineImage:
    """One image of the body, as :func:`graph.outgoing.file_attachment` takes it (with its content id)."""

    name: str
    content_type: str
    data: bytes
    content_id: str

    def as_file(self):
        return self.name, self.content_type, self.data, self.content_id


def inline_body(env, author, body_html, base_url=''):
    """The body with each readable image's ``src`` replaced by ``cid:<contentId>``, and those images.

    :param author: the ``res.users`` whose rights decide which attachments may be read
    :param base_url: this Odoo's own URL (an absolute link to it counts as local)
    :return: ``(body_html, [InlineImage])``; the body unchanged (same string) when no image was inlined
    """
    if not body_html or '<img' not in body_html:
        return body_html, []
    try:
        root = html.fragment_fromstring(body_html, create_parent='div')
    except (etree.ParserError, ValueError):
        return body_html, []
    images, by_key = [], {}
    own_host = urlsplit(base_url or '').netloc.lower()
    author_attachments = env['ir.attachment'].with_user(author)
    for img in root.iter('img'):
        src = (img.get('src') or '').strip()
        image = _data_url_image(src) or _attachment_image(author_attachments, src, own_host)
        if image is None:
            continue
        key = image.content_id
        if key not in by_key:
            by_key[key] = image
            images.append(image)
        img.set('src', 'cid:%s' % key)
    if not images:
        return body_html, []
    inner = (root.text or '') + ''.join(etree.tostring(child, encoding='unicode', method='html')
                                        for child in root)
    return inner, images


def _content_id(data):
    """The same image (pasted twice, or sent again on a retry) gets the same content id."""
    return 'image.%s@maildesk' % hashlib.sha256(data).hexdigest()[:20]


def _data_url_image(src):
    match = DATA_URL_RE.match(src)
    if not match:
        return None
    try:
        data = base64.b64decode(re.sub(r'\s+', '', match.group(2)), validate=True)
    except (binascii.Error, ValueError):
        return None
    if not data or len(data) >= SMALL_ATTACHMENT_LIMIT:
        return None
    content_type = match.group(1).lower()
    return InlineImage('image.%s' % EXTENSIONS.get(content_type, 'img'), content_type, data, _content_id(data))


def _attachment_image(attachments, src, own_host):
    """The image behind a link to this Odoo's ``/web/image`` or ``/web/content``, when the author may read it."""
    parts = urlsplit(src)
    if parts.scheme not in ('', 'http', 'https') or (parts.netloc and parts.netloc.lower() != own_host):
        return None
    match = LOCAL_PATH_RE.match(parts.path)
    attachment_id = int(match.group(1)) if match else None
    if attachment_id is None and parts.path.rstrip('/') in ('/web/image', '/web/content'):
        query = parse_qs(parts.query)
        if query.get('model', ['ir.attachment'])[0] == 'ir.attachment' and query.get('id', [''])[0].isdigit():
            attachment_id = int(query['id'][0])
    if not attachment_id:
        return None
    attachment = attachments.browse(attachment_id)
    try:
        if not attachment.exists():
            return None
        attachment.check('read')  # the author's rights on the attachment's record (or its creator's own file)
        if not (attachment.mimetype or '').startswith('image/') or attachment.type != 'binary':
            return None
        if attachment.file_size >= SMALL_ATTACHMENT_LIMIT:
            return None
        data = attachment.raw or b''
    except (AccessError, MissingError):
        return None
    if not data:
        return None
    name = attachment.name or 'image.%s' % EXTENSIONS.get(attachment.mimetype, 'img')
    return InlineImage(name, attachment.mimetype, data, _content_id(data))
