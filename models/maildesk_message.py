from odoo import fields, models


class MaildeskMessage(models.Model):
    """One Outlook message, stored by (account, Graph immutable id).

    Sync stores metadata only; the body is fetched when the message is opened.
    """
    _name = 'maildesk.message'
    _description = 'MailDesk Message'
    _order = 'received_at desc, id desc'
    _rec_name = 'subject'

    account_id = fields.Many2one('maildesk.account', required=True, ondelete='cascade', index=True)
    folder_id = fields.Many2one('maildesk.folder', ondelete='set null', index=True)
    active = fields.Boolean(default=True, index=True)
    graph_id = fields.Char('Graph ID', required=True, readonly=True)
    internet_message_id = fields.Char('Message-ID', index=True, readonly=True)
    conversation_id = fields.Char(index=True, readonly=True)
    thread_key = fields.Char(index=True, readonly=True,
                             help='Conversation key: Graph conversationId, or the thread root when it drifts.')
    in_reply_to = fields.Char(readonly=True)
    references = fields.Text(readonly=True)

    subject = fields.Char()
    from_address = fields.Char('From Address', index=True)
    from_name = fields.Char('From')
    sender_address = fields.Char()
    sender_name = fields.Char()
    to_recipients = fields.Text('To')
    cc_recipients = fields.Text('Cc')
    bcc_recipients = fields.Text('Bcc')
    reply_to = fields.Text('Reply-To')
    from_partner_id = fields.Many2one('res.partner', 'Sender Contact', index='btree_not_null')
    partner_ids = fields.Many2many('res.partner', 'maildesk_message_partner_rel', 'message_id', 'partner_id',
                                   string='Recipient Contacts')

    received_at = fields.Datetime('Received', index=True)
    sent_at = fields.Datetime('Sent')
    modified_at = fields.Datetime('Modified in Outlook', readonly=True)
    change_key = fields.Char(readonly=True)
    seen_at = fields.Datetime(readonly=True, help='Last time sync saw this message in its folder.')

    body_preview = fields.Text('Preview')
    body_html = fields.Html('Body', sanitize=False, readonly=True,
                            help='Sanitized with Odoo\'s sanitizer when fetched; cleared by the retention cron.')
    body_fetched_at = fields.Datetime(readonly=True)
    importance = fields.Selection([('low', 'Low'), ('normal', 'Normal'), ('high', 'High')], default='normal')
    is_read = fields.Boolean('Read', index=True)
    is_draft = fields.Boolean('Draft')
    flag_status = fields.Selection([('notFlagged', 'Not flagged'), ('flagged', 'Flagged'), ('complete', 'Completed')],
                                   default='notFlagged', string='Flag')
    categories = fields.Char('Outlook Categories')
    tag_ids = fields.Many2many('maildesk.tag', string='Tags')
    has_attachments = fields.Boolean('Attachments')
    attachment_ids = fields.Many2many('ir.attachment', string='Downloaded Attachments')
    direction = fields.Selection([('incoming', 'Incoming'), ('outgoing', 'Outgoing')], index=True)

    is_local = fields.Boolean('Local Entry', readonly=True,
                              help='Created by MailDesk at send time; replaced by Outlook\'s copy on the next sync.')
    pending_action = fields.Char(readonly=True, help='Write-back sent to Outlook and not yet confirmed.')
    res_model = fields.Char('Logged To Model', readonly=True)
    res_id = fields.Many2oneReference('Logged To Record', model_field='res_model', readonly=True)

    _sql_constraints = [
        ('graph_id_uniq', 'unique(account_id, graph_id)', 'A message is stored once per account.'),
    ]
