"""``make lint``: ruff (ruff.toml) and pylint-odoo's Odoo checks (.pylintrc) over the addon; installs both when
missing. Exit status 0 when clean. ``make test`` runs it too (one test: "lint")."""
import importlib.util
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from odoo_env import REPO, log

LINTERS = {'ruff': 'ruff', 'pylint_odoo': 'pylint-odoo'}


def ensure_linters():
    missing = [package for module, package in LINTERS.items() if importlib.util.find_spec(module) is None]
    if missing:
        log(f'installing the linters: {", ".join(missing)}')
        subprocess.check_call([sys.executable, '-m', 'pip', 'install', '-q', *missing])


def run():
    """Run both linters; returns the list of failed ones (their findings are printed)."""
    ensure_linters()
    failed = []
    ruff = shutil.which('ruff') or os.path.join(os.path.dirname(sys.executable), 'ruff')
    if subprocess.run([ruff, 'check', '--no-cache', '.'], cwd=REPO, check=False).returncode:
        failed.append('ruff')
    # pylint-odoo reads the addon as a package: run it from the folder above, on the checkout's own name.
    parent, name = os.path.split(REPO)
    pylint = [sys.executable, '-m', 'pylint', '--rcfile', os.path.join(REPO, '.pylintrc'), '--score=n', name]
    if subprocess.run(pylint, cwd=parent, check=False).returncode:
        failed.append('pylint-odoo')
    return failed


def main():
    failed = run()
    log('lint: ' + ('failed: ' + ', '.join(failed) if failed else 'clean (ruff, pylint-odoo)'))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
