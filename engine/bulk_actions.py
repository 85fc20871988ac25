"""Bulk message actions of the inbox: read / unread / flag / unflag / tag / move / delete / log on a selection.

The inbox resolves a selection (rows picked, or "everything in this folder": a domain) into ids on the server
(``maildesk.inbox.maildesk_selection_ids``), then sends them in chunks of :data:`CHUNK` so it can show progress;
each chunk is one :func:`run`: the messages the caller may change (the others are counted, never touched), the
change made locally, then written back to Outlook 20 to a Graph ``$batch`` request (:mod:`engine.write_back`).
A move or a delete answers how to undo it (:func:`undo`): every message back to the folder it came from (for a
delete, from Deleted Items) — messages deleted for good from Deleted Items cannot come back and are not offered.
"""
from odoo.exceptions import UserError

from . import feedback, log_to_record
from .write_back import WriteBack

CHUNK = 100  # messages of one inbox call: 5 Graph $batch requests
MAX_SELECTION = 10000  # "select all" beyond this is refused with a clear message, not cut silently


def _flag(messages, status):
    targets = messages.filtered(lambda m: m.flag_status != status)
    return WriteBack(messages, 'flag').run(targets, lambda: targets.write({'flag_status': status}))


def _mark(messages, is_read):
    targets = messages.filtered(lambda m: bool(m.is_read) != is_read)
    action = 'mark_read' if is_read else 'mark_unread'
    return WriteBack(messages, action).run(targets, lambda: targets.write({'is_read': is_read}))


def _log(messages, record, skipped):
    """Log each message on ``record`` (checked by the caller), oldest first as a conversation reads; a message
    already logged is skipped, one that fails (e.g. its attachments could not be downloaded) is counted, the
    others are logged all the same."""
    done = failed = 0
    errors = []
    for message in messages.sorted(lambda m: (m.received_at or m.sent_at or m.create_date, m.id)):
        if message.res_model and message.res_id:
            skipped += 1
            continue
        try:
            with message.env.cr.savepoint():
                log_to_record.log_message(message, record)
            done += 1
        except UserError as error:
            failed += 1
            errors.append(str(error.args[0] if error.args else error))
    notification = feedback.notification(
        messages.env._('%(count)s messages could not be logged: %(reason)s', count=failed, reason=errors[0]),
        'danger') if failed else False
    return {'done': done, 'skipped': skipped, 'failed': failed, 'notification': notification, 'undo': []}


def _origins(messages):
    """``[[folder id, [message ids]]]``: where each message is now (what an undo puts back)."""
    return [[folder.id, group.ids] for folder, group in messages.grouped('folder_id').items() if folder]


def run(messages, action, value=None):
    """Apply ``action`` to ``messages`` (already limited to what the caller may read); ``value``: the folder id
    (move), the tag id (tag), the record (log: checked by the caller, :func:`engine.log_to_record.target_record`).

    :return: ``{'done': n, 'skipped': n, 'failed': n, 'notification': action dict or False, 'undo': [...]}``;
        ``undo`` (move, delete): ``[[folder id, [message ids]]]`` to give to :func:`undo`
    """
    writable = messages._filtered_access('write')
    skipped = len(messages) - len(writable)
    undo_moves = []
    if action in ('mark_read', 'mark_unread'):
        result = _mark(writable, action == 'mark_read')
    elif action in ('flag', 'unflag'):
        result = _flag(writable, 'flagged' if action == 'flag' else 'notFlagged')
    elif action == 'tag':  # add one tag (the others each message has stay)
        tag_id = int(value or 0)
        for messages_with, group in writable.grouped(lambda m: m.tag_ids).items():
            group.action_set_tags(messages_with.ids + [tag_id])
        result = True
    elif action == 'move':
        folder_id = int(value or 0)
        undo_moves = _origins(writable.filtered(lambda m: m.folder_id.id != folder_id))
        result = writable.action_move(folder_id)
    elif action == 'delete':
        undo_moves = _origins(writable.filtered(lambda m: m.folder_id.role != 'deleteditems'))
        result = writable.action_delete()
    elif action == 'log':
        return _log(writable, value, skipped)
    else:
        raise ValueError('unknown bulk action %r' % action)
    # A move / delete Outlook refused was put back: it is in its origin folder again, with nothing to undo.
    Message = messages.browse()
    refused = {i for folder_id, ids in undo_moves for i in ids if Message.browse(i).folder_id.id == folder_id}
    undo_moves = [[f, [i for i in ids if i not in refused]] for f, ids in undo_moves]
    notification = result if isinstance(result, dict) else False
    failed = len(refused) if undo_moves or refused else (
        len(writable) if notification and notification.get('params', {}).get('type') == 'danger' else 0)
    return {'done': len(writable) - failed, 'skipped': skipped, 'failed': failed, 'notification': notification,
            'undo': [entry for entry in undo_moves if entry[1]]}


def undo(env, origins):
    """Put messages back where :func:`run` found them: ``[[folder id, [message ids]]]``; returns the count."""
    Message = env['maildesk.message']
    count = 0
    for folder_id, ids in origins or ():
        messages = Message.search([('id', 'in', [int(i) for i in ids])])._filtered_access('write')
        messages = messages.filtered(lambda m, f=int(folder_id): m.folder_id.id != f)
        if messages:
            messages.action_move(int(folder_id))
            count += len(messages)
    return count
