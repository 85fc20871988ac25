"""Find (or install) Odoo 18 and MailDesk's requirements, and expose this checkout as addon ``maildesk``.

Shared by ``make test``, ``make demo``, ``make bench`` and ``make stress``.
"""
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ODOO_GIT = 'https://github.com/odoo/odoo.git'
ODOO_HELP = f"""
MailDesk needs Odoo 18.0 importable by {sys.executable}.
Install it from Odoo's official source, for example:

    git clone --depth 1 --branch 18.0 {ODOO_GIT} /opt/odoo18
    sudo apt-get install libpq-dev libldap2-dev libsasl2-dev   # to build psycopg2 and python-ldap
    echo 'setuptools<70' > /tmp/c.txt && PIP_CONSTRAINT=/tmp/c.txt pip install -r /opt/odoo18/requirements.txt
    pip install -e /opt/odoo18 --no-deps

or point ODOO_PATH at an Odoo 18 source tree (the folder holding odoo-bin).
"""


def log(msg):
    print(f'[maildesk] {msg}', flush=True)


def _odoo_importable():
    return importlib.util.find_spec('odoo') is not None


def find_odoo():
    """Return the Odoo source root (folder holding the ``odoo`` package); install Odoo when missing."""
    odoo_path = os.environ.get('ODOO_PATH')
    if odoo_path:
        if not os.path.isdir(os.path.join(odoo_path, 'odoo')):
            sys.exit(f'ODOO_PATH={odoo_path} does not hold an Odoo source tree.\n{ODOO_HELP}')
        sys.path.insert(0, odoo_path)
        os.environ['PYTHONPATH'] = os.pathsep.join(filter(None, [odoo_path, os.environ.get('PYTHONPATH')]))
    if not _odoo_importable():
        _install_odoo()
    import odoo
    if not odoo.release.version.startswith('18.'):
        sys.exit(f'Found Odoo {odoo.release.version} at {odoo.__file__}; MailDesk needs 18.0.\n{ODOO_HELP}')
    return os.path.dirname(os.path.dirname(os.path.abspath(odoo.__file__)))


def _install_odoo():
    target = os.path.join(os.path.expanduser('~'), 'odoo18')
    log(f'Odoo 18 is not importable; installing it from {ODOO_GIT} (18.0) into {target}')
    if not shutil.which('git'):
        sys.exit(f'git is missing, cannot fetch Odoo.\n{ODOO_HELP}')
    if not os.path.isdir(target):
        clone = subprocess.run(['git', 'clone', '--depth', '1', '--branch', '18.0', ODOO_GIT, target], check=False)
        if clone.returncode:
            sys.exit(f'Could not reach Odoo\'s official source ({ODOO_GIT}).\n{ODOO_HELP}')
    if os.geteuid() == 0 and shutil.which('apt-get'):
        subprocess.run(['apt-get', 'install', '-y', '-q', 'libpq-dev', 'libldap2-dev', 'libsasl2-dev'], check=False)
    with tempfile.NamedTemporaryFile('w', suffix='.txt', delete=False) as constraint:
        constraint.write('setuptools<70\n')
    env = dict(os.environ, PIP_CONSTRAINT=constraint.name)
    steps = [[sys.executable, '-m', 'pip', 'install', '-r', os.path.join(target, 'requirements.txt')],
             [sys.executable, '-m', 'pip', 'install', '-e', target, '--no-deps']]
    for step in steps:
        if subprocess.run(step, env=env, check=False).returncode:
            sys.exit(f'Installing Odoo failed at: {" ".join(step)}\n{ODOO_HELP}')
    sys.path.insert(0, target)
    importlib.invalidate_caches()


def ensure_requirements(extra=()):
    """pip-install requirements.txt (and test extras) when one of them is missing."""
    missing = [mod for mod in ('msal', 'requests', 'dateutil', *extra) if importlib.util.find_spec(mod) is None]
    if missing:
        log(f'installing missing Python packages: {", ".join(missing)}')
        pkgs = ['-r', os.path.join(REPO, 'requirements.txt')]
        pkgs += [{'pytest': 'pytest', 'websocket': 'websocket-client'}.get(m, m) for m in extra if m in missing]
        subprocess.check_call([sys.executable, '-m', 'pip', 'install', '-q', *pkgs])
        importlib.invalidate_caches()


def find_chromium():
    for name in ('chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'):
        path = shutil.which(name)
        if path:
            return path
    return None


def ensure_browser():
    """Odoo silently skips browser tests without websocket-client or a Chromium: install both."""
    ensure_requirements(extra=('websocket',))
    if find_chromium():
        return True
    if os.geteuid() == 0 and shutil.which('apt-get'):
        log('installing Debian\'s chromium for the browser tests')
        subprocess.run(['apt-get', 'update', '-q'], stdout=subprocess.DEVNULL, check=False)
        subprocess.run(['apt-get', 'install', '-y', '-q', 'chromium'], stdout=subprocess.DEVNULL, check=False)
    if not find_chromium():
        log('no Chromium could be installed: browser tests will be reported as failed (skipped)')
        return False
    return True


def addons_path(odoo_root, workdir):
    """An addons path exposing this checkout as ``maildesk`` whatever its folder is called."""
    link_dir = os.path.join(workdir, 'addons')
    os.makedirs(link_dir, exist_ok=True)
    link = os.path.join(link_dir, 'maildesk')
    if os.path.islink(link) and os.readlink(link) != REPO:
        os.unlink(link)
    if not os.path.exists(link):
        os.symlink(REPO, link)
    paths = [link_dir]
    core_addons = os.path.join(odoo_root, 'addons')
    if os.path.isdir(core_addons):
        paths.insert(0, core_addons)
    return ','.join(paths)


def odoo_command():
    """How to start Odoo with this Python (``python -m odoo`` works for source and pip installs)."""
    return [sys.executable, '-m', 'odoo']
