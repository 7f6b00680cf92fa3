"""bgjobs install / uninstall / doctor / status / run through the real command line,
against a real PostgreSQL with pg_cron."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import psycopg
import pytest
from bgjobs.registry import JOBS


def bgjobs(*args, env=None, check=None):
    proc = subprocess.run([sys.executable, "-m", "bgjobs", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)
    if check is True:
        assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc


def one_line_error(proc) -> str:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def cron_jobs(pg_server, dbname):
    with psycopg.connect(pg_server.dsn(pg_server.cron_db), autocommit=True) as c:
        return {r[0]: r[1:] for r in c.execute(
            "SELECT jobname, jobid, schedule, command, active FROM cron.job WHERE database = %s", (dbname,)).fetchall()}


def tables(dsn):
    with psycopg.connect(dsn, autocommit=True) as c:
        return {r[0] for r in c.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables "
            "WHERE table_schema IN ('public', 'bgjobs')").fetchall()}


@pytest.fixture
def empty_db(new_db, pg_server, cron_conn):
    name = new_db()
    return name, pg_server.dsn(name)


def test_fresh_install_then_reinstall_changes_nothing(empty_db, pg_server):
    name, dsn = empty_db
    first = bgjobs("install", "--dsn", dsn, check=True)
    assert "applied migrations: 0001.core, 0002.business_tables" in first.stdout
    jobs = cron_jobs(pg_server, name)
    assert len(jobs) == len(JOBS)
    for job in JOBS:
        scheduled = [n for n in jobs if n == job.pg_cron_name or n == f"{job.pg_cron_name}@{name}"]
        assert scheduled, f"{job.pg_cron_name} not scheduled"
        assert jobs[scheduled[0]][2] == f"CALL bgjobs.run_scheduled_job('{job.name}')"
    assert {"public.jobs_log", "public.job_heartbeats", "public.notifications", "public.installments",
            "bgjobs.job_registry", "public.healthcheck_summary", "public.job_status"} <= tables(dsn)

    with psycopg.connect(dsn) as c:
        before = c.execute("SELECT job_name, updated_at FROM bgjobs.job_registry ORDER BY 1").fetchall()
    second = bgjobs("install", "--dsn", dsn, check=True)
    assert "0 change(s)" in second.stdout.splitlines()[-1]
    assert "applied migrations" not in second.stdout
    assert cron_jobs(pg_server, name) == jobs                     # same jobids, schedules, commands
    with psycopg.connect(dsn) as c:
        assert c.execute("SELECT job_name, updated_at FROM bgjobs.job_registry ORDER BY 1").fetchall() == before


def test_dry_run_changes_nothing(empty_db, pg_server):
    name, dsn = empty_db
    out = bgjobs("install", "--dsn", dsn, "--dry-run", check=True).stdout
    from bgjobs.resources import migrations_dir
    ids = sorted(p.name[:-4] for p in migrations_dir().glob("*.sql") if not p.name.endswith(".rollback.sql"))
    assert f"migrations to apply: {len(ids)} ({', '.join(ids)})" in out
    assert "pg_cron create: check-sla-and-overdue" in out      # (named ...@<db> where another database has one)
    assert "nothing was changed" in out
    assert tables(dsn) == set()
    assert cron_jobs(pg_server, name) == {}


def test_settings_file_changes_schedule_and_settings(empty_db, pg_server, tmp_path):
    name, dsn = empty_db
    bgjobs("install", "--dsn", dsn, check=True)
    before = cron_jobs(pg_server, name)
    sla = next(n for n in before if n.startswith("check-sla-and-overdue"))
    f = tmp_path / "settings.toml"
    f.write_text('alert_email_to = "ops@example.com"\nsmtp_port = 1025\n\n'
                 '[jobs."check-sla-and-overdue"]\nschedule = "*/10 * * * *"\n'
                 '[jobs."update-installment-statuses"]\nlocal_time = "03:30"\n')
    dry = bgjobs("install", "--dsn", dsn, "--settings", str(f), "--dry-run", check=True).stdout
    assert f"pg_cron update: {sla} '*/15 * * * *' -> '*/10 * * * *'" in dry
    assert cron_jobs(pg_server, name) == before
    out = bgjobs("install", "--dsn", dsn, "--settings", str(f), check=True).stdout
    assert f"pg_cron update: {sla}" in out
    after = cron_jobs(pg_server, name)
    assert after[sla][0] == before[sla][0] and after[sla][1] == "*/10 * * * *"        # same job, new schedule
    inst = next(n for n in after if n.startswith("update-installment-statuses-daily"))
    assert after[inst][1] == "0,15,30,45 * * * *" or after[inst][1] == "*/15 * * * *"
    with psycopg.connect(dsn) as c:
        assert c.execute("SELECT value FROM app_settings WHERE key = 'alert_email_to'").fetchone()[0] == "ops@example.com"
        assert c.execute("SELECT value FROM app_settings WHERE key = 'smtp_port'").fetchone()[0] == "1025"
        assert str(c.execute("SELECT local_time FROM bgjobs.job_registry "
                             "WHERE job_name = 'update-installment-statuses'").fetchone()[0]) == "03:30:00"
    again = bgjobs("install", "--dsn", dsn, "--settings", str(f), check=True).stdout
    assert "0 change(s)" in again.splitlines()[-1]


def test_second_database_keeps_first_ones_schedules(new_db, pg_server, cron_conn):
    a, b = new_db(), new_db()
    bgjobs("install", "--dsn", pg_server.dsn(a), check=True)
    jobs_a = cron_jobs(pg_server, a)
    bgjobs("install", "--dsn", pg_server.dsn(b), check=True)
    assert cron_jobs(pg_server, a) == jobs_a                  # untouched: same ids, commands, database
    jobs_b = cron_jobs(pg_server, b)
    assert len(jobs_b) == len(JOBS)
    assert not set(jobs_a) & set(jobs_b)                      # names are unique per cluster and user
    assert all(n.endswith(f"@{b}") for n in jobs_b)
    status = bgjobs("status", "--dsn", pg_server.dsn(b), check=True).stdout
    assert f"update-installment-statuses-daily@{b}" in status  # status shows the real names
    # uninstalling b leaves a alone
    bgjobs("uninstall", "--dsn", pg_server.dsn(b), "--yes", check=True)
    assert cron_jobs(pg_server, b) == {}
    assert cron_jobs(pg_server, a) == jobs_a
    assert tables(pg_server.dsn(b)) == set()
    assert "public.jobs_log" in tables(pg_server.dsn(a))


def test_uninstall_needs_yes_and_removes_only_its_own(empty_db, pg_server):
    name, dsn = empty_db
    bgjobs("install", "--dsn", dsn, check=True)
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("CREATE TABLE public.customer_data (id int)")
        c.execute("CREATE FUNCTION public.customer_fn() RETURNS int LANGUAGE sql AS 'SELECT 1'")
    msg = one_line_error(bgjobs("uninstall", "--dsn", dsn))
    assert "--yes" in msg
    assert cron_jobs(pg_server, name)
    bgjobs("uninstall", "--dsn", dsn, "--yes", check=True)
    assert cron_jobs(pg_server, name) == {}
    assert tables(dsn) == {"public.customer_data"}
    with psycopg.connect(dsn, autocommit=True) as c:
        assert c.execute("SELECT public.customer_fn()").fetchone()[0] == 1
        assert c.execute("SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                         "WHERE n.nspname IN ('bgjobs', 'bgjobs_app') OR p.proname IN ('run_job', 'set_secret', 'update_job_heartbeat')"
                         ).fetchone()[0] == 0
        assert c.execute("SELECT count(*) FROM pg_namespace WHERE nspname IN ('bgjobs', 'bgjobs_app')").fetchone()[0] == 0
    # and it installs again from scratch
    bgjobs("install", "--dsn", dsn, check=True)
    assert len(cron_jobs(pg_server, name)) == len(JOBS)


@pytest.mark.parametrize("content, expected", [
    ("alert_email_to = \n", "invalid TOML"),
    ("no_such_key = 1\n", "unknown key 'no_such_key'"),
    ("smtp_port = \"twenty-five\"\n", "key 'smtp_port' must be a whole number"),
    ('[jobs."check-sla-and-overdue"]\nschedule = "*/15 * * *"\n', 'jobs."check-sla-and-overdue".schedule'),
    ('[jobs."check-sla-and-overdue"]\nschedule = "61 * * * *"\n', 'jobs."check-sla-and-overdue".schedule'),
    ('[jobs."check-job-health"]\ntimezone = "Mars/Olympus"\n', 'jobs."check-job-health".timezone'),
    ('[jobs."no-such-job"]\nenabled = false\n', "unknown job 'no-such-job'"),
    ('[jobs."update-installment-statuses"]\nlocal_time = "25:00"\n', "local_time"),
    ('[jobs."check-sla-and-overdue"]\ntimeout = "forever"\n', "timeout"),
])
def test_bad_settings_file_is_refused_whole(empty_db, tmp_path, content, expected):
    name, dsn = empty_db
    f = tmp_path / "bad.toml"
    f.write_text('alert_email_to = "ops@example.com"\n' + content)
    msg = one_line_error(bgjobs("install", "--dsn", dsn, "--settings", str(f)))
    assert expected in msg and str(f) in msg
    assert tables(dsn) == set()                      # nothing applied


def test_refused_connection_and_missing_settings_file(tmp_path):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dsn = f"postgresql://postgres@127.0.0.1:{port}/x"
    for cmd in (["install"], ["status"], ["run", "check-sla-and-overdue"], ["uninstall", "--yes"]):
        msg = one_line_error(bgjobs(*cmd, "--dsn", dsn))
        assert f"cannot connect to 127.0.0.1:{port}/x" in msg and "refused" in msg.lower()
    doc = bgjobs("doctor", "--dsn", dsn)
    assert doc.returncode != 0 and "FAIL connection" in doc.stdout
    msg = one_line_error(bgjobs("install", "--dsn", dsn, "--settings", str(tmp_path / "nope.toml")))
    assert "not found" in msg


def test_dsn_from_environment(empty_db):
    name, dsn = empty_db
    env = {"DATABASE_URL": dsn}
    bgjobs("install", "--no-schedule", env=env, check=True)
    assert "check-sla-and-overdue" in bgjobs("status", env=env, check=True).stdout


def test_missing_pg_cron_is_named(tmp_path):
    from bgjobs import sandbox

    with sandbox.temporary("bgjobs-nocron-", preload_cron=False) as sb:
        msg = one_line_error(bgjobs("install", "--dsn", sb.dsn))
        assert "pg_cron is not loaded" in msg and "shared_preload_libraries" in msg
        assert tables(sb.dsn) == set()
        doc = bgjobs("doctor", "--dsn", sb.dsn)
        assert doc.returncode != 0 and "FAIL pg_cron: not in shared_preload_libraries" in doc.stdout
        # without schedules it installs, and says what it left out
        bgjobs("install", "--dsn", sb.dsn, "--no-schedule", check=True)
        assert "public.jobs_log" in tables(sb.dsn)


def test_run_command_and_unknown_job(db):
    out = bgjobs("run", "update-installment-statuses", "--dsn", db, "--as-of", "2026-11-23 02:00+05:30")
    assert '"job": "update-installment-statuses"' in out.stdout
    with psycopg.connect(db) as c:
        assert c.execute("SELECT count(*) FROM audit_log WHERE action_type = 'manual_job_trigger' "
                         "AND details->>'job_name' = 'update-installment-statuses'").fetchone()[0] == 1
        assert c.execute("SELECT as_of FROM jobs_log").fetchone()[0].isoformat() == "2026-11-22T20:30:00+00:00"
    msg = one_line_error(bgjobs("run", "no-such-job", "--dsn", db))
    assert 'unknown job "no-such-job"' in msg and "check-sla-and-overdue" in msg
    msg = one_line_error(bgjobs("run", "check-sla-and-overdue", "--dsn", db, "--as-of", "yesterday-ish"))
    assert "--as-of" in msg


def test_status_json_and_doctor(empty_db):
    import json
    name, dsn = empty_db
    bgjobs("install", "--dsn", dsn, check=True)
    rows = json.loads(bgjobs("status", "--json", "--dsn", dsn, check=True).stdout)
    assert {r["job_name"] for r in rows} == {j.name for j in JOBS}
    assert all(r["active"] for r in rows)
    doc = bgjobs("doctor", "--dsn", dsn)
    with psycopg.connect(dsn) as c:
        cron_db = c.execute("SELECT current_setting('cron.database_name')").fetchone()[0]
    # pg_cron's schedules are checked where pg_cron lives
    assert ("ok   schedules:" if cron_db == name else f"WARN schedules: pg_cron lives in {cron_db}") in doc.stdout
    assert "ok   pg_cron launcher: running" in doc.stdout
    assert "FAIL" not in doc.stdout, doc.stdout


def test_uninstall_keep_data_keeps_rows_and_reinstall_resumes(empty_db, pg_server):
    # The install is scheduled, so pg_cron may add runs of its own (deliver-notifications
    # fires every minute) while the test runs: the test follows the rows it knows by id.
    name, dsn = empty_db
    bgjobs("install", "--dsn", dsn, check=True)
    rows = "SELECT id, job_name FROM jobs_log"
    ours = "SELECT status FROM jobs_log WHERE id = %s"
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("INSERT INTO tenants (name, timezone) VALUES ('Acme', 'Asia/Kolkata')")
        first = c.execute("SELECT run_job('check-sla-and-overdue')").fetchone()[0]["runId"]
        before = set(c.execute(rows).fetchall())
    assert (uuid.UUID(first), "check-sla-and-overdue") in before
    out = bgjobs("uninstall", "--dsn", dsn, "--yes", "--keep-data", check=True).stdout
    assert "kept the tables" in out
    assert cron_jobs(pg_server, name) == {}
    with psycopg.connect(dsn, autocommit=True) as c:
        assert c.execute("SELECT to_regprocedure('public.run_job(text, timestamptz)')").fetchone()[0] is None
        assert c.execute("SELECT name FROM tenants").fetchall() == [("Acme",)]
        kept = set(c.execute(rows).fetchall())
        assert c.execute(ours, (first,)).fetchone() == ("success",)
    assert before <= kept      # a pg_cron run under way when uninstall began may add its own row
    bgjobs("install", "--dsn", dsn, check=True)
    assert len(cron_jobs(pg_server, name)) == len(JOBS)
    with psycopg.connect(dsn, autocommit=True) as c:
        assert kept <= set(c.execute(rows).fetchall())
        second = c.execute("SELECT run_job('check-sla-and-overdue')").fetchone()[0]
        assert second["success"] is True and second["runId"] != first
        assert c.execute(ours, (second["runId"],)).fetchone() == ("success",)
        assert c.execute(ours, (first,)).fetchone() == ("success",)
        assert c.execute("SELECT has_table_privilege('bgjobs_viewer', 'public.jobs_log', 'SELECT')").fetchone()[0]


def test_reinstall_over_a_function_whose_return_type_changed(empty_db):
    """An upgrade where a function's result columns changed: the installer drops and
    re-creates it, and the views that depend on it come back."""
    name, dsn = empty_db
    bgjobs("install", "--dsn", dsn, "--no-schedule", check=True)
    with psycopg.connect(dsn, autocommit=True) as c:      # what an older release might have installed
        c.execute("DROP FUNCTION bgjobs.job_stats(timestamptz) CASCADE")
        c.execute("CREATE FUNCTION bgjobs.job_stats(p_as_of timestamptz DEFAULT now()) "
                  "RETURNS TABLE (job_name text) LANGUAGE sql AS 'SELECT NULL::text'")
        c.execute("CREATE VIEW public.old_stats AS SELECT * FROM bgjobs.job_stats()")
    msg = one_line_error(bgjobs("install", "--dsn", dsn, "--no-schedule"))
    assert "public.old_stats (not bgjobs') depends on it" in msg and "nothing was applied" in msg
    with psycopg.connect(dsn, autocommit=True) as c:
        assert c.execute("SELECT to_regclass('public.job_status')").fetchone()[0] is None   # still as it was
        c.execute("DROP VIEW public.old_stats")
    out = bgjobs("install", "--dsn", dsn, "--no-schedule", check=True).stdout
    assert "re-created bgjobs.job_stats: its return type changed" in out
    with psycopg.connect(dsn, autocommit=True) as c:
        assert c.execute("SELECT count(*) FROM job_success_rates").fetchone()[0] == len(JOBS)
        assert c.execute("SELECT count(*) FROM job_status").fetchone()[0] == len(JOBS)
