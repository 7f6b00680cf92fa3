"""Fixtures for the monitoring tests: real loopback sinks (aiosmtpd, pytest-httpserver) and
helpers to run jobs as of a moment and to point delivery at the sinks."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpSink:
    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd on 127.0.0.1:port; can start later (a relay that is down, then up)."""

    def __init__(self, port: int | None = None):
        self.sink = SmtpSink()
        self.port = port or free_port()
        self.controller = None

    def start(self):
        from aiosmtpd.controller import Controller
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self):
        with self.sink.lock:
            return list(self.sink.messages)


@pytest.fixture
def smtp_factory():
    servers = []

    def make(start: bool = True) -> SmtpServer:
        s = SmtpServer()
        servers.append(s)
        return s.start() if start else s

    yield make
    for s in servers:
        s.stop()


@pytest.fixture
def smtp(smtp_factory):
    return smtp_factory()


@pytest.fixture
def run(sql):
    """run(job, as_of=None) -> the run_job response (dict); as_of is SQL text or a datetime."""
    # the rules are replayed at moments ahead of the clock: opt in to future as_of
    sql("SET bgjobs.allow_future_as_of = on")

    def go(job, as_of=None):
        if as_of is None:
            return sql("SELECT run_job(%s)", job)[0][0]
        return sql("SELECT run_job(%s, %s::timestamptz)", job, as_of)[0][0]
    return go


@pytest.fixture
def configure(sql):
    """Point delivery at the sinks: configure(slack=url, smtp=server, email_to=..., **settings)."""
    def go(slack: str | None = None, smtp: SmtpServer | None = None, email_to: str | None = None, **settings):
        if slack is not None:
            sql("SELECT set_secret('SLACK_WEBHOOK_URL', %s)", slack)
        values = dict(settings)
        if smtp is not None:
            values.update(smtp_host="127.0.0.1", smtp_port=str(smtp.port), email_transport="smtp")
        if email_to is not None:
            values["alert_email_to"] = email_to
        for k, v in values.items():
            sql("INSERT INTO app_settings (key, value) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", k, str(v))
    return go


@pytest.fixture
def queued(sql):
    """queued(template=None) -> outbox rows (dicts) in creation order."""
    def go(template: str | None = None):
        rows = sql("SELECT to_jsonb(n) FROM notifications n WHERE %s::text IS NULL OR template = %s "
                   "ORDER BY created_at, dedupe_key", template, template)
        return [r[0] for r in rows]
    return go


def slack_bodies(httpserver, path: str = "/slack"):
    return [json.loads(req.get_data(as_text=True)) for req, _ in httpserver.log if req.path == path]
