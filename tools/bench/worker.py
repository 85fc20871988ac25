"""One measurement inside its own Odoo process: ``python3 worker.py SCENARIO PARAMS_JSON -- <odoo args>``.

The driver (tools/bench.py) starts one such process per measurement, so CPU and memory figures are the Odoo
process's own: CPU is ``time.process_time()`` (user + system of this process, all threads), memory is VmRSS from
/proc/self/status at the start and VmHWM (peak RSS, reset when the phase starts) at the end. Scenarios talk to
the database through the ORM exactly as Odoo's cron workers do (``Registry(db).cursor()``, superuser
environment, commit per unit of work).

The worker speaks to the driver with ``@@BENCH {json}`` lines on stdout: ``{"event": "start", "t": epoch}`` the
instant a timed phase begins (the driver polls the database against it) and ``{"event": "result", ...}`` at the end.
Odoo logs go to the --logfile the driver passes.
"""
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
MARK = '@@BENCH '


def emit(event, **values):
    sys.stdout.write(MARK + json.dumps(dict(values, event=event), default=str) + '\n')
    sys.stdout.flush()


def _status_mib(field):
    with open('/proc/self/status') as fh:
        for line in fh:
            if line.startswith(field + ':'):
                return int(line.split()[1]) / 1024
    return 0.0


def rss_mib():
    return _status_mib('VmRSS')


def reset_peak_rss():
    """Restart this process's peak-RSS counter (VmHWM) at the current RSS (Linux >= 4.0: clear_refs = 5)."""
    try:
        with open('/proc/self/clear_refs', 'w') as fh:
            fh.write('5')
        return True
    except OSError:
        return False


def peak_rss_mib():
    """Peak RSS of this process since start or the last reset. VmHWM, not ru_maxrss: ru_maxrss survives fork
    and exec, so a worker would report its parent's peak (the driver holding the emulator's ground truth)."""
    return _status_mib('VmHWM')


class Meter:
    """Wall time, this process's CPU time and memory of one timed phase."""

    def __init__(self, announce=False, profile=None):
        self.announce = announce
        self.profile = profile  # path: cProfile the phase and dump the stats there
        self._profiler = None

    def __enter__(self):
        reset_peak_rss()
        if self.profile:
            import cProfile
            self._profiler = cProfile.Profile()
        self.rss_start = rss_mib()
        self.peak_before = peak_rss_mib()
        self.cpu0 = time.process_time()
        self.t0 = time.time()
        self.p0 = time.perf_counter()
        if self.announce:
            emit('start', t=self.t0)
        if self._profiler:
            self._profiler.enable()
        return self

    def __exit__(self, *exc):
        if self._profiler:
            self._profiler.disable()
        self.wall = time.perf_counter() - self.p0
        self.cpu = time.process_time() - self.cpu0
        self.peak = peak_rss_mib()
        self.rss_end = rss_mib()
        if self._profiler:
            self._profiler.dump_stats(self.profile)

    def as_dict(self):
        return {'wall_s': round(self.wall, 4), 'cpu_s': round(self.cpu, 4), 'rss_start_mib': round(self.rss_start, 1),
                'rss_end_mib': round(self.rss_end, 1), 'peak_rss_mib': round(self.peak, 1),
                'rss_growth_mib': round(max(self.peak - max(self.rss_start, 0), 0), 1),
                'loadavg_1m_after': round(os.getloadavg()[0], 2)}


def open_env(dbname):
    """Registry + a superuser environment on a fresh cursor (caller closes it)."""
    from odoo import SUPERUSER_ID, api
    from odoo.modules.registry import Registry
    registry = Registry(dbname)
    cr = registry.cursor()
    env = api.Environment(cr, SUPERUSER_ID, {})
    env = env(context=env['res.users'].context_get())
    return registry, cr, env


# -- scenarios ------------------------------------------------------------------------------------------------
def scenario_orm_ceiling(env, params):
    """Odoo's ORM create() of maildesk.message in 1,000-row batches, commit per batch: the ceiling to approach.

    Values are exactly what sync stores: the emulator's seeded messages rendered as Graph delta JSON with sync's
    $select, then mapped by graph.mail.message_values (all prepared before timing).
    """
    batch = params.get('batch', 1000)
    account = env['maildesk.account'].create({'name': 'ORM ceiling', 'email': 'orm@bench.test'})
    folder = env['maildesk.folder'].create({'account_id': account.id, 'graph_id': 'orm-ceiling', 'name': 'Inbox'})
    env.cr.commit()
    values = [dict(vals, account_id=account.id, folder_id=folder.id) for vals in _ceiling_values(env, params)]
    Message = env['maildesk.message']
    with Meter(profile=params.get('profile')) as meter:
        for start in range(0, len(values), batch):
            Message.create(values[start:start + batch])
            env.cr.commit()
            env.invalidate_all()
    stored = Message.search_count([('account_id', '=', account.id)])
    result = dict(meter.as_dict(), rows=stored, batch=batch, fields=len(values[0]),
                  rows_per_s=round(stored / meter.wall, 1))
    result['sql_upsert'] = _fastest_sql_upsert(env, values, batch, params.get('sql_runs', 3))
    return result


def scenario_sql_ceiling(env, params):
    """The bare INSERT reference alone, run just before a size's initial sync: the machine's speed drifts during
    a bench (the emulator's CPU per message, a control, moved by 15 % within one run), so the sync is compared with
    the reference measured next to it."""
    return _fastest_sql_upsert(env, _ceiling_values(env, params), params.get('batch', 1000), params.get('runs', 3))


def _ceiling_values(env, params):
    """Exactly what sync stores: the emulator's seeded messages rendered as Graph delta JSON with sync's $select,
    mapped by graph.mail.message_values (all prepared before timing)."""
    sys.path.insert(0, HERE)
    from dovecot import seeded_inbox

    from odoo.addons.maildesk.graph import mail

    from emulator import render
    fields_ = env['maildesk.message']._fields
    values = []
    for msg in seeded_inbox(REPO, params.get('rows', 10000), params.get('seed', 7)):
        vals = mail.message_values(render.message_json(msg, ['id', *mail.MESSAGE_SELECT], True))
        values.append({k: v for k, v in vals.items() if k in fields_})
    return values


def fastest(runs, rate):
    """The run of several of one measurement with the highest ``rate``, with every run's as ``runs_<rate>``."""
    return dict(max(runs, key=lambda run: run[rate]), **{'runs_' + rate: [run[rate] for run in runs]})


def _fastest_sql_upsert(env, values, batch, runs):
    """A ceiling is a best case: the bare INSERT runs several times (each into a mailbox of its own) and the
    fastest run is the reference; one run alone varied by 25 % between runs of the bench on this shared machine."""
    return fastest([_sql_upsert_ceiling(env, values, batch, attempt) for attempt in range(runs)], 'rows_per_s')


def _sql_upsert_ceiling(env, values, batch, attempt=0):
    """The same rows through one ``INSERT ... ON CONFLICT (account_id, graph_id) DO UPDATE`` per 1,000 (psycopg2
    execute_values): what a store that bypasses the ORM's per-record create() machinery could reach."""
    from psycopg2.extras import execute_values
    account = env['maildesk.account'].create({'name': 'SQL ceiling %d' % attempt, 'email': f'sql{attempt}@bench.test'})
    folder = env['maildesk.folder'].create({'account_id': account.id, 'graph_id': f'sql-ceiling-{attempt}',
                                            'name': 'Inbox'})
    env.cr.commit()
    Message = env['maildesk.message']
    columns = sorted(values[0])
    columns = [c for c in columns if c not in ('account_id', 'folder_id')]
    cols = ['account_id', 'folder_id', 'active', 'create_uid', 'write_uid', 'create_date', 'write_date', *columns]
    update = ', '.join(f'"{c}" = EXCLUDED."{c}"' for c in cols if c not in ('account_id', 'create_uid',
                                                                            'create_date', 'graph_id'))
    sql = (f'INSERT INTO maildesk_message ({", ".join(chr(34) + c + chr(34) for c in cols)}) VALUES %s '
           f'ON CONFLICT (account_id, graph_id) DO UPDATE SET {update}')
    fields_ = Message._fields
    uid = env.uid
    with Meter() as meter:
        for start in range(0, len(values), batch):
            now = env.cr.now()
            rows = [(account.id, folder.id, True, uid, uid, now, now,
                     *(fields_[c].convert_to_column_insert(v.get(c), Message) for c in columns))
                    for v in values[start:start + batch]]
            execute_values(env.cr._obj, sql, rows, page_size=batch)
            env.cr.commit()
    stored = Message.search_count([('account_id', '=', account.id)])
    return dict(meter.as_dict(), rows=stored, rows_per_s=round(stored / meter.wall, 1))


def scenario_imap_fetch(env, params):
    """Odoo 18's own incoming mail server (IMAP) + fetchmail against the local Dovecot, as a user would set it up.

    Without CRM/Helpdesk installed, the mail gateway needs a target model for new threads: the server's
    "Create a New Record" is set to Contact (res.partner), so each mail becomes a contact with the mail in its
    chatter — the same route (message_process → message_new → message_post) crm.lead or helpdesk.ticket take.
    Attachments are kept (the default), the original is not stored (the default).
    """
    model = env['ir.model']._get(params.get('model', 'res.partner'))
    server = imap_incoming_server(env, params, model.model)
    env.cr.commit()
    domain = [('model', '=', model.model), ('message_type', '=', 'email')]
    before = env['mail.message'].search_count(domain)
    with Meter(announce=True, profile=params.get('profile')) as meter:
        server.fetch_mail()
        env.cr.commit()
    env.invalidate_all()
    stored = env['mail.message'].search_count(domain) - before
    return dict(meter.as_dict(), messages=stored, expected=params.get('expected'),
                messages_per_s=round(stored / meter.wall, 2),
                cpu_s_per_1000=round(meter.cpu / max(stored, 1) * 1000, 3), model=model.model)


def imap_incoming_server(env, params, model):
    """Odoo's IMAP incoming server on the local Dovecot (``params``: host / port / user / password), confirmed,
    creating ``model`` records. Also used by tools/bench_gateway.py."""
    server = env['fetchmail.server'].create({
        'name': 'Bench Dovecot', 'server_type': 'imap', 'server': params['host'], 'port': params['port'],
        'is_ssl': False, 'user': params['user'], 'password': params['password'],
        'object_id': env['ir.model']._get_id(model),
    })
    server.button_confirm_login()
    # Odoo's mail-loop protection drops a sender's mail past 20 new records in 120 min; the generated mailbox
    # has a dozen frequent senders, so raise the threshold to let every message in (its check still runs).
    env['ir.config_parameter'].set_param('mail.gateway.loop.threshold', 10 ** 9)
    return server


SCENARIOS = {'orm_ceiling': scenario_orm_ceiling, 'sql_ceiling': scenario_sql_ceiling,
             'imap_fetch': scenario_imap_fetch}


def main():
    args = sys.argv[1:]
    split = args.index('--')
    scenario, params = args[0], json.loads(args[1])
    odoo_args = args[split + 1:]
    sys.path.insert(0, REPO)  # emulator/ (plain Python) for in-process generators
    import odoo
    odoo.tools.config.parse_config(odoo_args, setup_logging=True)
    dbname = odoo.tools.config['db_name']
    if isinstance(dbname, (list, tuple)):
        dbname = dbname[0]
    handler = SCENARIOS.get(scenario)
    if handler is None:
        sys.path.insert(0, HERE)
        import maildesk_scenarios
        handler = maildesk_scenarios.SCENARIOS[scenario]
    _registry, cr, env = open_env(dbname)
    try:
        result = handler(env, params)
        cr.commit()
    finally:
        cr.close()
    emit('result', scenario=scenario, **result)


if __name__ == '__main__':
    main()
