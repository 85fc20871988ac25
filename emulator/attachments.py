"""Attachments and large-attachment upload sessions (graph-api.md §4.5)."""
import random

from . import render, seed
from .graph_write import ATTACH_LIMIT, _bad, _check_size, _finish_atts, _json, _materialize_atts, _new_attachment
from .util import GraphFail, Response, iso, now


def attachment_routes(ctx, method, msg, tail):
    from .graph_api import READ, WRITE, need
    low = [s.lower() for s in tail]
    if not tail:
        if method == 'POST':
            need(ctx, WRITE)
            att = _new_attachment(_json(ctx))
            atts = _materialize_atts(msg)
            atts.append(att)
            _finish_atts(msg)
            _check_size(ctx, msg)
            ctx.store.update(ctx.mbx, msg, {}, props=('hasAttachments',))
            return Response(201, render.attachment_json(att))
        need(ctx, READ)
        return {'@odata.context': '%s/$metadata#Collection(attachment)' % ctx.graph_url,
                'value': [render.attachment_json(a) for a in seed.attachments(msg)]}
    if low == ['createuploadsession'] and method == 'POST':
        need(ctx, WRITE)
        return ctx.app.uploads.create(ctx, msg, _json(ctx))
    att = next((a for a in seed.attachments(msg) if a['id'] == tail[0]), None)
    if att is None:
        raise GraphFail(404, 'ErrorItemNotFound', 'The specified object was not found in the store.')
    if len(tail) == 1 and method == 'GET':
        need(ctx, READ)
        return render.attachment_json(att)
    if len(tail) == 1 and method == 'DELETE':
        need(ctx, WRITE)
        _materialize_atts(msg)
        msg.atts = [a for a in msg.atts if a['id'] != att['id']]
        ctx.store.update(ctx.mbx, msg, {}, props=('hasAttachments',))
        return Response(204)
    if low[1:] == ['$value'] and method == 'GET':
        need(ctx, READ)
        if att.get('kind') == 'reference':
            # "Get the raw contents of a file or item attachment" (attachment-get): not of a cloud link
            raise GraphFail(400, 'ErrorInvalidRequest', 'The raw content of a reference attachment cannot be '
                            'retrieved.')
        if att.get('kind') == 'item':
            # graph-api.md §12 / attachment-get: $value of an itemAttachment is the attached message's MIME
            return Response(200, render.att_data(att), content_type='message/rfc822')
        return Response(200, att['data'], content_type=att['contentType'])  # graph-api.md §4.4: raw bytes
    raise GraphFail(405, 'ErrorInvalidRequest', 'The OData request is not supported.')


class Uploads:
    """Pre-authenticated upload sessions: PUT {base}/upload/{token} without Authorization (graph-api.md §4.5)."""

    def __init__(self, app):
        self.app = app
        self.sessions = {}

    def create(self, ctx, msg, data):
        item = data.get('AttachmentItem') or data.get('attachmentItem') or {}
        size = int(item.get('size') or 0)
        if size < ATTACH_LIMIT:
            # graph-api.md §2.4 [LARGE]: upload session for a file < 3 MB
            raise _bad('Attachment size should not be less than the minimum size of 3 MB for upload sessions.',
                       'ErrorAttachmentSizeShouldNotBeLessThanMinimumSize')
        if size > ctx.config['max_message_size']:
            raise GraphFail(413, 'ErrorMessageSizeExceeded', 'The message exceeds the maximum supported size.')
        sid = ''.join(random.choice('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789')
                      for _ in range(40))
        self.sessions[sid] = {'mbx': ctx.mbx, 'core': msg.core, 'size': size, 'buf': bytearray(),
                              'name': item.get('name') or 'attachment', 'isInline': bool(item.get('isInline')),
                              'contentType': item.get('contentType') or 'application/octet-stream',
                              'contentId': item.get('contentId'), 'expires': now() + 86400}
        return Response(201, {'@odata.context': '%s/$metadata#microsoft.graph.uploadSession' % ctx.graph_url,
                              'uploadUrl': '%s/upload/%s' % (self.app.base_url, sid),
                              'expirationDateTime': iso(now() + 86400), 'nextExpectedRanges': ['0-']})

    def handle(self, req, sid):
        sess = self.sessions.get(sid)
        if sess is None or sess['expires'] < now():
            return GraphFail(404, 'ErrorItemNotFound', 'The upload session was not found.')
        if req.header('Authorization'):
            # graph-api.md §4.5 [LARGE]: the uploadUrl is pre-authenticated; do not send an Authorization header
            return GraphFail(401, 'InvalidAuthenticationToken', 'Do not send an Authorization header to an '
                                                                'upload session URL.')
        if req.method == 'DELETE':
            del self.sessions[sid]
            return Response(204)
        if req.method != 'PUT':
            return GraphFail(405, 'ErrorInvalidRequest', 'Use PUT.')
        rng = (req.header('Content-Range') or '').replace('bytes', '').strip()
        try:
            span, total = rng.split('/')
            start, end = (int(x) for x in span.split('-'))
            total = int(total)
        except ValueError:
            return GraphFail(400, 'invalidRange', 'Missing or malformed Content-Range header.')
        if total != sess['size'] or start != len(sess['buf']) or end - start + 1 != len(req.body) or end >= total:
            return GraphFail(416, 'invalidRange', 'Uploaded fragment overlaps with existing data.')  # §2.1 [ERR]
        limit = self.app.config.get('max_upload_range')
        if limit and len(req.body) >= limit:
            # graph-api.md §12: "iteratively upload ranges of bytes (up to 4 MB each time)" (attachment:
            # createUploadSession) - a range of 4 MB or more is refused
            return GraphFail(413, 'RequestEntityTooLarge', 'The uploaded fragment is too large; upload ranges of '
                             'less than 4 MB.')
        sess['buf'] += req.body
        if len(sess['buf']) < total:
            return Response(200, {'expirationDateTime': iso(sess['expires']),
                                  'nextExpectedRanges': ['%d-' % len(sess['buf'])]})
        del self.sessions[sid]
        store, mbx = self.app.store, sess['mbx']
        with store.lock:
            msg = mbx.msgs.get(sess['core'])
            if msg is None:
                return GraphFail(404, 'ErrorItemNotFound', 'The message was deleted.')
            atts = _materialize_atts(msg)
            att = {'name': sess['name'], 'contentType': sess['contentType'], 'isInline': sess['isInline'],
                   'contentId': sess['contentId'], 'data': bytes(sess['buf'])}
            atts.append(att)
            _finish_atts(msg)
            store.update(mbx, msg, {}, props=('hasAttachments',))
        location = "%s/users('%s')/messages('%s')/attachments('%s')" % (
            self.app.graph_url, mbx.oid, render.message_id(msg, True), att['id'])
        return Response(201, b'', {'Location': location})
