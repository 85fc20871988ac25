"""``make pot``: export ``i18n/maildesk.pot`` with Odoo's own exporter, then merge it into every ``i18n/*.po``.

1. a throwaway PostgreSQL (tools/pgcluster.py), ``maildesk`` installed into a fresh database (no demo data);
2. ``odoo --i18n-export=i18n/maildesk.pot --modules=maildesk``: Odoo's ``trans_export`` (model terms, views,
   ``_()`` and ``_t()`` calls in Python, JS and QWeb), exactly what Settings > Translations > Export gives;
3. each ``i18n/<lang>.po`` is merged with the new template (``polib``, which Odoo itself requires): translations
   of unchanged terms are kept, new terms come in untranslated (Odoo then shows the English text), terms that are
   gone are dropped. ``--merge-only`` does step 3 alone, on the committed template.

The Odoo test ``tests/test_i18n.py`` fails while the template misses a term or has one too many: run ``make pot``.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import odoo_env
from odoo_env import REPO, log
from pgcluster import PgCluster, free_port

I18N = os.path.join(REPO, 'i18n')
POT = os.path.join(I18N, 'maildesk.pot')


def export_template(workdir):
    """Install maildesk into a fresh database and export its terms to ``i18n/maildesk.pot``."""
    odoo_root = odoo_env.find_odoo()
    # A copy of the addon without its hidden folders: Odoo's exporter walks the module's folder following links,
    # and .tmp/ holds earlier runs' links back to the checkout (and an old release, in the upgrade test's).
    shutil.copytree(REPO, os.path.join(workdir, 'addons', 'maildesk'),
                    ignore=lambda folder, names: [name for name in names if name.startswith('.') or
                                                  name == '__pycache__'])
    addons = ','.join(filter(os.path.isdir, [os.path.join(odoo_root, 'addons'), os.path.join(workdir, 'addons')]))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [odoo_root, os.environ.get('PYTHONPATH')])))
    os.makedirs(I18N, exist_ok=True)
    with PgCluster() as pg:
        common = [*odoo_env.odoo_command(), f'--addons-path={addons}', *pg.odoo_args(), '-d', 'maildesk_pot',
                  '--without-demo=all', '--max-cron-threads=0', '--workers=0', f'--http-port={free_port()}',
                  f'--data-dir={os.path.join(workdir, "data")}', '--log-level=warn']
        log('installing maildesk into a fresh database')
        subprocess.run([*common, '-i', 'maildesk', '--stop-after-init'], env=env, check=True)
        log(f'exporting the terms to {os.path.relpath(POT, REPO)}')
        exported = os.path.join(workdir, 'maildesk.pot')
        subprocess.run([*common, f'--i18n-export={exported}', '--modules=maildesk'], env=env, check=True)
    shutil.copyfile(exported, POT)


def merge_translations():
    """Bring every ``i18n/*.po`` in line with the template, keeping the translations of the terms still there."""
    import polib

    template = polib.pofile(POT)
    for name in sorted(os.listdir(I18N)):
        if not name.endswith('.po'):
            continue
        path = os.path.join(I18N, name)
        catalog = polib.pofile(path, wrapwidth=78)
        catalog.merge(template)
        for entry in catalog.obsolete_entries():
            catalog.remove(entry)
        catalog.save(path)
        log(f'{name}: {catalog.percent_translated()}% translated, '
            f'{len(catalog.untranslated_entries())} untranslated, {len(catalog.fuzzy_entries())} fuzzy')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--merge-only', action='store_true', help='merge the committed template into the .po files')
    args = parser.parse_args()
    odoo_env.find_odoo()
    odoo_env.ensure_requirements()
    if not args.merge_only:
        os.makedirs(os.path.join(REPO, '.tmp'), exist_ok=True)
        workdir = tempfile.mkdtemp(prefix='pot-', dir=os.path.join(REPO, '.tmp'))
        try:
            export_template(workdir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    merge_translations()
    return 0


if __name__ == '__main__':
    sys.exit(main())
