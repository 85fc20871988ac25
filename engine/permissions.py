"""MailDesk's permission model, the part record rules cannot say (SECURITY.md, "Permission model").

Record rules decide who reads and who writes a mailbox account at all (reading: its owner and, while it is
shared, the users it is shared with; writing, deleting, sharing: its owner and MailDesk managers). The guards
here are called by the models' ``create`` / ``write`` / ``unlink`` and buttons for what depends on the field or
the action: an account an administrator's mail server is bound to keeps its address and owner unless a system
administrator changes them; the sharing lists stay consistent; sending from a mailbox is a grant of its own; a
message only takes tags its user may change.
"""
from odoo import Command
from odoo.exceptions import AccessError

# Fields of an account bound to an administrator's mail server that only system administrators change: with them
# the owner could point Odoo's own mail (password resets included) at a mailbox of their choosing.
SERVER_LOCKED_FIELDS = ('email', 'user_id', 'company_id')
BINDING_MODELS = ('fetchmail.server', 'ir.mail_server')


def is_system(env):
    return env.su or env.user.has_group('base.group_system')


def is_manager(env):
    return env.su or env.user.has_group('maildesk.group_maildesk_manager')


def bound_accounts(accounts):
    """The accounts an incoming or outgoing mail server (an administrator's record) is bound to."""
    bound = accounts.browse()
    for model in BINDING_MODELS:
        servers = accounts.env[model].sudo().with_context(active_test=False).search(
            [('maildesk_account_id', 'in', accounts.ids)])
        bound |= accounts.browse(servers.maildesk_account_id.ids)
    return bound


def check_status_fields(env, vals, status_fields):
    """An account's status is written by MailDesk only (``_write_status``, sudo): a user's write of it is refused."""
    forbidden = status_fields.intersection(vals)
    if forbidden:
        raise AccessError(env._('The status of a mailbox account is managed by MailDesk (%(fields)s).',
                                fields=', '.join(sorted(forbidden))))


def check_account_write(accounts, vals):
    """Refuse a change of address or owner of a server-bound account to everyone but system administrators."""
    locked = [name for name in SERVER_LOCKED_FIELDS if name in vals]
    if not locked or is_system(accounts.env):
        return
    changed = accounts.filtered(lambda account: any(_differs(account, name, vals[name]) for name in locked))
    if bound_accounts(changed):
        raise AccessError(accounts.env._(
            'A mail server of the administrator sends or receives through this mailbox account: only a system '
            'administrator can change its address or its owner.'))


def check_account_unlink(accounts):
    if not is_system(accounts.env) and bound_accounts(accounts):
        raise AccessError(accounts.env._(
            'A mail server of the administrator uses this mailbox account: only a system administrator can delete '
            'it (Disconnect removes its tokens).'))


def compute_account_permissions(accounts):
    """``can_manage`` (owner or MailDesk manager) and ``address_locked`` (server-bound, not a system administrator)."""
    env = accounts.env
    manager = is_manager(env)
    locked = accounts.browse() if is_system(env) else bound_accounts(accounts._origin)
    for account in accounts:
        account.can_manage = manager or account.user_id == env.user
        account.address_locked = account._origin in locked


def check_can_authorize(accounts):
    """Binding Microsoft credentials to an account (authorize, disconnect): its owner or a MailDesk manager."""
    accounts.check_access('write')
    if not is_manager(accounts.env) and any(account.user_id != accounts.env.user for account in accounts):
        raise AccessError(accounts.env._('Only the owner of a mailbox account or a MailDesk manager can authorize '
                                         'it.'))


def normalize_sharing(accounts, vals):
    """Sharing off means no shared users; only shared users may be allowed to send (after an allowed write)."""
    if not {'is_shared', 'shared_user_ids', 'send_user_ids'} & set(vals):
        return
    for account in accounts.sudo():
        if not account.is_shared and (account.shared_user_ids or account.send_user_ids):
            account.write({'shared_user_ids': [Command.clear()], 'send_user_ids': [Command.clear()]})
        elif account.send_user_ids - account.shared_user_ids:
            account.write({'send_user_ids': [Command.set((account.send_user_ids & account.shared_user_ids).ids)]})


def check_can_send(accounts):
    """Sending from a mailbox: its owner, the shared users allowed to send, MailDesk managers."""
    env = accounts.env
    accounts.check_access('read')
    if is_manager(env):
        return
    for account in accounts.sudo():
        if account.user_id != env.user and not (account.is_shared and env.user in account.send_user_ids):
            raise AccessError(env._('You may read the mailbox %(mailbox)s, but not send from it: its owner can '
                                    'allow it in the account\'s sharing settings.', mailbox=account.email))


def tag_commands(messages, commands):
    """A user's ``tag_ids`` commands for ``messages``, limited to the tags the user may change (theirs; a manager's:
    all). A set or a clear unlinks only those: on a shared mailbox the other users' tags stay.

    :return: equivalent commands (link / unlink / create / update / delete)
    :raises AccessError: a tag the user may not change is linked, unlinked, updated or deleted
    """
    Tag = messages.env['maildesk.tag']
    result, touched = [], set()
    for command in commands or ():
        if isinstance(command, int):
            command = (Command.LINK, command, 0)
        code = command[0]
        if code in (Command.SET, Command.CLEAR):
            wanted = set(command[2] or ()) if code == Command.SET else set()
            current = Tag.browse(messages.sudo().tag_ids.ids)._filtered_access('write')
            result += [Command.unlink(tag.id) for tag in current if tag.id not in wanted]
            result += [Command.link(tag_id) for tag_id in sorted(wanted)]
            touched |= wanted
        else:
            result.append(command)
            if code != Command.CREATE:
                touched.add(command[1])
    tags = Tag.browse(sorted(int(tag_id) for tag_id in touched))
    if tags - tags._filtered_access('write'):
        raise AccessError(messages.env._('Tag messages with your own tags only.'))
    return result


def check_linked_attachments(env, commands):
    """Files attached to a draft must be files the user may read (else sending them would leak them)."""
    linked = set()
    for command in commands or ():
        if isinstance(command, int):
            linked.add(command)
        elif command[0] == Command.LINK:
            linked.add(command[1])
        elif command[0] == Command.SET:
            linked.update(command[2] or ())
    # ir.attachment's own check (its record's access; a file of no record: its creator's), not only its ACL
    env['ir.attachment'].browse(sorted(int(att_id) for att_id in linked)).check('read')


def _differs(account, name, value):
    if name in ('user_id', 'company_id'):
        return account[name].id != (value.id if hasattr(value, 'id') else int(value or 0))
    return (account.email or '').strip().lower() != (value or '').strip().lower()
