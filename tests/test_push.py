"""Push (engine/push.py, controllers/push.py): Graph change notifications from the emulator to the real Odoo route.

HttpCase: the emulator validates and notifies ``web.base.url`` (Odoo's test server on loopback). While the
emulator calls Odoo, the test thread only waits on the emulator's control API (never on the database).
"""
import datetime
import json
import time

import requests

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import tagged

from odoo.addons.maildesk.engine import push
from odoo.addons.maildesk.tests.common import MaildeskHttpCase

DELTA = 'GET /v1.0/me/mailFolders/{id}/messages/delta'


@tagged('post_install', '-at_install')
class TestPush(MaildeskHttpCase):

    emulator_options = {'users': 2, 'messages': 10}

    def setUp(self):
        super().setUp()
        # deterministic delivery here (the realistic drops and duplicates are the emulator's own tests' and
        # the bench's): one notification per change, a short delay
        self.emulator.config(push_delay=0.1, push_drop_share=0, push_duplicate_share=0)
        self.env['ir.config_parameter'].sudo().set_param(push.ENABLED_PARAM, True)
        self.account = self.make_account()
        self.account.action_fetch_folders()
        self.inbox = self.account.folder_ids.filtered(lambda f: f.role == 'inbox')
        self.sent = self.account.folder_ids.filtered(lambda f: f.role == 'sentitems')
        self.assertTrue(self.inbox.sync_enabled and self.sent.sync_enabled, 'Inbox and Sent Items preselected')
        self.account._sync_round()
        self.env.flush_all()

    # ------------------------------------------------------------------ helpers

    def subscribe(self):
        counts = push.cron_maintain(self.env)
        self.env.flush_all()
        return counts

    def sub(self, folder):
        return self.env['maildesk.subscription'].search([('folder_id', '=', folder.id)])

    def wait_delivered(self, count, seconds=15):
        """Until the emulator delivered ``count`` notifications in all (the route answered 2xx)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            stats = self.emulator.control('GET', '/subscriptions')
            if stats['delivered'] >= count and not stats['pending']:
                return stats
            time.sleep(0.05)
        self.fail('notifications not delivered: %s' % self.emulator.control('GET', '/subscriptions'))

    def post_notification(self, items, path=push.NOTIFY_ROUTE, raw=None):
        body = raw if raw is not None else json.dumps({'value': items}).encode()
        return self.opener.post(self.base_url() + path, data=body, timeout=30,
                                headers={'Content-Type': 'application/json'})

    def messages(self, folder):
        self.env.invalidate_all()
        return self.env['maildesk.message'].search([('folder_id', '=', folder.id)])

    def triggers(self):
        return self.env['ir.cron.trigger'].search_count([('cron_id', '=', self.env.ref(push.PUSH_CRON).id)])

    # ------------------------------------------------------------------ the endpoint

    def test_validation_handshake(self):
        url = self.base_url() + push.NOTIFY_ROUTE
        answer = self.opener.post(url, params={'validationToken': 'Validation: a+b c'}, data=b'', timeout=30)
        self.assertEqual(answer.status_code, 200)
        self.assertTrue(answer.headers['Content-Type'].startswith('text/plain'))
        self.assertEqual(answer.text, 'Validation: a+b c', 'the token echoed, URL-decoded')
        self.assertEqual(answer.headers.get('X-Content-Type-Options'), 'nosniff')
        self.assertEqual(self.opener.post(url, params={'validationToken': ''}, data=b'', timeout=30).status_code, 400)
        huge = self.post_notification(None, raw=b'{"value": [' + b' ' * (300 * 1024) + b']}')
        self.assertEqual(huge.status_code, 413, 'refused before being read')
        self.assertEqual(self.post_notification(None, raw=b'not json').status_code, 400)

    def test_subscriptions_created_per_synced_folder(self):
        counts = self.subscribe()
        self.assertEqual(counts['created'], 2)
        listing = self.emulator.control('GET', '/subscriptions')['value']
        self.assertEqual({s['folder'] for s in listing}, {self.inbox.graph_id, self.sent.graph_id})
        sub = self.sub(self.inbox)
        self.assertEqual(sub.state, 'active')
        self.assertEqual(self.inbox.push_status, 'Push active')
        self.assertEqual(self.account.push_status, 'Push active')
        remote = next(s for s in listing if s['id'] == sub.graph_subscription_id)
        self.assertEqual(remote['notificationUrl'], self.base_url() + push.NOTIFY_ROUTE)
        self.assertEqual(remote['lifecycleNotificationUrl'], self.base_url() + push.LIFECYCLE_ROUTE)
        self.assertEqual(remote['clientState'], sub.client_state)
        self.assertNotEqual(sub.client_state, self.sub(self.sent).client_state, 'one random secret each')
        lifetime = sub.expires_at - fields.Datetime.now()
        self.assertTrue(datetime.timedelta(days=6, hours=23) < lifetime <= datetime.timedelta(minutes=10080))
        self.assertEqual(self.subscribe()['created'], 0, 'nothing to do the second time')

    def test_notification_syncs_that_folder_only_coalesced(self):
        self.subscribe()
        sent_checked = self.sent.last_checked_at
        self.emulator.reset_counters()
        ids = self.emulator.deliver(self.account.email, count=3, subject='Pushed')
        self.wait_delivered(3)
        self.env.invalidate_all()
        self.assertTrue(self.sub(self.inbox).delta_requested_at, 'the folder is flagged')
        self.assertFalse(self.sub(self.sent).delta_requested_at)
        self.assertEqual(self.triggers(), 1, 'three notifications, one wake-up')
        self.assertFalse(self.emulator.counters()['by_endpoint'].get(DELTA), 'the route reads no mail itself')
        run = push.cron_push_sync(self.env)
        self.assertEqual(run.units, 1)
        self.assertEqual(self.emulator.counters()['by_endpoint'].get(DELTA), 1, 'one delta request, one folder')
        self.assertEqual(set(ids) & set(self.messages(self.inbox).mapped('graph_id')), set(ids))
        self.assertEqual(self.sent.last_checked_at, sent_checked, 'Sent Items was not visited')
        self.assertFalse(self.sub(self.inbox).delta_requested_at, 'the flag is taken')
        self.assertIsNone(push.cron_push_sync(self.env), 'nothing flagged, nothing run')

    def test_forged_unknown_and_replayed_notifications_change_nothing(self):
        self.subscribe()
        sub = self.sub(self.inbox)
        before = self.messages(self.inbox)
        triggers = self.triggers()
        forged = {'subscriptionId': sub.graph_subscription_id, 'clientState': 'guessed', 'changeType': 'created',
                  'resource': 'Users/x/Messages/y', 'resourceData': {'id': 'AAMkAGI2-forged'}}
        unknown = dict(forged, subscriptionId='7f105c7d-0000-4000-8000-000000000000', clientState=sub.client_state)
        not_items = [1, 'x', {'subscriptionId': 5}, {'subscriptionId': 'a' * 5000, 'clientState': ''}]
        for items in ([forged], [unknown], not_items):
            self.assertEqual(self.post_notification(items).status_code, 202, 'no oracle')
        self.env.invalidate_all()
        self.assertFalse(sub.delta_requested_at or sub.last_notification_at)
        self.assertEqual(self.triggers(), triggers)
        # a genuine notification, replayed after its delta: one more delta, which finds nothing new
        self.emulator.deliver(self.account.email, subject='Once')
        self.wait_delivered(1)
        push.cron_push_sync(self.env)
        after_first = self.messages(self.inbox)
        self.assertEqual(len(after_first), len(before) + 1)
        genuine = dict(forged, clientState=sub.client_state)
        self.assertEqual(self.post_notification([genuine] * 50).status_code, 202)
        push.cron_push_sync(self.env)
        self.assertEqual(self.messages(self.inbox), after_first, 'a replay never adds or changes a message')
        self.assertFalse(self.env['maildesk.message'].search([('graph_id', '=', 'AAMkAGI2-forged')]),
                         'resource data is never stored')

    def test_lifecycle_events(self):
        self.subscribe()
        sub = self.sub(self.inbox)
        old_id = sub.graph_subscription_id
        self.emulator.reset_counters()
        self.emulator.control('POST', '/lifecycle', {'subscription': old_id, 'event': 'reauthorizationRequired'})
        self.wait_delivered(1)
        self.env.invalidate_all()
        self.assertTrue(sub.retry_at, 'renewal asked for')
        self.subscribe()
        self.assertEqual(self.emulator.counters()['by_endpoint'].get('PATCH /v1.0/subscriptions/{id}'), 1)
        self.assertFalse(sub.retry_at)
        self.assertEqual(sub.graph_subscription_id, old_id)

        self.emulator.control('POST', '/lifecycle', {'subscription': old_id, 'event': 'missed'})
        self.wait_delivered(2)
        self.env.invalidate_all()
        self.assertTrue(sub.delta_requested_at, 'missed: delta now')

        self.emulator.control('POST', '/lifecycle', {'subscription': old_id, 'event': 'subscriptionRemoved'})
        self.wait_delivered(3)
        self.env.invalidate_all()
        self.assertEqual(sub.state, 'failed')
        self.assertIn('Polling', self.inbox.push_status)
        self.subscribe()
        self.assertEqual(sub.state, 'active', 'created again')
        self.assertNotEqual(sub.graph_subscription_id, old_id)
        remote = self.emulator.control('GET', '/subscriptions')['value']
        self.assertIn(sub.graph_subscription_id, {s['id'] for s in remote})

    def test_renewal_before_expiry(self):
        self.subscribe()
        sub = self.sub(self.inbox)
        self.emulator.reset_counters()
        self.subscribe()
        self.assertFalse(self.emulator.counters()['by_endpoint'].get('PATCH /v1.0/subscriptions/{id}'),
                         'a fresh subscription is not renewed')
        sub.expires_at = fields.Datetime.now() + datetime.timedelta(hours=12)
        self.env.flush_all()
        self.assertEqual(self.subscribe()['renewed'], 1)
        self.assertGreater(sub.expires_at, fields.Datetime.now() + datetime.timedelta(days=6))
        # expired at Graph meanwhile: the renewal creates a new one
        self.emulator.control('POST', '/subscriptions/expire', {'subscription': sub.graph_subscription_id})
        sub.expires_at = fields.Datetime.now() + datetime.timedelta(hours=1)
        self.env.flush_all()
        old_id = sub.graph_subscription_id
        self.subscribe()
        self.assertEqual(sub.state, 'active')
        self.assertNotEqual(sub.graph_subscription_id, old_id)

    def test_fallback_when_the_endpoint_is_unreachable(self):
        ICP = self.env['ir.config_parameter'].sudo()
        ICP.set_param(push.URL_PARAM, 'http://127.0.0.1:9')  # nothing listens: the handshake fails
        counts = self.subscribe()
        self.assertEqual(counts['failed'], 2)
        sub = self.sub(self.inbox)
        self.assertEqual(sub.state, 'failed')
        self.assertTrue(sub.failure_reason and sub.retry_at)
        self.assertTrue(self.inbox.push_status.startswith('Polling ('), self.inbox.push_status)
        self.assertFalse(push.polling_exempt_folder_ids(self.env), 'polling continues as before')
        self.emulator.deliver(self.account.email, subject='Polled')
        self.env['maildesk.account']._cron_sync_changes()
        self.assertIn('Polled', self.messages(self.inbox).mapped('subject'))
        self.emulator.reset_counters()
        self.assertEqual(self.subscribe()['failed'], 0, 'not retried before retry_at')
        self.assertFalse(self.emulator.counters()['by_endpoint'])
        # Microsoft's clouds: an http or private URL is never sent to Graph
        ICP.set_param(push.URL_PARAM, 'http://odoo.example.com')
        ICP.set_param('maildesk.cloud', 'global')
        self.assertEqual(push.notification_urls(self.env), 'not_https')
        ICP.set_param(push.URL_PARAM, 'https://10.1.2.3')
        self.assertEqual(push.notification_urls(self.env), 'not_https')
        ICP.set_param(push.URL_PARAM, 'https://odoo.example.com')
        self.assertEqual(push.notification_urls(self.env)[0], 'https://odoo.example.com' + push.NOTIFY_ROUTE)

    def test_delegated_mailbox_keeps_polling(self):
        # a mailbox opened through another user's sign-in (/users/{address}): Microsoft may never notify
        self.account._write_status({'signed_in_email': 'assistant@contoso.test'})
        self.emulator.reset_counters()
        self.subscribe()
        self.assertFalse(self.emulator.counters()['by_endpoint'].get('POST /v1.0/subscriptions'))
        self.assertEqual(self.sub(self.inbox).state, 'failed')
        self.assertIn('shared or delegated', self.inbox.push_status)

    def test_polling_slows_down_while_push_is_healthy(self):
        self.subscribe()
        self.env['maildesk.account']._cron_sync_changes()
        self.assertEqual(set(push.polling_exempt_folder_ids(self.env)), {self.inbox.id, self.sent.id})
        self.emulator.reset_counters()
        self.env['maildesk.account']._cron_sync_changes()
        self.assertFalse(self.emulator.counters()['by_endpoint'].get(DELTA), 'no poll within the safety interval')
        # the safety interval is over: polled again
        self.env.cr.execute('UPDATE maildesk_folder SET last_checked_at = %s WHERE id = %s',
                            [fields.Datetime.now() - push.SAFETY_INTERVAL - datetime.timedelta(minutes=1),
                             self.inbox.id])
        self.env['maildesk.account']._cron_sync_changes()
        self.assertEqual(self.emulator.counters()['by_endpoint'].get(DELTA), 1)
        # push off in Settings: polling as before at once
        self.env['ir.config_parameter'].sudo().set_param(push.ENABLED_PARAM, False)
        self.assertFalse(push.polling_exempt_folder_ids(self.env))

    def test_silent_push_goes_back_to_polling(self):
        self.subscribe()
        sub = self.sub(self.inbox)
        # mail that arrived 10 minutes ago and no notification since: found by a poll
        self.emulator.control('POST', '/subscriptions/expire', {'subscription': sub.graph_subscription_id})
        # mail from before the subscription is no sign of silence; mail since then is
        self.env.cr.execute("UPDATE maildesk_subscription SET subscribed_at = subscribed_at - interval '1 hour' "
                            'WHERE id = %s', [sub.id])
        received = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=10))
        self.emulator.deliver(self.account.email, subject='Unannounced',
                              receivedDateTime=received.strftime('%Y-%m-%dT%H:%M:%SZ'))
        self.env['maildesk.account']._cron_sync_changes()
        self.assertEqual(sub.state, 'active', 'within the safety interval the folder is not polled')
        self.env.cr.execute('UPDATE maildesk_folder SET last_checked_at = %s WHERE id = %s',
                            [fields.Datetime.now() - push.SAFETY_INTERVAL, self.inbox.id])
        self.env['maildesk.account']._cron_sync_changes()
        self.assertIn('Unannounced', self.messages(self.inbox).mapped('subject'))
        self.assertEqual(sub.state, 'failed')
        self.assertIn('stopped', sub.failure_reason)

    def test_push_and_polling_never_duplicate_a_message(self):
        self.subscribe()
        self.emulator.config(push_duplicate_share=1.0)
        ids = self.emulator.deliver(self.account.email, count=2, subject='Both ways',
                                    internetMessageId='<both@fabrikam.test>')
        self.wait_delivered(4)
        self.env['maildesk.account']._cron_sync_changes()
        push.cron_push_sync(self.env)
        self.env['maildesk.account']._cron_sync_changes()
        push.cron_push_sync(self.env)
        for graph_id in ids:
            self.assertEqual(self.env['maildesk.message'].search_count([('graph_id', '=', graph_id)]), 1)
        self.env.cr.execute('SELECT graph_id FROM maildesk_message WHERE account_id = %s GROUP BY graph_id '
                            'HAVING count(*) > 1', [self.account.id])
        self.assertFalse(self.env.cr.fetchall(), 'no message is stored twice')

    def test_unsync_disconnect_and_removal_delete_subscriptions(self):
        self.subscribe()
        self.sent.sync_enabled = False
        self.assertEqual(self.subscribe()['deleted'], 1)
        remote = self.emulator.control('GET', '/subscriptions')['value']
        self.assertEqual([s['folder'] for s in remote], [self.inbox.graph_id])
        self.account.action_disconnect()
        self.assertFalse(self.emulator.control('GET', '/subscriptions')['value'])
        self.assertFalse(self.env['maildesk.subscription'].search([('account_id', '=', self.account.id)]))
        # account removal
        other = self.make_account(email=self.emulator.users[1])
        other.action_fetch_folders()
        self.subscribe()
        self.assertTrue(self.emulator.control('GET', '/subscriptions')['value'])
        other.unlink()
        self.assertFalse(self.emulator.control('GET', '/subscriptions')['value'])

    def test_client_state_is_secret(self):
        self.subscribe()
        user = self.make_maildesk_user(self.env, 'push_manager', manager=True)
        sub = self.sub(self.inbox).with_user(user)
        self.assertEqual(sub.state, 'active', 'managers see the status')
        self.assertNotIn('client_state', sub.fields_get())
        with self.assertRaises(AccessError):
            sub.read(['client_state'])
        plain = self.make_maildesk_user(self.env, 'push_user')
        with self.assertRaises(AccessError):
            self.sub(self.inbox).with_user(plain).read(['state'])

    def test_hostile_requests_cost_no_write(self):
        self.subscribe()
        self.env.cr.execute('SELECT count(*) FROM ir_cron_trigger')
        triggers = self.env.cr.fetchone()[0]
        self.env.cr.execute('SELECT max(write_date) FROM maildesk_subscription')
        written = self.env.cr.fetchone()[0]
        forged = [{'subscriptionId': 'id-%d' % i, 'clientState': 'x', 'changeType': 'created'} for i in range(500)]
        for _attempt in range(20):
            self.assertEqual(self.post_notification(forged).status_code, 202)
        response = requests.post(self.base_url() + push.NOTIFY_ROUTE, data=b'x' * (10 * 1024 * 1024), timeout=30)
        self.assertEqual(response.status_code, 413)
        self.env.cr.execute('SELECT count(*) FROM ir_cron_trigger')
        self.assertEqual(self.env.cr.fetchone()[0], triggers)
        self.env.cr.execute('SELECT max(write_date) FROM maildesk_subscription')
        self.assertEqual(self.env.cr.fetchone()[0], written)
