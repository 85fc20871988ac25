"""Inbox benchmark: does a 50,000-message folder open and page in under 300 ms?

Not part of CI. Own PostgreSQL, maildesk installed into a fresh database, one folder filled with N messages
(realistic mix: a third unread, some flagged, with attachments, tagged, in conversations), then an Odoo server
and two measurements, each repeated (median and worst reported):

* RPC: JSON-RPC ``maildesk.inbox`` calls over HTTP as the web client makes them (first page, middle and last
  page, quick filter, search, conversations, the folder tree, opening a message);
* UI: headless Chromium (Python playwright, /usr/bin/chromium) — from clicking the folder to its first rows on
  screen, and from scrolling to the middle of the folder to those rows on screen.

    python3 tools/bench_inbox.py                 # 50,000 messages
    python3 tools/bench_inbox.py --messages 5000 --repeat 5

Writes ``.bench/bench-inbox-<time>.json`` and prints a table.
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import odoo_env
from odoo_env import REPO, log
from pgcluster import PgCluster, free_port

TARGET_MS = 300
FILL_SQL = """
INSERT INTO maildesk_message (account_id, folder_id, active, graph_id, subject, from_name, from_address,
    to_recipients, received_at, sent_at, body_preview, is_read, flag_status, has_attachments, direction,
    thread_key, importance, create_uid, write_uid, create_date, write_date)
SELECT %(account)s, %(folder)s, true, 'bench-' || g,
    (ARRAY['Quarterly report', 'Invoice', 'Team offsite', 'Release planning', 'Contract renewal'])[1 + g %% 5]
        || ' #' || (g / 4),
    (ARRAY['Ada Lovelace', 'Grace Hopper', 'Alan Turing', 'Katherine Johnson'])[1 + g %% 4],
    (ARRAY['ada@contoso.com', 'grace@fabrikam.com', 'alan@contoso.com', 'katherine@northwind.com'])[1 + g %% 4],
    'Bench <bench@contoso.com>', now() - g * interval '7 minutes', now() - g * interval '7 minutes',
    'Please find the figures attached. Can we meet on Thursday to go through it? Message ' || g,
    g %% 3 <> 0, CASE WHEN g %% 7 = 0 THEN 'flagged' ELSE 'notFlagged' END, g %% 5 = 0, 'incoming',
    'thread-' || (g / 4), 'normal', 1, 1, now(), now()
FROM generate_series(1, %(count)s) AS g
"""
SETUP_PY = """
import json, sys
from odoo.addons.maildesk.tests.inbox_data import make_mailbox
account, folders = make_mailbox(env, 'bench@contoso.com', 'Bench')
env['ir.config_parameter'].sudo().set_param('maildesk.permission_level', 'read')
tag = env['maildesk.tag'].create({'name': 'Customer', 'color': 10})
env.cr.execute(FILL_SQL, {'account': account.id, 'folder': folders['inbox'].id, 'count': COUNT})
env.cr.execute("INSERT INTO maildesk_message_maildesk_tag_rel (maildesk_message_id, maildesk_tag_id) "
               "SELECT id, %s FROM maildesk_message WHERE folder_id = %s AND id %% 11 = 0",
               [tag.id, folders['inbox'].id])
env.cr.execute("UPDATE maildesk_message SET body_html = '<p>' || body_preview || '</p>', body_fetched_at = now() "
               "WHERE folder_id = %s", [folders['inbox'].id])
env.cr.commit()
env.cr.execute('ANALYZE maildesk_message')
print('BENCH ' + json.dumps({'folder': folders['inbox'].id, 'account': account.id}))
"""


def odoo_cmd(pg, addons, db, *extra, command=()):
    return [*odoo_env.odoo_command(), *command, f'--addons-path={addons}', *pg.odoo_args(), '-d', db,
            '--log-level=warn', *extra]


class Rpc:
    def __init__(self, base):
        self.base, self.session = base, requests.Session()
        self.session.post(base + '/web/session/authenticate', json={'params': {
            'db': DB, 'login': 'admin', 'password': 'admin'}}).raise_for_status()

    def call(self, method, args=(), **kwargs):
        started = time.perf_counter()
        response = self.session.post(self.base + '/web/dataset/call_kw', json={'params': {
            'model': 'maildesk.inbox', 'method': method, 'args': list(args), 'kwargs': kwargs}})
        elapsed = (time.perf_counter() - started) * 1000
        body = response.json()
        if 'error' in body:
            raise RuntimeError(body['error'])
        return body['result'], elapsed


def rpc_cases(count, folder):
    view = {'type': 'folder', 'id': folder}
    middle, last = (count // 2) // 50 * 50, (count - 1) // 50 * 50
    return {
        'folder tree': ('maildesk_folder_tree', {}),
        'first page': ('maildesk_list', {'view': view}),
        # scrolling: the client knows the total, later pages are not counted (as the web client asks)
        'middle page': ('maildesk_list', {'view': view, 'offset': middle, 'count': False}),
        'last page': ('maildesk_list', {'view': view, 'offset': last, 'count': False}),
        'unread filter': ('maildesk_list', {'view': view, 'filters': ['unread']}),
        'unread, middle page': ('maildesk_list', {'view': view, 'filters': ['unread'], 'offset': count // 6,
                                                  'count': False}),
        'search from:grace': ('maildesk_list', {'view': view, 'search': 'from:grace'}),
        'search text': ('maildesk_list', {'view': view, 'search': 'Contract'}),
        'all mailboxes': ('maildesk_list', {'view': {'type': 'all'}}),
        'conversations': ('maildesk_list', {'view': view, 'grouped': True}),
        'conversations, middle': ('maildesk_list', {'view': view, 'grouped': True, 'offset': count // 8,
                                                    'count': False}),
    }


def measure_rpc(rpc, count, folder, repeat):
    results = {}
    for name, (method, kwargs) in rpc_cases(count, folder).items():
        rpc.call(method, **kwargs)  # warm
        times = [rpc.call(method, **kwargs)[1] for _ in range(repeat)]
        results[name] = times
    first = rpc.call('maildesk_list', view={'type': 'folder', 'id': folder})[0]['rows'][0]['id']
    results['open a message'] = [rpc.call('maildesk_read', [first])[1] for _ in range(repeat)]
    return results


def measure_ui(base, count, folder, repeat):
    from playwright.sync_api import sync_playwright
    results = {'UI: open the folder': [], 'UI: scroll to the middle': []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=odoo_env.find_chromium() or '/usr/bin/chromium',
                                    args=['--no-sandbox'])
        page = browser.new_page(viewport={'width': 1440, 'height': 900})
        page.goto(base + '/web/login')
        page.fill('input[name=login]', 'admin')
        page.fill('input[name=password]', 'admin')
        page.click('button[type=submit]')
        page.wait_for_selector('.o_main_navbar', timeout=60000)
        page.goto(base + '/odoo/maildesk')
        page.wait_for_selector('.o-maildesk-FolderNode', timeout=60000)
        node = f".o-maildesk-FolderNode[data-folder-id='{folder}'] > .o-maildesk-FolderNode-row"
        other = ".o-maildesk-FolderPane-all"
        middle = count // 2
        for _ in range(repeat + 1):
            page.click(other)
            page.wait_for_selector('.o-maildesk-MessageList-title:has-text("All mailboxes")')
            results['UI: open the folder'].append(page.evaluate(OPEN_JS, [node, count]))
            results['UI: scroll to the middle'].append(page.evaluate(SCROLL_JS, middle))
        browser.close()
    return {k: v[1:] for k, v in results.items()}  # the first round warms the caches


OPEN_JS = """async ([selector, count]) => {
    const started = performance.now();
    document.querySelector(selector).click();
    const label = count.toLocaleString() + ' messages';
    // the title changes at once; the count shows when the folder's first page is in
    while (!(document.querySelector('.o-maildesk-MessageList-title')?.textContent.startsWith('Inbox')
             && document.querySelector('.o-maildesk-MessageList-count')?.textContent.includes(label)
             && document.querySelector(".o-maildesk-MessageList-row[data-index='0']"))) {
        await new Promise(requestAnimationFrame);
    }
    return performance.now() - started;
}"""
SCROLL_JS = """async (index) => {
    const scroller = document.querySelector('.o-maildesk-MessageList-scroller');
    const started = performance.now();
    scroller.scrollTop = index * 76;
    while (!document.querySelector(`.o-maildesk-MessageList-row[data-index='${index}']`)) {
        await new Promise(requestAnimationFrame);
    }
    return performance.now() - started;
}"""
DB = 'maildesk_bench_inbox'


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--messages', type=int, default=50000)
    parser.add_argument('--repeat', type=int, default=10)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the server and the cluster on kill
    odoo_root = odoo_env.find_odoo()
    workdir = os.path.join(REPO, '.bench', 'inbox-run')
    os.makedirs(workdir, exist_ok=True)
    addons = odoo_env.addons_path(odoo_root, workdir)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [odoo_root, os.environ.get('PYTHONPATH')])))
    with PgCluster() as pg:
        log(f'installing maildesk into {DB}')
        subprocess.run(odoo_cmd(pg, addons, DB, '-i', 'maildesk', '--without-demo=all', '--stop-after-init'),
                       check=True, env=env)
        log(f'filling one folder with {args.messages:,} messages')
        script = 'FILL_SQL = %r\nCOUNT = %d\n%s' % (FILL_SQL, args.messages, SETUP_PY)
        out = subprocess.run(odoo_cmd(pg, addons, DB, '--no-http', command=['shell']), input=script, text=True,
                             capture_output=True, env=env, check=False)
        line = next((x for x in out.stdout.splitlines() if x.startswith('BENCH ')), None)
        if not line:
            sys.exit(out.stdout + out.stderr)
        folder = json.loads(line[6:])['folder']
        vacuum(pg)
        port = free_port()
        server = subprocess.Popen(odoo_cmd(pg, addons, DB, f'--http-port={port}', '--max-cron-threads=0',
                                           '--workers=0'), env=env)
        try:
            base = f'http://127.0.0.1:{port}'
            wait_http(base)
            rpc = Rpc(base)
            results = measure_rpc(rpc, args.messages, folder, args.repeat)
            results.update(measure_ui(base, args.messages, folder, max(3, args.repeat // 2)))
        finally:
            server.terminate()
            server.wait(30)
    report(results, args)


def vacuum(pg):
    """What autovacuum does soon after a big sync: the visibility map lets page queries read the index only."""
    import psycopg2
    cnx = psycopg2.connect(host=pg.host, port=pg.port, user=pg.user, dbname=DB)
    cnx.autocommit = True
    with cnx.cursor() as cr:
        cr.execute('VACUUM ANALYZE maildesk_message')
    cnx.close()


def wait_http(base, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if requests.get(base + '/web/login', timeout=5).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise RuntimeError('Odoo did not start')


def report(results, args):
    rows = []
    load = os.getloadavg()
    print(f'\nInbox benchmark: one folder of {args.messages:,} messages (ms; target < {TARGET_MS} ms); '
          f'{os.cpu_count()} CPUs, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}')
    print(f"{'case':<28}{'median':>10}{'worst':>10}")
    for name, times in results.items():
        median, worst = statistics.median(times), max(times)
        rows.append({'case': name, 'median_ms': round(median, 1), 'worst_ms': round(worst, 1),
                     'samples': [round(t, 1) for t in times]})
        flag = '' if worst < TARGET_MS else '  <-- over target'
        print(f'{name:<28}{median:>10.1f}{worst:>10.1f}{flag}')
    os.makedirs(os.path.join(REPO, '.bench'), exist_ok=True)
    path = os.path.join(REPO, '.bench', 'bench-inbox-%s.json' % time.strftime('%Y%m%d-%H%M%S'))
    with open(path, 'w') as fh:
        json.dump({'messages': args.messages, 'target_ms': TARGET_MS, 'cpus': os.cpu_count(),
                   'load_average': load, 'results': rows}, fh, indent=1)
    print(f'\nwritten {path}')


if __name__ == '__main__':
    main()
