"""Push: Graph change notifications make a folder's delta run within seconds; polling stays the safety net.

- :func:`cron_maintain` (hourly, and woken when folders are chosen for sync): one subscription per synced folder of
  every syncable account, renewed before it expires, deleted when the folder stops syncing or push is off.
- :func:`handle_notifications` (the public route, :mod:`controllers.push`): checks each item's subscription id and
  clientState (constant time), ignores unknown ones, never reads resource data, and only *flags* the subscription
  (``delta_requested_at``, coalesced) and wakes the push cron. Lifecycle events flag renewal / re-creation.
- :func:`cron_push_sync`: the delta of the flagged folders only, through :class:`engine.sync_run.SyncRun`.
- :func:`polling_exempt_folder_ids`: folders whose push is healthy are polled only every :data:`SAFETY_INTERVAL`;
  :func:`check_silence` turns push off for a folder whose poll found mail no notification announced.

Why a subscription cannot be made (Odoo not reachable over public HTTPS, a delegated mailbox Microsoft does not
notify for, a failed validation) is kept in ``failure_reason``: the folder keeps polling as before.
"""
import datetime
import hmac
import ipaddress
import logging
import secrets
from urllib.parse import urlsplit

from odoo import fields, modules
from odoo.exceptions import UserError
from odoo.tools import LazyTranslate

from ..graph import errors, subscriptions
from . import connection, feedback, sync_run

_logger = logging.getLogger(__name__)
_lt = LazyTranslate(__name__)

ENABLED_PARAM = 'maildesk.push_enabled'
URL_PARAM = 'maildesk.push_url'           # optional: the public base URL, when it is not web.base.url
NOTIFY_ROUTE = '/maildesk/push/notify'
LIFECYCLE_ROUTE = '/maildesk/push/lifecycle'
PUSH_CRON = 'maildesk.ir_cron_maildesk_push_sync'
MAINTAIN_CRON = 'maildesk.ir_cron_maildesk_push_maintain'
SAFETY_INTERVAL = datetime.timedelta(minutes=30)  # a push-healthy folder is still polled this often
RENEW_BEFORE = datetime.timedelta(days=1)         # renewed by the hourly cron when less than this is left
RETRY_AFTER = datetime.timedelta(hours=1)         # a failed subscription is tried again after this
SILENCE_GRACE = datetime.timedelta(minutes=2)     # mail this old that no notification announced: push is silent
# Graph (or no token) refused: the folder keeps polling; UserError: OAuth no longer configured
REMOTE_FAILURES = (errors.GraphError, UserError)
GONE_STATES = ('not_authorized', 'auth_invalid')  # their subscriptions are deleted (a throttled mailbox keeps them)
REQUEUE_DELAY = datetime.timedelta(seconds=5)     # a flagged folder another worker held is tried again this soon
PUSH_BUDGET = 30                                  # seconds of delta per push cron run
MAX_SUBSCRIPTIONS_PER_REQUEST = 100               # distinct ids looked up for one notification body

REASONS = {
    'disabled': _lt('push is off in Settings'),
    'not_https': _lt('Odoo\'s URL is not public HTTPS, Microsoft cannot reach it'),
    'delegated': _lt('Microsoft does not notify for a shared or delegated mailbox'),
    'removed': _lt('Microsoft removed the subscription, it is created again'),
    'silent': _lt('notifications stopped arriving'),
    'subscribing': _lt('subscribing'),
}


def _reason(env, key):
    """A reason of :data:`REASONS` in the language of ``env`` (crons and the public route have no request lang)."""
    return REASONS[key]._translate(env.lang or 'en_US')


# ------------------------------------------------------------------ settings and URLs

def push_enabled(env):
    return connection.setting_enabled(env, ENABLED_PARAM)


def notification_urls(env):
    """``(notification URL, lifecycle URL)`` on this Odoo, or a reason key of :data:`REASONS` (str) when Microsoft
    could not reach them: Graph only calls public ``https://`` URLs. ``http://`` on a loopback host is accepted
    only with custom endpoints (the emulator), which reach Odoo over loopback."""
    get = env['ir.config_parameter'].sudo().get_param
    base = (get(URL_PARAM) or get('web.base.url') or '').strip().rstrip('/')
    parts = urlsplit(base)
    host = (parts.hostname or '').lower()
    custom = (get('maildesk.cloud') or 'global') == 'custom'
    if not host or parts.scheme not in ('http', 'https'):
        return 'not_https'
    if not custom and (parts.scheme != 'https' or not _public_host(host)):
        return 'not_https'
    if custom and parts.scheme == 'http' and not _loopback_host(host):
        return 'not_https'
    return base + NOTIFY_ROUTE, base + LIFECYCLE_ROUTE


def _loopback_host(host):
    if host == 'localhost':
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _public_host(host):
    if host == 'localhost' or host.endswith(('.localhost', '.local', '.internal', '.lan')) or '.' not in host:
        return False
    try:
        return ipaddress.ip_address(host).is_global
    except ValueError:
        return True  # a DNS name: Microsoft resolves it


# ------------------------------------------------------------------ maintenance (cron)

def trigger_maintain(env):
    """Folders were chosen for sync (or not any more): subscriptions follow soon, when push is on."""
    if push_enabled(env):
        cron = env.ref(MAINTAIN_CRON, raise_if_not_found=False)
        if cron:
            cron.sudo()._trigger()


def cron_maintain(env):
    """Create missing subscriptions, renew expiring ones, delete those no longer needed. One failing mailbox never
    stops the others. :return: dict of counts (created, renewed, deleted, failed)"""
    counts = {'created': 0, 'renewed': 0, 'deleted': 0, 'failed': 0}
    Subscription = env['maildesk.subscription'].sudo()
    now = fields.Datetime.now()
    enabled = push_enabled(env)
    syncable = sync_run.syncable_accounts(env) if enabled else env['maildesk.account']
    for sub in Subscription.search([]):
        folder = sub.folder_id
        if not (enabled and folder.sync_enabled and folder.account_id.state not in GONE_STATES):
            _delete_remote(sub)
            sub.unlink()
            counts['deleted'] += 1
    if not enabled:
        return counts
    urls = notification_urls(env)
    folders = env['maildesk.folder'].sudo().search([('sync_enabled', '=', True), ('account_id', 'in', syncable.ids)])
    existing = {sub.folder_id.id: sub for sub in Subscription.search([('folder_id', 'in', folders.ids)])}
    for folder in folders:
        sub = existing.get(folder.id) or Subscription.create({'folder_id': folder.id})
        reason = urls if isinstance(urls, str) else _delegated(folder.account_id)
        if reason:
            if sub.state != 'failed' or sub.failure_reason != _reason(env, reason):
                _delete_remote(sub)
                _fail(sub, _reason(env, reason), now)
            continue
        if sub.state == 'failed' and (not sub.retry_at or sub.retry_at <= now):
            counts['created' if _create_remote(sub, urls) else 'failed'] += 1
        elif sub.state == 'active' and (sub.expires_at <= now + RENEW_BEFORE or (sub.retry_at and sub.retry_at <= now)):
            counts['renewed' if _renew_remote(sub, urls) else 'failed'] += 1
        else:
            continue
        _commit_folder(env)
    return counts


def _commit_folder(env):
    """Each subscription is saved as soon as Graph made it: a notification for it never waits on the rest of the
    run (its row lock), and a crash later in the run loses no subscription id. Tests run in one transaction."""
    if not modules.module.current_test:
        env.cr.commit()  # pylint: disable=invalid-commit


def _delegated(account):
    # Delegated subscriptions on a shared mailbox can validate and then never deliver (graph-api.md §12,
    # Nine-Minds/alga-psa issue 3411): such a mailbox keeps polling.
    return 'delegated' if account._graph_mailbox() else None


def _create_remote(sub, urls):
    """A new Graph subscription for ``sub``'s folder (a previous one is deleted first). True when push is active."""
    _delete_remote(sub)
    folder = sub.folder_id
    client_state = secrets.token_urlsafe(32)
    try:
        client = folder.account_id._graph_client()
        sub_id, expires = subscriptions.create(client, folder.graph_id, urls[0], urls[1], client_state)
    except REMOTE_FAILURES as exc:
        _logger.info('MailDesk: no push subscription for folder %s: %s', folder.id, _text(exc))
        _fail(sub, _failure_text(sub.env, exc, sub.env._('subscribe to changes of "%s"', folder.name)),
              fields.Datetime.now())
        return False
    sub.write({'graph_subscription_id': sub_id, 'client_state': client_state, 'expires_at': expires,
               'state': 'active', 'failure_reason': False, 'retry_at': False, 'subscribed_at': fields.Datetime.now()})
    return True


def _renew_remote(sub, urls):
    try:
        client = sub.folder_id.account_id._graph_client()
        _sub_id, expires = subscriptions.renew(client, sub.graph_subscription_id)
    except errors.NotFound:
        return _create_remote(sub, urls)  # Graph no longer knows it (expired or removed): a new one
    except REMOTE_FAILURES as exc:
        _logger.info('MailDesk: push subscription of folder %s not renewed: %s', sub.folder_id.id, _text(exc))
        if sub.expires_at <= fields.Datetime.now():
            _fail(sub, _failure_text(sub.env, exc, sub.env._('renew the push subscription')), fields.Datetime.now())
        return False
    sub.write({'expires_at': expires, 'retry_at': False})
    return True


def _delete_remote(sub):
    """Delete the Graph subscription of ``sub`` if it has one; a failure only means it expires by itself."""
    if not sub.graph_subscription_id:
        return
    try:
        subscriptions.delete(sub.folder_id.account_id._graph_client(), sub.graph_subscription_id)
    except REMOTE_FAILURES as exc:
        _logger.info('MailDesk: push subscription of folder %s not deleted (%s): it expires by itself',
                     sub.folder_id.id, _text(exc))
    sub.write({'graph_subscription_id': False, 'client_state': False})


def _text(exc):
    return exc.message if isinstance(exc, errors.GraphError) else str(exc)


def _failure_text(env, exc, what):
    return feedback.graph_error_text(env, exc, what) if isinstance(exc, errors.GraphError) else str(exc)


def _fail(sub, reason, now):
    sub.write({'state': 'failed', 'failure_reason': reason, 'retry_at': now + RETRY_AFTER,
               'graph_subscription_id': False, 'client_state': False, 'expires_at': False})


def drop_subscriptions(accounts):
    """Disconnect or removal of these accounts: their subscriptions are deleted at Graph (while the tokens are still
    there) and here."""
    subs = accounts.env['maildesk.subscription'].sudo().search([('account_id', 'in', accounts.ids)])
    for sub in subs:
        _delete_remote(sub)
    subs.unlink()


# ------------------------------------------------------------------ notifications (the public route)

def handle_notifications(env, body):
    """Act on a notification collection (change or lifecycle items): only flags, never resource data.

    Unknown subscription ids and wrong clientStates are ignored without any write; a burst for one folder sets its
    flag once and wakes the push cron once. :raises subscriptions.InvalidPayload: not a notification body
    :return: number of items accepted
    """
    notices = subscriptions.parse_notifications(body)
    ids = list(dict.fromkeys(notice.subscription_id for notice in notices))[:MAX_SUBSCRIPTIONS_PER_REQUEST]
    if not ids:
        return 0
    env.cr.execute("""SELECT graph_subscription_id, id, client_state FROM maildesk_subscription
                       WHERE state = 'active' AND graph_subscription_id = ANY(%s)""", [ids])
    known = {gid: (sub_id, state) for gid, sub_id, state in env.cr.fetchall()}
    delta, renew, recreate = set(), set(), set()
    accepted = 0
    for notice in notices:
        sub_id, state = known.get(notice.subscription_id, (None, None))
        if not sub_id or not state or not hmac.compare_digest(state.encode(), notice.client_state.encode()):
            continue
        accepted += 1
        if notice.lifecycle_event == 'reauthorizationRequired':
            renew.add(sub_id)
        elif notice.lifecycle_event == 'subscriptionRemoved':
            recreate.add(sub_id)
            delta.add(sub_id)
        else:  # a change, or 'missed': either way the delta of the folder
            delta.add(sub_id)
    if delta:
        # One statement: the flag is set only where it is not yet; last_notification_at is what check_silence reads.
        env.cr.execute("""
            UPDATE maildesk_subscription s
               SET last_notification_at = %(now)s, delta_requested_at = coalesce(s.delta_requested_at, %(now)s)
              FROM (SELECT id, delta_requested_at AS before FROM maildesk_subscription
                     WHERE id = ANY(%(ids)s) ORDER BY id FOR NO KEY UPDATE) old
             WHERE s.id = old.id
         RETURNING old.before IS NULL""", {'now': _utcnow(), 'ids': sorted(delta)})
        if any(newly for (newly,) in env.cr.fetchall()):
            env.ref(PUSH_CRON).sudo()._trigger()
    if renew or recreate:
        # whole seconds: the maintenance cron compares with ORM datetimes
        env.cr.execute('UPDATE maildesk_subscription SET retry_at = %s WHERE id = ANY(%s)',
                       [_utcnow().replace(microsecond=0), sorted(renew | recreate)])
        if recreate:
            env.cr.execute("""UPDATE maildesk_subscription SET state = 'failed', failure_reason = %s,
                                     graph_subscription_id = NULL, client_state = NULL
                               WHERE id = ANY(%s)""", [_reason(env, 'removed'), sorted(recreate)])
        env.ref(MAINTAIN_CRON).sudo()._trigger()
    return accepted


# ------------------------------------------------------------------ the deltas

def cron_push_sync(env):
    """The delta of every flagged folder, and only those. Flags are taken (cleared, committed) first, so a
    notification arriving meanwhile flags the folder again and wakes this cron again.
    :return: the finished SyncRun, or None when nothing was flagged"""
    with env.registry.cursor() as cr:
        cr.execute("""UPDATE maildesk_subscription SET delta_requested_at = NULL
                       WHERE delta_requested_at IS NOT NULL RETURNING folder_id""")
        folder_ids = sorted({row[0] for row in cr.fetchall()})
    if not folder_ids:
        return None
    env.invalidate_all()
    folders = env['maildesk.folder'].sudo().browse(folder_ids).exists()
    with sync_run.SyncRun(folders.account_id, PUSH_BUDGET, folder_ids=folders.ids, syncable_only=True) as run:
        run.run('changes')
    # A folder another worker held (or the budget ran out): flagged again, tried again in a moment.
    # (A folder in its initial round is the backfill's: not flagged again, the round ends in a delta round.)
    env.cr.execute("""SELECT id FROM maildesk_folder WHERE id = ANY(%s) AND sync_enabled
                         AND account_id = ANY(%s) AND id != ALL(%s)
                         AND (next_link IS NULL OR NOT coalesce(round_is_initial, false))
                         AND (last_checked_at IS NULL OR last_checked_at < %s)""",
                   [folders.ids, run.account_ids, list(run.failed_folders), run.run_start])
    left = [row[0] for row in env.cr.fetchall()]
    if left:
        env.cr.execute("""UPDATE maildesk_subscription SET delta_requested_at = %s
                           WHERE folder_id = ANY(%s) AND delta_requested_at IS NULL""", [_utcnow(), left])
        env.ref(PUSH_CRON).sudo()._trigger(fields.Datetime.now() + REQUEUE_DELAY)
    if run.newest_pages or run.backfill_left:
        env.ref(sync_run.BACKFILL_CRON).sudo()._trigger()
    return run


def polling_exempt_folder_ids(env):
    """Folders the "sync changes" cron leaves out now: push is healthy and they were visited within
    :data:`SAFETY_INTERVAL`."""
    if not push_enabled(env):
        return []
    env.cr.execute("""SELECT s.folder_id FROM maildesk_subscription s JOIN maildesk_folder f ON f.id = s.folder_id
                       WHERE s.state = 'active' AND s.expires_at > %(now)s AND f.last_checked_at > %(since)s""",
                   {'now': fields.Datetime.now(), 'since': fields.Datetime.now() - SAFETY_INTERVAL})
    return [row[0] for row in env.cr.fetchall()]


def check_silence(env, run_start):
    """After a poll: a folder with active push where the poll stored mail received more than
    :data:`SILENCE_GRACE` ago that no notification announced goes back to polling (re-subscribed later).
    :return: ids of the subscriptions turned off"""
    env.cr.execute("""
        SELECT s.id FROM maildesk_subscription s
         WHERE s.state = 'active' AND EXISTS (
               SELECT 1 FROM maildesk_message m
                WHERE m.folder_id = s.folder_id AND m.create_date >= %(start)s AND m.received_at < %(old)s
                  AND m.received_at > s.subscribed_at
                  AND (s.last_notification_at IS NULL OR s.last_notification_at < m.received_at))""",
                   {'start': run_start, 'old': run_start - SILENCE_GRACE})
    silent = env['maildesk.subscription'].sudo().browse([row[0] for row in env.cr.fetchall()])
    for sub in silent:
        _logger.info('MailDesk: folder %s got mail without a notification: back to polling', sub.folder_id.id)
        _delete_remote(sub)
        _fail(sub, _reason(env, 'silent'), fields.Datetime.now())
    return silent.ids


def _utcnow():
    # precise to the microsecond and real time, as sync_run's run_start (ORM datetimes drop the microseconds)
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


# ------------------------------------------------------------------ status texts

def folder_status(env, folders):
    """``{folder id: "Push active" | "Polling (why)"}`` for synced folders (others: empty)."""
    subs = {sub.folder_id.id: sub for sub in env['maildesk.subscription'].sudo().search(
        [('folder_id', 'in', folders.ids)])}
    enabled = push_enabled(env)
    out = {}
    for folder in folders:
        sub = subs.get(folder.id)
        if not folder.sync_enabled:
            out[folder.id] = ''
        elif enabled and sub and sub.state == 'active':
            out[folder.id] = env._('Push active')
        else:
            why = sub.failure_reason if enabled and sub and sub.failure_reason else \
                _reason(env, 'disabled' if not enabled else 'subscribing')
            out[folder.id] = env._('Polling (%s)', why)
    return out


def account_status(env, accounts):
    """``{account id: status}``: "Push active" when every synced folder has push, else the first folder's why."""
    out = {}
    for account in accounts:
        synced = account.folder_ids.filtered('sync_enabled')
        texts = list(folder_status(env, synced).values())
        active = env._('Push active')
        if not texts:
            out[account.id] = ''
        elif all(text == active for text in texts):
            out[account.id] = active
        elif any(text == active for text in texts):
            out[account.id] = env._('Push active for %(active)d of %(count)d folders',
                                    active=texts.count(active), count=len(texts))
        else:
            out[account.id] = texts[0]
    return out
