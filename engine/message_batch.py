"""One delta page of one folder applied to the message store, as ordered steps in one place.

``MessageBatch(folder).apply(delta)`` with the page already parsed (``graph.mail.delta_values``, done when the page
is fetched): lock -> adopt local entries (one query) -> insert / update -> link threads -> notify the bus once.
Idempotent: replays and duplicates are no-ops.

Pages of two folders of one mailbox are written at the same time (two cron workers, two servers). A message can
be in both pages (it moved between them while they were listed): both store it, the unique index on
``(account_id, graph_id)`` lets one in (the other's COPY of its new rows waits for the first transaction to end and
is refused, then its ``INSERT ... ON CONFLICT DO NOTHING`` skips the row: in READ COMMITTED -- the isolation of sync
units -- that never fails), and the other re-reads the row it lost to and
applies its item as an update, where the newer version (``modified_at``) wins whatever the commit order. New rows
are inserted in graph id order and existing rows locked in id order, so two pages do not wait for each other in a
cycle; the rare cycle left (a page re-reads a lost row that the other page had locked, or thread merges) is a
deadlock PostgreSQL breaks, and the unit is retried (``engine.sync_run.CONCURRENCY_ERRORS``).

Rows are written with set-based SQL, not ``create()`` / ``write()``: the ORM's per-record work (defaults, cache,
inverse fields) costs more than everything else a sync page does. The rows are complete (every column the ORM
would set) and :meth:`modified` tells the ORM about them, as ``create()`` / ``write()`` would.
"""
import psycopg2.errors
from dateutil.relativedelta import relativedelta

from odoo import fields
from odoo.tools import SQL

from . import threads
from .pg_values import copy_fields, copy_rows, pg_array

# Values mail.message_values() returns that are columns of maildesk_message, compared on every upsert.
SYNCED_COLUMNS = (
    'internet_message_id', 'conversation_id', 'subject', 'from_address', 'from_name', 'sender_address',
    'sender_name', 'to_recipients', 'cc_recipients', 'bcc_recipients', 'reply_to', 'received_at', 'sent_at',
    'modified_at', 'change_key', 'body_preview', 'importance', 'is_read', 'is_draft', 'flag_status', 'categories',
    'has_attachments',
)
BOOLEAN_COLUMNS = frozenset({'is_read', 'is_draft', 'has_attachments', 'active', 'is_local', 'is_system_mail'})
RECIPIENT_COLUMNS = ('to_recipients', 'cc_recipients', 'bcc_recipients')
ROW_COLUMNS = ('id, graph_id, folder_id, active, is_local, is_system_mail, seen_round, thread_key, '
               + ', '.join(SYNCED_COLUMNS))
# Advisory lock (UPSERT_LOCK, account id): every page write of a mailbox holds it SHARED (pages of two folders are
# written at once, by any number of workers), mark_system_mail holds it EXCLUSIVE (it waits for the pages in flight).
# One lock per transaction, whatever the page size: the lock table cannot run out.
UPSERT_LOCK = 0x4D44_0100


def ids_by_graph_id(account_id, graph_ids):
    """SQL: the ids of one account's rows (active or not) with these graph ids, one probe of the unique index per
    graph id. ``account_id = %s AND graph_id = ANY(%s)`` leaves the plan to the statistics, and while a mailbox is
    first synced they lag behind its rows: PostgreSQL then estimates the account's rows as few, reads them all and
    filters graph_id, for every page (27 ms a page at 100,000 rows, growing with them)."""
    return SQL("""ARRAY(SELECT stored.id
                          FROM unnest(%s::varchar[]) AS wanted(graph_id)
                    CROSS JOIN LATERAL (SELECT id FROM maildesk_message
                                         WHERE account_id = %s AND graph_id = wanted.graph_id LIMIT 1) AS stored)""",
               pg_array(graph_ids, 'varchar'), account_id)


# What MessageBatch.apply() returns for a page that changed nothing
NOTHING_STORED = {'created': 0, 'inserted': 0, 'updated': 0, 'removed': 0, 'skipped': 0, 'skip_reason': '',
                  'stored': 0}


class MessageBatch:
    """The messages of one delta page of ``folder`` (a claimed folder, in a superuser environment).

    ``@removed`` only soft-removes a row still in ``folder`` (a move's destination may already have claimed it);
    an item older than the stored version (``modified_at``) is a stale replay and ignored; malformed items are
    skipped and counted, never fatal; no partner is ever created. Outlook's copy of a message sent from MailDesk
    replaces its local entry (same row), found by immutable id or by Message-ID: never two. A copy of mail Odoo
    sent through an outgoing server of the mailbox (its Message-ID noted in ``maildesk.system.mail``) is stored
    ``is_system_mail``: only system administrators read it.
    """

    def __init__(self, folder):
        self.folder = folder
        self.account = folder.account_id
        self.env = folder.env
        self.Message = self.env['maildesk.message'].sudo().with_context(active_test=False)
        self.seen = {'seen_round': folder.round_number, 'seen_at': folder.round_started_at or fields.Datetime.now()}
        self.stats = dict(NOTHING_STORED)
        self.updates = {}          # row id -> changed columns
        self.partner_updates = {}  # row id -> recipient partner ids
        self.batch_ids = []        # rows of the page's (non-removed) items, for thread linking
        self.inserted_ids = set()  # ... of them, the rows inserted whole (thread_key set, no reply headers)
        self.batch_message_ids = set()  # their Message-IDs (and any they had before the page): children's keys
        self.system_mail = set()   # Message-IDs of the page that Odoo itself sent through this mailbox
        self.own_address = (self.account.email or '').strip().lower()

    def apply(self, delta, moved=None, quiet=False):
        """Store one page, given as :func:`graph.mail.delta_values` of its items.

        :param moved: ``{graph_id: (folder, values)}``: messages the page reports ``@removed`` that Outlook has in
            another synced folder (see :class:`engine.folder_round.GraphReads`): they move there
        :param quiet: open inboxes need not be told of a page that only adds rows (older mail of a backfill whose
            folder they were told of a moment ago: see :func:`engine.folder_round.FolderRound.sync_page`)
        :return: dict(created, inserted, updated, removed, skipped, skip_reason, stored)
        """
        latest = dict(delta.entries)
        moved = moved or {}
        for graph_id in moved:
            latest.pop(graph_id, None)
        self.stats.update(skipped=delta.skipped, skip_reason=delta.skip_reason)
        self._lock()  # shared, until the page commits: mark_system_mail waits for the pages in flight
        if latest or moved:
            existing = self._existing_rows(list(latest) + list(moved))
            self.partners = self._partners_by_email([*latest.values(), *(values for _f, values in moved.values())])
            self.system_mail = self._system_mail({**latest, **{gid: v for gid, (_f, v) in moved.items()}})
            to_create = []
            for graph_id, values in latest.items():
                row = existing.get(graph_id)
                if values is None:
                    self.stats['removed'] += self._remove(row)
                elif row is None:
                    # complete, or as complete as Graph would give it (GraphReads asked for the whole message)
                    to_create.append(values)
                else:
                    self.stats['updated'] += self._update(row, values)
            for graph_id, (target, values) in moved.items():
                if graph_id in existing:
                    self.stats['updated'] += self._update(existing[graph_id], values, target=target)
            to_create = self._within_backfill_depth(to_create)
            for values, local in self._adopt_local_entries(to_create):
                self.stats['created'] += 1
                self._update(local, values, adopting=True)
            self._insert([values for values in to_create if values.get('_adopted') is None])
            self._write_updates()
            self._link_threads()
        self.stats['stored'] = self.stats['created'] + self.stats['updated']
        changed = self.stats['created'] or self.stats['updated'] or self.stats['removed']
        if changed and not (quiet and only_added(self.stats)):
            targets = self.folder.browse([target.id for target, _values in moved.values()])
            self.Message._maildesk_notify_changed(self.folder | targets)  # sent once, when the page commits
        return self.stats

    # ------------------------------------------------------------------ lock and read

    def _lock(self):
        self.env.cr.execute('SELECT pg_advisory_xact_lock_shared(%s, %s)', [UPSERT_LOCK, self.account.id])

    def _existing_rows(self, graph_ids):
        """Existing rows (active or not) by graph id: ONE query, rows locked in id order (no deadlock)."""
        self.Message.flush_model()
        self.env.cr.execute(SQL(f"""
            SELECT {ROW_COLUMNS}
              FROM maildesk_message
             WHERE id = ANY(%s)
          ORDER BY id
               FOR NO KEY UPDATE
        """, ids_by_graph_id(self.account.id, graph_ids)))
        return {row['graph_id']: row for row in self.env.cr.dictfetchall()}

    def _partners_by_email(self, values_list):
        """``{normalized email: partner id}`` for existing partners (lowest id wins); never creates one."""
        addresses = set()
        for values in values_list:
            if values:
                addresses.update(values['recipient_addresses'])
                if values['from_address']:
                    addresses.add(values['from_address'].lower())
        if not addresses:
            return {}
        self.env['res.partner'].flush_model(['email_normalized', 'active'])
        self.env.cr.execute("""
            SELECT email_normalized, min(id) FROM res_partner
             WHERE email_normalized = ANY(%s::varchar[]) AND active
          GROUP BY email_normalized
        """, [pg_array(list(addresses), 'varchar')])
        return dict(self.env.cr.fetchall())

    def _system_mail(self, latest):
        """The page's Message-IDs that Odoo sent through this mailbox (noted before they left): one query."""
        message_ids = list({values['internet_message_id'] for values in latest.values()
                            if values and values['internet_message_id']})
        if not message_ids:
            return set()
        self.env.cr.execute(
            'SELECT message_id FROM maildesk_system_mail WHERE account_id = %s AND message_id = ANY(%s::varchar[])',
            [self.account.id, pg_array(message_ids, 'varchar')])
        return {row[0] for row in self.env.cr.fetchall()}

    def _within_backfill_depth(self, values_list):
        """Backfill depth ("last N months"): older new items are not stored (existing rows still update).

        Not ``$filter=receivedDateTime ge X``: a filtered delta caps the round at 5,000 messages (graph-api.md
        §1.2), silently truncating a busy mailbox's window, and bakes the cutoff into the delta token. Following
        the round costs ~1 request per 1,000 older messages, with no DB work.
        """
        months = self.account._maildesk_settings()['backfill_months']
        if not months:
            return values_list
        cutoff = fields.Datetime.now() - relativedelta(months=months)
        return [v for v in values_list if not v['received_at'] or v['received_at'] >= cutoff]

    def _adopt_local_entries(self, values_list):
        """Local entries (sent from MailDesk, no Outlook id yet) that new items of the page are the copy of.

        One query, by Message-ID. Only a copy in the local entry's own folder replaces it: the Inbox copy of a
        message sent to oneself carries the same Message-ID and must not take the entry out of Sent Items.
        :return: [(values, local row)]; adopted values are marked so they are not inserted too
        """
        by_mid = {}
        for values in values_list:
            if values['internet_message_id']:
                by_mid.setdefault(values['internet_message_id'], values)
        if not by_mid:
            return []
        folders = [self.folder.id]
        self.env.cr.execute(f"""
            SELECT {ROW_COLUMNS}
              FROM maildesk_message
             WHERE account_id = %s AND is_local AND internet_message_id = ANY(%s::varchar[])
               AND (folder_id = ANY(%s) OR (%s AND folder_id IS NULL))
          ORDER BY id
               FOR NO KEY UPDATE
        """, [self.account.id, pg_array(list(by_mid), 'varchar'), folders, self.folder.role == 'sentitems'])
        adopted = []
        for local in self.env.cr.dictfetchall():
            values = by_mid.pop(local['internet_message_id'], None)
            if values is not None:
                values['_adopted'] = local['id']
                adopted.append((values, local))
        return adopted

    # ------------------------------------------------------------------ plan the writes

    def _row_values(self, values):
        """Column values for one Graph item (the part compared with a stored row)."""
        return {name: column[0] for name, column in synced_columns([values]).items()}

    def _partner_values(self, values):
        sender = self.partners.get((values['from_address'] or '').lower(), False)
        recipients = [self.partners[a] for a in values['recipient_addresses'] if a in self.partners]
        return sender, sorted(set(recipients))

    def _direction(self, values):
        address = (values['from_address'] or '').strip().lower()
        return 'outgoing' if address and address == self.own_address else 'incoming'

    def _update(self, row, values, adopting=False, target=None):
        """Plan the update of one existing row (or adopted local entry) from a Graph item: 1 if it changes.

        Only what the item carries is compared and written (a sparse delta item never wipes the rest); ``target``:
        the folder the message is in, when it is not the batch's own (a move reported as @removed here).
        """
        self.batch_ids.append(row['id'])
        self.batch_message_ids.update(mid for mid in (row['internet_message_id'], values['internet_message_id']) if mid)
        target = target or self.folder
        seen = self.seen if target == self.folder else {
            'seen_round': target.round_number, 'seen_at': target.round_started_at or fields.Datetime.now()}
        in_folder = row['folder_id'] == target.id and row['active']
        if not adopting and _is_older(values, row):
            # Stale replay: the stored version is newer. Still present in this folder though.
            changes = {'is_local': False} if in_folder and row['is_local'] else {}
            if in_folder and (changes or row['seen_round'] != seen['seen_round']):
                self.updates[row['id']] = dict(changes, **seen)
            return 0
        new = self._row_values(values)
        if not values['complete']:
            present = set(values['present'])
            new = {key: value for key, value in new.items() if key in present}
        changes = {key: value for key, value in new.items() if _differs(row[key], value, key)}
        if not in_folder:
            # A move into this folder, or a return after a soft-removal: same record, same tags.
            changes.update(folder_id=target.id, active=True)
        if row['is_local']:
            # Outlook's copy of a message sent from MailDesk: the local entry becomes it (same row).
            changes['is_local'] = False
        if not row['is_system_mail'] and values['internet_message_id'] in self.system_mail:
            changes['is_system_mail'] = True
        if adopting:
            changes.update(graph_id=values['graph_id'],
                           thread_key=row['thread_key'] or values['conversation_id'] or False)
        if not changes:
            if row['seen_round'] != seen['seen_round']:
                self.updates[row['id']] = dict(seen)
            return 0
        changes.update(seen)
        if 'from_address' in changes:
            changes['from_partner_id'] = self._partner_values(values)[0]
            changes['direction'] = self._direction(values)
        if any(key in changes for key in RECIPIENT_COLUMNS) and all(key in new for key in RECIPIENT_COLUMNS):
            self.partner_updates[row['id']] = self._partner_values(values)[1]
        if 'conversation_id' in changes and not adopting:
            changes['thread_key'] = values['conversation_id'] or False
        self.updates[row['id']] = changes
        return 0 if adopting else 1

    def _remove(self, row):
        """``@removed`` in the folder: soft-remove the row only if it is still there (else it moved on)."""
        if row is None or row['folder_id'] != self.folder.id or not row['active'] or row['is_local']:
            return 0
        self.updates[row['id']] = {'active': False, 'folder_id': False}
        return 1

    # ------------------------------------------------------------------ write

    def _insert(self, values_list):
        """INSERT the new items in ONE statement whose parameters are one array literal per column (``unnest``,
        :func:`_pg_array`): PostgreSQL parses 40 parameters instead of 40,000 literals, and no SQL per row is built.

        In graph id order, ``ON CONFLICT DO NOTHING``: an item another page inserted meanwhile (a message that
        moved between two folders written at once) is not inserted twice but updated (:meth:`_lost_inserts`)."""
        items = sorted(values_list, key=lambda values: values['graph_id'])
        if not items:
            return
        count, seen = len(items), self.seen
        partners = [self._partner_values(values) for values in items]
        recipients = {values['graph_id']: partner_ids
                      for values, (_sender, partner_ids) in zip(items, partners, strict=True)}
        columns = synced_columns(items)
        columns.update(
            graph_id=[values['graph_id'] for values in items],
            is_system_mail=[values['internet_message_id'] in self.system_mail for values in items],
            # what threads.link_threads would set: a new row answers no stored message (sync reads no headers)
            thread_key=[values['conversation_id'] or values['internet_message_id'] or values['graph_id']
                        for values in items],
            direction=[self._direction(values) for values in items],
            from_partner_id=[sender for sender, _partner_ids in partners],
        )
        cr, uid = self.env.cr, self.env.uid
        now = cr.now()
        same = {  # one value for every row: encoded once
            'account_id': self.account.id, 'company_id': self.account.company_id.id, 'folder_id': self.folder.id,
            'active': True, 'is_local': False, 'seen_round': seen['seen_round'], 'seen_at': seen['seen_at'],
            'create_uid': uid, 'create_date': now, 'write_uid': uid, 'write_date': now,
        }
        self.Message.flush_model()
        inserted = self._copy_new_rows(columns, same)  # id -> graph id
        if inserted is None:
            inserted = self._insert_skipping_stored(columns, same)
        links = [(message_id, partner_id) for message_id, graph_id in inserted.items()
                 for partner_id in recipients[graph_id]]
        if links:
            cr.execute(SQL(
                'INSERT INTO maildesk_message_partner_rel (message_id, partner_id) '
                'SELECT * FROM unnest(%s::int4[], %s::int4[]) ON CONFLICT DO NOTHING',
                pg_array([link[0] for link in links], 'int4'), pg_array([link[1] for link in links], 'int4')))
        ids = list(inserted)
        Message = self.Message
        records = Message.browse(ids)
        written = [*columns, *same, 'partner_ids']
        # as create() does: the columns just written (company_id among them) are not recomputed by the ORM
        with self.env.protecting([Message._fields[name] for name in written], records):
            records.modified(written, create=True)
        self.stats['created'] += len(ids)
        self.stats['inserted'] += len(ids)  # new rows of this folder (created also counts adopted local entries)
        self.batch_ids += ids
        self.inserted_ids.update(ids)
        self.batch_message_ids.update(values['internet_message_id'] for values in values_list
                                      if values['internet_message_id'])
        if len(ids) < count:
            new = set(inserted.values())
            self._lost_inserts([values for values in values_list if values['graph_id'] not in new])

    def _column_type(self, name):
        return self.Message._fields[name].column_type[1]

    def _copy_new_rows(self, columns, same):
        """COPY the new rows, their ids drawn from the table's sequence first (COPY returns none): the cheapest way
        in for a page of new mail (:func:`engine.pg_values.copy_rows`). ``columns``: ``{name: [value per row]}``,
        ``same``: ``{name: value of every row}``. :return: ``{id: graph id}`` of the rows, or None when one of them
        is stored already (another transaction inserted it meanwhile): nothing is written then, and the INSERT that
        skips such rows takes over (:meth:`_insert_skipping_stored`)."""
        cr, count = self.env.cr, len(columns['graph_id'])
        cr.execute('SELECT nextval(%s) FROM generate_series(1, %s)', [f'{self.Message._table}_id_seq', count])
        ids = [row[0] for row in cr.fetchall()]
        fields_ = {'id': copy_fields(ids, 'int4')}
        fields_.update((name, copy_fields(column, self._column_type(name))) for name, column in columns.items())
        fields_.update((name, copy_fields([value], self._column_type(name)) * count) for name, value in same.items())
        try:
            with cr.savepoint(flush=False):
                copy_rows(cr, self.Message._table, fields_)
        except psycopg2.errors.UniqueViolation:
            return None
        return dict(zip(ids, columns['graph_id'], strict=True))

    def _insert_skipping_stored(self, columns, same):
        """One ``INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING`` of the new rows: a row another
        transaction stored meanwhile is skipped (ON CONFLICT waits for that transaction). :return: ``{id: graph id}``
        of the rows inserted"""
        count = len(columns['graph_id'])
        columns = dict(columns, **{name: [value] * count for name, value in same.items()})
        self.env.cr.execute(SQL(
            'INSERT INTO maildesk_message (%s) SELECT * FROM unnest(%s) '
            'ON CONFLICT (account_id, graph_id) DO NOTHING RETURNING id, graph_id',
            SQL(', ').join(SQL.identifier(name) for name in columns),
            SQL(', ').join(SQL('%s::%s[]', pg_array(column, self._column_type(name)), SQL(self._column_type(name)))
                           for name, column in columns.items()),
        ))
        return dict(self.env.cr.fetchall())

    def _lost_inserts(self, values_list):
        """Items another transaction inserted first (it committed: ON CONFLICT waited for it): their rows are
        read and locked like any existing row, then updated from the item (a stale item changes nothing)."""
        existing = self._existing_rows([values['graph_id'] for values in values_list])
        for values in values_list:
            row = existing.get(values['graph_id'])
            if row is not None:
                self.stats['updated'] += self._update(row, values)

    def _link_threads(self):
        """:func:`threads.link_threads` for the page's rows in a few queries: only rows that know their parents (headers
        read with a body) or have no thread yet take the ORM's way -- rows the page updated, as a row it inserted
        has its thread and no headers --; conversations answered from elsewhere by a row of the page are found by
        one join from the children's side (``maildesk_message_in_reply_to_idx``)."""
        if not self.batch_ids:
            return
        cr = self.env.cr
        # a row inserted by this page has its thread_key and no reply headers (the sync reads none): not special
        updated = [row_id for row_id in self.batch_ids if row_id not in self.inserted_ids]
        if updated:
            cr.execute("""SELECT id FROM maildesk_message
                           WHERE id = ANY(%s::int4[])
                             AND (thread_key IS NULL OR in_reply_to IS NOT NULL OR "references" IS NOT NULL)
                        ORDER BY id""", [pg_array(updated, 'int4')])
            special = [row[0] for row in cr.fetchall()]
            if special:
                threads.link_threads(self.Message.browse(special))
        if not self.batch_message_ids:
            return
        # children first, by the page's Message-IDs, in the small partial index of In-Reply-To (few rows know one):
        # most pages answer none, and then no parent is read
        cr.execute("""SELECT DISTINCT in_reply_to FROM maildesk_message
                       WHERE account_id = %s AND in_reply_to IS NOT NULL AND in_reply_to = ANY(%s::varchar[])""",
                   [self.account.id, pg_array(list(self.batch_message_ids), 'varchar')])
        answered = [row[0] for row in cr.fetchall()]
        if not answered:
            return
        cr.execute("""
            SELECT DISTINCT child.thread_key, parent.thread_key
              FROM maildesk_message parent
              JOIN maildesk_message child ON child.account_id = parent.account_id
                                         AND child.in_reply_to = parent.internet_message_id
             WHERE parent.id = ANY(%s::int4[]) AND parent.internet_message_id = ANY(%s::varchar[])
               AND parent.thread_key IS NOT NULL AND child.thread_key IS DISTINCT FROM parent.thread_key
        """, [pg_array(self.batch_ids, 'int4'), pg_array(answered, 'varchar')])
        for old_key, new_key in cr.fetchall():
            threads.merge_threads(self.account, old_key, new_key)

    def _write_updates(self):
        """One ``UPDATE ... FROM unnest(...)`` per set of changed columns (most pages have one or two)."""
        groups = {}
        for row_id, changes in self.updates.items():
            groups.setdefault(tuple(sorted(changes)), []).append(row_id)
        for names, ids in groups.items():
            self._update_rows(names, ids)
        for row_id, partner_ids in self.partner_updates.items():
            self.Message.browse(row_id).write({'partner_ids': [fields.Command.set(partner_ids)]})
        self.Message.flush_model()

    def _update_rows(self, names, ids):
        """The same columns of many rows, each with its own values; then the ORM is told, as ``write()`` would
        (cache invalidated, dependents marked)."""
        Message, updates = self.Message, self.updates
        Message.flush_model()
        types = ['int4'] + [Message._fields[name].column_type[1] for name in names]
        arrays = [pg_array(ids, 'int4')] + [pg_array([updates[row_id][name] for row_id in ids], column_type)
                                             for name, column_type in zip(names, types[1:], strict=True)]
        self.env.cr.execute(SQL(
            'UPDATE maildesk_message AS m SET %s, write_uid = %s, write_date = %s FROM unnest(%s) AS v(%s) '
            'WHERE m.id = v.id',
            SQL(', ').join(SQL('%s = v.%s', SQL.identifier(name), SQL.identifier(name)) for name in names),
            self.env.uid, self.env.cr.now(),
            SQL(', ').join(SQL('%s::%s[]', array, SQL(column_type))
                           for array, column_type in zip(arrays, types, strict=True)),
            SQL(', ').join(SQL.identifier(name) for name in ('id',) + names),
        ))
        records = Message.browse(ids)
        records.invalidate_recordset(list(names) + ['write_uid', 'write_date'])
        records.modified(list(names))
        if 'folder_id' in names:
            self.env['maildesk.folder'].invalidate_model(['message_ids'])


def only_added(stats):
    """What :meth:`MessageBatch.apply` returned says the page only inserted new rows (nothing updated, removed or
    adopted)."""
    return not stats['updated'] and not stats['removed'] and stats['created'] == stats['inserted']


def synced_columns(values_list):
    """``{column: [value per item]}`` of :data:`SYNCED_COLUMNS` for Graph items (``graph.mail.message_values``),
    column by column, ORM-style: an empty value is False. Seconds of the received and sent times only
    (``modified_at`` keeps its precision: it orders versions). Every value of these columns is a str, a bool or a
    datetime, so ``or False`` only turns '' and None into False."""
    columns = {name: [values[name] or False for values in values_list] for name in SYNCED_COLUMNS}
    columns['categories'] = [', '.join(values['categories']) or False for values in values_list]
    for name in ('received_at', 'sent_at'):
        columns[name] = [moment.replace(microsecond=0) if moment and moment.microsecond else moment
                         for moment in columns[name]]
    return columns


def _is_older(values, row):
    """The item is an older version than the stored row (a replay): never overwrite newer with older."""
    return bool(values['modified_at'] and row['modified_at'] and values['modified_at'] < row['modified_at'])


def _differs(stored, new, key):
    if key in BOOLEAN_COLUMNS:
        return bool(stored) != bool(new)
    if stored is None or stored == '':
        stored = False
    return stored != new


def mark_system_mail(env, account_id, message_ids):
    """Mark the stored copies of mail Odoo sent through the mailbox (``maildesk.system.mail``) ``is_system_mail``.

    For copies a sync stored before the note was committed: the mailbox's batch lock, exclusive here (pages hold
    it shared), so every page being written either committed before (marked here) or reads the note after (marked
    by the batch).
    """
    env.cr.execute('SELECT pg_advisory_xact_lock(%s, %s)', [UPSERT_LOCK, account_id])
    env.cr.execute("""
        UPDATE maildesk_message SET is_system_mail = TRUE
         WHERE account_id = %s AND internet_message_id = ANY(%s) AND is_system_mail IS NOT TRUE
    """, [account_id, list(message_ids)])
    env['maildesk.message'].invalidate_model(['is_system_mail'])


def sweep_folder(folder):
    """End of ``folder``'s initial round: soft-remove its rows the round did not return (never local entries).

    One UPDATE whose condition PostgreSQL checks again on the row's newest version after waiting for its lock: a
    row another folder's page is moving out of this folder right now (a move seen there) is left to that move,
    never hidden. :return: the ids soft-removed
    """
    Message = folder.env['maildesk.message'].sudo().with_context(active_test=False)
    Message.flush_model()
    cr = folder.env.cr
    cr.execute("""
        UPDATE maildesk_message SET active = FALSE, folder_id = NULL, write_uid = %s, write_date = %s
         WHERE folder_id = %s AND active AND NOT coalesce(is_local, FALSE)
           AND seen_round IS DISTINCT FROM %s
     RETURNING id
    """, [folder.env.uid, cr.now(), folder.id, folder.round_number])
    ids = [row[0] for row in cr.fetchall()]
    if ids:
        records = Message.browse(ids)
        records.invalidate_recordset(['active', 'folder_id', 'write_uid', 'write_date'])
        records.modified(['active', 'folder_id'])
        folder.env['maildesk.folder'].invalidate_model(['message_ids'])
    return ids
