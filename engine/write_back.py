"""Write-back: a message action changes MailDesk at once, then Outlook (permission level *Read & write back*).

The rows change first (with the user's rights), are marked ``pending_action`` while Graph is asked (one round per
account), and what Graph refuses is put back as it was, with a notification saying why; the next delta round then
brings Outlook's own state, which agrees. With *Read only* the change stays in MailDesk and the result says so.
Tags never go to Outlook. See ARCHITECTURE.md, "Write-back".
"""
import logging
from collections import namedtuple

from odoo.tools import LazyTranslate

from ..graph import errors, outgoing
from . import feedback

_logger = logging.getLogger(__name__)
_lt = LazyTranslate(__name__)

def _read_step(message):
    return 'PATCH', '', outgoing.message_patch(is_read=message.is_read)


def _flag_step(message):
    return 'PATCH', '', outgoing.message_patch(flag_status=message.flag_status or 'notFlagged')


def _categories_step(message):
    return 'PATCH', '', outgoing.message_patch(categories=(message.categories or '').split(','))


def _move_step(message):
    return 'POST', '/move', outgoing.move(message.folder_id.graph_id)


def _delete_step(message):
    """Outlook's DELETE moves the message to Deleted Items, or purges it from there: as MailDesk did."""
    return 'DELETE', '', None


def _after_move(message, answer):
    new_id = (answer or {}).get('id')
    if new_id and new_id != message.graph_id:  # only without immutable ids
        message.sudo().graph_id = new_id


# fields: what an undo puts back; step(message): (method, path suffix, JSON body) telling Outlook the row's new
# state; after(message, answer): what Outlook's answer changes locally; what: for the user
Action = namedtuple('Action', 'fields step after what')
ACTIONS = {
    'mark_read': Action(('is_read',), _read_step, None, _lt('mark as read')),
    'mark_unread': Action(('is_read',), _read_step, None, _lt('mark as unread')),
    'flag': Action(('flag_status',), _flag_step, None, _lt('change the flag')),
    'categories': Action(('categories',), _categories_step, None, _lt('set the categories')),
    'move': Action(('folder_id', 'active'), _move_step, _after_move, _lt('move the message')),
    'delete': Action(('folder_id', 'active'), _delete_step, None, _lt('delete the message')),
}


class WriteBack:
    """One message action (a key of :data:`ACTIONS`) on ``messages``, the recordset the user acts on."""

    def __init__(self, messages, action):
        self.messages = messages
        self.env = messages.env
        self.action = action
        self.spec = ACTIONS[action]

    def run(self, targets, change):
        """Make the local ``change()`` (it alters ``targets``, the messages not yet as asked), then tell Outlook.

        :return: True, or a notification action (read only, or why Outlook refused: those messages are undone)
        """
        self.messages.check_access('write')
        snapshots = {message.id: self._snapshot(message) for message in targets}
        folders_before = targets.folder_id
        change()
        if not targets:
            return True
        # Delivered on commit: one notification covers the change and any undo below (folders before and after).
        self.env['maildesk.message']._maildesk_notify_changed(folders_before, targets)
        if not self.env['maildesk.account']._maildesk_settings()['write_back']:
            return feedback.notification(
                self.env._('MailDesk has the permission level "Read only": this change is not sent to Outlook, '
                           'where the message keeps its state. An administrator can choose "Read & write back" '
                           'in Settings > MailDesk.'),
                'warning', title=self.env._('Changed in MailDesk only'), sticky=False)
        targets = targets.exists()
        targets.sudo().write({'pending_action': self.action})
        failures = []
        for messages in targets.grouped('account_id').values():
            failures += self._account_round(messages)
        for message, _exc in failures:
            message.sudo().write(dict(snapshots[message.id], pending_action=False))
        return self._failure_notification(failures) if failures else True

    def _snapshot(self, message):
        return {name: message[name].id if message._fields[name].type == 'many2one' else message[name]
                for name in self.spec.fields}

    def _account_round(self, messages):
        """Ask Graph for the messages of one account, 20 to a ``$batch`` request (graph/batch.py); returns
        ``[(message, exception)]`` for the refused ones."""
        try:
            client = messages.account_id._graph_client()
        except errors.GraphError as exc:
            return [(message, exc) for message in messages]
        local = messages.filtered(lambda m: not m._maildesk_in_outlook())
        local.sudo().pending_action = False  # not in Outlook yet: nothing to tell it
        messages -= local
        if len(messages) == 1:  # one message: one plain request
            return self._send_one(client, messages)
        steps = []
        for message in messages:
            method, suffix, body = self.spec.step(message)
            steps.append(client.message_step(message.id, method, message.graph_id, suffix, body))
        try:
            results = client.batch(steps)
        except errors.GraphError as exc:
            return [(message, exc) for message in messages]
        failures = []
        for message in messages:
            result = results[str(message.id)]
            if result.error is not None:
                failures.append((message, result.error))
                continue
            if self.spec.after:
                self.spec.after(message, result.body)
            message.sudo().pending_action = False
        if failures:
            _logger.info('MailDesk: write-back %s refused for %d of %d messages (%s)', self.action, len(failures),
                         len(messages), failures[0][1].__class__.__name__)
        return failures

    def _send_one(self, client, message):
        method, suffix, body = self.spec.step(message)
        try:
            answer = client.message_request(method, message.graph_id, suffix, body)
        except errors.GraphError as exc:
            _logger.info('MailDesk message %s: write-back %s refused (%s)', message.id, self.action,
                         exc.__class__.__name__)
            return [(message, exc)]
        if self.spec.after:
            self.spec.after(message, answer)
        message.sudo().pending_action = False
        return []

    def _failure_notification(self, failures):
        text = feedback.graph_error_text(self.env, failures[0][1], self.env._(self.spec.what))
        if len(failures) > 1:
            text = self.env._('%(count)s messages were not changed. %(reason)s', count=len(failures), reason=text)
        return feedback.notification(text, 'danger', title=self.env._('Outlook did not confirm: change undone'),
                                     sticky=True)
