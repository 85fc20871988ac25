"""Measure the sync's batch upsert (``engine.message_batch.MessageBatch``) throughput (messages/s) on a throwaway
PostgreSQL.

    python3 tools/measure_upsert.py [--messages 10000] [--batch 1000] [--profile FILE]

Installs maildesk into a fresh database, renders N realistic delta items with the emulator's own generator and
renderer (the JSON Graph would send for MESSAGE_SELECT), then times, in 1,000-item pages committed one by one
like the sync does: the initial store (create), a replay of the same pages (no-op), and a round where every
message changed (read flag). Also prints the plain ORM ``create()`` ceiling for the same rows. Not part of CI.
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import odoo_env
from odoo_env import REPO, log
from pgcluster import PgCluster


def graph_items(count, seed=1):
    """Delta items as Graph renders them for MailDesk's $select (emulator generator + renderer)."""
    sys.path.insert(0, REPO)
    from emulator import mailstore, render
    from emulator import seed as emu_seed
    from graph.mail import MESSAGE_SELECT
    store = mailstore.Store(seed)
    mbx = emu_seed.build_mailbox(store, 0, seed)
    messages = emu_seed.gen_messages(mbx, random.Random(seed), count)
    store.bulk_insert(mbx, mbx.folders[mbx.wk['inbox']], messages)
    select = render.parse_select(','.join(MESSAGE_SELECT))
    newest_first = sorted(messages, key=lambda m: m.received, reverse=True)
    return [render.message_json(m, select, True, 'html', odata_type=True) for m in newest_first]


def backend_cpu(cr):
    """CPU seconds the PostgreSQL backend serving ``cr`` has used so far (it runs on this machine)."""
    import psutil
    cr.execute('SELECT pg_backend_pid()')
    times = psutil.Process(cr.fetchone()[0]).cpu_times()
    return times.user + times.system


def measure(dbname, args):
    import odoo
    from odoo import SUPERUSER_ID, api
    registry = odoo.modules.registry.Registry(dbname)
    items = graph_items(args.messages)
    pages = [items[i:i + args.batch] for i in range(0, len(items), args.batch)]
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        account = env['maildesk.account'].create({'name': 'bench', 'email': 'bench@example.com'})
        folder = env['maildesk.folder'].create({'account_id': account.id, 'graph_id': 'inbox', 'name': 'Inbox',
                                                'round_number': 1})
        # a few partners whose addresses appear in the messages (links are looked up, never created)
        env['res.partner'].create([{'name': a, 'email': a} for a in ('megan@contoso.test', 'adele@contoso.test')])
        ids = (account.id, folder.id)

    def timed(label, page_list):
        """Wall time and this process's CPU time of the sync's batch upsert (engine/message_batch.py)."""
        from odoo.addons.maildesk.engine.message_batch import MessageBatch
        profiler = None
        if args.profile and label == args.profile_phase:
            import cProfile
            profiler = cProfile.Profile()
            profiler.enable()
        started, cpu, pg_cpu = time.perf_counter(), time.process_time(), 0.0
        for page in page_list:
            with registry.cursor() as cr:
                backend = backend_cpu(cr)
                env = api.Environment(cr, SUPERUSER_ID, {})
                folder = env['maildesk.folder'].browse(ids[1])
                MessageBatch(folder).apply(mail.delta_values(page))
                cr.commit()
                pg_cpu += backend_cpu(cr) - backend
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.profile)
        total = sum(len(p) for p in page_list)
        log(f'{label:<34} {total:>7} messages in {seconds:6.2f}s = {total / seconds:>7.0f}/s wall, '
            f'{total / cpu:>7.0f}/s of Odoo CPU, {pg_cpu / total * 1e6:5.1f} us of PostgreSQL backend CPU per message')
        return total / seconds

    from odoo.addons.maildesk.graph import mail
    started = time.process_time()
    for item in items:
        mail.message_values(item)
    log(f'{"graph.mail.message_values only":<34} {len(items):>7} messages: '
        f'{len(items) / (time.process_time() - started):>7.0f}/s of CPU')
    results = {
        'initial store': timed('initial store', pages),
        'replay (no change)': timed('replay (no change)', pages),
    }
    for item in items:
        item['isRead'] = not item['isRead']
        item['lastModifiedDateTime'] = '2099-01-01T00:00:00Z'
    results['every message changed'] = timed('every message changed', pages)

    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        started = time.perf_counter()
        for n, page in enumerate(pages):
            env['maildesk.message'].create([{'account_id': ids[0], 'folder_id': ids[1], 'graph_id': 'x%d-%s' % (
                n, item['id']), 'subject': item['subject']} for item in page])
            env.flush_all()
        seconds = time.perf_counter() - started
        log(f'{"ORM create() ceiling":<28} {len(items):>7} rows     in {seconds:6.2f}s = '
            f'{len(items) / seconds:>8.0f} rows/s (4 columns)')
        cr.rollback()
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--messages', type=int, default=10000)
    parser.add_argument('--batch', type=int, default=1000)
    parser.add_argument('--profile', help='cProfile one phase into this file')
    parser.add_argument('--profile-phase', default='initial store', help='the phase --profile profiles')
    args = parser.parse_args()
    odoo_root = odoo_env.find_odoo()
    workdir = tempfile.mkdtemp(prefix='maildesk-measure-')
    addons = odoo_env.addons_path(odoo_root, workdir)
    with PgCluster() as pg:
        dbname = 'maildesk_measure'
        common = [f'--addons-path={addons}', *pg.odoo_args(), f'--data-dir={workdir}/filestore']
        log('installing maildesk into a fresh database...')
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [odoo_root, os.environ.get('PYTHONPATH')])))
        subprocess.run([*odoo_env.odoo_command(), *common, '-d', dbname, '-i', 'maildesk', '--stop-after-init',
                        '--without-demo=all', '--log-level=warn', '--max-cron-threads=0'], env=env, check=True)
        sys.path.insert(0, odoo_root)
        import odoo
        odoo.tools.config.parse_config([*common, '--log-level=warn'])
        measure(dbname, args)


if __name__ == '__main__':
    main()
