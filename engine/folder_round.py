"""One delta page of one (claimed, locked) folder: fetch first, then write.

A folder syncs with ONE mechanism, its message delta: an *initial round* (started without a link, newest first)
enumerates the folder page by page -- that is the progressive backfill -- and ends with a ``delta_link``; later
rounds GET the delta link and return only changes. ``next_link`` is the nextLink of the round in progress,
committed with the rows of each page, so a kill loses at most the page in flight. Both links are opaque.

Every Graph call of a page comes before its first write, so a Graph failure leaves nothing to undo.
"""
import logging

from odoo import fields

from ..graph import errors, mail
from .message_batch import MessageBatch

_logger = logging.getLogger(__name__)


class GraphReads:
    """What a unit reads from Graph, already mapped to values, cached by folder and link: a unit retried after a
    database conflict does not ask Graph again."""

    def __init__(self, client):
        self.client = client
        self._pages = {}
        self._counts = {}

    def page(self, folder, link):
        """``(graph.client.Page, graph.mail.Delta)`` of the folder's round at ``link`` (None: a new round)."""
        key = (folder.id, link)
        if key not in self._pages:
            page = self.client.delta_page(folder.graph_id, link)
            self._pages[key] = (page, mail.delta_values(page.items))
        return self._pages[key]

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
            page, delta = self.reads.page(folder, link)
        except errors.SyncStateExpired:
            # 410 / syncStateNotFound: drop the links, enumerate again; the round's sweep removes what is gone.
            _logger.info('MailDesk: delta state of folder %s expired, re-enumerating', folder.id)
            link = None
            page, delta = self.reads.page(folder, None)
        now = fields.Datetime.now()
        if link is None:
            self._start_initial_round(self.reads.folder_counts(folder), now)
        stats = MessageBatch(folder).apply(delta)
        values = {'last_sync_at': now, 'last_error': False}
        if stats['skipped']:
            values['skipped_count'] = folder.skipped_count + stats['skipped']
            values['last_error'] = folder.env._('%(count)d item(s) skipped: %(reason)s',
                                                count=stats['skipped'], reason=stats['skip_reason'])
        initial = folder.round_is_initial
        if page.next_link:
            values['next_link'] = page.next_link
        else:
            if initial:
                self._sweep()
            values.update(next_link=False, delta_link=page.delta_link, round_is_initial=False)
        folder.write(values)
        folder.write(self._progress())
        return {'stored': stats['stored'], 'more': bool(page.next_link), 'initial': initial, 'first': link is None}

    def _start_initial_round(self, counts, now):
        """Forget the links and start enumerating the folder again, newest first."""
        folder = self.folder
        folder.write(dict(counts, next_link=False, delta_link=False, round_is_initial=True, round_started_at=now,
                          round_number=folder.round_number + 1))

    def _sweep(self):
        """End of an initial round: soft-remove rows of the folder it did not return (never local entries)."""
        folder = self.folder
        Message = folder.env['maildesk.message'].with_context(active_test=False)
        gone = Message.search([
            ('folder_id', '=', folder.id), ('active', '=', True), ('is_local', '=', False),
            '|', ('seen_round', '!=', folder.round_number), ('seen_round', '=', False),
        ])
        if gone:
            _logger.info('MailDesk: sweep of folder %s soft-removed %d message(s)', folder.id, len(gone))
            gone.write({'active': False, 'folder_id': False})
        return len(gone)

    def _progress(self):
        """Synced count, backfill progress and sync state, from the cursor and the local store."""
        folder = self.folder
        folder.env['maildesk.message'].flush_model(['folder_id', 'active'])
        folder.env.cr.execute('SELECT count(*) FROM maildesk_message WHERE folder_id = %s AND active', [folder.id])
        synced = folder.env.cr.fetchone()[0]
        state = cursor_state(folder)
        if state == 'done':
            progress = 100.0
        elif state == 'backfilling':
            progress = min(99.0, 100.0 * synced / folder.total_count) if folder.total_count else 0.0
        else:
            progress = 0.0
        return {'synced_count': synced, 'backfill_progress': progress, 'sync_state': state}


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
