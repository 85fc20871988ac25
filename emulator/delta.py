"""Message delta per folder and mailFolders delta (graph-api.md §1).

Tokens are sealed (opaque, HMAC'd) dicts: k = 'i' initial-round page, 'c' change-round page, 'd' deltaLink,
'f' = folder round state; w = watermark (mailbox seq at round start); g = token generation (for expiry).
Cost grows with changes, not folder size: a change round bisects the folder's change log at the watermark.
"""
import bisect
import random

from . import render
from .mailstore import folder_at
from .util import GraphFail, now, parse_iso

DEFAULT_PAGE = 10       # graph-api.md §1.3: observed default 10 items/page without Prefer: odata.maxpagesize
MAX_PAGE = 1000
FILTER_CAP = 5000       # graph-api.md §1.2 [DQM]: $filter in a delta returns at most 5,000 messages
GONE_MESSAGES = {
    # graph-api.md §1.8: observed Outlook bodies / ERR codes for an expired or reset sync state
    'SyncStateNotFound': 'The sync state generation is not found; generation=149;[highest=157][157][155][156].',
    'syncStateNotFound': 'The sync state generation is not found; delta token expired, resync required.',
    'resyncRequired': 'Resync is required as the delta token is no longer valid.',
    'ResyncRequired': 'Resync is required as the delta token is no longer valid.',
    'SyncStateInvalid': 'The sync state is invalid. A new synchronization is required.',
}


def page_size(ctx):
    # graph-api.md §1.3 [MDELTA]: Prefer: odata.maxpagesize={x}; $top does NOT set the delta page size (§1.2)
    raw = ctx.prefer.get('odata.maxpagesize')
    if raw:
        try:
            return max(1, min(MAX_PAGE, int(raw)))
        except ValueError:
            raise GraphFail(400, 'BadRequest', "Invalid value for Prefer header 'odata.maxpagesize'.") from None
    return DEFAULT_PAGE


def parse_delta_filter(text):
    """graph-api.md §1.2 [DQM]: only `receivedDateTime ge X` / `receivedDateTime gt X` on message delta."""
    if not text:
        return None
    parts = text.split()
    if len(parts) != 3 or parts[0].lower() != 'receiveddatetime' or parts[1].lower() not in ('ge', 'gt'):
        raise GraphFail(400, 'ErrorInvalidUrlQueryFilter',
                        'The query filter contains one or more invalid nodes. Only receivedDateTime ge|gt '
                        'is supported on message delta.')
    try:
        return [parts[1].lower(), parse_iso(parts[2])]
    except ValueError:
        raise GraphFail(400, 'BadRequest',
                        "Invalid filter clause: '%s' is not a valid DateTimeOffset." % parts[2]) from None


def _check_state(ctx, state, folder_id):
    mbx = ctx.mbx
    if state is None:
        # graph-api.md §1.8: ruby_outlook maps HTTP 400 "Badly formed token" to a bad sync token
        raise GraphFail(400, 'BadRequest', 'Badly formed token.')
    if state.get('_stale'):
        # a token from an earlier emulator process: its sync state is gone (graph-api.md §1.8)
        raise GraphFail(410, 'SyncStateNotFound', GONE_MESSAGES['SyncStateNotFound'], {'Location': ctx.fresh_link})
    if state.get('m') != mbx.idx or state.get('f') != folder_id:
        raise GraphFail(410, 'SyncStateInvalid', GONE_MESSAGES['SyncStateInvalid'], {'Location': ctx.fresh_link})
    for key in (folder_id, '*'):
        cutoff = mbx.delta_expired.get(key)
        if cutoff and state['g'] <= cutoff[0]:
            # graph-api.md §1.8 [DQO]: expired token -> 410 Gone + Location of a fresh (empty-token) delta URL
            raise GraphFail(410, cutoff[1], GONE_MESSAGES.get(cutoff[1], cutoff[1]), {'Location': ctx.fresh_link})
    ttl = ctx.config.get('delta_token_ttl')
    if ttl and now() - state['t'] > ttl:
        raise GraphFail(410, 'SyncStateNotFound', GONE_MESSAGES['SyncStateNotFound'], {'Location': ctx.fresh_link})
    link_ttl = ctx.config.get('delta_link_ttl')
    if link_ttl and state.get('k') == 'd' and now() - state['t'] > link_ttl:
        # graph-api.md §1.8 / §12 (realistic): Outlook evicts sync states - an old deltaLink answers 410
        raise GraphFail(410, 'SyncStateNotFound', GONE_MESSAGES['SyncStateNotFound'], {'Location': ctx.fresh_link})
    if (ctx.config.get('stale_nextlinks') and 'rid' in state and state['k'] in ('i', 'c')
            and state.get('pi', 0) < ctx.mbx.round_pages.get(state['rid'], 0)):
        # graph-api.md §1.8 (observed, opt-in): older nextLinks of a round turn SyncStateNotFound once later
        # pages were fetched
        raise GraphFail(410, 'SyncStateNotFound', GONE_MESSAGES['SyncStateNotFound'], {'Location': ctx.fresh_link})
    if ctx.config.get('strict_idtype_tokens') and state.get('im') != ctx.immutable:
        # graph-api.md §1.8: corso hit SyncStateInvalid replaying a link made with another IdType (opt-in)
        raise GraphFail(410, 'SyncStateInvalid', GONE_MESSAGES['SyncStateInvalid'], {'Location': ctx.fresh_link})


def _seal(ctx, state):
    state = dict(state)
    ctx.store.token_gen += 1
    state['g'] = ctx.store.token_gen
    if 'rid' in state and state['k'] in ('i', 'c'):  # a nextLink: remember the newest page of this round
        state['pi'] = state.get('pi', 0) + 1
        ctx.mbx.round_pages[state['rid']] = state['pi']
    state['t'] = now()
    return ctx.store.sealer.seal(state)


def _take_quirk(ctx, name, folder_id):
    quirks = ctx.mbx.quirks
    q = quirks.get(name)
    if q and q['count'] > 0 and q.get('folder') in (None, folder_id):
        q['count'] -= 1
        return q.get('n', 1)
    return 0


def message_delta(ctx, folder):
    q = ctx.query
    base = '%s/mailFolders(\'%s\')/messages/delta' % (ctx.link_base, folder.id)
    ctx.fresh_link = base
    token = q.get('$skiptoken') or q.get('$deltatoken')
    if token:
        # graph-api.md §1.2: options given on the initial request live in the token; later calls replay the link
        state = ctx.store.sealer.open(token)
        _check_state(ctx, state, folder.id)
    else:
        if '$search' in q:
            raise GraphFail(400, 'ErrorInvalidUrlQuery', '$search is not supported on delta queries.')  # §1.2
        orderby = (q.get('$orderby') or '').strip()
        if orderby and ' '.join(orderby.lower().split()) != 'receiveddatetime desc':
            # graph-api.md §1.2 [MDELTA]: only receivedDateTime desc is honoured on message delta
            raise GraphFail(400, 'ErrorInvalidUrlQuery', 'Only $orderby=receivedDateTime desc is supported.')
        top = q.get('$top')
        ct = q.get('changeType')
        if ct and ct not in ('created', 'updated', 'deleted'):
            raise GraphFail(400, 'BadRequest', "Invalid changeType '%s'." % ct)
        state = {'k': 'i', 'm': ctx.mbx.idx, 'f': folder.id, 'w': ctx.mbx.seq, 'c': None, 'n': 0,
                 'rid': ctx.store.token_gen + 1,
                 's': render.parse_select(q.get('$select')), 'fl': parse_delta_filter(q.get('$filter')),
                 'o': bool(orderby), 'tp': int(top) if top and top.isdigit() and int(top) > 0 else None,
                 'ct': ct, 'im': ctx.immutable}
        if top is not None and state['tp'] is None:
            raise GraphFail(400, 'BadRequest', "Invalid value '%s' for $top." % top)
    size = page_size(ctx)
    if state['k'] == 'd':
        # a new change round: everything logged in (watermark, now]; r = replayed log entries (§1.7 [DQO])
        state = dict(state, k='c', u=ctx.mbx.seq, c=0, t0=state['t'], r=_take_quirk(ctx, 'replay', folder.id),
                     rid=ctx.store.token_gen + 1, pi=0)
    rng = _page_rng(ctx, state)
    if _take_quirk(ctx, 'empty_pages', folder.id) or (
            rng.random() < float(ctx.config.get('delta_empty_page_share') or 0) and state.get('e', 0) < 3):
        # graph-api.md §1.3 [DQO]: a nextLink means more pages even if the current page is empty (realistic:
        # now and then, at most 3 in a row; microsoftgraph/microsoft-graph-docs-contrib issue 1316)
        return _page(ctx, [], base + '?$skiptoken=' + _seal(ctx, dict(state, e=state.get('e', 0) + 1)), None)
    state = dict(state, e=0)
    if ctx.config.get('delta_page_jitter') and size > 1:
        # "The number of objects in each page can vary" (delta-query-overview): at most maxpagesize, often fewer
        size = rng.randint(max(1, size // 2), size)
    replay = 0
    if state.get('pi') and size > 1 and rng.random() < float(ctx.config.get('delta_replay_share') or 0):
        replay = rng.randint(1, min(2, size - 1))  # replays: the page starts again with what the last one sent
    dup = rng.random() < float(ctx.config.get('delta_duplicate_share') or 0)
    if state['k'] == 'i':
        return _initial_page(ctx, folder, state, size, base, replay, dup, rng)
    return _change_page(ctx, folder, state, size, base, replay, dup, rng)


def _page_rng(ctx, state):
    """Deterministic per page: the same link always gives the same page (a retried request sees no new quirk)."""
    return random.Random('delta:%s:%s:%s:%s:%s' % (ctx.store.seed, ctx.mbx.idx, state.get('f'), state.get('rid'),
                                                   state.get('pi', 0)))


def _duplicate(value, rng):
    """graph-api.md §1.7 [DQO]: the same item can appear twice in one response."""
    if value:
        value.insert(rng.randint(0, len(value)), dict(value[rng.randrange(len(value))]))


def _matches(state, msg):
    fl = state['fl']
    if fl is None:
        return True
    return msg.received >= fl[1] if fl[0] == 'ge' else msg.received > fl[1]


def _render(ctx, state, msg, only=None):
    return render.message_json(msg, state['s'], ctx.immutable, ctx.body_type, odata_type=True, only=only)


def _initial_page(ctx, folder, state, size, base, replay=0, dup=False, rng=None):
    """graph-api.md §1.6 [DQO]: the initial round returns the items currently present (no change type)."""
    keys = folder.keys
    if state.get('end'):
        # graph-api.md §1.2 (observed): after $top items the nextLink yields an empty page with a deltaLink
        return _finish(ctx, state, [], base)
    cap = state['tp'] or 10 ** 12
    if state['fl'] is not None:
        cap = min(cap, FILTER_CAP)
    fl = state['fl']
    lo = 0
    if fl is not None:
        lo = bisect.bisect_left(keys, (fl[1], '')) if fl[0] == 'ge' else bisect.bisect_right(keys, (fl[1], '\uffff'))
    replay = (_take_quirk(ctx, 'replay', folder.id) or replay) if state['c'] else 0  # nothing to replay on page 1
    want = max(0, min(size, cap - state['n']))
    replay = min(replay, max(0, want - 1))  # a page always makes progress
    c = tuple(state['c']) if state['c'] else None
    if state['o']:  # newest first ($orderby=receivedDateTime desc)
        hi = bisect.bisect_left(keys, c) if c else len(keys)
        if replay and c:
            hi = min(len(keys), hi + replay)  # graph-api.md §1.7 [DQO]: replays - re-emit already-sent items
        start = max(lo, hi - want)
        chunk = keys[start:hi][::-1]
        more = start > lo
    else:           # "the return order is not guaranteed" (§1.2): oldest first here
        start = bisect.bisect_right(keys, c) if c else lo
        if replay and c:
            start = max(lo, start - replay)
        chunk = keys[start:start + want]
        more = start + want < len(keys)
    msgs = ctx.mbx.msgs
    value = [_render(ctx, state, msgs[core]) for _, core in chunk]
    if value and _take_quirk(ctx, 'duplicates', folder.id):
        value.append(dict(value[0]))  # graph-api.md §1.7: the same item can appear twice in a response
    elif dup:
        _duplicate(value, rng)
    state = dict(state, n=state['n'] + len(value))
    if chunk:
        state['c'] = list(chunk[-1])
    if more and state['n'] >= cap:
        if state['tp'] and state['n'] >= state['tp']:
            state['end'] = True
            return _page(ctx, value, base + '?$skiptoken=' + _seal(ctx, state), None)
        more = False  # $filter cap reached: the round ends
    if more:
        return _page(ctx, value, base + '?$skiptoken=' + _seal(ctx, state), None)
    return _finish(ctx, state, value, base)


def _finish(ctx, state, value, base):
    done = {'k': 'd', 'm': state['m'], 'f': state['f'], 'w': state.get('u', state['w']), 's': state['s'],
            'fl': state['fl'], 'o': state['o'], 'tp': None, 'ct': state['ct'], 'im': state.get('im')}
    return _page(ctx, value, None, base + '?$deltatoken=' + _seal(ctx, done))


def changed_cores(folder, since, upto, replay=0):
    """Distinct (core, gen, first gen) changed in (since, upto], ordered by their last change; O(changes) via
    bisect. ``first gen`` is the move generation of the core's oldest entry in the window (the regular id the
    client last saw, when the message left and came back)."""
    i0 = bisect.bisect_right(folder.log_seq, since)
    i1 = bisect.bisect_right(folder.log_seq, upto)
    i0 = max(0, i0 - replay)
    first = {}
    out = []
    cores, gens = folder.log_core, folder.log_gen
    for i in range(i1 - 1, i0 - 1, -1):
        core = cores[i]
        if core not in first:
            out.append((core, gens[i]))
        first[core] = gens[i]
    out.reverse()
    return [(core, gen, first[core]) for core, gen in out]


def _change_page(ctx, folder, state, size, base, replay=0, dup=False, rng=None):
    """graph-api.md §1.5/§1.6: present items (current representation, no change type) + @removed for leavers."""
    changes = changed_cores(folder, state['w'], state['u'], state.get('r', 0))
    offset = state['c']
    if replay and offset:
        offset = max(0, offset - min(replay, size - 1))  # replays (delta-query-overview)
    msgs = ctx.mbx.msgs
    value = []
    ct = state['ct']
    w = state['w']
    cfg = ctx.config
    while offset < len(changes) and len(value) < size:
        core, gen, first_gen = changes[offset]
        offset += 1
        msg = msgs.get(core)
        if msg is not None and msg.folder == folder.id:
            if (first_gen != msg.gen and not ctx.immutable and ct in (None, 'deleted')
                    and folder_at(msg, w) == folder.id):
                # regular ids: it left and came back under a new id - the id the client knew is gone
                value.append(render.removed_json(core, False, first_gen))
            if ct == 'deleted' or not _matches(state, msg):
                continue
            if ct == 'created' and msg.created < state['t0']:
                continue
            stayed = msg.entered <= w  # in this folder since before the round's watermark: an update
            if (not stayed and state.get('im') and cfg.get('delta_move_back_removed')
                    and folder_at(msg, w) == folder.id and msg.seq == msg.entered):
                # immutable ids, moved A -> B -> A since the last round: reported @removed in A and not again
                # until it changes (microsoftgraph/microsoft-graph-docs-contrib issue 72, graph-api.md §1.9)
                if ct in (None, 'deleted'):
                    value.append(render.removed_json(core, ctx.immutable, gen))
                continue
            if stayed and cfg.get('delta_sparse_updates'):
                changed = {p for p, seq in (msg.chg or {}).items() if seq > w}
                if changed:
                    # graph-api.md §1.6 / §12: an updated item is its id + at least the changed properties
                    # (delta-query-overview); a read toggle came back as id, isRead, parentFolderId only
                    # (microsoftgraph/microsoft-graph-docs issue 7776)
                    value.append(_render(ctx, state, msg, only=changed))
                    continue
            value.append(_render(ctx, state, msg))
        elif ct in (None, 'deleted'):
            value.append(render.removed_json(core, ctx.immutable, gen))
    if value and _take_quirk(ctx, 'duplicates', folder.id):
        value.append(dict(value[0]))
    elif dup:
        _duplicate(value, rng)
    state = dict(state, c=offset)
    if offset < len(changes):
        return _page(ctx, value, base + '?$skiptoken=' + _seal(ctx, state), None)
    return _finish(ctx, state, value, base)


def _page(ctx, value, next_link, delta_link):
    body = {'@odata.context': '%s/$metadata#Collection(message)' % ctx.graph_url}
    if next_link:
        body['@odata.nextLink'] = next_link
    if delta_link:
        body['@odata.deltaLink'] = delta_link
    body['value'] = value
    return body


# -- mailFolders/delta (graph-api.md §1.10) ---------------------------------------------------------------------
def _tree(mbx):
    """Observed (§1.10): folder delta enumerates the whole folder tree under msgfolderroot (hidden left out)."""
    out = []
    stack = list(reversed(mbx.folders[mbx.wk['msgfolderroot']].children))
    while stack:
        folder = mbx.folders[stack.pop()]
        if folder.hidden:
            continue
        out.append(folder)
        stack.extend(reversed(folder.children))
    return out


def folder_delta(ctx):
    q = ctx.query
    mbx = ctx.mbx
    base = '%s/mailFolders/delta' % ctx.link_base
    ctx.fresh_link = base
    token = q.get('$skiptoken') or q.get('$deltatoken')
    if token:
        state = ctx.store.sealer.open(token)
        _check_state(ctx, state, 'hierarchy')
    else:
        state = {'k': 'i', 'm': mbx.idx, 'f': 'hierarchy', 'w': mbx.seq, 'c': 0,
                 's': render.parse_select(q.get('$select'), 'mailFolder'), 'im': ctx.immutable}
    size = page_size(ctx)
    if state['k'] == 'd':
        state = dict(state, k='c', u=mbx.seq, c=0)
    if state['k'] == 'i':
        items = _tree(mbx)
        chunk = items[state['c']:state['c'] + size]
        value = [render.folder_json(mbx, f, state['s']) for f in chunk]
        more = state['c'] + size < len(items)
    else:
        i0 = bisect.bisect_right(mbx.hier_seq, state['w'])
        i1 = bisect.bisect_right(mbx.hier_seq, state['u'])
        fids = list(dict.fromkeys(reversed(mbx.hier_fid[i0:i1])))[::-1]
        chunk = fids[state['c']:state['c'] + size]
        value = []
        for fid in chunk:
            folder = mbx.folders.get(fid)
            if folder is None:
                value.append({'@odata.type': '#microsoft.graph.mailFolder', 'id': fid,
                              '@removed': {'reason': 'deleted'}})
            else:
                value.append(render.folder_json(mbx, folder, state['s']))
        more = state['c'] + size < len(fids)
    body = {'@odata.context': '%s/$metadata#Collection(mailFolder)' % ctx.graph_url}
    if more:
        body['@odata.nextLink'] = base + '?$skiptoken=' + _seal(ctx, dict(state, c=state['c'] + size))
    else:
        done = {'k': 'd', 'm': mbx.idx, 'f': 'hierarchy', 'w': state.get('u', state['w']), 's': state['s'],
                'im': state.get('im')}
        body['@odata.deltaLink'] = base + '?$deltatoken=' + _seal(ctx, done)
    body['value'] = value
    return body


__all__ = ['folder_delta', 'message_delta']
