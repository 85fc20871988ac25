"""Helpers shared by the reliability, security and hostile-input tests (a helper module: it holds no test case)."""
import logging

from .common import committed_env
from .common import emulator_settings as base_emulator_settings


class LogCapture(logging.Handler):
    """Every log record of the process (test and server threads) while installed: ``records``.

    ``with LogCapture() as logs: ...`` then ``logs.errors()`` -- the ERROR/CRITICAL ones, formatted.
    """

    def __init__(self, level=logging.DEBUG):
        super().__init__(level)
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def __enter__(self):
        logging.getLogger().addHandler(self)
        return self

    def __exit__(self, *exc):
        logging.getLogger().removeHandler(self)

    def text(self):
        lines = []
        for record in self.records:
            try:
                lines.append(record.getMessage())
            except Exception:  # noqa: BLE001 - a badly formatted record is not what we test
                lines.append(str(record.msg))
            if record.exc_info:
                lines.append(logging.Formatter().formatException(record.exc_info))
        return '\n'.join(lines)

    def errors(self):
        return ['%s: %s' % (r.name, r.getMessage()) for r in self.records if r.levelno >= logging.ERROR]


def server_state(emulator, email, folder_ids):
    """Ground truth of the emulator for ``folder_ids``:
    {graph id: (folder, isRead, flagStatus, categories, subject)}."""
    truth = {}
    for folder_id, folder in emulator.state(email).items():
        if folder_id in folder_ids:
            for message_id, message in folder['messages'].items():
                truth[message_id] = (folder_id, message['isRead'], message['flagStatus'],
                                     ', '.join(message['categories']) or False, message['subject'] or False)
    return truth


def local_state(cr, account_id):
    """The same shape from the database (active messages of the account), plus the ids stored more than once."""
    cr.execute("""
        SELECT m.graph_id, f.graph_id, m.is_read, m.flag_status, m.categories, m.subject
          FROM maildesk_message m LEFT JOIN maildesk_folder f ON f.id = m.folder_id
         WHERE m.account_id = %s AND m.active
    """, [account_id])
    local = {row[0]: (row[1], bool(row[2]), row[3] or 'notFlagged', row[4] or False, row[5] or False)
             for row in cr.fetchall()}
    cr.execute('SELECT graph_id FROM maildesk_message WHERE account_id = %s GROUP BY graph_id HAVING count(*) > 1',
               [account_id])
    return local, [row[0] for row in cr.fetchall()]


def compare(server, local, duplicates=(), allowed_extra=()):
    """``{'missing', 'extra', 'stale', 'duplicates'}`` counts and examples; all zero means converged."""
    missing = set(server) - set(local)
    extra = set(local) - set(server) - set(allowed_extra)
    stale = {key for key in set(server) & set(local) if server[key] != local[key]}
    return {
        'missing': len(missing), 'extra': len(extra), 'stale': len(stale), 'duplicates': len(duplicates),
        'examples': [(key, server.get(key), local.get(key)) for key in list(missing | extra | stale)[:3]],
    }


def converged(report):
    return not (report['missing'] or report['extra'] or report['stale'] or report['duplicates'])


def emulator_settings(emulator, graph_url=None, **extra):
    """Reliability runs: read-only permission, full pages, the whole mailbox; ``graph_url`` e.g. a hostile proxy."""
    return base_emulator_settings(emulator, **{
        'maildesk.graph_url': graph_url or emulator.graph_url, 'maildesk.permission_level': 'read',
        'maildesk.page_size': 1000, 'maildesk.backfill_months': 0, **extra})


def commit_settings(registry, values):
    """Write system parameters in a committed transaction; returns a function that restores the old values."""
    with committed_env(registry) as env:
        ICP = env['ir.config_parameter']
        previous = {key: ICP.get_param(key) for key in values}
        for key, value in values.items():
            ICP.set_param(key, value)

    def restore():
        with committed_env(registry) as env:
            for key, value in previous.items():
                env['ir.config_parameter'].set_param(key, value or False)
    return restore


def committed_connected_account(case, email, synced):
    """A committed account of ``email``: authorized, a confirmed incoming server, folders fetched, the folders for
    which ``synced(folder)`` is true synced; removed for good when ``case`` ends. Returns its id."""
    with committed_env(case.registry) as env:
        account = env['maildesk.account'].create({'name': email, 'email': email})
        case.authorize_account(account)
        server = env['fetchmail.server'].create({'name': 'Outlook %s' % email, 'server_type': 'maildesk_graph',
                                                 'maildesk_account_id': account.id})
        server.button_confirm_login()
        account.action_fetch_folders()
        for folder in account.folder_ids:
            folder.sync_enabled = bool(synced(folder))
        account_id = account.id
    case.addCleanup(delete_accounts, case.registry, [account_id])
    return account_id


def delete_accounts(registry, account_ids):
    """Remove committed test accounts (and their servers, drafts, attachments, cron triggers) for good."""
    with committed_env(registry) as env:
        accounts = env['maildesk.account'].with_context(active_test=False).browse(account_ids).exists()
        servers = accounts.fetchmail_server_ids
        env['maildesk.draft'].search([('account_id', 'in', accounts.ids)]).unlink()
        env['ir.attachment'].search([('res_model', 'in', ('maildesk.message', 'maildesk.draft'))]).unlink()
        accounts.unlink()
        servers.unlink()
        env.cr.execute("""DELETE FROM ir_cron_trigger WHERE cron_id IN (
            SELECT res_id FROM ir_model_data WHERE module = 'maildesk' AND model = 'ir.cron')""")
