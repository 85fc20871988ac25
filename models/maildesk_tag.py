from random import randint

from odoo import _, fields, models
from odoo.exceptions import AccessError


class MaildeskTag(models.Model):
    """A user's own label for messages (local to MailDesk, never sent to Outlook).

    Tags are personal: record rules let a user see and change only theirs (managers: all), and a message only takes
    tags its user may change (:meth:`maildesk.message.write`); on a shared mailbox each user sees their own tags.
    """
    _name = 'maildesk.tag'
    _description = 'MailDesk Tag'
    _order = 'name'

    name = fields.Char(required=True, translate=False)
    color = fields.Integer(default=lambda self: randint(1, 11))
    user_id = fields.Many2one('res.users', 'Owner', required=True, index=True, ondelete='cascade',
                              default=lambda self: self.env.user)
    # A user's tags live in the company they were made in (no company: every company's mail)
    company_id = fields.Many2one('res.company', index=True, default=lambda self: self.env.company)

    _sql_constraints = [('name_uniq', 'unique(name, user_id)', 'You already have a tag with this name.')]

    def write(self, vals):
        # record rules are checked before a write: without this a user could hand a tag to someone else
        if 'user_id' in vals and not (self.env.su or self.env.user.has_group('maildesk.group_maildesk_manager')):
            raise AccessError(_('A tag stays with the user who created it.'))
        return super().write(vals)
