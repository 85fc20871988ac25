"""Fixtures: one session-wide emulator (reset between tests) and fresh ones for tests that need clean state."""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from emulator.testing import running_emulator  # noqa: E402
from emulator.tests.helpers import Graph  # noqa: E402

DEFAULT_CONFIG = {'token_lifetime': 3599, 'code_lifetime': 600, 'refresh_token_lifetime': 90 * 86400,
                  'max_concurrency': 4, 'mailbox_budget': None, 'latency': 0.0, 'delta_token_ttl': None,
                  'strict_idtype_tokens': False, 'null_mail_users': [], 'stale_nextlinks': False,
                  'max_message_size': 150 * 1024 * 1024}


@pytest.fixture(scope='session')
def emu():
    with running_emulator(users=3, messages=300, seed=7) as handle:
        yield handle


@pytest.fixture(autouse=True)
def _reset_emulator(request):
    yield
    if 'emu' in request.fixturenames:
        handle = request.getfixturevalue('emu')
        handle.neutral(DEFAULT_CONFIG)


@pytest.fixture()
def fresh_emu():
    with running_emulator(users=2, messages=50, seed=3) as handle:
        yield handle


@pytest.fixture()
def graph(emu):
    return Graph(emu)


@pytest.fixture()
def igraph(emu):
    return Graph(emu, immutable=True)
