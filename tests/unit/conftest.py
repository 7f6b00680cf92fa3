"""Unit tests of the plain PL/Python modules: no database, real loopback servers."""

import email
import email.policy
import socket
import sys
import threading
from pathlib import Path

import pytest

PLPYTHON = Path(__file__).resolve().parents[2] / "plpython"
if str(PLPYTHON) not in sys.path:
    sys.path.insert(0, str(PLPYTHON))


def free_port():
    """A loopback TCP port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpSink:
    """aiosmtpd handler: keeps every accepted mail, refuses configured recipients."""

    def __init__(self):
        self.messages = []          # (peer, mail_from, rcpt_tos, parsed message)
        self.refuse = {}            # address -> SMTP reply, e.g. '550 5.1.1 No such user'
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.refuse.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content or envelope.content,
                                           policy=email.policy.default)
        with self.lock:
            self.messages.append((session.peer, envelope.mail_from, list(envelope.rcpt_tos),
                                  message))
        return "250 Message accepted for delivery"


class SmtpServer:
    """An aiosmtpd server on 127.0.0.1; ``sink`` holds what it received."""

    def __init__(self, **controller_options):
        self.sink = SmtpSink()
        self.port = free_port()
        self.options = controller_options
        self.controller = None

    def start(self):
        from aiosmtpd.controller import Controller

        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port,
                                     **self.options)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def restart(self):
        """Stop (dropping open sessions) and listen again on the same port."""
        self.stop()
        self.start()


@pytest.fixture
def make_smtp_server():
    """Factory: make_smtp_server(**aiosmtpd Controller options) -> started SmtpServer."""
    servers = []

    def make(**options):
        server = SmtpServer(**options)
        server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def smtp_server(make_smtp_server):
    return make_smtp_server()


@pytest.fixture
def closed_port():
    return free_port()
