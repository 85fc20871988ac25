"""Bulk actions of the inbox on a selection, written back to Outlook through Graph $batch, and their Undo."""
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.maildesk.tests.test_send import MaildeskSendCase

LOGGER = 'odoo.addons.maildesk.engine.write_back'
BATCH = 'POST /v1.0/$batch'


@tagged('post_install', '-at_install')
class TestInboxBulk(MaildeskSendCase):

    def setUp(self):
        super().setUp()
        self.subject = 'Bulk %s' % self._testMethodName
        self.emulator.deliver(self.account.email, count=45, subject=self.subject)
        self.sync()
        self.messages = self.rows(self.subject, self.inbox)
        self.assertEqual(len(self.messages), 45)
        self.archive = self.account.folder_ids.filtered(lambda f: f.role == 'archive')
        self.trash = self.account.folder_ids.filtered(lambda f: f.role == 'deleteditems')
        self.Inbox = self.env['maildesk.inbox']

    def server_folder_of(self, messages):
        where = {}
        for folder in self.emulator.state(self.account.email).values():
            for graph_id in folder['messages']:
                where[graph_id] = folder['well_known']
        return {where.get(m.graph_id) for m in messages}

    def test_move_45_in_three_batches_then_undo(self):
        self.emulator.reset_counters()
        result = self.Inbox.maildesk_bulk(self.messages.ids, 'move', self.archive.id)
        self.assertEqual((result['done'], result['failed'], result['skipped']), (45, 0, 0))
        self.assertEqual(self.messages.folder_id, self.archive)
        self.assertEqual(self.server_folder_of(self.messages), {'archive'})
        counts = self.emulator.counters()['by_endpoint']
        self.assertEqual(counts.get(BATCH), 3, '45 moves = 3 $batch requests of at most 20')
        self.assertEqual([entry[0] for entry in result['undo']], [self.inbox.id])
        self.assertEqual(set(result['undo'][0][1]), set(self.messages.ids))

        restored = self.Inbox.maildesk_bulk_undo(result['undo'])
        self.assertEqual(restored['restored'], 45)
        self.assertEqual(self.messages.folder_id, self.inbox)
        self.assertEqual(self.server_folder_of(self.messages), {'inbox'})

    def test_delete_then_undo_moves_back_from_deleted_items(self):
        some = self.messages[:5]
        result = self.Inbox.maildesk_bulk(some.ids, 'delete')
        self.assertEqual(some.folder_id, self.trash)
        self.assertEqual(self.server_folder_of(some), {'deleteditems'})
        self.Inbox.maildesk_bulk_undo(result['undo'])
        self.assertEqual(some.folder_id, self.inbox)
        self.assertEqual(self.server_folder_of(some), {'inbox'})

    def test_select_all_in_folder_is_the_whole_folder_then_read_flag_tag(self):
        view = {'type': 'folder', 'id': self.inbox.id}
        ids = self.Inbox.maildesk_selection_ids(view, search=self.subject, exclude_ids=self.messages[:2].ids)
        self.assertEqual(set(ids), set((self.messages - self.messages[:2]).ids), 'not only the rows on screen')
        self.Inbox.maildesk_bulk(ids, 'mark_read')
        self.Inbox.maildesk_bulk(ids, 'flag')
        chosen = self.Message.browse(ids)
        self.assertTrue(all(chosen.mapped('is_read')) and set(chosen.mapped('flag_status')) == {'flagged'})
        self.assertFalse(any(self.messages[:2].mapped('is_read')), 'the excluded rows are untouched')
        state = {gid: m for f in self.emulator.state(self.account.email).values() for gid, m in f['messages'].items()}
        self.assertTrue(all(state[m.graph_id]['isRead'] and state[m.graph_id]['flagStatus'] == 'flagged'
                            for m in chosen))
        tag, other = self.env['maildesk.tag'].create([{'name': 'Bulk'}, {'name': 'Kept'}])
        chosen[0].action_set_tags([other.id])
        self.Inbox.maildesk_bulk(ids, 'tag', tag.id)
        self.assertEqual(chosen.tag_ids, tag | other)
        self.assertEqual(chosen[0].tag_ids, tag | other, 'a tag is added, the others stay')
        self.assertEqual(chosen[1].tag_ids, tag)

    def test_throttled_items_inside_a_batch_are_sent_again(self):
        self.emulator.faults({'status': 429, 'retry_after': '0.3', 'count': 3, 'path_contains': '/messages/',
                              'method': 'PATCH'})
        result = self.Inbox.maildesk_bulk(self.messages[:10].ids, 'mark_read')
        self.assertEqual(result['failed'], 0)
        state = {gid: m for f in self.emulator.state(self.account.email).values() for gid, m in f['messages'].items()}
        self.assertTrue(all(state[m.graph_id]['isRead'] for m in self.messages[:10]))

    def test_refused_items_are_put_back_and_not_offered_for_undo(self):
        victim = self.messages[0]
        self.emulator.faults({'status': 404, 'code': 'ErrorItemNotFound', 'path_contains': victim.graph_id})
        with mute_logger(LOGGER):
            result = self.Inbox.maildesk_bulk(self.messages[:6].ids, 'move', self.archive.id)
        self.assertEqual((result['done'], result['failed']), (5, 1))
        self.assertEqual(result['notification']['params']['type'], 'danger')
        self.assertEqual(victim.folder_id, self.inbox, 'put back')
        self.assertNotIn(victim.id, result['undo'][0][1])

    def test_only_messages_the_caller_may_change(self):
        stranger = self.make_maildesk_user(self.env, 'bulk_stranger')
        inbox = self.Inbox.with_user(stranger)
        result = inbox.maildesk_bulk(self.messages.ids, 'delete')
        self.assertEqual(result['done'], 0)
        self.assertEqual(self.messages.folder_id, self.inbox, "another user's mail is not even seen")
        self.assertFalse(inbox.maildesk_selection_ids({'type': 'folder', 'id': self.inbox.id}))
        inbox.maildesk_bulk_undo([[self.trash.id, self.messages.ids]])
        self.assertEqual(self.messages.folder_id, self.inbox)

    # ------------------------------------------------------------------ log to record, many at once

    def test_log_a_selection_to_one_record_chosen_once(self):
        partner = self.env['res.partner'].create({'name': 'Fabrikam Purchasing'})
        wizard = self.env['maildesk.log.record'].with_context(default_message_count=4).create(
            {'resource_ref': 'res.partner,%d' % partner.id})
        chosen = wizard.action_log()  # the inbox's chooser only hands the record back
        self.assertEqual((chosen['type'], chosen['infos']['model'], chosen['infos']['id']),
                         ('ir.actions.act_window_close', 'res.partner', partner.id))
        self.assertFalse(partner.message_ids.filtered(lambda m: m.message_type == 'email'), 'nothing logged yet')

        some = self.messages.sorted('id')[:4]
        result = self.Inbox.maildesk_bulk(some[:3].ids, 'log', ['res.partner', partner.id])
        self.assertEqual((result['done'], result['skipped'], result['failed']), (3, 0, 0))
        notes = partner.message_ids.filtered(lambda m: m.message_type == 'email')
        self.assertEqual(len(notes), 3)
        self.assertEqual(set(some[:3].mapped('res_model')), {'res.partner'})
        self.assertEqual(set(some[:3].mapped('res_id')), {partner.id})
        again = self.Inbox.maildesk_bulk(some.ids, 'log', ['res.partner', partner.id])
        self.assertEqual((again['done'], again['skipped']), (1, 3), 'a message is logged once')
        self.assertEqual(len(partner.message_ids.filtered(lambda m: m.message_type == 'email')), 4)

    def test_log_checks_the_record_once_before_any_message(self):
        others = self.messages[:3]
        for target in (['res.country', 1], ['res.partner', 0], 'res.partner', ['no.such.model', 1], None):
            with self.subTest(target=target), self.assertRaises(UserError):
                self.Inbox.maildesk_bulk(others.ids, 'log', target)
        # a MailDesk user may not write on another user's mailbox account (a record with a chatter)
        clerk = self.make_maildesk_user(self.env, 'bulk_log_clerk')
        with self.assertRaises(AccessError):
            self.Inbox.with_user(clerk).maildesk_bulk([], 'log', ['maildesk.account', self.account.id])
        self.assertFalse(others.filtered('res_model'), 'nothing was logged')
        with self.assertRaises(AccessError, msg='nor on a contact without the Contact Creation right'):
            self.Inbox.with_user(clerk).maildesk_bulk([], 'log', ['res.partner', self.env.user.partner_id.id])
        # a record of his own is fine, but the owner's messages are not the clerk's to log
        own = self.make_account(email='clerk@contoso.test', user=clerk, authorized=False, connected=False)
        result = self.Inbox.with_user(clerk).maildesk_bulk(others.ids, 'log', ['maildesk.account', own.id])
        self.assertEqual(result['done'], 0)
        self.assertFalse(others.filtered('res_model'))

    # ------------------------------------------------------------------ conversation rows

    def test_a_conversation_row_acts_on_all_its_messages_in_the_folder(self):
        conversation = 'AAQkADAwATM0MDAAMS1iNTcwLWJ1bGstY29udg=='
        self.emulator.deliver(self.account.email, count=3, subject='Planning thread', conversationId=conversation)
        self.emulator.deliver(self.account.email, folder='sentitems', subject='Re: Planning thread',
                              conversationId=conversation)
        self.sync()
        in_inbox = self.rows('Planning thread', self.inbox)
        answer = self.rows('Re: Planning thread', self.sent)
        self.assertEqual((len(in_inbox), len(answer)), (3, 1))
        self.assertEqual(len(set((in_inbox | answer).mapped('thread_key'))), 1, 'one conversation')
        view = {'type': 'folder', 'id': self.inbox.id}
        rows = self.Inbox.maildesk_list(view, search='Planning', grouped=True)['rows']
        self.assertEqual([row['thread_count'] for row in rows], [3])
        row_id = rows[0]['id']
        self.assertEqual(self.Inbox.maildesk_selection_ids(view, ids=[row_id]), [row_id], 'a message row: itself')

        ids = self.Inbox.maildesk_selection_ids(view, search='Planning', ids=[row_id], grouped=True)
        self.assertEqual(set(ids), set(in_inbox.ids), 'every message of the conversation in this folder, not Sent')
        everything_else = self.Inbox.maildesk_selection_ids(view, exclude_ids=[row_id], grouped=True)
        self.assertFalse(set(everything_else) & set(in_inbox.ids), 'a conversation left out is left out whole')
        self.assertTrue(set(self.messages.ids) <= set(everything_else))

        for action, check in (('mark_read', lambda m: m.is_read), ('flag', lambda m: m.flag_status == 'flagged'),
                              ('mark_unread', lambda m: not m.is_read)):
            result = self.Inbox.maildesk_bulk(ids, action)
            self.assertEqual(result['done'], 3, action)
            self.assertTrue(all(check(m) for m in in_inbox), action)
        self.assertFalse(answer.is_read or answer.flag_status == 'flagged', 'Sent Items untouched')
        tag = self.env['maildesk.tag'].create({'name': 'Planning'})
        self.Inbox.maildesk_bulk(ids, 'tag', tag.id)
        self.assertEqual(in_inbox.tag_ids, tag)
        self.assertFalse(answer.tag_ids)

        for action, value, folder in (('move', self.archive.id, self.archive), ('delete', None, self.trash)):
            result = self.Inbox.maildesk_bulk(ids, action, value)
            self.assertEqual(in_inbox.folder_id, folder, action)
            self.assertEqual(self.server_folder_of(in_inbox), {folder.role}, action)
            self.assertEqual(answer.folder_id, self.sent)
            self.Inbox.maildesk_bulk_undo(result['undo'])
            self.assertEqual(in_inbox.folder_id, self.inbox, 'Undo puts the whole conversation back')
            self.assertEqual(self.server_folder_of(in_inbox), {'inbox'})
