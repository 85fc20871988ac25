"""Odoo's mail gateway on an Outlook mailbox: Inbox mail -> message_process -> records, once.

Real sync and real Graph ($value MIME) against the emulator; the records are res.partner (a mail.thread of the test
database: only maildesk and its dependencies are installed).
"""
import base64
import time
from email import message_from_bytes
from email.message import EmailMessage
from email.utils import parseaddr
from unittest.mock import patch

from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.maildesk.engine import gateway
from odoo.addons.maildesk.graph.client import GraphClient
from odoo.addons.maildesk.tests.common import MaildeskCase


class SimulatedKill(BaseException):
    """A worker dying (not an Exception: nothing in MailDesk may catch it and carry on)."""


class GatewayCase(MaildeskCase):
    """A gateway mailbox: account authorized, Inbox synced, its server routing to res.partner."""

    emulator_options = {'users': 2, 'messages': 3}

    def setUp(self):
        super().setUp()
        # Odoo and Graph keep whole seconds: confirm this test's server in a second of its own, after the mail of
        # the class's previous tests arrived (mail of the confirmation's second counts as "since")
        time.sleep(1 - time.time() % 1)
        self.account = self.make_account()
        self.server = self.account.fetchmail_server_ids
        self.server.write({'maildesk_route_mail': True,
                           'object_id': self.env['ir.model']._get_id('res.partner')})
        self.account.action_fetch_folders()
        self.inbox = self.account.folder_ids.filtered(lambda f: f.role == 'inbox')
        self.inbox.sync_enabled = True
        self.Partner = self.env['res.partner'].with_context(active_test=False)

    def route(self):
        """One gateway cron run (its units use cursors of their own: the test cursor, in test mode)."""
        self.env.flush_all()
        self.registry.enter_test_mode(self.cr)
        try:
            run = gateway.cron_route(self.env)
        finally:
            self.registry.leave_test_mode()
        self.env.invalidate_all()
        return run

    def deliver(self, subject, **message):
        message.setdefault('from', {'name': 'Alex Wilber', 'address': 'alexw@fabrikam.test'})
        self.emulator.deliver(self.account.email, subject=subject, **message)

    def message(self, subject):
        return self.env['maildesk.message'].search([('account_id', '=', self.account.id), ('subject', '=', subject)])

    def routes(self, message):
        return self.env['maildesk.route'].search([('message_id', 'in', message.ids)])

    def partners(self, name):
        return self.Partner.search([('name', '=', name)])


@tagged('post_install', '-at_install')
class TestGateway(GatewayCase):

    def test_create_a_new_record_with_attachments_linked_both_ways(self):
        self.deliver('Need 10 chairs', body='<p>Please quote 10 chairs</p>', attachments=[
            {'name': 'plan.pdf', 'contentType': 'application/pdf',
             'contentBytes': base64.b64encode(b'%PDF-1.4 plan').decode()}])
        cron = self.env.ref('maildesk.ir_cron_maildesk_gateway')
        self.env['ir.cron.trigger'].search([('cron_id', '=', cron.id)]).unlink()
        self.sync_account(self.account)
        message = self.message('Need 10 chairs')
        self.assertTrue(message)
        self.assertTrue(self.env['ir.cron.trigger'].search([('cron_id', '=', cron.id)]),
                        'a sync run that stored mail triggers the gateway')
        self.emulator.reset_counters()
        run = self.route()
        mime_gets = {endpoint: count for endpoint, count in self.emulator.counters()['by_endpoint'].items()
                     if '$value' in endpoint}
        self.assertEqual(sum(mime_gets.values()), 1, 'the MIME comes from Graph once: %s' % mime_gets)
        self.assertEqual(run.routed, 1)

        partner = self.partners('Need 10 chairs')
        self.assertEqual(len(partner), 1, '"Create a New Record": a partner named after the subject')
        self.assertEqual(partner.email_normalized, 'alexw@fabrikam.test')
        posted = partner.message_ids.filtered(lambda m: m.message_type == 'email')
        self.assertEqual(len(posted), 1)
        self.assertIn('Please quote 10 chairs', posted.body)
        self.assertEqual(posted.message_id, message.internet_message_id)
        self.assertEqual(posted.attachment_ids.mapped('name'), ['plan.pdf'])
        # linked both ways, with the Log to record link; the record's file is the message's (not stored twice)
        self.assertEqual((message.res_model, message.res_id), ('res.partner', partner.id))
        self.assertEqual(message.attachment_ids, posted.attachment_ids)
        route = self.routes(message)
        self.assertRecordValues(route, [{'state': 'routed', 'res_model': 'res.partner', 'res_id': partner.id,
                                         'mail_message_id': posted.id}])
        read = self.env['maildesk.inbox'].maildesk_read(message.id, mark_read=False)
        self.assertEqual(read['logged_to']['id'], partner.id)
        self.assertTrue(read['routed'])

    def test_opening_a_routed_body_reuses_the_gateway_attachments(self):
        image = b'\x89PNG\r\n\x1a\n routed logo'
        self.deliver('Logo inside', body='<p>Our logo <img src="cid:logo-7@fabrikam.test" alt="logo"></p>',
                     attachments=[
                         {'name': 'logo.png', 'contentType': 'image/png', 'isInline': True,
                          'contentId': '<logo-7@fabrikam.test>', 'contentBytes': base64.b64encode(image).decode()},
                         {'name': 'terms.pdf', 'contentType': 'application/pdf',
                          'contentBytes': base64.b64encode(b'%PDF-1.4 terms').decode()}])
        self.sync_account(self.account)
        self.route()
        message = self.message('Logo inside')
        partner = self.partners('Logo inside')
        self.assertEqual(len(partner), 1)
        logo = message.attachment_ids.filtered(lambda attachment: attachment.name == 'logo.png')
        self.assertEqual((logo.raw, logo.res_model, logo.res_id), (image, 'res.partner', partner.id),
                         'the gateway linked the image Odoo stored on the record')
        Attachment = self.env['ir.attachment'].sudo()
        before = Attachment.search_count([])
        read = self.env['maildesk.inbox'].maildesk_read(message.id, mark_read=False)
        self.assertFalse(read['body_error'])
        self.assertEqual(Attachment.search_count([]), before, 'opening the body stores no attachment again')
        self.assertIn('src="/web/content/%d"' % logo.id, read['body_html'], 'the body shows the image')
        self.assertEqual(read['inline_images'], ['/web/content/%d' % logo.id])
        self.assertEqual(sorted(message.attachment_ids.mapped('name')), ['logo.png', 'terms.pdf'])

    def test_alias_decides_the_record(self):
        self.server.object_id = False
        self.env['mail.alias'].create({
            'alias_name': 'sales', 'alias_model_id': self.env['ir.model']._get_id('res.partner'),
            'alias_defaults': "{'function': 'Lead from sales@'}", 'alias_incoming_local': True,
            'alias_contact': 'everyone'})
        self.deliver('Quote for desks', to=['sales@contoso.test'])
        self.deliver('For someone else', to=['nobody@contoso.test'])
        self.sync_account(self.account)
        with mute_logger('odoo.addons.mail.models.mail_thread'):
            self.route()
        partner = self.partners('Quote for desks')
        self.assertEqual(partner.function, 'Lead from sales@', 'the alias defaults were applied')
        self.assertEqual(self.routes(self.message('Quote for desks')).state, 'routed')
        unrouted = self.routes(self.message('For someone else'))
        self.assertEqual(unrouted.state, 'no_route', 'no alias, no "Create a New Record": a clear reason')
        self.assertIn('Create a New Record', unrouted.reason)
        self.assertFalse(self.partners('For someone else'))

    def test_reply_lands_in_the_same_record(self):
        self.deliver('Order 42')
        self.sync_account(self.account)
        self.route()
        partner = self.partners('Order 42')
        first = self.message('Order 42')
        # the customer answers: a real MIME reply (In-Reply-To / References) sent by another emulator mailbox
        other = self.make_account(email=self.emulator.users[1], connected=False)
        reply = EmailMessage()
        reply['From'] = other.email
        reply['To'] = self.account.email
        reply['Subject'] = 'Re: Order 42'
        reply['Message-ID'] = '<reply-order-42@fabrikam.test>'
        reply['In-Reply-To'] = first.internet_message_id
        reply['References'] = first.internet_message_id
        reply.set_content('Any news on order 42?')
        other._graph_client().send_mime(reply.as_bytes())
        self.emulator.settle()
        self.sync_account(self.account)
        run = self.route()
        self.assertEqual(run.routed, 1)
        self.assertFalse(self.partners('Re: Order 42'), 'a reply creates no record')
        self.assertIn('Any news on order 42?', ''.join(partner.message_ids.mapped('body')))
        self.assertEqual(self.routes(self.message('Re: Order 42')).res_id, partner.id)

    def test_same_message_delivered_twice_and_synced_twice(self):
        self.deliver('Twice', internetMessageId='<twice@fabrikam.test>')
        self.deliver('Twice', internetMessageId='<twice@fabrikam.test>')
        self.sync_account(self.account)
        copies = self.message('Twice')
        self.assertEqual(len(copies), 2, 'two Graph messages, one Message-ID')
        self.route()
        self.sync_account(self.account)
        self.route()
        partner = self.partners('Twice')
        self.assertEqual(len(partner), 1)
        self.assertEqual(len(partner.message_ids.filtered(lambda m: m.message_id == '<twice@fabrikam.test>')), 1)
        routes = self.routes(copies)
        self.assertEqual(len(routes), 2, 'one row per Graph message, never more')
        self.assertEqual(sorted(routes.mapped('state')), ['routed', 'skipped'])
        self.assertEqual(set(copies.mapped('res_id')), {partner.id}, 'both copies point at the record')

    def test_worker_killed_mid_route_routes_once(self):
        self.deliver('Killed')
        self.sync_account(self.account)
        real_link = gateway._link
        # not assertRaises: its savepoint would roll back what the dead worker committed before (the queue)
        killed = False
        with patch.object(gateway, '_link', side_effect=SimulatedKill):
            try:
                self.route()  # message_process ran, the transaction did not commit
            except SimulatedKill:
                killed = True
        self.assertTrue(killed)
        self.env.invalidate_all()
        self.assertFalse(self.partners('Killed'))
        self.assertEqual(self.routes(self.message('Killed')).state, 'pending', 'the message is not lost')
        with patch.object(gateway, '_link', side_effect=real_link):
            self.route()
        self.assertEqual(len(self.partners('Killed')), 1)
        self.assertEqual(self.routes(self.message('Killed')).state, 'routed')

    def test_bounce_creates_no_record(self):
        self.deliver('Undeliverable: Order 7', **{'from': {'name': 'Mail Delivery System',
                                                          'address': 'MAILER-DAEMON@fabrikam.test'}})
        self.sync_account(self.account)
        self.route()
        self.assertFalse(self.partners('Undeliverable: Order 7'))
        route = self.routes(self.message('Undeliverable: Order 7'))
        self.assertEqual(route.state, 'skipped')
        self.assertFalse(self.message('Undeliverable: Order 7').res_model)

    def test_only_mail_since_confirmation_unless_history(self):
        self.sync_account(self.account)
        # (strictly older: Odoo keeps whole seconds, and mail of the class's previous test may share the second of
        # this server's confirmation, which counts as "since")
        seeded = self.env['maildesk.message'].search([('folder_id', '=', self.inbox.id),
                                                      ('received_at', '<', self.server.maildesk_route_since)])
        self.assertTrue(seeded, 'the emulator seeds older Inbox mail')
        self.route()
        self.assertFalse(self.routes(seeded), 'mail older than the confirmation is not routed')
        self.server.maildesk_route_history_since = min(seeded.mapped('received_at')).date()
        self.route()
        routes = self.routes(seeded)
        self.assertEqual(len(routes), len(seeded), 'the history is routed too')
        self.assertIn('routed', routes.mapped('state'))
        # the class's emulator keeps the other tests' mail: their bounce is skipped, nothing else
        for route in routes.filtered(lambda r: r.state != 'routed'):
            self.assertEqual((route.state, route.message_id.from_address.lower()),
                             ('skipped', 'mailer-daemon@fabrikam.test'), route.reason)

    def test_failing_message_does_not_stop_others(self):
        self.deliver('First breaks')
        self.deliver('Second goes')
        self.sync_account(self.account)
        real = type(self.env['mail.thread']).message_process

        def breaks_first(thread, model, message, *args, **kwargs):
            if b'First breaks' in message:
                raise RuntimeError('boom')
            return real(thread, model, message, *args, **kwargs)
        with patch.object(type(self.env['mail.thread']), 'message_process', breaks_first):
            self.route()
        failed = self.routes(self.message('First breaks'))
        self.assertEqual(failed.state, 'error')
        self.assertIn('boom', failed.reason)
        self.assertEqual(self.routes(self.message('Second goes')).state, 'routed')
        failed.action_retry()
        self.route()
        self.assertEqual(failed.state, 'routed')

    def test_fetch_now_routes_and_server_form_keeps_odoo_options(self):
        self.deliver('Fetch now please')
        self.env.flush_all()
        self.registry.enter_test_mode(self.cr)
        try:
            self.server.fetch_mail()
        finally:
            self.registry.leave_test_mode()
        self.env.invalidate_all()
        self.assertEqual(len(self.partners('Fetch now please')), 1)
        # the class's emulator keeps the other tests' mail: Fetch Now may bring (and route) some of it too
        self.assertEqual(self.routes(self.message('Fetch now please')).state, 'routed')
        routed = self.env['maildesk.route'].search([('server_id', '=', self.server.id), ('state', '=', 'routed')])
        self.assertEqual(self.server.maildesk_route_count, len(routed))
        arch = self.env.ref('mail.view_email_server_form').get_combined_arch()  # with the Advanced tab
        for name in ('object_id', 'attach', 'original', 'maildesk_route_mail', 'maildesk_route_history_since'):
            self.assertIn('name="%s"' % name, arch)

    def test_reply_from_the_record_goes_out_through_the_mailbox_in_the_thread(self):
        self.make_outgoing_server(self.account, test=False)
        self.deliver('Order 77')
        self.sync_account(self.account)
        self.route()
        partner = self.partners('Order 77')
        original = self.message('Order 77')
        sent = []
        real_send = GraphClient.send_mime

        def spy(client, mime):
            sent.append(message_from_bytes(mime))
            return real_send(client, mime)
        customer_mail = self.routes(original).mail_message_id
        with patch.object(GraphClient, 'send_mime', spy):
            # parent: what a flat-thread model (crm.lead...) takes by itself; res.partner threads by parent only
            reply = partner.message_post(body='We ship tomorrow.', partner_ids=partner.ids, message_type='comment',
                                         subtype_xmlid='mail.mt_comment', parent_id=customer_mail.id)
        notification = reply.notification_ids.filtered(lambda n: n.res_partner_id == partner)
        self.assertEqual(notification.notification_status, 'sent', notification.failure_reason)
        self.assertEqual(len(sent), 1, 'the chatter reply went out through the Outlook mailbox')
        self.assertEqual(parseaddr(sent[0]['From'])[1], self.account.email)
        self.assertIn(original.internet_message_id, sent[0]['References'] or '',
                      'it names the customer\'s mail: Outlook and the customer thread it with it')
        self.emulator.settle()
        state = self.emulator.state(self.account.email)
        sent_items = next(folder for folder in state.values() if folder['well_known'] == 'sentitems')
        inbox = next(folder for folder in state.values() if folder['well_known'] == 'inbox')
        [sent_copy] = [m for m in sent_items['messages'].values() if m['internetMessageId'] == reply.message_id]
        [customer_copy] = [m for m in inbox['messages'].values()
                           if m['internetMessageId'] == original.internet_message_id]
        self.assertEqual(sent_copy['conversationId'], customer_copy['conversationId'],
                         'the reply is in the customer\'s Outlook conversation')
