"""Sending a ``maildesk.draft`` through Microsoft Graph, on its account's token.

Why draft + send: with the permission level *Read & write back* (Mail.ReadWrite) a message is sent as an Outlook
draft (``POST /me/messages``, or ``createReply`` / ``createReplyAll`` / ``createForward`` so Outlook keeps the
conversation), completed (PATCH, attachments inline or through an upload session) and then sent (``/send``).
Every Graph call carries ``Prefer: IdType="ImmutableId"``, so the draft's id *is* the id of the Sent Items copy
(graph-api.md §5): the local Sent Items entry is stored under that id before ``/send``, and the sync's upsert by
(account, graph_id) later lands on the same row, whatever the order. The draft id is kept on the
``maildesk.draft`` record, so a retry looks the draft up first (already sent? then nothing is sent again) and
never sends twice. ``sendMail`` with MIME returns no id at all, so it could only be correlated afterwards.

With *Read only* (Mail.Read + Mail.Send, no draft may be created) MailDesk falls back on ``sendMail`` /
``reply`` / ``replyAll`` / ``forward`` with a JSON message carrying its own internetMessageId: the local entry
gets a placeholder id and is adopted by the sync through that internetMessageId. Attachments must then fit in
one request (no upload session without a draft).
"""
import datetime
import functools
import logging
import uuid

from odoo import fields, tools
from odoo.exceptions import UserError

from ..graph import errors, outgoing
from . import feedback, inline_images, shared_mailbox

_logger = logging.getLogger(__name__)

# Graph id of a local Sent Items entry sent without a draft (Read only): adopted later by its Message-ID.
LOCAL_ID_PREFIX = 'maildesk-local:'

# How long after a /send without a clear answer a 404 for the draft's id still means "on its way" (the draft left
# Drafts, its Sent Items copy is not there yet) rather than "deleted in Outlook".
SENT_COPY_GRACE = datetime.timedelta(minutes=15)

KIND_GRAPH = {'reply': 'reply', 'reply_all': 'replyAll', 'forward': 'forward'}


class DraftGone(errors.GraphError):
    """The Outlook draft of an earlier attempt is gone; its message is user-facing."""


class DraftSender:
    """Sends one ``maildesk.draft`` (already checked by the model) and records the outcome on it.

    The draft keeps what makes a retry safe: ``graph_draft_id`` (write back) or ``internet_message_id``
    (read only) name the earlier attempt, which is looked up before anything is sent again.
    """

    def __init__(self, draft):
        draft.ensure_one()
        self.draft = draft
        self.env = draft.env

    def send(self):
        """Send now; a Graph failure keeps the draft with its reason.

        :return: a notification action: success closes the dialog, a failure reopens the draft
        """
        draft = self.draft
        try:
            if draft._write_back():
                self._send_with_draft()
            else:
                self._send_without_draft()
        except errors.GraphError as exc:
            return self._send_failed(exc)
        return feedback.notification(self.env._('Message sent from %(email)s.', email=draft.account_id.email),
                                     'success', next_action=feedback.CLOSE_DIALOG)

    def delete_outlook_draft(self):
        """Delete the Outlook draft of an unsent attempt; a failure is only logged (the draft goes anyway)."""
        draft = self.draft
        try:
            client = draft.account_id._graph_client()
            if client.get_message(draft.graph_draft_id, body=False).get('isDraft'):
                client.delete_message(draft.graph_draft_id)
        except errors.NotFound:
            _logger.debug('MailDesk draft %s: its Outlook draft is already gone', draft.id)
        except errors.GraphError as exc:
            _logger.info('MailDesk draft %s: Outlook draft not deleted (%s)', draft.id, exc.message)

    # ------------------------------------------------------------------ the message JSON

    def _message_json(self, attachments=None, internet_message_id=None, images=False):
        """The message MailDesk controls: subject, HTML body, recipients and the Sender Name.

        :param attachments: ``ir.attachment`` records sent in the request, or None to leave attachments out
        :param images: whether the body's inline images travel in the request too
        """
        draft, account = self.draft, self.draft.account_id
        recipients = draft._recipients()
        on_behalf_of = shared_mailbox.on_behalf_sender(account)  # Send on Behalf: from = shared, sender = user
        files = None
        if attachments is not None or images:
            files = [_file(attachment) for attachment in attachments or ()]
            files += [image.as_file() for image in self._inline[1]] if images else []
        return outgoing.message(
            subject=draft.subject, body_html=self._outgoing_body(),
            to=recipients['to'], cc=recipients['cc'], bcc=recipients['bcc'],
            sender=(account.sender_name or '', account.email) if account.sender_name or on_behalf_of else None,
            internet_message_id=internet_message_id, on_behalf_of=on_behalf_of, attachments=files)

    @functools.cached_property
    def _inline(self):
        """``(body, images)``: pasted and dropped images the author may read, as ``cid:`` inline attachments."""
        draft = self.draft
        return inline_images.inline_body(self.env, draft.user_id, draft.body_html or '', draft.get_base_url())

    def _outgoing_body(self):
        """The HTML sent: inline images as ``cid:``, other local links (with their access token) made absolute."""
        body = self._inline[0]
        return self.env['mail.render.mixin']._replace_local_links(body) if body else ''

    def _images_size(self):
        return sum(len(image.data) for image in self._inline[1])

    # ------------------------------------------------------------------ with a draft (write back)

    def _send_with_draft(self):
        draft = self.draft
        client = draft.account_id._graph_client()
        if draft.graph_draft_id:
            try:
                current = client.get_message(draft.graph_draft_id, body=False)
            except errors.NotFound:
                if self._send_in_flight():
                    # An earlier /send of this draft is on its way: the draft left Drafts and its Sent Items copy
                    # (same immutable id) is not there yet. Never send twice; the sync adopts the local entry.
                    return self._finish_sent()
                # Deleted in Outlook: never guess, ask the user.
                draft._write_sending({'graph_draft_id': False})
                raise DraftGone(self.env._(
                    'Outlook no longer has the draft of this message. If an earlier attempt is still on its way, '
                    'it shows in Sent Items after the next sync; otherwise click Send again to send it as a new '
                    'message.')) from None
            if not current.get('isDraft'):
                return self._finish_sent(current)  # an earlier attempt went out: never send twice
            existing = client.list_attachments(draft.graph_draft_id)
            uploaded = [att.get('name') for att in existing if not att.get('isInline')]
            # contentId is a fileAttachment property, not the listed attachment's: read per inline attachment
            uploaded_images = {client.get_attachment(draft.graph_draft_id, att['id']).get('contentId')
                               for att in existing if att.get('isInline') and att.get('id')}
            client.update_draft(draft.graph_draft_id, self._message_json())
        else:
            uploaded, uploaded_images = self._create_graph_draft(client)
        self._ensure_local_entry()
        for attachment in draft.attachment_ids:
            if attachment.name in uploaded:
                uploaded.remove(attachment.name)
                continue
            client.add_attachment(draft.graph_draft_id, *_file(attachment))
        for image in self._inline[1]:
            if image.content_id not in uploaded_images:
                client.add_attachment(draft.graph_draft_id, *image.as_file())
        draft._write_sending({'send_requested_at': fields.Datetime.now()})
        try:
            client.send_draft(draft.graph_draft_id)
        except errors.Transient:
            # The connection dropped after the request left: ask Outlook whether it went out.
            if self._still_a_draft(client):
                draft._write_sending({'send_requested_at': False})
                raise
        except errors.GraphError:
            draft._write_sending({'send_requested_at': False})  # refused: the draft was not sent
            raise
        return self._finish_sent()

    def _still_a_draft(self, client):
        """Whether the Outlook draft is still a draft right after an unanswered /send.

        A 404 is the send in flight, not a lost draft: the draft has left Drafts and Outlook files its Sent Items
        copy (same immutable id) moments later (learn.microsoft.com/graph/outlook-immutable-id).
        """
        return still_a_draft(client, self.draft.graph_draft_id)

    def _send_in_flight(self):
        """An earlier attempt's /send may have gone out (no answer, or no answer to the check) a short while ago."""
        requested = self.draft.send_requested_at
        return bool(requested) and fields.Datetime.now() - requested < SENT_COPY_GRACE

    def _create_graph_draft(self, client):
        """Create the Outlook draft; small attachments (and the body's images) travel in the creating request.

        :return: (names of the attachments, content ids of the inline images) already on the draft
        """
        draft = self.draft
        inline = self.env['ir.attachment']
        with_images = False
        if draft.kind == 'new':
            budget = outgoing.INLINE_REQUEST_BUDGET - len((draft.body_html or '').encode())
            if self._inline[1] and self._images_size() <= budget:
                with_images = True
                budget -= self._images_size()
            for attachment in draft.attachment_ids.sorted('file_size'):
                if attachment.file_size < outgoing.SMALL_ATTACHMENT_LIMIT and attachment.file_size <= budget:
                    inline |= attachment
                    budget -= attachment.file_size
            created = client.create_draft(self._message_json(attachments=inline, images=with_images))
        else:
            created = client.create_reply(self._source_graph_id(), kind=KIND_GRAPH[draft.kind])
        draft._write_sending({'graph_draft_id': created['id'],
                              'internet_message_id': created.get('internetMessageId') or False,
                              'conversation_id': created.get('conversationId') or False})
        if draft.kind != 'new':
            # a forward keeps the original's attachments: they are on the draft already
            updated = client.update_draft(draft.graph_draft_id, self._message_json())
            draft._write_sending({'internet_message_id': (updated or {}).get('internetMessageId')
                                  or draft.internet_message_id})
        images = {image.content_id for image in self._inline[1]} if with_images else set()
        return list(inline.mapped('name')), images

    def _source_graph_id(self):
        source = self.draft.source_message_id
        if not source or not source.graph_id or source.graph_id.startswith(LOCAL_ID_PREFIX):
            raise UserError(self.env._('The message you answer is not in Outlook (yet): wait for the next sync of '
                                       'its folder, then reply again.'))
        return source.graph_id

    # ------------------------------------------------------------------ without a draft (read only)

    def _send_without_draft(self):
        """sendMail / reply / replyAll / forward with the whole message in one request (Mail.Send only)."""
        draft = self.draft
        if draft.attempt_count > 1 and draft.internet_message_id and self._find_sent_copy():
            return self._finish_sent()  # the sync already brought the copy of an earlier attempt
        if not draft.internet_message_id:
            draft._write_sending({'internet_message_id': '<%s@%s>' % (uuid.uuid4().hex, self._message_id_domain())})
        if sum(draft.attachment_ids.mapped('file_size')) + self._images_size() > outgoing.INLINE_REQUEST_BUDGET:
            raise UserError(self.env._(
                'With the permission level "Read only" the message and its files travel in one request: together '
                'they must stay below %(budget)s MB. Make the pictures in the text smaller or fewer, or ask an '
                'administrator to set MailDesk to "Read & write back".',
                budget='%.1f' % (outgoing.INLINE_REQUEST_BUDGET / outgoing.MB)))
        payload = self._message_json(attachments=draft.attachment_ids, images=True,
                                     internet_message_id=draft.internet_message_id)
        client = draft.account_id._graph_client()
        self._ensure_local_entry()
        if draft.kind == 'new':
            client.send_message(payload)
        else:
            client.reply(self._source_graph_id(), kind=KIND_GRAPH[draft.kind], message=payload)
        return self._finish_sent()

    def _message_id_domain(self):
        return (self.draft.account_id.email or '').rpartition('@')[2] or 'maildesk.invalid'

    def _find_sent_copy(self):
        draft = self.draft
        return self.env['maildesk.message'].sudo().with_context(active_test=False).search([
            ('account_id', '=', draft.account_id.id), ('internet_message_id', '=', draft.internet_message_id),
            ('is_local', '=', False)], limit=1)

    # ------------------------------------------------------------------ the local Sent Items entry

    def _ensure_local_entry(self):
        """The Sent Items row of this message: Outlook's copy when the sync already has it, else a local entry.

        Keyed like the sync, by (account, graph_id): with a draft the id is the future Sent Items id; without one
        a placeholder that the sync replaces through the internetMessageId.
        """
        draft = self.draft
        Message = self.env['maildesk.message'].sudo().with_context(active_test=False)
        graph_id = draft.graph_draft_id or '%s%s' % (LOCAL_ID_PREFIX, draft.internet_message_id)
        message = Message.search([('account_id', '=', draft.account_id.id), ('graph_id', '=', graph_id)], limit=1)
        if not message and draft.internet_message_id:
            message = self._find_sent_copy()
        values = self._local_entry_values(graph_id)
        if not message:
            message = Message.create(values)
        elif message.is_local or message.is_draft:
            message.write(values)  # a row of the Outlook draft (Drafts synced), or of an earlier attempt
        if not message.attachment_ids and draft.attachment_ids:
            # copies owned by the message, readable by whoever reads the mailbox (the filestore keeps one file)
            message.attachment_ids = [fields.Command.set([
                attachment.copy({'res_model': message._name, 'res_id': message.id}).id
                for attachment in draft.attachment_ids.sudo()])]
        draft._write_sending({'sent_message_id': message.id})
        return message

    def _local_entry_values(self, graph_id):
        draft = self.draft
        account, source, kind = draft.account_id, draft.source_message_id, draft.kind
        now = fields.Datetime.now()
        sent_folder = self.env['maildesk.folder'].sudo().search(
            [('account_id', '=', account.id), ('role', '=', 'sentitems')], limit=1)
        recipients = draft._recipients()
        partners = draft._recipient_partners()
        references = ' '.join(filter(None, [source.references, source.internet_message_id])) if source else False
        body = draft.body_html or ''
        on_behalf_of = shared_mailbox.on_behalf_sender(account)
        sender_name, sender_address = on_behalf_of or (account.sender_name or account.email, account.email)
        return {
            'account_id': account.id,
            'folder_id': sent_folder.id,
            'active': True,
            'graph_id': graph_id,
            'internet_message_id': draft.internet_message_id or False,
            'conversation_id': draft.conversation_id or (source.conversation_id if source else False),
            # unknown without a draft or an answered message: the sync then takes Outlook's conversationId
            'thread_key': (source.thread_key if source else False) or draft.conversation_id or False,
            'in_reply_to': source.internet_message_id if source and kind != 'forward' else False,
            'references': references if kind != 'forward' else False,
            'subject': draft.subject or '',
            'from_address': account.email,
            'from_name': account.sender_name or account.email,
            'sender_address': sender_address,
            'sender_name': sender_name or sender_address,
            'to_recipients': _display(recipients['to']),
            'cc_recipients': _display(recipients['cc']),
            'bcc_recipients': _display(recipients['bcc']),
            'partner_ids': [fields.Command.set(partners.ids)],
            'received_at': now,
            'sent_at': now,
            'seen_at': now,  # a round in progress must not sweep the entry it did not enumerate yet
            'body_preview': tools.html2plaintext(body)[:255].strip(),
            'body_html': body,
            'body_fetched_at': now,
            'is_read': True,
            'is_draft': False,
            'has_attachments': bool(draft.attachment_ids) or (kind == 'forward' and source.has_attachments),
            'direction': 'outgoing',
            'is_local': True,
            'pending_action': False,
        }

    # ------------------------------------------------------------------ outcome

    def _finish_sent(self, graph_message=None):
        draft = self.draft
        message = draft.sent_message_id or self._ensure_local_entry()
        draft._write_sending({'state': 'sent', 'sent_at': fields.Datetime.now(), 'last_error': False,
                              'internet_message_id': draft.internet_message_id
                              or (graph_message or {}).get('internetMessageId') or False})
        return message

    def _send_failed(self, exc):
        """Keep the draft, drop the local entry of this attempt, and show why (nothing typed is lost)."""
        draft = self.draft
        entry = draft.sent_message_id
        if entry and entry.is_local:
            entry.sudo().unlink()
        if isinstance(exc, DraftGone):
            message = exc.message
        elif shared_mailbox.send_refused_text(self.env, draft.account_id, exc):
            message = shared_mailbox.send_refused_text(self.env, draft.account_id, exc)  # ErrorSendAsDenied
        else:
            message = feedback.graph_error_text(self.env, exc, self.env._('send the message'))
        _logger.info('MailDesk draft %s: send failed (%s)', draft.id, exc.__class__.__name__)
        draft._write_sending({'state': 'failed', 'last_error': message, 'sent_message_id': False})
        return feedback.notification(message, 'danger', title=self.env._('Not sent'), sticky=True,
                                     next_action=draft._form_action())


def still_a_draft(client, graph_id):
    """Whether Outlook's draft ``graph_id`` is still a draft after an unanswered /send (a 404 is the send in flight:
    the draft left Drafts, its Sent Items copy comes moments later)."""
    try:
        return bool(client.get_message(graph_id, body=False).get('isDraft'))
    except errors.NotFound:
        return False


def _file(attachment):
    """``(name, content_type, data)`` of an ``ir.attachment``, as :mod:`graph.outgoing` takes them."""
    return attachment.name, attachment.mimetype or outgoing.DEFAULT_CONTENT_TYPE, attachment.raw or b''


def _display(pairs):
    return ', '.join(tools.formataddr((name or '', address)) for name, address in pairs)
