"""A second (third...) Odoo process running MailDesk's sync crons on a database, for the multi-process tests.

    python3 cron_worker.py CONTROL_DIR [--deadline S] [--odoo-cron] -- <odoo options: --addons-path, --db_*, -d...>

It loads the registry like an Odoo server, writes ``CONTROL_DIR/ready.<pid>``, waits for ``CONTROL_DIR/go``, then
does what one cron worker does: ``_cron_sync_changes`` then ``_cron_backfill``, each in its own cursor and
transaction, again and again, until ``CONTROL_DIR/stop`` exists (or the deadline). An exception escaping a cron
callback -- what Odoo's cron runner would log as a failed job -- is recorded, not hidden. With ``--odoo-cron`` it
runs Odoo's own cron runner instead (``ir.cron._process_jobs``, what a cron worker thread calls when woken): the
jobs due, one cron record at a time, as a server with one cron thread would. At the end it writes
``CONTROL_DIR/report.<pid>.json``: ``{pid, iterations, units, stored, run_errors, exceptions, unit_log}``;
``unit_log`` lists each sync unit that stored a page: ``[start, end, mode, cron id or null, messages stored]``.
Not a test module: nothing imports it.
"""
import json
import os
import sys
import time
import traceback


def main():
    args = sys.argv[1:]
    split = args.index('--')
    control_dir, options, odoo_args = args[0], args[1:split], args[split + 1:]
    deadline = float(options[options.index('--deadline') + 1]) if '--deadline' in options else 300.0
    import odoo
    from odoo import SUPERUSER_ID, api
    from odoo.modules.registry import Registry
    odoo.tools.config.parse_config(odoo_args, setup_logging=True)
    dbname = odoo.tools.config['db_name']
    dbname = dbname[0] if isinstance(dbname, (list, tuple)) else dbname
    registry = Registry(dbname)
    pid = os.getpid()
    report = {'pid': pid, 'iterations': 0, 'units': 0, 'stored': 0, 'run_errors': [], 'exceptions': [],
              'unit_log': []}
    record_units(report['unit_log'])
    open(os.path.join(control_dir, 'ready.%d' % pid), 'w').close()
    started = time.monotonic()
    while not os.path.exists(os.path.join(control_dir, 'go')):
        if time.monotonic() - started > deadline:
            break
        time.sleep(0.05)
    while not os.path.exists(os.path.join(control_dir, 'stop')) and time.monotonic() - started < deadline:
        report['iterations'] += 1
        done = 0
        if '--odoo-cron' in options:
            from odoo.addons.base.models.ir_cron import ir_cron
            logged = len(report['unit_log'])
            ir_cron._process_jobs(dbname)  # logs and swallows what a job raises, as the server does
            done = len(report['unit_log']) - logged
            report['units'] += done
            report['stored'] += sum(unit[4] for unit in report['unit_log'][logged:])
            if not done:
                time.sleep(0.2)
            continue
        for method in ('_cron_sync_changes', '_cron_backfill'):
            try:
                with registry.cursor() as cr:
                    run = getattr(api.Environment(cr, SUPERUSER_ID, {})['maildesk.account'], method)()
                if run is not None:
                    done += run.units
                    report['stored'] += run.stored
                    report['run_errors'] += run.errors
            except Exception:  # noqa: BLE001 - what the cron runner would report as a failed job
                report['exceptions'].append(traceback.format_exc())
        report['units'] += done
        if not done:
            time.sleep(0.2)
    with open(os.path.join(control_dir, 'report.%d.json' % pid), 'w') as fh:
        json.dump(report, fh)


def record_units(unit_log):
    """Log every sync unit of this process that stored a page (when, which run mode, which cron record)."""
    from odoo.addons.maildesk.engine import sync_run
    original = sync_run.SyncRun._unit

    def unit(run, mode, account_ids):
        pages, stored, started = run.pages, run.stored, time.time()
        result = original(run, mode, account_ids)
        if run.pages > pages:
            unit_log.append([started, time.time(), mode, run.caller_env.context.get('cron_id'), run.stored - stored])
        return result
    sync_run.SyncRun._unit = unit


if __name__ == '__main__':
    main()
