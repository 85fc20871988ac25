"""Deterministic mailbox generator + on-demand bodies / attachments (graph-api.md §4).

Messages are compact slotted objects; bodies and attachment bytes are produced only when asked for, from the
message's ``body_seed`` / ``att_kind``, so 200,000 messages seed in about a second.
"""
import html
import random
import re
import time

from . import DOMAIN
from .mailstore import REG_PREFIX, Mailbox, Message
from .util import now

USER_NAMES = [('adele', 'Adele Vance'), ('megan', 'Megan Bowen')]
# graph-api.md §10 / issue 3 §5: names and subjects in several scripts (emoji, CJK, RTL)
CONTACTS = [('Alex Wilber', 'alexw@fabrikam.test'), ('李雷', 'li.lei@example.cn'), ('山田 太郎', 'taro@example.jp'),
            ('محمد العلي', 'm.alali@example.ae'), ('דנה כהן', 'dana@example.co.il'), ('Zoë Ünal-Øster', 'zoe@example.de'),
            ('Σοφία Παππά', 'sofia@example.gr'), ('Иван Петров', 'ivan@example.ru'), ('🚀 Launch Team', 'launch@rockets.test'),
            ('Priya Natarajan', 'priya@example.in'), ('Newsletter', 'news@newsletter.test'), ('김민준', 'minjun@example.kr')]
TOPICS = ['Quarterly report Q%d', 'Project Apollo – status update', 'Lunch on Friday? 🍕', '会议纪要：产品路线图',
          'プロジェクトの進捗について', 'تحديث المشروع الأسبوعي', 'עדכון סטטוס שבועי', 'Invoice #%d from Fabrikam',
          'Re-org announcement', 'Your flight ✈️ to Zürich', 'Security alert: new sign-in', 'Ünïcödé test — naïve café',
          'Weekly newsletter #%d 📰', 'Design review: mail sync', 'Contract renewal (urgent)', 'Привет! Вопрос по счету']
PARAS = ['Please find the latest numbers below; let me know if anything looks off.',
         'Thanks for the quick turnaround on this — really appreciated! 🙏',
         '我们下周二开会讨论这个问题，请准备好相关材料。', 'ご確認のほど、よろしくお願いいたします。',
         'شكراً لكم على التعاون، سنتواصل معكم قريباً.', 'תודה רבה על העזרה, נדבר מחר בבוקר.',
         'The sync engine must be idempotent: replays & duplicates happen <all the time>.',
         'Reminder: the deadline is end of month. Straße, Ærø, Ōsaka, São Paulo.',
         'Can we move the call to 15:00 CET? 📅', 'Attached is the draft; comments welcome.']
CATEGORIES = ['Red category', 'Blue category', 'Green category', 'Travel', 'Finance']
HOSTILE = ('<script>alert("pwned")</script><img src="https://tracker.evil.test/p.gif" onerror="alert(1)">'
           '<a href="javascript:alert(document.cookie)">Click me</a><div onclick="steal()" '
           'style="background:url(javascript:alert(3))">hover</div><iframe src="https://evil.test/"></iframe>')
# a 1x1 transparent PNG
PNG = (b'\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89'
       b'\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x03\x00\x08\xfc\x02\xfe\xa7\x9a\xa0\xa0\x00\x00\x00\x00IEND\xaeB`\x82')
BIG_SIZE = 3 * 1024 * 1024 + 200_000  # issue 3 §5: one attachment over 3 MB (graph-api.md §4.5 upload limit)
TEN_YEARS = 10 * 365 * 86400
REF_URL = 'https://contoso-my.sharepoint.com/personal/adele/Documents/Budget%%202025.xlsx?d=%s'

# folder tree: (name, well-known, hidden, children); > 10 visible top-level folders, 3-level nesting under Inbox
TREE = [('Inbox', 'inbox', False, [('Projects', None, False, [('Apollo', None, False, [('Specs', None, False, [])]),
                                                            ('Zeus ⚡', None, False, [])]),
                                  ('Team 团队', None, False, []), ('Alerts', None, False, [])]),
        ('Drafts', 'drafts', False, []), ('Sent Items', 'sentitems', False, []),
        ('Deleted Items', 'deleteditems', False, []), ('Junk Email', 'junkemail', False, []),
        ('Outbox', 'outbox', False, []), ('Archive', 'archive', False, [('2016', None, False, [])]),
        ('Conversation History', 'conversationhistory', False, []),
        ('Sync Issues', 'syncissues', False, [('Conflicts', 'conflicts', False, []),
                                              ('Local Failures', 'localfailures', False, []),
                                              ('Server Failures', 'serverfailures', False, [])]),
        ('Receipts', None, False, []), ('Travel ✈️', None, False, []), ('客户 (Clients)', None, False, []),
        ('פרויקטים', None, False, []), ('Newsletters', None, False, []), ('Clutter', 'clutter', False, []),
        ('PersonMetadata', None, True, []), ('Scheduled', 'scheduled', True, [])]


def user_identity(i):
    if i < len(USER_NAMES):
        local, name = USER_NAMES[i]
    else:
        local, name = 'user%d' % (i + 1), 'User %d' % (i + 1)
    oid = '%08x-0000-4000-8000-%012x' % (0xad000000 + i, 0x5eed0000 + i)
    return '%s@%s' % (local, DOMAIN), name, oid


def build_mailbox(store, idx, seed, identity=None):
    address, name, oid = identity or user_identity(idx)
    mbx = Mailbox(idx, address, name, oid, seed)
    store.add_mailbox(mbx)
    root = store.add_folder(mbx, 'Root', None, log=False)
    mbx.root_id = root.id
    top = store.add_folder(mbx, 'Top of Information Store', root.id, 'msgfolderroot', log=False)
    store.add_folder(mbx, 'Recoverable Items Deletions', root.id, 'recoverableitemsdeletions', True, log=False)
    store.add_folder(mbx, 'Finder', root.id, 'searchfolders', True, log=False)

    def walk(parent, nodes):
        for fname, wk, hidden, children in nodes:
            folder = store.add_folder(mbx, fname, parent, wk, hidden)
            walk(folder.id, children)
    walk(top.id, TREE)
    return mbx


def _contact(rng):
    return CONTACTS[rng.randrange(len(CONTACTS))]


def _subject(rng):
    topic = TOPICS[rng.randrange(len(TOPICS))]
    return topic % rng.randrange(1, 999) if '%d' in topic else topic


def new_message(mbx, rng, received, subject, sender, to, conv, reply_depth=0, is_read=None):
    msg = Message()
    msg.core = mbx.new_core()
    msg.subject = subject
    msg.sender = sender
    msg.to = to
    msg.received = received
    msg.sent = received - rng.randrange(1, 120)
    msg.created = received
    msg.modified = received + 1
    msg.is_read = rng.random() < 0.7 if is_read is None else is_read
    msg.imid = '<%s.%d@%s>' % (msg.core[:16], reply_depth, sender[1].split('@')[-1])
    msg.conv = conv
    msg.conv_index = reply_depth
    msg.body_seed = rng.getrandbits(31)
    r = rng.random()
    msg.att_kind = 1 if r < 0.09 else 2 if r < 0.12 else 3 if r < 0.13 else 0
    if rng.random() < 0.06:
        msg.flag = {'flagStatus': 'flagged'} if rng.random() < 0.7 else {'flagStatus': 'complete'}
    if rng.random() < 0.05:
        msg.categories = (CATEGORIES[rng.randrange(len(CATEGORIES))],)
    if rng.random() < 0.03:
        msg.importance = 'high'
    return msg


def conversation_id(mbx, n):
    return 'AAQkAGI2%08x%06x' % (mbx.idx * 7919 + mbx.seed, n) + 'AQAQAA=='


def gen_messages(mbx, rng, count, incoming=True, start=None, span=TEN_YEARS):
    """Conversations with replies spread over ten years (newest ~ now)."""
    me = (mbx.name, mbx.address)
    end = int(start or now()) - 60
    msgs = []
    conv_n = mbx.counter
    while len(msgs) < count:
        conv_n += 1
        conv = conversation_id(mbx, conv_n)
        subject = _subject(rng)
        other = _contact(rng)
        t = end - rng.randrange(span)
        depth = 1 if rng.random() < 0.6 else rng.randrange(2, 6)
        for d in range(min(depth, count - len(msgs))):
            sender, to = (other, (me,)) if incoming else (me, (other,))
            subj = subject if d == 0 else 'RE: ' + subject
            t = min(t + rng.randrange(60, 3 * 86400), end)
            msgs.append(new_message(mbx, rng, t, subj, sender, to, conv, d, None if incoming else True))
    return msgs


def seed_mailbox(store, mbx, messages, rng, anchor=None):
    fid = mbx.wk
    inbox_msgs = gen_messages(mbx, rng, messages, start=anchor)
    if inbox_msgs:
        big = inbox_msgs[min(5, len(inbox_msgs) - 1)]
        big.att_kind = 4  # issue 3 §5: one attachment over 3 MB
        for m in inbox_msgs[:60:7]:
            m.body_seed = m.body_seed - m.body_seed % 40  # a few hostile bodies (seed % 40 == 0)
    if len(inbox_msgs) >= 40:
        exotic(inbox_msgs)
    store.bulk_insert(mbx, mbx.folders[fid['inbox']], inbox_msgs)
    store.bulk_insert(mbx, mbx.folders[fid['sentitems']],
                      gen_messages(mbx, rng, max(messages // 10, 3), False, start=anchor))
    for name, n in (('archive', 5), ('deleteditems', 3), ('junkemail', 3)):
        store.bulk_insert(mbx, mbx.folders[fid[name]], gen_messages(mbx, rng, n, start=anchor))
    drafts = gen_messages(mbx, rng, 2, False, start=anchor, span=86400 * 30)
    for d in drafts:
        d.is_draft = True
    store.bulk_insert(mbx, mbx.folders[fid['drafts']], drafts)
    top = mbx.folders[fid['msgfolderroot']]
    for folder in list(mbx.folders.values()):
        if folder.wk is None and not folder.hidden and folder.id != mbx.root_id and folder.id != top.id:
            store.bulk_insert(mbx, folder, gen_messages(mbx, rng, 2, start=anchor))
    for msg in mbx.msgs.values():
        body_preview(msg)  # Exchange stores bodyPreview with the message, it does not derive it on every listing


def exotic(msgs):
    """graph-api.md §12 "mail that real mailboxes hold", placed in every Inbox of 40+ messages: an attached
    message (itemAttachment), a cloud link (referenceAttachment), meeting mail (eventMessageRequest, a
    cancellation eventMessage, an eventMessageResponse) and plain-text bodies."""
    msgs[22].att_kind = 5
    msgs[24].att_kind = 6
    for i, (kind, mtype, extra) in ((26, ('eventMessageRequest', 'meetingRequest', {})),
                                    (30, ('eventMessage', 'meetingCancelled', {})),
                                    (32, ('eventMessageResponse', 'meetingAccepted', {'responseType': 'accepted'}))):
        m = msgs[i]
        m.att_kind = 0
        start = (int(m.received) // 3600 + 24 * 3) * 3600
        m.event = dict({'type': kind, 'meetingMessageType': mtype, 'start': start, 'end': start + 1800,
                        'location': 'Conference Room Ærø / 会议室 2'}, **extra)
        m.subject = {'meetingRequest': 'Invitation: ', 'meetingCancelled': 'Canceled: ',
                     'meetingAccepted': 'Accepted: '}[mtype] + m.subject
    for i in (34, 38):
        msgs[i].kind = 'text'
        msgs[i].att_kind = 0


def seed_store(store, users, messages, seed, anchor=None):
    """Same seed + same anchor (default: today 00:00 UTC) -> identical mailboxes."""
    if anchor is None:
        anchor = int(now() // 86400) * 86400
    for i in range(users):
        mbx = build_mailbox(store, i, seed)
        seed_mailbox(store, mbx, messages, random.Random('%s:%s' % (seed, i)), anchor)


# -- on-demand content ----------------------------------------------------------------------------------------
def body_html(msg):
    if msg.body is not None:
        ctype, content = msg.body
        return content if ctype == 'html' else '<html><body><pre>%s</pre></body></html>' % html.escape(content)
    if msg.kind == 'text':
        return '<html><body><pre>%s</pre></body></html>' % html.escape(body_text(msg))
    rng = random.Random(msg.body_seed)
    parts = ['<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head><body>',
             '<p>Hi %s,</p>' % html.escape(msg.to[0][0] if msg.to else 'there')]
    for _ in range(rng.randint(1, 4)):
        parts.append('<p>%s</p>' % html.escape(PARAS[rng.randrange(len(PARAS))]))
    if msg.att_kind in (2, 3):
        parts.append('<p><img src="cid:logo-%s@maildesk" alt="logo" width="1" height="1"></p>' % msg.core[:8])
    if rng.random() < 0.3:
        parts.append('<p><img src="https://images.example.net/banner-%d.png" alt="banner" width="600"></p>'
                     % rng.randrange(100))
    if msg.att_kind == 6:
        parts.append('<p><a href="%s">%s</a> (shared with you)</p>' % (html.escape(REF_URL % msg.core[:8]),
                                                                       'Budget 2025.xlsx'))
    if msg.event:
        ev = msg.event
        parts.append('<p>When: %s UTC<br>Where: %s</p>' % (time.strftime('%Y-%m-%d %H:%M', time.gmtime(
            ev['start'])), html.escape(ev.get('location') or '')))
    if msg.body_seed % 40 == 0:
        parts.append(HOSTILE)  # issue 3 §5: hostile HTML (script, event handlers, javascript: links)
    parts.append('<p>— %s</p></body></html>' % html.escape(msg.sender[0]))
    return ''.join(parts)


_TAG = re.compile(r'<(script|style|iframe)[^>]*>.*?</\1>|<[^>]+>', re.S | re.I)
_WS = re.compile(r'[ \t\r\f\v]+')


def html_to_text(content):
    text = _TAG.sub(lambda m: '\n' if m.group(0)[:2].lower() in ('<p', '</', '<b') else '', content)
    text = html.unescape(text)
    return '\n'.join(line.strip() for line in _WS.sub(' ', text).split('\n') if line.strip())


def body_text(msg):
    if msg.body is not None and msg.body[0] == 'text':
        return msg.body[1]
    if msg.kind == 'text' and msg.body is None:
        # a plain-text mail (graph-api.md §12): stored as text, with the generated paragraphs as lines
        rng = random.Random(msg.body_seed)
        lines = ['Hi %s,' % (msg.to[0][0] if msg.to else 'there'), '']
        for _ in range(rng.randint(1, 4)):
            lines.append(PARAS[rng.randrange(len(PARAS))])
        lines += ['', '-- ', msg.sender[0], '> quoted <b>not html</b> & friends']
        return '\n'.join(lines)
    return html_to_text(body_html(msg))


def body_preview(msg):
    """graph-api.md §4.1: bodyPreview = first 255 characters, text.

    Remembered with what the body is made of: working it out means generating the whole body and stripping its
    HTML, and every listing of the message (each delta page) asks for it -- half the emulator's CPU in a sync,
    on the machine the sync under test shares."""
    made_of = (msg.body, msg.kind, msg.body_seed, msg.att_kind, msg.core, tuple(msg.to[:1]), msg.sender,
               msg.event and dict(msg.event))
    memo = msg.preview_memo
    if memo is None or memo[0] != made_of:
        memo = msg.preview_memo = (made_of, ' '.join(body_text(msg).split())[:255])
    return memo[1]


def attachment_id(msg, n):
    return '%s%sBEgAQA%02dAAA=' % (REG_PREFIX, msg.core, n)


def attachments(msg):
    """List of dicts {id,name,contentType,size,isInline,contentId,data,modified}; generated unless stored."""
    if msg.atts is not None:
        return msg.atts
    out = []
    kind = msg.att_kind
    if kind in (1, 3):
        rng = random.Random(msg.body_seed + 1)
        name, ctype = [('report.pdf', 'application/pdf'), ('notes.txt', 'text/plain'),
                       ('数据 2024.csv', 'text/csv'), ('photo 📷.jpg', 'image/jpeg')][rng.randrange(4)]
        data = (('%s for %s\n' % (name, msg.subject)).encode('utf-8') * rng.randint(3, 300))[:100_000]
        out.append({'name': name, 'contentType': ctype, 'isInline': False, 'contentId': None, 'data': data})
    if kind in (2, 3):
        out.append({'name': 'logo.png', 'contentType': 'image/png', 'isInline': True,
                    'contentId': 'logo-%s@maildesk' % msg.core[:8], 'data': PNG})
    if kind == 5:
        # an attached message (itemAttachment, graph-api.md §12); its $value is the attached message's MIME
        out.append({'kind': 'item', 'name': 'FW: %s' % msg.subject, 'contentType': None, 'isInline': False,
                    'contentId': None, 'item': attached_message(msg), 'data': None})
    if kind == 6:
        # a OneDrive link (referenceAttachment, graph-api.md §12)
        out.append({'kind': 'reference', 'name': 'Budget 2025.xlsx', 'contentType': None, 'isInline': False,
                    'contentId': None, 'data': b'', 'sourceUrl': REF_URL % msg.core[:8],
                    'providerType': 'oneDriveBusiness', 'permission': 'edit', 'isFolder': False})
    if kind == 4:
        block = bytes(range(256)) * 4096
        out.append({'name': 'scan-large.bin', 'contentType': 'application/octet-stream', 'isInline': False,
                    'contentId': None, 'data': (block * (BIG_SIZE // len(block) + 1))[:BIG_SIZE]})
    for n, att in enumerate(out):
        att['id'] = attachment_id(msg, n)
        att['modified'] = msg.received
    return out


def attached_message(msg, spec=None):
    """The message inside an itemAttachment: a Message that lives in no folder (deterministic from ``msg``)."""
    spec = spec or {}
    inner = Message()
    inner.core = (msg.core[:20] + 'ITEM')[:24]
    inner.subject = spec.get('subject') or 'Original: %s' % msg.subject
    frm = spec.get('from') or CONTACTS[msg.body_seed % len(CONTACTS)]
    if isinstance(frm, str):
        frm = (frm, frm)
    elif isinstance(frm, dict):
        frm = (frm.get('name') or frm['address'], frm['address'])
    inner.sender = tuple(frm)
    inner.to = msg.to
    inner.received = msg.received - 86400
    inner.sent = inner.received - 30
    inner.created = inner.modified = inner.received
    inner.is_read = True
    inner.imid = spec.get('internetMessageId') or '<%s.attached@%s>' % (msg.core[:12], inner.sender[1].split('@')[-1])
    inner.conv = msg.conv
    inner.conv_index = 0
    body = spec.get('body')
    if isinstance(body, dict):
        inner.body = ((body.get('contentType') or 'html').lower(), body.get('content') or '')
    elif body is not None:
        inner.body = ('html', str(body))
    else:
        inner.body = ('html', '<html><body><p>%s</p><p>— %s</p></body></html>' % (
            html.escape(PARAS[msg.body_seed % len(PARAS)]), html.escape(inner.sender[0])))
    inner.atts = []
    return inner


def has_attachments(msg):
    # graph-api.md §4.1: hasAttachments excludes inline attachments
    if msg.atts is None:
        return msg.att_kind in (1, 3, 4, 5, 6)
    return any(not a['isInline'] for a in msg.atts)


def add_shared_mailbox(store, local, name=None, messages=20, seed=1, anchor=None):
    """An Exchange shared mailbox ``local@contoso.test`` (no sign-in, see Mailbox.shared) with seeded mail; the
    existing one when the address is taken. Same arguments -> the same mailbox."""
    address = local if '@' in local else '%s@%s' % (local, DOMAIN)
    existing = store.mailbox(address)
    if existing is not None:
        return existing
    idx = len(store.mailboxes)
    oid = '%08x-0000-4000-8000-%012x' % (0x5a000000 + idx, 0x5a4ed0000 + idx)
    mbx = build_mailbox(store, idx, seed, (address, name or address.split('@')[0].capitalize(), oid))
    mbx.shared = True
    if anchor is None:
        anchor = int(now() // 86400) * 86400
    seed_mailbox(store, mbx, max(0, int(messages)), random.Random('%s:shared:%s' % (seed, address)), anchor)
    return mbx
