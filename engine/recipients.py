"""The composer's recipients: one line of addresses per field (To / Cc / Bcc), and its autocomplete.

A line is a plain text of addresses (``Name <address>, other@example.com``), what the composer's field widget
(static/src/views/maildesk_recipients_field.js) edits: contacts and free addresses alike, so typing an address
never creates a contact. The suggestions come from the caller's contacts and from the addresses of the synced
mail the caller may read (record rules apply: a user never sees the correspondents of a mailbox not shared
with them); nothing is asked of Microsoft Graph.
"""
from odoo import tools
from odoo.exceptions import AccessError
from odoo.tools.mail import email_split_tuples

SUGGESTION_LIMIT = 8
MAX_SUGGESTION_LIMIT = 20
# How many recent messages matching the typed text are read for their addresses (one indexed-order query).
MESSAGES_SCANNED = 200
MAX_TERM_LENGTH = 100


def check_composer_user(env):
    """The autocomplete is the composer's: MailDesk users only (a portal or plain internal user gets nothing)."""
    if not env.su and not env.user.has_group('maildesk.group_maildesk_user'):
        raise AccessError(env._('Only MailDesk users can look up recipients.'))


def suggestions(env, term, limit=SUGGESTION_LIMIT):
    """Contacts and seen addresses matching ``term`` (name or address, case-insensitive), each address once.

    :return: ``[{'name': str, 'email': str, 'source': 'contact' | 'mail'}]``, contacts first, at most ``limit``
    """
    check_composer_user(env)
    term = (term or '').strip()[:MAX_TERM_LENGTH]
    try:
        limit = max(1, min(int(limit or SUGGESTION_LIMIT), MAX_SUGGESTION_LIMIT))
    except (TypeError, ValueError):
        limit = SUGGESTION_LIMIT
    if not term:
        return []
    result, seen = [], set()

    def add(name, address, source):
        normalized = tools.email_normalize(address or '', strict=True)
        if not normalized or normalized in seen or len(result) >= limit:
            return
        seen.add(normalized)
        name = (name or '').strip()
        result.append({'name': '' if name.lower() == normalized else name, 'email': address.strip(),
                       'source': source})

    partners = env['res.partner'].search_fetch(
        [('email', '!=', False), '|', ('name', 'ilike', term), ('email', 'ilike', term)],
        ['name', 'email'], limit=limit)
    for partner in partners:
        for name, address in email_split_tuples(partner.email) or []:
            add(partner.name or name, address, 'contact')
    if len(result) < limit:
        # the user's own rights: record rules keep other users' mailboxes out
        messages = env['maildesk.message'].search_fetch(
            ['|', '|', '|', ('from_address', 'ilike', term), ('from_name', 'ilike', term),
             ('to_recipients', 'ilike', term), ('cc_recipients', 'ilike', term)],
            ['from_name', 'from_address', 'to_recipients', 'cc_recipients'],
            order='received_at desc, id desc', limit=MESSAGES_SCANNED)
        needle = term.lower()
        for message in messages:
            pairs = [(message.from_name, message.from_address)] + email_split_tuples(message.to_recipients or '') \
                + email_split_tuples(message.cc_recipients or '')
            for name, address in pairs:
                if address and (needle in address.lower() or needle in (name or '').lower()):
                    add(name, address, 'mail')
    return result


def invalid_chunks(text):
    """The comma- or semicolon-separated parts of ``text`` that hold no address at all (typing mistakes)."""
    return [chunk.strip() for chunk in _split_outside_quotes(text or '')
            if chunk.strip() and not tools.email_split(chunk)]


def _split_outside_quotes(text):
    """``text`` split at commas and semicolons that are neither in a quoted name nor inside ``<...>``."""
    parts, current, quoted, angle = [], [], False, False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif char == '<' and not quoted:
            angle = True
        elif char == '>' and not quoted:
            angle = False
        if char in ',;' and not quoted and not angle:
            parts.append(''.join(current))
            current = []
        else:
            current.append(char)
    parts.append(''.join(current))
    return parts


def parse_line(text):
    """``(name, address)`` pairs of a recipients line (semicolons separate as commas do, as in Outlook)."""
    return [pair for chunk in _split_outside_quotes(text or '') for pair in email_split_tuples(chunk)]


def format_line(pairs):
    """A recipients line from ``(name, address)`` pairs (a name with a comma is quoted by ``formataddr``)."""
    return ', '.join(tools.formataddr((name or '', address)) for name, address in pairs) or False
