from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from odoo.addons.maildesk.engine import folder_tree
from odoo.addons.maildesk.tests.common import MaildeskCase
from odoo.addons.maildesk.tests.sync_common import SyncTestMixin

ROLES = ('inbox', 'sentitems', 'drafts', 'deleteditems', 'archive', 'junkemail')


@tagged('post_install', '-at_install')
class TestFolders(SyncTestMixin, MaildeskCase):
    """Fetch Folders: the whole tree from Graph, idempotent, following renames, moves and deletions."""

    emulator_options = {'users': 3, 'messages': 10}

    def visible_tree(self, user):
        """Ground truth: {graph id: (name, parent graph id or None, role, total, unread)} of the visible tree."""
        state = self.emulator.state(user)
        root = next(fid for fid, f in state.items() if f['well_known'] == 'msgfolderroot')
        tree, pending = {}, [root]
        while pending:
            parent = pending.pop()
            for fid, folder in state.items():
                if folder['parent'] == parent and not folder['hidden']:
                    messages = folder['messages'].values()
                    tree[fid] = (folder['name'], parent if parent != root else None,
                                 folder['well_known'] if folder['well_known'] in ROLES else False,
                                 len(messages), sum(1 for m in messages if not m['isRead']))
                    pending.append(fid)
        return tree

    def local_tree(self, account):
        account.invalidate_recordset()
        return {f.graph_id: (f.name, f.parent_id.graph_id or None, f.role, f.total_count, f.unread_count)
                for f in account.folder_ids}

    def test_fetch_folders_whole_tree(self):
        account = self.make_account()
        self.emulator.reset_counters()
        action = account.action_fetch_folders()
        self.assertEqual(action['params']['type'], 'success')
        truth = self.visible_tree(account.email)
        self.assertEqual(self.local_tree(account), truth)
        self.assertGreater(len(truth), 20, 'all levels and all pages of the tree')
        names = account.folder_ids.mapped('name')
        self.assertNotIn('PersonMetadata', names, 'hidden folders are left out')
        specs = account.folder_ids.filtered(lambda f: f.name == 'Specs')
        self.assertEqual(specs.complete_name, 'Inbox / Projects / Apollo / Specs')
        self.assertEqual(set(account.folder_ids.filtered('sync_enabled').mapped('role')), {'inbox', 'sentitems'},
                         'Inbox and Sent Items are preselected')
        self.assertEqual(set(account.folder_ids.filtered('sync_enabled').mapped('sync_state')), {'newest'})
        self.assertEqual(set(account.folder_ids.filtered(lambda f: not f.sync_enabled).mapped('sync_state')),
                         {'not_started'})

    def test_refetch_idempotent_renames_moves_deletions(self):
        user = self.emulator.users[1]
        account = self.make_account(email=user)
        account.action_fetch_folders()
        before = {f.graph_id: f.id for f in account.folder_ids}
        action = account.action_fetch_folders()
        self.assertIn('0 new, 0 updated, 0 removed', action['params']['message'])
        self.assertEqual({f.graph_id: f.id for f in account.folder_ids}, before)

        # sync a folder that will be deleted, so it has local messages
        newsletters = account.folder_ids.filtered(lambda f: f.name == 'Newsletters')
        newsletters.sync_enabled = True
        self.sync_until_done(account)
        kept = newsletters.message_ids
        self.assertTrue(kept)
        kept.tag_ids = self.env['maildesk.tag'].create({'name': 'Newsletter'})

        receipts = account.folder_ids.filtered(lambda f: f.name == 'Receipts')
        self.emulator.mutate(user=user, op='rename_folder', folder=receipts.graph_id, name='Invoices')
        self.emulator.mutate(user=user, op='delete_folder', folder=newsletters.graph_id)
        created = self.emulator.mutate(user=user, op='create_folder', name='2025', parent=receipts.graph_id)['folder']
        hidden = self.emulator.mutate(user=user, op='create_folder', name='Secret', hidden=True)['folder']
        action = account.action_fetch_folders()
        self.assertIn('1 new, 1 updated, 1 removed', action['params']['message'])
        self.assertEqual(self.local_tree(account), self.visible_tree(user))
        self.assertEqual(receipts.name, 'Invoices', 'a rename keeps the record')
        child = account.folder_ids.filtered(lambda f: f.graph_id == created)
        self.assertEqual((child.parent_id, child.complete_name, child.sync_enabled),
                         (receipts, 'Invoices / 2025', False))
        self.assertFalse(account.folder_ids.filtered(lambda f: f.graph_id == hidden))
        self.assertFalse(newsletters.exists())
        kept = kept.with_context(active_test=False)
        self.assertFalse(any(kept.mapped('active')), 'messages of a deleted folder are soft-removed')
        self.assertTrue(all(kept.mapped('tag_ids')), '... with their tags')

        # Moves: the emulator has no folder move, so re-parent one folder in Graph's own list
        client = account._graph_client()
        items = client.list_folders()
        roles = {fid: role for role, fid in client.well_known_folder_ids().items()}
        archive = account.folder_ids.filtered(lambda f: f.role == 'archive')
        for item in items:
            if item['id'] == child.graph_id:
                item['parentFolderId'] = archive.graph_id
        counts = folder_tree.store_folder_tree(account, items, roles)
        self.assertEqual(counts, (0, 1, 0))
        self.assertEqual((child.parent_id, child.complete_name), (archive, 'Archive / 2025'))

    def test_sync_toggle_status_and_guards(self):
        user = self.make_maildesk_user(self.env, 'folder_owner')
        account = self.make_account(email=self.emulator.users[2], user=user)
        account.action_fetch_folders()
        travel = account.folder_ids.filtered(lambda f: f.name.startswith('Travel'))
        self.assertEqual((travel.sync_enabled, travel.sync_state, travel.sync_status), (False, 'not_started',
                                                                                         'Not started'))
        travel.with_user(user).sync_enabled = True
        self.assertEqual((travel.sync_state, travel.sync_status), ('newest', 'Syncing newest'))
        with self.assertRaises(UserError):
            travel.with_user(user).write({'sync_state': 'done'})
        with self.assertRaises(UserError):
            travel.with_user(user).write({'next_link': 'https://evil.example.com/steal'})
        other = self.make_maildesk_user(self.env, 'folder_stranger')
        with self.assertRaises(AccessError):
            travel.with_user(other).sync_enabled = False

    def test_fetch_requires_authorization(self):
        account = self.make_account(email=self.emulator.users[2], authorized=False, connected=False)
        with self.assertRaises(UserError):
            account.action_fetch_folders()
        with self.assertRaises(UserError):
            account.action_sync_now()

    def test_account_form_has_folders_tab_and_buttons(self):
        user = self.make_maildesk_user(self.env, 'form_viewer')
        arch = self.env['maildesk.account'].with_user(user).get_views([(False, 'form')])['views']['form']['arch']
        for needle in ('name="action_fetch_folders"', 'name="action_sync_now"', 'name="folders"',
                       'name="sync_enabled"', 'name="sync_status"', 'name="last_error"'):
            self.assertIn(needle, arch)
        self.assertNotIn('name="mail_servers"', arch, 'the mail servers page stays for administrators')
