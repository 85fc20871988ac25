"""Conversations: which messages of a mailbox belong together (``maildesk.message.thread_key``).

Graph's ``conversationId`` is the key, unless a message answers (In-Reply-To, then References) a known message of
the mailbox in another conversation: then the two conversations become one. Outlook's conversation drifts e.g.
for replies sent by other clients or through MIME. Used after every sync batch and when a body is fetched.
"""
from ..graph import mail


def link_threads(messages):
    """Set the ``thread_key`` of these messages and merge the conversations they answer or are answered in.

    Cheap: a few queries per batch, none when no message of the batch knows its parents or children.
    """
    messages = messages.sudo().with_context(active_test=False)
    Message = messages.browse()
    for account, mine in messages.grouped('account_id').items():
        for message in mine.filtered(lambda m: not m.thread_key):
            message.thread_key = message.conversation_id or message.internet_message_id or message.graph_id
        parents_of = {m: parent_ids(m) for m in mine}
        wanted = {mid for ids in parents_of.values() for mid in ids}
        parents = {}
        if wanted:
            for parent in Message.search([('account_id', '=', account.id),
                                          ('internet_message_id', 'in', list(wanted))]):
                parents.setdefault(parent.internet_message_id, parent)
        for message, ids in parents_of.items():
            parent = next((parents[mid] for mid in ids if mid in parents
                           and parents[mid].internet_message_id != message.internet_message_id), None)
            if parent and parent.thread_key and parent.thread_key != message.thread_key:
                merge_threads(account, message.thread_key, parent.thread_key)
        own_ids = [m.internet_message_id for m in mine if m.internet_message_id]
        if own_ids:
            children = Message.search([('account_id', '=', account.id), ('in_reply_to', 'in', own_ids)])
            by_mid = {m.internet_message_id: m for m in mine if m.internet_message_id}
            for child in children:
                parent = by_mid.get(child.in_reply_to)
                if parent and child.thread_key != parent.thread_key and parent.thread_key:
                    merge_threads(account, child.thread_key, parent.thread_key)


def merge_threads(account, old_key, new_key):
    """Every message of ``account`` in conversation ``old_key`` moves to ``new_key``."""
    if old_key and new_key and old_key != new_key:
        Message = account.env['maildesk.message'].sudo().with_context(active_test=False)
        Message.search([('account_id', '=', account.id), ('thread_key', '=', old_key)]).write(
            {'thread_key': new_key})


def parent_ids(message):
    """Message-IDs this message answers, the closest first (In-Reply-To, then References backwards)."""
    ids = []
    for mid in [message.in_reply_to or ''] + list(reversed((message.references or '').split())):
        mid = mid.strip()
        if mid and mid not in ids:
            ids.append(mid)
    return ids


def header_values(headers):
    """``in_reply_to`` / ``references`` values from Graph's ``internetMessageHeaders`` (a list of name/value)."""
    values = {}
    for header in headers or ():
        if not isinstance(header, dict):
            continue
        name = str(header.get('name') or '').lower()
        value = str(header.get('value') or '').strip()
        if name == 'in-reply-to' and value:
            # indexed: capped in UTF-8 bytes (a hostile header must not exceed a btree entry), NUL removed
            values['in_reply_to'] = mail.clean_identifier(value.split()[0]) or False
        elif name == 'references' and value:
            values['references'] = mail.clean_text(' '.join(value.split()), 10000)
    return values
