"""A sync run: claim a folder -> its Graph client -> one page -> commit, again, until the budget is spent.

Work is split in *units*: one delta page of one folder, in its own transaction (claim the folder with
``FOR NO KEY UPDATE SKIP LOCKED``, GET the page, upsert its rows, save the link, commit). Any number of cron
workers (threads or servers on one database) can run units side by side: they never process one folder at once,
write two folders of one mailbox at the same time without storing a message twice (``engine.message_batch``), and
at most :data:`MAILBOX_SLOTS` Graph requests of one mailbox are in flight at once, across all runs.

Odoo runs one cron record in one worker at a time (``ir_cron._acquire_one_job`` locks its row, ``FOR NO KEY UPDATE
SKIP LOCKED``, until the job ends), so the backfill is several cron records, *lanes* (:data:`BACKFILL_LANES`),
that run the same code: a busy lane wakes as many lanes as there are folders to back-fill, and each free cron
worker of any server takes one. One folder's initial round stays sequential (each delta page's nextLink comes
from the page before): workers share folders and accounts, not the pages of one folder.

Entry points (called by the thin model methods): :func:`sync_round` (Sync now, Fetch Now), :func:`cron_sync_changes`
and :func:`cron_backfill` (the two crons).
"""
import datetime
import logging
import threading
import time

import psycopg2.errors

from odoo import SUPERUSER_ID, api, fields
from odoo.exceptions import UserError

from ..graph import errors
from . import body_prefetch, feedback, gateway, push, shared_mailbox
from .folder_round import FolderRound, GraphReads, PagePrefetch, starts_round
from .mailbox_slots import MAILBOX_SLOTS, SLOT_LOCK_BASE, take_mailbox_slots
from .run_cursors import RunCursors

_logger = logging.getLogger(__name__)

CRON_BUDGET = 50            # seconds of work per cron callback
JOB_BUDGET = 90             # seconds per cron job run, across Odoo's re-runs of a partially done job (< 120 s limit)
SYNC_NOW_BUDGET = 20        # seconds a foreground "Sync now" may take
BACKFILL_PAGE_BUDGET = 300  # delta pages per backfill callback (~300k messages at 1000 per page)
SLICE_PAGES = 3             # pages a run takes of one folder in a row (its prefetch is only of use to that run)
RUN_SLOTS = 2               # slots a run takes in a mailbox: a unit's request and the next page's prefetch
DB_ATTEMPTS = 3
THROTTLE_DEFAULT = 30       # seconds, when Graph throttles without saying for how long
CONCURRENCY_ERRORS = (psycopg2.errors.SerializationFailure, psycopg2.errors.DeadlockDetected,
                      psycopg2.errors.UniqueViolation, psycopg2.errors.LockNotAvailable)
CHANGES_CRON = 'maildesk.ir_cron_maildesk_sync_changes'
BACKFILL_CRON = 'maildesk.ir_cron_maildesk_backfill'
# The backfill's lanes (same code, one cron record each); the first one also runs on its own interval.
BACKFILL_LANES = (BACKFILL_CRON, 'maildesk.ir_cron_maildesk_backfill_2', 'maildesk.ir_cron_maildesk_backfill_3',
                  'maildesk.ir_cron_maildesk_backfill_4')

# Which folders each kind of run claims (SQL on maildesk_folder f).
CLAIM_CONDITIONS = {
    # New folders (their newest page), incremental rounds; each folder once per run (last_checked_at).
    'changes': """(f.next_link IS NULL OR NOT coalesce(f.round_is_initial, false))
                  AND (f.last_checked_at IS NULL OR f.last_checked_at < %(run_start)s)""",
    # Initial rounds in progress: the progressive backfill, least recently served first; also the first page of
    # rounds not started yet (new folders), which the changes run takes too: several lanes share them.
    'backfill': """((f.next_link IS NOT NULL AND f.round_is_initial)
                   OR (f.next_link IS NULL AND f.delta_link IS NULL))""",
}
CLAIM_ORDER = {
    'changes': 'f.last_checked_at NULLS FIRST, f.id',
    'backfill': 'f.last_sync_at NULLS FIRST, f.id',
}

_job_starts = {}
_job_starts_lock = threading.Lock()
LAST_SYNC_NOTICE_EVERY = 600  # seconds between two "last synced" notices of one account to open inboxes
_last_sync_notices = {}       # (database, account id) -> monotonic time of this process's last notice
_last_sync_notices_lock = threading.Lock()


# ------------------------------------------------------------------ entry points

def sync_round(accounts, budget=SYNC_NOW_BUDGET):
    """One sync round of these accounts: changes and newest pages, then backfill while time remains.

    Units commit in their own cursors, so what the caller's transaction reads afterwards may predate them (it is
    invalidated). :return: the finished :class:`SyncRun` (its counters say what happened)
    """
    with SyncRun(accounts, budget, backfills=True) as run:
        run.run('changes')
        run.run('backfill')
    if run.backfill_left:
        trigger_backfill(accounts.env, run.backfill_left)
    return run


def cron_sync_changes(env):
    """MailDesk: sync changes -- the newest page of new folders and each synced folder's changes."""
    budget = _job_budget(env, CRON_BUDGET)
    if budget <= 0:
        return None
    with SyncRun(_unstopped_accounts(env), budget, skip_folder_ids=push.polling_exempt_folder_ids(env),
                 syncable_only=True) as run:
        run.share_new_folders()
        run.run('changes')
    if run.stored:  # mail another run stored is that run's to check
        push.check_silence(env, run.run_start)
    if run.newest_pages or run.backfill_left:
        trigger_backfill(env, run.backfill_left)
    _report_progress(env, CHANGES_CRON, run, run.changes_left)
    return run


def cron_backfill(env):
    """MailDesk: backfill -- continue the initial rounds (older mail), bounded in time and pages."""
    budget = _job_budget(env, CRON_BUDGET)
    if budget <= 0:
        return None
    with SyncRun(_unstopped_accounts(env), budget, max_pages=BACKFILL_PAGE_BUDGET, backfills=True,
                 syncable_only=True) as run:
        run.run('backfill')
    if run.backfill_left:
        trigger_backfill(env, run.backfill_left)
    _report_progress(env, BACKFILL_CRON, run, run.backfill_left)
    return run


def trigger_backfill(env, folders=1):
    """Wake as many backfill lanes as there are ``folders`` to back-fill (at least the first lane): each lane is
    one cron record, so each can run in another cron worker or server at the same time."""
    for xmlid in BACKFILL_LANES[:max(1, min(folders, len(BACKFILL_LANES)))]:
        cron = env.ref(xmlid, raise_if_not_found=False)
        if cron:
            cron.sudo()._trigger()


def _new_folder_count(env, account_ids):
    """Synced folders whose round has not started (no link at all): new folders, or a round to start again."""
    env.cr.execute("""SELECT count(*) FROM maildesk_folder
                       WHERE sync_enabled AND account_id = ANY(%s) AND next_link IS NULL AND delta_link IS NULL""",
                   [list(account_ids)])
    return env.cr.fetchone()[0]


def syncable_accounts(env):
    """Accounts background sync may serve now (not auth_invalid, a confirmed server, not throttled)."""
    return _syncable(_unstopped_accounts(env))


def _unstopped_accounts(env):
    return env['maildesk.account'].sudo().search([('state', 'not in', ('not_authorized', 'auth_invalid'))])


def _syncable(accounts):
    return accounts.filtered(lambda account: not account._check_can_sync())


def _report_progress(env, cron_xmlid, run, remaining):
    """``_notify_progress`` for Odoo's cron runner, and a trigger so the work goes on soon (or when the
    throttling Graph asked for ends)."""
    cron = env.ref(cron_xmlid).sudo()
    if remaining:
        cron._trigger()
    if run.throttled:
        cron._trigger(fields.Datetime.now() + datetime.timedelta(seconds=min(run.throttled.values()) + 1))
    cron._notify_progress(done=run.units, remaining=remaining if run.units else 0)


class SyncRun:
    """One run of sync units over some accounts, within a time (and page) budget. A context manager.

    Plain Python on purpose: it holds per-run state (Graph clients, throttled and failing accounts, counters)
    that belongs to no record. Account-level writes (a refreshed token cache, last sync, throttling, auth
    failures) go through one *account cursor* of its own, READ COMMITTED, committed when the run ends: workers
    running side by side then only wait for each other there, never fail on a concurrent update, and a unit
    never waits for a lock its own run holds.
    """

    def __init__(self, accounts, budget, max_pages=None, folder_ids=None, skip_folder_ids=(), backfills=False,
                 syncable_only=False):
        """``folder_ids``: only these folders (push: the folders notifications named); ``skip_folder_ids``: never
        these (push is healthy there, see :mod:`engine.push`); ``syncable_only``: leave out the ``accounts`` that
        may not sync now (:func:`syncable_accounts`), checked on the run's own cursor, where its units read the
        same accounts again."""
        self.registry = accounts.env.registry
        self.cursors = RunCursors(self.registry, slots=True)
        self.backfills = backfills   # the run continues initial rounds: the next page of a first page is its own
        self.prefetch = PagePrefetch(self.registry.db_name)
        self.account_ids = accounts.ids
        self.deadline = time.monotonic() + budget
        self.max_pages = max_pages
        self.run_start = _utcnow()  # microseconds: a run started right after another one still visits all
        self.clients = {}
        self.slice = (None, 0)       # (folder id, pages in a row): the folder this run continues first
        self.slots = {}              # account id -> mailbox slots this run holds (kept until the run ends)
        self.excluded = set()        # accounts skipped for the rest of the run
        self.failed_folders = set()
        self.only_folders = list(folder_ids) if folder_ids is not None else None
        self.skipped_folders = list(skip_folder_ids)
        self.throttled = {}          # account id -> seconds
        self.auth_failures = {}      # account id -> GraphError
        self.grants_ended = {}       # shared mailbox account id -> the GraphError saying its access ended
        self.synced_accounts = set()
        self.syncable_only = syncable_only
        self.units = self.pages = self.stored = self.newest_pages = 0
        self.changes_left = self.backfill_left = 0
        self.errors = []
        # Units use their own cursors: what the caller wrote must be visible to them (test mode: same connection).
        self.caller_env = accounts.env
        self.caller_env.flush_all()
        self.env = None

    def __enter__(self):
        # The slot cursor's transaction holds the run's mailbox slots (advisory locks) until the run ends: a
        # prefetch may still be in flight when its unit commits, so a slot freed at each commit would let a fifth
        # request in. (Test mode: the account cursor holds them; a cursor of its own would lose its savepoint to
        # the account cursor's commits.)
        self.env = self.cursors.open()
        if self.syncable_only:
            self.account_ids = _syncable(self.env['maildesk.account'].browse(self.account_ids)).ids
        return self

    def __exit__(self, exc_type, exc, traceback):
        try:
            self.cursors.close_units()
            if exc_type is None:
                self.finish()
        finally:
            try:
                self.prefetch.close()  # waits for a prefetch in flight: only then are the slots free
            finally:
                self.cursors.close(commit=exc_type is None)
                self.caller_env.invalidate_all()

    # ------------------------------------------------------------------ the loop

    def run(self, mode):
        """Process units of ``mode`` ('changes' or 'backfill') until none is left or the budget is spent."""
        for account_id in self._accounts_with_work(mode):
            # the mailbox's client first: its first unit then claims once (a unit never waits for a token)
            if account_id not in self.clients and account_id not in self.excluded:
                self._prepare_client(account_id)
        while time.monotonic() < self.deadline and (self.max_pages is None or self.pages < self.max_pages):
            account_ids = [a for a in self.account_ids if a not in self.excluded]
            if not account_ids or self._unit(mode, account_ids) is None:
                break

    def _unit(self, mode, account_ids):
        """Claim one folder and process one page in its own transaction. None when nothing is left to claim."""
        reads = None  # Graph answers of this unit, kept across its database retries
        for attempt in range(1, DB_ATTEMPTS + 1):
            claimed = None  # (folder id, account id)
            try:
                with self.cursors.unit() as cr:
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    folder = self._claim(env, mode, account_ids)
                    if not folder:
                        return None
                    claimed = (folder.id, folder.account_id.id)
                    client = self.clients.get(claimed[1])
                    if client is None:
                        pass  # first unit of this mailbox: get its token outside any unit (below), then claim again
                    elif not self._take_slots(claimed[1]):
                        self.excluded.add(claimed[1])  # 4 requests of this mailbox may be in flight elsewhere
                        return True
                    else:
                        reads = reads or GraphReads(client, self.prefetch, self._may_prefetch(folder))
                        self._process(env, mode, folder, reads)
                if client is None:
                    self._prepare_client(claimed[1])
                return True
            except CONCURRENCY_ERRORS as exc:
                if claimed and attempt == DB_ATTEMPTS:
                    self._fail(mode, claimed[0], self.env._('Database busy, retrying later (%s).', type(exc).__name__))
                elif not claimed and attempt == DB_ATTEMPTS:
                    return None
            except Exception as exc:
                if claimed is None:
                    raise
                _logger.exception('MailDesk: folder %s sync failed unexpectedly', claimed[0])
                self._fail(mode, claimed[0], self.env._('Unexpected error: %s', exc))
                return True
        return True

    def _process(self, env, mode, folder, reads):
        """One page of the claimed folder. A Graph failure ends the unit without touching the folder's cursor:
        every Graph call of a unit precedes its first write, so there is nothing to undo, only the failure to
        note (throttling and authorization stop the whole mailbox for this run)."""
        account_id = folder.account_id.id
        try:
            result = FolderRound(folder, reads).sync_page()
        except errors.GraphError as exc:
            env.clear()
            if isinstance(exc, errors.Throttled):
                self.throttled[account_id] = max(self.throttled.get(account_id, 0),
                                                 exc.retry_after or THROTTLE_DEFAULT)
                self.excluded.add(account_id)
                _logger.info('MailDesk: account %s throttled for %ss', account_id, self.throttled[account_id])
            elif isinstance(exc, (errors.AuthInvalid, errors.AuthExpired)):
                self.auth_failures[account_id] = exc
                self.excluded.add(account_id)
            elif shared_mailbox.grant_ended(folder.account_id, exc):
                self.grants_ended[account_id] = exc  # the whole shared mailbox stops, its state is kept
                self.excluded.add(account_id)
            else:
                _logger.info('MailDesk: folder %s sync failed: %s', folder.id, exc.message)
                message = feedback.graph_error_text(env, exc, env._('synchronize the folder "%s"', folder.name))
                self.failed_folders.add(folder.id)
                self.errors.append(message)
                folder.write({'sync_state': 'error', 'last_error': message})
                if mode == 'changes':
                    folder.flush_recordset()
                    _mark_checked(env.cr, folder.id)
            return
        if mode == 'changes' and (result['initial'] or not result['more']):
            _mark_checked(env.cr, folder.id)
        pages_in_row = self.slice[1] + 1 if self.slice[0] == folder.id else 1
        self.slice = (folder.id, pages_in_row) if result['more'] else (None, 0)
        self.units += 1
        self.pages += 1
        self.stored += result['stored']
        self.newest_pages += bool(result['first'])
        self.synced_accounts.add(account_id)

    def _may_prefetch(self, folder):
        """Whether the folder's next page may be fetched while this one is stored: when this run, or the next run
        of this process, would store it (a prefetched page nobody stores is a wasted request)."""
        if self.max_pages is not None and self.pages + 1 >= self.max_pages:
            return False
        if self.slots.get(folder.account_id.id, 0) < RUN_SLOTS:
            return False  # one slot only: the prefetch would be a second request in flight
        in_row = self.slice[1] + 1 if self.slice[0] == folder.id else 1
        if in_row >= SLICE_PAGES and self._mailbox_shared(folder.account_id.id):
            return False  # the run moves on after this page, and another run may take the folder's next one
        if starts_round(folder):
            # a new round's first page (the changes run stores it, a backfill lane the rest): page 2 is handed to
            # that lane when it runs in this process, unless another process works in the mailbox
            return self.backfills or not self._mailbox_shared(folder.account_id.id)
        return bool(self.backfills or (folder.delta_link and not folder.round_is_initial))

    def _claim(self, env, mode, account_ids):
        """``SELECT ... FOR NO KEY UPDATE SKIP LOCKED LIMIT 1``: a folder no other worker is processing.

        A run continues the folder it is in the middle of for up to :data:`SLICE_PAGES` pages (the page it
        prefetched is only of use to itself: another worker taking that folder would fetch the page again), then
        takes the least recently served folder, so that folders progress evenly and the workers still have
        folders to share when the sync nears its end. The last page of a slice is not followed by a prefetch when
        another run works in the mailbox.

        NO KEY UPDATE (not plain UPDATE) still excludes other claimers but lets other transactions insert
        messages referencing the folder meanwhile.
        """
        query = f"""
            SELECT f.id
              FROM maildesk_folder f
             WHERE f.sync_enabled AND f.account_id = ANY(%(accounts)s) AND f.id != ALL(%(failed)s)
               AND {CLAIM_CONDITIONS[mode]} {self._folder_filter()} {{slice}}
          ORDER BY {CLAIM_ORDER[mode]}
             LIMIT 1
               FOR NO KEY UPDATE OF f SKIP LOCKED
        """
        params = dict(self._folder_params(account_ids), slice=self.slice[0])
        row = None
        if self.slice[0] and self.slice[1] < SLICE_PAGES:
            # the folder this run is in the middle of: its next page may be prefetched already (by this run only)
            env.cr.execute(query.format(slice='AND f.id = %(slice)s'), params)
            row = env.cr.fetchone()
        if row is None:
            env.cr.execute(query.format(slice=''), params)
            row = env.cr.fetchone()
        return env['maildesk.folder'].browse(row[0]) if row else None

    def _prepare_client(self, account_id):
        """The mailbox's Graph client, with a token already obtained, built on the account cursor: a refreshed
        token cache or an authorization failure is written there, never in a unit (which may roll back)."""
        try:
            client = self.env['maildesk.account'].browse(account_id)._graph_client()
            client.access_token()
        except errors.AuthInvalid as exc:  # already counted on the account by the token provider
            self.auth_failures[account_id] = exc
            self.excluded.add(account_id)
        except errors.GraphError as exc:
            _logger.info('MailDesk: no token for account %s: %s', account_id, exc.message)
            self.errors.append(feedback.graph_error_text(self.env, exc, self.env._('sign in to the mailbox')))
            self.excluded.add(account_id)
        except UserError as exc:  # e.g. OAuth no longer configured
            self.errors.append(str(exc))
            self.excluded.add(account_id)
        else:
            self.clients[account_id] = client
        self.cursors.commit_account()  # a refreshed token cache: saved now, the account row is not kept locked

    def share_new_folders(self):
        """New folders wait for their first page: wake backfill lanes to take some of them while this run takes
        the others (committed now, so that other cron workers see the triggers before this run ends)."""
        new_folders = _new_folder_count(self.env, self.account_ids)
        if new_folders > 1:
            trigger_backfill(self.env, new_folders - 1)
            self.cursors.commit_account()

    def _mailbox_shared(self, account_id):
        """Another run (any process) holds slots in the mailbox: it may take this run's folders too. (A body
        prefetch batch holds one too: while it runs, sync just does not prefetch past a slice's end.)"""
        cr = self.cursors.slot_cr
        cr.execute("""
            SELECT count(*) FROM pg_locks
             WHERE locktype = 'advisory' AND granted AND pid != pg_backend_pid() AND objsubid = 2
               AND classid::int8 = ANY(%s) AND objid::int8 = %s
        """, [[SLOT_LOCK_BASE + slot for slot in range(MAILBOX_SLOTS)], account_id])
        return bool(cr.fetchone()[0])

    def _take_slots(self, account_id):
        """The run's slots in the mailbox (up to :data:`RUN_SLOTS`, taken once, held until the run ends): how
        many. 0 when all :data:`MAILBOX_SLOTS` are held by other runs (any process)."""
        if account_id not in self.slots:
            self.slots[account_id] = take_mailbox_slots(self.cursors.slot_cr, account_id, RUN_SLOTS)
        return self.slots[account_id]

    # ------------------------------------------------------------------ outcomes

    def _fail(self, mode, folder_id, message):
        """Record a folder's failure in a fresh transaction; the cursor (links) is kept for the next run."""
        self.failed_folders.add(folder_id)
        self.errors.append(message)
        try:
            with self.cursors.fresh() as cr:
                folder = api.Environment(cr, SUPERUSER_ID, {})['maildesk.folder'].browse(folder_id).exists()
                folder.write({'sync_state': 'error', 'last_error': message})
                if mode == 'changes':
                    folder.flush_recordset()
                    _mark_checked(cr, folder_id)
        except CONCURRENCY_ERRORS:
            _logger.info('MailDesk: could not record the error of folder %s (busy)', folder_id)

    def finish(self):
        """Account outcomes (last sync, Last Fetch Date, throttling, auth failures) and what is left to do."""
        self.env.invalidate_all()
        Account = self.env['maildesk.account']
        synced = self.synced_accounts - set(self.auth_failures)
        for account_id in sorted(synced | set(self.throttled) | set(self.auth_failures)):
            account = Account.browse(account_id)
            if account_id in self.throttled:
                account._set_throttled(self.throttled[account_id])
            exc = self.auth_failures.get(account_id)
            if isinstance(exc, errors.AuthExpired):  # AuthInvalid was already counted by the token provider
                account._record_auth_failure(exc)
            if account_id in synced:
                account._record_synced()
                _notice_last_sync(account)
            # One account per transaction: two workers finishing overlapping runs never lock each other's
            # account rows in opposite orders (that was a deadlock).
            self.cursors.commit_account()
        for account_id, exc in sorted(self.grants_ended.items()):
            shared_mailbox.record_grant_end(Account.browse(account_id), exc)
            self.cursors.commit_account()
        self.changes_left, self.backfill_left = self._folders_left()
        if self.stored:
            gateway.trigger(self.env)  # new mail may be waiting for Odoo's mail gateway
            body_prefetch.trigger(self.env)  # ... and new Inbox mail for its body to be prefetched

    def summary(self, env):
        """(title, message, type) for the Sync now notification, in the language of ``env``."""
        parts = [env._('%(count)d message(s) stored or updated from %(pages)d page(s).', count=self.stored,
                       pages=self.pages)]
        if self.backfill_left:
            parts.append(env._('Older mail of %(count)d folder(s) is back-filled in the background.',
                               count=self.backfill_left))
        if self.throttled:
            parts.append(env._('Microsoft Graph asked to slow down: sync resumes in a moment.'))
        if self.auth_failures:
            parts.append(env._('Microsoft refused the authorization: see the account.'))
        if self.grants_ended:
            parts.append(env._('A shared mailbox is no longer accessible: see the account.'))
        if self.errors:
            parts.append(env._('Errors: %s', '; '.join(dict.fromkeys(self.errors))))
        failed = self.auth_failures or self.errors or self.grants_ended
        kind = 'danger' if failed else 'warning' if self.throttled else 'success'
        return env._('Sync finished'), ' '.join(parts), kind

    def _folders_left(self):
        """Folders of the run's accounts (not stopped) that a changes run, and a backfill, would still claim."""
        rows = self._claimable(', '.join(f'count(*) FILTER (WHERE {CLAIM_CONDITIONS[mode]})'
                                         for mode in ('changes', 'backfill')))
        return rows[0] if rows else (0, 0)

    def _accounts_with_work(self, mode):
        """The run's accounts (not stopped) with folders ``mode`` would claim, read without a lock."""
        return sorted(row[0] for row in self._claimable('DISTINCT f.account_id', mode))

    def _claimable(self, select, mode=None):
        account_ids = [a for a in self.account_ids if a not in self.excluded]
        if not account_ids:
            return []
        self.env.cr.execute(f"""
            SELECT {select} FROM maildesk_folder f
             WHERE f.sync_enabled AND f.account_id = ANY(%(accounts)s) AND f.id != ALL(%(failed)s)
               AND {CLAIM_CONDITIONS[mode] if mode else 'true'} {self._folder_filter()}
        """, self._folder_params(account_ids))
        return self.env.cr.fetchall()

    def _folder_filter(self):
        return 'AND f.id = ANY(%(only)s)' if self.only_folders is not None else ''

    def _folder_params(self, account_ids):
        return {'accounts': account_ids, 'failed': list(self.failed_folders) + self.skipped_folders,
                'run_start': self.run_start, 'only': self.only_folders}


def _notice_last_sync(account):
    """Tell open inboxes the account's new "last synced" time when this process last did so
    :data:`LAST_SYNC_NOTICE_EVERY` seconds ago or more (the time shown is relative and ticks in the browser): a
    bus message (and a new database connection for its NOTIFY) on every cycle would make every open inbox reload
    for a time that is only displayed. Real changes (new mail, a status, an error) are told at once."""
    key = (account.env.cr.dbname, account.id)
    now = time.monotonic()
    with _last_sync_notices_lock:
        if now - _last_sync_notices.get(key, -LAST_SYNC_NOTICE_EVERY) < LAST_SYNC_NOTICE_EVERY:
            return
        _last_sync_notices[key] = now
    account._maildesk_notify_changed(account)


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def _mark_checked(cr, folder_id):
    """The changes run visited the folder (precise to the microsecond, unlike ORM datetimes)."""
    cr.execute('UPDATE maildesk_folder SET last_checked_at = %s WHERE id = %s', [_utcnow(), folder_id])


def _job_budget(env, budget):
    """Seconds this callback may work: Odoo re-runs a partially done job up to 10 times in one go, and the whole
    job must stay under the server's real-time limit, so the budget is shared by the re-runs of one job run."""
    cron_id, lastcall = env.context.get('cron_id'), env.context.get('lastcall')
    if not cron_id:
        return budget
    key = (env.cr.dbname, cron_id, str(lastcall))
    now = time.monotonic()
    with _job_starts_lock:
        for old in [k for k, started in _job_starts.items() if now - started > 3600]:
            del _job_starts[old]
        started = _job_starts.setdefault(key, now)
    return min(budget, JOB_BUDGET - (now - started))
