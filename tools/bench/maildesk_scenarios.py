"""MailDesk measurements inside an Odoo worker process (see worker.py for the protocol and the meters).

Sync is driven the way a production Odoo drives it: by Odoo's own cron runner, ``ir.cron._process_jobs(db)`` —
what each cron worker thread/process calls when woken — with MailDesk's two crons (``_cron_sync_changes``,
``_cron_backfill``) due at the start and re-triggering themselves (``_trigger``) while work remains. The loop
stops when every synced folder has ended its initial round (a delta link, no next link).
"""
import contextlib
import logging
import random
import statistics
import time
from urllib.parse import parse_qsl, urlsplit

import requests
from worker import Meter

_logger = logging.getLogger('maildesk.bench')
CRONS = ('maildesk.ir_cron_maildesk_sync_changes', 'maildesk.ir_cron_maildesk_backfill')


# -- emulator control (loopback HTTPS, the emulator's own CA) ---------------------------------------------------
def control(emu, method, path, body=None):
    response = requests.request(method, emu['base_url'] + '/_emulator' + path, json=body, verify=emu['ca_bundle'],
                                timeout=300)
    response.raise_for_status()
    return response.json() if response.content else None


def graph_requests(emu):
    """HTTP requests to Graph since the counters were reset (a ``$batch`` is one; its individual requests, which
    count against the mailbox's limits, are in ``by_endpoint``) and the requests by endpoint."""
    counters = control(emu, 'GET', '/counters')
    return counters['total'] - counters.get('in_batches', 0), counters.get('by_endpoint', {})


# -- setup ------------------------------------------------------------------------------------------------------
def scenario_md_setup(env, params):
    """The user's path, not timed: settings, accounts, Authorize Outlook (real MSAL auth-code flow with the
    emulator's auto-consent), a confirmed Graph incoming server, Fetch Folders, Inbox + Sent Items ticked."""
    emu = params['emulator']
    ICP = env['ir.config_parameter']
    for key, value in {
        'maildesk.client_id': emu['client_id'], 'maildesk.client_secret': emu['client_secret'],
        'maildesk.tenant': 'common', 'maildesk.cloud': 'custom', 'maildesk.authority_url': emu['authority'],
        'maildesk.graph_url': emu['graph_url'], 'maildesk.ca_bundle': emu['ca_bundle'],
        'maildesk.permission_level': 'write', 'web.base.url': 'http://localhost:8069',
        # what Settings > MailDesk saves by default; left unset, _int_param(False) gives 0 -> 1 message per page
        'maildesk.page_size': params.get('page_size', 1000),
    }.items():
        ICP.set_param(key, value)
    admin = env.ref('base.user_admin')
    out = []
    for email in params['mailboxes']:
        account = env['maildesk.account'].create({'name': email, 'email': email, 'user_id': admin.id})
        flow = account._start_authorization()
        control(emu, 'POST', '/consent', {'auto': 'accept', 'user': email})
        try:
            answer = requests.get(flow['auth_uri'], allow_redirects=False, verify=emu['ca_bundle'], timeout=60)
        finally:
            control(emu, 'POST', '/consent', {'auto': None, 'user': None})
        account._finish_authorization(flow, _callback_params(answer))
        server = env['fetchmail.server'].create({'name': 'Outlook %s' % email, 'server_type': 'maildesk_graph',
                                                 'maildesk_account_id': account.id})
        server.button_confirm_login()
        account.action_fetch_folders()
        folders = account.folder_ids.filtered(lambda f: f.role in params.get('roles', ('inbox', 'sentitems')))
        folders.write({'sync_enabled': True})
        account._update_connection_state()
        env.cr.commit()
        out.append({'account_id': account.id, 'email': email, 'state': account.state,
                    'folders': {f.role: {'id': f.id, 'graph_id': f.graph_id} for f in folders}})
    return {'accounts': out}


def _callback_params(response):
    """What the identity platform sends back to MailDesk's redirect URI: a redirect (query) or a form_post page
    (tests/common.py's ``html_form`` reads it, as MaildeskCase.callback_params does)."""
    if response.status_code in (301, 302, 303):
        return dict(parse_qsl(urlsplit(response.headers['Location']).query))
    if response.status_code != 200:
        raise RuntimeError('emulator sign-in answered %s: %s' % (response.status_code, response.text[:300]))
    from odoo.addons.maildesk.tests.common import html_form
    return html_form(response.text)[1]


# -- driving sync -----------------------------------------------------------------------------------------------
def _folders_left(cr, account_ids=None):
    cr.execute("""SELECT count(*) FROM maildesk_folder
                   WHERE sync_enabled AND (delta_link IS NULL OR next_link IS NOT NULL)
                     AND (%(ids)s IS NULL OR account_id = ANY(%(ids)s))""", {'ids': account_ids})
    return cr.fetchone()[0]


def _make_crons_due(env):
    crons = env['ir.cron'].browse([env.ref(x).id for x in CRONS])
    env.cr.execute("UPDATE ir_cron SET nextcall = now() AT TIME ZONE 'UTC' - interval '1 second' WHERE id = ANY(%s)",
                   [crons.ids])
    env.cr.commit()


def due_jobs(cr):
    """(cron jobs due now -- scheduled or triggered --, cron runs in progress): what a cron worker would find."""
    cr.execute("""SELECT (SELECT count(*) FROM ir_cron
                            WHERE active AND nextcall <= now() AT TIME ZONE 'UTC')
                       + (SELECT count(*) FROM ir_cron_trigger WHERE call_at <= now() AT TIME ZONE 'UTC'),
                         (SELECT count(*) FROM ir_cron_progress)""")
    return cr.fetchone()


def drain(env, deadline_s=1800, mode='cron'):
    """Run sync until every synced folder is back-filled. ``mode='cron'``: Odoo's cron runner; ``'direct'``: the
    cron callbacks called back to back (what one cron worker does with no scheduling gap). Returns stats."""
    from odoo.modules.registry import Registry

    from odoo.addons.base.models.ir_cron import ir_cron
    dbname = env.cr.dbname
    registry = Registry(dbname)
    stats = {'runner_calls': 0, 'idle_calls': 0, 'forced': 0}
    deadline = time.monotonic() + deadline_s
    last_progress, stalled_since = None, time.monotonic()
    while True:
        with registry.cursor() as cr:
            left = _folders_left(cr)
            cr.execute('SELECT count(*) FROM maildesk_message')
            progress = cr.fetchone()[0]
            cr.execute("SELECT count(*) FROM maildesk_folder WHERE sync_enabled AND sync_state = 'error'")
            failed = cr.fetchone()[0]
        if not left:
            break
        if failed:
            stats['failed_folders'] = failed
            break
        if progress != last_progress:
            last_progress, stalled_since = progress, time.monotonic()
        elif time.monotonic() - stalled_since > 120 or time.monotonic() > deadline:
            stats['stalled'] = True
            break
        stats['runner_calls'] += 1
        if mode == 'cron':
            with registry.cursor() as cr:
                due, runs = due_jobs(cr)
                if not due:
                    # work left but no cron due: production would wait for the next scheduled call
                    stats['forced'] += 1
                    _make_crons_due(_env(cr))
            ir_cron._process_jobs(dbname)
            with registry.cursor() as cr:
                cr.execute('SELECT count(*) FROM ir_cron_progress')
                if cr.fetchone()[0] == runs:
                    # every due job is held by another worker: an Odoo cron worker sleeps until a trigger
                    # wakes it; polling faster would only take CPU from the worker doing the work
                    stats['idle_calls'] += 1
                    time.sleep(1.0)
        else:
            for method in ('_cron_sync_changes', '_cron_backfill'):
                try:
                    with registry.cursor() as cr:
                        getattr(_env(cr)['maildesk.account'], method)()
                except Exception as exc:
                    stats['callback_errors'] = stats.get('callback_errors', 0) + 1
                    stats.setdefault('first_error', '%s: %s' % (type(exc).__name__, str(exc)[:300]))
                    _logger.warning('callback %s failed', method, exc_info=True)
    return stats


def _env(cr, uid=None):
    from odoo import SUPERUSER_ID, api
    return api.Environment(cr, uid or SUPERUSER_ID, {})


def _stored(env, folder_ids):
    env.cr.execute("""SELECT folder_id, count(*) FROM maildesk_message WHERE active AND folder_id = ANY(%s)
                      GROUP BY folder_id""", [list(folder_ids)])
    return dict(env.cr.fetchall())


def scenario_md_initial(env, params):
    """Initial sync, timed from the first cron run until the sync unit that stored the last page ended.

    The cron runner goes on after it with what the sync woke (the body prefetch of the new Inbox mail, then the
    sync's own last look): that work is counted apart (``drain_wall_s``, ``drain_cpu_s``), not as sync time."""
    emu = params['emulator']
    folder_ids = params['folder_ids']
    _make_crons_due(env)
    control(emu, 'POST', '/counters/reset', {})
    statements = _pg_statements(env.cr)
    with recorded_units() as units, Meter(announce=True, profile=params.get('profile')) as meter:
        stats = drain(env, mode=params.get('mode', 'cron'))
    if statements:
        stats['pg_statements'] = statements()
    total, by_endpoint = graph_requests(emu)
    env.invalidate_all()
    stored = _stored(env, folder_ids)
    messages = sum(stored.values())
    timed = meter.as_dict()
    wall = units[-1]['perf'] - meter.p0 if units else meter.wall
    cpu = units[-1]['cpu'] - meter.cpu0 if units else meter.cpu
    timed.update(wall_s=round(wall, 4), cpu_s=round(cpu, 4), drain_wall_s=timed['wall_s'],
                 drain_cpu_s=timed['cpu_s'])
    return dict(timed, **stats, messages=messages, stored_by_folder=stored, requests=total,
                requests_by_endpoint=by_endpoint, messages_per_s=round(messages / wall, 1),
                requests_per_1000=round(total / max(messages, 1) * 1000, 3),
                cpu_s_per_1000=round(cpu / max(messages, 1) * 1000, 4))


@contextlib.contextmanager
def recorded_units():
    """The sync units that stored a page while inside, as they end: ``{start, end}`` (epoch s), ``perf``,
    ``cpu`` (this process's perf_counter / process_time at its end) and ``stored`` (messages)."""
    from odoo.addons.maildesk.engine import sync_run
    units, original_unit = [], sync_run.SyncRun._unit

    def recorded_unit(run, mode, account_ids):
        pages, stored, started = run.pages, run.stored, time.time()
        result = original_unit(run, mode, account_ids)
        if run.pages > pages:
            units.append({'start': started, 'end': time.time(), 'perf': time.perf_counter(),
                          'cpu': time.process_time(), 'stored': run.stored - stored})
        return result
    sync_run.SyncRun._unit = recorded_unit
    try:
        yield units
    finally:
        sync_run.SyncRun._unit = original_unit


def _pg_statements(cr, top=25):
    """When PostgreSQL loads pg_stat_statements (``MAILDESK_PG_OPTIONS="-c shared_preload_libraries=pg_stat_statements
    -c pg_stat_statements.track=all"``, tools/pgcluster.py): reset the statistics and return a function giving the
    ``top`` statements by execution time since then; else None."""
    cr.execute('SHOW shared_preload_libraries')
    if 'pg_stat_statements' not in cr.fetchone()[0]:
        return None
    cr.execute('CREATE EXTENSION IF NOT EXISTS pg_stat_statements')
    cr.execute('SELECT pg_stat_statements_reset()')
    cr.commit()

    def collect():
        cr.execute("""SELECT round(total_exec_time::numeric, 1), calls, rows,
                             left(regexp_replace(query, '\\s+', ' ', 'g'), 300)
                        FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT %s""", [top])
        return [dict(zip(('ms', 'calls', 'rows', 'query'), row, strict=True)) for row in cr.fetchall()]
    return collect


# A no-change cycle is ~20 ms of CPU: the median of 5 moved by 30 % between runs of one commit on this shared
# machine (6.9-10.4 ms per folder), so the median is taken of 15
NOCHANGE_CYCLES = 15
# A 100-change cycle is ~30-50 ms of CPU: its median of 3 moved 35 -> 73 ms between two runs of one commit
CHANGE_REPS = 7


def _one_cycle(registry, emu, profiler=None):
    """One run of the changes cron's callback in a fresh transaction (in ``profiler``, a cProfile.Profile, when
    given); (wall s, cpu s, requests, by endpoint, SQL statements). The statements are counted because they do not
    vary with the machine's load, unlike the CPU."""
    from odoo import sql_db
    control(emu, 'POST', '/counters/reset', {})
    with Meter() as meter, registry.cursor() as cr, profiler or contextlib.nullcontext():
        statements = sql_db.sql_counter
        _env(cr)['maildesk.account']._cron_sync_changes()
        statements = sql_db.sql_counter - statements
    return (meter.wall, meter.cpu, *graph_requests(emu), statements)


def _profile_cycles(registry, emu, path, cycles):
    """cProfile ``cycles`` warm no-change cycles into ``path``, timed in this process's CPU time (the target is
    CPU: a wall-clock profile of a cycle is mostly the database's and the emulator's answers). :return: Python
    function calls per cycle, a count that does not vary with the machine's load"""
    import cProfile
    import pstats
    profiler = cProfile.Profile(time.process_time)
    for _ in range(cycles):
        _one_cycle(registry, emu, profiler)
    profiler.dump_stats(path)
    return round(pstats.Stats(profiler).total_calls / cycles)


def _changes(env, emu, email, inbox_id, count, rng):
    """``count`` server-side changes in Inbox, as other Outlook clients make them: 50 % read/unread, 20 % flags,
    20 % new mail delivered, 10 % deleted (moved to Deleted Items, which is not synced: @removed in Inbox)."""
    n_read, n_flag, n_new = count // 2, count // 5, count // 5
    n_del = count - n_read - n_flag - n_new
    env.cr.execute("""SELECT graph_id, is_read FROM maildesk_message WHERE folder_id = %s AND active
                      ORDER BY id LIMIT 200000""", [inbox_id])
    rows = rng.sample(env.cr.fetchall(), n_read + n_flag + n_del)
    reads, flags, deletes = rows[:n_read], rows[n_read:n_read + n_flag], rows[n_read + n_flag:]
    for is_read in (True, False):
        ids = [gid for gid, read in reads if bool(read) != is_read]
        if ids:
            control(emu, 'POST', '/mutate', {'user': email, 'op': 'update', 'ids': ids,
                                             'fields': {'isRead': is_read}})
    control(emu, 'POST', '/mutate', {'user': email, 'op': 'update', 'ids': [g for g, _r in flags],
                                     'fields': {'flag': 'flagged'}})
    control(emu, 'POST', '/mutate', {'user': email, 'op': 'delete', 'ids': [g for g, _r in deletes]})
    control(emu, 'POST', '/deliver', {'user': email, 'folder': 'inbox', 'count': n_new})
    return {'read': n_read, 'flag': n_flag, 'new': n_new, 'deleted': n_del}


def scenario_md_incremental(env, params):
    """No-change cycles (one warm-up, then ``cycles`` measured) and cycles after 100 server-side changes."""
    from odoo.modules.registry import Registry
    emu = params['emulator']
    registry = Registry(env.cr.dbname)
    folders = params['folder_count']
    cold = _one_cycle(registry, emu)
    warm = [_one_cycle(registry, emu) for _ in range(params.get('cycles', NOCHANGE_CYCLES))]
    if params.get('profile'):  # profile more warm no-change cycles, then stop
        calls = _profile_cycles(registry, emu, params['profile'], NOCHANGE_CYCLES)
        return {'profiled': params['profile'], 'calls_per_cycle': calls}
    nochange = {
        'folders': folders, 'cold_cpu_ms': round(cold[1] * 1000, 2), 'cold_requests': cold[2],
        'requests_per_folder': round(statistics.median(w[2] for w in warm) / folders, 2),
        'cpu_ms_per_folder': round(statistics.median(w[1] for w in warm) * 1000 / folders, 2),
        'wall_ms_per_folder': round(statistics.median(w[0] for w in warm) * 1000 / folders, 2),
        'samples': len(warm), 'cpu_ms_samples': [round(w[1] * 1000, 2) for w in warm],
        'min_cpu_ms_per_folder': round(min(w[1] for w in warm) * 1000 / folders, 2),
        'sql_statements': statistics.median(w[4] for w in warm),
    }
    rng = random.Random(params.get('seed', 1))
    reps = []
    for _ in range(params.get('change_reps', CHANGE_REPS)):
        applied = _changes(env, emu, params['email'], params['inbox_id'], params.get('changes', 100), rng)
        env.cr.commit()
        wall, cpu, req, _endpoints, statements = _one_cycle(registry, emu)
        reps.append({'wall_ms': round(wall * 1000, 2), 'cpu_ms': round(cpu * 1000, 2), 'requests': req,
                     'sql_statements': statements, 'applied': applied})
    changes = {'changes': params.get('changes', 100), 'reps': reps,
               **{key: statistics.median(r[key] for r in reps)
                  for key in ('wall_ms', 'cpu_ms', 'requests', 'sql_statements')}}
    env.invalidate_all()
    return {'nochange': nochange, 'changes': changes,
            'nochange_all_folders': _nochange_all_folders(env, registry, emu, params, nochange)}


def _nochange_all_folders(env, registry, emu, params, two):
    """The no-change cycle again with every folder of the mailbox synced (a mail client's usual choice). A cycle
    costs a part per run (the cron job, the accounts, a token) and a part per folder: with ``two`` (the Inbox +
    Sent Items cycle) the two measurements give both."""
    account = env['maildesk.folder'].browse(params['inbox_id']).account_id
    account.folder_ids.filtered(lambda folder: not folder.sync_enabled).write({'sync_enabled': True})
    env.cr.commit()
    drain(env, mode='direct')  # the added folders' initial rounds (few messages)
    env.invalidate_all()
    folders = len(account.folder_ids.filtered('sync_enabled'))
    _one_cycle(registry, emu)
    warm = [_one_cycle(registry, emu) for _ in range(params.get('cycles', NOCHANGE_CYCLES))]
    cpu_ms = statistics.median(w[1] for w in warm) * 1000
    two_ms = two['cpu_ms_per_folder'] * two['folders']
    per_folder = (cpu_ms - two_ms) / (folders - two['folders']) if folders > two['folders'] else None
    return {'folders': folders, 'samples': len(warm),
            'requests_per_folder': round(statistics.median(w[2] for w in warm) / folders, 2),
            'requests_by_endpoint': [w[3] for w in warm],
            'cpu_ms_per_folder': round(cpu_ms / folders, 2),
            'marginal_cpu_ms_per_folder': per_folder and round(per_folder, 2),
            'per_run_cpu_ms': per_folder and round(two_ms - two['folders'] * per_folder, 2)}


def _percentiles(samples_s):
    ms = sorted(s * 1000 for s in samples_s)
    if not ms:
        return {}
    return {'p50_ms': round(statistics.median(ms), 2), 'p95_ms': round(ms[min(len(ms) - 1, int(0.95 * len(ms)))], 2),
            'max_ms': round(ms[-1], 2), 'samples': len(ms)}


def _open_as_the_inbox(registry, uid, message_id):
    """Open a message as the inbox does, each RPC in its own transaction as an HTTP request would be: the pane's
    ``maildesk_read(mark_read=False)`` (what the user waits for), then -- after the pane shows it -- the separate
    ``maildesk_mark_opened`` of an unread message (a round trip to Outlook nobody waits for).
    Returns (result, pane Meter, mark-read wall s or None)."""
    with Meter() as pane, registry.cursor() as cr:
        result = _env(cr, uid)['maildesk.inbox'].maildesk_read(message_id, mark_read=False)
    if result.get('body_error'):
        raise RuntimeError('open failed: %s' % result['body_error'])
    if result.get('is_read'):
        return result, pane, None
    with Meter() as mark, registry.cursor() as cr:
        _env(cr, uid)['maildesk.inbox'].maildesk_mark_opened(message_id)
    return result, pane, mark.wall


def scenario_md_open(env, params):
    """Open latency: the reading pane's RPC (``maildesk_read`` as the inbox calls it, see
    :func:`_open_as_the_inbox`) on messages whose body was never fetched, as the owner."""
    from odoo.modules.registry import Registry
    emu = params['emulator']
    registry = Registry(env.cr.dbname)
    env.cr.execute("""SELECT id FROM maildesk_message WHERE folder_id = %s AND active AND body_fetched_at IS NULL
                      ORDER BY id""", [params['inbox_id']])
    ids = random.Random(params.get('seed', 2)).sample([r[0] for r in env.cr.fetchall()], params.get('samples', 100))
    admin = env.ref('base.user_admin').id
    control(emu, 'POST', '/counters/reset', {})
    samples, marks, cpu, body_bytes = [], [], 0.0, 0
    for message_id in ids:
        result, meter, mark_s = _open_as_the_inbox(registry, admin, message_id)
        samples.append(meter.wall)
        marks += [mark_s] if mark_s is not None else []
        cpu += meter.cpu
        body_bytes += len(result.get('body_html') or '')
    total, by_endpoint = graph_requests(emu)
    return dict(_percentiles(samples), mark_read=_percentiles(marks), cpu_ms_mean=round(cpu / len(ids) * 1000, 2),
                requests_per_open=round(total / len(ids), 2), requests_by_endpoint=by_endpoint,
                body_bytes_mean=round(body_bytes / len(ids)))


def scenario_md_inbox(env, params):
    """The inbox list RPC (``maildesk_list``) on a folder: open (first page) and next pages, each call in its
    own transaction as the owner; also the unified Inbox view and the conversation-grouped list."""
    from odoo.modules.registry import Registry
    registry = Registry(env.cr.dbname)
    admin = env.ref('base.user_admin').id
    view = {'type': 'folder', 'id': params['inbox_id']}

    def call(**kw):
        with Meter() as meter, registry.cursor() as cr:
            result = _env(cr, admin)['maildesk.inbox'].maildesk_list(**kw)
        return meter.wall, result

    call(view=view)  # warm the registry caches once, as a running server has them
    opens, pages, grouped, unified, total = [], [], [], [], 0
    for _ in range(params.get('reps', 10)):
        wall, result = call(view=view)
        opens.append(wall)
        total = result['total']
    for page in range(1, params.get('pages', 20) + 1):
        pages.append(call(view=view, offset=page * 50)[0])
    for _ in range(params.get('reps', 10)):
        unified.append(call(view={'type': 'all'})[0])
        grouped.append(call(view=view, grouped=True)[0])
    open_p, page_p = _percentiles(opens), _percentiles(pages)
    return {'folder_total': total, 'open_ms_p50': open_p['p50_ms'], 'open_ms_p95': open_p['p95_ms'],
            'page_ms_p50': page_p['p50_ms'], 'page_ms_p95': page_p['p95_ms'],
            'unified_ms_p95': _percentiles(unified)['p95_ms'], 'grouped_ms_p95': _percentiles(grouped)['p95_ms']}


def scenario_md_open_prefetch(env, params):
    """Open latency with and without body prefetch: the owner opens the Inbox list (which queues its prefetch),
    the prefetch cron's callback runs once, then ``maildesk_read`` (as the inbox calls it) opens the prefetched
    messages and as many never-fetched ones, each in its own transaction."""
    from odoo.modules.registry import Registry

    from odoo.addons.maildesk.engine import body_prefetch
    emu = params['emulator']
    registry = Registry(env.cr.dbname)
    admin = env.ref('base.user_admin').id
    with registry.cursor() as cr:
        _env(cr, admin)['maildesk.inbox'].maildesk_list(view={'type': 'folder', 'id': params['inbox_id']})
        # retention 0 keeps bodies: the seed's newest messages span months, the default 30 days would leave few
        _env(cr)['ir.config_parameter'].set_param('maildesk.body_retention_days', 0)
        # between two sync runs (the prefetch gives way to a due sync cron): the drain left them due
        cr.execute("""UPDATE ir_cron SET nextcall = now() AT TIME ZONE 'UTC' + interval '1 hour'
                       WHERE id = ANY(%(ids)s); DELETE FROM ir_cron_trigger WHERE cron_id = ANY(%(ids)s)""",
                   {'ids': [_env(cr).ref(xmlid).id for xmlid in body_prefetch.SYNC_CRONS]})
    control(emu, 'POST', '/counters/reset', {})
    with Meter() as meter, registry.cursor() as cr:
        run = body_prefetch.cron_prefetch(_env(cr))
    prefetch_requests, _by_endpoint = graph_requests(emu)
    with registry.cursor() as cr:  # a fresh snapshot: the prefetch committed in its own cursors
        cr.execute("""SELECT id, body_fetched_at IS NOT NULL FROM maildesk_message
                       WHERE folder_id = %s AND active ORDER BY id""", [params['inbox_id']])
        rows = cr.fetchall()
    prefetched = [mid for mid, fetched in rows if fetched]
    with registry.cursor() as cr:  # warm the registry caches once, as a running server has them (not timed)
        _env(cr, admin)['maildesk.inbox'].maildesk_read(prefetched.pop())
    cold = random.Random(params.get('seed', 2)).sample([mid for mid, fetched in rows if not fetched],
                                                       max(len(prefetched), params.get('samples', 20)))
    out = {'prefetch_run': {'fetched': run.fetched, 'failed': run.failed, 'wall_s': round(meter.wall, 3),
                            'cpu_s': round(meter.cpu, 3), 'requests': prefetch_requests}}
    # the same prefetched messages again, now read: no mark-read PATCH to Outlook, the local read alone
    for key, ids in (('prefetched', prefetched), ('not_prefetched', cold), ('prefetched_read', prefetched)):
        control(emu, 'POST', '/counters/reset', {})
        samples, marks = [], []
        for message_id in ids:
            _result, one, mark_s = _open_as_the_inbox(registry, admin, message_id)
            samples.append(one.wall)
            marks += [mark_s] if mark_s is not None else []
        total, by_endpoint = graph_requests(emu)
        out[key] = dict(_percentiles(samples), mark_read=_percentiles(marks),
                        requests_per_open=round(total / max(len(ids), 1), 2),
                        requests_by_endpoint=by_endpoint)
    return out


SCENARIOS = {name[len('scenario_'):]: fn for name, fn in globals().items() if name.startswith('scenario_')}
