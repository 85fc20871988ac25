"""One delta page of one (claimed, locked) folder: fetch first, then write.

A folder syncs with ONE mechanism, its message delta: an *initial round* (started without a link, newest first)
enumerates the folder page by page -- that is the progressive backfill -- and ends with a ``delta_link``; later
rounds GET the delta link and return only changes. ``next_link`` is the nextLink of the round in progress,
committed with the rows of each page, so a kill loses at most the page in flight. Both links are opaque.

Every Graph call of a page comes before its first write, so a Graph failure leaves nothing to undo.
"""
import concurrent.futures
import logging
import threading
import time

from odoo import fields
from odoo.tools import SQL

from ..graph import errors, mail
from .message_batch import NOTHING_STORED, MessageBatch, ids_by_graph_id, only_added, sweep_folder

_logger = logging.getLogger(__name__)


# Per page, at most this many single GETs complete what a delta page left open (a sparse item of a message
# MailDesk does not have; an @removed whose message may only have moved): the rest waits for the next round.
LOOKUPS_PER_PAGE = 100
# The first page of a round (the newest mail) is a small one, a first screen of the inbox list and more: it arrives
# and is stored in a fraction of the time of a full page, while the full page after it is fetched.
FIRST_PAGE_SIZE = 100
ROUND_PAGE_SLACK = 100  # pages a round may take beyond 10 per 1,000 messages before it counts as going nowhere


# Pages a run prefetched and did not store, kept for the next run of this process that claims the folder at that
# link: the backfill lane after the changes run that stored a folder's first page, a run after the one whose budget
# ended. Only complete answers of initial rounds are kept (no request in flight outlives its run: see SyncRun's
# mailbox slots; a page of changes a minute old would make a Sync now miss new mail).
HANDOFF_SECONDS = 60   # an older page is dropped: the next run asks Graph again
HANDOFF_PAGES = 4      # answers kept per process at most (each one page of 1,000 mapped messages at most, a few MB,
                       # after the empty pages before it)
# A prefetch that gets an empty page with a nextLink (Graph sends some, graph-api.md) fetches the next page at
# once, up to this many in a row: else that page's fetch would start only when the unit takes the empty one, and
# the sync would wait for it whole.
FOLLOW_EMPTY_PAGES = 3
_handoff = {}          # (database, folder id, link) -> (monotonic time it was kept, [(link, (page, delta)), ...])
_handoff_lock = threading.Lock()

# Open inboxes are told of a backfill's pages of older mail at most this often per folder (per process): each
# notice is a bus message, a new database connection for its NOTIFY, and a reload of every open inbox's folders
# and page, for mail older than what it shows. A round's first and last pages, and any page that changes or
# removes a stored message, are told at once.
BACKFILL_NOTICE_EVERY = 3  # seconds
_backfill_told = {}        # (database, folder id) -> monotonic time open inboxes were last told of the folder
_backfill_told_lock = threading.Lock()


class PagePrefetch:
    """Fetches (and maps) the next delta page of a folder in a background thread while the current page is stored:
    Graph I/O overlaps PostgreSQL's work. Reads only -- the page is stored by the unit that claims the folder at
    that link, with its rows and cursor in one transaction as always; a page this run does not store is handed to
    the next run of the process (:data:`HANDOFF_SECONDS`). A failed prefetch is forgotten: the unit asks Graph
    itself, with its own error handling and token refresh."""

    def __init__(self, dbname):
        self.dbname = dbname
        self._executor = None
        self._pending = {}  # (folder id, link) -> Future of [(link, (Page, Delta)), ...], the first one at link
        self._initial = set()  # (folder id, link) of pages of initial rounds: only those are handed over

    def start(self, client, folder, link):
        if (folder.id, link) in self._pending:
            return
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix='maildesk-prefetch')
        self._pending[(folder.id, link)] = self._executor.submit(
            _prefetch_pages, client.without_refresh(), folder.graph_id, link)
        if folder.round_is_initial or starts_round(folder):
            # a page of changes is not kept for later: a Sync now must not store a minute-old answer
            self._initial.add((folder.id, link))

    def take(self, folder, link):
        """The prefetched ``(page, delta)`` of the folder at ``link`` (by this run, or handed over by an earlier
        one), or None."""
        for key in [key for key in self._pending if key[0] == folder.id and key[1] != link]:
            self._pending.pop(key).cancel()  # the folder moved on (another worker, an expired link)
        key = (folder.id, link)
        future = self._pending.pop(key, None)
        if future is None:
            pages, initial = _take_handed_off(self.dbname, folder.id, link), True
        else:
            initial = key in self._initial
            try:
                pages = future.result()
            except Exception as exc:  # noqa: BLE001 - any failure: the unit fetches the page itself
                _logger.debug('MailDesk: prefetch of folder %s failed (%s)', folder.id, type(exc).__name__)
                return None
        if not pages:
            return None
        (_link, fetched), *following = pages
        if following:  # the pages after an empty one, fetched in the same go: the next unit's
            done = concurrent.futures.Future()
            done.set_result(following)
            self._pending[(folder.id, following[0][0])] = done
            if initial:
                self._initial.add((folder.id, following[0][0]))
        return fetched

    def close(self):
        """Wait for the prefetch in flight (the run's mailbox slots are held until it is done), hand over what
        came back whole."""
        for (folder_id, link), future in self._pending.items():
            if future.cancel():
                continue  # never started
            if (folder_id, link) not in self._initial:
                future.exception()  # waits: the mailbox slot stays held until the request is done
                continue
            try:
                _hand_off(self.dbname, folder_id, link, future.result())
            except Exception:  # noqa: BLE001 - a failed prefetch is simply not handed over
                continue
        self._pending.clear()
        self._initial.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None


def _hand_off(dbname, folder_id, link, pages):
    now = time.monotonic()
    with _handoff_lock:
        for key in [key for key, (kept, _f) in _handoff.items()
                    if now - kept > HANDOFF_SECONDS or key[:2] == (dbname, folder_id)]:
            del _handoff[key]
        while len(_handoff) >= HANDOFF_PAGES:
            del _handoff[min(_handoff, key=lambda key: _handoff[key][0])]
        _handoff[(dbname, folder_id, link)] = (now, pages)


def _take_handed_off(dbname, folder_id, link):
    with _handoff_lock:
        for key in [key for key in _handoff if key[:2] == (dbname, folder_id) and key[2] != link]:
            del _handoff[key]  # the folder moved on
        kept = _handoff.pop((dbname, folder_id, link), None)
    if kept and time.monotonic() - kept[0] <= HANDOFF_SECONDS:
        return kept[1]
    return []


def _fetch_page(client, graph_folder_id, link):
    """``(page, delta)``: the page without its raw items, once mapped. Kept until the page is stored, 9 containers
    per message would be promoted to Python's oldest generation and, a few pages later, make it collect the whole
    heap (:mod:`graph.collector`)."""
    page = client.delta_page(graph_folder_id, link, page_size=None if link else FIRST_PAGE_SIZE)
    return page._replace(items=()), mail.delta_values(page.items)


def _prefetch_pages(client, graph_folder_id, link):
    """``[(link, (page, delta))]``: the page at ``link`` and, when it is empty with a nextLink, the pages after it
    (:data:`FOLLOW_EMPTY_PAGES`). Only the first one's failure is the prefetch's: a later one is left to its unit."""
    fetched = [(link, _fetch_page(client, graph_folder_id, link))]
    while len(fetched) <= FOLLOW_EMPTY_PAGES:
        page, delta = fetched[-1][1]
        if delta.entries or delta.skipped or not page.next_link:
            break
        try:
            fetched.append((page.next_link, _fetch_page(client, graph_folder_id, page.next_link)))
        except Exception:  # noqa: BLE001 - the unit of that page fetches it itself
            break
    return fetched


class GraphReads:
    """What a unit reads from Graph, already mapped to values, cached by folder and link: a unit retried after a
    database conflict does not ask Graph again. Reads only: the database is looked at, never written.

    With a :class:`PagePrefetch`, a page prefetched (or handed over) is taken from it, and with ``start_next`` a
    page that has a nextLink starts the fetch of the next one at once."""

    def __init__(self, client, prefetch=None, start_next=False):
        self.client = client
        self.prefetch = prefetch
        self.start_next = start_next
        self._pages = {}
        self._counts = {}

    def page(self, folder, link):
        """``(graph.client.Page, graph.mail.Delta, moved)`` of the folder's round at ``link`` (None: a new round).

        ``moved``: ``{graph_id: (folder, values)}`` for messages this page reports ``@removed`` although Outlook
        still has them in another synced folder of the mailbox (a move A -> B -> A is reported as ``@removed`` in B
        and never again in A, graph-api.md §12): they go there, not away.
        """
        key = (folder.id, link)
        if key not in self._pages:
            if link is None:
                # a new round's folder counts first: the first page starts the fetch of the next one, which would
                # keep this small read waiting behind a full page
                self.folder_counts(folder)
            fetched = self.prefetch.take(folder, link) if self.prefetch and link else None
            page, delta = fetched or _fetch_page(self.client, folder.graph_id, link)
            if self.prefetch and self.start_next and page.next_link:
                self.prefetch.start(self.client, folder, page.next_link)
            self._pages[key] = (page, delta, self._complete(folder, delta.entries))
        return self._pages[key]

    def _complete(self, folder, entries):
        """Fill what a page leaves open, with single GETs (bounded): the full item of a sparse update for a message
        not stored yet (it can only become a row whole), and where a message reported @removed really is."""
        sparse = [gid for gid, values in entries.items() if values is not None and not values['complete']]
        removed = [gid for gid, values in entries.items() if values is None]
        if not sparse and not removed:
            return {}
        folder.env.cr.execute(SQL('SELECT graph_id, folder_id FROM maildesk_message WHERE id = ANY(%s) AND active',
                                  ids_by_graph_id(folder.account_id.id, sparse + removed)))
        stored = dict(folder.env.cr.fetchall())
        lookups = [gid for gid in sparse if gid not in stored]
        lookups += [gid for gid in removed if stored.get(gid) == folder.id]
        synced = {f.graph_id: f for f in folder.account_id.folder_ids if f.sync_enabled}
        moved = {}
        for graph_id in lookups[:LOOKUPS_PER_PAGE]:
            try:
                values = mail.message_values(self.client.get_message(graph_id, body=False))
            except errors.NotFound:
                entries[graph_id] = None  # gone from Outlook: deleted for good
                continue
            except (errors.AuthInvalid, errors.AuthExpired, errors.Throttled):
                raise  # the whole mailbox stops for this run
            except (errors.GraphError, mail.MalformedItem) as exc:
                _logger.info('MailDesk: message %r of folder %s not read whole (%s)', graph_id[:40], folder.id,
                             type(exc).__name__)
                continue
            target = synced.get(values['parent_folder_id'])
            if entries[graph_id] is not None or target == folder:
                entries[graph_id] = values  # the whole message, in this folder
            elif target:
                moved[graph_id] = (target, values)
        return moved

    def folder_counts(self, folder):
        """Outlook's total / unread counts of the folder: the backfill's progress denominator (optional)."""
        if folder.id not in self._counts:
            try:
                self._counts[folder.id] = counts_of(self.client.get_folder(folder.graph_id))
            except (errors.Transient, errors.BadResponse):
                self._counts[folder.id] = {}
        return self._counts[folder.id]


class FolderRound:
    """The round of ``folder`` (a ``maildesk.folder`` in a superuser environment) advanced by one page."""

    def __init__(self, folder, reads):
        self.folder = folder
        self.reads = reads

    def sync_page(self):
        """Fetch the next page of the folder's round and store it with the cursor, in the current transaction.

        :return: dict(stored, more, initial, first): ``more`` the round continues (a next_link), ``initial`` the
            page belongs to an initial round, ``first`` it was the first page of one (the newest mail)
        """
        folder = self.folder
        link = folder.next_link or folder.delta_link or None
        try:
            page, delta, moved = self.reads.page(folder, link)
        except errors.SyncStateExpired:
            # 410 / syncStateNotFound: drop the links, enumerate again; the round's sweep removes what is gone.
            _logger.info('MailDesk: delta state of folder %s expired, re-enumerating', folder.id)
            link = None
            page, delta, moved = self.reads.page(folder, None)
        self._check_progress(link, page)
        now = fields.Datetime.now()
        if link is None:
            self._start_initial_round(self.reads.folder_counts(folder), now)
        # a page in the middle of an initial round (older mail): told now, or with a later page of the round
        middle = bool(folder.round_is_initial and link and page.next_link and not moved)
        told = _tell_backfill(folder) if folder.round_is_initial else True  # every page of a round notes it
        quiet = middle and not told
        unchanged = not (delta.entries or moved or delta.skipped or folder.round_is_initial)
        if unchanged:  # an incremental page without a change (most cycles): no message to write, no lock to take
            stats = dict(NOTHING_STORED)
        else:
            stats = MessageBatch(folder).apply(delta, moved, quiet=quiet)
        # a re-check of a suspicious round keeps saying why until it ends
        values = {'last_sync_at': now, 'last_error': folder.last_error if folder.sweep_deferred else False}
        if stats['skipped']:
            values['skipped_count'] = folder.skipped_count + stats['skipped']
            values['last_error'] = folder.env._('%(count)d item(s) skipped: %(reason)s',
                                                count=stats['skipped'], reason=stats['skip_reason'])
        initial = folder.round_is_initial
        pages_before, items_before = self._round_so_far(link)
        values.update(round_page_count=pages_before + 1,
                      round_item_count=items_before + sum(v is not None for v in delta.entries.values()))
        if page.next_link:
            values['next_link'] = page.next_link
        elif initial and self._sweep_is_suspicious(values['round_item_count']):
            # Nothing is hidden on an answer that looks incomplete: the round is enumerated once more first.
            values.update(next_link=False, delta_link=False, sweep_deferred=True,
                          last_error=folder.env._(
                              'Outlook listed %(seen)d of the %(total)d messages it counts in this folder: nothing was '
                              'removed in MailDesk, the folder is read again to check.',
                              seen=values['round_item_count'], total=folder.total_count))
        else:
            if initial:
                self._sweep()
            values.update(next_link=False, delta_link=page.delta_link, round_is_initial=False, sweep_deferred=False)
        # the middle of an initial round that only added rows: the folder holds exactly that many more (counting
        # them again on every page of a 100,000-message folder is quadratic); its first and last pages count. A
        # page without a change holds as many as before (a local move or delete is followed by Graph's change).
        if unchanged:
            added = 0
        elif middle and only_added(stats):
            added = stats['inserted']
        else:
            added = None
        folder.write(values)
        progress = {name: value for name, value in self._progress(added).items() if folder[name] != value}
        if progress:  # a page that changed nothing leaves the folder's counts alone: no second write
            quietly = quiet and added is not None and 'sync_state' not in progress
            folder.with_context(maildesk_bus_quiet=quietly).write(progress)
        if middle and not quiet:
            folder._maildesk_notify_changed(folder)  # also what the quiet pages before it stored
        return {'stored': stats['stored'], 'more': bool(page.next_link), 'initial': initial, 'first': link is None}

    def _start_initial_round(self, counts, now):
        """Forget the links and start enumerating the folder again, newest first."""
        folder = self.folder
        folder.write(dict(counts, next_link=False, delta_link=False, round_is_initial=True, round_started_at=now,
                          round_number=folder.round_number + 1, round_page_count=0, round_item_count=0))

    def _check_progress(self, link, page):
        """A round whose nextLink repeats, or that pages on far beyond the folder's size, is going nowhere: stop
        it with a clear error (the cursor is kept; nothing is written)."""
        folder = self.folder
        budget = 10 * (folder.total_count // 1000 + 1) + ROUND_PAGE_SLACK
        pages_before = self._round_so_far(link)[0]
        if (link and page.next_link == link) or (link and pages_before > budget):
            raise errors.BadResponse('Graph returned a delta page that makes no progress (%d pages in this round)'
                                     % pages_before, code='pagingLoop')

    def _round_so_far(self, link):
        """Pages and items the round in progress has seen before this page. A round that starts from the delta
        link (an incremental round: one every cycle) starts from nothing, as an initial round does: counted on,
        the cycles of weeks would add up to the paging budget and stop a healthy folder."""
        folder = self.folder
        if link and folder.next_link:
            return folder.round_page_count, folder.round_item_count
        return 0, 0

    def _sweep_is_suspicious(self, seen):
        """The round saw far fewer messages than Outlook counts in the folder (its folder count, read when the
        round started): a sweep now could hide mail Outlook still has. Checked once more before hiding anything."""
        folder = self.folder
        if folder.sweep_deferred or folder.total_count < 20:
            return False
        return seen < 0.9 * folder.total_count

    def _sweep(self):
        """End of an initial round: soft-remove rows of the folder it did not return (never local entries)."""
        gone = sweep_folder(self.folder)  # SQL that re-checks each row after its lock: a concurrent move wins
        if gone:
            _logger.info('MailDesk: sweep of folder %s soft-removed %d message(s)', self.folder.id, len(gone))
        return len(gone)

    def _progress(self, added=None):
        """Synced count, backfill progress and sync state, from the cursor and the local store (``added``: the
        rows the page added to a count known right, instead of counting them all)."""
        folder = self.folder
        if added is not None:
            synced = folder.synced_count + added
        else:
            folder.env['maildesk.message'].flush_model(['folder_id', 'active'])
            folder.env.cr.execute('SELECT count(*) FROM maildesk_message WHERE folder_id = %s AND active',
                                  [folder.id])
            synced = folder.env.cr.fetchone()[0]
        state = cursor_state(folder)
        if state == 'done':
            progress = 100.0
        elif state == 'backfilling':
            progress = min(99.0, 100.0 * synced / folder.total_count) if folder.total_count else 0.0
        else:
            progress = 0.0
        return {'synced_count': synced, 'backfill_progress': progress, 'sync_state': state}


def _tell_backfill(folder):
    """Whether open inboxes are told of this page of older mail of ``folder`` (then noted as told): when they
    were last told of it :data:`BACKFILL_NOTICE_EVERY` seconds ago or more."""
    key, now = (folder.env.cr.dbname, folder.id), time.monotonic()
    with _backfill_told_lock:
        if now - _backfill_told.get(key, -BACKFILL_NOTICE_EVERY) < BACKFILL_NOTICE_EVERY:
            return False
        for old in [old for old, told in _backfill_told.items() if now - told >= BACKFILL_NOTICE_EVERY]:
            del _backfill_told[old]  # only recent notices matter
        _backfill_told[key] = now
    return True


def starts_round(folder):
    """The folder's next page is the first of a new initial round (no link at all: a new folder, or enumerated
    again)."""
    return not folder.next_link and not folder.delta_link


def cursor_state(folder):
    """The sync state a folder's cursor implies."""
    if folder.next_link and folder.round_is_initial:
        return 'backfilling'
    if folder.delta_link or folder.next_link:
        return 'done'
    return 'newest' if folder.sync_enabled else 'not_started'


def counts_of(item):
    """``{total_count, unread_count}`` of a raw Graph folder, or {} when it is not one."""
    values = mail.folder_values(item) if isinstance(item, dict) and item.get('id') else None
    return {'total_count': values['total_count'], 'unread_count': values['unread_count']} if values else {}
