"""Microsoft Graph v1.0 mail surface for /me and /users/{id|address} (graph-api.md §1, §3, §4, §7, §10)."""
import bisect
import heapq
import re
from urllib.parse import quote, unquote, urlencode

from . import attachments, delta, graph_write, render
from .mailstore import FOLDER_PREFIX, WELL_KNOWN
from .util import GraphFail, Response, parse_iso

READ = ('mail.read', 'mail.readwrite')
WRITE = ('mail.readwrite',)
SEND = ('mail.send',)
_KEY_SEG = re.compile(r"^([A-Za-z$]+)\('(.*)'\)$")


class Ctx:
    """Everything a handler needs about one Graph request."""

    def __init__(self, app, req, mbx, link_base, caller=None):
        self.app = app
        self.store = app.store
        self.config = app.config
        self.req = req
        self.mbx = mbx                  # the mailbox the path names
        self.caller = caller or mbx     # the signed-in user whose token this is
        self.delegated = self.caller is not mbx
        self.query = req.query
        self.prefer = req.prefer()
        # graph-api.md §4.2 [IMMUT]: Prefer: IdType="ImmutableId" per request, parsed case-insensitively
        self.immutable = self.prefer.get('idtype', '').lower() == 'immutableid'
        bt = self.prefer.get('outlook.body-content-type', '').lower()
        # graph-api.md §4.2; without the Prefer header a body comes back in the format it is stored in: "some
        # emails are returned as html and others are text" (microsoftgraph/microsoft-graph-docs-contrib issue 664)
        self.body_pref = bt if bt in ('text', 'html') else None
        self.body_type = self.body_pref
        self.graph_url = app.graph_url
        self.link_base = link_base
        self.fresh_link = None


def split_path(path):
    """'/me/mailFolders('X')/messages' -> ['me','mailFolders','X','messages'] (OData key syntax accepted)."""
    out = []
    for raw in path.strip('/').split('/'):
        seg = unquote(raw)
        m = _KEY_SEG.match(seg)
        if m:
            out.extend([m.group(1), m.group(2)])
        elif seg:
            out.append(seg)
    return out


def route(segs):
    """-> (template, target, rest) where target is ('me',) or ('users', ref)."""
    if not segs:
        return None, None, None
    if segs[0].lower() == 'me':
        target, rest, prefix = ('me', None), segs[1:], '/me'
    elif segs[0].lower() == 'users' and len(segs) > 1:
        target, rest, prefix = ('users', segs[1]), segs[2:], '/users/{id}'
    else:
        return None, None, None
    tmpl = []
    for i, seg in enumerate(rest):
        prev = rest[i - 1].lower() if i else ''
        is_id = prev in ('mailfolders', 'childfolders', 'messages', 'attachments') and seg.lower() not in (
            'delta', 'createuploadsession')
        tmpl.append('{id}' if is_id else seg)
    return '/v1.0' + prefix + ('/' + '/'.join(tmpl) if tmpl else ''), target, rest


def need(ctx, scopes):
    # graph-api.md §2.4: 403 ErrorAccessDenied when the token lacks the permission (e.g. missing Mail.Read).
    # Another user's mailbox (/users/{other}/...) takes the .Shared permissions instead: Mail.Read.Shared,
    # Mail.ReadWrite.Shared, Mail.Send.Shared (permissions-reference#mail-permissions; without them 403
    # ErrorAccessDenied: microsoftgraph/microsoft-graph-explorer-v4 issue 3786, microsoft-graph-docs-contrib 4749)
    if ctx.delegated:
        scopes = tuple(s + '.shared' for s in scopes if s.startswith('mail.'))
    if not any(s in ctx.req.scopes for s in scopes):
        raise GraphFail(403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.')


def not_found():
    # graph-api.md §2.4: 404 ErrorItemNotFound
    return GraphFail(404, 'ErrorItemNotFound', 'The specified object was not found in the store., '
                                               'The process failed to get the correct properties.')


def get_folder(ctx, ref):
    folder = ctx.store.resolve_folder(ctx.mbx, ref)
    if folder is None:
        if ref.startswith(FOLDER_PREFIX) or ref.lower() in WELL_KNOWN:
            raise not_found()
        raise GraphFail(400, 'ErrorInvalidIdMalformed', 'Id is malformed.')
    return folder


def get_message(ctx, ref, folder=None):
    msg = ctx.store.find_message(ctx.mbx, ref)
    if msg is None or (folder is not None and msg.folder != folder.id):
        if not (ref.startswith(('AAkALgAA', 'AAMkAGI2'))):
            raise GraphFail(400, 'ErrorInvalidIdMalformed', 'Id is malformed.')
        raise not_found()
    return msg


def dispatch(ctx, method, rest):
    n = len(rest)
    low = [s.lower() for s in rest]
    if n == 0:
        if method != 'GET':
            raise GraphFail(405, 'Request_BadRequest', 'Unsupported method.')
        if ctx.delegated:
            # another user's directory object needs User.ReadBasic.All, which MailDesk never asks for
            # (api/user-get: "Permissions"); the directory's own 403 shape
            raise GraphFail(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.')
        need(ctx, ('user.read',))  # graph-api.md §7 [USER]: GET /me needs User.Read
        body = render.user_json(ctx.mbx)
        if ctx.mbx.address.lower() in [u.lower() for u in ctx.config.get('null_mail_users') or ()]:
            body['mail'] = None  # graph-api.md §7: mail is null for personal accounts; use userPrincipalName
        select = ctx.query.get('$select')
        if select:
            wanted = {s.strip().lower() for s in select.split(',')}
            body = {k: v for k, v in body.items() if k.lower() in wanted or k == 'id'}
        body['@odata.context'] = '%s/$metadata#users/$entity' % ctx.graph_url
        return body
    if low[0] == 'sendmail' and n == 1 and method == 'POST':
        need(ctx, SEND)
        return graph_write.send_mail(ctx)
    if low[0] == 'mailfolders':
        if n == 1:
            if method == 'POST':
                need(ctx, WRITE)
                return graph_write.create_folder(ctx, ctx.mbx.folders[ctx.mbx.wk['msgfolderroot']])
            need(ctx, READ)
            return list_folders(ctx, ctx.mbx.folders[ctx.mbx.wk['msgfolderroot']], 'mailFolders')
        if n == 2 and low[1] == 'delta':
            need(ctx, READ)
            return delta.folder_delta(ctx)
        folder = get_folder(ctx, rest[1])
        if n == 2:
            if method == 'PATCH':
                need(ctx, WRITE)
                return graph_write.update_folder(ctx, folder)
            if method == 'DELETE':
                need(ctx, WRITE)
                return graph_write.delete_folder(ctx, folder)
            need(ctx, READ)
            return render.folder_json(ctx.mbx, folder, render.parse_select(ctx.query.get('$select'), 'mailFolder'))
        if low[2] == 'childfolders' and n == 3:
            if method == 'POST':
                need(ctx, WRITE)
                return graph_write.create_folder(ctx, folder)
            need(ctx, READ)
            return list_folders(ctx, folder, 'mailFolders(\'%s\')/childFolders' % folder.id)
        if low[2] == 'childfolders' and n >= 4:
            return dispatch(ctx, method, ['mailFolders'] + rest[3:])
        if low[2] == 'messages':
            if n == 3:
                return messages_collection(ctx, method, folder)
            if n == 4 and low[3] == 'delta':
                need(ctx, READ)
                return delta.message_delta(ctx, folder)
            return message_routes(ctx, method, get_message(ctx, rest[3], folder), rest[4:])
    if low[0] == 'messages':
        if n == 1:
            return messages_collection(ctx, method, None)
        return message_routes(ctx, method, get_message(ctx, rest[1]), rest[2:])
    raise GraphFail(400, 'BadRequest', "Resource not found for the segment '%s'." % rest[0])


def messages_collection(ctx, method, folder):
    """``/messages`` of a folder (or of the whole mailbox): POST creates a draft there, GET lists."""
    if method == 'POST':
        need(ctx, WRITE)
        return graph_write.create_draft(ctx, folder)
    need(ctx, READ)
    return list_messages(ctx, folder)


def message_routes(ctx, method, msg, tail):
    low = [s.lower() for s in tail]
    if not tail:
        if method == 'GET':
            need(ctx, READ)
            return get_message_json(ctx, msg)
        if method == 'PATCH':
            need(ctx, WRITE)
            return graph_write.update_message(ctx, msg)
        if method == 'DELETE':
            need(ctx, WRITE)
            return graph_write.delete_message(ctx, msg)
    elif low == ['$value'] and method == 'GET':
        need(ctx, READ)
        # graph-api.md §4.4 [MIME]: $value returns the MIME content, not a message resource
        return Response(200, render.mime_bytes(msg), content_type='text/plain')
    elif low[0] == 'attachments':
        return attachments.attachment_routes(ctx, method, msg, tail[1:])
    elif len(tail) == 1 and method == 'POST':
        action = low[0]
        if action in ('move', 'copy', 'createreply', 'createreplyall', 'createforward'):
            need(ctx, WRITE)
        elif action in ('send', 'reply', 'replyall', 'forward'):
            need(ctx, SEND)
        return graph_write.action(ctx, msg, action)
    raise GraphFail(405, 'ErrorInvalidRequest', 'The OData request is not supported.')


def get_message_json(ctx, msg):
    body = render.message_json(msg, render.parse_select(ctx.query.get('$select')), ctx.immutable, ctx.body_type)
    body['@odata.context'] = '%s/$metadata#users(\'%s\')/messages/$entity' % (ctx.graph_url, quote(ctx.mbx.address))
    headers = {}
    if ctx.body_pref:
        # graph-api.md §4.2 [CSEND][MGET]: echo Preference-Applied: outlook.body-content-type="text"
        headers['Preference-Applied'] = 'outlook.body-content-type="%s"' % ctx.body_pref
    return Response(200, body, headers)


# -- listing (graph-api.md §1.11, §3) -----------------------------------------------------------------------------
def _int_param(ctx, name, default, lo, hi):
    raw = ctx.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < lo or value > hi:
        raise GraphFail(400, 'ErrorInvalidUrlQuery', "The value of '%s' must be between %d and %d." % (name, lo, hi))
    return value


def _next_link(ctx, path, skip):
    params = {k: v for k, v in ctx.query.items() if k != '$skip'}
    params['$skip'] = str(skip)
    return '%s/%s?%s' % (ctx.link_base, path, urlencode(params, quote_via=quote, safe="$'/:,()"))


def list_folders(ctx, parent, path):
    """graph-api.md §1.11 [LISTF][CHILDF]: immediate children, hidden ones only with includeHiddenFolders=true,
    default page 10 with a $skip nextLink."""
    mbx = ctx.mbx
    hidden = ctx.query.get('includeHiddenFolders', '').lower() == 'true'
    folders = [mbx.folders[f] for f in parent.children if hidden or not mbx.folders[f].hidden]
    flt = ctx.query.get('$filter')
    if flt:
        m = re.match(r"^\s*displayName\s+eq\s+'((?:[^']|'')*)'\s*$", flt, re.I)
        if not m:
            raise GraphFail(400, 'ErrorInvalidUrlQueryFilter', 'Unsupported folder filter.')
        folders = [f for f in folders if f.name == m.group(1).replace("''", "'")]
    top = _int_param(ctx, '$top', 10, 1, 1000)
    skip = _int_param(ctx, '$skip', 0, 0, 10 ** 9)
    select = render.parse_select(ctx.query.get('$select'), 'mailFolder')
    body = {'@odata.context': '%s/$metadata#users(\'%s\')/mailFolders' % (ctx.graph_url, quote(mbx.address)),
            'value': [render.folder_json(mbx, f, select) for f in folders[skip:skip + top]]}
    if skip + top < len(folders):
        body['@odata.nextLink'] = _next_link(ctx, path, skip + top)
    return body


_CLAUSE = re.compile(r"^\s*([A-Za-z/]+)\s+(eq|ne|ge|gt|le|lt)\s+(.+?)\s*$", re.I)
_ANY = re.compile(r"^\s*categories/any\(\s*(\w+)\s*:\s*\1\s+eq\s+'((?:[^']|'')*)'\s*\)\s*$", re.I)
_FILTER_PROPS = {'receiveddatetime': 'receivedDateTime', 'isread': 'isRead', 'isdraft': 'isDraft',
                 'hasattachments': 'hasAttachments', 'from/emailaddress/address': 'from',
                 'internetmessageid': 'internetMessageId', 'conversationid': 'conversationId',
                 'subject': 'subject', 'flag/flagstatus': 'flagStatus', 'importance': 'importance'}


def _split_and(text):
    parts, buf, quoted = [], [], False
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "'":
            quoted = not quoted
        if not quoted and text[i:i + 5].lower() == ' and ':
            parts.append(''.join(buf))
            buf = []
            i += 5
            continue
        buf.append(ch)
        i += 1
    parts.append(''.join(buf))
    return parts


def parse_list_filter(text):
    clauses = []
    for part in _split_and(text):
        m = _ANY.match(part)
        if m:
            clauses.append(('categories', 'any', m.group(2).replace("''", "'")))
            continue
        m = _CLAUSE.match(part)
        prop = _FILTER_PROPS.get(m.group(1).lower()) if m else None
        if prop is None:
            raise GraphFail(400, 'ErrorInvalidUrlQueryFilter', 'The query filter contains one or more invalid nodes.')
        op, raw = m.group(2).lower(), m.group(3)
        if prop == 'receivedDateTime':
            try:
                value = parse_iso(raw)
            except ValueError:
                raise GraphFail(400, 'BadRequest', "Invalid filter clause: '%s'." % raw) from None
        elif raw.lower() in ('true', 'false'):
            value = raw.lower() == 'true'
        elif raw.startswith("'") and raw.endswith("'"):
            value = raw[1:-1].replace("''", "'")
        else:
            raise GraphFail(400, 'BadRequest', "Invalid filter clause: '%s'." % raw)
        clauses.append((prop, op, value))
    return clauses


_OPS = {'eq': lambda a, b: a == b, 'ne': lambda a, b: a != b, 'ge': lambda a, b: a >= b,
        'gt': lambda a, b: a > b, 'le': lambda a, b: a <= b, 'lt': lambda a, b: a < b}
_VALUE = {'isRead': lambda m: m.is_read, 'isDraft': lambda m: m.is_draft,
          'hasAttachments': lambda m: graph_write.seed.has_attachments(m),
          'from': lambda m: m.sender[1].lower(), 'internetMessageId': lambda m: m.imid,
          'conversationId': lambda m: m.conv, 'subject': lambda m: m.subject,
          'flagStatus': lambda m: (m.flag or {}).get('flagStatus', 'notFlagged'), 'importance': lambda m: m.importance}


def list_messages(ctx, folder):
    """graph-api.md §3 [LISTMSG]: default page 10, $top 1-1000, $skip nextLinks, newest first by default."""
    q = ctx.query
    mbx = ctx.mbx
    top = _int_param(ctx, '$top', 10, 1, 1000)
    skip = _int_param(ctx, '$skip', 0, 0, 10 ** 9)
    select = render.parse_select(q.get('$select'))
    clauses = parse_list_filter(q['$filter']) if q.get('$filter') else []
    desc = True
    orderby = q.get('$orderby')
    if orderby:
        parts = orderby.split()
        if parts[0].lower() != 'receiveddatetime' or len(parts) > 2 or (
                len(parts) == 2 and parts[1].lower() not in ('asc', 'desc')):
            raise GraphFail(400, 'ErrorInvalidUrlQuery', 'Only $orderby=receivedDateTime [asc|desc] is emulated.')
        desc = len(parts) == 2 and parts[1].lower() == 'desc'
        if clauses and clauses[0][0] != 'receivedDateTime':
            # graph-api.md §3 [LISTMSG]: $orderby properties must lead the $filter, same order -> InefficientFilter
            raise GraphFail(400, 'InefficientFilter',
                            'The restriction or sort order is too complex for this operation.')
    if folder is not None:
        keys = folder.keys
    else:  # /me/messages: the whole mailbox incl. Deleted Items (graph-api.md §3)
        keys = list(heapq.merge(*[f.keys for f in mbx.folders.values()]))
    lo, hi = 0, len(keys)
    others = []
    for prop, op, value in clauses:
        if prop == 'receivedDateTime' and op in ('ge', 'gt', 'le', 'lt'):
            if op == 'ge':
                lo = max(lo, bisect.bisect_left(keys, (value, '')))
            elif op == 'gt':
                lo = max(lo, bisect.bisect_right(keys, (value, '\uffff')))
            elif op == 'le':
                hi = min(hi, bisect.bisect_right(keys, (value, '\uffff')))
            else:
                hi = min(hi, bisect.bisect_left(keys, (value, '')))
        else:
            others.append((prop, op, value))
    msgs = mbx.msgs
    seq = range(hi - 1, lo - 1, -1) if desc else range(lo, hi)
    if not others:
        picked = [msgs[keys[i][1]] for i in seq[skip:skip + top]]
        more = skip + top < len(seq)
    else:
        picked, seen, more = [], 0, False
        for i in seq:
            m = msgs[keys[i][1]]
            ok = True
            for prop, op, value in others:
                if prop == 'categories':
                    ok = value in m.categories
                elif prop == 'receivedDateTime':
                    ok = _OPS[op](m.received, value)
                else:
                    v = _VALUE[prop](m)
                    ok = _OPS[op](v, value.lower() if prop == 'from' and isinstance(value, str) else value)
                if not ok:
                    break
            if not ok:
                continue
            seen += 1
            if seen > skip + top:
                more = True
                break
            if seen > skip:
                picked.append(m)
    path = ('mailFolders(\'%s\')/messages' % folder.id) if folder is not None else 'messages'
    body = {'@odata.context': '%s/$metadata#users(\'%s\')/%s' % (ctx.graph_url, quote(mbx.address), path),
            'value': [render.message_json(m, select, ctx.immutable, ctx.body_type) for m in picked]}
    if more:
        body['@odata.nextLink'] = _next_link(ctx, path, skip + top)
    headers = {'Preference-Applied': 'outlook.body-content-type="%s"' % ctx.body_pref} if ctx.body_pref else {}
    return Response(200, body, headers)
