"""bgjobs status: typed JSON, a table that fits, --wide, and a viewer login."""

from __future__ import annotations

import json

import psycopg
import pytest
from bgjobs.registry import JOBS
from cli_helpers import run_cli


@pytest.fixture
def ran(sql, db):
    sql("SELECT run_job('update-installment-statuses')")
    sql("INSERT INTO jobs_log (job_name, status, started_at, completed_at, error_message) VALUES "
        "('automation-health-check', 'failed', now() - interval '5 minutes', now() - interval '4 minutes 58.5 seconds', "
        "'boom: the rules table is locked')")
    return db


def test_status_json_is_typed(ran):
    rows = json.loads(run_cli("status", "--json", "--dsn", ran, check=True).stdout)
    assert {r["job_name"] for r in rows} == {j.name for j in JOBS}
    inst = next(r for r in rows if r["job_name"] == "update-installment-statuses")
    assert inst["health_score"] == 100 and isinstance(inst["health_score"], (int, float))
    assert inst["last_status"] == "success"
    assert isinstance(inst["last_duration"], float) and 0 <= inst["last_duration"] < 60     # seconds
    assert inst["last_run_at"][10] == "T" and inst["last_run_at"].endswith("+00:00")
    stamps = [r[k] for r in rows for k in ("last_run_at", "next_expected_run") if r[k] is not None]
    assert stamps and all(t[10] == "T" for t in stamps)
    assert inst["local_time"] == "02:00:00"
    failed = next(r for r in rows if r["job_name"] == "automation-health-check")
    assert failed["last_duration"] == 1.5 and failed["health_score"] == 0 and failed["state"] == "Failed"
    assert not any(isinstance(v, str) and v.replace(".", "", 1).isdigit() for r in rows for v in r.values())


def test_status_fits_columns_env_and_wide_shows_everything(ran):
    narrow = run_cli("status", "--dsn", ran, env={"COLUMNS": "80"}, check=True).stdout
    assert max(len(line) for line in narrow.splitlines()) <= 80
    head = narrow.splitlines()[0].split()
    assert head[:2] == ["JOB", "STATE"] and "PG_CRON" not in head
    assert "automation-health-check: boom" in narrow
    wide = run_cli("status", "--wide", "--dsn", ran, env={"COLUMNS": "80"}, check=True).stdout
    assert max(len(line) for line in wide.splitlines()) > 80
    for col in ("PG_CRON JOB", "RECORDS", "LAST RUN AT", "24H OK %", "P95", "SILENCED UNTIL"):
        assert col in wide.splitlines()[0]
    piped = run_cli("status", "--dsn", ran, env={"COLUMNS": ""}, check=True).stdout   # no terminal, no COLUMNS
    assert "PG_CRON JOB" in piped.splitlines()[0] and "LAST RUN AT" not in piped.splitlines()[0]
    assert "\x1b[" not in narrow + wide + piped                                        # not a terminal: no colour


def test_status_for_a_viewer_login(ran, sql):
    sql("DROP ROLE IF EXISTS cli_status_viewer")
    sql("CREATE ROLE cli_status_viewer LOGIN PASSWORD 'pw' IN ROLE bgjobs_viewer")
    try:
        dsn = psycopg.conninfo.make_conninfo(ran, user="cli_status_viewer", password="pw")
        with psycopg.connect(dsn) as c:
            assert len(c.execute("SELECT * FROM public.job_status").fetchall()) == len(JOBS)
        proc = run_cli("status", "--dsn", dsn, env={"COLUMNS": "120"}, check=True)
        assert "update-installment-statuses" in proc.stdout and "Success" in proc.stdout
        rows = json.loads(run_cli("status", "--json", "--dsn", dsn, check=True).stdout)
        assert len(rows) == len(JOBS)
    finally:
        sql("DROP ROLE cli_status_viewer")


def test_status_for_a_viewer_login_in_pg_crons_own_database():
    """Where pg_cron lives in the same database, job_status reads cron.job too."""
    from bgjobs import install, sandbox
    from bgjobs.settings import Settings

    with sandbox.temporary("bgjobs-viewer-") as sb:
        install.install(sb.dsn, Settings(), report=lambda s: None)       # into pg_cron's database
        with psycopg.connect(sb.dsn, autocommit=True) as c:
            c.execute("CREATE ROLE cli_cron_viewer LOGIN PASSWORD 'pw' IN ROLE bgjobs_viewer")
            c.execute("SELECT run_job('update-installment-statuses')")
        dsn = f"postgresql://cli_cron_viewer:pw@127.0.0.1:{sb.port}/{sandbox.DATABASE}"
        with psycopg.connect(dsn) as c:
            assert len(c.execute("SELECT * FROM public.job_status").fetchall()) == len(JOBS)
        proc = run_cli("status", "--dsn", dsn, env={"COLUMNS": "120"}, check=True)
        assert "update-installment-statuses" in proc.stdout and "Success" in proc.stdout
        rows = json.loads(run_cli("status", "--json", "--dsn", dsn, check=True).stdout)
        assert all(r["active"] is True for r in rows)


def test_status_shows_when_a_tenant_local_job_runs(ran, sql):
    """A daily tenant-local job shows its local time; one on some days only, its schedule."""
    sql("CREATE FUNCTION public.weekly_noop() RETURNS void LANGUAGE sql AS $$ SELECT $$")
    sql("SELECT bgjobs.register_job('weekly-noop', 'public.weekly_noop', '0 9 * * mon', 'tenant')")
    out = run_cli("status", "--dsn", ran, env={"COLUMNS": "200"}, check=True).stdout
    line = lambda job: next(x for x in out.splitlines() if x.startswith(job + " "))  # noqa: E731
    assert "02:00 tenant-local" in line("update-installment-statuses")
    assert "0 9 * * mon tenant-local" in line("weekly-noop")
