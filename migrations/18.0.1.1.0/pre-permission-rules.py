"""18.0.1.1.0, the permission model (SECURITY.md): record rules split by operation, sharing that ends with the
Shared box, system mail for administrators, per-user tags.

Record rules are ``noupdate`` data, which an upgrade never rewrites: without this the old, wider rules (a shared
user could write and delete the account) would stay. Let this upgrade load the new ones over them.
"""


def migrate(cr, version):
    cr.execute("UPDATE ir_model_data SET noupdate = false WHERE module = 'maildesk' AND model = 'ir.rule'")
