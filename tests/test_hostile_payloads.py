"""Hostile Graph input: >= 1,000 generated malformed payloads through the mapping, the store and the sync crons.

The cron tests serve the payloads over HTTPS from :class:`hostile_graph.HostileGraph` (a real server in front of
the emulator); MailDesk's Graph client, mapping and sync run unpatched.
"""
import datetime

from odoo.tests import TransactionCase, tagged
from odoo.tools import SQL

from odoo.addons.maildesk.engine.message_batch import MessageBatch
from odoo.addons.maildesk.engine.pg_values import copy_fields, copy_rows, pg_array
from odoo.addons.maildesk.graph import mail

from .common import MaildeskCase
from .hostile_corpus import _RANDOM_CJK, HOSTILE_PREFIX, WIRE_BODIES, malformed_items
from .hostile_graph import EvilListener, HostileGraph
from .reliability_common import LogCapture, compare, converged, local_state, server_state
from .sync_common import SyncTestMixin

CORPUS_SIZE = 1200
TEXT_LIMITS = {'subject': mail.MAX_SUBJECT_LENGTH, 'from_name': mail.MAX_NAME_LENGTH,
               'sender_name': mail.MAX_NAME_LENGTH, 'from_address': mail.MAX_ADDRESS_LENGTH,
               'sender_address': mail.MAX_ADDRESS_LENGTH, 'body_preview': mail.MAX_PREVIEW_LENGTH,
               'to_recipients': mail.MAX_RECIPIENT_LIST_LENGTH, 'cc_recipients': mail.MAX_RECIPIENT_LIST_LENGTH,
               'bcc_recipients': mail.MAX_RECIPIENT_LIST_LENGTH, 'reply_to': mail.MAX_RECIPIENT_LIST_LENGTH}
# Indexed columns: a btree entry holds ~2,700 bytes, so these are capped in UTF-8 bytes.
INDEXED = ('graph_id', 'internet_message_id', 'conversation_id')


def storable(item):
    """What the mapping says about one item: 'removed', 'skipped' or 'message'."""
    if mail.is_removed(item):
        return 'removed'
    try:
        mail.message_values(item)
    except mail.MalformedItem:
        return 'skipped'
    return 'message'


@tagged('post_install', '-at_install')
class TestHostileMapping(TransactionCase):
    """graph.mail and the batch upsert on 1,200 generated malformed items: only MalformedItem, sane values."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.corpus = malformed_items(CORPUS_SIZE)

    def test_mapping_never_raises_anything_else(self):
        kinds = {'message': 0, 'skipped': 0, 'removed': 0}
        for item, kind in self.corpus:
            if mail.is_removed(item):
                kinds['removed'] += 1
                continue
            try:
                values = mail.message_values(item)
            except mail.MalformedItem as exc:
                self.assertTrue(exc.reason)
                self.assertNotIn('HOSTILE', exc.reason, 'the reason never quotes the payload')
                kinds['skipped'] += 1
                continue
            except Exception as exc:  # noqa: BLE001 - the property under test
                self.fail('%s raised %r for a %s item' % ('message_values', exc, kind))
            kinds['message'] += 1
            for key, value in values.items():
                if isinstance(value, str):
                    value.encode('utf-8')  # no lone surrogate reaches PostgreSQL
                    self.assertNotIn('\x00', value, key)
                    self.assertLessEqual(len(value), TEXT_LIMITS.get(key, mail.MAX_ID_LENGTH), key)
                    if key in INDEXED:
                        self.assertLessEqual(len(value.encode('utf-8')), mail.MAX_ID_LENGTH, key)
            for key in ('received_at', 'sent_at', 'modified_at'):
                self.assertTrue(values[key] is None or isinstance(values[key], datetime.datetime), key)
                self.assertTrue(values[key] is None or values[key].tzinfo is None, key)
            for key in ('is_read', 'is_draft', 'has_attachments'):
                self.assertIsInstance(values[key], bool, key)
            self.assertIn(values['importance'], ('low', 'normal', 'high'))
            self.assertIn(values['flag_status'], ('notFlagged', 'flagged', 'complete'))
            self.assertLessEqual(len(values['categories']), mail.MAX_CATEGORIES)
            self.assertLessEqual(len(values['recipient_addresses']), 3 * mail.MAX_RECIPIENTS)
        self.assertGreaterEqual(sum(kinds.values()), 1000)
        self.assertTrue(all(kinds.values()), kinds)

    def test_store_takes_every_batch(self):
        account = self.env['maildesk.account'].create({'name': 'Hostile', 'email': 'hostile@contoso.test'})
        folder = self.env['maildesk.folder'].sudo().create({
            'account_id': account.id, 'graph_id': 'hostile-folder', 'name': 'Hostile', 'sync_enabled': True})
        items = [item for item, _kind in self.corpus]
        expected_skips = sum(storable(item) == 'skipped' for item in items)
        totals = {'skipped': 0, 'created': 0}
        for _replay in range(2):  # the second pass replays every page: nothing new, nothing twice
            for start in range(0, len(items), 100):
                stats = MessageBatch(folder).apply(mail.delta_values(items[start:start + 100]))
                totals['skipped'] += stats['skipped']
                totals['created'] += stats['created']
            if not _replay:
                created = totals['created']
        self.assertEqual(totals['skipped'], 2 * expected_skips, 'every unusable item is counted, never fatal')
        self.assertEqual(totals['created'], created, 'a replay creates nothing')
        self.env.cr.execute('SELECT count(*), count(DISTINCT graph_id) FROM maildesk_message WHERE account_id = %s',
                            [account.id])
        total, distinct = self.env.cr.fetchone()
        self.assertEqual(total, distinct, 'one row per Graph id')
        self.assertGreater(total, 500)


    def test_stored_columns_are_the_mapped_values_exactly(self):
        """The batch sends each column as one array literal: quotes, backslashes, braces, commas, NULL-looking
        text, control characters and any script come back from the table exactly as graph.mail mapped them."""
        account = self.env['maildesk.account'].create({'name': 'Exact', 'email': 'exact@contoso.test'})
        folder = self.env['maildesk.folder'].sudo().create({
            'account_id': account.id, 'graph_id': 'exact-folder', 'name': 'Exact', 'sync_enabled': True})
        items = [item for item, _kind in self.corpus if storable(item) == 'message']
        batch = MessageBatch(folder)
        batch.apply(mail.delta_values(items[:400]))
        expected = {}
        for item in items[:400]:
            values = mail.message_values(item)
            batch.partners = {}
            expected[values['graph_id']] = batch._row_values(values)
        columns = ['subject', 'from_name', 'from_address', 'to_recipients', 'body_preview', 'categories',
                   'internet_message_id', 'received_at', 'modified_at', 'is_read', 'importance']
        self.env.cr.execute(SQL('SELECT graph_id, %s FROM maildesk_message WHERE account_id = %s',
                                SQL(', ').join(SQL.identifier(c) for c in columns), account.id))
        rows = self.env.cr.fetchall()
        self.assertEqual(len(rows), len(expected))
        for graph_id, *stored in rows:
            want = expected[graph_id]
            for column, value in zip(columns, stored, strict=True):
                self.assertEqual(value if value is not None else False,
                                 want[column] if column != 'is_read' else bool(want[column]), (graph_id, column))

    def test_array_literals_round_trip(self):
        """A column goes to PostgreSQL as one array literal, text escaped for the whole column at once: every value
        comes back as it was, an empty one as NULL (ORM-style), and a NUL is refused as psycopg2 would."""
        hostile = ['', 'NULL', 'null', '"', '\\', '\\"', '{a,b}', 'a,b', ' lead and trail ', '\t\n\r', "it's",
                   '{"x": [1, 2]}', _RANDOM_CJK, 'é🦄', None, False, '\x01', '\x01\x01"', '', '\\\x01', '"",""']
        self.env.cr.execute('SELECT array_agg(v ORDER BY n) FROM unnest(%s::text[]) WITH ORDINALITY AS u(v, n)',
                            [pg_array(hostile, 'text')])
        self.assertEqual(self.env.cr.fetchone()[0], [value or None for value in hostile])
        for values in ([], [''], [None, None], ['x']):
            self.env.cr.execute('SELECT %s::varchar[]', [pg_array(values, 'VARCHAR(64)')])
            self.assertEqual(self.env.cr.fetchone()[0], [value or None for value in values])
        with self.assertRaises(ValueError):
            pg_array(['a', 'b\x00\x01c'], 'text')
        moments = [datetime.datetime(2026, 12, 1, 17, 30), datetime.datetime(1999, 1, 2, 3, 4, 5, 678901), None]
        self.env.cr.execute('SELECT %s::timestamp[], %s::int4[], %s::bool[]',
                            [pg_array(moments, 'timestamp'), pg_array([1, -2, None, 0, False], 'int4'),
                             pg_array([True, False, None], 'bool')])
        self.assertEqual(self.env.cr.fetchone(), (moments, [1, -2, None, 0, None], [True, False, None]))

    def test_copy_fields_round_trip(self):
        """New rows go to PostgreSQL as COPY text (one stream for the page): every value comes back as it was --
        COPY's own escapes, its NULL mark and its end-of-data mark among them --, an empty one as NULL (ORM-style),
        and a NUL is refused as psycopg2 would."""
        hostile = ['', '\\N', '\\.', '\\', '\t', '\n', '\r', '\r\n', 'a\tb\nc', '\\t', 'NULL', '"', "it's",
                   '{a,b}', _RANDOM_CJK, 'é🦄', None, False, '\x01', ' lead and trail ', '\\\n']
        moments = [datetime.datetime(2026, 12, 1, 17, 30), datetime.datetime(1999, 1, 2, 3, 4, 5, 678901), None]
        count = len(hostile)
        cr = self.env.cr
        cr.execute('CREATE TEMP TABLE copy_check (n int4, t varchar, at timestamp, yes bool)')
        copy_rows(cr, 'copy_check', {
            'n': copy_fields(list(range(count)), 'int4'),
            't': copy_fields(hostile, 'VARCHAR'),
            'at': copy_fields((moments * count)[:count], 'timestamp'),
            'yes': copy_fields(([True, False, None] * count)[:count], 'bool'),
        })
        cr.execute('SELECT t, at, yes FROM copy_check ORDER BY n')
        self.assertEqual(cr.fetchall(), [(value or None, moment, yes) for value, moment, yes in zip(
            hostile, (moments * count)[:count], ([True, False, None] * count)[:count], strict=True)])
        self.assertEqual(copy_fields([], 'text'), [])
        self.assertEqual(copy_fields([0, None, False, -3], 'int8'), ['0', '\\N', '\\N', '-3'])
        with self.assertRaises(ValueError):
            copy_fields(['a', 'b\x00c'], 'text')
        with self.assertRaises(ValueError):
            copy_fields(['a'], 'jsonb')

    def test_reply_headers_fit_the_index(self):
        """In-Reply-To / References come from the sender (fetched for a lonely reply): stored whatever they are."""
        from odoo.addons.maildesk.engine.threads import header_values as _thread_header_values
        account = self.env['maildesk.account'].create({'name': 'Headers', 'email': 'headers@contoso.test'})
        Message = self.env['maildesk.message'].sudo()
        for index, value in enumerate((_RANDOM_CJK, '<a\x00b@x>', '\ud800<x@y>', '<%s@x>' % ('🦄' * 2000),
                                       ' '.join('<r%d@x>' % n for n in range(5000)))):
            values = _thread_header_values([{'name': 'In-Reply-To', 'value': value},
                                            {'name': 'References', 'value': value}, 'junk', {'name': None}])
            message = Message.create({'account_id': account.id, 'graph_id': 'hdr-%d' % index, 'subject': 'x'})
            message.write(values)
            message.flush_recordset()  # the btree index on (account_id, in_reply_to) takes it
            self.assertLessEqual(len((message.in_reply_to or '').encode('utf-8')), mail.MAX_ID_LENGTH)


@tagged('post_install', '-at_install')
class TestHostileSync(SyncTestMixin, MaildeskCase):
    """The crons against a hostile Graph: no exception, no ERROR log, the folder records what it skipped or why
    it failed, the other mailbox keeps syncing, and once Graph behaves the folder converges."""

    emulator_options = {'users': 2, 'messages': 40}
    page_size = 50

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.graph = HostileGraph(cls.emulator)
        cls.addClassCleanup(cls.graph.stop)
        cls.evil = EvilListener(cls.emulator.state_dir)
        cls.addClassCleanup(cls.evil.stop)
        cls.graph.set_evil(cls.evil.url)
        cls.configure_maildesk(**{'maildesk.graph_url': cls.graph.graph_url})

    def setUp(self):
        super().setUp()
        self.logs = LogCapture()
        self.logs.__enter__()
        self.addCleanup(self.logs.__exit__)
        victim_user, _other_user = self.emulator.users
        self.folder_id = self.new_emulator_folder(victim_user, 'Hostile %s' % self._testMethodName, count=300)
        self.victim = self.sync_account(0, roles=('inbox',), extra_folders=(self.folder_id,))
        self.other = self.sync_account(1)
        self.folder = self.victim.folder_ids.filtered(lambda f: f.graph_id == self.folder_id)

    def cron_run(self):
        """Both crons, as Odoo's cron runner calls them: they must return, never raise."""
        self.env['maildesk.account']._cron_sync_changes()
        self.env['maildesk.account']._cron_backfill()
        self.env.invalidate_all()

    def assertNoErrorLogged(self):
        self.assertFalse(self.logs.errors(), 'an ERROR was logged: the hostile input was not handled')

    def assertOtherMailboxSyncs(self):
        ids = self.emulator.deliver(self.other.email, count=1, subject='Still flowing')
        self.cron_run()
        self.assertTrue(self.env['maildesk.message'].search_count([('graph_id', 'in', ids)]),
                        'the other mailbox kept syncing')
        self.assertConverged(self.other)

    def assertVictimConverged(self, allowed_extra=()):
        synced = set(self.victim.folder_ids.filtered('sync_enabled').mapped('graph_id'))
        server = server_state(self.emulator, self.victim.email, synced)
        local, duplicates = local_state(self.env.cr, self.victim.id)
        report = compare(server, local, duplicates, allowed_extra)
        self.assertTrue(converged(report), report)

    def test_malformed_items_in_delta_pages(self):
        corpus = malformed_items(CORPUS_SIZE, seed=self._testMethodName, folder_id=self.folder_id)
        items = [item for item, _kind in corpus]
        self.graph.inject_items(self.folder_id, items, per_page=150)
        expected_skips = sum(storable(item) == 'skipped' for item in items)
        injected_ids = {item.get('id') for item in items if isinstance(item, dict) and isinstance(item.get('id'), str)}

        self.cron_run()
        self.assertNoErrorLogged()
        # Graph's pages vary in size: the page that carried the bad items may not be the run's last one, so the
        # folder's count says it (its last error says it for the page that skipped them)
        self.assertGreater(self.folder.skipped_count, 0, 'the folder says it skipped items')
        for _run in range(30):
            if self.folder.sync_state == 'done' and not self.graph.pending(self.folder_id)[0]:
                break
            self.cron_run()
        self.assertEqual(self.graph.pending(self.folder_id), (0, 0), 'every hostile item was served')
        self.assertEqual(self.folder.sync_state, 'done', self.folder.last_error)
        self.assertEqual(self.folder.skipped_count, expected_skips, 'each unusable item is counted once')
        self.assertNoErrorLogged()
        self.assertVictimConverged(allowed_extra=injected_ids)
        self.assertTrue(self.env['maildesk.message'].search_count([('graph_id', '=like', HOSTILE_PREFIX + '%')]))
        self.assertOtherMailboxSyncs()

    def test_hostile_responses(self):
        self.sync_until_done(self.victim)
        self.sync_until_done(self.other)
        self.emulator.deliver(self.victim.email, folder=self.folder_id, count=3, subject='After the storm')
        outcomes = {}
        for body in WIRE_BODIES:
            self.graph.queue_wire(self.folder_id, body)
            self.cron_run()
            self.assertNoErrorLogged()
            self.assertEqual(self.graph.pending(self.folder_id), (0, 0), body[0])
            outcomes[body[0]] = (self.folder.sync_state, self.folder.last_error)
            if self.folder.sync_state == 'error':
                self.assertTrue(self.folder.last_error, 'the folder records why (%s)' % body[0])
            self.assertOtherMailboxSyncs()
        errors = [name for name, (state, _error) in outcomes.items() if state == 'error']
        for name in ('not_json', 'json_array', 'value_not_list', 'no_links', 'foreign_next_link', 'deep_nesting'):
            self.assertIn(name, errors, outcomes)
        self.assertFalse(self.evil.calls, 'a nextLink to another host is never followed (nor given the token)')
        self.cron_run()
        self.assertEqual(self.folder.sync_state, 'done', self.folder.last_error)
        self.assertFalse(self.folder.last_error)
        self.assertVictimConverged(allowed_extra={'HOSTILE-UTF8-1', 'HOSTILE-NAN-1'})
        odd = self.env['maildesk.message'].search([('graph_id', '=', 'HOSTILE-UTF8-1')])
        if odd:
            self.assertIn('\ufffd', odd.subject, 'invalid UTF-8 became replacement characters')
