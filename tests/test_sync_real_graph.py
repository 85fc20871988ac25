"""Sync against Graph as it really behaves (issue 13): sparse delta items, moves away and back, answers that look
incomplete, paging that goes nowhere. Each test fails when MailDesk's handling of the quirk is removed."""
from odoo.exceptions import UserError
from odoo.tests import tagged

from odoo.addons.maildesk.engine import folder_tree
from odoo.addons.maildesk.engine.folder_round import ROUND_PAGE_SLACK, FolderRound, GraphReads
from odoo.addons.maildesk.graph import errors, mail
from odoo.addons.maildesk.graph.client import Page

from .common import MaildeskCase
from .sync_common import SyncTestMixin


def crafted_reads(client, pages):
    """GraphReads whose delta pages are ``pages`` ({link: Page}); everything else reads the emulator."""
    reads = GraphReads(client)
    reads.page = lambda folder, link: (pages[link], mail.delta_values(pages[link].items),
                                       reads._complete(folder, mail.delta_values(pages[link].items).entries))
    return reads


@tagged('post_install', '-at_install')
class TestSyncRealGraph(SyncTestMixin, MaildeskCase):

    emulator_options = {'users': 2, 'messages': 40, 'seed': 13}

    def inbox_of(self, account):
        return account.folder_ids.filtered(lambda f: f.role == 'inbox')

    def test_sparse_update_changes_only_what_it_carries(self):
        """A read toggle comes back as {id, isRead, parentFolderId}: subject, sender and recipients stay."""
        account = self.sync_account(roles=('inbox',))
        self.sync_until_done(account)
        inbox = self.inbox_of(account)
        message = self.env['maildesk.message'].search([('folder_id', '=', inbox.id), ('is_read', '=', False)],
                                                      limit=1)
        before = message.read(['subject', 'from_address', 'to_recipients', 'received_at', 'importance'])[0]
        self.emulator.mutate(user=account.email, op='update', id=message.graph_id, fields={'isRead': True})
        client = account._graph_client()
        page = client.delta_page(inbox.graph_id, inbox.sudo().delta_link)
        sparse = [item for item in page.items if item.get('id') == message.graph_id]
        self.assertTrue(sparse and 'subject' not in sparse[0], 'the emulator sends the update sparse, as Graph does')
        self.run_changes()
        message.invalidate_recordset()
        self.assertTrue(message.is_read)
        self.assertEqual(message.read(list(before))[0], before, 'nothing the item did not carry was wiped')

    def test_move_away_and_back_converges(self):
        """A -> B -> A between two syncs is @removed in A and never re-reported there: the message stays in A."""
        user = self.emulator.users[0]
        archive = self.new_emulator_folder(user, 'Away and back')
        account = self.sync_account(roles=('inbox',), extra_folders=(archive,))
        self.sync_until_done(account)
        inbox = self.inbox_of(account)
        message = self.env['maildesk.message'].search([('folder_id', '=', inbox.id)], limit=1)
        self.emulator.mutate(user=user, op='move', id=message.graph_id, destination=archive)
        self.emulator.mutate(user=user, op='move', id=message.graph_id, destination='inbox')
        self.sync_until_done(account)
        message.invalidate_recordset()
        self.assertTrue(message.active, 'the message Outlook has in the Inbox is not hidden')
        self.assertEqual(message.folder_id, inbox)

    def test_removed_then_found_in_another_synced_folder_moves_there(self):
        """An @removed whose message Outlook has in another synced folder is a move, even if that folder's own
        delta does not report it."""
        user = self.emulator.users[0]
        account = self.sync_account(roles=('inbox', 'deleteditems'))
        self.sync_until_done(account)
        inbox = self.inbox_of(account)
        trash = account.folder_ids.filtered(lambda f: f.role == 'deleteditems')
        message = self.env['maildesk.message'].search([('folder_id', '=', inbox.id)], limit=1)
        self.emulator.mutate(user=user, op='delete', id=message.graph_id)  # to Deleted Items
        inbox_round = FolderRound(inbox.sudo(), GraphReads(account._graph_client()))
        inbox_round.sync_page()  # only the Inbox's delta: its @removed
        message.invalidate_recordset()
        self.assertEqual((message.active, message.folder_id), (True, trash))

    def test_suspicious_round_hides_nothing_until_checked_again(self):
        """An initial round that lists far fewer messages than the folder counts sweeps nothing; the folder says
        why and is read again; only a second such round sweeps."""
        account = self.sync_account(roles=('inbox',))
        self.sync_until_done(account)
        inbox = self.inbox_of(account).sudo()
        count = self.env['maildesk.message'].search_count([('folder_id', '=', inbox.id)])
        self.assertGreater(inbox.total_count, 20)
        client = account._graph_client()
        self.emulator.config(delta_empty_page_share=0.0, delta_duplicate_share=0.0)  # three distinct messages
        real = client.delta_page(inbox.graph_id)
        truncated = Page(real.items[:3], None, inbox.delta_link)  # an "empty" end after three messages
        inbox.write({'next_link': False, 'delta_link': False})
        reads = crafted_reads(client, {None: truncated})
        FolderRound(inbox, reads).sync_page()
        self.assertEqual(self.env['maildesk.message'].search_count([('folder_id', '=', inbox.id)]), count,
                         'nothing hidden on an answer that looks incomplete')
        self.assertTrue(inbox.sweep_deferred)
        self.assertIn('nothing was removed', inbox.last_error)
        FolderRound(inbox, reads).sync_page()  # the same answer once more: now it is what Outlook has
        self.assertEqual(self.env['maildesk.message'].search_count([('folder_id', '=', inbox.id)]), 3)
        self.assertFalse(inbox.sweep_deferred)

    def test_folder_list_without_the_inbox_removes_nothing(self):
        account = self.sync_account(roles=('inbox',))
        client = account._graph_client()
        roles = {fid: role for role, fid in client.well_known_folder_ids().items()}
        inbox_id = next(fid for fid, role in roles.items() if role == 'inbox')
        items = [item for item in client.list_folders() if item['id'] != inbox_id]
        folders = account.folder_ids
        with self.assertRaisesRegex(UserError, 'removed nothing'):
            folder_tree.store_folder_tree(account, items, {k: v for k, v in roles.items() if k != inbox_id})
        self.assertEqual(account.folder_ids, folders)

    def test_a_next_link_that_repeats_stops_the_round(self):
        self.env['ir.config_parameter'].sudo().set_param('maildesk.page_size', 10)
        account = self.sync_account(roles=('inbox',))
        self.run_changes()
        inbox = self.inbox_of(account).sudo()
        link = inbox.next_link
        self.assertTrue(link)
        reads = crafted_reads(account._graph_client(), {link: Page([], link, None)})
        with self.assertRaises(errors.BadResponse):
            FolderRound(inbox, reads).sync_page()
        self.assertEqual(inbox.next_link, link, 'the cursor is kept')

    def test_weeks_of_change_cycles_keep_the_folder_syncing(self):
        """Every cycle is a one-page incremental round: its pages count on their own, never toward the paging
        budget of the rounds before (the budget of a 40-message folder is 110 pages; this runs more cycles)."""
        account = self.sync_account(roles=('inbox',))
        self.sync_until_done(account)
        inbox = self.inbox_of(account).sudo()
        cycles = 10 * (inbox.total_count // 1000 + 1) + ROUND_PAGE_SLACK + 5
        for _cycle in range(cycles):
            self.run_changes()
        graph_id = self.emulator.deliver(account.email, count=1, subject='After many cycles')[0]
        self.run_changes()
        self.assertFalse(inbox.last_error)
        self.assertEqual(inbox.round_page_count, 1, 'the last cycle counted its own page only')
        self.assertTrue(self.env['maildesk.message'].search_count([('graph_id', '=', graph_id)]),
                        'mail delivered after %d cycles arrives' % cycles)
