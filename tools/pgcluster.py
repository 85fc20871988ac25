"""A throwaway PostgreSQL cluster on a free loopback port, for tests, demo and benchmarks.

Uses the machine's server binaries (``pg_ctl`` on PATH or under /usr/lib/postgresql/*/bin), else the
embedded PostgreSQL of the ``pgserver`` Python package. PostgreSQL refuses to run as root, so when invoked
as root the cluster runs as the unprivileged user ``nobody``. The superuser is ``odoo`` (Odoo refuses
``postgres``), authentication is ``trust`` on loopback only.
"""
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time

UNPRIVILEGED_USER = 'nobody'
DB_USER = 'odoo'


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def find_pg_bin():
    """Directory holding initdb/pg_ctl/postgres, installing the embedded server if the machine has none."""
    for candidate in [os.path.dirname(shutil.which('pg_ctl') or '')] + sorted(
            glob.glob('/usr/lib/postgresql/*/bin'), reverse=True):
        if candidate and os.path.exists(os.path.join(candidate, 'initdb')):
            return candidate
    try:
        import pgserver
    except ImportError:
        print('[maildesk] no PostgreSQL server binaries found; installing the embedded one (pip install pgserver)')
        subprocess.check_call([sys.executable, '-m', 'pip', 'install', '-q', 'pgserver'])
        import pgserver
    return os.path.join(os.path.dirname(pgserver.__file__), 'pginstall', 'bin')


class PgCluster:
    """``with PgCluster() as pg:`` gives ``pg.host``, ``pg.port``, ``pg.user``; removed on exit."""

    def __init__(self, base_dir=None, keep=False, port=None):
        self.bin_dir = find_pg_bin()
        self.keep = keep  # demo keeps its cluster between runs
        self.base_dir = base_dir
        self.port = port or free_port()
        self.host = '127.0.0.1'
        self.user = DB_USER
        self._as_nobody = os.geteuid() == 0

    # -- process helpers --------------------------------------------------------------------------
    def _demote(self):
        if self._as_nobody:
            pw = pwd.getpwnam(UNPRIVILEGED_USER)
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)

    def _run(self, *args, **kw):
        return subprocess.run([os.path.join(self.bin_dir, args[0]), *args[1:]], preexec_fn=self._demote,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False, **kw)

    def _chown(self, path):
        if self._as_nobody:
            pw = pwd.getpwnam(UNPRIVILEGED_USER)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    # -- lifecycle --------------------------------------------------------------------------------
    @property
    def data_dir(self):
        return os.path.join(self.base_dir, 'data')

    def start(self):
        if not self.base_dir:
            self.base_dir = tempfile.mkdtemp(prefix='maildesk-pg-')
        os.makedirs(self.base_dir, exist_ok=True)
        self._chown(self.base_dir)
        if not os.path.exists(os.path.join(self.data_dir, 'PG_VERSION')):
            out = self._run('initdb', '-D', self.data_dir, '-U', self.user, '-A', 'trust', '-E', 'UTF8',
                            '--locale=C', '--no-instructions')
            if out.returncode:
                raise RuntimeError(f'initdb failed:\n{out.stdout}')
        options = (f"-p {self.port} -k {self.base_dir} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 "
                   "-c shared_buffers=256MB")
        # a developer's extra settings, e.g. "-c shared_preload_libraries=pg_stat_statements" for the bench's
        # per-statement figures (tools/bench/maildesk_scenarios.py)
        options += ' ' + os.environ.get('MAILDESK_PG_OPTIONS', '')
        out = self._run('pg_ctl', '-D', self.data_dir, '-l', os.path.join(self.base_dir, 'server.log'),
                        '-o', options, '-w', '-t', '60', 'start')
        if out.returncode:
            log = open(os.path.join(self.base_dir, 'server.log'), errors='replace').read()[-3000:]
            raise RuntimeError(f'PostgreSQL did not start:\n{out.stdout}\n{log}')
        self._wait_ready()
        return self

    def _wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError('PostgreSQL did not accept connections on port %s' % self.port)

    def stop(self):
        if self.base_dir and os.path.exists(os.path.join(self.data_dir, 'postmaster.pid')):
            self._run('pg_ctl', '-D', self.data_dir, '-m', 'fast', '-w', '-t', '30', 'stop')
        if not self.keep and self.base_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def odoo_args(self):
        return [f'--db_host={self.host}', f'--db_port={self.port}', f'--db_user={self.user}',
                '--db_password=', '--db_sslmode=disable']

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
