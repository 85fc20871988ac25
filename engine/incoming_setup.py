"""The incoming-server step of a mailbox's setup: say exactly what to click, do it where the user may.

An account syncs once an Outlook incoming server (``fetchmail.server`` of type ``maildesk_graph``) is Confirmed
(ARCHITECTURE.md, "Accounts, tokens, mail servers"). Incoming servers are Odoo administrators' records
(``base.group_system``): an administrator gets a button that creates and confirms it; anyone else is told whom to
ask. Disconnect puts the servers back to Not Confirmed; the next successful sign-in confirms them again.
"""
from odoo.exceptions import UserError

from . import feedback


def graph_servers(account, confirmed=None):
    servers = account.sudo().fetchmail_server_ids.filtered(lambda s: s.server_type == 'maildesk_graph' and s.active)
    if confirmed is not None:
        servers = servers.filtered(lambda s: (s.state == 'done') == confirmed)
    return servers


def may_manage_servers(env):
    return env.su or env.user.has_group('base.group_system')


def hint(account):
    """What exactly to click when ``account`` has no confirmed incoming server, and who may click it."""
    env = account.env
    drafts = graph_servers(account, confirmed=False)
    if drafts:
        what = env._('The incoming mail server "%(server)s" of this account is Not Confirmed: click "Set Up '
                     'Incoming Server" on the account (it runs Test & Confirm).', server=drafts[0].name)
    else:
        what = env._('No incoming mail server yet: click "Set Up Incoming Server" on the account.')
    if not may_manage_servers(env):
        what += ' ' + env._('Only an Odoo administrator (with Settings access) may do this step: ask one.')
    return what


def set_up(account):
    """Create the account's Outlook incoming server if it has none, and Test & Confirm it (administrators)."""
    env = account.env
    if not may_manage_servers(env):
        raise UserError(env._('Incoming mail servers are set up by an Odoo administrator (with Settings access): '
                              'ask one to open this mailbox account and click "Set Up Incoming Server".'))
    if account.state in ('not_authorized', 'auth_invalid'):
        raise UserError(env._('Click "Authorize Outlook" and sign in first: the incoming server is confirmed with '
                              'that sign-in.'))
    servers = graph_servers(account)
    if not servers:
        servers = env['fetchmail.server'].sudo().create({
            'name': account.name or account.email, 'server_type': 'maildesk_graph',
            'maildesk_account_id': account.id})
    for server in servers.filtered(lambda s: s.state != 'done'):
        server._maildesk_test_and_confirm()
    account._update_connection_state()
    if not account.sudo().folder_ids.filtered('sync_enabled'):
        text = env._('The incoming server is confirmed. Now choose what to sync: click "Fetch Folders", then tick '
                     'Inbox (and Sent Items) in the Folders tab, or open a folder in the inbox and click "Sync this '
                     'folder".')
    else:
        text = env._('The incoming server is confirmed: this mailbox syncs.')
    return feedback.notification(text, 'success', title=env._('Incoming server ready'),
                                 next_action=feedback.SOFT_RELOAD)


def reset_for_disconnect(accounts):
    """Disconnect: confirmed servers go back to Not Confirmed, marked to be confirmed again at the next sign-in (a
    server an administrator left Not Confirmed stays his to confirm)."""
    servers = accounts.sudo().fetchmail_server_ids.filtered(lambda server: server.state == 'done')
    servers.write({'maildesk_reconfirm': True})
    servers.set_draft()


def reconfirm(account):
    """After a new sign-in: Test & Confirm again the servers Disconnect reset (one that fails stays Not Confirmed
    and the chatter says why)."""
    for server in graph_servers(account, confirmed=False).filtered('maildesk_reconfirm'):
        try:
            with account.env.cr.savepoint():
                server._maildesk_test_and_confirm()
        except UserError as exc:
            account.message_post(body=account.env._('The incoming server "%(server)s" stays Not Confirmed: '
                                                    '%(reason)s', server=server.name, reason=str(exc)))
