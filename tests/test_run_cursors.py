from unittest.mock import patch

import psycopg2

from odoo.modules.registry import Registry
from odoo.tests import tagged

from odoo.addons.maildesk.engine.run_cursors import RunCursors
from odoo.addons.maildesk.tests.common import MaildeskCase
from odoo.addons.maildesk.tests.sync_common import SyncTestMixin


@tagged('post_install', '-at_install')
class TestRunCursors(SyncTestMixin, MaildeskCase):
    """A run's units share one cursor, one transaction after another (engine/run_cursors.py)."""

    emulator_options = {'users': 1, 'messages': 30}

    def count_cursors(self):
        opened = []
        cursor = Registry.cursor

        def counting(registry, *args, **kwargs):
            cr = cursor(registry, *args, **kwargs)
            opened.append(cr)
            return cr
        return opened, patch.object(Registry, 'cursor', counting)

    # a TestCursor's ``closed`` is its connection's; ``_closed`` is the cursor's own (a real Cursor has both)

    def folder_name(self, folder):
        self.env.cr.execute('SELECT name FROM maildesk_folder WHERE id = %s', [folder.id])
        return self.env.cr.fetchone()[0]

    def test_a_cycle_opens_two_cursors_whatever_its_units(self):
        account = self.sync_account(extra_folders=())
        self.sync_until_done(account)
        opened, counting = self.count_cursors()
        with counting:
            run = self.run_changes()
        self.assertGreaterEqual(run.units, 2, 'each synced folder was a unit')
        # the account cursor and the units' cursor (test mode: the slots live on the account cursor)
        self.assertEqual(len(opened), 2, opened)
        self.assertTrue(all(cr._closed for cr in opened), 'every cursor of the run was given back')

    def test_a_failing_unit_is_rolled_back_before_its_error_goes_on(self):
        account = self.sync_account()
        folder = account.folder_ids.filtered('sync_enabled')[:1]
        cursors = RunCursors(self.registry)
        cursors.open()
        try:
            with cursors.unit() as cr:
                first = cr
                cr.execute('UPDATE maildesk_folder SET name = %s WHERE id = %s', ['renamed', folder.id])
            with self.assertRaises(ValueError), cursors.unit() as cr:
                self.assertIs(cr, first, 'the next unit runs on the same cursor')
                cr.execute('UPDATE maildesk_folder SET name = %s WHERE id = %s', ['lost', folder.id])
                raise ValueError('the unit fails')
            with cursors.fresh() as cr:
                cr.execute('SELECT name FROM maildesk_folder WHERE id = %s', [folder.id])
                self.assertEqual(cr.fetchone()[0], 'renamed', "the failed unit's write is gone, the first one's kept")
            with cursors.unit() as cr:
                self.assertIs(cr, first, 'a failed unit leaves the cursor usable')
        finally:
            cursors.close(commit=True)
        self.assertTrue(first._closed)
        self.assertEqual(self.folder_name(folder), 'renamed')

    def test_a_cursor_that_cannot_roll_back_is_replaced(self):
        cursors = RunCursors(self.registry)
        cursors.open()
        with cursors.unit() as cr:
            broken = cr
        rollback, failed = type(broken).rollback, []

        def rollback_once_lost(cr):
            if cr is broken and not failed:  # e.g. the connection was lost; closing it afterwards works
                failed.append(cr)
                raise psycopg2.OperationalError('connection lost')
            return rollback(cr)
        try:
            with patch.object(type(broken), 'rollback', rollback_once_lost), self.assertRaises(ValueError), \
                    cursors.unit() as cr:
                raise ValueError('the unit fails')
            self.assertEqual(failed, [broken])
            self.assertTrue(broken._closed, 'the broken cursor was closed')
            with cursors.unit() as cr:
                self.assertIsNot(cr, broken, 'the next unit has another cursor')
                cr.execute('SELECT 1')
                self.assertEqual(cr.fetchone()[0], 1)
        finally:
            cursors.close(commit=True)
