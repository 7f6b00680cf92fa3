"""Fixtures of test_faults.py (imported there, not a conftest: the delivery fault tests beside
it use the session's server).  Faults (issue 8): a throw-away cluster of the module's own (real pg_cron in libpq mode,
as the sandbox runs it), since some faults take pg_cron or the whole server down.
bgjobs is installed with its pg_cron schedules into pg_cron's database; tests that need
isolation get a database cloned from an unscheduled template in the same cluster."""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest
from bgjobs import install as inst
from bgjobs import sandbox
from bgjobs.settings import Settings
from psycopg.conninfo import make_conninfo
from sinks import SmtpRelay

TEMPLATE = "faults_template"


@pytest.fixture(scope="module")
def cluster():
    with sandbox.temporary("bgjobs-faults-") as sb:
        inst.install(sb.dsn, Settings(), report=lambda s: None)              # scheduled, in pg_cron's db
        with psycopg.connect(sb.dsn_for("postgres"), autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{TEMPLATE}"')
        inst.install(sb.dsn_for(TEMPLATE), Settings(), schedule=False, report=lambda s: None)
        yield sb


@pytest.fixture
def fresh_db(cluster):
    """DSN of a new database of the fault cluster with bgjobs installed (no schedules)."""
    name = f"f_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(cluster.dsn_for("postgres"), autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
    yield cluster.dsn_for(name)
    try:
        with psycopg.connect(cluster.dsn_for("postgres"), autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except psycopg.OperationalError:
        pass


def wait_for(predicate, timeout=30.0, step=0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            return value
        time.sleep(step)


def as_runner(dsn: str) -> psycopg.Connection:
    """A session that runs what pg_cron runs, as pg_cron runs it: as bgjobs_runner."""
    c = psycopg.connect(dsn, autocommit=True)
    c.execute("SET ROLE bgjobs_runner")
    return c


def add_test_job(dsn: str) -> None:
    """Job 'sleepy': sleeps public.knobs.sleep_s seconds, then fails if public.knobs.fail."""
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("CREATE TABLE public.knobs (sleep_s float8 NOT NULL DEFAULT 0, fail boolean NOT NULL DEFAULT false)")
        c.execute("INSERT INTO public.knobs DEFAULT VALUES")
        c.execute("GRANT SELECT ON public.knobs TO bgjobs_runner")
        c.execute("""CREATE FUNCTION bgjobs.job_sleepy(p_as_of timestamptz, p_tenants uuid[]) RETURNS jsonb
                     LANGUAGE plpgsql SET search_path TO pg_catalog, pg_temp AS $$
                     BEGIN
                       PERFORM pg_sleep((SELECT k.sleep_s FROM public.knobs k));
                       IF (SELECT k.fail FROM public.knobs k) THEN RAISE EXCEPTION 'upstream API down'; END IF;
                       RETURN '{}'::jsonb;
                     END $$""")
        c.execute("INSERT INTO bgjobs.job_registry (job_name, schedule, function_name) "
                  "VALUES ('sleepy', '0 0 1 1 *', 'job_sleepy')")


def knobs(dsn: str, **values) -> None:
    with psycopg.connect(dsn, autocommit=True) as c:
        for k, v in values.items():
            c.execute(f"UPDATE public.knobs SET {k} = %s", (v,))


@pytest.fixture
def smtp_sink():
    relay = SmtpRelay().start()
    yield relay
    relay.stop()


def point_alerts_at(dsn: str, slack_url: str | None = None, smtp: SmtpRelay | None = None, **settings) -> None:
    with psycopg.connect(dsn, autocommit=True) as c:
        if slack_url:
            c.execute("SELECT public.set_secret('SLACK_WEBHOOK_URL', %s)", (slack_url,))
        values = dict(settings)
        if smtp is not None:
            values.update(smtp_host="127.0.0.1", smtp_port=str(smtp.port), email_transport="smtp",
                          alert_email_to="oncall@example.com")
        for k, v in values.items():
            c.execute("INSERT INTO public.app_settings (key, value) VALUES (%s, %s) "
                      "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", (k, str(v)))


def dsn_as(dsn: str, **kw) -> str:
    return make_conninfo(dsn, **kw)
