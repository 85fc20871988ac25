"""Known secret values seen by the tests, for the check that none of them ever reaches the server log.

``record_secrets(values)`` appends them to ``$MAILDESK_SECRETS_FILE`` (set by ``make test``): after the whole run,
tools/run_tests.py searches the complete Odoo log for every value listed there, and for anything shaped like an
emulator token (access ``EwBoA8l6BAAU…``, refresh ``0.AXoA…``, authorization code ``1.AXoA…``). Without the variable
(a test run by other means) the values are only kept in memory.
"""
import os

SEEN = set()


def record_secrets(values):
    fresh = [value for value in values if isinstance(value, str) and len(value) >= 12 and value not in SEEN]
    SEEN.update(fresh)
    path = os.environ.get('MAILDESK_SECRETS_FILE')
    if path and fresh:
        with open(path, 'a', encoding='utf-8') as fh:
            for value in fresh:
                fh.write(value.replace('\n', ' ') + '\n')
