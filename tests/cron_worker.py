"""A second (third...) Odoo process running MailDesk's sync crons on a database, for the multi-process tests.

    python3 cron_worker.py CONTROL_DIR [--deadline S] -- <odoo options: --addons-path, --db_*, -d, --logfile...>

It loads the registry like an Odoo server, writes ``CONTROL_DIR/ready.<pid>``, waits for ``CONTROL_DIR/go``, then
does what one cron worker does: ``_cron_sync_changes`` then ``_cron_backfill``, each in its own cursor and
transaction, again and again, until ``CONTROL_DIR/stop`` exists (or the deadline). An exception escaping a cron
callback -- what Odoo's cron runner would log as a failed job -- is recorded, not hidden. At the end it writes
``CONTROL_DIR/report.<pid>.json``: ``{pid, iterations, units, stored, run_errors, exceptions}``.
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
    report = {'pid': pid, 'iterations': 0, 'units': 0, 'stored': 0, 'run_errors': [], 'exceptions': []}
    open(os.path.join(control_dir, 'ready.%d' % pid), 'w').close()
    started = time.monotonic()
    while not os.path.exists(os.path.join(control_dir, 'go')):
        if time.monotonic() - started > deadline:
            break
        time.sleep(0.05)
    while not os.path.exists(os.path.join(control_dir, 'stop')) and time.monotonic() - started < deadline:
        report['iterations'] += 1
        done = 0
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


if __name__ == '__main__':
    main()
