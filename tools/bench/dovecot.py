"""The alternative a user would pick: a local Dovecot IMAP server holding the same messages as the emulator.

``write_maildir`` renders the emulator's own seeded Inbox (same generator, same seed, same user) to RFC 822 files
with the emulator's ``$value`` renderer, so Odoo's IMAP path ingests exactly the messages MailDesk syncs.
``Dovecot`` starts Debian's ``dovecot`` in the foreground with a throwaway config on a free loopback port:
plaintext auth on loopback, one static user, Maildir under the run directory, ``first_valid_uid`` set to the uid
it runs as (Dovecot refuses mail access to uids below it).
"""
import imaplib
import os
import shutil
import socket
import subprocess
import sys
import time

DOVECOT = shutil.which('dovecot') or '/usr/sbin/dovecot'
IMAP_USER = 'bench'
IMAP_PASSWORD = 'bench-password'


def ensure_dovecot(log):
    if os.path.exists(DOVECOT):
        return DOVECOT
    if os.geteuid() == 0 and shutil.which('apt-get'):
        log('installing Debian\'s dovecot-imapd for the IMAP baseline')
        subprocess.run(['apt-get', 'install', '-y', '-q', 'dovecot-imapd'], stdout=subprocess.DEVNULL, check=False)
        if not os.path.exists(DOVECOT):
            subprocess.run(['apt-get', 'update', '-q'], stdout=subprocess.DEVNULL, check=False)
            subprocess.run(['apt-get', 'install', '-y', '-q', 'dovecot-imapd'], stdout=subprocess.DEVNULL, check=False)
    if not os.path.exists(DOVECOT):
        raise RuntimeError('dovecot is not installed: apt-get install dovecot-imapd (or run with --skip-imap)')
    return DOVECOT


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def seeded_inbox(repo, messages, seed, user=0):
    """The emulator's seeded Inbox of ``user`` (newest first), built in-process with its own generator."""
    if repo not in sys.path:
        sys.path.insert(0, repo)
    from emulator import seed as emu_seed
    from emulator.mailstore import Store
    store = Store(seed=seed)
    emu_seed.seed_store(store, user + 1, messages, seed)
    mbx = store.mailboxes[user]
    inbox = mbx.folders[mbx.wk['inbox']]
    return list(reversed(store.folder_messages(mbx, inbox)))


def write_maildir(repo, path, messages, seed):
    """Write the emulator's Inbox as unseen Maildir files; returns (count, total bytes)."""
    msgs = seeded_inbox(repo, messages, seed)
    from emulator import render
    return write_maildir_messages(path, ((int(msg.received), render.mime_bytes(msg)) for msg in msgs))


def write_maildir_messages(path, messages):
    """Write ``(received epoch, MIME bytes)`` pairs as unseen Maildir files; returns (count, total bytes)."""
    for sub in ('new', 'cur', 'tmp'):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    count = total = 0
    for count, (received, mime) in enumerate(messages, 1):
        data = mime.replace(b'\r\n', b'\n')  # Maildir files use local line endings
        name = '%d.M%06dP%d.maildesk-bench' % (received, count, os.getpid())
        with open(os.path.join(path, 'new', name), 'wb') as fh:
            fh.write(data)
        total += len(data)
    return count, total


CONFIG = """
base_dir = {run}
state_dir = {state}
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/Maildir
# Dovecot is the only program touching this Maildir: skip the readdir() of new/ and cur/ on every command
# (10,000 files) and fsync (a throwaway store, like the bench's PostgreSQL with fsync=off). Both only make the
# built-in path faster: the baseline is not handicapped.
maildir_very_dirty_syncs = yes
mail_fsync = never
first_valid_uid = {uid}
first_valid_gid = {gid}
mail_uid = {uid}
mail_gid = {gid}
default_login_user = {login_user}
default_internal_user = {internal_user}
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


class Dovecot:
    """``with Dovecot(root_dir) as imap:`` → imap.host / imap.port / imap.user / imap.password; stops on exit."""

    def __init__(self, root):
        self.root = os.path.abspath(root)
        self.host = '127.0.0.1'
        self.port = free_port()
        self.user = IMAP_USER
        self.password = IMAP_PASSWORD
        self.proc = None

    @property
    def maildir(self):
        return os.path.join(self.root, 'Maildir')

    def start(self):
        for sub in ('run', 'state', 'home', 'Maildir'):
            os.makedirs(os.path.join(self.root, sub), exist_ok=True)
        # login processes run as dovenull / dovecot: they must reach base_dir
        for path in (self.root, os.path.join(self.root, 'run')):
            os.chmod(path, 0o755)
        uid, gid = mail_ids()
        parent = os.path.dirname(self.root)
        while parent != os.path.dirname(parent):
            if not os.stat(parent).st_mode & 0o001:
                raise RuntimeError(f'{parent} is not searchable by others: Dovecot\'s mail uid {uid} cannot '
                                   f'reach {self.root}')
            parent = os.path.dirname(parent)
        for dirpath, dirnames, filenames in os.walk(self.root):
            for name in dirnames + filenames:
                os.lchown(os.path.join(dirpath, name), uid, gid)
        login_user = 'dovenull' if _user_exists('dovenull') else 'nobody'
        internal_user = 'dovecot' if _user_exists('dovecot') else 'nobody'
        conf = os.path.join(self.root, 'dovecot.conf')
        with open(conf, 'w') as fh:
            fh.write(CONFIG.format(run=os.path.join(self.root, 'run'), state=os.path.join(self.root, 'state'),
                                   root=self.root, uid=uid, gid=gid, port=self.port, password=self.password,
                                   login_user=login_user, internal_user=internal_user))
        self.proc = subprocess.Popen([DOVECOT, '-F', '-c', conf], stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.root, 'dovecot.stderr'), 'w'))
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError('dovecot exited: %s' % self._log_tail())
            try:
                conn = imaplib.IMAP4(self.host, self.port)
                conn.login(self.user, self.password)
                conn.logout()
                return self
            except (OSError, imaplib.IMAP4.error):
                time.sleep(0.2)
        raise RuntimeError('dovecot did not answer on 127.0.0.1:%s: %s' % (self.port, self._log_tail()))

    def count(self, criteria='ALL'):
        conn = imaplib.IMAP4(self.host, self.port)
        try:
            conn.login(self.user, self.password)
            status, data = conn.select('INBOX', readonly=True)
            if status != 'OK':
                raise RuntimeError(f'Dovecot cannot open INBOX: {data}: {self._log_tail()}')
            _, data = conn.search(None, criteria)
            return len(data[0].split())
        finally:
            conn.logout()

    def _log_tail(self):
        out = []
        for name in ('dovecot.stderr', 'dovecot.log'):
            path = os.path.join(self.root, name)
            if os.path.exists(path):
                out.append(open(path, errors='replace').read()[-2000:])
        return '\n'.join(out)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def mail_ids():
    """(uid, gid) owning the mail: ours, or ``nobody`` when run as root (Dovecot never serves mail as uid 0)."""
    if os.geteuid() != 0:
        return os.getuid(), os.getgid()
    import pwd
    pw = pwd.getpwnam('nobody')
    return pw.pw_uid, pw.pw_gid


def _user_exists(name):
    import pwd
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False
