"""18.0.1.3.0, one recipients line per field: the contacts of unsent drafts join their line of addresses.

The composer now edits To / Cc / Bcc as one line of addresses each (engine/recipients.py); a contact chosen in
an older composer moves into that line ("Name <address>") so that the draft shows and sends it as before. Sent
drafts are history and keep their contacts; a contact without an address stays where it was (shown, and
refused at send as before).
"""
from odoo import SUPERUSER_ID, Command, api
from odoo.tools.mail import email_split_tuples

from odoo.addons.maildesk.engine import recipients


def migrate(cr, version):
    env = api.Environment(cr, SUPERUSER_ID, {})
    drafts = env['maildesk.draft'].search([
        ('state', '!=', 'sent'),
        '|', '|', ('to_partner_ids', '!=', False), ('cc_partner_ids', '!=', False), ('bcc_partner_ids', '!=', False)])
    for draft in drafts:
        vals = {}
        for field in ('to', 'cc', 'bcc'):
            partners = draft['%s_partner_ids' % field]
            with_address = partners.filtered('email')
            if not with_address:
                continue
            pairs = recipients.parse_line(draft['%s_emails' % field])
            for partner in with_address:
                pairs += [(partner.name or name, address) for name, address in email_split_tuples(partner.email)]
            seen, unique = set(), []
            for name, address in pairs:
                if address.lower() not in seen:
                    seen.add(address.lower())
                    unique.append((name, address))
            vals['%s_emails' % field] = recipients.format_line(unique)
            vals['%s_partner_ids' % field] = [Command.unlink(partner.id) for partner in with_address]
        if vals:
            draft.write(vals)
