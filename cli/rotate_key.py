"""``maildesk-rotate-key``: re-encrypt every stored OAuth token cache with a new token key.

Odoo finds the command in the addon's ``cli/`` folder (odoo/cli/command.py) once the addon is on the addons path::

    python -m odoo --addons-path=... maildesk-rotate-key -c /etc/odoo/odoo.conf -d DB [--new-key-file FILE]

The old key is the one the server uses now (``maildesk_token_key``, ``MAILDESK_TOKEN_KEY`` or the default key file).
Each database is checked first and then rewritten in one transaction; nothing changes if the old key cannot
decrypt every cache. With the default key file, the file is replaced by the new key at the end; with a configured
key, set the option (or the variable) to the new key and restart Odoo. Stop Odoo while rotating: a server that
keeps the old key cannot read tokens re-encrypted with the new one (no token is lost; the accounts show the
problem until the key is set, or are authorized again).
"""
import optparse
import os
import sys
from pathlib import Path

import odoo
from odoo.cli import Command

from ..engine import connection, token_key


class MaildeskRotateKey(Command):
    """Re-encrypt MailDesk's stored OAuth tokens with a new token key"""

    name = 'maildesk-rotate-key'

    def run(self, args):
        parser = odoo.tools.config.parser
        parser.prog = '%s %s' % (Path(sys.argv[0]).name, self.name)
        group = optparse.OptionGroup(parser, 'MailDesk token key rotation',
                                     'Re-encrypt the token caches of the databases given with -d (comma-separated).')
        group.add_option('--new-key-file', dest='maildesk_new_key_file', metavar='FILE',
                         help='the new key: read from FILE, or generated into FILE (mode 0600) when FILE does not '
                              'exist. Optional with the default key file (the new key replaces it).')
        parser.add_option_group(group)
        opt = odoo.tools.config.parse_config(args, setup_logging=True)
        databases = [name for name in (odoo.tools.config['db_name'] or '').split(',') if name.strip()]
        try:
            sys.stdout.write(rotate(databases, opt.maildesk_new_key_file) + '\n')
        except RotationRefused as exc:
            sys.stderr.write('maildesk-rotate-key: %s\n' % exc)
            sys.exit(1)


class RotationRefused(Exception):
    """Why nothing was rotated (or what is left to do), in words."""


def rotate(databases, new_key_file=None, connect=None):
    """Re-encrypt the token caches of ``databases`` with the new key; return what was done and what to do next.

    :param connect: ``dbname -> cursor`` (default: ``odoo.sql_db.db_connect(dbname).cursor()``)
    :raises RotationRefused: nothing was changed (no database, no usable key, the old key does not decrypt)
    """
    if not databases:
        raise RotationRefused('name the database(s) with -d')
    connect = connect or (lambda dbname: odoo.sql_db.db_connect(dbname).cursor())
    try:
        old = token_key.current_key()
        new_text = _new_key(old, new_key_file)
        new = token_key.parse_key(new_text, new_key_file or 'the generated key')
    except (token_key.TokenKeyError, OSError) as exc:
        raise RotationRefused(str(exc)) from None
    if new_text == _key_text(old):
        raise RotationRefused('the new key is the key in use')
    for dbname in databases:  # every database is checked before any is changed
        _rotate_one(connect, dbname, old, new, commit=False)
    staged = None
    if old.source == 'file':  # kept next to the key file until the end: a crash after a commit loses no key
        staged = old.path + '.new'
        token_key.write_key_file(staged, new_text)
    counts = {dbname: _rotate_one(connect, dbname, old, new, commit=True) for dbname in databases}
    done = ', '.join('%s: %d' % item for item in counts.items())
    if staged:
        os.replace(staged, old.path)
        return 'Token caches re-encrypted (%s). The key file %s now holds the new key.' % (done, old.path)
    return ('Token caches re-encrypted (%s). Now set %s to the key in %s and restart Odoo: until then the running '
            'server cannot decrypt them.' % (done, old.where, new_key_file))


def _rotate_one(connect, dbname, old, new, commit):
    """One database in one transaction: the cursor commits when the block ends without an exception."""
    with connect(dbname) as cr:
        try:
            count = connection.rotate_token_key(cr, new, old.fernet)
        except connection.TokenKeyMismatch as exc:
            cr.rollback()
            raise RotationRefused('%s: the current key (%s) cannot decrypt the tokens of maildesk.account %s. '
                                  'Nothing was changed.' % (dbname, old.where, exc.account_ids)) from None
        if not commit:  # the check before any database is changed
            cr.rollback()
        return count


def _new_key(old, new_key_file):
    if new_key_file:
        if not os.path.exists(new_key_file):
            token_key.write_key_file(new_key_file, token_key.generate_key(), replace=False)
        return token_key.read_key_file(new_key_file)
    if old.source != 'file':
        raise RotationRefused('the key in use comes from %s: pass --new-key-file FILE, then set it to the key in '
                              'FILE' % old.where)
    return token_key.generate_key()


def _key_text(key):
    if key.source == 'file':
        return token_key.read_key_file(key.path)
    return str(odoo.tools.config.get(token_key.CONFIG_OPTION) or os.environ.get(token_key.ENV_VARIABLE) or '').strip()
