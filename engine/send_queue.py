"""Send later and Undo send: a ``maildesk.draft`` waits in the queue until ``send_due_at``, then
:class:`.sending.DraftSender` sends it, as Send does (nothing of the send path is repeated here).

- *Send later*: the author picks ``scheduled_at``; :func:`schedule` queues the draft for that time.
- *Undo send*: with ``maildesk.undo_send_seconds`` > 0, Send queues the draft for that many seconds
  (:func:`hold_for_undo`) and the composer shows "Undo"; :func:`undo` takes it out of the queue, and nothing left.
- The "MailDesk: send queued mail" cron (:func:`send_due`, woken up at each due time with ``_trigger(at=...)``)
  sends the due drafts one per transaction, each locked ``FOR NO KEY UPDATE SKIP LOCKED``: an Undo either waits for
  the lock and finds the message sent, or wins and the cron skips it. Each draft is sent as its author (his right
  to send from the mailbox is checked again at that moment).
"""
import datetime
import logging

from odoo import SUPERUSER_ID, api, fields
from odoo.exceptions import AccessError, UserError

from .sending import DraftSender

_logger = logging.getLogger(__name__)

UNDO_PARAM = 'maildesk.undo_send_seconds'
MAX_UNDO_SECONDS = 60
CRON_XMLID = 'maildesk.ir_cron_maildesk_send_queue'
BATCH = 50  # drafts per cron run; the rest re-triggers the cron


def undo_seconds(env):
    value = env['ir.config_parameter'].sudo().get_param(UNDO_PARAM)
    try:
        return min(max(int(value or 0), 0), MAX_UNDO_SECONDS)
    except ValueError:
        return 0


def _queue(draft, when):
    draft._write_sending({'send_due_at': when})
    cron = draft.env.ref(CRON_XMLID, raise_if_not_found=False)
    if cron:
        cron.sudo()._trigger(at=when)


def hold_for_undo(draft):
    """Send with an undo window: queue ``draft`` (already checked as sendable) for the configured seconds.

    :return: the composer reopened with its Undo button, or None when there is no window (send now)
    """
    seconds = undo_seconds(draft.env)
    if not seconds or draft.env.context.get('maildesk_send_now'):
        return None
    _queue(draft, fields.Datetime.now() + datetime.timedelta(seconds=seconds))
    return draft._form_action()


def schedule(draft):
    """Send later: queue ``draft`` for its ``scheduled_at``."""
    draft.ensure_one()
    draft.check_access('write')
    env = draft.env
    if not draft.scheduled_at or draft.scheduled_at <= fields.Datetime.now():
        raise UserError(env._('Choose a date and time in the future in "Send At".'))
    draft._check_sendable()
    _queue(draft, draft.scheduled_at)
    return draft


def undo(draft):
    """Take ``draft`` out of the queue before it leaves; a message already sent cannot come back."""
    draft.ensure_one()
    draft.check_access('write')
    env = draft.env
    draft.flush_recordset()
    # waits for a cron sending it right now: then it is sent, and we say so
    env.cr.execute('SELECT id FROM maildesk_draft WHERE id = %s FOR NO KEY UPDATE', [draft.id])
    draft.invalidate_recordset()
    if draft.state == 'sent':
        raise UserError(env._('Too late: this message was already sent on %(date)s.', date=draft.sent_at))
    draft._write_sending({'send_due_at': False})
    return draft


def send_due(env, limit=BATCH):
    """The cron: send every draft whose time has come, one per transaction. Returns the number sent."""
    env.cr.execute("""SELECT id FROM maildesk_draft WHERE send_due_at <= %s AND state != 'sent'
                      ORDER BY send_due_at, id LIMIT %s""", [fields.Datetime.now(), limit + 1])
    ids = [row[0] for row in env.cr.fetchall()]
    sent = 0
    for draft_id in ids[:limit]:
        try:
            sent += _send_one(env.registry, draft_id)
        except Exception:  # one draft never stops the others: it stays queued for the next run
            _logger.exception('MailDesk draft %s: queued send failed', draft_id)
    if len(ids) > limit:
        env.ref(CRON_XMLID)._trigger()
    return sent


def _send_one(registry, draft_id):
    """Send one due draft in its own committed transaction (a sent message is recorded even if the next fails)."""
    with registry.cursor() as cr:
        cr.execute("""SELECT id FROM maildesk_draft WHERE id = %s AND send_due_at <= %s AND state != 'sent'
                      FOR NO KEY UPDATE SKIP LOCKED""", [draft_id, fields.Datetime.now()])
        if not cr.fetchone():
            return 0  # undone, sent meanwhile, or being sent by another worker
        env = api.Environment(cr, SUPERUSER_ID, {})
        draft = env['maildesk.draft'].browse(draft_id)
        draft = draft.with_user(draft.user_id).with_context(maildesk_send_now=True)
        draft._write_sending({'send_due_at': False, 'attempt_count': draft.attempt_count + 1})
        try:
            draft._check_sendable()
        except (UserError, AccessError) as exc:
            draft._write_sending({'state': 'failed', 'last_error': str(exc)})
            _logger.info('MailDesk draft %s: queued send refused: %s', draft_id, exc)
            return 0
        DraftSender(draft).send()
        return int(draft.state == 'sent')
