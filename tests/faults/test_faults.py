"""Faults injected into a running install (issue 8), each a regression test on a real
server with real pg_cron: a backend terminated mid-run, an immediate server stop mid-run
then a restart, a manual run overlapping a scheduled one, three failures then a recovery
(exact messages received by loopback sinks), pg_cron's runs failing to connect, other
applications' pg_cron history under retention, and pg_cron's launcher terminated.

The tests run in file order on one cluster: the last ones take pg_cron (then the server)
down.  A few wait on pg_cron's real clock (about a minute each)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest
from bgjobs import doctor, sandbox
from bgjobs import worker as wk

from .cluster import (  # noqa: F401
    add_test_job,
    as_runner,
    cluster,
    fresh_db,
    knobs,
    point_alerts_at,
    smtp_sink,
    wait_for,
)

pytestmark = pytest.mark.slow


def one(dsn, q, *args):
    with psycopg.connect(dsn, autocommit=True) as c:
        row = c.execute(q, args or None).fetchone()
        return row[0] if row else None


def rows(dsn, q, *args):
    with psycopg.connect(dsn, autocommit=True) as c:
        return c.execute(q, args or None).fetchall()


def start_scheduled_run(dsn: str, out: dict) -> threading.Thread:
    """CALL bgjobs.run_scheduled_job('sleepy') as bgjobs_runner, as pg_cron does, in a thread."""
    def go():
        try:
            with as_runner(dsn) as c:
                c.execute("CALL bgjobs.run_scheduled_job('sleepy')")
                out["done"] = True
        except psycopg.Error as exc:
            out["error"] = exc
    th = threading.Thread(target=go, daemon=True)
    th.start()
    return th


def running_pid(dsn):
    return one(dsn, "SELECT pid FROM public.jobs_log WHERE job_name = 'sleepy' AND status = 'running'")


def assert_recorded_as_failed(dsn, message_part: str):
    [(status, err, run_id)] = rows(dsn, "SELECT status, error_message, id FROM public.jobs_log WHERE job_name = 'sleepy'")
    assert status == "failed" and message_part in err
    [(details,)] = rows(dsn, "SELECT details FROM public.audit_log WHERE action_type = 'background_job_execution' "
                             "AND entity_id = %s", run_id)
    assert details["status"] == "failed" and details["job_name"] == "sleepy"
    assert rows(dsn, "SELECT status FROM public.job_heartbeats WHERE job_name = 'sleepy'") == [("failed",)]
    assert rows(dsn, "SELECT template, payload->>'rule' FROM public.notifications "
                     "WHERE payload->>'job_name' = 'sleepy'") == [("job_failure", "consecutive_failures")]  # one alert


# ------------------------------------------------------------------ a backend terminated mid-run

def test_backend_terminated_mid_run_is_recorded_failed_everywhere(fresh_db):
    add_test_job(fresh_db)
    point_alerts_at(fresh_db, alert_email_to="ops@example.com")
    knobs(fresh_db, sleep_s=60)
    out: dict = {}
    th = start_scheduled_run(fresh_db, out)
    pid = wait_for(lambda: running_pid(fresh_db))
    assert pid, "the run never started"
    assert one(fresh_db, "SELECT pg_terminate_backend(%s)", pid)
    th.join(10)
    assert not th.is_alive() and "error" in out
    # the next run of anything reaps it (here the hourly health check, run by hand)
    with as_runner(fresh_db) as c:
        c.execute("CALL bgjobs.run_scheduled_job('check-job-health')")
    assert_recorded_as_failed(fresh_db, f"run abandoned: its backend (pid {pid}) ended")


# ------------------------------------------------------------------ a manual run overlapping a scheduled one

def test_manual_run_overlapping_a_scheduled_one_runs_once(fresh_db):
    add_test_job(fresh_db)
    knobs(fresh_db, sleep_s=3)
    manual: dict = {}

    def go():
        with psycopg.connect(fresh_db, autocommit=True) as c:
            manual["resp"] = c.execute("SELECT public.run_job('sleepy')").fetchone()[0]
    th = threading.Thread(target=go)
    th.start()
    assert wait_for(lambda: one(fresh_db, "SELECT bgjobs.lock_held('sleepy')"))
    with as_runner(fresh_db) as c:                            # pg_cron's tick arrives meanwhile
        c.execute("CALL bgjobs.run_scheduled_job('sleepy')")
    th.join(30)
    assert manual["resp"]["success"] is True
    assert sorted(rows(fresh_db, "SELECT trigger, status FROM public.jobs_log WHERE job_name = 'sleepy'")) == \
        [("cron", "skipped"), ("manual", "success")]
    assert one(fresh_db, "SELECT count(*) FROM public.notifications") == 0


# ------------------------------------------------------------------ three failures, then a recovery

@pytest.mark.parametrize("critical_after, expected", [
    # default consecutive_failures_critical = 3: the third failure escalates to CRITICAL
    (3, ["🚨 Job Failed: sleepy", "🚨 [CRITICAL] bgjobs: sleepy", "✅ [RESOLVED] bgjobs: sleepy"]),
    # a threshold above the streak: one alert, one resolved notice
    (4, ["🚨 Job Failed: sleepy", "✅ [RESOLVED] bgjobs: sleepy"]),
])
def test_three_failures_then_a_recovery_exact_messages(fresh_db, httpserver, smtp_sink, critical_after, expected):
    httpserver.expect_request("/slack", method="POST").respond_with_data("ok")
    add_test_job(fresh_db)
    point_alerts_at(fresh_db, slack_url=httpserver.url_for("/slack"), smtp=smtp_sink,
                    consecutive_failures_critical=critical_after)
    knobs(fresh_db, fail=True)
    for _ in range(3):
        with as_runner(fresh_db) as c:
            c.execute("CALL bgjobs.run_scheduled_job('sleepy')")
        wk.main(fresh_db, once=True, report=lambda s: None)   # delivered after each run
    knobs(fresh_db, fail=False)
    with as_runner(fresh_db) as c:
        c.execute("CALL bgjobs.run_scheduled_job('sleepy')")
        c.execute("CALL bgjobs.run_scheduled_job('sleepy')")
    wk.main(fresh_db, once=True, report=lambda s: None)
    slack = [json.loads(req.get_data(as_text=True))["text"] for req, _ in httpserver.log]
    assert [t[:len(e)] for t, e in zip(slack, expected)] == expected and len(slack) == len(expected)
    assert len(smtp_sink.messages) == len(expected)
    subjects = [m.message["Subject"] for m in smtp_sink.messages]
    assert subjects[0] == "ALERT: Job Failed - sleepy" and subjects[-1].startswith("[RESOLVED] bgjobs: sleepy")


# ------------------------------------------------------------------ pg_cron's runs failing to connect

def _hba(sb) -> Path:
    return sb.data / "pg_hba.conf"


def test_doctor_fails_naming_the_fix_when_pg_cron_cannot_connect(cluster):
    """libpq mode with password authentication for bgjobs_runner (which has no password):
    every pg_cron run fails before reaching bgjobs and jobs_log stays empty."""
    dsn = cluster.dsn
    original = _hba(cluster).read_text()
    try:
        _hba(cluster).write_text(original.replace("local   all   bgjobs_runner        peer map=bgjobs_cron",
                                                  "local   all   bgjobs_runner        scram-sha-256"))
        one(dsn, "SELECT pg_reload_conf()")
        last = one(dsn, "SELECT coalesce(max(runid), 0) FROM cron.job_run_details")
        # a run that never connected has no start_time: found by its runid
        failed = wait_for(lambda: rows(dsn, "SELECT d.return_message FROM cron.job_run_details d "
                                            "JOIN cron.job j USING (jobid) WHERE j.jobname = 'deliver-notifications' "
                                            "AND d.status = 'failed' AND d.runid > %s", last), timeout=80, step=1)
        assert failed, "pg_cron ran no deliver-notifications in 80 s"
        assert failed[0] == ("connection failed",)           # what pg_cron 1.4.2 records
        lines: list[str] = []
        assert doctor.run(dsn, report=lines.append) is False
        [line] = [ln for ln in lines if ln.startswith("FAIL pg_cron runs")]
        assert "fail before reaching bgjobs" in line and "deliver-notifications" in line
        assert "peer map=bgjobs_cron" in line and "pg_ident.conf" in line
    finally:
        _hba(cluster).write_text(original)
        one(dsn, "SELECT pg_reload_conf()")


def test_doctor_warns_that_background_workers_stall_on_pg_cron_1_4():
    with sandbox.temporary("bgjobs-bgw-", cron_mode="bgworker") as sb:
        lines: list[str] = []
        doctor.run(sb.dsn, report=lines.append)
    [line] = [ln for ln in lines if "pg_cron mode" in ln]
    assert line.startswith("WARN pg_cron mode: cron.use_background_workers = on with pg_cron 1.4")
    assert "pg_cron #200" in line and "cron.use_background_workers = off" in line


# ------------------------------------------------------------------ retention and other applications' history

def test_retention_keeps_other_applications_pg_cron_history_unless_opted_in(cluster):
    dsn = cluster.dsn
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'other_app') "
                  "THEN CREATE ROLE other_app LOGIN; END IF; END $$")
        theirs = c.execute("SELECT cron.schedule_in_database('their-report', '0 5 * * *', 'SELECT 1', 'bgjobs', "
                           "'other_app', true)").fetchone()[0]
        ours = c.execute("SELECT jobid FROM cron.job WHERE jobname = 'purge-old-logs'").fetchone()[0]
        for jobid, user in ((theirs, "other_app"), (ours, "bgjobs_runner")):
            c.execute("INSERT INTO cron.job_run_details (jobid, runid, job_pid, database, username, command, status, "
                      "return_message, start_time, end_time) VALUES (%s, nextval('cron.runid_seq'), 1, 'bgjobs', %s, "
                      "'SELECT 1', 'succeeded', '1 row', now() - interval '40 days', now() - interval '40 days')",
                      (jobid, user))

    def old_runs():
        return sorted(r[0] for r in rows(dsn, "SELECT username FROM cron.job_run_details "
                                              "WHERE start_time < now() - interval '35 days'"))
    assert old_runs() == ["bgjobs_runner", "other_app"]
    assert one(dsn, "SELECT public.run_job('purge-old-logs')")["results"]["cronJobRunDetails"] == 1
    assert old_runs() == ["other_app"]                        # theirs stays
    with psycopg.connect(dsn, autocommit=True) as c:         # the DBA opts in
        c.execute("INSERT INTO public.app_settings (key, value) VALUES ('retention_cron_all_users', 'true') "
                  "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value")
    assert one(dsn, "SELECT public.run_job('purge-old-logs')")["results"]["cronJobRunDetails"] == 1
    assert old_runs() == []


# ------------------------------------------------------------------ the launcher terminated

def test_launcher_terminated_is_detected_and_alerted_by_the_worker(cluster, fresh_db, httpserver):
    dsn = cluster.dsn
    httpserver.expect_request("/slack", method="POST").respond_with_data("ok")
    point_alerts_at(dsn, slack_url=httpserver.url_for("/slack"))
    ok = subprocess.run([sys.executable, "-m", "bgjobs", "check", "--dsn", dsn], capture_output=True, text=True)
    assert "scheduler" not in ok.stdout, ok.stdout
    assert one(dsn, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'pg_cron launcher'")
    assert wait_for(lambda: one(dsn, "SELECT state FROM bgjobs.scheduler_state()") == "down", timeout=10)

    out = subprocess.run([sys.executable, "-m", "bgjobs", "check", "--dsn", dsn], capture_output=True, text=True)
    assert out.returncode == 2
    assert "CRITICAL scheduler: pg_cron launcher not running: no job fires until the server restarts " \
        "(terminated with pg_terminate_backend, or crashed)" in out.stdout.splitlines()
    # job_status no longer shows a green future
    states = rows(dsn, "SELECT DISTINCT state, next_expected_run, scheduler_problem FROM public.job_status WHERE enabled")
    assert [(s, n) for s, n, _ in states] == [("Scheduler down", None)]
    assert states[0][2].startswith("pg_cron launcher not running")
    # so does an install in another database of the cluster (pg_stat_activity is cluster-wide)
    assert rows(fresh_db, "SELECT DISTINCT state, next_expected_run FROM public.job_status WHERE enabled") == \
        [("Scheduler down", None)]
    # the worker raises one alert through the outbox and delivers it itself
    wk.main(dsn, once=True, report=lambda s: None)
    texts = [json.loads(req.get_data(as_text=True))["text"] for req, _ in httpserver.log]
    assert texts == ["🚨 [CRITICAL] bgjobs: pg_cron scheduler — scheduler down"]
    wk.main(dsn, once=True, report=lambda s: None)
    assert len(httpserver.log) == 1                           # one alert, not one per poll
    assert rows(dsn, "SELECT state, count FROM bgjobs.alert_state WHERE subject = 'scheduler'") == [("firing", 1)]


# ------------------------------------------------------------------ an immediate stop mid-run, then a restart

def test_immediate_server_stop_mid_run_then_restart(cluster, fresh_db):
    add_test_job(fresh_db)
    point_alerts_at(fresh_db, alert_email_to="ops@example.com")
    knobs(fresh_db, sleep_s=120)
    out: dict = {}
    th = start_scheduled_run(fresh_db, out)
    assert wait_for(lambda: running_pid(fresh_db))
    sandbox._run_as(cluster.os_user, [str(sandbox.bindir() / "pg_ctl"), "stop", "-m", "immediate", "-w",
                                      "-D", str(cluster.data)], cwd=cluster.dir)
    th.join(10)
    assert "error" in out
    sandbox.start(cluster.dir)
    sandbox.wait_ready(cluster)
    # the committed 'running' row survived the crash; the next run reaps it
    assert rows(fresh_db, "SELECT status FROM public.jobs_log WHERE job_name = 'sleepy'") == [("running",)]
    with as_runner(fresh_db) as c:
        c.execute("CALL bgjobs.run_scheduled_job('check-job-health')")
    assert_recorded_as_failed(fresh_db, "run abandoned")
    # and the restart brought pg_cron's launcher back
    assert wait_for(lambda: one(fresh_db, "SELECT state FROM bgjobs.scheduler_state()") == "ok", timeout=15)
