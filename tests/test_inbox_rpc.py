"""The inbox's RPC surface (``maildesk.inbox``, models/maildesk_inbox.py) and the message actions it calls, on seeded
data: no Graph involved."""
import json
import random
from datetime import timedelta

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import TransactionCase, new_test_user, tagged

from odoo.addons.bus.models.bus import channel_with_db, json_dump
from odoo.addons.maildesk.models.maildesk_inbox import parse_search

from .inbox_data import make_mailbox, message_values, seed_inbox


@tagged('post_install', '-at_install')
class TestInboxRpc(TransactionCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # actions stay local (no write-back to Outlook): this class tests the inbox's own part
        cls.env['ir.config_parameter'].sudo().set_param('maildesk.permission_level', 'read')
        cls.data = seed_inbox(cls.env, messages=30)
        cls.Message = cls.env['maildesk.message']
        cls.Inbox = cls.env['maildesk.inbox']
        cls.sales, cls.support = cls.data['accounts']
        cls.inbox = cls.data['folders']['sales']['inbox']

    def _list(self, **kwargs):
        return self.Inbox.maildesk_list(**kwargs)

    def _count(self, domain):
        return self.Message.search_count(domain)

    # ------------------------------------------------------------------ tree
    def test_folder_tree_nests_folders_and_counts_unread(self):
        tree = self.Inbox.maildesk_folder_tree()
        sales = next(a for a in tree['accounts'] if a['id'] == self.sales.id)
        names = [f['name'] for f in sales['folders']]
        self.assertEqual(names, ['Inbox', 'Drafts', 'Sent Items', 'Archive', 'Deleted Items'], 'role order')
        inbox = sales['folders'][0]
        self.assertEqual([c['name'] for c in inbox['children']], ['Projects'])
        self.assertEqual(inbox['unread'], self._count([('folder_id', '=', self.inbox.id), ('is_read', '=', False)]))
        self.assertGreater(inbox['unread'], 0)
        unified = [('account_id', 'in', self.data['accounts'].ids), ('is_read', '=', False),
                   ('folder_id.role', 'not in', ['deleteditems', 'junkemail', 'drafts'])]
        self.assertEqual(tree['all_unread'], self._count(unified))
        self.assertEqual({t['name'] for t in tree['tags']} >= {'Customer', 'Urgent', 'Follow-up'}, True)
        self.assertEqual(sales['status']['kind'], 'connected')

    def test_unread_count_follows_mark_read(self):
        before = self._inbox_node()['unread']
        unread = self.Message.search([('folder_id', '=', self.inbox.id), ('is_read', '=', False)], limit=2)
        unread.action_mark_read()
        self.assertEqual(self._inbox_node()['unread'], before - 2)
        unread[0].action_mark_unread()
        self.assertEqual(self._inbox_node()['unread'], before - 1)

    def _inbox_node(self):
        tree = self.Inbox.maildesk_folder_tree()
        sales = next(a for a in tree['accounts'] if a['id'] == self.sales.id)
        return sales['folders'][0]

    def test_account_status_kinds(self):
        Inbox, folders = self.Inbox, self.data['folders']['sales']
        self.assertEqual(Inbox._account_status(self.sales, folders['inbox'])['kind'], 'connected')
        folders['inbox'].sudo().write({'sync_state': 'backfilling', 'backfill_progress': 40.0})
        folders['sentitems'].sudo().write({'sync_state': 'backfilling', 'backfill_progress': 60.0})
        status = Inbox._account_status(self.sales, folders['inbox'] | folders['sentitems'])
        self.assertEqual((status['kind'], status['progress']), ('backfilling', 50.0))
        folders['archive'].sudo().sync_state = 'newest'
        self.assertEqual(Inbox._account_status(self.sales, self.sales.folder_ids)['kind'], 'syncing')
        self.sales._write_status({'state': 'auth_invalid', 'last_error': 'Sign in again'})
        status = Inbox._account_status(self.sales, self.sales.folder_ids)
        self.assertEqual((status['kind'], status['message']), ('auth_invalid', 'Sign in again'))
        self.sales._write_status({'state': 'error', 'last_error': 'Graph said no'})
        self.assertEqual(Inbox._account_status(self.sales, self.sales.folder_ids)['message'], 'Graph said no')
        # right after setup: no folder synced says what to click, with the button when the tree was never fetched
        self.sales._write_status({'state': 'connected', 'last_error': False})
        none = self.sales.folder_ids.browse()
        never_fetched = Inbox._account_status(self.sales, none, has_folders=False)
        self.assertEqual((never_fetched['kind'], never_fetched.get('action')), ('no_folders', 'fetch_folders'))
        self.assertTrue(never_fetched['message'])
        fetched = Inbox._account_status(self.sales, none)
        self.assertEqual((fetched['kind'], fetched.get('action')), ('no_folders', None))
        self.assertTrue(fetched['message'])

    # ------------------------------------------------------------------ list
    def test_folder_list_pages_newest_first(self):
        total = self._count([('folder_id', '=', self.inbox.id)])
        first = self._list(view={'type': 'folder', 'id': self.inbox.id}, limit=10)
        second = self._list(view={'type': 'folder', 'id': self.inbox.id}, offset=10, limit=10)
        self.assertEqual(first['total'], total)
        self.assertEqual(len(first['rows']), 10)
        dates = [r['date'] for r in first['rows'] + second['rows']]
        self.assertEqual(dates, sorted(dates, reverse=True))
        self.assertFalse({r['id'] for r in first['rows']} & {r['id'] for r in second['rows']})
        last = self._list(view={'type': 'folder', 'id': self.inbox.id}, offset=total - 3, limit=10)
        self.assertEqual((len(last['rows']), last['total']), (3, total))
        beyond = self._list(view={'type': 'folder', 'id': self.inbox.id}, offset=total + 5, limit=10)
        self.assertEqual((beyond['rows'], beyond['total']), ([], total))
        # later pages need no count (the client knows the total), except the last one which gives it
        uncounted = self._list(view={'type': 'folder', 'id': self.inbox.id}, offset=10, limit=10, count=False)
        self.assertEqual((uncounted['total'], len(uncounted['rows'])), (None, 10))
        last = self._list(view={'type': 'folder', 'id': self.inbox.id}, offset=total - 3, limit=10, count=False)
        self.assertEqual(last['total'], total)
        grouped = self._list(view={'type': 'folder', 'id': self.inbox.id}, grouped=True, limit=2, count=False)
        threads = len(set(self.Message.search([('folder_id', '=', self.inbox.id)]).mapped('thread_key')))
        self.assertEqual((grouped['total'], len(grouped['rows'])), (threads, 2), 'conversations: counted for free')
        past = self._list(view={'type': 'folder', 'id': self.inbox.id}, grouped=True, offset=500)
        self.assertEqual((past['total'], past['rows']), (threads, []))

    def test_row_shape(self):
        row = self._list(view={'type': 'folder', 'id': self.data['folders']['sales']['sentitems'].id})['rows'][0]
        self.assertEqual(row['direction'], 'outgoing')
        self.assertNotIn('<', row['to'], 'the display name of the recipient, not the raw header')
        for key in ('from_name', 'subject', 'preview', 'date', 'is_read', 'is_flagged', 'has_attachments',
                    'tag_ids', 'thread_count'):
            self.assertIn(key, row)

    def test_all_mailboxes_leave_out_deleted_items(self):
        trash = self.data['folders']['sales']['deleteditems']
        message = self.data['messages'][3]
        message.action_move(trash.id)
        rows = self._list(view={'type': 'all'}, limit=200)['rows']
        self.assertNotIn(message.id, [r['id'] for r in rows])
        self.assertEqual(self._list(view={'type': 'all'})['total'],
                         self._count([('folder_id.role', 'in', ['inbox', 'sentitems', 'archive', False])]))
        account_total = self._list(view={'type': 'account', 'id': self.support.id})['total']
        self.assertEqual(account_total, self._count([('account_id', '=', self.support.id)]))

    def test_tag_view(self):
        customer = self.data['tags']['Customer']
        rows = self._list(view={'type': 'tag', 'id': customer.id})['rows']
        self.assertEqual({r['id'] for r in rows}, set(self.Message.search([('tag_ids', 'in', customer.id)]).ids))
        self.assertEqual(len(rows), 2)

    def test_quick_filters(self):
        view = {'type': 'all'}
        cases = {
            'unread': lambda r: not r['is_read'],
            'flagged': lambda r: r['is_flagged'],
            'attachments': lambda r: r['has_attachments'],
            'incoming': lambda r: r['direction'] == 'incoming',
            'outgoing': lambda r: r['direction'] == 'outgoing',
        }
        everything = self._list(view=view, limit=200)['total']
        for name, check in cases.items():
            result = self._list(view=view, filters=[name], limit=200)
            self.assertTrue(result['rows'], name)
            self.assertTrue(all(check(r) for r in result['rows']), name)
            self.assertLess(result['total'], everything, name)
        both = self._list(view=view, filters=['unread', 'flagged'], limit=200)['rows']
        self.assertTrue(all(not r['is_read'] and r['is_flagged'] for r in both))
        with self.assertRaises(UserError):
            self._list(view=view, filters=['starred'])

    # ------------------------------------------------------------------ search
    def test_parse_search(self):
        self.assertEqual(parse_search('from:ann subject:"q3 report" since:2024-01-01 hello body:x'), {
            'from': ['ann'], 'subject': ['q3 report'], 'since': ['2024-01-01'], 'text': ['hello'],
            'preview': ['x']})
        self.assertEqual(parse_search('unbalanced "quote'), {'text': ['unbalanced', 'quote']})
        self.assertEqual(parse_search(''), {})

    def test_search_fields(self):
        view = {'type': 'all'}
        ids = lambda query: {r['id'] for r in self._list(view=view, search=query, limit=200)['rows']}  # noqa: E731
        grace = set(self.Message.search([('from_name', '=', 'Grace Hopper')]).ids)
        self.assertEqual(ids('from:grace'), grace)
        self.assertEqual(ids('from:fabrikam.com'),
                         set(self.Message.search([('from_address', 'ilike', 'fabrikam.com')]).ids))
        self.assertEqual(ids('to:support@contoso.com'), set(self.Message.search(
            [('account_id', '=', self.support.id)]).ids))
        self.assertEqual(ids('subject:"Team offsite"'), set(self.Message.search(
            [('subject', 'ilike', 'Team offsite')]).ids))
        self.assertEqual(ids('tag:urgent'), set(self.data['messages'][1].ids))
        self.assertEqual(ids('MailDesk'), set(self.data['messages'][0].ids), 'free text: subject and preview')
        self.assertEqual(ids('preview:"Odoo."'), set(self.data['messages'][0].ids))
        self.assertEqual(ids('from:grace nothing-matches-this'), set())

    def test_search_is_accent_and_case_insensitive(self):
        message = self.data['messages'][3]
        message.sudo().write({'subject': 'Réunion au Café Crème', 'from_name': 'Zoë Ångström'})
        ids = lambda query: {r['id'] for r in self._list(view={'type': 'all'}, search=query)['rows']}  # noqa: E731
        for query in ('cafe', 'CAFÉ', 'café creme', 'subject:reunion', 'from:zoe', 'from:angstrom'):
            self.assertEqual(ids(query), {message.id}, query)
        self.assertEqual(ids('cafe_'), set(), 'LIKE wildcards in the search are plain characters')

    def test_search_date_range_in_user_timezone(self):
        message = self.data['messages'][2]
        message.received_at = fields.Datetime.to_datetime('2024-03-10 23:30:00')  # 11 March 00:30 in Brussels
        Inbox = self.Inbox.with_context(tz='Europe/Brussels')
        found = lambda query: message.id in [  # noqa: E731
            r['id'] for r in Inbox.maildesk_list(view={'type': 'all'}, search=query, limit=200)['rows']]
        self.assertTrue(found('since:2024-03-11 until:2024-03-11'))
        self.assertFalse(found('until:2024-03-10'))
        self.assertTrue(found('since:2024-03-01 until:2024-03-31'))
        with self.assertRaises(UserError):
            Inbox.maildesk_list(search='since:yesterday')

    # ------------------------------------------------------------------ conversations
    def test_grouped_one_row_per_conversation(self):
        view = {'type': 'folder', 'id': self.inbox.id}
        domain = [('folder_id', '=', self.inbox.id)]
        loner = self.Message.create(message_values(self.sales, self.inbox, 999, random.Random(1),
                                                   fields.Datetime.now(), thread_key=False, conversation_id=False))
        result = self._list(view=view, grouped=True, limit=200)
        threads = set(self.Message.search(domain).mapped('thread_key')) - {False}
        self.assertEqual(result['total'], len(threads) + 1)
        self.assertEqual(sum(r['thread_count'] for r in result['rows']), self._count(domain))
        self.assertIn(loner.id, [r['id'] for r in result['rows']], 'no thread key: its own conversation')
        for row in result['rows']:
            latest = self.Message.search(domain + [('thread_key', '=', self.Message.browse(row['id']).thread_key)],
                                         limit=1, order='received_at desc, id desc') if row['id'] != loner.id else loner
            self.assertEqual(row['id'], latest.id, 'a conversation shows its newest message')
        dates = [r['date'] for r in result['rows']]
        self.assertEqual(dates, sorted(dates, reverse=True))
        page = self._list(view=view, grouped=True, offset=2, limit=3)
        self.assertEqual([r['id'] for r in page['rows']], [r['id'] for r in result['rows'][2:5]])
        unread = self._list(view=view, grouped=True, filters=['unread'], limit=200)
        self.assertTrue(all(r['thread_unread'] == r['thread_count'] for r in unread['rows']))

    # ------------------------------------------------------------------ reading pane
    def test_read_marks_read_and_lists_thread_and_attachments(self):
        message = self.data['messages'][0]
        self.assertFalse(message.is_read)
        data = self.Inbox.maildesk_read(message.id)
        self.assertTrue(message.is_read)
        self.assertIn('Welcome!', data['body_html'])
        self.assertEqual(data['body_error'], '')
        self.assertEqual([a['name'] for a in data['attachments']], ['MailDesk guide.txt'])
        self.assertFalse(data['attachments_missing'])
        thread_ids = [m['id'] for m in data['thread']]
        self.assertIn(message.id, thread_ids)
        self.assertEqual(set(thread_ids), set(self.Message.search(
            [('account_id', '=', self.sales.id), ('thread_key', '=', message.thread_key)]).ids))
        unread = self.data['messages'][3]
        unread.is_read = False
        self.Inbox.maildesk_read(unread.id, mark_read=False)
        self.assertFalse(unread.is_read)

    def test_read_without_body_explains_instead_of_failing(self):
        """The body is fetched on open; when Outlook cannot be asked the pane shows why, with the preview."""
        message = self.data['messages'][5]
        message.sudo().write({'body_html': False, 'body_fetched_at': False})
        self.sales._write_status({'state': 'auth_invalid'})
        data = self.Inbox.maildesk_read(message.id)
        self.assertTrue(data['body_error'])
        self.assertEqual(data['body_html'], '')
        self.assertTrue(data['preview'])

    def test_read_respects_access_rules(self):
        user = new_test_user(self.env, login='md_inbox_user', groups='base.group_user,maildesk.group_maildesk_user')
        own, folders = make_mailbox(self.env, 'mine@contoso.com', 'Mine', owner=user)
        mine = self.Message.create(message_values(own, folders['inbox'], 1, random.Random(2),
                                                  fields.Datetime.now()))
        Inbox = self.Inbox.with_user(user)
        tree = Inbox.maildesk_folder_tree()
        self.assertEqual([a['id'] for a in tree['accounts']], own.ids)
        self.assertEqual([r['id'] for r in Inbox.maildesk_list()['rows']], mine.ids)
        with self.assertRaises(UserError):
            Inbox.maildesk_read(self.data['messages'][0].id)
        self.assertEqual(Inbox.maildesk_read(mine.id)['id'], mine.id)

    # ------------------------------------------------------------------ actions
    def test_local_actions(self):
        message = self.data['messages'][6]
        message.action_toggle_flag()
        flagged = message.flag_status == 'flagged'
        message.action_toggle_flag()
        self.assertNotEqual(message.flag_status == 'flagged', flagged)
        message.action_set_tags(self.data['tags']['Urgent'].ids)
        self.assertEqual(message.tag_ids, self.data['tags']['Urgent'])
        archive = self.data['folders']['sales']['archive']
        message.action_move(archive.id)
        self.assertEqual(message.folder_id, archive)
        with self.assertRaises(UserError):
            message.action_move(self.data['folders']['support']['inbox'].id)
        message.action_delete()
        self.assertEqual(message.folder_id, self.data['folders']['sales']['deleteditems'])
        message.action_delete()
        self.assertFalse(message.active, 'deleting from Deleted Items deletes for good')

    def test_account_smart_buttons(self):
        self.assertEqual(self.sales.message_count, self._count([('account_id', '=', self.sales.id)]))
        action = self.sales.action_open_inbox()
        self.assertEqual((action['tag'], action['params']), ('maildesk.inbox', {'account_id': self.sales.id}))
        incoming = self.sales.action_open_incoming_servers()
        self.assertEqual(self.sales.incoming_server_count, 0)
        self.assertEqual((incoming['res_model'], incoming['domain']),
                         ('fetchmail.server', [('maildesk_account_id', '=', self.sales.id)]))
        self.assertEqual(incoming['context']['default_server_type'], 'maildesk_graph')
        server = self.env['ir.mail_server'].create({
            'name': 'Sales Outlook', 'smtp_authentication': 'maildesk_graph', 'maildesk_account_id': self.sales.id,
            'from_filter': self.sales.email})
        self.sales.invalidate_recordset()
        self.assertEqual(self.sales.outgoing_server_count, 1)
        outgoing = self.sales.action_open_outgoing_servers()
        self.assertEqual((outgoing['res_model'], outgoing['res_id'], outgoing['view_mode']),
                         ('ir.mail_server', server.id, 'form'), 'one server: its form')

    # ------------------------------------------------------------------ bus
    def test_notify_changed_reaches_owner_and_managers(self):
        self._clear_bus()
        folder = self.inbox
        self.Message._maildesk_notify_changed(folder)
        self.env.cr.flush()
        notes = self.env['bus.bus'].sudo().search([])
        channels = {n.channel: json.loads(n.message) for n in notes}
        owner_channel = json_dump(channel_with_db(self.env.cr.dbname, self.sales.user_id.partner_id))
        manager_channel = json_dump(channel_with_db(self.env.cr.dbname,
                                                    self.env.ref('maildesk.group_maildesk_manager')))
        self.assertIn(owner_channel, channels)
        self.assertIn(manager_channel, channels)
        payload = channels[owner_channel]
        self.assertEqual(payload['type'], 'maildesk/changed')
        self.assertEqual(payload['payload'], {'account_ids': self.sales.ids, 'folder_ids': folder.ids})

    def test_actions_notify_open_inboxes(self):
        self._clear_bus()
        message = self.data['messages'][8]
        message.action_set_tags(self.data['tags']['Follow-up'].ids)
        self.env.cr.flush()  # bus notifications are written at (pre)commit
        payloads = [json.loads(n.message)['payload'] for n in self.env['bus.bus'].sudo().search([])]
        self.assertTrue(payloads)
        self.assertTrue(all(p['folder_ids'] == message.folder_id.ids for p in payloads))

    def test_move_notifies_once_for_both_folders(self):
        message = self.data['messages'][9]
        source, archive = message.folder_id, self.data['folders']['sales']['archive']
        self._clear_bus()
        message.action_move(archive.id)
        payloads = self._bus_payloads()
        self.assertEqual(len(payloads), 2, 'one notification, sent to the owner and to the managers')
        self.assertTrue(all(sorted(p['folder_ids']) == sorted((source | archive).ids) for p in payloads))

    def test_inbox_indexes_on_the_message_table(self):
        self.env.cr.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'maildesk_message'")
        names = {row[0] for row in self.env.cr.fetchall()}
        self.assertLessEqual({'maildesk_message_inbox_page_idx', 'maildesk_message_inbox_unread_idx',
                              'maildesk_message_in_reply_to_idx'}, names)

    def _clear_bus(self):
        self.env.cr.flush()  # notifications queued by the setup are written at (pre)commit: write, then drop
        self.env['bus.bus'].sudo().search([]).unlink()

    def _bus_payloads(self):
        self.env.cr.flush()  # bus notifications are written at (pre)commit
        return [json.loads(n.message)['payload'] for n in self.env['bus.bus'].sudo().search([])]

    def test_status_changes_notify_open_inboxes(self):
        self._clear_bus()
        self.inbox.sudo().write({'sync_state': 'done'})  # unchanged: nothing to tell
        self.assertEqual(self._bus_payloads(), [])
        self.inbox.sudo().write({'sync_state': 'backfilling', 'backfill_progress': 12.5})
        self.assertIn({'account_ids': self.sales.ids, 'folder_ids': self.inbox.ids}, self._bus_payloads())
        self._clear_bus()
        self.support._write_status({'state': 'auth_invalid'})
        self.assertIn({'account_ids': self.support.ids, 'folder_ids': []}, self._bus_payloads())

    def test_recent_rows_show_relative_time_inputs(self):
        """Rows carry UTC datetimes as strings the client parses (serializeDateTime format)."""
        row = self._list(limit=1)['rows'][0]
        self.assertEqual(fields.Datetime.to_string(fields.Datetime.to_datetime(row['date'])), row['date'])
        self.assertLess(fields.Datetime.to_datetime(row['date']), fields.Datetime.now() + timedelta(minutes=1))
