from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, ValidationError

from ..engine import rules


class MaildeskRule(models.Model):
    """A mail rule of a gateway mailbox: conditions on a new message -> actions, applied in order by the mail
    gateway (:mod:`engine.rules`) when it routes the message. Each application is logged on the rule's chatter; a
    dry run shows what the rules would do to the last messages, doing nothing."""
    _name = 'maildesk.rule'
    _inherit = ['mail.thread']
    _description = 'MailDesk Mail Rule'
    _order = 'account_id, sequence, id'

    name = fields.Char(required=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    account_id = fields.Many2one('maildesk.account', 'Mailbox Account', required=True, ondelete='cascade',
                                 index=True)
    # conditions (all given ones must hold; text ones are case-insensitive "contains")
    from_contains = fields.Char()
    to_contains = fields.Char(help='Matched against the To and Cc recipients.')
    subject_contains = fields.Char()
    has_attachments = fields.Selection([('yes', 'With attachments'), ('no', 'Without attachments')],
                                       'Attachments')
    folder_id = fields.Many2one('maildesk.folder', 'In Folder', ondelete='cascade',
                                domain="[('account_id', '=', account_id)]",
                                help='Mail arriving in this folder is routed too (not only the Inbox).')
    # actions
    route_model_id = fields.Many2one('ir.model', 'Route To', ondelete='cascade',
                                     domain=[('is_mail_thread', '=', True), ('transient', '=', False)],
                                     help='Create a record of this model (instead of the server\'s "Create a New '
                                          'Record"). Replies and aliases still decide first, as in Odoo.')
    assign_user_id = fields.Many2one('res.users', 'Assign To', ondelete='set null',
                                     help='Responsible of the record created (its "user_id" field).')
    tag_ids = fields.Many2many('maildesk.tag', string='Add Tags')
    move_folder_id = fields.Many2one('maildesk.folder', 'Move To Folder', ondelete='set null',
                                     domain="[('account_id', '=', account_id)]")
    mark_read = fields.Boolean('Mark as Read')
    stop_processing = fields.Boolean('Stop Here', help='Rules after this one are not applied to a matching message.')
    dry_run_limit = fields.Integer('Dry Run Messages', default=50)
    dry_run_report = fields.Html('Dry Run', readonly=True, sanitize=True, copy=False)

    @api.constrains('account_id', 'folder_id', 'move_folder_id')
    def _check_folders(self):
        for rule in self:
            if (rule.folder_id | rule.move_folder_id).account_id - rule.account_id:
                raise ValidationError(_('The folders of rule "%s" must belong to its mailbox.', rule.name))

    def _check_manager(self):
        if not (self.env.su or self.env.user.has_group('maildesk.group_maildesk_manager')):
            raise AccessError(_('Only MailDesk managers can run mail rules.'))

    def action_dry_run(self):
        """Which of the mailbox's last messages the mailbox's rules (all of them, in order) match, and what would
        happen: nothing is changed; the report is written on these rules and the run logged on their chatter."""
        self._check_manager()
        for rule in self:
            report = rules.dry_run(rule.account_id, max(1, min(rule.dry_run_limit or 50, 500)))
            rule.sudo().dry_run_report = rules.report_html(self.env, report)
            matched = sum(1 for row in report if rule.id in row['rule_ids'])
            rule.sudo().message_post(body=Markup('<p>%s</p>') % _(
                'Dry run on the last %(count)d messages: this rule would apply to %(matched)d. Nothing was changed.',
                count=len(report), matched=matched), subtype_xmlid='mail.mt_note')
        return True
