"""Fetch Folders: make an account's folders equal to Outlook's folder tree (all levels, hidden left out).

Idempotent: re-fetching an unchanged tree writes nothing. A folder that disappeared is removed and its messages
soft-removed (Outlook moved them with the folder, or deleted them). New Inbox / Sent Items are preselected.
"""
import logging

from odoo.exceptions import UserError

from ..graph import errors, mail
from . import feedback

_logger = logging.getLogger(__name__)

DEFAULT_SYNCED_ROLES = ('inbox', 'sentitems')
THROTTLE_DEFAULT = 30  # seconds, when Graph throttles without saying for how long


def fetch_folders(account):
    """Read the folder tree from Graph and store it. :return: ``(created, updated, removed)`` counts
    :raises UserError: what Graph refused, in the user's words"""
    env = account.env
    try:
        client = account._graph_client()
        items = client.list_folders()
        roles_by_id = {folder_id: role for role, folder_id in client.well_known_folder_ids().items()}
    except errors.GraphError as exc:
        if isinstance(exc, errors.Throttled):
            account._set_throttled(exc.retry_after or THROTTLE_DEFAULT)
        raise UserError(feedback.graph_error_text(env, exc, env._('fetch the folder list'))) from None
    counts = store_folder_tree(account, items, roles_by_id)
    account._update_connection_state()
    return counts


def store_folder_tree(account, items, roles_by_id):
    """Make the account's folders equal to ``items`` (raw Graph folders): create, rename, re-parent, delete.

    :return: ``(created, updated, removed)`` counts
    """
    Folder = account.env['maildesk.folder'].sudo().with_context(active_test=False)
    existing = {f.graph_id: f for f in Folder.search([('account_id', '=', account.id)])}
    wanted = {}
    for item in items:
        try:
            values = mail.folder_values(item, roles_by_id)
        except mail.MalformedItem as exc:
            _logger.info('MailDesk: folder skipped for account %s: %s', account.id, exc.reason)
            continue
        if not values['is_hidden']:
            wanted[values['graph_id']] = values
    gone = Folder.browse([f.id for graph_id, f in existing.items() if graph_id not in wanted])
    if gone and not _plausible(existing, wanted, roles_by_id):
        # A listing without the Inbox (or empty) is an incomplete answer, not a mailbox that lost its folders.
        _logger.warning('MailDesk: folder list of account %s looks incomplete; %d folder(s) kept', account.id,
                        len(gone))
        raise UserError(account.env._(
            'Outlook\'s folder list looks incomplete (%(count)d folders, no Inbox): MailDesk removed nothing. '
            'Click "Fetch Folders" again in a moment.', count=len(wanted)))
    to_create = [_create_values(account, values) for graph_id, values in wanted.items() if graph_id not in existing]
    created = Folder.create(to_create) if to_create else Folder
    by_graph_id = dict(existing, **{f.graph_id: f for f in created})
    updated = 0
    for graph_id, values in wanted.items():
        folder = by_graph_id[graph_id]
        changes = _changes(folder, values, by_graph_id)
        if changes:
            folder.write(changes)
            updated += folder not in created
    if gone:
        _remove_vanished(gone)
    _update_complete_names(Folder.browse([by_graph_id[graph_id].id for graph_id in wanted]))
    return len(created), updated, len(gone)


def _plausible(existing, wanted, roles_by_id):
    """A complete folder list has an Inbox, and keeps the Inbox MailDesk knows."""
    known_inbox = next((graph_id for graph_id, folder in existing.items() if folder.role == 'inbox'), None)
    listed_inbox = 'inbox' in roles_by_id.values() and any(v['role'] == 'inbox' for v in wanted.values())
    return listed_inbox and (known_inbox is None or known_inbox in wanted)


def _create_values(account, values):
    role = values['role']
    return {
        'account_id': account.id,
        'graph_id': values['graph_id'],
        'name': values['name'],
        'role': role,
        'total_count': values['total_count'],
        'unread_count': values['unread_count'],
        'sync_enabled': role in DEFAULT_SYNCED_ROLES,
    }


def _changes(folder, values, by_graph_id):
    parent = by_graph_id.get(values['parent_graph_id'])
    wanted = {
        'name': values['name'],
        'parent_id': parent.id if parent else False,
        'role': values['role'],
        'total_count': values['total_count'],
        'unread_count': values['unread_count'],
    }
    current = {
        'name': folder.name, 'parent_id': folder.parent_id.id, 'role': folder.role,
        'total_count': folder.total_count, 'unread_count': folder.unread_count,
    }
    return {key: value for key, value in wanted.items() if current[key] != value}


def _update_complete_names(folders):
    for folder in folders:
        names, node, seen = [], folder, set()
        while node and node.id not in seen:
            seen.add(node.id)
            names.append(node.name)
            node = node.parent_id
        path = ' / '.join(reversed(names))
        if folder.complete_name != path:
            folder.complete_name = path


def _remove_vanished(folders):
    """The folders are gone from Outlook: soft-remove their messages (tags kept) and delete the folders."""
    messages = folders.env['maildesk.message'].sudo().search([('folder_id', 'in', folders.ids)])
    messages.write({'active': False, 'folder_id': False})
    folders.sudo().unlink()
