"""Unit tests of the plain PL/Python modules: no database, real loopback servers."""

import sys
from pathlib import Path

import pytest
from sinks import Relays, free_port

PLPYTHON = Path(__file__).resolve().parents[2] / "plpython"
if str(PLPYTHON) not in sys.path:
    sys.path.insert(0, str(PLPYTHON))


@pytest.fixture
def make_smtp_server():
    """Factory: make_smtp_server(**aiosmtpd Controller options) -> a started SmtpRelay
    (tests/sinks.py)."""
    relays = Relays()
    yield relays
    relays.stop_all()


@pytest.fixture
def smtp_server(make_smtp_server):
    return make_smtp_server()


@pytest.fixture
def closed_port():
    return free_port()
