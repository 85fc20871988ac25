from random import randint

from odoo import fields, models


class MaildeskTag(models.Model):
    _name = 'maildesk.tag'
    _description = 'MailDesk Tag'
    _order = 'name'

    name = fields.Char(required=True, translate=False)
    color = fields.Integer(default=lambda self: randint(1, 11))

    _sql_constraints = [('name_uniq', 'unique(name)', 'A tag with this name already exists.')]
