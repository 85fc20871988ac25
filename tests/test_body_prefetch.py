from datetime import datetime, timedelta, timezone
from unittest.mock import ANY, patch

from odoo import fields, sql_db
from odoo.tests import TransactionCase, tagged

from odoo.addons.maildesk.engine import body_prefetch, mailbox_slots
from odoo.addons.maildesk.tests.common import MaildeskCase
from odoo.addons.maildesk.tests.sync_common import SyncTestMixin

PROJECT_MESSAGES = 30
BATCH = 'POST /v1.0/$batch'
GET_MESSAGE = 'GET /v1.0/me/messages/{id}'


@tagged('post_install', '-at_install')
class TestBodyPrefetch(SyncTestMixin, MaildeskCase):
    """Bodies prefetched in the background: the newest of an opened folder and new Inbox mail, within a budget,
    respecting retention, throttling and accounts that cannot sync."""

    emulator_options = {'users': 2, 'messages': 5}

    def setUp(self):
        super().setUp()
        self.set_retention(0)
        self.owner = self.make_maildesk_user(self.env, 'prefetch_owner')
        user = self.emulator.users[0]
        self.project_graph_id = self.new_emulator_folder(user, 'Projects %s' % self._testMethodName,
                                                         count=PROJECT_MESSAGES)
        self.account = self.sync_account(roles=('inbox',), extra_folders=(self.project_graph_id,))
        self.account.sudo().user_id = self.owner
        self.sync_until_done(self.account)
        self.projects = self.account.folder_ids.filtered(lambda f: f.graph_id == self.project_graph_id)
        self.inbox = self.account.folder_ids.filtered(lambda f: f.role == 'inbox')

    def set_retention(self, days):
        self.env['ir.config_parameter'].sudo().set_param('maildesk.body_retention_days', days)

    def open_list(self, folder, user=None):
        return self.env['maildesk.inbox'].with_user(user or self.owner).maildesk_list(
            view={'type': 'folder', 'id': folder.id})

    def sync_crons_not_due(self):
        """Between two sync runs: no sync cron due (the prefetch gives way to a due one)."""
        crons = self.env['ir.cron'].sudo().browse([self.env.ref(x).id for x in body_prefetch.SYNC_CRONS])
        crons.write({'nextcall': fields.Datetime.now() + timedelta(hours=1)})
        self.env['ir.cron.trigger'].sudo().search([('cron_id', 'in', crons.ids)]).unlink()

    def run_prefetch(self):
        self.sync_crons_not_due()
        return self.env['maildesk.message']._cron_prefetch_bodies()

    def requests(self):
        return self.graph_requests(self.account)

    def fetched(self, folder):
        self.env.invalidate_all()
        return self.env['maildesk.message'].search([('folder_id', '=', folder.id), ('body_fetched_at', '!=', False)])

    def newest(self, folder, count):
        return self.env['maildesk.message'].search([('folder_id', '=', folder.id)],
                                                   order='received_at desc, id desc', limit=count)

    def cron_triggered(self, after=None):
        cron = self.env.ref(body_prefetch.PREFETCH_CRON)
        domain = [('cron_id', '=', cron.id)] + ([('call_at', '>', after)] if after else [])
        return self.env['ir.cron.trigger'].sudo().search_count(domain)

    def test_opened_folder_newest_bodies_read_locally(self):
        self.run_prefetch()  # whatever the seed left in the Inbox
        self.assertFalse(self.fetched(self.projects), 'sync stores no body')
        triggers = self.cron_triggered()
        self.emulator.reset_counters()
        rows = self.open_list(self.projects)['rows']
        self.assertEqual(self.requests(), 0, 'the list RPC never waits for Graph')
        self.assertTrue(self.projects.prefetch_requested_at, 'the open folder is queued')
        self.assertGreater(self.cron_triggered(), triggers, 'the prefetch cron is woken')

        self.emulator.reset_counters()
        run = self.run_prefetch()
        endpoints = self.emulator.counters()['by_endpoint']
        self.assertEqual(endpoints.get(BATCH), 1, 'the %d bodies in one Graph request' % body_prefetch.FOLDER_NEWEST)
        self.assertEqual(endpoints.get(GET_MESSAGE), body_prefetch.FOLDER_NEWEST)
        self.assertEqual(self.emulator.counters()['max_in_flight'].get(self.account.email), 1,
                         'a serial batch: one of the mailbox\'s 4 concurrent requests, as a plain GET')
        newest = self.newest(self.projects, body_prefetch.FOLDER_NEWEST)
        self.assertEqual(set(self.fetched(self.projects).ids), set(newest.ids),
                         'exactly the newest %d bodies of the folder are stored' % body_prefetch.FOLDER_NEWEST)
        self.assertEqual([row['id'] for row in rows[:len(newest)]], newest.ids, 'the first rows the user sees')
        self.assertGreaterEqual(run.fetched, len(newest))
        self.assertFalse(self.projects.prefetch_requested_at, 'the request was served')

        self.emulator.reset_counters()
        Inbox = self.env['maildesk.inbox'].with_user(self.owner)
        for message in newest[:5]:
            result = Inbox.maildesk_read(message.id, mark_read=False)
            self.assertFalse(result.get('body_error'))
            self.assertTrue(result['body_html'])
        self.assertEqual(self.requests(), 0, 'a prefetched message opens with no Graph request')
        older = self.env['maildesk.message'].search([('folder_id', '=', self.projects.id)]) - newest
        Inbox.maildesk_read(older[:1].id, mark_read=False)
        self.assertEqual(self.requests(), 1, 'one that was not prefetched is fetched on open as before')

    def test_folder_the_user_may_not_read_is_never_requested(self):
        stranger = self.make_maildesk_user(self.env, 'prefetch_stranger')
        self.open_list(self.projects, user=stranger)
        self.assertFalse(self.projects.prefetch_requested_at)
        self.emulator.reset_counters()
        self.run_prefetch()
        self.assertFalse(self.fetched(self.projects), 'nothing of a folder nobody with access opened')

    def test_reopening_soon_records_once_and_paging_records_nothing(self):
        self.open_list(self.projects)
        first = self.projects.prefetch_requested_at
        self.assertTrue(first)
        self.env['maildesk.inbox'].with_user(self.owner).maildesk_list(
            view={'type': 'folder', 'id': self.projects.id}, offset=50)
        self.open_list(self.projects)
        self.env.invalidate_all()
        self.assertEqual(self.projects.prefetch_requested_at, first)

    def test_newly_synced_inbox_mail_prefetched(self):
        self.run_prefetch()  # whatever the seed left in the Inbox
        graph_ids = self.emulator.deliver(self.account.email, count=3, subject='Fresh')
        now = fields.Datetime.now()
        run = self.run_changes()
        self.assertEqual(run.stored, 3)
        self.assertTrue(self.cron_triggered(), 'a sync run that stored mail wakes the prefetch')
        self.assertLessEqual(self.env['ir.cron.trigger'].sudo().search(
            [('cron_id', '=', self.env.ref(body_prefetch.PREFETCH_CRON).id)], order='call_at desc', limit=1).call_at,
            now + timedelta(seconds=5), 'woken now, not later')
        self.run_prefetch()
        fresh = self.env['maildesk.message'].search([('graph_id', 'in', graph_ids)])
        self.assertEqual(len(fresh), 3)
        self.assertTrue(all(fresh.mapped('body_fetched_at')), 'new Inbox mail has its body before it is opened')
        self.assertFalse(self.fetched(self.projects), 'folders nobody opened are left alone')
        self.emulator.reset_counters()
        for message in fresh:
            self.env['maildesk.inbox'].with_user(self.owner).maildesk_read(message.id, mark_read=False)
        self.assertEqual(self.requests(), 0)

    def test_throttled_account_stops_without_error_and_without_loss(self):
        self.open_list(self.projects)
        self.emulator.reset_counters()
        self.emulator.faults({'status': 429, 'retry_after': '120', 'path_contains': '/messages/'})
        before = fields.Datetime.now()
        run = self.run_prefetch()
        self.assertEqual(run.throttled, {self.account.id: 120.0})
        self.assertEqual(run.fetched, 0)
        endpoints = self.emulator.counters()['by_endpoint']
        self.assertEqual((endpoints.get(BATCH), endpoints.get(GET_MESSAGE)), (1, 1),
                         'the first 429 stops the account: no retry, the serial batch ran no other message')
        self.assertFalse(self.fetched(self.projects))
        self.env.invalidate_all()
        self.assertTrue(self.projects.prefetch_requested_at, 'the request is kept for later')
        self.assertTrue(self.cron_triggered(after=before + timedelta(seconds=100)),
                        'woken when the throttling ends')
        self.emulator.faults()
        self.run_prefetch()
        self.assertEqual(len(self.fetched(self.projects)), body_prefetch.FOLDER_NEWEST, 'served once Graph allows')

    def test_retention_window_respected(self):
        self.set_retention(1)
        user = self.emulator.users[0]
        old_iso = (datetime.now(timezone.utc) - timedelta(days=5)).strftime('%Y-%m-%dT%H:%M:%SZ')
        folder_graph_id = self.new_emulator_folder(user, 'Mixed ages')
        old_ids = self.emulator.deliver(user, folder=folder_graph_id, count=2, receivedDateTime=old_iso)
        recent_ids = self.emulator.deliver(user, folder=folder_graph_id, count=2)
        folder = self.enable_folder(self.account, folder_graph_id)
        self.sync_until_done(self.account)
        self.open_list(folder)
        self.run_prefetch()
        Message = self.env['maildesk.message']
        self.assertTrue(all(Message.search([('graph_id', 'in', recent_ids)]).mapped('body_fetched_at')))
        old = Message.search([('graph_id', 'in', old_ids)])
        self.assertEqual(len(old), 2)
        self.assertFalse(any(old.mapped('body_fetched_at')), 'older than the retention window: not prefetched')

    def test_message_deleted_in_outlook_meanwhile_costs_only_itself(self):
        """A 404 in the serial batch leaves those after it unrun (424): they are asked again and stored."""
        self.run_prefetch()
        self.open_list(self.projects)
        newest = self.newest(self.projects, body_prefetch.FOLDER_NEWEST)
        gone = newest[5]
        self.emulator.mutate(user=self.account.email, op='delete', ids=[gone.graph_id], hard=True)
        self.emulator.reset_counters()
        run = self.run_prefetch()
        self.assertEqual((run.fetched, run.failed), (len(newest) - 1, 1))
        self.assertEqual(set(self.fetched(self.projects).ids), set((newest - gone).ids))
        self.assertEqual(self.emulator.counters()['by_endpoint'].get(BATCH), 2, 'the batch, then what it left unrun')
        self.assertTrue(gone.exists(), 'the next sync removes it, not the prefetch')

    def test_no_body_request_while_sync_holds_the_mailbox_slots(self):
        """Sync runs (any process) hold the mailbox's 4 concurrent requests: the prefetch sends nothing beside
        them, keeps the folder's request and comes back later. (In test mode every cursor is the test's own
        connection, whose locks never conflict: the slots are taken away here; TestMailboxSlots takes them between
        two connections.)"""
        self.open_list(self.projects)
        self.emulator.reset_counters()
        before = fields.Datetime.now()
        with patch.object(body_prefetch, 'take_mailbox_slots', return_value=0) as take:
            run = self.run_prefetch()
        take.assert_called_with(ANY, self.account.id, 1)
        self.assertEqual((run.fetched, run.failed, self.requests()), (0, 0, 0))
        self.assertEqual(run.busy, {self.account.id})
        self.env.invalidate_all()
        self.assertTrue(self.projects.prefetch_requested_at, 'the request waits')
        self.assertTrue(self.cron_triggered(after=before + timedelta(seconds=body_prefetch.SYNC_WAIT - 5)),
                        'back after sync, not in a busy loop')
        self.run_prefetch()
        self.assertEqual(len(self.fetched(self.projects)), body_prefetch.FOLDER_NEWEST, 'served once a slot is free')


    def test_failed_batch_stops_the_account_for_the_run(self):
        """The batch request itself fails (a 500 Graph gave up on): one request, no error out of the cron."""
        self.open_list(self.projects)
        self.emulator.reset_counters()
        self.emulator.faults({'status': 500, 'path_contains': '$batch'})
        run = self.run_prefetch()
        self.assertEqual((run.fetched, run.failed), (0, body_prefetch.FOLDER_NEWEST))
        self.assertIn(self.account.id, run.stopped)
        self.assertEqual(self.emulator.counters()['by_endpoint'].get(BATCH), 1, 'not one request per body after it')
        self.assertFalse(self.fetched(self.projects))
        self.emulator.faults()
        self.projects.sudo().prefetch_requested_at = fields.Datetime.now()  # the user opens it again, later
        self.run_prefetch()
        self.assertEqual(len(self.fetched(self.projects)), body_prefetch.FOLDER_NEWEST)

    def test_budget_bounds_a_run(self):
        self.open_list(self.projects)
        self.sync_crons_not_due()
        self.emulator.reset_counters()
        run = body_prefetch.PrefetchRun(self.env, max_messages=4).run()
        self.assertEqual(run.fetched, 4)
        self.assertEqual(self.emulator.counters()['by_endpoint'].get(GET_MESSAGE), 4, 'a batch as large as the budget')
        self.assertTrue(run.left)
        self.assertEqual(len(self.fetched(self.projects)), 4)

    def test_gives_way_to_a_due_sync(self):
        self.open_list(self.projects)
        self.sync_crons_not_due()
        self.env.ref('maildesk.ir_cron_maildesk_backfill').sudo()._trigger()
        self.emulator.reset_counters()
        before = fields.Datetime.now()
        run = self.env['maildesk.message']._cron_prefetch_bodies()
        self.assertTrue(run.yielded)
        self.assertEqual((run.fetched, self.requests()), (0, 0), 'not one body while sync waits')
        self.assertTrue(self.projects.prefetch_requested_at, 'the request waits')
        self.assertTrue(self.cron_triggered(after=before + timedelta(seconds=body_prefetch.SYNC_WAIT - 5)),
                        'back after sync, not in a busy loop')
        self.run_prefetch()
        self.assertEqual(len(self.fetched(self.projects)), body_prefetch.FOLDER_NEWEST)

    def test_never_for_an_auth_invalid_account(self):
        self.open_list(self.projects)
        self.account._write_status({'state': 'auth_invalid'})
        self.emulator.deliver(self.account.email, count=2)
        self.emulator.reset_counters()
        run = self.run_prefetch()
        self.assertEqual((run.fetched, run.failed), (0, 0))
        self.assertEqual(self.requests(), 0, 'no Graph request')
        self.assertEqual(self.token_requests(), 0, 'not even a token request')
        self.assertFalse(self.fetched(self.projects))
        self.assertTrue(self.projects.prefetch_requested_at, 'the request waits for a new sign-in')


@tagged('post_install', '-at_install')
class TestMailboxSlots(TransactionCase):
    """The mailbox's 4 slots between two connections (two processes): what one holds, the other cannot take."""

    ACCOUNT_ID = 2 ** 31 - 7  # no account has it: nothing else of the suite takes its slots

    def test_slots_held_by_another_connection_are_not_taken(self):
        holder = sql_db.db_connect(self.env.cr.dbname).cursor()
        other = sql_db.db_connect(self.env.cr.dbname).cursor()
        try:
            self.assertEqual(mailbox_slots.take_mailbox_slots(holder, self.ACCOUNT_ID, 3), 3)
            self.assertEqual(mailbox_slots.take_mailbox_slots(other, self.ACCOUNT_ID, 2), 1, 'one of 4 was left')
            self.assertEqual(mailbox_slots.take_mailbox_slots(other, self.ACCOUNT_ID + 1, 2), 2, 'per mailbox')
            holder.rollback()  # the holder's transaction ends: its slots are free
            self.assertEqual(mailbox_slots.take_mailbox_slots(holder, self.ACCOUNT_ID, 4), 3,
                             'all but the one the other connection still holds')
        finally:
            for cr in (holder, other):
                cr.rollback()
                cr.close()
