"""18.0.1.2.0, multi-company: folders, messages and drafts carry their account's company (stored related), tags a
company of their own.

The columns are added and filled here in one UPDATE each, before the registry loads: left to the ORM, every
existing message would be recomputed in Python on the upgrade. Existing tags get no company (they stay visible in
every company of their user, as before).
"""
from odoo.tools import SQL
from odoo.tools.sql import column_exists, create_column, create_index


def migrate(cr, version):
    for table in ('maildesk_folder', 'maildesk_message', 'maildesk_draft'):
        if column_exists(cr, table, 'company_id'):
            continue
        create_column(cr, table, 'company_id', 'int4')
        cr.execute(SQL(
            'UPDATE %s AS t SET company_id = a.company_id FROM maildesk_account AS a '
            'WHERE a.id = t.account_id AND a.company_id IS NOT NULL', SQL.identifier(table)))
        create_index(cr, f'{table}__company_id_index', table, ['company_id'])
    if not column_exists(cr, 'maildesk_tag', 'company_id'):
        create_column(cr, 'maildesk_tag', 'company_id', 'int4')
