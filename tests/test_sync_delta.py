from unittest.mock import patch

from odoo.tests import tagged

from odoo.addons.maildesk.engine import sync_run
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
        # Graph's pages vary below odata.maxpagesize (the realistic emulator serves 500 to 1,000 here; an empty first
        # page with a nextLink is possible too): whatever the first pages held, it is the newest mail.
        first = folder.synced_count
        self.assertTrue(0 <= first <= 1000, first)
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

    def test_no_change_cycle_is_one_request_per_folder(self):
        account = self.sync_account()
        self.sync_until_done(account)
        synced = len(account.folder_ids.filtered('sync_enabled'))
        self.emulator.reset_counters()
        self.run_changes()
        counters = self.emulator.counters()
        self.assertEqual(counters['by_user'].get(account.email, 0), synced, counters['by_endpoint'])
        self.assertEqual(counters['by_endpoint'], {'GET /v1.0/me/mailFolders/{id}/messages/delta': synced})
        self.run_backfill()
        self.assertEqual(self.emulator.counters()['by_user'][account.email], synced, 'backfill has nothing to do')

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
