import json
from unittest.mock import patch

from odoo.tests import tagged
from odoo.tools import SQL

from odoo.addons.maildesk.engine import folder_round, message_batch, sync_run
from odoo.addons.maildesk.tests.common import MaildeskCase
from odoo.addons.maildesk.tests.sync_common import SyncTestMixin


@tagged('post_install', '-at_install')
class TestSyncDelta(SyncTestMixin, MaildeskCase):
    """Per-folder delta sync against the emulator: newest first, progressive backfill, exact convergence."""

    emulator_options = {'users': 3, 'messages': 30}

    def test_newest_page_first_then_backfill_converges(self):
        user = self.emulator.users[0]
        big = self.new_emulator_folder(user, 'Big', count=5000)
        account = self.sync_account(extra_folders=(big,))
        folder = account.folder_ids.filtered(lambda f: f.graph_id == big)
        self.assertEqual(folder.sync_state, 'newest', 'an enabled folder waits for its newest page')

        self.emulator.reset_counters()
        self.run_changes()
        self.assertEqual(folder.sync_state, 'backfilling')
        # The first page is a small one (FIRST_PAGE_SIZE); Graph's pages vary below odata.maxpagesize (the realistic
        # emulator serves 50 to 100 here; an empty first page with a nextLink is possible too): whatever the first
        # page held, it is the newest mail.
        first = folder.synced_count
        self.assertTrue(0 <= first <= folder_round.FIRST_PAGE_SIZE, first)
        self.assertAlmostEqual(folder.backfill_progress, 100.0 * first / 5000, delta=0.5)
        self.assertIn('%d%%' % int(folder.backfill_progress), folder.sync_status)
        newest = sorted(self.emulator.state(user)[big]['messages'].items(),
                        key=lambda item: (item[1]['receivedDateTime'], item[0]), reverse=True)[:first]
        stored = set(folder.message_ids.mapped('graph_id'))
        self.assertEqual(stored, {message_id for message_id, _m in newest}, 'the first page is the newest mail')

        runs = self.sync_until_done(account)
        self.assertLessEqual(runs, 4)
        self.assertEqual(folder.sync_state, 'done')
        self.assertEqual(folder.backfill_progress, 100.0)
        self.assertEqual(folder.synced_count, 5000)
        self.assertConverged(account)
        # ~1 request per 500-1,000 messages (pages vary), empty pages and the small folders: far from per message
        delta_requests = self.emulator.counters()['by_endpoint'].get(
            'GET /v1.0/me/mailFolders/{id}/messages/delta', 0)
        self.assertLessEqual(delta_requests, 10 + 5 + 3 * 4)

    def test_changes_run_hands_page_two_to_the_backfill_lane(self):
        """The changes run stores a new folder's newest page and fetches page 2 meanwhile; the backfill lane that
        runs next in this process stores that page without asking Graph again: one request per page, no wait."""
        user = self.emulator.users[2]
        big = self.new_emulator_folder(user, 'Pages', count=60)
        self.env['ir.config_parameter'].sudo().set_param('maildesk.page_size', 10)
        account = self.sync_account(2, roles=(), extra_folders=(big,))
        folder = account.folder_ids.filtered(lambda f: f.graph_id == big)
        self.emulator.config(delta_empty_page_share=0.0)
        self.emulator.reset_counters()
        delta = 'GET /v1.0/me/mailFolders/{id}/messages/delta'
        self.run_changes()
        self.assertEqual(folder.round_page_count, 1, 'the changes run stores the newest page only')
        self.assertEqual(self.emulator.counters()['by_endpoint'].get(delta), 2, 'and fetched page 2 meanwhile')
        with patch.object(sync_run, 'BACKFILL_PAGE_BUDGET', 2):
            self.run_backfill()  # the middle of the round: its count is added up, not counted
        self.assertEqual(folder.sync_state, 'backfilling')
        self.assertEqual(folder.round_page_count, 3)
        stored = self.env['maildesk.message'].search_count([('folder_id', '=', folder.id)])
        self.assertEqual(folder.synced_count, stored)
        self.run_backfill()
        self.assertEqual(folder.sync_state, 'done')
        self.assertEqual(folder.synced_count, 60)
        self.assertEqual(self.emulator.counters()['by_endpoint'].get(delta), folder.round_page_count,
                         'every page of the round fetched once: page 2 came from the changes run')
        self.assertConverged(account)

    def test_prefetch_follows_empty_pages(self):
        """Graph may answer an empty page with a nextLink: the prefetch that gets one fetches the page after it in
        the same go (the unit storing the empty page would otherwise start that fetch only then, and the next unit
        wait for it whole). Every page is still fetched once, and the round converges."""
        user = self.emulator.users[1]
        hollow = self.new_emulator_folder(user, 'Hollow', count=40)
        self.env['ir.config_parameter'].sudo().set_param('maildesk.page_size', 10)
        account = self.sync_account(1, roles=(), extra_folders=(hollow,))
        folder = account.folder_ids.filtered(lambda f: f.graph_id == hollow)
        self.emulator.config(delta_empty_page_share=0.0)
        self.run_changes()  # page 1 stored, page 2 fetched ahead
        self.emulator.control('POST', '/delta_quirks', {'user': user, 'folder': hollow, 'empty_pages': 2})
        answers = []
        prefetch_pages = folder_round._prefetch_pages

        def recorded(*args):
            pages = prefetch_pages(*args)
            answers.append([len(delta.entries) for _link, (_page, delta) in pages])
            return pages
        self.emulator.reset_counters()
        with patch.object(folder_round, '_prefetch_pages', recorded):
            self.run_backfill()
        # Graph's pages vary below odata.maxpagesize: the third one holds 5 to 10 messages
        self.assertTrue(any(len(sizes) == 3 and sizes[:2] == [0, 0] and sizes[2] for sizes in answers), answers)
        self.assertEqual(folder.sync_state, 'done')
        self.assertEqual(folder.synced_count, 40)
        delta = self.emulator.counters()['by_endpoint'].get('GET /v1.0/me/mailFolders/{id}/messages/delta')
        self.assertEqual(delta, folder.round_page_count - 2, 'every page once (the changes run fetched pages 1, 2)')
        self.assertConverged(account)

    def test_backfill_pages_tell_open_inboxes_now_and_then(self):
        """Pages of older mail are told to open inboxes at most every BACKFILL_NOTICE_EVERY seconds per folder (a
        bus message and a reload of every open inbox each); the round's first and last pages always are."""
        folder_round._backfill_told.clear()
        self.emulator.config(delta_empty_page_share=0.0)
        self.env['ir.config_parameter'].sudo().set_param('maildesk.page_size', 10)

        def notices(folder):
            self.env.cr.flush()
            messages = self.env['bus.bus'].sudo().search([('message', 'like', '"maildesk/changed"')])
            return sum(folder.id in json.loads(bus.message)['payload']['folder_ids'] for bus in messages)

        def new_folder(user_index, name):
            graph_id = self.new_emulator_folder(self.emulator.users[user_index], name, count=50)
            account = self.sync_account(user_index, roles=(), extra_folders=(graph_id,))
            return account.folder_ids.filtered(lambda f: f.graph_id == graph_id)

        folder = new_folder(2, 'Told')
        self.run_changes()
        first = notices(folder)
        self.assertGreater(first, 0, 'the newest page is told at once')
        with patch.object(sync_run, 'BACKFILL_PAGE_BUDGET', 3), \
                patch.object(folder_round, 'BACKFILL_NOTICE_EVERY', 600):
            self.run_backfill()  # three pages of older mail, within the interval however slow the machine
        self.assertEqual(folder.round_page_count, 4)
        self.assertEqual(notices(folder), first, 'pages of older mail told a moment ago are not told again')
        stored = self.env['maildesk.message'].search_count([('folder_id', '=', folder.id)])
        self.assertEqual(folder.synced_count, stored, 'their progress is stored all the same')
        self.assertGreater(stored, 20)
        self.run_backfill()  # the last page
        self.assertEqual(folder.sync_state, 'done')
        self.assertGreater(notices(folder), first, 'the end of the round is told')

        often = new_folder(1, 'Told often')
        with patch.object(folder_round, 'BACKFILL_NOTICE_EVERY', 0):
            self.run_changes()
            first = notices(often)
            with patch.object(sync_run, 'BACKFILL_PAGE_BUDGET', 3):
                self.run_backfill()
        self.assertEqual(often.round_page_count, 4)
        self.assertGreaterEqual(notices(often), first + 3, 'a page of a folder not told for a while is told')

    def test_no_change_cycle_is_one_request_per_folder(self):
        account = self.sync_account()
        self.sync_until_done(account)
        synced = len(account.folder_ids.filtered('sync_enabled'))
        # Graph now and then answers a page (of changes too) empty with a nextLink, which costs a second request
        # (test_prefetch_follows_empty_pages): the count is exact without those
        self.emulator.config(delta_empty_page_share=0.0)
        self.emulator.reset_counters()
        self.run_changes()
        counters = self.emulator.counters()
        self.assertEqual(counters['by_user'].get(account.email, 0), synced, counters['by_endpoint'])
        self.assertEqual(counters['by_endpoint'], {'GET /v1.0/me/mailFolders/{id}/messages/delta': synced})
        self.run_backfill()
        self.assertEqual(self.emulator.counters()['by_user'][account.email], synced, 'backfill has nothing to do')

    def test_graph_id_lookup_probes_the_unique_index_whatever_the_statistics(self):
        """A page looks its graph ids up with one probe of the unique index each, also while the statistics lag
        behind a mailbox being synced: with ``graph_id = ANY(...)`` PostgreSQL then took the account's rows for
        few, read them all and filtered graph_id, for every page (a cost growing with the mailbox)."""
        account = self.make_account(authorized=False, connected=False)
        self.cr.execute('ANALYZE maildesk_message')  # statistics of a table where this account has no row
        self.cr.execute("""INSERT INTO maildesk_message (account_id, company_id, graph_id, active)
                           SELECT %s, %s, 'stored-' || n, n %% 7 > 0 FROM generate_series(1, 20000) AS n""",
                        [account.id, account.company_id.id])
        wanted = ['stored-%d' % n for n in range(1, 20001, 40)] + ['new-%d' % n for n in range(500)]
        query = SQL('SELECT graph_id FROM maildesk_message WHERE id = ANY(%s)',
                    message_batch.ids_by_graph_id(account.id, wanted))
        self.cr.execute(query)
        self.assertEqual({row[0] for row in self.cr.fetchall()}, set(wanted[:500]), 'active or not, once each')
        self.cr.execute(SQL('EXPLAIN (FORMAT JSON) %s', query))
        nodes, scans = [self.cr.fetchone()[0][0]['Plan']], []
        while nodes:
            node = nodes.pop()
            nodes.extend(node.get('Plans', ()))
            if node.get('Relation Name') == 'maildesk_message':
                scans.append(node)
        probes = [scan for scan in scans if 'graph_id' in scan.get('Index Cond', '')]
        self.assertTrue(probes, scans)
        self.assertTrue(all('account_id' in scan['Index Cond'] for scan in probes), probes)
        for scan in scans:
            self.assertNotIn('graph_id', scan.get('Filter', '') + scan.get('Recheck Cond', ''), scans)

    def test_mutations_between_and_during_runs_converge(self):
        user = self.emulator.users[1]
        projects = self.new_emulator_folder(user, 'Projects X', count=2500)
        self.env['ir.config_parameter'].sudo().set_param('maildesk.page_size', 500)
        account = self.sync_account(user_index=1, extra_folders=(projects,))
        inbox = account.folder_ids.filtered(lambda f: f.role == 'inbox')
        self.run_changes()  # newest pages only; Projects X is mid-round

        state = self.emulator.state(user)
        inbox_ids = sorted(state[inbox.graph_id]['messages'])
        project_ids = sorted(state[projects]['messages'], key=lambda m: state[projects]['messages'][m][
            'receivedDateTime'])
        # A message already stored, to be moved while its destination folder is mid-round: keeps its record.
        moved = inbox_ids[0]
        record = self.env['maildesk.message'].search([('graph_id', '=', moved)])
        tag = self.env['maildesk.tag'].create({'name': 'Keep me'})
        record.tag_ids = tag
        self.emulator.mutate(user=user, op='move', id=moved, destination=projects)
        # during the round: old (not yet enumerated) messages change, move, disappear
        self.emulator.mutate(user=user, op='update', ids=project_ids[:5], fields={'isRead': True, 'flag': 'flagged'})
        self.emulator.mutate(user=user, op='move', ids=project_ids[5:8], destination='inbox')
        self.emulator.mutate(user=user, op='delete', ids=project_ids[8:10], hard=True)
        self.emulator.mutate(user=user, op='delete', ids=[project_ids[-1]])  # newest, already stored: to Deleted
        self.run_backfill()
        # between runs: new mail, read/flag changes, moves both ways, deletes
        self.emulator.deliver(user, count=7, subject='Fresh')
        self.emulator.mutate(user=user, op='update', ids=inbox_ids[1:4], fields={'isRead': False, 'flag': 'complete'})
        self.emulator.mutate(user=user, op='move', ids=inbox_ids[4:6], destination=projects)
        self.emulator.mutate(user=user, op='move', ids=project_ids[20:22], destination='inbox')
        self.emulator.mutate(user=user, op='delete', ids=inbox_ids[6:8], hard=True)
        self.sync_until_done(account)
        self.assertConverged(account)

        record.invalidate_recordset()
        self.assertTrue(record.active)
        self.assertEqual(record.folder_id.graph_id, projects, 'a move keeps the same record')
        self.assertEqual(record.tag_ids, tag, '... and its tags')
        gone = self.env['maildesk.message'].with_context(active_test=False).search(
            [('graph_id', 'in', inbox_ids[6:8])])
        self.assertEqual(len(gone), 2, 'deleted messages are soft-removed, never deleted')
        self.assertFalse(any(gone.mapped('active')))

    def test_delta_expiry_mid_round_and_after_completion(self):
        user = self.emulator.users[2]
        folder_id = self.new_emulator_folder(user, 'Expiring', count=2200)
        self.env['ir.config_parameter'].sudo().set_param('maildesk.page_size', 1000)
        account = self.sync_account(user_index=2, roles=(), extra_folders=(folder_id,))
        folder = account.folder_ids.filtered(lambda f: f.graph_id == folder_id)
        self.run_changes()
        self.assertTrue(folder.sudo().next_link and folder.synced_count <= 1000, 'the round is under way')
        # 410 on the next link, mid-round: the round starts again and nothing is stored twice
        self.emulator.control('POST', '/expire_delta', {'user': user, 'folder': folder_id})
        self.emulator.mutate(user=user, op='delete', ids=sorted(self.emulator.state(user)[folder_id]['messages'])[:3],
                             hard=True)
        self.sync_until_done(account)
        self.assertEqual(folder.round_number, 2)
        self.assertConverged(account)

        # 410 on the delta link, after completion (another code): re-enumerate, sweep what vanished meanwhile
        self.emulator.control('POST', '/expire_delta', {'user': user, 'folder': folder_id, 'code': 'resyncRequired'})
        vanished = sorted(self.emulator.state(user)[folder_id]['messages'])[:4]
        self.emulator.mutate(user=user, op='delete', ids=vanished, hard=True)
        self.emulator.deliver(user, folder=folder_id, count=2)
        self.sync_until_done(account)
        self.assertEqual(folder.round_number, 3)
        self.assertEqual(folder.sync_state, 'done')
        self.assertConverged(account)
        self.assertFalse(self.env['maildesk.message'].search([('graph_id', 'in', vanished)]))

    def test_delta_quirks_duplicates_replays_empty_pages(self):
        user = self.emulator.users[0]
        folder_id = self.new_emulator_folder(user, 'Quirky', count=300)
        self.env['ir.config_parameter'].sudo().set_param('maildesk.page_size', 100)
        account = self.sync_account(roles=(), extra_folders=(folder_id,))
        self.emulator.control('POST', '/delta_quirks', {'user': user, 'folder': folder_id, 'duplicates': 3,
                                                        'replay': 3, 'empty_pages': 2, 'replay_n': 5})
        self.sync_until_done(account)
        self.assertConverged(account)
        ids = sorted(self.emulator.state(user)[folder_id]['messages'])
        self.emulator.mutate(user=user, op='update', ids=ids[:10], fields={'isRead': False})
        self.emulator.control('POST', '/delta_quirks', {'user': user, 'folder': folder_id, 'duplicates': 2,
                                                        'replay': 2, 'replay_n': 5})
        self.sync_until_done(account)
        self.assertConverged(account)
