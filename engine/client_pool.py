"""One HTTPS session and one MSAL application per mailbox account per worker process, reused across cron runs and
requests.

Building them is most of what a quiet sync cycle used to cost: a new TLS connection (and CA bundle parse) per run
and MSAL's OpenID configuration request per new application. An entry is keyed by ``(database, account id)`` and
holds a *fingerprint* of everything it was built from (client id, tenant, authority, Graph URL, CA bundle, the
client secret's hash -- never the secret --, the signed-in identity): when that changes, the entry is replaced.
:func:`drop` forgets an account's entry at once (disconnect, new sign-in, token key rotation).

Only the session and the MSAL application are shared; :mod:`engine.connection` builds a light ``GraphClient`` and
a token provider bound to the caller's environment on every use, and keeps the MSAL cache in step with the
encrypted copy stored on the account (:attr:`PooledClient.stored_cache`). Odoo runs its workers as threads (one
process) or as prefork processes: the pool is guarded by a lock, and a forked child starts with an empty pool
(sockets are never shared across processes).
"""
import os
import threading

_pool = {}  # (dbname, account id) -> PooledClient
_pool_lock = threading.Lock()


class PooledClient:
    """What one account reuses in this process.

    :ivar session: the ``requests`` session both MSAL and Graph use (one keep-alive TLS connection per host)
    :ivar app: the :class:`graph.identity.App` (MSAL application + its token cache), built on first use
    :ivar stored_cache: the account's stored (encrypted) token cache the app's cache was loaded from or saved
        as; any other stored value means someone else changed the tokens: the cache is read again
    :ivar lock: held while a token is looked up or refreshed: one refresh at a time per account and process
    """

    def __init__(self, fingerprint, session):
        self.fingerprint = fingerprint
        self.session = session
        self.app = None
        self.stored_cache = None
        self.lock = threading.RLock()

    def forget_app(self):
        """Build the MSAL application anew on next use (MSAL answers a repeated failing token request from its
        own cache for a minute: each attempt after a failure must really ask Microsoft)."""
        self.app = None
        self.stored_cache = None

    def close(self):
        self.forget_app()
        self.session.close()


def checkout(dbname, account_id, fingerprint, new_session):
    """The account's pooled entry, built with ``new_session()`` when missing or built from other settings."""
    key = (dbname, account_id)
    with _pool_lock:
        entry = _pool.get(key)
        if entry is not None and entry.fingerprint == fingerprint:
            return entry
        stale, entry = entry, PooledClient(fingerprint, new_session())
        _pool[key] = entry
    if stale is not None:
        stale.close()
    return entry


def drop(dbname, account_ids=None):
    """Forget the entries of ``account_ids`` (all of the database's when None)."""
    with _pool_lock:
        keys = [key for key in _pool if key[0] == dbname and (account_ids is None or key[1] in account_ids)]
        dropped = [_pool.pop(key) for key in keys]
    for entry in dropped:
        entry.close()


def pooled(dbname, account_id):
    """The account's current entry, or None (for tests and diagnostics)."""
    with _pool_lock:
        return _pool.get((dbname, account_id))


def _forget_all_in_child():
    # The parent's sockets must not be used by two processes: the child builds its own clients.
    global _pool_lock  # noqa: PLW0603 - a lock held by another thread at fork time would stay locked in the child
    _pool_lock = threading.Lock()
    _pool.clear()


os.register_at_fork(after_in_child=_forget_all_in_child)
