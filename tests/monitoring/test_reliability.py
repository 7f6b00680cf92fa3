"""Issue 8 (monitoring side), on the session's server: failure alerts through the alert
state machine, `bgjobs check`, the worker's scheduler watchdog, `bgjobs status` with
system-wide alerts, one notion of a run's time, reaped runs recorded like failed runs,
Prometheus text that promtool accepts, doctor as a non-superuser."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from datetime import timedelta

import psycopg
import pytest
from bgjobs import check as ck
from bgjobs import doctor
from bgjobs import status as st
from bgjobs import worker as wk
from psycopg.conninfo import make_conninfo


def slack_bodies(httpserver, path: str = "/slack"):
    return [json.loads(req.get_data(as_text=True)) for req, _ in httpserver.log if req.path == path]


@pytest.fixture
def flaky(sql):
    """A registered job whose run fails while public.flaky.fail is true."""
    sql("CREATE TABLE public.flaky (fail boolean NOT NULL)")
    sql("INSERT INTO public.flaky VALUES (true)")
    sql("GRANT SELECT ON public.flaky TO bgjobs_runner")
    sql("""CREATE FUNCTION bgjobs.job_flaky(p_as_of timestamptz, p_tenants uuid[]) RETURNS jsonb
           LANGUAGE plpgsql SET search_path TO pg_catalog, pg_temp AS $$
           BEGIN
             IF (SELECT f.fail FROM public.flaky f) THEN RAISE EXCEPTION 'upstream API down'; END IF;
             RETURN '{}'::jsonb;
           END $$""")
    sql("INSERT INTO bgjobs.job_registry (job_name, schedule, function_name) VALUES ('flaky', '0 * * * *', 'job_flaky')")

    def set_failing(fail: bool):
        sql("UPDATE public.flaky SET fail = %s", fail)
    return set_failing


def templates(sql, subject):
    return [r[0] for r in sql("SELECT template FROM notifications WHERE payload->>'subject' = %s "
                              "OR (template = 'job_failure' AND payload->>'job_name' = %s) "
                              "ORDER BY created_at, dedupe_key", subject, subject)]


# ------------------------------------------------------------------ alerts mean one thing

def test_failed_runs_alert_once_per_state_change_not_once_per_run(db, sql, flaky, configure):
    configure(email_to="ops@example.com")                    # one outbox row per alert
    with psycopg.connect(db, autocommit=True) as listener:
        listener.execute("LISTEN job_failure")
        for _ in range(5):
            assert sql("SELECT run_job('flaky')")[0][0]["success"] is False
        notes = list(listener.notifies(timeout=5, stop_after=5))
    assert len(notes) == 5                                    # NOTIFY stays immediate, one per failed run
    # one alert when the job started failing (seeds' "Job Failed" format), one escalation
    # when the streak reached consecutive_failures_critical (3), nothing for runs 2, 4, 5
    assert templates(sql, "flaky") == ["job_failure", "job_alert"]
    [first, escalation] = [r[0] for r in sql("SELECT payload FROM notifications ORDER BY created_at")]
    assert first["error_message"] == "upstream API down" and first["severity"] == "WARNING"
    assert escalation["severity"] == "CRITICAL" and escalation["escalated"] is True
    flaky(False)
    assert sql("SELECT run_job('flaky')")[0][0]["success"] is True
    # the first success resolves it at once: one resolved notice, and nothing more after it
    assert templates(sql, "flaky") == ["job_failure", "job_alert", "alert_resolved"]
    assert sql("SELECT state FROM bgjobs.alert_state WHERE subject = 'flaky'") == [("ok",)]
    sql("SELECT run_job('flaky')")
    assert len(templates(sql, "flaky")) == 3


def test_a_reminder_comes_after_the_suppression_window(db, sql, flaky, configure):
    configure(email_to="ops@example.com", consecutive_failures_critical="100")
    sql("SET bgjobs.allow_future_as_of = on")
    t = sql("SELECT now()")[0][0]
    for h in (0, 1, 2, 7):                                   # alert_suppression_hours = 6
        sql("SELECT run_job('flaky', %s)", t + timedelta(hours=h))
    sent = [r[0] for r in sql("SELECT payload FROM notifications ORDER BY created_at")]
    assert [(p["notification"], p["repeat"]) for p in sent] == [(1, False), (2, True)]


def test_silenced_failures_queue_nothing_until_the_silence_ends(db, sql, flaky, configure, run):
    configure(email_to="ops@example.com")
    sql("SELECT silence_job('flaky', now() + interval '1 hour', 'maintenance')")
    sql("SELECT run_job('flaky')")
    sql("SELECT run_job('flaky')")
    assert sql("SELECT count(*) FROM notifications")[0][0] == 0
    # still failing when the silence has ended: check-job-health sends the held-back alert
    run("check-job-health", sql("SELECT now() + interval '2 hours'")[0][0])
    assert sql("SELECT count(*) FROM notifications WHERE payload->>'subject' = 'flaky' "
               "AND payload->>'rule' = 'consecutive_failures'")[0][0] == 1


def test_reaped_run_is_recorded_like_any_failed_run(db, sql, configure):
    configure(email_to="ops@example.com")
    # a 'running' row whose backend is gone (no session holds the job's run lock)
    run_id = sql("INSERT INTO jobs_log (job_name, status, trigger, pid, as_of) "
                 "VALUES ('check-sla-and-overdue', 'running', 'cron', 999999, now()) RETURNING id")[0][0]
    assert sql("SELECT bgjobs.reap_stale_runs()")[0][0] == 1
    assert sql("SELECT status FROM jobs_log WHERE id = %s", run_id) == [("failed",)]
    [(details,)] = sql("SELECT details FROM audit_log WHERE action_type = 'background_job_execution' "
                       "AND entity_id = %s", run_id)
    assert details["status"] == "failed" and details["job_name"] == "check-sla-and-overdue" and details["reaped"]
    assert "run abandoned" in details["error"]
    assert sql("SELECT status FROM job_heartbeats WHERE job_name = 'check-sla-and-overdue'") == [("failed",)]
    assert sql("SELECT template FROM notifications") == [("job_failure",)]


# ------------------------------------------------------------------ one notion of a run's time

def test_job_status_and_success_rates_count_a_replayed_run_alike(db, sql):
    # a run replayed today for a moment 8 days ago: outside the 7-day window by its as_of
    sql("INSERT INTO jobs_log (job_name, started_at, completed_at, status, as_of) "
        "VALUES ('automation-health-check', now(), now(), 'failed', now() - interval '8 days')")
    sql("INSERT INTO jobs_log (job_name, started_at, completed_at, status, as_of) "
        "VALUES ('automation-health-check', now() - interval '1 day', now() - interval '1 day', 'success', "
        "now() - interval '1 day')")
    status = sql("SELECT runs_7d, successes_7d, health_score, health_label, last_run_at, last_status "
                 "FROM job_status WHERE job_name = 'automation-health-check'")
    rates = sql("SELECT runs_7d, successes_7d, health_score, health_label, last_run_at, last_status "
                "FROM job_success_rates WHERE job_name = 'automation-health-check'")
    assert status == rates
    assert status[0][:4] == (1, 1, 100.0, "Healthy") and status[0][5] == "success"


# ------------------------------------------------------------------ bgjobs status

def test_status_shows_system_wide_alerts(db, sql):
    sql("INSERT INTO bgjobs.alert_state (subject, rule, display_name, state, severity, since, last_evaluated_at, summary) "
        "VALUES ('system', 'low_success_rate', 'bgjobs', 'firing', 'WARNING', now() - interval '2 hours', now(), "
        "'24h success rate 71% is below 90%')")
    text = st.render(st.fetch(db))
    assert "WARNING bgjobs (low_success_rate, since 2.0h ago): 24h success rate 71% is below 90%" in text


# ------------------------------------------------------------------ bgjobs check

def check(db) -> tuple[int, list[str]]:
    lines: list[str] = []
    return ck.run(db, report=lines.append), lines


def test_check_is_ok_on_a_healthy_install(db):
    code, lines = check(db)
    assert code == 0 and lines[0].startswith("OK bgjobs")


def test_check_is_critical_on_a_firing_critical_alert(db, sql):
    sql("INSERT INTO bgjobs.alert_state (subject, rule, display_name, state, severity, since, last_evaluated_at, summary) "
        "VALUES ('check-sla-and-overdue', 'missed_run', 'check-sla-and-overdue', 'firing', 'CRITICAL', "
        "'2026-01-01 00:00+00', now(), 'no run for 3 hours')")
    code, lines = check(db)
    assert code == 2
    assert lines == ["CRITICAL check-sla-and-overdue: check-sla-and-overdue: missed_run firing since "
                     "2026-01-01 00:00 UTC: no run for 3 hours"]
    sql("SELECT silence_job('check-sla-and-overdue', now() + interval '1 hour', 'known')")
    assert check(db)[0] == 0                                  # a silenced alert is not a problem


def stale_ticks(sql, minutes=10):
    """bgjobs' every-minute tick ran from pg_cron, last `minutes` ago (pg_cron lives in another
    database of the test cluster: the watchdog judges jobs pg_cron has run)."""
    sql("INSERT INTO jobs_log (job_name, started_at, completed_at, status, trigger, as_of) "
        "VALUES ('deliver-notifications', now() - make_interval(mins => %s), now() - make_interval(mins => %s), "
        "'success', 'cron', now() - make_interval(mins => %s))", minutes, minutes, minutes)


def test_check_is_critical_when_bgjobs_ticks_are_stale(db, sql):
    stale_ticks(sql, minutes=2)
    assert check(db)[0] == 0                                  # two intervals (+30 s) not yet passed
    stale_ticks(sql, minutes=10)
    sql("DELETE FROM jobs_log WHERE started_at > now() - interval '5 minutes'")
    code, lines = check(db)
    assert code == 2
    [line] = lines
    assert line.startswith("CRITICAL deliver-notifications: deliver-notifications has not run for 00:10:")
    assert "pg_cron is not firing bgjobs' ticks" in line


def test_check_cli_exit_codes_and_one_line_for_an_unreachable_database(db, sql):
    out = subprocess.run([sys.executable, "-m", "bgjobs", "check", "--dsn", db], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("OK bgjobs") and out.stderr == ""
    bad = make_conninfo(db, port="1", connect_timeout="2")
    out = subprocess.run([sys.executable, "-m", "bgjobs", "check", "--dsn", bad], capture_output=True, text=True)
    assert out.returncode == 2 and len(out.stdout.splitlines()) == 1 and "Traceback" not in out.stderr
    assert out.stdout.startswith("CRITICAL bgjobs: cannot connect to")


# ------------------------------------------------------------------ the worker's watchdog

def test_worker_alerts_once_when_ticks_are_stale_and_resolves_when_back(db, sql, configure, httpserver):
    httpserver.expect_request("/slack", method="POST").respond_with_data("ok")
    configure(slack=httpserver.url_for("/slack"))
    stale_ticks(sql, minutes=10)
    lines: list[str] = []
    wk.main(db, once=True, report=lines.append)
    [body] = slack_bodies(httpserver)
    assert body["text"].startswith("🚨 [CRITICAL] bgjobs: pg_cron scheduler")
    assert "deliver-notifications has not run for" in json.dumps(body)
    assert any(line.startswith("worker: scheduler: deliver-notifications has not run") for line in lines)
    wk.main(db, once=True, report=lines.append)               # still stale: no second message
    assert len(slack_bodies(httpserver)) == 1
    stale_ticks(sql, minutes=0)                               # pg_cron ticks again
    wk.main(db, once=True, report=lines.append)
    bodies = slack_bodies(httpserver)
    assert len(bodies) == 2 and bodies[1]["text"].startswith("✅ [RESOLVED] bgjobs: pg_cron scheduler")
    assert sql("SELECT state, count FROM bgjobs.alert_state WHERE subject = 'scheduler'") == [("ok", 1)]


# ------------------------------------------------------------------ doctor as a non-superuser

def _login(pg_server, member_of: str):
    name = f"ops_{uuid.uuid4().hex[:8]}"
    with pg_server.admin() as c:
        c.execute(f"CREATE ROLE {name} LOGIN PASSWORD 'pw-{name}' IN ROLE {member_of}")
    return name


def _drop_login(pg_server, name):
    with pg_server.admin() as c:
        c.execute(f"DROP OWNED BY {name}")
        c.execute(f"DROP ROLE {name}")


@pytest.fixture
def login_role(pg_server):
    name = _login(pg_server, "bgjobs_admin")
    yield name
    _drop_login(pg_server, name)


@pytest.fixture
def viewer_login(pg_server):
    name = _login(pg_server, "bgjobs_viewer")
    yield name
    _drop_login(pg_server, name)


def test_check_works_for_a_viewer_login(db, sql, viewer_login):
    """A probe runs with the least rights: bgjobs_viewer sees the launcher through the
    watchdog (a definer function), not a false 'cannot see'."""
    dsn = make_conninfo(db, user=viewer_login, password=f"pw-{viewer_login}")
    code, lines = check(dsn)
    assert code == 0 and len(lines) == 1 and lines[0].startswith("OK bgjobs")
    stale_ticks(sql, minutes=10)
    code, lines = check(dsn)
    assert code == 2 and lines[0].startswith("CRITICAL deliver-notifications:")


def test_doctor_gives_no_false_fail_to_a_non_superuser(db, login_role):
    lines: list[str] = []
    ok = doctor.run(make_conninfo(db, user=login_role, password=f"pw-{login_role}"), report=lines.append)
    assert [ln for ln in lines if ln.startswith("FAIL")] == [] and ok
    [launcher] = [ln for ln in lines if "pg_cron launcher" in ln]
    assert launcher.startswith("WARN") and "cannot see it" in launcher


def test_doctor_reports_the_pg_cron_mode(db):
    lines: list[str] = []
    doctor.run(db, report=lines.append)
    [mode] = [ln for ln in lines if "pg_cron mode" in ln]
    assert mode.startswith("ok   pg_cron mode: libpq mode")          # the test cluster's configuration


# ------------------------------------------------------------------ Prometheus

def test_prometheus_text_passes_promtool(db, sql, run):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus)")
    now = sql("SELECT now()")[0][0]
    for i in range(5):
        sql("INSERT INTO jobs_log (job_name, started_at, completed_at, status, as_of) "
            "VALUES ('check-sla-and-overdue', %s, %s + interval '2 seconds', 'success', %s)",
            now - timedelta(minutes=i), now - timedelta(minutes=i), now - timedelta(minutes=i))
    sql("INSERT INTO jobs_log (job_name, status, error_message) VALUES ('automation-health-check', 'failed', 'x')")
    text = sql("SELECT job_metrics_prometheus()")[0][0]
    assert "bgjobs_job_duration_seconds{" in text
    out = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
    assert (out.returncode, out.stdout + out.stderr) == (0, "")
