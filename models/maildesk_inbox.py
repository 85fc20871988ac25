"""``maildesk.inbox``: the reads of the OWL inbox (``static/src``): folder tree, list pages, reading pane.

A model without a table: every entry point starts from ``search()`` / ``_search()`` on ``maildesk.message`` or
``maildesk.folder``, so their ir.rules apply. The message actions the inbox calls are ``maildesk.message``
methods (see ARCHITECTURE.md, "Inbox bus contract").
"""
import re
import shlex
from datetime import date, datetime, time, timedelta
from email.utils import getaddresses

import pytz

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.osv import expression
from odoo.tools import SQL, remove_accents
from odoo.tools.query import Query
from odoo.tools.sql import escape_psql

from ..engine import bodies, body_prefetch, bulk_actions, feedback, log_to_record
from ..graph import errors
from .maildesk_folder import ROLE_ORDER

PAGE_LIMIT_MAX = 200
# folders left out of "All mailboxes" and of an account's "all mail" view
UNIFIED_EXCLUDED_ROLES = ('deleteditems', 'junkemail', 'drafts')
QUICK_FILTERS = {
    'unread': [('is_read', '=', False)],
    'flagged': [('flag_status', '=', 'flagged')],
    'attachments': [('has_attachments', '=', True)],
    'incoming': [('direction', '=', 'incoming')],
    'outgoing': [('direction', '=', 'outgoing')],
}
LIST_FIELDS = ['subject', 'from_name', 'from_address', 'to_recipients', 'received_at', 'sent_at',
               'body_preview', 'is_read', 'flag_status', 'has_attachments', 'tag_ids', 'direction',
               'account_id', 'folder_id', 'thread_key', 'is_local', 'pending_action']
SEARCH_KEYS = {
    'from': ['from_name', 'from_address'],
    'to': ['to_recipients', 'cc_recipients'],
    'subject': ['subject'],
    'preview': ['body_preview'],
    'body': ['body_preview'],
}
BULK_ACTIONS = ('mark_read', 'mark_unread', 'flag', 'unflag', 'tag', 'move', 'delete', 'log')
SEARCH_TOKEN = re.compile(r'^(from|to|subject|preview|body|tag|since|until):(.*)$', re.I)


# Latin letters with a diacritic (both cases) and their lower-case base letter: PostgreSQL's translate() makes the
# search accent insensitive ("cafe" finds "café") on databases without the unaccent extension (with it, Odoo's ilike
# unaccents). Upper case too: lower() of a database created with the C locale only lowers ASCII.
_ACCENTED = ''.join(c for c in map(chr, range(0xC0, 0x250))
                    if len(remove_accents(c)) == 1 and remove_accents(c) != c)
_UNACCENTED = ''.join(remove_accents(c).lower() for c in _ACCENTED)


def parse_search(text):
    """Split a search string into ``{key: [values]}``; keys: text, from, to, subject, preview, tag,
    since, until. ``from:ann subject:"q3 report" since:2024-01-01 hello`` -> one value each."""
    try:
        words = shlex.split(text or '')
    except ValueError:  # unbalanced quote: treat the string as plain words
        words = (text or '').replace('"', ' ').split()
    parsed = {}
    for word in words:
        match = SEARCH_TOKEN.match(word)
        key, value = (match.group(1).lower(), match.group(2)) if match else ('text', word)
        if value.strip():
            parsed.setdefault('preview' if key == 'body' else key, []).append(value.strip())
    return parsed


def _first_name(recipients):
    """Display name (else address) of the first recipient of a ``Name <addr>, ...`` list."""
    pairs = getaddresses([recipients or ''])
    name, address = pairs[0] if pairs else ('', '')
    return name or address


class MaildeskInbox(models.AbstractModel):
    _name = 'maildesk.inbox'
    _description = 'MailDesk: inbox reads (folder tree, message list, reading pane)'

    # ------------------------------------------------------------------ folder tree
    @api.model
    def maildesk_folder_tree(self):
        """Accounts the user can see, each with its whole Outlook folder tree (nested; ``synced`` False for the
        folders not synced: shown greyed, synced on demand), unread counts and status."""
        # every account the record rules let this user see: a handful, not a table scan to page
        accounts = self.env['maildesk.account'].search([])  # pylint: disable=no-search-all
        folders = self.env['maildesk.folder'].search([('account_id', 'in', accounts.ids)])
        # the same counts as the account's Folders tab (maildesk.folder._local_counts)
        unread = {folders.browse(folder_id): counts[1] for folder_id, counts in folders._local_counts().items()}
        folders_of = folders.grouped('account_id')
        tree = [self._account_node(account, folders_of.get(account, folders.browse()), unread)
                for account in accounts]
        tags = self.env['maildesk.tag'].search_read([], ['name', 'color'])  # pylint: disable=no-search-all
        return {
            'accounts': tree,
            'all_unread': sum(node['unread'] for node in tree),
            'tags': tags,
            'is_manager': self.env.user.has_group('maildesk.group_maildesk_manager'),
        }

    @api.model
    def _account_node(self, account, folders, unread):
        nodes = [self._folder_node(folder, unread.get(folder, 0)) for folder in folders]
        unified = [n for n in nodes if n['synced'] and n['role'] not in UNIFIED_EXCLUDED_ROLES]
        return {
            'id': account.id,
            'name': account.name,
            'email': account.email,
            'state': account.state,
            'last_sync_at': fields.Datetime.to_string(account.last_sync_at),
            'last_error': account.last_error or '',
            'folder_count': len(folders),
            'unread': sum(n['unread'] for n in unified),
            'status': self._account_status(account, folders.filtered('sync_enabled'), has_folders=bool(folders)),
            'folders': self._nest_folders(nodes),
        }

    @api.model
    def _folder_node(self, folder, unread):
        return {
            'id': folder.id,
            'name': folder.name,
            'role': folder.role or '',
            'parent_id': folder.parent_id.id,
            'unread': unread,
            'synced': folder.sync_enabled,
            'sync_state': folder.sync_state,
            'backfill_progress': folder.backfill_progress,
            'last_error': folder.last_error or '',
            'children': [],
        }

    @api.model
    def _nest_folders(self, nodes):
        by_id = {n['id']: n for n in nodes}
        roots = []
        for node in nodes:
            parent = by_id.get(node['parent_id'])
            (parent['children'] if parent else roots).append(node)
        for siblings in [roots] + [n['children'] for n in nodes]:
            siblings.sort(key=lambda n: (ROLE_ORDER.get(n['role'], 99), n['name'].lower()))
        return roots

    @api.model
    def _account_status(self, account, folders, has_folders=True):
        """What the folder pane shows under an account: kind, label, progress (0-100), message and, where one
        click is the next step, ``action`` (``fetch_folders``: an account whose folder tree was never fetched).

        :param folders: the synced folders of the account
        :param has_folders: the account's folder tree is known (Fetch Folders ran)
        """
        labels = dict(account._fields['state']._description_selection(self.env))
        if account.state == 'auth_invalid':
            # why Microsoft refused (it says what to click), else what suspended means
            return {'kind': 'auth_invalid', 'label': _('Sync suspended'), 'progress': 0,
                    'message': account.last_error or feedback.suspended_text(self.env)}
        if account.state in ('not_authorized', 'error'):
            return {'kind': account.state, 'label': labels[account.state], 'progress': 0,
                    'message': account.last_error or ''}
        if account.auth_failure_count:
            # Microsoft refused the sign-in (not yet suspended): not "Connected", whatever the folders say
            return {'kind': 'auth_failing', 'label': _('Sign-in refused'), 'progress': 0,
                    'message': account.last_error or ''}
        states = set(folders.mapped('sync_state'))
        if 'newest' in states:
            return {'kind': 'syncing', 'label': _('Syncing newest'), 'progress': 0, 'message': ''}
        backfilling = folders.filtered(lambda f: f.sync_state == 'backfilling')
        if backfilling:
            progress = sum(backfilling.mapped('backfill_progress')) / len(backfilling)
            return {'kind': 'backfilling', 'label': _('Backfilling'), 'progress': round(progress, 1),
                    'message': ''}
        failing = folders.filtered(lambda f: f.sync_state == 'error')
        if failing:
            return {'kind': 'folder_error', 'label': _('Folder error'), 'progress': 0,
                    'message': '%s: %s' % (failing[0].name, failing[0].last_error or '')}
        if not folders:
            # the next step, in the user's words: what blocks the sync (e.g. the incoming server), else the click
            blocked = account._check_can_sync()
            if not has_folders:
                return {'kind': 'no_folders', 'label': _('No folder synced'), 'progress': 0, 'action': 'fetch_folders',
                        'message': blocked or _('Click "Get folders" to list the Outlook folders of this mailbox.')}
            return {'kind': 'no_folders', 'label': _('No folder synced'), 'progress': 0,
                    'message': blocked or _('Open a folder below (Inbox, Sent Items...) and click "Sync this folder".')}
        return {'kind': 'connected', 'label': labels.get('connected', _('Connected')), 'progress': 100,
                'message': ''}

    # ------------------------------------------------------------------ message list
    @api.model
    def maildesk_list(self, view=None, filters=(), search='', grouped=False, offset=0, limit=50, count=True):
        """One page of the message list.

        ``view``: ``{'type': 'all'|'account'|'folder'|'tag', 'id': int}``; ``filters``: names from
        QUICK_FILTERS; ``search``: see :func:`parse_search`; ``grouped``: one row per conversation;
        ``count=False`` (later pages) skips counting unless the page is the last one.
        Returns ``{'total', 'offset', 'rows'}`` (``total`` None when not counted); rows are newest first.
        """
        limit = max(1, min(int(limit), PAGE_LIMIT_MAX))
        offset = max(0, int(offset))
        domain = self._list_domain(view or {'type': 'all'}, filters, search)
        body_prefetch.list_opened(self.env, view, offset)  # a folder's newest bodies, fetched in the background
        if grouped:
            return self._list_grouped(domain, offset, limit, count)
        Message = self.env['maildesk.message']
        records = Message.search_fetch(domain, LIST_FIELDS, offset=offset, limit=limit,
                                       order='received_at desc, id desc')
        if len(records) < limit and (records or not offset):
            total = offset + len(records)  # the last page: no need to count
        else:
            total = Message.search_count(domain) if count else None
        return {'total': total, 'offset': offset, 'rows': [self._message_row(m) for m in records]}

    @api.model
    def _message_row(self, message, thread_count=1, thread_unread=0):
        message.ensure_one()
        return {
            'id': message.id,
            'subject': message.subject or '',
            'from_name': message.from_name or message.from_address or '',
            'from_address': message.from_address or '',
            'to': _first_name(message.to_recipients),
            'date': fields.Datetime.to_string(message.received_at or message.sent_at),
            'preview': (message.body_preview or '')[:200],
            'is_read': message.is_read,
            'is_flagged': message.flag_status == 'flagged',
            'has_attachments': message.has_attachments,
            'tag_ids': message.tag_ids.ids,
            'direction': message.direction or 'incoming',
            'account_id': message.account_id.id,
            'folder_id': message.folder_id.id,
            'folder_role': message.folder_id.role or '',
            'is_local': message.is_local,
            'pending': bool(message.pending_action),
            'thread_count': thread_count,
            'thread_unread': thread_unread,
        }

    @api.model
    def _list_domain(self, view, filters, search):
        domain = self._view_domain(view)
        for name in filters or ():
            if name not in QUICK_FILTERS:
                raise UserError(_('Unknown filter: %s', name))
            domain = expression.AND([domain, QUICK_FILTERS[name]])
        return expression.AND([domain, self._search_domain(parse_search(search))])

    @api.model
    def _view_domain(self, view):
        kind, res_id = view.get('type', 'all'), view.get('id')
        if kind == 'folder':
            return [('folder_id', '=', int(res_id))]
        if kind == 'tag':
            return [('tag_ids', 'in', [int(res_id)])]
        folder_domain = [('sync_enabled', '=', True), ('role', 'not in', UNIFIED_EXCLUDED_ROLES)]
        if kind == 'account':
            folder_domain.append(('account_id', '=', int(res_id)))
        elif kind != 'all':
            raise UserError(_('Unknown inbox view: %s', kind))
        return [('folder_id', 'in', self.env['maildesk.folder'].search(folder_domain).ids)]

    @api.model
    def _search_domain(self, parsed):
        domains = []
        for key, field_names in SEARCH_KEYS.items():
            for value in parsed.get(key, ()):
                domains.append(self._text_domain(field_names, value))
        every = ('subject', 'from_name', 'from_address', 'to_recipients', 'cc_recipients', 'body_preview')
        for value in parsed.get('text', ()):
            domains.append(self._text_domain(every, value))
        for value in parsed.get('tag', ()):
            domains.append([('tag_ids.name', 'ilike', value)])
        if parsed.get('since'):
            since = self._parse_day(parsed['since'][-1])
            domains.append([('received_at', '>=', self._day_start(since))])
        if parsed.get('until'):
            day_after = self._parse_day(parsed['until'][-1]) + timedelta(days=1)
            domains.append([('received_at', '<', self._day_start(day_after))])
        return expression.AND(domains) if domains else []

    @api.model
    def _text_domain(self, field_names, value):
        """Messages with ``value`` in one of ``field_names``, case and accent insensitive."""
        if self.env.registry.has_unaccent:  # Odoo's ilike compares unaccent(column) with unaccent(value)
            return expression.OR([[(name, 'ilike', value)] for name in field_names])
        Message = self.env['maildesk.message']
        Message.flush_model(field_names)  # the condition below reads the columns in SQL
        table = Message._table
        pattern = '%%%s%%' % escape_psql(remove_accents(value).lower())
        query = Query(self.env, table)
        query.add_where(SQL('(%s)', SQL(' OR ').join(
            SQL('lower(translate(%s, %s, %s)) LIKE %s', SQL.identifier(table, name), _ACCENTED, _UNACCENTED, pattern)
            for name in field_names)))
        return [('id', 'in', query)]

    @api.model
    def _parse_day(self, value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise UserError(_('"%(value)s" is not a date; write it as YYYY-MM-DD.', value=value)) from None

    @api.model
    def _day_start(self, day):
        """Midnight of ``day`` in the user's timezone, as a naive UTC datetime."""
        tz = pytz.timezone(self.env.context.get('tz') or self.env.user.tz or 'UTC')
        return tz.localize(datetime.combine(day, time.min)).astimezone(pytz.utc).replace(tzinfo=None)

    @api.model
    def _list_grouped(self, domain, offset, limit, count=True):
        """One row per conversation (``thread_key``, or the message itself without one), newest first.

        Two cheap passes: the page of conversations and their number (one hash aggregate over the
        folder's index), then the newest message of each of these conversations only.
        """
        Message = self.env['maildesk.message']
        Message.flush_model(['thread_key', 'received_at', 'is_read', 'active', 'folder_id'])
        col = lambda name: SQL.identifier(Message._table, name)  # noqa: E731
        key = SQL('COALESCE(%s, %s::text)', col('thread_key'), col('id'))
        query = Message._search(domain)
        query.groupby = key
        query.order = SQL('max(%s) DESC NULLS LAST, max(%s) DESC', col('received_at'), col('id'))
        query.limit, query.offset = limit, offset
        # count(*) OVER (): the number of conversations, from the same aggregate as the page
        groups = self.env.execute_query(query.select(
            key, SQL('min(%s)', col('thread_key')), SQL('count(*)'),
            SQL('count(*) FILTER (WHERE %s IS NOT TRUE)', col('is_read')), SQL('count(*) OVER ()')))
        if groups:
            total = groups[0][4]
        elif offset and count:  # past the end: count on its own
            query.order, query.limit, query.offset = None, None, None
            total = self.env.execute_query(SQL('SELECT count(*) FROM (%s) AS threads', query.select(SQL('1'))))[0][0]
        else:
            total = None if offset else 0
        latest = self._latest_by_thread(domain, [g[1] for g in groups if g[1]],
                                        [int(g[0]) for g in groups if not g[1]])
        records = Message.browse([latest[g[0]] for g in groups])
        records.fetch(LIST_FIELDS)
        return {'total': total, 'offset': offset,
                'rows': [self._message_row(rec, n, unread)
                         for rec, (_k, _t, n, unread, _total) in zip(records, groups, strict=True)]}

    @api.model
    def _latest_by_thread(self, domain, thread_keys, loner_ids):
        """``{conversation key: id of its newest message}`` for these conversations, within ``domain``."""
        if not thread_keys and not loner_ids:
            return {}
        Message = self.env['maildesk.message']
        col = lambda name: SQL.identifier(Message._table, name)  # noqa: E731
        key = SQL('COALESCE(%s, %s::text)', col('thread_key'), col('id'))
        query = Message._search(expression.AND([domain, expression.OR([
            [('thread_key', 'in', thread_keys)], [('id', 'in', loner_ids)]])]))
        rows = self.env.execute_query(SQL(
            'SELECT DISTINCT ON (%s) %s, %s FROM %s WHERE %s ORDER BY %s, %s DESC NULLS LAST, %s DESC',
            key, key, col('id'), query.from_clause, query.where_clause, key, col('received_at'), col('id')))
        return dict(rows)

    @api.model
    def maildesk_sync_folder(self, folder_id):
        """ "Sync this folder": an unsynced folder of the tree starts syncing, and a round runs now."""
        folder = self.env['maildesk.folder'].search([('id', '=', int(folder_id))])
        if not folder:
            raise UserError(_('This folder is no longer available.'))
        folder.check_access('write')
        folder.sync_enabled = True
        return folder.account_id.action_sync_now()

    # ------------------------------------------------------------------ selection and bulk actions
    @api.model
    def maildesk_selection_ids(self, view=None, filters=(), search='', exclude_ids=(), ids=None, grouped=False):
        """The ids of every message of a selection, newest first. ``view``, ``filters``, ``search``, ``grouped``:
        the list, as for :meth:`maildesk_list`.

        ``ids`` None: "select all in this folder", the whole list, not the rows loaded, but ``exclude_ids``;
        else the rows ticked. ``grouped`` (conversation rows): a row ticked or left out stands for every message of
        its conversation in the list, not only its newest one.
        """
        domain = self._list_domain(view or {'type': 'all'}, filters, search)
        if ids is not None:
            picked = [int(i) for i in ids]
            domain = expression.AND([domain, self._conversations_domain(picked) if grouped
                                     else [('id', 'in', picked)]])
        if exclude_ids:
            excluded = [int(i) for i in exclude_ids]
            left_out = self._conversations_domain(excluded) if grouped else [('id', 'in', excluded)]
            domain = expression.AND([domain, ['!', *expression.normalize_domain(left_out)]])
        found = self.env['maildesk.message']._search(domain, order='received_at desc, id desc',
                                                     limit=bulk_actions.MAX_SELECTION + 1).get_result_ids()
        if len(found) > bulk_actions.MAX_SELECTION:
            raise UserError(_('This selection holds more than %(max)s messages: narrow it with a filter or a search '
                              'first.', max=bulk_actions.MAX_SELECTION))
        return list(found)

    @api.model
    def _conversations_domain(self, message_ids):
        """The messages of the conversations of ``message_ids`` (what a conversation row stands for)."""
        picked = self.env['maildesk.message'].search([('id', 'in', message_ids)])
        keys = [key for key in set(picked.mapped('thread_key')) if key]
        loners = picked.filtered(lambda m: not m.thread_key).ids
        return expression.OR([[('thread_key', 'in', keys)], [('id', 'in', loners)]])

    @api.model
    def maildesk_bulk(self, message_ids, action, value=None):
        """One chunk of a bulk action (see :mod:`engine.bulk_actions`) on the messages the caller may change.

        ``action``: one of BULK_ACTIONS; ``value``: the folder id (move), a tag id (tag: added), ``[model, id]`` (log:
        the record, checked once here: a record with a chatter the caller may write on).
        """
        if action not in BULK_ACTIONS:
            raise UserError(_('Unknown message action: %s', action))
        ids = [int(i) for i in message_ids or ()]
        if len(ids) > bulk_actions.MAX_SELECTION:
            raise UserError(_('Send at most %(max)s messages at a time.', max=bulk_actions.MAX_SELECTION))
        if action == 'log':
            value = log_to_record.target_record(self.env, value)
        messages = self.env['maildesk.message'].search([('id', 'in', ids)])
        return bulk_actions.run(messages, action, value)

    @api.model
    def maildesk_bulk_undo(self, undo):
        """Undo a bulk move or delete: ``undo`` as :meth:`maildesk_bulk` returned it."""
        return {'restored': bulk_actions.undo(self.env, undo)}

    # ------------------------------------------------------------------ reading pane
    @api.model
    def maildesk_read(self, message_id, mark_read=True):
        """The reading pane: headers, sanitized body (fetched from Outlook on first open), attachments
        and the other messages of the conversation. Marks the message read."""
        message = self.env['maildesk.message'].search([('id', '=', int(message_id))])
        if not message:
            raise UserError(_('This message is no longer available.'))
        body_error = self._ensure_body(message)
        if mark_read and not message.is_read:
            message.action_mark_read()
        files = bodies.attachment_rows(message)  # files, attached messages (.eml), cloud links downloaded so far
        return dict(
            self._message_row(message),
            **bodies.body_display(message),  # body_html, inline_images: all the frame loads before "Show images"
            cc=message.cc_recipients or '',
            to_all=message.to_recipients or '',
            body_error=body_error,
            attachments=files,
            attachments_missing=message.has_attachments and not files,
            meeting=bodies.meeting_summary(message),  # an invitation's when / where / who, above the body
            account_name=message.account_id.name,
            folder_name=message.folder_id.name or '',
            logged_to=self._logged_to(message),
            routed=bool(self.env['maildesk.route'].sudo().search_count(  # logged_to came from the mail gateway
                [('message_id', '=', message.id), ('state', '=', 'routed')], limit=1)),
            thread=self._thread_rows(message),
        )

    @api.model
    def maildesk_mark_opened(self, message_id):
        """Mark a message read once the reading pane shows it (``maildesk_read(..., mark_read=False)``): the pane
        never waits for Outlook. Returns the notification when Outlook refused (the message is unread again), else
        False; with "Read only" reading stays a local change and says nothing."""
        message = self.env['maildesk.message'].search([('id', '=', int(message_id))])
        if not message or message.is_read:
            return False
        result = message.action_mark_read()
        write_back = self.env['maildesk.account']._maildesk_settings()['write_back']
        return result if write_back and isinstance(result, dict) else False

    @api.model
    def maildesk_body_frame(self, message_id):
        """The message form's body frame: the stored body as the reading pane shows it and its inline image URLs
        (nothing fetched, nothing marked read)."""
        message = self.env['maildesk.message'].search([('id', '=', int(message_id))])
        return bodies.body_display(message) if message else {'body_html': '', 'inline_images': []}

    @api.model
    def _ensure_body(self, message):
        """Fetch the body once; return why it could not be, or ''."""
        if message.body_fetched_at:
            return ''
        try:
            with self.env.cr.savepoint():
                message._fetch_body()
        except UserError as error:
            return str(error.args[0] if error.args else error)
        except errors.GraphError as error:  # e.g. AuthInvalid before any request
            return feedback.graph_error_text(self.env, error, _('load the message'))
        return ''

    @api.model
    def _logged_to(self, message):
        if not message.res_model or not message.res_id or message.res_model not in self.env:
            return False
        record = self.env[message.res_model].browse(message.res_id).exists()
        return record and {'model': message.res_model, 'id': record.id, 'name': record.sudo().display_name}

    @api.model
    def _thread_rows(self, message):
        if not message.thread_key:
            return []
        others = self.env['maildesk.message'].search_fetch(
            [('account_id', '=', message.account_id.id), ('thread_key', '=', message.thread_key)],
            LIST_FIELDS, limit=50, order='received_at asc, id asc')
        return [self._message_row(m) for m in others] if len(others) > 1 else []
