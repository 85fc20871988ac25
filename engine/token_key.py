"""The key that encrypts the stored OAuth token caches, and where it comes from. Never in the database.

Looked up in this order, on every use (a rotated key file is picked up without a restart):

1. the ``maildesk_token_key`` option of the Odoo configuration file (``odoo.tools.config``);
2. the ``MAILDESK_TOKEN_KEY`` environment variable;
3. the default: the key file ``<data_dir>/maildesk/token.key``, created (mode 0600, folder 0700) on first use. It is
   outside the filestore of every database, so neither a database dump nor Odoo's backup zip (dump + filestore)
   holds it. A warning says once per process that production should set the option.

A key is a Fernet key (32 random bytes, url-safe base64: what :func:`generate_key` returns). This module only
finds, reads and writes keys; the token caches are encrypted and decrypted in :mod:`engine.connection` only.
"""
import logging
import os

from cryptography.fernet import Fernet

from odoo.tools import config

_logger = logging.getLogger(__name__)

CONFIG_OPTION = 'maildesk_token_key'
ENV_VARIABLE = 'MAILDESK_TOKEN_KEY'
KEY_FOLDER = 'maildesk'
KEY_FILE_NAME = 'token.key'
_warned = set()


class TokenKeyError(Exception):
    """The token key is missing, unreadable or malformed: a message for an administrator, without key material."""


class TokenKey:
    """A usable key: ``fernet`` (encrypt / decrypt), ``source`` (``'option'``, ``'environment'`` or ``'file'``),
    ``path`` (the key file, for the default) and ``where`` (the same, in words)."""

    def __init__(self, text, source, path=None):
        self.source = source
        self.path = path
        self.where = {'option': 'the %s option of the Odoo configuration' % CONFIG_OPTION,
                      'environment': 'the %s environment variable' % ENV_VARIABLE}.get(source, path)
        self.fernet = parse_key(text, self.where)


def generate_key():
    """A fresh random key (text)."""
    return Fernet.generate_key().decode('ascii')


def parse_key(text, where):
    """:return: a :class:`Fernet` for the key ``text``
    :raises TokenKeyError: it is not a Fernet key"""
    try:
        return Fernet(str(text or '').strip().encode('ascii'))
    except (ValueError, UnicodeError, TypeError):
        raise TokenKeyError('the token key in %s is not a valid key (32 random bytes, url-safe base64, as '
                            '"python3 -c \'from cryptography.fernet import Fernet; print(Fernet.generate_key()'
                            '.decode())\'" prints)' % where) from None


def current_key():
    """The key MailDesk encrypts with now (option, environment, else the default key file, created if needed).

    :raises TokenKeyError: the configured key is malformed, or the key file cannot be read or created
    """
    if config.get(CONFIG_OPTION):
        return TokenKey(config[CONFIG_OPTION], 'option')
    if os.environ.get(ENV_VARIABLE):
        return TokenKey(os.environ[ENV_VARIABLE], 'environment')
    path = default_key_path()
    if path not in _warned:
        _warned.add(path)
        _logger.warning('MailDesk: %s is not set, so OAuth tokens are encrypted with the key file %s (created on '
                        'first use, outside the database). Production servers should set %s in the Odoo '
                        'configuration or %s in the environment (see SECURITY.md).',
                        CONFIG_OPTION, path, CONFIG_OPTION, ENV_VARIABLE)
    return TokenKey(read_or_create_key_file(path), 'file', path)


def default_key_path():
    """``<data_dir>/maildesk/token.key``: one key for the server, as the option is."""
    return os.path.join(config['data_dir'], KEY_FOLDER, KEY_FILE_NAME)


def read_key_file(path):
    """:raises TokenKeyError: the file cannot be read"""
    try:
        with open(path, encoding='ascii') as fh:
            return fh.read().strip()
    except (OSError, UnicodeError) as exc:
        raise TokenKeyError('the token key file %s cannot be read (%s)' % (path, exc.__class__.__name__)) from None


def read_or_create_key_file(path):
    """The key in ``path``; a new random one written there first when the file does not exist yet."""
    if not os.path.exists(path):
        try:
            write_key_file(path, generate_key(), replace=False)
            _logger.info('MailDesk: created the token key file %s', path)
        except FileExistsError:
            _logger.info('MailDesk: another process created the token key file %s: using it', path)
        except OSError as exc:
            raise TokenKeyError('the token key file %s cannot be created (%s): set %s in the Odoo configuration '
                                'or %s in the environment' % (path, exc.__class__.__name__, CONFIG_OPTION,
                                                              ENV_VARIABLE)) from None
    return read_key_file(path)


def write_key_file(path, key, replace=True):
    """Write ``key`` to ``path`` (mode 0600, its folder 0700), atomically: readers see the old key or the new one.

    :param replace: False: raise ``FileExistsError`` when ``path`` exists (two workers creating it at once)
    """
    folder = os.path.dirname(path)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    temporary = '%s.%d.tmp' % (path, os.getpid())
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, 'w', encoding='ascii') as fh:
            fh.write(key.strip() + '\n')
        if replace:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)  # fails if the file appeared meanwhile
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
