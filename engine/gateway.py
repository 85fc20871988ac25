"""Odoo's mail gateway for Outlook mailboxes: Inbox mail of a Graph incoming server goes through
``mail.thread.message_process`` exactly as ``fetchmail.server.fetch_mail`` sends IMAP mail there (aliases, "Create
a New Record", replies by Message-ID / References, bounces, the loop guard: all Odoo's own code).

What is routed: messages synced into the account's Inbox received since the server's watermark (set when it is
confirmed, or the "Route history since" date), oldest first, a bounded number per run (:data:`ENQUEUE_LIMIT`):
older history is routed progressively as backfill brings it.

Once, and never lost: each message gets one ``maildesk.route`` row, unique on (account, Graph immutable id). A unit
claims one pending row (``FOR UPDATE SKIP LOCKED``), downloads the MIME once (``GET /messages/{id}/$value``), calls
``message_process`` and writes the row's outcome, all in one transaction committed per message: a worker killed
mid-route leaves the row pending and nothing created; the next run routes it. A transaction-level advisory lock on
the Message-ID serializes the same mail delivered twice (two Graph ids, or two gateway mailboxes), so
``message_process``'s own duplicate Message-ID check sees the first one committed.

Entry points: :func:`cron_route` (the gateway cron), :func:`route_server` (Fetch Now), :func:`trigger` (after a sync
run stored messages).
"""
import email.parser
import email.policy
import hashlib
import logging
import time
import zlib

import psycopg2.errors

from odoo import SUPERUSER_ID, api, fields
from odoo.exceptions import UserError

from ..graph import errors
from . import feedback, rules
from .run_cursors import RunCursors

_logger = logging.getLogger(__name__)

GATEWAY_CRON = 'maildesk.ir_cron_maildesk_gateway'
CRON_BUDGET = 50          # seconds of routing per cron callback
FETCH_NOW_BUDGET = 20     # seconds a foreground Fetch Now may route
ENQUEUE_LIMIT = 200       # messages queued per server and run: history goes progressively
TRANSIENT_ATTEMPTS = 5    # a message Graph keeps failing to return becomes an error after this many runs
MESSAGE_ID_LOCK = 0x4D47  # advisory lock namespace (int4) for (namespace, hash of the Message-ID)
# Outlook failures that stop the mailbox for this run (the row stays pending, nothing is counted against it)
MAILBOX_ERRORS = (errors.AuthInvalid, errors.AuthExpired, errors.AccessDenied, errors.Throttled)
# Another transaction won a race: the unit rolls back and the row is routed by a later run
CONCURRENCY_ERRORS = (psycopg2.errors.SerializationFailure, psycopg2.errors.DeadlockDetected,
                      psycopg2.errors.LockNotAvailable)


def gateway_servers(env, server_ids=None):
    """Confirmed, active Graph servers with routing on (of ``server_ids`` if given), as superuser."""
    domain = [('server_type', '=', 'maildesk_graph'), ('state', '=', 'done'), ('maildesk_route_mail', '=', True),
              ('maildesk_account_id', '!=', False)]
    if server_ids is not None:
        domain.append(('id', 'in', list(server_ids)))
    return env['fetchmail.server'].sudo().search(domain)


def trigger(env):
    """Run the gateway cron soon (a sync run stored new messages); nothing when no mailbox routes mail."""
    if gateway_servers(env):
        env.ref(GATEWAY_CRON).sudo()._trigger()


def cron_route(env):
    """MailDesk: mail gateway -- route what arrived in the gateway mailboxes; re-triggers itself while busy."""
    servers = gateway_servers(env)
    if not servers:
        return None
    run = GatewayRun(servers, CRON_BUDGET)
    run.enqueue()
    with run:
        run.run()
    cron = env.ref(GATEWAY_CRON).sudo()
    if run.left:
        cron._trigger()
    cron._notify_progress(done=run.units, remaining=run.left if run.units else 0)
    return run


def route_server(server, budget=FETCH_NOW_BUDGET):
    """Fetch Now: route what this server's mailbox received (after its sync). :return: the finished run"""
    servers = gateway_servers(server.env, server.ids)
    run = GatewayRun(servers, budget)
    if servers:
        run.enqueue()
        with run:
            run.run()
    return run


class GatewayRun:
    """Routing units over some servers within a time budget. A context manager.

    Like a sync run, it keeps one *account cursor* for the Graph clients' token caches (a refreshed token is saved
    there, never in a unit that may roll back), committed when the run ends. Its units run in READ COMMITTED
    (:mod:`.run_cursors`): after the Message-ID lock, the duplicate check sees what other workers committed meanwhile.
    """

    def __init__(self, servers, budget):
        self.registry = servers.env.registry
        self.server_ids = servers.ids
        self.deadline = time.monotonic() + budget
        self.clients = {}       # account id -> GraphClient
        self.excluded = set()   # accounts stopped for this run (throttled, not authorized)
        self.tried = set()      # rows left pending by a transient failure: next run, not again in this one
        self.units = self.routed = self.failed = self.left = 0
        self.errors = []
        self.cursors = RunCursors(self.registry)
        self.env = None

    def __enter__(self):
        self.env = self.cursors.open()
        return self

    def __exit__(self, exc_type, exc, traceback):
        self.cursors.close(commit=exc_type is None)

    # ------------------------------------------------------------------ the loop

    def enqueue(self):
        """Queue what arrived (committed before any routing: a unit dying later never takes the queue with it)."""
        with self.cursors.fresh() as cr:
            for server in gateway_servers(api.Environment(cr, SUPERUSER_ID, {}), self.server_ids):
                enqueue(server)

    def run(self):
        """Route one message per transaction until none is left or the budget is spent."""
        while time.monotonic() < self.deadline:
            if not self._unit():
                break
        with self.cursors.unit() as cr:
            # what this run could have done: not the rows of stopped mailboxes (their cron interval retries them)
            cr.execute("SELECT count(*) FROM maildesk_route WHERE state = 'pending' AND server_id = ANY(%s) "
                       "AND account_id != ALL(%s) AND id != ALL(%s)",
                       [self.server_ids, list(self.excluded), list(self.tried)])
            self.left = cr.fetchone()[0]

    def _unit(self):
        """Claim one pending message and route it in its own transaction. False when nothing is left to claim."""
        claimed = account_id = None
        try:
            with self.cursors.unit() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                route = claim(env, self.server_ids, self.excluded, self.tried)
                if not route:
                    return False
                claimed, account_id = route.id, route.account_id.id
                client = self.clients.get(account_id)
                if client is not None:
                    outcome = route_message(route, client)
                    if outcome == 'pending':
                        self.tried.add(route.id)
                    self.units += 1
                    self.routed += outcome == 'routed'
                    self.failed += outcome == 'error'
            if client is None:
                # first message of this mailbox: its token outside any unit (the unit is left untouched), then
                # claim again
                self._prepare_client(account_id)
            return True
        except CONCURRENCY_ERRORS as exc:
            _logger.info('MailDesk gateway: route %s busy (%s), routed later', claimed, type(exc).__name__)
            self.tried.add(claimed)
            return True
        except MAILBOX_ERRORS as exc:
            _logger.info('MailDesk gateway: account %s stopped for this run: %s', account_id, exc.message)
            self.excluded.add(account_id)
            self.errors.append(feedback.graph_error_text(self.env, exc, self.env._('download the message')))
            return True
        except Exception as exc:
            if claimed is None:
                raise
            # unexpected: the unit rolled back (no record was kept); say why on the row, the others go on
            _logger.exception('MailDesk gateway: route %s failed unexpectedly', claimed)
            self._fail(claimed, self.env._('Unexpected error: %s', exc))
            return True

    def _prepare_client(self, account_id):
        """The mailbox's Graph client, on the account cursor, with a token; else the account is left out."""
        account = self.env['maildesk.account'].browse(account_id)
        try:
            client = account._graph_client()
            client.access_token()
        except (errors.GraphError, UserError) as exc:
            text = exc.message if isinstance(exc, errors.GraphError) else str(exc)
            _logger.info('MailDesk gateway: no token for account %s: %s', account_id, text)
            self.errors.append(text)
            self.excluded.add(account_id)
        else:
            self.clients[account_id] = client
        self.cursors.commit_account()

    def _fail(self, route_id, reason):
        self.failed += 1
        with self.cursors.fresh() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            route = env['maildesk.route'].browse(route_id).exists()
            route.write({'state': 'error', 'reason': reason, 'attempts': route.attempts + 1})


# ------------------------------------------------------------------ queue and claim

def watermark(server):
    """The server's "route from": its "Route history since" date when earlier, else when it was confirmed."""
    since = server.maildesk_route_since or fields.Datetime.now()
    history = server.maildesk_route_history_since
    if history:
        since = min(since, fields.Datetime.to_datetime(history))
    return since


def enqueue(server):
    """Queue the server's Inbox messages received since its watermark and not queued yet (at most
    :data:`ENQUEUE_LIMIT`, oldest first). Messages logged to a record by hand are not routed again."""
    if not server.maildesk_route_since:
        server.with_context(fetchmail_cron_running=True).write({'maildesk_route_since': fields.Datetime.now()})
    cr = server.env.cr
    cr.execute("""
        INSERT INTO maildesk_route (account_id, server_id, message_id, graph_id, internet_message_id, received_at,
                                    state, attempts, create_uid, write_uid, create_date, write_date)
        SELECT m.account_id, %(server)s, m.id, m.graph_id, m.internet_message_id, m.received_at,
               'pending', 0, %(uid)s, %(uid)s, now() at time zone 'UTC', now() at time zone 'UTC'
          FROM maildesk_message m
          JOIN maildesk_folder f ON f.id = m.folder_id AND (f.role = 'inbox' OR f.id = ANY(%(rule_folders)s))
         WHERE m.account_id = %(account)s AND m.active AND m.received_at >= %(since)s
           AND m.res_model IS NULL AND NOT coalesce(m.is_local, false) AND NOT coalesce(m.is_system_mail, false)
           AND NOT coalesce(m.is_draft, false)
           AND NOT EXISTS (SELECT 1 FROM maildesk_route r WHERE r.account_id = m.account_id AND r.graph_id = m.graph_id)
      ORDER BY m.received_at, m.id
         LIMIT %(limit)s
   ON CONFLICT DO NOTHING
    """, {'server': server.id, 'uid': server.env.uid, 'account': server.maildesk_account_id.id,
          'since': watermark(server), 'limit': ENQUEUE_LIMIT,
          'rule_folders': rules.rule_folder_ids(server.maildesk_account_id)})
    return cr.rowcount


def claim(env, server_ids, excluded_accounts=(), tried=()):
    """``SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1``: the oldest pending row no other worker is routing."""
    env.cr.execute("""
        SELECT r.id FROM maildesk_route r
         WHERE r.state = 'pending' AND r.server_id = ANY(%s) AND r.account_id != ALL(%s) AND r.id != ALL(%s)
      ORDER BY r.received_at, r.id
         LIMIT 1
           FOR UPDATE SKIP LOCKED
    """, [list(server_ids), list(excluded_accounts), list(tried)])
    row = env.cr.fetchone()
    return env['maildesk.route'].browse(row[0]) if row else None


# ------------------------------------------------------------------ one message

def route_message(route, client):
    """Route the claimed ``route`` row's message through Odoo's gateway, then apply the mailbox's rules; write the
    outcome on the row (same transaction). :return: the row's new state. Outlook failures of the whole mailbox
    propagate (row untouched)."""
    message = route.message_id
    the_plan = rules.plan(message) if message and not message.res_model else None
    state = _route(route, client, the_plan)
    if the_plan and state in ('routed', 'skipped', 'no_route'):
        rules.apply(message, the_plan, dict(route._fields['state'].selection)[state])
    return state


def _route(route, client, the_plan):
    env = route.env
    message, server = route.message_id, route.server_id
    if not message:
        return _outcome(route, 'skipped', env._('The message was removed from MailDesk before it was routed.'))
    if message.res_model:
        return _outcome(route, 'skipped', env._('The message was logged to a record by hand first.'))
    if route.internet_message_id:
        env.cr.execute('SELECT pg_advisory_xact_lock(%s, %s)',
                       [MESSAGE_ID_LOCK, _int4(zlib.crc32(route.internet_message_id.encode()))])
    try:
        mime = client.get_mime(route.graph_id)
    except errors.NotFound:
        return _outcome(route, 'skipped', env._('The message no longer exists in Outlook.'))
    except MAILBOX_ERRORS:
        raise
    except errors.GraphError as exc:
        reason = feedback.graph_error_text(env, exc, env._('download the message'))
        if isinstance(exc, (errors.Transient, errors.BadResponse)) and route.attempts + 1 < TRANSIENT_ATTEMPTS:
            route.write({'attempts': route.attempts + 1, 'reason': reason})  # tried again next run
            return 'pending'
        return _outcome(route, 'error', reason)

    MailThread = env['mail.thread'].with_context(fetchmail_cron_running=True, default_fetchmail_server_id=server.id)
    message_ids = _message_ids(mime)
    duplicate = _posted_message(env, message_ids)
    model = (the_plan and the_plan['route_model']) or server.object_id.model or False
    try:
        with env.cr.savepoint():
            # fetchmail's call (mail/models/fetchmail.py, fetch_mail); a rule may choose the model and its user
            thread_id = MailThread.message_process(
                model, mime, custom_values=the_plan and rules.custom_values(the_plan, model),
                save_original=server.original, strip_attachments=not server.attach)
    except CONCURRENCY_ERRORS:
        raise
    except ValueError as exc:  # message_route: "No possible route found ..."
        return _outcome(route, 'no_route', env._(
            'No Odoo record to route to: choose "Create a New Record" on the incoming server "%(server)s" or '
            'create an alias for the recipient. (%(detail)s)', server=server.name, detail=exc))
    except Exception as exc:  # any failure of one message is stored on its row, the others go on
        _logger.info('MailDesk gateway: message %s not routed', route.graph_id, exc_info=True)
        return _outcome(route, 'error', env._('Odoo could not process the message: %s', exc))
    if duplicate:
        return _link(route, duplicate, 'skipped', env._('Odoo already has this Message-ID (%s): not routed again.',
                                                       duplicate.message_id))
    posted = _posted_message(env, message_ids)
    if not posted and thread_id and model:
        posted = env['mail.message'].search([('model', '=', model), ('res_id', '=', thread_id)],
                                            order='id desc', limit=1)
    if not posted:
        # message_route returned no route: a bounce (Odoo updated bounce counters) or the loop guard
        return _outcome(route, 'skipped', env._(
            'Odoo\'s gateway created nothing: a bounce, an automatic reply caught by the loop guard, or mail '
            'Odoo ignores (see the server log).'))
    return _link(route, posted, 'routed', False, mime)


def _link(route, posted, state, reason, mime=b''):
    """The MailDesk message and the record point at each other (the Log to record link); the record's files,
    created from the MIME, are the message's downloaded attachments (not stored twice): its inline images carry
    their Content-ID, so opening the body shows them instead of downloading them again (engine.bodies)."""
    message = route.message_id
    if not (posted.model and posted.res_id):  # e.g. a notification Odoo sent to the mailbox: no record to link
        return _outcome(route, state, reason)
    vals = {'res_model': posted.model, 'res_id': posted.res_id}
    files = posted.attachment_ids.filtered(lambda attachment: not message.attachment_ids & attachment)
    if files and state == 'routed':
        vals['attachment_ids'] = [fields.Command.link(attachment.id) for attachment in files]
        content_ids = _inline_content_ids(mime) if mime else {}
        for attachment in files.sudo():
            content_id = content_ids.get((attachment.name, attachment.checksum))
            if content_id and not attachment.maildesk_content_id:
                attachment.maildesk_content_id = content_id
    message.sudo().write(vals)
    message._maildesk_notify_changed(message)
    return _outcome(route, state, reason, posted)


def _outcome(route, state, reason, posted=None):
    vals = {'state': state, 'reason': reason or False, 'attempts': route.attempts + 1,
            'routed_at': fields.Datetime.now()}
    if posted:
        vals.update(res_model=posted.model, res_id=posted.res_id, mail_message_id=posted.id)
    route.write(vals)
    return state


def _inline_content_ids(mime):
    """{(file name, SHA-1 of the bytes): Content-ID} of the MIME's inline parts: the parts ``message_process``
    stores as attachments matched to ``cid:`` (a file name and a Content-ID, mail_thread's
    ``_message_parse_extract_payload``); the SHA-1 is ``ir.attachment.checksum``."""
    parsed = email.parser.BytesParser(policy=email.policy.SMTP).parsebytes(mime)
    found = {}
    for part in parsed.walk():
        if part.is_multipart():
            continue
        content_id = str(part.get('Content-ID') or '').strip().strip('<>').strip()
        name = part.get_filename()
        if content_id and name:
            found[(name, hashlib.sha1(part.get_payload(decode=True) or b'').hexdigest())] = content_id
    return found


def _message_ids(mime):
    """The Message-ID header of the raw MIME (what ``message_parse`` stores as ``mail.message.message_id``)."""
    headers = email.parser.BytesHeaderParser(policy=email.policy.SMTP).parsebytes(mime)
    value = str(headers.get('Message-Id') or '').strip()
    return [value] if value else []


def _posted_message(env, message_ids):
    if not message_ids:
        return env['mail.message']
    return env['mail.message'].sudo().search([('message_id', 'in', message_ids)], order='id', limit=1)


def _int4(value):
    return value - (1 << 32) if value >= (1 << 31) else value
