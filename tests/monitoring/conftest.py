"""Fixtures for the monitoring tests: real loopback sinks (aiosmtpd, pytest-httpserver) and
helpers to run jobs as of a moment and to point delivery at the sinks."""

from __future__ import annotations

import json

import pytest
from sinks import Relays, SmtpRelay


@pytest.fixture
def smtp_factory():
    """smtp_factory(start=True) -> a loopback SmtpRelay (tests/sinks.py)."""
    relays = Relays()
    yield relays
    relays.stop_all()


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
    def go(slack: str | None = None, smtp: SmtpRelay | None = None, email_to: str | None = None, **settings):
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
