"""Log to record: a MailDesk message (body and attachments) posted once, as a note, on an Odoo record's chatter."""
from markupsafe import Markup

from odoo import tools
from odoo.exceptions import UserError


def check_not_logged(message):
    """:raise UserError: ``message`` is already logged on a record (a message is logged once)."""
    if message.res_model and message.res_id:
        env = message.env
        target = env[message.res_model].browse(message.res_id).exists() if message.res_model in env else None
        raise UserError(env._('This message is already logged on %(record)s. A message is logged once.',
                              record=target.sudo().display_name if target else '%s,%s' % (message.res_model,
                                                                                          message.res_id)))


def target_record(env, target):
    """The record ``target`` (``[model, id]``) names, once it is known to have a chatter the user may write on.

    :raise UserError: not a record with a chatter, or gone
    :raise AccessError: the user may not write on it
    """
    model, res_id = target if isinstance(target, (list, tuple)) and len(target) == 2 else (None, None)
    if not isinstance(model, str) or model not in env or not isinstance(env[model], env.registry['mail.thread']):
        raise UserError(env._('Messages can only be logged on records with a chatter.'))
    try:
        record = env[model].browse(int(res_id or 0)).exists()
    except (TypeError, ValueError):
        record = None
    if not record:
        raise UserError(env._('The record to log this message on no longer exists.'))
    record.check_access('write')
    return record


def log_message(message, record):
    """Post ``message`` on ``record``'s chatter (``message_type='email'``, author from the sender's address) with
    its attachments: the composer's files for a message sent from MailDesk, else Outlook's, downloaded now."""
    message.ensure_one()
    env = message.env
    message.check_access('write')
    record.check_access('write')
    # Two clicks at once must not log twice: lock the row, then look again.
    env.cr.execute('SELECT 1 FROM maildesk_message WHERE id = %s FOR NO KEY UPDATE', [message.id])
    message.invalidate_recordset(['res_model', 'res_id'])
    check_not_logged(message)
    attachments = message.attachment_ids.filtered(lambda a: not a.maildesk_graph_id and not a.maildesk_content_id)
    if not attachments and message.has_attachments and message._maildesk_in_outlook():
        attachments = env['ir.attachment'].browse(message.action_download_attachments())
    quote_body = message._maildesk_quote_body()
    copies = env['ir.attachment']
    for attachment in attachments.sudo():
        copies |= attachment.copy({'res_model': record._name, 'res_id': record.id})
    author = tools.formataddr((message.from_name or '', message.from_address)) if message.from_address else None
    when = message.received_at or message.sent_at
    header = Markup('<p><small>%s</small></p>') % env._(
        'Email from %(author)s to %(recipients)s, %(date)s. Logged from MailDesk by %(user)s.',
        author=author or message.from_name or '?', recipients=message.to_recipients or '?',
        date=tools.format_datetime(env, when) if when else '?', user=env.user.name)
    record.message_post(
        body=header + quote_body, subject=message.subject or False, message_type='email',
        subtype_xmlid='mail.mt_note', email_from=author, attachment_ids=copies.ids,
        email_add_signature=False)
    message.sudo().write({'res_model': record._name, 'res_id': record.id})
    message._maildesk_notify_changed(message)
    return record
