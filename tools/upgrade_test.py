"""Upgrade test: install the previous released MailDesk, fill it with data, ``-u maildesk`` with this code, compare.

1. the previous release is the newest commit (first-parent history) whose ``__manifest__.py`` version differs from
   the working tree's (``--from REV`` picks another one, e.g. the 18.0.1.0.0 layout); its tree is extracted with
   ``git archive`` (no checkout is touched);
2. a throwaway PostgreSQL and the Microsoft emulator start; the old code is installed into a fresh database;
3. with the old code: settings, two users, two mailboxes authorized through the real MSAL flow (one shared),
   incoming servers confirmed, an outgoing server, folders fetched, Inbox + Sent Items synced, a tag on messages,
   a draft; then a snapshot (plain SQL, the same for every version) of what must survive;
4. ``-u maildesk`` with the working tree's code (migrations run), then the snapshot again: it must be equal, the
   token caches must still decrypt and work (Graph ``/me`` with each mailbox), and a sync round must succeed.

Run by ``make test`` as one test (``tools/run_tests.py``); alone: ``python3 tools/upgrade_test.py [--from REV]``.
Needs the git history (a shallow clone: ``git fetch --unshallow``).
"""
import argparse
import ast
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import odoo_env
from odoo_env import REPO, log
from pgcluster import PgCluster, free_port

ERROR_LINE = re.compile(r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ (ERROR|CRITICAL) ')
DB = 'maildesk_upgrade'
OWNER, SHARED = 'upgrade_owner', 'upgrade_shared'
SETTINGS = {'maildesk.backfill_months': '0', 'maildesk.page_size': '25', 'maildesk.body_retention_days': '17',
            'maildesk.permission_level': 'write', 'maildesk.tenant': 'common'}


# ---------------------------------------------------------------------------------------------- the driver


def manifest_version(text):
    return ast.literal_eval(text)['version']


def git(*args):
    return subprocess.run(['git', *args], cwd=REPO, check=True, capture_output=True, text=True).stdout


def previous_release():
    """``(commit, version)``: the newest first-parent commit whose manifest version is not the working tree's."""
    current = manifest_version(open(os.path.join(REPO, '__manifest__.py'), encoding='utf-8').read())
    for commit in git('rev-list', '--first-parent', 'HEAD').split():
        version = manifest_version(git('show', f'{commit}:__manifest__.py'))
        if version != current:
            return commit, version
    sys.exit(f'[maildesk] upgrade test: no commit with a version other than {current} in the git history '
             '(a shallow clone? run: git fetch --unshallow)')


def extract(commit, target):
    """The addon as it was at ``commit``, under ``target/maildesk`` (``git archive``, nothing checked out)."""
    data = subprocess.run(['git', 'archive', '--format=tar', commit], cwd=REPO, check=True,
                          capture_output=True).stdout
    folder = os.path.join(target, 'maildesk')
    os.makedirs(folder)
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        archive.extractall(folder, filter='data')
    return target


def run_odoo(workdir, name, addons, pg, *args):
    """``python -m odoo`` with this run's database and data dir; fails on a non-zero exit or an ERROR line."""
    log_path = os.path.join(workdir, f'{name}.log')
    cmd = [*odoo_env.odoo_command(), f'--addons-path={addons}', *pg.odoo_args(), '-d', DB, '--stop-after-init',
           '--without-demo=all', '--max-cron-threads=0', '--workers=0', f'--http-port={free_port()}',
           f'--data-dir={os.path.join(workdir, "data")}', '--log-level=info', *args]
    with open(log_path, 'w') as log_file:
        proc = subprocess.run(cmd, stdout=log_file, stderr=subprocess.STDOUT, env=odoo_subprocess_env(), check=False)
    errors = [line.rstrip() for line in open(log_path, encoding='utf-8', errors='replace') if ERROR_LINE.match(line)]
    if proc.returncode or errors:
        raise RuntimeError(f'{name}: exit {proc.returncode}; {errors[0] if errors else ""} (log: {log_path})')


def run_phase(workdir, phase, addons, pg, emulator_info):
    """This script in ``--phase`` mode, inside Odoo with ``addons`` (old or new code)."""
    info_path = os.path.join(workdir, 'emulator.json')
    with open(info_path, 'w') as handle:
        json.dump(emulator_info, handle)
    cmd = [sys.executable, os.path.abspath(__file__), '--phase', phase, '--workdir', workdir, '--emulator', info_path,
           '--', f'--addons-path={addons}', *pg.odoo_args(), '-d', DB, f'--data-dir={os.path.join(workdir, "data")}',
           '--max-cron-threads=0', '--workers=0', '--log-level=warn']
    log_path = os.path.join(workdir, f'{phase}.log')
    with open(log_path, 'w') as log_file:
        proc = subprocess.run(cmd, stdout=log_file, stderr=subprocess.STDOUT, env=odoo_subprocess_env(), check=False)
    if proc.returncode:
        tail = open(log_path, encoding='utf-8', errors='replace').read()[-3000:]
        raise RuntimeError(f'{phase} failed (log: {log_path}):\n{tail}')
    return json.load(open(os.path.join(workdir, f'{phase}.json')))


def odoo_subprocess_env():
    odoo_root = odoo_env.find_odoo()
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [odoo_root, os.environ.get('PYTHONPATH')])))


def differences(before, after, path=''):
    """Readable differences between two snapshots (nested dicts / lists)."""
    if isinstance(before, dict) and isinstance(after, dict):
        found = []
        for key in sorted(set(before) | set(after)):
            if key not in after:
                found.append(f'{path}/{key}: lost')
            elif key not in before:
                found.append(f'{path}/{key}: appeared')
            else:
                found += differences(before[key], after[key], f'{path}/{key}')
        return found
    return [] if before == after else [f'{path}: {before!r} -> {after!r}']


def run(base=None):
    """The whole upgrade test; returns a list of problems (empty: passed)."""
    sys.path.append(REPO)
    from emulator.testing import start_emulator

    commit, version = (base, manifest_version(git('show', f'{base}:__manifest__.py'))) if base else previous_release()
    current = manifest_version(open(os.path.join(REPO, '__manifest__.py'), encoding='utf-8').read())
    log(f'upgrade test: {version} ({commit[:10]}) -> {current} (working tree)')
    started = time.time()
    odoo_root = odoo_env.find_odoo()
    os.makedirs(os.path.join(REPO, '.tmp'), exist_ok=True)
    workdir = tempfile.mkdtemp(prefix='upgrade-', dir=os.path.join(REPO, '.tmp'))
    old_addons = extract(commit, os.path.join(workdir, 'old'))
    core = os.path.join(odoo_root, 'addons')
    old_path = ','.join(filter(os.path.isdir, [core, old_addons]))
    new_path = odoo_env.addons_path(odoo_root, workdir)
    problems = []
    emulator = start_emulator(users=2, messages=30, state_dir=os.path.join(workdir, 'emulator'))
    try:
        with PgCluster() as pg:
            run_odoo(workdir, 'install-old', old_path, pg, '-i', 'maildesk')
            before = run_phase(workdir, 'populate', old_path, pg, emulator.info)
            log(f'upgrade test: {version} installed and filled in {time.time() - started:.0f}s '
                f'({len(before["messages"])} messages, {len(before["accounts"])} accounts); upgrading')
            run_odoo(workdir, 'upgrade', new_path, pg, '-u', 'maildesk')
            after = run_phase(workdir, 'verify', new_path, pg, emulator.info)
            problems += differences(before, after['snapshot'])
            problems += after['problems']
    except RuntimeError as exc:
        problems.append(str(exc))
    finally:
        emulator.stop()
    log(f'upgrade test: {len(problems)} problem(s), {time.time() - started:.0f}s (logs in {workdir})')
    for problem in problems[:20]:
        log(f'  {problem}')
    if not problems:
        shutil.rmtree(workdir, ignore_errors=True)
    return problems


# ---------------------------------------------------------------------------------------------- inside Odoo


def odoo_environment(odoo_args):
    import odoo
    from odoo.modules.registry import Registry

    odoo.tools.config.parse_config(odoo_args)
    return Registry(odoo.tools.config['db_name'].split(',')[0])


def snapshot(cr):
    """What an upgrade must keep, read with SQL only (the same query for every version)."""
    def rows(query):
        cr.execute(query)
        names = [column.name for column in cr.description]
        return [dict(zip(names, row, strict=True)) for row in cr.fetchall()]

    def digest(value):
        return value and hashlib.sha256(value.encode()).hexdigest()

    def text(values):
        return {key: value if isinstance(value, (bool, int, type(None))) else str(value)
                for key, value in values.items()}

    snap = {'accounts': {}, 'folders': {}, 'messages': {}, 'drafts': {}, 'tags': {}, 'servers': {}}
    for row in rows("""
            SELECT a.id, a.name, a.email, a.active, a.state, a.sender_name, a.signature::text AS signature,
                   a.is_shared, a.authorized_at, a.last_sync_at, a.signed_in_email, a.entra_object_id,
                   a.entra_tenant_id, a.home_account_id, a.token_cache, u.login AS owner,
                   (SELECT string_agg(s.login, ',' ORDER BY s.login) FROM maildesk_account_shared_user_rel r
                      JOIN res_users s ON s.id = r.user_id WHERE r.account_id = a.id) AS shared_with,
                   (SELECT string_agg(s.login, ',' ORDER BY s.login) FROM maildesk_account_send_user_rel r
                      JOIN res_users s ON s.id = r.user_id WHERE r.account_id = a.id) AS may_send
              FROM maildesk_account a JOIN res_users u ON u.id = a.user_id"""):
        row['token_cache'] = digest(row['token_cache'])
        snap['accounts'][row.pop('email')] = text({k: v for k, v in row.items() if k != 'id'})
    for row in rows("""
            SELECT a.email, f.graph_id, f.name, f.role, f.sync_enabled, f.sync_state, f.synced_count,
                   f.delta_link IS NOT NULL AS has_delta_link, f.total_count
              FROM maildesk_folder f JOIN maildesk_account a ON a.id = f.account_id"""):
        snap['folders'][f'{row.pop("email")}|{row.pop("graph_id")}'] = text(row)
    for row in rows("""
            SELECT a.email, m.graph_id, m.subject, m.is_read, m.flag_status, m.active, m.internet_message_id,
                   m.received_at, m.from_address, m.to_recipients, m.body_preview, m.categories, f.graph_id AS folder,
                   (SELECT string_agg(t.name, ',' ORDER BY t.name) FROM maildesk_message_maildesk_tag_rel r
                      JOIN maildesk_tag t ON t.id = r.maildesk_tag_id WHERE r.maildesk_message_id = m.id) AS tags
              FROM maildesk_message m JOIN maildesk_account a ON a.id = m.account_id
              LEFT JOIN maildesk_folder f ON f.id = m.folder_id"""):
        snap['messages'][f'{row.pop("email")}|{row.pop("graph_id")}'] = text(row)
    for row in rows("""
            SELECT a.email, d.subject, d.state, d.to_emails, d.body_html::text AS body_html, u.login AS author
              FROM maildesk_draft d JOIN maildesk_account a ON a.id = d.account_id
              JOIN res_users u ON u.id = d.user_id"""):
        snap['drafts'][f'{row.pop("email")}|{row.pop("subject")}'] = text(row)
    for row in rows("SELECT t.name, t.color, u.login FROM maildesk_tag t JOIN res_users u ON u.id = t.user_id"):
        snap['tags'][f'{row.pop("login")}|{row.pop("name")}'] = text(row)
    for row in rows("""
            SELECT 'incoming' AS kind, s.name, s.server_type AS type, s.state, s.active, a.email
              FROM fetchmail_server s LEFT JOIN maildesk_account a ON a.id = s.maildesk_account_id
            UNION ALL
            SELECT 'outgoing', s.name, s.smtp_authentication, s.from_filter, s.active, a.email
              FROM ir_mail_server s LEFT JOIN maildesk_account a ON a.id = s.maildesk_account_id"""):
        snap['servers'][f'{row.pop("kind")}|{row.pop("name")}'] = text(row)
    snap['settings'] = {row['key']: row['value'] for row in rows(
        "SELECT key, value FROM ir_config_parameter WHERE key LIKE 'maildesk.%'")}
    return snap


def consent(emulator, auth_uri, mailbox):
    """Sign in at the emulator with auto-consent: the parameters Microsoft posts back to the redirect URI."""
    import requests
    from lxml import html

    emulator.consent('accept', user=mailbox)
    try:
        response = requests.get(auth_uri, allow_redirects=False, verify=emulator.ca_bundle, timeout=60)
    finally:
        emulator.consent(None)
    response.raise_for_status()
    form = html.fromstring(response.text).forms[0]
    return {field.name: field.value for field in form.inputs if field.name and getattr(field, 'type', '') == 'hidden'}


def sync_until_done(registry, env_factory, max_runs=40):
    for _run in range(max_runs):
        with registry.cursor() as cr:
            env_factory(cr)['maildesk.account']._cron_sync_changes()
        with registry.cursor() as cr:
            env_factory(cr)['maildesk.account']._cron_backfill()
        with registry.cursor() as cr:
            cr.execute("SELECT count(*) FROM maildesk_folder WHERE sync_enabled AND sync_state != 'done'")
            if not cr.fetchone()[0]:
                return
    raise RuntimeError('the sync did not finish')


def populate(registry, emulator, workdir):
    """With the previous release's code: the data an upgrade must keep."""
    from odoo import SUPERUSER_ID, Command, api

    def env_of(cr):
        return api.Environment(cr, SUPERUSER_ID, {})

    with registry.cursor() as cr:
        env = env_of(cr)
        ICP = env['ir.config_parameter']
        for key, value in dict(SETTINGS, **{
                'maildesk.client_id': emulator.client_id, 'maildesk.client_secret': emulator.client_secret,
                'maildesk.cloud': 'custom', 'maildesk.authority_url': emulator.base_url,
                'maildesk.graph_url': emulator.graph_url, 'maildesk.ca_bundle': emulator.ca_bundle}).items():
            ICP.set_param(key, value)
        groups = [Command.link(env.ref('base.group_user').id), Command.link(env.ref('maildesk.group_maildesk_user').id)]
        users = {login: env['res.users'].create({'name': login, 'login': login, 'email': f'{login}@example.com',
                                                 'groups_id': groups}) for login in (OWNER, SHARED)}
        for index, email in enumerate(emulator.users):
            account = env['maildesk.account'].create({
                'name': f'Mailbox {index}', 'email': email, 'user_id': users[OWNER].id,
                'sender_name': f'Sender {index}', 'signature': '<p>Regards</p>', 'is_shared': not index,
                'shared_user_ids': [Command.set(users[SHARED].ids)] if not index else []})
            flow = account._start_authorization()
            account._finish_authorization(flow, consent(emulator, flow['auth_uri'], email))
            env['fetchmail.server'].create({'name': f'Outlook {email}', 'server_type': 'maildesk_graph',
                                            'maildesk_account_id': account.id}).button_confirm_login()
            if not index:
                env['ir.mail_server'].create({'name': f'Outlook out {email}', 'smtp_authentication': 'maildesk_graph',
                                              'maildesk_account_id': account.id, 'from_filter': email})
            account.action_fetch_folders()
            account.folder_ids.filtered(lambda folder: folder.role in ('inbox', 'sentitems')).sync_enabled = True
    sync_until_done(registry, env_of)
    with registry.cursor() as cr:
        env = env_of(cr)
        owner = env['res.users'].search([('login', '=', OWNER)])
        as_owner = env(user=owner)
        tag = as_owner['maildesk.tag'].create({'name': 'Upgrade', 'color': 3})
        messages = env['maildesk.message'].search([], limit=3, order='id')
        messages.write({'tag_ids': [Command.link(tag.id)]})
        for account in env['maildesk.account'].search([]):
            as_owner['maildesk.draft'].create({'account_id': account.id, 'subject': f'Kept draft of {account.name}',
                                               'to_emails': 'someone@example.com', 'body_html': '<p>Kept</p>'})
    with registry.cursor() as cr:
        return snapshot(cr)


def verify(registry, workdir):
    """With the working tree's code, after ``-u maildesk``: the snapshot, and what must still work."""
    from odoo import SUPERUSER_ID, api

    def env_of(cr):
        return api.Environment(cr, SUPERUSER_ID, {})

    problems = []
    with registry.cursor() as cr:
        result = {'snapshot': snapshot(cr)}
        env = env_of(cr)
        cr.execute("""SELECT 'maildesk_' || t, count(*) FROM (
                        SELECT 'folder' AS t, f.company_id IS DISTINCT FROM a.company_id AS wrong
                          FROM maildesk_folder f JOIN maildesk_account a ON a.id = f.account_id
                        UNION ALL SELECT 'message', m.company_id IS DISTINCT FROM a.company_id
                          FROM maildesk_message m JOIN maildesk_account a ON a.id = m.account_id
                        UNION ALL SELECT 'draft', d.company_id IS DISTINCT FROM a.company_id
                          FROM maildesk_draft d JOIN maildesk_account a ON a.id = d.account_id) AS x
                      WHERE wrong GROUP BY t""")
        problems += [f'{table}: {count} rows without their account\'s company' for table, count in cr.fetchall()]
        for account in env['maildesk.account'].search([]):
            try:
                mail = account._graph_client().me().get('mail')
            except Exception as exc:  # noqa: BLE001 - reported as the test's finding
                problems.append(f'{account.email}: the token cache no longer works after the upgrade: {exc}')
                continue
            if mail != account.email:
                problems.append(f'{account.email}: Graph /me answered {mail}')
    sync_until_done(registry, env_of)
    with registry.cursor() as cr:
        cr.execute("SELECT email, state, last_error FROM maildesk_account WHERE state != 'connected' OR last_error "
                   "IS NOT NULL")
        problems += [f'{email}: {state} after a sync round on the upgraded database: {error}'
                     for email, state, error in cr.fetchall()]
    result['problems'] = problems
    return result


def phase_main(args, odoo_args):
    sys.path.append(REPO)  # the emulator's client, after everything else (the checkout's folders shadow nothing)
    from emulator.testing import EmulatorHandle

    info = json.load(open(args.emulator))
    emulator = EmulatorHandle(None, info, None, False)
    registry = odoo_environment(odoo_args)
    result = populate(registry, emulator, args.workdir) if args.phase == 'populate' else verify(registry, args.workdir)
    with open(os.path.join(args.workdir, f'{args.phase}.json'), 'w') as handle:
        json.dump(result, handle, indent=1, sort_keys=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--from', dest='base', help='the commit or tag to upgrade from (default: previous release)')
    parser.add_argument('--phase', choices=['populate', 'verify'], help=argparse.SUPPRESS)
    parser.add_argument('--workdir', help=argparse.SUPPRESS)
    parser.add_argument('--emulator', help=argparse.SUPPRESS)
    args, odoo_args = parser.parse_known_args()
    if args.phase:
        phase_main(args, [arg for arg in odoo_args if arg != '--'])
        return 0
    odoo_env.find_odoo()
    odoo_env.ensure_requirements()
    problems = run(args.base)
    print('upgrade test: ' + ('passed' if not problems else f'FAILED ({len(problems)} problems)'), flush=True)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
