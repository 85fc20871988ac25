"""Seeded inbox data (no Graph): two mailboxes, folders, tags and messages whose bodies are already fetched.

Used by the inbox RPC tests, the seeded tour, the screenshots and ``tools/bench_inbox.py``. Deterministic:
the same call gives the same rows (dates count back from ``now``).
"""
import random
from datetime import timedelta

from odoo import fields

PEOPLE = [
    ('Ada Lovelace', 'ada@contoso.com'), ('Grace Hopper', 'grace@fabrikam.com'),
    ('Alan Turing', 'alan@contoso.com'), ('Katherine Johnson', 'katherine@northwind.com'),
    ('Linus Torvalds', 'linus@tailspin.com'), ('Margaret Hamilton', 'margaret@fabrikam.com'),
    ('Edsger Dijkstra', 'edsger@northwind.com'), ('Barbara Liskov', 'barbara@adventure-works.com'),
]
TOPICS = [
    'Quarterly report', 'Invoice 2024-118', 'Team offsite', 'Release 18.2 planning', 'Contract renewal',
    'Welcome aboard', 'Server maintenance window', 'Customer feedback', 'Budget review', 'Design review notes',
]
SENTENCES = [
    'Please find the figures attached.', 'Can we meet on Thursday to go through it?',
    'Thanks for the quick turnaround.', 'I have updated the document with your comments.',
    'Let me know if anything is missing.', 'The numbers look good this quarter.',
    'We need a decision before Friday.', 'Here is the summary of our call.',
]
FOLDERS = [('Inbox', 'inbox'), ('Drafts', 'drafts'), ('Sent Items', 'sentitems'), ('Archive', 'archive'),
           ('Deleted Items', 'deleteditems')]


def make_mailbox(env, email, name, owner=None, state='connected'):
    """An account with the standard folders (Inbox has a "Projects" subfolder), all synced."""
    account = env['maildesk.account'].sudo().create({
        'name': name, 'email': email, 'sender_name': name, 'user_id': (owner or env.user).id})
    account._write_status({'state': state, 'last_sync_at': fields.Datetime.now() - timedelta(minutes=3)})
    Folder = env['maildesk.folder'].sudo()
    folders = {}
    for index, (folder_name, role) in enumerate(FOLDERS):
        folders[role] = Folder.create({'account_id': account.id, 'graph_id': '%s-%s' % (email, role),
                                       'name': folder_name, 'complete_name': folder_name, 'role': role,
                                       'sequence': index,
                                       'sync_enabled': True, 'sync_state': 'done'})
    folders['projects'] = Folder.create({'account_id': account.id, 'graph_id': '%s-projects' % email,
                                         'name': 'Projects', 'complete_name': 'Inbox/Projects',
                                         'parent_id': folders['inbox'].id,
                                         'sync_enabled': True, 'sync_state': 'done'})
    return account, folders


def message_values(account, folder, index, rng, now, direction='incoming', **extra):
    name, address = PEOPLE[rng.randrange(len(PEOPLE))]
    topic = TOPICS[index % len(TOPICS)]
    text = ' '.join(rng.sample(SENTENCES, 3))
    received = now - timedelta(hours=index * 7 + rng.randrange(5), minutes=rng.randrange(60))
    values = {
        'account_id': account.id, 'folder_id': folder.id,
        'graph_id': '%s-msg-%s-%s' % (account.email, folder.id, index),
        'internet_message_id': '<%s.%s.%s@seed.maildesk>' % (index, folder.id, account.id),
        'conversation_id': 'conv-%s-%s' % (account.id, index % len(TOPICS)),
        'thread_key': 'conv-%s-%s' % (account.id, index % len(TOPICS)),
        'subject': ('Re: ' if index >= len(TOPICS) else '') + topic,
        'from_name': name, 'from_address': address,
        'to_recipients': '%s <%s>' % (account.name, account.email),
        'received_at': received, 'sent_at': received,
        'body_preview': text,
        'body_html': '<p>Hello,</p><p>%s</p><p>Regards,<br/>%s</p>' % (text, name),
        'body_fetched_at': now,
        'is_read': index % 3 != 0, 'flag_status': 'flagged' if index % 7 == 0 else 'notFlagged',
        'has_attachments': index % 5 == 0, 'direction': direction,
    }
    if direction == 'outgoing':
        values.update({'from_name': account.name, 'from_address': account.email, 'is_read': True,
                       'to_recipients': '%s <%s>' % (name, address)})
    values.update(extra)
    return values


def seed_inbox(env, messages=40, seed=7):
    """Two mailboxes ("Sales" with ``messages`` Inbox messages, "Support" with a few), tags, some Sent Items.

    :return: dict with ``accounts``, ``folders`` (per account: role -> folder), ``tags`` and ``messages``
    """
    rng = random.Random(seed)
    now = fields.Datetime.now()
    sales, sales_folders = make_mailbox(env, 'sales@contoso.com', 'Sales')
    support, support_folders = make_mailbox(env, 'support@contoso.com', 'Support')
    Tag = env['maildesk.tag'].sudo()
    tags = {name: Tag.search([('name', '=', name)]) or Tag.create({'name': name, 'color': color})
            for name, color in (('Customer', 10), ('Urgent', 1), ('Follow-up', 4))}
    values = [message_values(sales, sales_folders['inbox'], i, rng, now) for i in range(messages)]
    values += [message_values(sales, sales_folders['sentitems'], i, rng, now, direction='outgoing')
               for i in range(5)]
    values += [message_values(sales, sales_folders['projects'], 100 + i, rng, now) for i in range(3)]
    values += [message_values(support, support_folders['inbox'], 200 + i, rng, now) for i in range(6)]
    records = env['maildesk.message'].sudo().create(values)
    records[1].tag_ids = tags['Customer'] | tags['Urgent']
    records[4].tag_ids = tags['Customer']
    records[0].write({'subject': 'Welcome to MailDesk', 'from_name': 'Ada Lovelace',
                      'from_address': 'ada@contoso.com', 'has_attachments': True, 'is_read': False,
                      'body_preview': 'Your Outlook mailbox is now in Odoo.',
                      'body_html': '<h2>Welcome!</h2><p>Your Outlook mailbox is now in Odoo.</p>'
                                   '<p><a href="https://example.com/guide">Read the guide</a></p>'})
    records[0].attachment_ids = env['ir.attachment'].sudo().create({
        'name': 'MailDesk guide.txt', 'raw': b'Welcome to MailDesk', 'mimetype': 'text/plain',
        'res_model': 'maildesk.message', 'res_id': records[0].id})
    return {'accounts': sales | support, 'folders': {'sales': sales_folders, 'support': support_folders},
            'tags': tags, 'messages': records}
