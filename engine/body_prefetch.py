"""Body prefetch: the bodies of the messages a user is about to open are fetched in the background, so opening one
is a local read.

Two sources of work, both cheap to record and served by one low-priority cron (``MailDesk: prefetch bodies``):

* a folder whose list a user opened (:func:`request_folder`, called by the inbox list RPC): its newest
  :data:`FOLDER_NEWEST` messages. The request is a timestamp on the folder, written through the user's own record
  rules (a folder he may not read is never marked) and only if no sync unit holds the folder row right now (``SKIP
  LOCKED``: the RPC never waits for Graph, and never for sync);
* newly synced Inbox mail (:func:`trigger`, called when a sync run stored messages): the newest Inbox messages
  received in the last :data:`NEW_MAIL_HOURS` hours whose body is not stored yet.

Bodies come :data:`BATCH_BODIES` to a Graph request: a *serial* ``$batch`` of the reading pane's own GET
(:func:`engine.bodies.body_step`), which takes one of the mailbox's 4 concurrent requests as one plain GET does
(a parallel batch would take all 4 and throttle sync meanwhile: :mod:`graph.batch`). Each body is then stored by
the reading pane's own :func:`engine.bodies.store_body` and committed on its own (a message row is locked only
between the batch's answer and that commit, never across a Graph request).
A run is bounded (:data:`RUN_MESSAGES`, :data:`RUN_SECONDS`), gives way as soon as a sync cron is due (it comes
back :data:`SYNC_WAIT` seconds later), serves only accounts that may sync now, stops an
account at the first throttling or authorization answer (no retry: the folder's request is kept for a later run,
woken when Graph's Retry-After ends), and never prefetches a message older than the body retention window
(``maildesk.body_retention_days``; 0 keeps bodies forever and so allows any age).
"""
import contextlib
import datetime
import logging
import time

import psycopg2.errors

from odoo import SUPERUSER_ID, api, fields
from odoo.exceptions import UserError

from ..graph import batch, errors
from . import bodies
from .mailbox_slots import take_mailbox_slots
from .sending import LOCAL_ID_PREFIX

_logger = logging.getLogger(__name__)

PREFETCH_CRON = 'maildesk.ir_cron_maildesk_prefetch_bodies'
# sync goes first: while one of these is due (or running), a prefetch run stops and lets the cron worker go
SYNC_CRONS = ('maildesk.ir_cron_maildesk_sync_changes', 'maildesk.ir_cron_maildesk_backfill',
              'maildesk.ir_cron_maildesk_push_sync')
FOLDER_NEWEST = 20      # newest messages of an opened folder (the first screen of its list)
NEW_MAIL_HOURS = 48     # Inbox mail received this recently is "new mail"
NEW_MAIL_PER_INBOX = 20
RUN_MESSAGES = 200      # bodies per cron run, all accounts together
BATCH_BODIES = batch.MAX_REQUESTS  # bodies per Graph request (a serial $batch)
RUN_SECONDS = 30        # seconds of work per cron run
REQUEST_DEBOUNCE = 60   # seconds: paging or re-opening a folder this soon records nothing more
THROTTLE_DEFAULT = 30   # seconds, when Graph throttles without saying for how long
SYNC_WAIT = 30          # seconds: a run that gave way to sync comes back this much later (never a busy loop)
# the reader (or a sync page) wrote the same message meanwhile: that body is simply not prefetched this run
BUSY_ERRORS = (psycopg2.errors.SerializationFailure, psycopg2.errors.DeadlockDetected,
               psycopg2.errors.LockNotAvailable, psycopg2.errors.UniqueViolation)


def list_opened(env, view, offset):
    """The inbox list RPC served ``view`` from ``offset``: the first page of a folder requests its prefetch."""
    if not offset and isinstance(view, dict) and view.get('type') == 'folder' and str(view.get('id')).isdigit():
        request_folder(env, int(view['id']))


def request_folder(env, folder_id):
    """The user opened this folder's list: prefetch its newest bodies soon. Cheap, never waits for a lock.

    ``env`` is the user's: the folder is looked up through his record rules, so only a folder he may read is ever
    marked (the cron then works as superuser on marked folders only).
    """
    folder = env['maildesk.folder'].search([('id', '=', int(folder_id))])
    if not folder:
        return False
    env.cr.execute("""
        UPDATE maildesk_folder SET prefetch_requested_at = now() AT TIME ZONE 'UTC'
         WHERE id = (SELECT id FROM maildesk_folder
                      WHERE id = %s AND sync_enabled
                        AND (prefetch_requested_at IS NULL
                             OR prefetch_requested_at < now() AT TIME ZONE 'UTC' - make_interval(secs => %s))
                        FOR NO KEY UPDATE SKIP LOCKED)
    """, [folder.id, REQUEST_DEBOUNCE])
    if not env.cr.rowcount:
        return False  # requested a moment ago, or a sync unit holds the row: the next open asks again
    folder.invalidate_recordset(['prefetch_requested_at'])
    env.ref(PREFETCH_CRON).sudo()._trigger()
    return True


def trigger(env):
    """New mail was stored: run the prefetch soon (it looks for Inbox mail without a body itself)."""
    env.ref(PREFETCH_CRON).sudo()._trigger()


def cron_prefetch(env):
    """MailDesk: prefetch bodies -- requested folders first, then new Inbox mail, within the run's budget."""
    run = PrefetchRun(env)
    run.run()
    if run.throttled:
        wake = fields.Datetime.now() + datetime.timedelta(seconds=min(run.throttled.values()) + 1)
        env.ref(PREFETCH_CRON).sudo()._trigger(wake)
    elif run.yielded or run.busy:
        env.ref(PREFETCH_CRON).sudo()._trigger(fields.Datetime.now() + datetime.timedelta(seconds=SYNC_WAIT))
    elif run.left:
        env.ref(PREFETCH_CRON).sudo()._trigger()
    return run


class PrefetchRun:
    """One bounded prefetch run. Plain Python: it holds per-run state (stopped accounts, counters) of no record."""

    def __init__(self, env, max_messages=RUN_MESSAGES, budget=RUN_SECONDS):
        from .sync_run import syncable_accounts  # sync_run imports this module (its finish() triggers us)
        self.caller_env = env
        self.registry = env.registry
        env.flush_all()  # units use their own cursors (test mode: savepoints of the same connection)
        self.account_ids = set(syncable_accounts(env).ids)
        self.max_messages = max_messages
        self.deadline = time.monotonic() + budget
        self.fetched = 0
        self.failed = 0
        self.left = False            # work remained when the budget ran out
        self.stopped = set()         # accounts stopped for the rest of the run
        self.throttled = {}          # account id -> seconds Graph asked to wait
        self.yielded = False         # stopped because sync was due
        self.busy = set()            # accounts whose mailbox slots sync runs held (any process)
        crons = (env.ref(xmlid, raise_if_not_found=False) for xmlid in SYNC_CRONS)
        self.sync_cron_ids = [cron.id for cron in crons if cron]
        days = env['maildesk.account']._maildesk_settings()['body_retention_days']
        # a body of a message older than the retention window is not what the user is about to open
        self.oldest = fields.Datetime.now() - datetime.timedelta(days=days) if days else None

    def run(self):
        try:
            while self._budget_left():
                claimed = self._claim_requested_folder()
                if not claimed:
                    break
                folder_id, account_id = claimed
                self._prefetch(account_id, self._candidates(folder_id, FOLDER_NEWEST))
                if account_id in self.throttled or account_id in self.busy:
                    self._request_again(folder_id)
            with self._unit() as env:
                inboxes = [(f.id, f.account_id.id) for f in env['maildesk.folder'].search([
                    ('role', '=', 'inbox'), ('sync_enabled', '=', True),
                    ('account_id', 'in', list(self.account_ids))])]
            new_since = fields.Datetime.now() - datetime.timedelta(hours=NEW_MAIL_HOURS)
            for folder_id, account_id in inboxes:
                if not self._budget_left():
                    break
                self._prefetch(account_id, self._candidates(folder_id, NEW_MAIL_PER_INBOX, since=new_since))
        finally:
            self.caller_env.invalidate_all()
        return self

    @contextlib.contextmanager
    def _unit(self):
        """A cursor of its own, committed when the unit ends (the cron's transaction is left alone)."""
        with self.registry.cursor() as cr:
            yield api.Environment(cr, SUPERUSER_ID, {})

    def _budget_left(self):
        if self.fetched + self.failed >= self.max_messages or time.monotonic() >= self.deadline \
                or self._sync_due():
            self.left = True
            return False
        return bool(self.account_ids - self.stopped)

    def _sync_due(self):
        """A sync cron is due or running (Odoo's workers pick jobs by priority only when they look for one: a
        long prefetch run in the only worker would hold sync back). Read without a lock: never in sync's way."""
        if not self.yielded:
            with self._unit() as env:
                env.cr.execute("""
                    SELECT 1 FROM ir_cron c
                     WHERE c.id = ANY(%(ids)s) AND c.active
                       AND (c.nextcall <= %(now)s
                            OR EXISTS (SELECT 1 FROM ir_cron_trigger t WHERE t.cron_id = c.id AND t.call_at <= %(now)s))
                     LIMIT 1""", {'ids': self.sync_cron_ids, 'now': fields.Datetime.now()})
                self.yielded = bool(env.cr.fetchone())
        return self.yielded

    def _claim_requested_folder(self):
        """The oldest request of an account still served, taken off the queue and committed at once: no folder
        row stays locked while bodies are fetched (sync claims folders with ``SKIP LOCKED``, it would skip it)."""
        accounts = list(self.account_ids - self.stopped)
        with self._unit() as env:
            env.cr.execute("""
            UPDATE maildesk_folder SET prefetch_requested_at = NULL
             WHERE id = (SELECT id FROM maildesk_folder
                          WHERE prefetch_requested_at IS NOT NULL AND sync_enabled AND account_id = ANY(%s)
                       ORDER BY prefetch_requested_at, id
                          LIMIT 1
                            FOR NO KEY UPDATE SKIP LOCKED)
         RETURNING id, account_id
            """, [accounts])
            return env.cr.fetchone()

    def _request_again(self, folder_id):
        """Throttled: keep the folder's request for the run woken when the throttling ends (nothing is lost)."""
        with self._unit() as env:
            env.cr.execute("""
                UPDATE maildesk_folder SET prefetch_requested_at = now() AT TIME ZONE 'UTC'
                 WHERE id = (SELECT id FROM maildesk_folder WHERE id = %s FOR NO KEY UPDATE SKIP LOCKED)
                   AND prefetch_requested_at IS NULL
            """, [folder_id])

    def _candidates(self, folder_id, limit, since=None):
        """Ids of those of the folder's ``limit`` newest messages (the first rows of its list) whose body is not
        stored, Outlook's, within the retention window."""
        oldest = max(filter(None, [self.oldest, since]), default=None)
        with self._unit() as env:
            newest = env['maildesk.message'].search([('folder_id', '=', folder_id)],
                                                    order='received_at desc, id desc', limit=limit)
            return [m.id for m in newest if not m.body_fetched_at and not m.graph_id.startswith(LOCAL_ID_PREFIX)
                    and (not oldest or (m.received_at and m.received_at >= oldest))]

    def _prefetch(self, account_id, message_ids):
        pending = list(message_ids)
        while pending:
            if account_id in self.stopped or not self._budget_left():
                if account_id not in self.stopped:
                    self.left = True
                return
            size = min(BATCH_BODIES, self.max_messages - self.fetched - self.failed)
            for message_id, payload in self._fetch_batch(account_id, pending[:size]):
                self._store_one(account_id, message_id, payload)
            pending = pending[size:]

    def _fetch_batch(self, account_id, message_ids):
        """These bodies in one serial ``$batch`` (one of the mailbox's 4 concurrent requests, as one plain GET is:
        a parallel batch would take all 4, and sync's requests would be throttled meanwhile). Returns ``[(message id,
        Graph's message)]`` of those Graph returned; one it left unrun (a 424 after a refusal) is left for later."""
        ids = []
        try:
            with self._unit() as env:
                messages = env['maildesk.message'].browse(message_ids).exists().filtered(
                    lambda message: not message.body_fetched_at)  # opened (fetched) by its reader meanwhile
                ids = messages.ids
                if not messages:
                    return []
                if not take_mailbox_slots(env.cr, account_id, 1):  # held until this unit's transaction ends
                    self.busy.add(account_id)
                    self.stopped.add(account_id)
                    return []
                client = messages.account_id._graph_client()
                results = client.batch([bodies.body_step(message, client) for message in messages], serial=True)
        except (UserError, errors.GraphError) as exc:  # the batch itself (network, auth, settings): the account stops
            self.failed += max(len(ids) - 1, 0)
            self._failed(account_id, ids[0] if ids else None, _graph_cause(exc))
            self.stopped.add(account_id)
            return []
        fetched = []
        for message_id in ids:
            result = results[str(message_id)]
            if result.error is None and isinstance(result.body, dict):
                fetched.append((message_id, result.body))
            elif not isinstance(result.error, errors.NotRun):
                self._failed(account_id, message_id,
                             result.error or errors.BadResponse('Graph returned no message', code='badResponse'))
        return fetched

    def _store_one(self, account_id, message_id, payload):
        """Store one body with the reading pane's own code, committed on its own."""
        try:
            with self._unit() as env:
                message = env['maildesk.message'].browse(message_id).exists()
                if not message or message.body_fetched_at:
                    return  # gone, or opened (fetched) by its reader meanwhile
                bodies.store_body(message, message.account_id._graph_client(), payload)
        except (UserError, errors.GraphError) as exc:
            self._failed(account_id, message_id, _graph_cause(exc))
        except BUSY_ERRORS as exc:
            self.failed += 1
            _logger.info('MailDesk prefetch: message %s busy (%s)', message_id, type(exc).__name__)
        else:
            self.fetched += 1

    def _failed(self, account_id, message_id, cause):
        """One body not prefetched: throttling or an authorization failure stops the account for this run."""
        self.failed += 1
        if isinstance(cause, errors.Throttled):
            self.throttled[account_id] = max(self.throttled.get(account_id, 0), cause.retry_after or THROTTLE_DEFAULT)
            self.stopped.add(account_id)
            _logger.info('MailDesk prefetch: account %s throttled, stopped for this run', account_id)
        elif isinstance(cause, (errors.AuthInvalid, errors.AuthExpired)):
            self.stopped.add(account_id)  # the sync records and reports it
        else:
            _logger.info('MailDesk prefetch: message %s body not fetched (%s)', message_id, type(cause).__name__)


def _graph_cause(exc):
    """The Graph error behind ``exc``: bodies and the token provider say UserError, the Graph error is its context."""
    return exc if isinstance(exc, errors.GraphError) else exc.__context__ or exc
