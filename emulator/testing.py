"""Start the emulator as a subprocess for tests (pytest, Odoo tests, scripts). No pytest import here.

    from emulator.testing import running_emulator
    with running_emulator(users=2, messages=200) as emu:
        emu.control('POST', '/deliver', {'user': emu.users[0], 'count': 3})

Note: REQUESTS_CA_BUNDLE overrides requests.Session.verify, so pass ``verify=emu.ca_bundle`` on every request
(or use :func:`session` / :func:`msal_http_client`).
"""
import contextlib
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class EmulatorError(RuntimeError):
    pass


class EmulatorHandle:
    def __init__(self, proc, info, state_dir, owns_state_dir):
        self.proc = proc
        self.info = info
        self.state_dir = state_dir
        self._owns_state_dir = owns_state_dir
        self.base_url = info['base_url']
        self.graph_url = info['graph_url']
        self.authority = info['authority']
        self.ca_bundle = info['ca_bundle']
        self.client_id = info['client_id']
        self.client_secret = info['client_secret']
        self.users = info['users']
        self._ssl = ssl.create_default_context(cafile=self.ca_bundle)

    # -- control API ------------------------------------------------------------------------------------------
    def control(self, method, path, json_body=None, json=None):
        """Call /_emulator/<path>; returns the decoded JSON; raises EmulatorError on HTTP >= 400."""
        body = json if json is not None else json_body
        if not path.startswith('/'):
            path = '/' + path
        if not path.startswith('/_emulator'):
            path = '/_emulator' + path
        data = None if body is None else _json.dumps(body).encode('utf-8')
        req = urllib.request.Request(self.base_url + path, data=data, method=method.upper(),
                                     headers={'Content-Type': 'application/json'})
        try:
            with urllib.request.urlopen(req, context=self._ssl, timeout=120) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raise EmulatorError('%s %s -> %s %s' % (method, path, exc.code, exc.read()[:500])) from None
        return _json.loads(raw) if raw else None

    def state(self, user=None):
        """Ground truth: {user: {folder_id: {name, parent, well_known, messages: {immutable_id: {...}}}}}."""
        data = self.control('GET', '/state' + ('?user=%s' % urllib.request.quote(user) if user else ''))
        return data[user] if user else data

    def counters(self):
        return self.control('GET', '/counters')

    def reset_counters(self):
        return self.control('POST', '/counters/reset', {})

    def token(self, user=None, scopes=None, lifetime=None, refresh_token=False):
        """Mint an access token directly (skips the browser flow) -> {'access_token', 'expires_in', ...}."""
        body = {'user': user or self.users[0], 'refresh_token': refresh_token}
        if scopes is not None:
            body['scopes'] = scopes
        if lifetime is not None:
            body['lifetime'] = lifetime
        return self.control('POST', '/tokens', body)

    def deliver(self, user=None, folder='inbox', count=1, **message):
        return self.control('POST', '/deliver', {'user': user or self.users[0], 'folder': folder, 'count': count,
                                                 'message': message})['ids']

    def mutate(self, **body):
        return self.control('POST', '/mutate', body)

    def faults(self, *rules):
        return self.control('POST', '/faults', {'rules': list(rules)}) if rules else \
            self.control('DELETE', '/faults')

    def consent(self, auto='accept', user=None):
        return self.control('POST', '/consent', {'auto': auto, 'user': user})

    def config(self, **values):
        return self.control('POST', '/config', values)

    def set_identity(self, user, oid=None, tid=None):
        """Another Entra identity (object id and/or tenant id) behind ``user``'s address; None: the seeded one."""
        return self.control('POST', '/identity', {'user': user, 'oid': oid, 'tid': tid})

    def neutral(self, config=None):
        """Back to a neutral service between tests: no faults, token errors, auto-consent, consent grants, delta
        quirks, mailbox switches, changed identities or sends in flight, and the realism knobs as the emulator
        started (realistic unless started with ``realistic=False`` - never "kind" by itself); then ``config``
        applied."""
        self.control('POST', '/neutral', {})
        if config is not None:
            self.control('POST', '/config', config)

    def settle(self):
        """Complete every send in flight now (Sent Items copies appear; see ``sent_copy_delay``)."""
        return self.control('POST', '/settle', {})

    def mailbox(self, user=None, **switches):
        """Per-mailbox switches: ``exchange_online=False`` (404 MailboxNotEnabledForRESTAPI), ``send_as=[...]``."""
        return self.control('POST', '/mailbox', dict(switches, user=user or self.users[0]))

    def add_shared_mailbox(self, address, name=None, messages=20, grant=None):
        """An Exchange shared mailbox (cannot sign in); ``grant``: {user: [rights]} (full_access, send_as,
        send_on_behalf)."""
        return self.control('POST', '/shared', {'address': address, 'name': name, 'messages': messages,
                                                'grant': grant or {}})

    def permissions(self, mailbox, user, **rights):
        """Grant (True) / revoke (False) ``full_access``, ``send_as``, ``send_on_behalf`` of ``user`` on
        ``mailbox``; effective on the next request."""
        return self.control('POST', '/permissions', dict(rights, mailbox=mailbox, user=user))

    # -- lifecycle --------------------------------------------------------------------------------------------
    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        for stream in (self.proc.stdout,):
            with contextlib.suppress(Exception):
                stream.close()
        if self._owns_state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


_json = json


def start_emulator(state_dir=None, users=2, messages=200, seed=1, token_lifetime=None, extra_args=(),
                   timeout=60, python=None, realistic=True, config=None):
    """Launch ``python3 -m emulator`` (cwd = repo root) in its own process group; wait for its JSON line.

    ``realistic=False`` starts it with ``--no-realistic`` (deterministic delta pages, immediate Sent Items
    copies...); ``config`` ({key: value} of /_emulator/config) is applied at start and is what ``neutral()``
    restores."""
    owns = state_dir is None
    state_dir = state_dir or tempfile.mkdtemp(prefix='maildesk-emu-')
    os.makedirs(state_dir, exist_ok=True)
    cmd = [python or sys.executable, '-m', 'emulator', '--port', '0', '--state-dir', state_dir,
           '--users', str(users), '--messages', str(messages), '--seed', str(seed)]
    if token_lifetime is not None:
        cmd += ['--token-lifetime', str(int(token_lifetime))]
    if not realistic:
        cmd += ['--no-realistic']
    if config:
        cmd += ['--config', json.dumps(config)]
    cmd += list(extra_args)
    log = open(os.path.join(state_dir, 'emulator.log'), 'ab')
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    env['PYTHONPATH'] = REPO_ROOT + (os.pathsep + env['PYTHONPATH'] if env.get('PYTHONPATH') else '')
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                            start_new_session=True, env=env)
    log.close()
    line = {}

    def read():
        line['raw'] = proc.stdout.readline()
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    raw = line.get('raw')
    if not raw:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with open(os.path.join(state_dir, 'emulator.log'), 'rb') as fh:
            tail = fh.read()[-2000:].decode('utf-8', 'replace')
        raise EmulatorError('emulator did not start within %ss: %s' % (timeout, tail))
    return EmulatorHandle(proc, json.loads(raw), state_dir, owns)


@contextlib.contextmanager
def running_emulator(**kw):
    handle = start_emulator(**kw)
    try:
        yield handle
    finally:
        handle.stop()


EmulatorProcess = start_emulator  # name used in ARCHITECTURE.md


def session(ca_bundle):
    """A requests.Session whose every request verifies against ca_bundle (REQUESTS_CA_BUNDLE would win otherwise)."""
    import requests

    class _Session(requests.Session):
        def request(self, method, url, **kwargs):
            kwargs.setdefault('verify', ca_bundle)
            return super().request(method, url, **kwargs)
    return _Session()


msal_http_client = session
