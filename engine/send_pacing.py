"""Outgoing mail per mailbox paced under Exchange Online's sending limits: queued, never refused.

Exchange Online limits what one mailbox sends (Microsoft: "Exchange Online limits", Sending limits,
https://learn.microsoft.com/office365/servicedescriptions/exchange-online-service-description/exchange-online-limits#sending-limits-1):
a *message rate limit* of 30 messages per minute and a *recipient rate limit* of 10,000 recipients per day. Above
them Exchange delays or refuses the mail (and may block the mailbox from sending for 24 hours), so Odoo's mail
going out through a MailDesk mailbox (``ir.mail_server`` of type ``maildesk_graph``) is counted here first: a mail
over the budget stays *Outgoing* in Odoo's queue, and the mail queue cron is woken up when the budget frees up.

Each mail let through is noted in ``maildesk.send.pace`` (messages, recipients); two workers sending for the same
mailbox take the same advisory lock, so they cannot both spend the last slot.
"""
import datetime

from odoo import fields, tools

MESSAGES_PER_MINUTE = 30
RECIPIENTS_PER_DAY = 10000
MINUTE = datetime.timedelta(minutes=1)
DAY = datetime.timedelta(days=1)
LOCK_KEY = 0x6D64_7061  # 'mdpa': MailDesk pacing, first key of pg_advisory_xact_lock(int, int)
MAIL_QUEUE_CRON = 'mail.ir_cron_mail_scheduler_action'


def mail_size(mail):
    """(messages, recipients) one ``mail.mail`` costs: Odoo sends one message per recipient partner, plus one to
    its ``email_to``; Cc addresses are recipients of those messages."""
    partners = len(mail.recipient_ids)
    to = len(tools.email_split(mail.email_to or ''))
    cc = len(tools.email_split(mail.email_cc or ''))
    messages = partners + (1 if to else 0) or 1
    return messages, partners + to + cc * messages or 1


def hold_over_budget(mails, servers):
    """Split ``mails`` into what may leave now and what waits.

    :param servers: ``{mail id: ir.mail_server}`` the server each mail goes out through (only MailDesk's count)
    :return: the mails to send now; the waiting ones keep their state and the mail queue cron is re-triggered
    """
    env = mails.env
    Pace = env['maildesk.send.pace'].sudo()
    now = fields.Datetime.now()
    keep, wake_at = mails.browse(), None
    locked = set()
    for mail in mails:
        server = servers.get(mail.id)
        account = server.maildesk_account_id if server and server.smtp_authentication == 'maildesk_graph' else None
        if not account:
            keep |= mail
            continue
        if account.id not in locked:
            env.cr.execute('SELECT pg_advisory_xact_lock(%s, %s)', [LOCK_KEY, account.id])
            locked.add(account.id)
        messages, recipients = mail_size(mail)
        minute_used, day_used, minute_oldest, day_oldest = Pace._usage(account.id, now)
        fits_minute = minute_used + messages <= MESSAGES_PER_MINUTE or not minute_used
        fits_day = day_used + recipients <= RECIPIENTS_PER_DAY or not day_used
        if fits_minute and fits_day:
            Pace.create({'account_id': account.id, 'message_count': messages, 'recipient_count': recipients})
            keep |= mail
            continue
        free_at = (minute_oldest + MINUTE) if not fits_minute else (day_oldest + DAY)
        wake_at = min(wake_at, free_at) if wake_at else free_at
    if wake_at:
        cron = env.ref(MAIL_QUEUE_CRON, raise_if_not_found=False)
        if cron:
            cron.sudo()._trigger(at=max(wake_at, now))
    return keep
