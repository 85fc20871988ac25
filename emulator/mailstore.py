"""Mailbox state: folders, messages, id formats, per-folder sorted indexes and change logs.

Every mutation goes through Store methods (caller holds ``store.lock``); each bumps the mailbox's monotonically
increasing ``seq`` and appends (seq, core) to the change log of every folder the item entered or left, so a delta
round only looks at log entries after its watermark (bisect, O(changes)).
"""
import bisect
import hashlib
import os
import threading

from .util import Sealer, b64u, now

IMM_PREFIX = 'AAkALgAA'     # immutable ids (graph-api.md §4.3)
REG_PREFIX = 'AAMkAGI2'     # regular ("entry") ids: change on every move (graph-api.md §4.3 [IMMUT])
FOLDER_PREFIX = 'AQMkADAw'  # folder ids: already constant, unaffected by ImmutableId (graph-api.md §3 [IMMUT])
CORE_LEN = 24
# Exchange Online mailbox permissions a user can hold on another mailbox ("Manage permissions for recipients",
# learn.microsoft.com/exchange/recipients-in-exchange-online/manage-permissions-for-recipients)
RIGHTS = ('full_access', 'send_as', 'send_on_behalf')

# graph-api.md §3 [FOLDER]: well-known names usable in place of a folder id (locale independent)
WELL_KNOWN = ('msgfolderroot', 'inbox', 'drafts', 'sentitems', 'deleteditems', 'junkemail', 'outbox', 'archive',
              'conversationhistory', 'clutter', 'scheduled', 'searchfolders', 'syncissues', 'conflicts',
              'localfailures', 'serverfailures', 'recoverableitemsdeletions')


class Folder:
    __slots__ = (
        'children',
        'ck',
        'hidden',
        'id',
        'keys',
        'log_core',
        'log_gen',
        'log_seq',
        'modified',
        'name',
        'parent',
        'unread',
        'wk',
    )

    def __init__(self, fid, name, parent, wk=None, hidden=False):
        self.id = fid
        self.name = name
        self.parent = parent
        self.wk = wk
        self.hidden = hidden
        self.children = []
        self.keys = []       # sorted ascending [(receivedDateTime epoch, core)]
        self.unread = 0
        self.log_seq = []    # change log of this folder: seq numbers (ascending)
        self.log_core = []   # ... and the message core that changed (entered, changed in, or left the folder)
        self.log_gen = []    # ... and its move generation while in this folder (the regular id a client knew)
        self.ck = 0
        self.modified = 0.0


class Message:
    __slots__ = (
        'acting',
        'att_kind',
        'atts',
        'bcc',
        'body',
        'body_seed',
        'categories',
        'cc',
        'chg',
        'ck',
        'conv',
        'conv_drift',
        'conv_index',
        'core',
        'created',
        'drr',
        'entered',
        'event',
        'flag',
        'folder',
        'gen',
        'headers',
        'imid',
        'importance',
        'in_reply_to',
        'inference',
        'is_draft',
        'is_read',
        'kind',
        'mbx',
        'modified',
        'preview_memo',
        'received',
        'references',
        'reply_to',
        'rrr',
        'sender',
        'sent',
        'seq',
        'subject',
        'to',
        'trail',
    )

    def __init__(self):
        self.gen = 0
        self.cc = ()
        self.bcc = ()
        self.reply_to = ()
        self.flag = None
        self.categories = ()
        self.importance = 'normal'
        self.is_draft = False
        self.body = None         # None -> generated deterministically from body_seed (seed.py)
        self.atts = None         # None -> generated from att_kind (seed.py); else list of attachment dicts
        self.att_kind = 0
        self.in_reply_to = None
        self.references = None   # the MIME References header, when the sender gave one (else In-Reply-To)
        self.headers = None
        self.inference = 'focused'
        self.drr = False
        self.rrr = False
        self.ck = 1
        self.seq = 0
        self.body_seed = 0
        self.chg = None          # {Graph property: seq of its last change} (sparse delta items, graph-api.md §12)
        self.entered = 0         # seq at which the message entered its current folder
        self.trail = None        # [(seq, folder id)] once moved: where it was when (A -> B -> A, §1.9)
        self.kind = None         # None | 'text' (a plain-text body, graph-api.md §12)
        self.event = None        # meeting message: {'type', 'meetingMessageType', 'start', 'end', 'location', ...}
        self.acting = None       # Graph ``sender`` when it is not ``from``: a delegate sending on behalf (§ Exchange)
        self.preview_memo = None  # (what the body is made of, its bodyPreview): see seed.body_preview

    @property
    def key(self):
        return (self.received, self.core)


class Mailbox:
    def __init__(self, idx, address, name, oid, seed):
        self.idx = idx
        self.address = address
        self.name = name
        self.oid = oid
        self.seed = seed
        self.folders = {}
        self.wk = {}
        self.msgs = {}
        self.seq = 0
        self.counter = 0
        self.fcounter = 0
        self.hier_seq = []    # folder hierarchy change log (mailFolders/delta)
        self.hier_fid = []
        self.root_id = None   # the (inaccessible) mailbox root; msgfolderroot is its child
        self.deleted_folders = {}
        self.delta_expired = {}   # folder id | 'hierarchy' | '*' -> (token generation cutoff, error code)
        self.quirks = {}          # delta edge cases on demand: empty_pages / duplicates / replay
        self.round_pages = {}     # delta round id -> newest nextLink page index (stale_nextlinks)
        self.in_transit = {}      # core -> (due, msg, save, t): sent, Sent Items copy not there yet (§12)
        self.exchange_online = True   # False -> 404 MailboxNotEnabledForRESTAPI on mail endpoints (§2.4)
        self.send_as = []         # other addresses this mailbox may send as (Exchange Send As grants)
        # An Exchange shared mailbox: no licence, its account cannot sign in ("About shared mailboxes",
        # learn.microsoft.com/microsoft-365/admin/email/about-shared-mailboxes); reached by users granted access
        self.shared = False

    def new_core(self):
        self.counter += 1
        return b64u(hashlib.blake2b(('%s:%s:%s' % (self.seed, self.idx, self.counter)).encode(),
                                    digest_size=18).digest())

    def new_folder_id(self, label):
        self.fcounter += 1
        digest = hashlib.blake2b(('%s:%s:%s' % (self.idx, label, self.fcounter)).encode(), digest_size=15).digest()
        return FOLDER_PREFIX + b64u(digest) + 'AAAA'


# Store field -> the Graph message properties it backs (what a sparse delta item carries, graph-api.md §12)
FIELD_PROPS = {
    'is_read': ('isRead',), 'flag': ('flag',), 'categories': ('categories',), 'importance': ('importance',),
    'inference': ('inferenceClassification',), 'drr': ('isDeliveryReceiptRequested',),
    'rrr': ('isReadReceiptRequested',), 'sender': ('from', 'sender'), 'to': ('toRecipients',),
    'cc': ('ccRecipients',), 'bcc': ('bccRecipients',), 'reply_to': ('replyTo',),
    'body': ('body', 'bodyPreview', 'uniqueBody'), 'subject': ('subject',), 'imid': ('internetMessageId',),
    'is_draft': ('isDraft',), 'sent': ('sentDateTime',), 'atts': ('hasAttachments',),
    'headers': ('internetMessageHeaders',), 'acting': ('sender',),
}


def folder_at(msg, seq):
    """The folder ``msg`` was in right after mailbox seq ``seq`` (None: not in this mailbox yet / in transit)."""
    if msg.trail:
        for s, fid in reversed(msg.trail):
            if s <= seq:
                return fid
        return None
    return msg.folder if msg.entered <= seq else None


def message_id(msg, immutable):
    """graph-api.md §4.3: the immutable id stays put across moves; the regular id changes on every move."""
    if immutable:
        return IMM_PREFIX + msg.core + 'AAA='
    return REG_PREFIX + msg.core + format(msg.gen, '04x') + 'AAA='


def parse_message_id(text):
    """-> (core, gen or None for immutable) or None if malformed."""
    if not text.endswith('AAA='):
        return None
    body = text[:-4]
    if body.startswith(IMM_PREFIX) and len(body) == len(IMM_PREFIX) + CORE_LEN:
        return body[len(IMM_PREFIX):], None
    if body.startswith(REG_PREFIX) and len(body) > len(REG_PREFIX) + CORE_LEN:
        try:
            return body[len(REG_PREFIX):len(REG_PREFIX) + CORE_LEN], int(body[len(REG_PREFIX) + CORE_LEN:], 16)
        except ValueError:
            return None
    return None


class Store:
    def __init__(self, seed=1):
        self.lock = threading.RLock()
        self.seed = seed
        self.mailboxes = []
        self.by_addr = {}
        self.by_oid = {}
        self.token_gen = 0
        self.transit = 0      # sends whose Sent Items copy is still on its way (graph_write.settle)
        self.sealer = Sealer('%s:%s' % (seed, os.urandom(8).hex()))
        # Exchange mailbox permissions: (mailbox address, user address) -> rights granted to the user on the
        # mailbox (RIGHTS: Full Access, Send As, Send on Behalf; Add-MailboxPermission, Add-RecipientPermission,
        # Set-Mailbox -GrantSendOnBehalfTo)
        self.grants = {}
        self.startup_grants = {}

    # -- Exchange permissions ---------------------------------------------------------------------------------
    def rights(self, mbx, user):
        """The rights ``user`` (a Mailbox) holds on ``mbx``: a set of :data:`RIGHTS`."""
        return self.grants.get((mbx.address.lower(), user.address.lower()), frozenset())

    def set_rights(self, mbx, user, **changes):
        """Grant (True) or revoke (False) rights by name (full_access, send_as, send_on_behalf); None: unchanged."""
        key = (mbx.address.lower(), user.address.lower())
        current = set(self.grants.get(key, ()))
        for name, value in changes.items():
            if name not in RIGHTS:
                raise KeyError('unknown right %r (one of %s)' % (name, ', '.join(RIGHTS)))
            if value is True:
                current.add(name)
            elif value is False:
                current.discard(name)
        if current:
            self.grants[key] = frozenset(current)
        else:
            self.grants.pop(key, None)
        return sorted(current)

    # -- lookup -----------------------------------------------------------------------------------------------
    def mailbox(self, ref):
        if ref is None:
            return None
        return self.by_addr.get(str(ref).lower()) or self.by_oid.get(str(ref).lower())

    def add_mailbox(self, mbx):
        self.mailboxes.append(mbx)
        self.by_addr[mbx.address.lower()] = mbx
        self.by_oid[mbx.oid.lower()] = mbx

    @staticmethod
    def resolve_folder(mbx, ref):
        """Folder id or well-known name (graph-api.md §1.1: accepted wherever a folder id is)."""
        if ref is None:
            return None
        folder = mbx.folders.get(ref)
        if folder is None:
            fid = mbx.wk.get(ref.lower())
            folder = mbx.folders.get(fid) if fid else None
        return folder

    @staticmethod
    def find_message(mbx, text):
        parsed = parse_message_id(text)
        if parsed is None:
            return None
        core, gen = parsed
        msg = mbx.msgs.get(core)
        if msg is None or (gen is not None and gen != msg.gen):
            return None  # graph-api.md §4.3: an old regular id after a move is gone -> 404 ErrorItemNotFound
        return msg

    # -- folders ----------------------------------------------------------------------------------------------
    def add_folder(self, mbx, name, parent, wk=None, hidden=False, log=True):
        fid = mbx.new_folder_id(wk or name)
        folder = Folder(fid, name, parent, wk, hidden)
        folder.modified = now()
        mbx.folders[fid] = folder
        if wk:
            mbx.wk[wk] = fid
        if parent in mbx.folders:
            mbx.folders[parent].children.append(fid)
        if log:
            self._log_folder(mbx, folder)
        return folder

    def _log_folder(self, mbx, folder):
        mbx.seq += 1
        folder.ck += 1
        folder.modified = now()
        mbx.hier_seq.append(mbx.seq)
        mbx.hier_fid.append(folder.id)

    def rename_folder(self, mbx, folder, name):
        folder.name = name
        self._log_folder(mbx, folder)

    def delete_folder(self, mbx, folder):
        for child in list(folder.children):
            self.delete_folder(mbx, mbx.folders[child])
        for _, core in list(folder.keys):
            self.hard_delete(mbx, mbx.msgs[core])
        parent = mbx.folders.get(folder.parent)
        if parent and folder.id in parent.children:
            parent.children.remove(folder.id)
        del mbx.folders[folder.id]
        mbx.deleted_folders[folder.id] = folder
        self._log_folder(mbx, folder)

    # -- messages ---------------------------------------------------------------------------------------------
    def _log(self, mbx, folder, msg):
        folder.log_seq.append(mbx.seq)
        folder.log_core.append(msg.core)
        folder.log_gen.append(msg.gen)

    def _bump(self, mbx, msg, when=None):
        """graph-api.md §10: changeKey / lastModifiedDateTime / @odata.etag bumped on every change."""
        mbx.seq += 1
        msg.seq = mbx.seq
        msg.ck += 1
        msg.modified = max(when or now(), msg.modified + 0.001)

    @staticmethod
    def _place(mbx, folder, msg):
        """The message is in ``folder`` now: the mailbox's index, the folder's order and unread count."""
        msg.mbx = mbx
        msg.folder = folder.id
        mbx.msgs[msg.core] = msg
        bisect.insort(folder.keys, (msg.received, msg.core))
        if not msg.is_read:
            folder.unread += 1

    def insert(self, mbx, folder, msg, log=True):
        """Add a new message to a folder (delivery, draft creation, copy into Sent Items...)."""
        self._place(mbx, folder, msg)
        if log:
            self._bump(mbx, msg)
            msg.ck = 1
            self._log(mbx, folder, msg)
        msg.entered = mbx.seq
        msg.chg = None
        msg.trail = None

    def bulk_insert(self, mbx, folder, msgs):
        """Seeding path: one sort at the end; each message still gets its own seq + log entry."""
        keys = folder.keys
        seq = mbx.seq
        for msg in msgs:
            msg.mbx = mbx
            msg.folder = folder.id
            mbx.msgs[msg.core] = msg
            keys.append((msg.received, msg.core))
            if not msg.is_read:
                folder.unread += 1
            seq += 1
            msg.seq = msg.entered = seq
            folder.log_seq.append(seq)
            folder.log_core.append(msg.core)
            folder.log_gen.append(msg.gen)
        mbx.seq = seq
        keys.sort()

    def _unlink(self, mbx, msg):
        folder = mbx.folders[msg.folder]
        key = (msg.received, msg.core)
        i = bisect.bisect_left(folder.keys, key)
        if i < len(folder.keys) and folder.keys[i] == key:
            del folder.keys[i]
        if not msg.is_read:
            folder.unread -= 1
        return folder

    def update(self, mbx, msg, fields, props=()):
        """Apply already-validated fields (isRead, flag, categories, ...) and record the change.

        ``props``: Graph properties changed beyond ``fields`` (e.g. hasAttachments after an attachment POST).
        Each changed Graph property remembers the seq of its change: a later delta round sends an updated item
        as ``id`` + the properties changed since its watermark (graph-api.md §1.6 [DQO], §12)."""
        folder = mbx.folders[msg.folder]
        for name, value in fields.items():
            if name == 'is_read' and bool(value) != msg.is_read:
                folder.unread += -1 if value else 1
            setattr(msg, name, value)
        self._bump(mbx, msg)
        self._log(mbx, folder, msg)
        changed = [p for name in fields for p in FIELD_PROPS.get(name, ())] + list(props)
        if changed:
            if msg.chg is None:
                msg.chg = {}
            for prop in changed:
                msg.chg[prop] = mbx.seq

    def move(self, mbx, msg, dest, received=None):
        """graph-api.md §6 [MOVE] + §1.5: @removed in the source delta, present in the destination delta."""
        src = self._unlink(mbx, msg)
        if received is not None:
            msg.received = received
        self._bump(mbx, msg)
        self._log(mbx, src, msg)
        if msg.trail is None:
            msg.trail = [(msg.entered, src.id)]
        msg.gen += 1  # graph-api.md §4.3: regular id changes on move, immutable id does not
        msg.folder = dest.id
        bisect.insort(dest.keys, (msg.received, msg.core))
        if not msg.is_read:
            dest.unread += 1
        self._log(mbx, dest, msg)
        msg.entered = mbx.seq
        msg.trail.append((mbx.seq, dest.id))
        del msg.trail[:-8]
        msg.chg = None

    def detach(self, mbx, msg):
        """Take a message out of its folder and out of reach (a sent draft on its way, graph-api.md §12): the
        folder's delta reports it @removed, a GET by its id answers 404 until :meth:`attach` puts it back."""
        folder = self._unlink(mbx, msg)
        self._bump(mbx, msg)
        self._log(mbx, folder, msg)
        if msg.trail is None:
            msg.trail = [(msg.entered, folder.id)]
        msg.trail.append((mbx.seq, None))
        del mbx.msgs[msg.core]

    def attach(self, mbx, folder, msg):
        """Put a detached (or new) message into ``folder`` keeping its core (= immutable id); new regular id."""
        if msg.core in mbx.msgs or msg.trail:
            msg.gen += 1
        self._place(mbx, folder, msg)
        self._bump(mbx, msg)
        self._log(mbx, folder, msg)
        msg.entered = mbx.seq
        if msg.trail is not None:
            msg.trail.append((mbx.seq, folder.id))
        msg.chg = None

    def hard_delete(self, mbx, msg):
        folder = self._unlink(mbx, msg)
        self._bump(mbx, msg)
        self._log(mbx, folder, msg)
        del mbx.msgs[msg.core]

    def soft_delete(self, mbx, msg):
        """graph-api.md §6 [DEL]: DELETE -> 204; modelled as a move to Deleted Items (hard delete from there)."""
        deleted = mbx.folders[mbx.wk['deleteditems']]
        if msg.folder == deleted.id:
            self.hard_delete(mbx, msg)
        else:
            self.move(mbx, msg, deleted)

    def folder_messages(self, mbx, folder):
        msgs = mbx.msgs
        return [msgs[core] for _, core in folder.keys]
