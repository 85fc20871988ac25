"""OAuth tokens at rest: encrypted with a key that is not in the database, rotated by ``maildesk-rotate-key``.

Each test has a key of its own (a key file in a temporary folder, or the ``maildesk_token_key`` option), so the
server's key file is never touched.
"""
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from unittest.mock import patch

from cryptography.fernet import Fernet, InvalidToken

from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import config

from odoo.addons.maildesk.cli import rotate_key
from odoo.addons.maildesk.engine import connection, token_key
from odoo.addons.maildesk.graph.errors import AuthInvalid

from .common import MaildeskCase, stored_token_cache

# tools/run_tests.py SECRET_SHAPES: the emulator's access tokens, refresh tokens and authorization codes
TOKEN_SHAPES = re.compile(r'EwBoA8l6BAAU[\w-]{20,}|\b[01]\.AXoA[\w-]{20,}')
TOKEN_SHAPES_SQL = r'(EwBoA8l6BAAU|[01]\.AXoA)[A-Za-z0-9_-]{20}'


@tagged('post_install', '-at_install')
class TestTokenEncryption(MaildeskCase):

    emulator_options = {'users': 2, 'messages': 3}

    def setUp(self):
        super().setUp()
        self.folder = tempfile.mkdtemp(prefix='maildesk-key-')
        self.addCleanup(shutil.rmtree, self.folder)
        self.key_path = os.path.join(self.folder, 'maildesk', 'token.key')
        self.patch(token_key, 'default_key_path', lambda: self.key_path)
        environ = patch.dict(os.environ)
        environ.start()
        self.addCleanup(environ.stop)
        os.environ.pop(token_key.ENV_VARIABLE, None)
        self.use_option(None)

    def use_option(self, key):
        """``maildesk_token_key`` set to ``key`` (None: not set, the test's key file is used)."""
        options = {name: value for name, value in config.options.items() if name != token_key.CONFIG_OPTION}
        if key:
            options[token_key.CONFIG_OPTION] = key
        self.patch(config, 'options', options)

    def raw(self, account):
        """What a database dump holds in ``maildesk_account.token_cache``."""
        self.env.flush_all()
        self.env.cr.execute('SELECT token_cache FROM maildesk_account WHERE id = %s', [account.id])
        return self.env.cr.fetchone()[0]

    def set_raw(self, account, value):
        """Store ``value`` as is (an earlier version's clear text, another key's ciphertext)."""
        self.env.flush_all()
        self.env.cr.execute('UPDATE maildesk_account SET token_cache = %s WHERE id = %s', [value, account.id])
        account.invalidate_recordset(['token_cache'])

    def secrets(self, account):
        cache = stored_token_cache(account)
        return [entry['secret'] for kind in ('AccessToken', 'RefreshToken', 'IdToken')
                for entry in cache.get(kind, {}).values()]

    def rotate(self, new_key_file=None):
        """``maildesk-rotate-key -d <this database>`` on the test's transaction (each "transaction" of the command
        is a savepoint of it)."""
        self.env.flush_all()
        self.registry.enter_test_mode(self.env.cr)
        try:
            return rotate_key.rotate([self.env.cr.dbname], new_key_file, connect=lambda dbname: self.registry.cursor())
        finally:
            self.registry.leave_test_mode()
            self.env.invalidate_all()

    def assertMode(self, path, mode):
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), mode, path)

    # ------------------------------------------------------------------ at rest

    def test_database_holds_no_token(self):
        account = self.make_account(connected=False)
        account._graph_client().me()
        raw = self.raw(account)
        self.assertTrue(raw.startswith(connection.ENCRYPTED_PREFIX), 'encrypted')
        # (booleans only: a failing assertion must not print a token into the log)
        self.assertFalse(bool(TOKEN_SHAPES.search(raw)), 'no access / refresh token shape in the stored value')
        secrets = self.secrets(account)
        self.assertGreaterEqual(len(secrets), 3)
        self.assertFalse(any(secret in raw for secret in secrets), 'no token of the cache in the stored value')
        # nowhere in the database: every text column of every table (chatter, tracking, parameters...)
        self.env.cr.execute("""
            SELECT c.table_name, array_agg(quote_ident(c.column_name))
              FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name)
             WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
               AND c.data_type IN ('text', 'character varying', 'jsonb')
          GROUP BY c.table_name""")
        for table, columns in self.env.cr.fetchall():
            self.env.cr.execute('SELECT 1 FROM "%s" WHERE concat_ws(\' \', %s) ~ %%s LIMIT 1' % (
                table, ', '.join('%s::text' % column for column in columns)), [TOKEN_SHAPES_SQL])
            self.assertFalse(self.env.cr.fetchone(), 'a token shape in table %s' % table)
        # the key is not in the database but in a file only its owner reads, outside every filestore
        with open(self.key_path) as fh:
            key = fh.read().strip()
        self.env.cr.execute('SELECT count(*) FROM ir_config_parameter WHERE value LIKE %s', ['%' + key + '%'])
        self.assertEqual(self.env.cr.fetchone()[0], 0)
        self.assertMode(self.key_path, 0o600)
        self.assertMode(os.path.dirname(self.key_path), 0o700)

    def test_clear_text_cache_is_encrypted_on_first_use(self):
        account = self.make_account(connected=False)
        self.set_raw(account, connection.read_token_cache(account))
        self.assertTrue(bool(TOKEN_SHAPES.search(self.raw(account))), 'as an earlier version stored it')
        self.assertEqual(account._graph_client().me()['mail'], account.email)
        raw = self.raw(account)
        self.assertTrue(raw.startswith(connection.ENCRYPTED_PREFIX))
        self.assertFalse(bool(TOKEN_SHAPES.search(raw)))

    # ------------------------------------------------------------------ missing or wrong key

    def test_default_key_file_and_malformed_key(self):
        token_key._warned.discard(self.key_path)
        with self.assertLogs('odoo.addons.maildesk.engine.token_key', 'WARNING') as logs:
            key = token_key.current_key()
            token_key.current_key()
        self.assertEqual((key.source, key.path), ('file', self.key_path), 'the documented default')
        self.assertEqual(len(logs.output), 1, 'warned once')
        self.assertIn('Production servers should set maildesk_token_key', logs.output[0])
        self.assertMode(self.key_path, 0o600)
        with patch.dict(os.environ, {token_key.ENV_VARIABLE: Fernet.generate_key().decode()}):
            self.assertEqual(token_key.current_key().source, 'environment')
        # a malformed key: a clear error at Authorize, before the code is redeemed, nothing stored
        self.use_option('not-a-key')
        account = self.make_account(authorized=False, connected=False)
        self.emulator.reset_counters()
        with self.assertRaises(UserError) as caught:
            self.authorize_account(account)
        self.assertIn('no usable token key', str(caught.exception))
        self.assertIn('maildesk_token_key option of the Odoo configuration is not a valid key', str(caught.exception))
        self.assertEqual(self.token_requests(), 0)
        self.assertEqual((account.state, account.sudo().token_cache), ('not_authorized', False))

    def test_wrong_key_is_a_clear_state_not_a_crash(self):
        account = self.make_account()
        account.action_fetch_folders()
        self.assertEqual(account.state, 'connected')
        self.use_option(Fernet.generate_key().decode())  # e.g. a restored dump on a server with another key
        self.emulator.reset_counters()
        failure = self.graph_attempt(account)
        self.assertIsInstance(failure, AuthInvalid)
        self.assertEqual(failure.code, connection.TOKEN_KEY_MISMATCH)
        self.assertEqual((account.state, account.auth_failure_count), ('error', 0), 'not counted against Microsoft')
        self.assertIn('cannot be decrypted with the token key', account.last_error)
        self.assertIn('click "Authorize Outlook"', account.last_error)
        self.registry.enter_test_mode(self.env.cr)  # sync units open cursors of their own
        try:
            self.env['maildesk.account']._cron_sync_changes()  # the background jobs go on
        finally:
            self.registry.leave_test_mode()
        account.invalidate_recordset()
        self.assertEqual(account.state, 'error')
        self.assertEqual(self.emulator.counters()['total'], 0, 'no Graph request')
        self.assertEqual(self.token_requests(), 0, 'no token request')
        self.authorize_account(account)  # Authorize again: tokens encrypted with the key in use
        self.assertEqual(account.state, 'connected')
        self.assertEqual(account._graph_client().me()['mail'], account.email)

    # ------------------------------------------------------------------ rotation

    def test_rotation_of_the_default_key_file(self):
        first = self.make_account(connected=False)
        archived = self.make_account(email=self.emulator.users[1], connected=False)
        archived.active = False
        self.set_raw(archived, connection.read_token_cache(archived))  # a clear-text cache
        with open(self.key_path) as fh:
            old_key = fh.read().strip()
        before = {account: self.raw(account) for account in (first, archived)}
        message = self.rotate()
        self.assertIn('re-encrypted (%s: 2)' % self.env.cr.dbname, message)
        self.assertIn('now holds the new key', message)
        with open(self.key_path) as fh:
            self.assertNotEqual(fh.read().strip(), old_key)
        self.assertMode(self.key_path, 0o600)
        self.assertFalse(os.path.exists(self.key_path + '.new'))
        for account, raw in before.items():
            after = self.raw(account)
            self.assertNotEqual(after, raw)
            with self.assertRaises(InvalidToken):  # the old key no longer decrypts anything
                Fernet(old_key).decrypt(after[len(connection.ENCRYPTED_PREFIX):].encode())
        self.assertEqual(first._graph_client().me()['mail'], first.email, 'the new key decrypts them')

    def test_rotation_refuses_when_the_old_key_cannot_decrypt(self):
        account = self.make_account(connected=False)
        foreign = self.make_account(email=self.emulator.users[1], connected=False)
        self.set_raw(foreign, connection.ENCRYPTED_PREFIX + Fernet(Fernet.generate_key()).encrypt(b'{}').decode())
        before = (self.raw(account), self.raw(foreign))
        with open(self.key_path) as fh:
            key = fh.read()
        with self.assertRaises(rotate_key.RotationRefused) as caught:
            self.rotate()
        self.assertIn('cannot decrypt the tokens of maildesk.account [%d]' % foreign.id, str(caught.exception))
        self.assertIn('Nothing was changed', str(caught.exception))
        self.assertEqual((self.raw(account), self.raw(foreign)), before)
        with open(self.key_path) as fh:
            self.assertEqual(fh.read(), key)
        self.assertEqual(account._graph_client().me()['mail'], account.email)

    def test_rotation_of_a_configured_key(self):
        old_key = Fernet.generate_key().decode()
        self.use_option(old_key)
        account = self.make_account(connected=False)
        with self.assertRaises(rotate_key.RotationRefused) as caught:
            self.rotate()
        self.assertIn('pass --new-key-file', str(caught.exception))
        new_key_file = os.path.join(self.folder, 'new.key')
        message = self.rotate(new_key_file)  # generated into the file
        self.assertMode(new_key_file, 0o600)
        self.assertIn('Now set the maildesk_token_key option of the Odoo configuration to the key in %s'
                      % new_key_file, message)
        with self.assertRaises(InvalidToken):
            Fernet(old_key).decrypt(self.raw(account)[len(connection.ENCRYPTED_PREFIX):].encode())
        # until the option is changed the server cannot decrypt them (and says so), then it can
        self.assertEqual(self.graph_attempt(account).code, connection.TOKEN_KEY_MISMATCH)
        with open(new_key_file) as fh:
            self.use_option(fh.read().strip())
        self.assertIsNone(self.graph_attempt(account))

    def test_rotate_command_is_found_by_odoo(self):
        out = subprocess.run(
            [sys.executable, '-m', 'odoo', '--addons-path=%s' % config['addons_path'], 'maildesk-rotate-key',
             '--help'], capture_output=True, text=True, timeout=300, check=False)
        self.assertEqual(out.returncode, 0, out.stderr[-2000:])
        self.assertIn('--new-key-file', out.stdout)
