"""Mailbox health (issue #20): broken and stalled mailboxes speak up once, and fall silent when they recover.

Against the emulator: Entra ID revokes the grant, MailDesk's own token provider fails three times, and the account's
owner and the MailDesk managers get their activities; re-authorizing closes them.
"""
from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.maildesk.engine import health
from odoo.addons.maildesk.graph.errors import AuthInvalid

from .common import MaildeskCase
from .sync_common import SyncTestMixin


class HealthCase(SyncTestMixin, MaildeskCase):

    emulator_options = {'users': 2, 'messages': 5}

    def setUp(self):
        super().setUp()
        self.owner = self.make_maildesk_user(self.env, 'health_owner')
        self.manager = self.make_maildesk_user(self.env, 'health_manager', manager=True)
        self.managers = health._managers(self.env)
        self.assertIn(self.manager, self.managers)
        self.account = self.make_account(email=self.emulator.users[0], user=self.owner)
        self.account.action_fetch_folders()
        self.inbox = self.account.folder_ids.filtered(lambda folder: folder.role == 'inbox')
        self.inbox.sync_enabled = True
        self.sync_until_done(self.account)
        self.assertEqual(self.account.state, 'connected')

    def activities(self, xmlid, account=None, active_test=True):
        domain = [('res_model', '=', 'maildesk.account'), ('activity_type_id', '=', self.env.ref(xmlid).id)]
        if account:
            domain.append(('res_id', '=', account.id))
        return self.env['mail.activity'].with_context(active_test=active_test).sudo().search(domain)

    def owner_activities(self, account=None):
        return self.activities(health.OWNER_TYPE, account or self.account)

    def summaries(self):
        return self.activities(health.SUMMARY_TYPE)

    def revoke(self, account):
        self.emulator.control('POST', '/revoke', {'user': account.email, 'access_tokens': True})
        with mute_logger('odoo.addons.maildesk.engine.sign_in'):
            for _attempt in range(3):
                self.assertIsInstance(self.graph_attempt(account), AuthInvalid)
        self.assertEqual(account.state, 'auth_invalid')


@tagged('post_install', '-at_install')
class TestHealthActivities(HealthCase):

    def test_revoked_grant_one_activity_one_summary_closed_after_reauthorization(self):
        self.assertFalse(self.owner_activities(), 'a healthy mailbox has no activity')
        self.revoke(self.account)

        activity = self.owner_activities()
        self.assertEqual(len(activity), 1, 'one activity for the owner')
        self.assertEqual(activity.user_id, self.owner)
        self.assertIn('Authorize Outlook', activity.note, 'the note names the action that fixes it')
        summaries = self.summaries()
        self.assertEqual(sorted(summaries.mapped('user_id').ids), sorted(self.managers.ids),
                         'one summary per MailDesk manager')
        self.assertIn(self.account.email, summaries[0].note)

        # The cron runs again and again: nothing new, not even a rewrite of the notes.
        messages_before = self.env['mail.message'].search_count([])
        writes = dict(summaries.mapped(lambda a: (a.id, a.write_date)))
        for _run in range(3):
            self.env['maildesk.account']._cron_health()
            self.run_changes()
        self.assertEqual(self.owner_activities(), activity)
        self.assertEqual(self.summaries(), summaries)
        self.assertEqual(dict(summaries.mapped(lambda a: (a.id, a.write_date))), writes)
        self.assertEqual(self.env['mail.message'].search_count([]), messages_before, 'no message per cron run')

        # The owner clicks Authorize Outlook: both close themselves.
        self.authorize_account(self.account.with_user(self.owner))
        self.assertEqual(self.account.state, 'connected')
        self.assertFalse(self.owner_activities())
        self.assertFalse(self.summaries())
        self.assertFalse(self.activities(health.OWNER_TYPE, active_test=False).filtered('active'))
        self.assertTrue(self.account.message_ids.filtered(lambda m: 'works again' in (m.body or '')),
                        'closing is recorded on the account, as a done activity is')

    def test_summary_follows_the_incident_set(self):
        other_owner = self.make_maildesk_user(self.env, 'health_owner2')
        other = self.make_account(email=self.emulator.users[1], user=other_owner)
        self.revoke(self.account)
        self.revoke(other)
        summaries = self.summaries()
        self.assertEqual(len(summaries), len(self.managers), 'still one summary per manager for two mailboxes')
        for email in (self.account.email, other.email):
            self.assertIn(email, summaries[0].note)
        self.authorize_account(self.account.with_user(self.owner))
        self.assertEqual(self.summaries(), summaries, 'the same summaries, rewritten')
        self.assertNotIn(self.account.email, summaries[0].note)
        self.assertEqual(summaries.mapped('res_id'), [other.id] * len(summaries))
        self.authorize_account(other.with_user(other_owner))
        self.assertFalse(self.summaries())

    def test_admin_action_error_says_what_the_admin_must_do(self):
        self.account._set_error('Administrator action needed: the client secret has expired.')
        self.assertEqual(self.account.state, 'error')
        self.assertIn('Administrator action needed', self.owner_activities().note)
        self.account._clear_error()
        self.assertFalse(self.owner_activities())

    def test_stalled_folder_detected_and_closed_when_it_syncs(self):
        self.env['ir.config_parameter'].sudo().set_param(health.STALL_PARAM, 60)
        self.env['maildesk.account']._cron_health()
        self.assertFalse(self.owner_activities(), 'synced a moment ago: not stalled')
        self.inbox.sudo().write({'last_sync_at': fields.Datetime.now() - timedelta(minutes=61)})
        self.assertEqual(health.stalled_folders(self.account), self.inbox)
        self.env['maildesk.account']._cron_health()
        activity = self.owner_activities()
        self.assertEqual(len(activity), 1)
        self.assertIn('Inbox', activity.note)
        self.assertEqual(len(self.summaries()), len(self.managers))
        self.run_changes()  # the folder synchronizes again
        self.assertGreater(self.inbox.last_sync_at, fields.Datetime.now() - timedelta(minutes=5))
        self.env['maildesk.account']._cron_health()
        self.assertFalse(self.owner_activities())
        self.assertFalse(self.summaries())

    def test_client_secret_expiry_warned_30_7_1_days_before(self):
        ICP = self.env['ir.config_parameter'].sudo()
        today = fields.Date.today()
        Message = self.env['mail.message']
        admin_partner = self.env.ref('base.user_admin').partner_id

        def warnings():
            return Message.search([('subject', '=', 'MailDesk: client secret expiry'),
                                   ('partner_ids', 'in', admin_partner.ids)])

        ICP.set_param(health.SECRET_EXPIRY_PARAM, fields.Date.to_string(today + timedelta(days=45)))
        self.assertIsNone(health.warn_secret_expiry(self.env))
        for days_before, expected in ((30, 1), (29, 1), (7, 2), (6, 2), (1, 3), (0, 4), (-3, 4)):
            health.warn_secret_expiry(self.env, today=today + timedelta(days=45 - days_before))
            self.assertEqual(len(warnings()), expected, '%d day(s) before' % days_before)
        self.assertIn('expired', warnings()[0].body)


@tagged('post_install', '-at_install')
class TestHealthOverview(HealthCase):

    def test_overview_rows_for_managers_only(self):
        self.account._set_throttled(600)
        self.env['maildesk.draft'].create({'account_id': self.account.id, 'subject': 'x'})._write_sending(
            {'state': 'failed', 'last_error': 'refused'})
        self.env.flush_all()
        row = self.env['maildesk.health'].with_user(self.manager).search([('account_id', '=', self.account.id)])
        self.assertEqual(len(row), 1)
        self.assertEqual((row.state, row.sync_mode, row.is_throttled, row.failed_draft_count),
                         ('connected', 'Polling', True, 1))
        self.assertEqual(row.last_sync_at, self.account.last_sync_at)
        self.assertTrue(row.lag.endswith('min'), row.lag)
        self.assertFalse(row.what_to_do)
        self.revoke(self.account)
        self.env.flush_all()
        row.invalidate_recordset()
        self.assertTrue(row.needs_attention)
        self.assertIn('Authorize Outlook', row.what_to_do)
        with self.assertRaises(AccessError):
            self.env['maildesk.health'].with_user(self.owner).search([])
