"""The tests' one loopback SMTP relay: aiosmtpd on 127.0.0.1 keeping every accepted
message, able to refuse chosen recipients, to start late (a relay that is down, then up)
and to restart on its port.  Each message is a ``Mail``: its peer, envelope, the parsed
message and the raw bytes as received.

    relay = SmtpRelay().start()
    ... deliver to 127.0.0.1:relay.port ...
    [mail] = relay.messages
    assert mail.rcpt_tos == ["ops@example.com"] and mail.message["Subject"] == "..."
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from typing import NamedTuple


def free_port() -> int:
    """A loopback TCP port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Mail(NamedTuple):
    peer: tuple
    mail_from: str
    rcpt_tos: list
    message: email.message.EmailMessage
    raw: bytes
    mail_options: list            # MAIL FROM parameters, e.g. BODY=8BITMIME


class _Handler:
    def __init__(self, relay: SmtpRelay):
        self.relay = relay

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.relay.refuse.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        mail = Mail(session.peer, envelope.mail_from, list(envelope.rcpt_tos),
                    email.message_from_bytes(raw, policy=email.policy.default), raw,
                    list(envelope.mail_options))
        with self.relay.lock:
            self.relay.received.append(mail)
        return "250 Message accepted for delivery"


class SmtpRelay:
    def __init__(self, port: int | None = None, **controller_options):
        self.port = port or free_port()
        self.options = controller_options
        self.refuse: dict[str, str] = {}      # address -> SMTP reply, e.g. '550 5.1.1 No such user'
        self.received: list[Mail] = []
        self.lock = threading.Lock()
        self.controller = None

    def start(self) -> SmtpRelay:
        from aiosmtpd.controller import Controller

        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, **self.options)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def restart(self) -> None:
        """Stop (dropping open sessions) and listen again on the same port."""
        self.stop()
        self.start()

    @property
    def messages(self) -> list[Mail]:
        with self.lock:
            return list(self.received)


class Relays:
    """Relays made by one test, all stopped at its end (the fixtures' factory)."""

    def __init__(self):
        self.made: list[SmtpRelay] = []

    def __call__(self, start: bool = True, **controller_options) -> SmtpRelay:
        relay = SmtpRelay(**controller_options)
        self.made.append(relay)
        return relay.start() if start else relay

    def stop_all(self) -> None:
        for relay in self.made:
            relay.stop()
