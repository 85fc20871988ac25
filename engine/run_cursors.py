"""The database cursors of a run of units (a sync run, a gateway run), apart from the caller's transaction.

A run works in *units*, each in a transaction of its own that commits when the unit ends, and keeps an *account
cursor* for what must outlive any unit (a refreshed token cache, account outcomes), committed at the run's chosen
points. A sync run also holds its mailbox slots (advisory locks) in a *slot cursor* until it ends.

Every transaction here runs in READ COMMITTED: each statement sees what other workers committed before it, so
workers side by side wait for each other only on the rows they both lock, and never fail on a concurrent update.

One cursor serves all the units of a run, one transaction after another: borrowing a pooled connection,
resetting it, starting it and giving it back for every unit was a sizeable part of a no-change cycle's CPU (one
unit per folder, and one more to find nothing left). A unit that raises is rolled back before the exception goes
on, so its row locks are gone by the time the caller records the failure in a :meth:`RunCursors.fresh` cursor.

Test mode: every cursor is a savepoint of the test's one connection, and savepoints must nest in the order they
are created. A transaction's savepoint is therefore created when it begins (:func:`begin`), and a unit's begins
when the unit does -- after the account cursor's latest commit, and released before its next one.
"""
import contextlib
import logging

from odoo import SUPERUSER_ID, api
from odoo.sql_db import TestCursor

_logger = logging.getLogger(__name__)


def begin(cr):
    """Start the cursor's transaction in READ COMMITTED (test mode: create its savepoint now)."""
    cr.execute('SELECT 1' if isinstance(cr, TestCursor) else 'SET TRANSACTION ISOLATION LEVEL READ COMMITTED')


class RunCursors:
    """The account cursor, the optional slot cursor and the unit cursor of one run (see the module docstring)."""

    def __init__(self, registry, slots=False):
        self.registry = registry
        self.slots = slots      # a slot cursor of its own (not in test mode: its locks are the connection's anyway)
        self.account_cr = self.slot_cr = self._unit_cr = None

    def open(self):
        """Open the account cursor (and the slot cursor); :return: a superuser environment on the account cursor."""
        self.account_cr = self._new()
        begin(self.account_cr)
        if self.slots and not self.registry.in_test_mode():
            self.slot_cr = self._new()
            begin(self.slot_cr)
        else:
            self.slot_cr = self.account_cr
        return api.Environment(self.account_cr, SUPERUSER_ID, {})

    def commit_account(self):
        """Commit the account cursor's transaction and begin the next one."""
        # the run's own account cursor, never the caller's transaction
        self.account_cr.commit()  # pylint: disable=invalid-commit
        begin(self.account_cr)

    @contextlib.contextmanager
    def unit(self):
        """A transaction of its own on the run's unit cursor: committed when the block ends, rolled back when it
        raises, before the exception goes on. :return: the cursor"""
        if self._unit_cr is None:
            self._unit_cr = self._new()
        cr = self._unit_cr
        try:
            begin(cr)
            yield cr
            cr.commit()  # pylint: disable=invalid-commit
        except BaseException:
            try:
                cr.rollback()
            except Exception:  # noqa: BLE001 - the failure of the unit is what goes on
                _logger.info('MailDesk: a unit cursor could not roll back; the next unit opens another one')
                self._unit_cr = None
                with contextlib.suppress(Exception):
                    cr.close()
            raise

    @contextlib.contextmanager
    def fresh(self):
        """A cursor of its own for one transaction, committed when the block ends (e.g. a failure to record)."""
        with self._new() as cr:
            begin(cr)
            yield cr

    def close(self, commit):
        """End the run: the unit cursor, the slot cursor (its transaction rolled back: that frees the slots) and
        the account cursor (committed when ``commit``)."""
        try:
            self.close_units()
            if self.slot_cr is not self.account_cr:
                self.slot_cr.rollback()  # nothing written there
                self.slot_cr.close()
        finally:
            try:
                if commit:
                    self.account_cr.commit()  # pylint: disable=invalid-commit
            finally:
                self.account_cr.close()

    def close_units(self):
        """Give the unit cursor back to the pool (its last unit has committed or rolled back)."""
        cr, self._unit_cr = self._unit_cr, None
        if cr is not None:
            cr.close()

    def _new(self):
        cr = self.registry.cursor()
        if cr.transaction is None:  # what Environment() would do, without looking the registry up again
            cr.transaction = api.Transaction(self.registry)
        return cr
