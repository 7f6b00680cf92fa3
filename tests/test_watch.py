"""Watching jobs bgjobs did not create (issue 10): monitor-only jobs that check in with the
runbook's update_job_heartbeat, and every pg_cron job of the cluster.

Monitor-only jobs run in a fresh database per test; check-ins at chosen moments are
written as the runbook's heartbeats (INSERT/UPDATE of job_heartbeats.last_run_at), and
check-job-health is replayed with as_of.  The pg_cron tests need bgjobs in pg_cron's own
database (that is where cron.job lives): bgjobs is installed there once for the module,
and each test removes its pg_cron jobs, alert state and outbox rows afterwards.  The
failing-job test waits on pg_cron's real clock (up to a minute per step)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta

import psycopg
import pytest
from bgjobs import install as inst
from bgjobs.settings import Settings

# ------------------------------------------------------------------ helpers

def _run(sql, job, as_of=None):
    if as_of is None:
        return sql("SELECT run_job(%s)", job)[0][0]
    return sql("SELECT run_job(%s, %s::timestamptz)", job, as_of)[0][0]


def _setting(sql, key, value):
    sql("INSERT INTO app_settings (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        key, str(value))


def _alerts(sql, subject, rule=None, template=None):
    """The outbox rows about subject (alert_email_to set: one row per alert); template None:
    the alerts (a failure episode's first is the seeds' job_failure, the rest job_alert)."""
    templates = [template] if template else ["job_alert", "job_failure"]
    return [r[0] for r in sql(
        "SELECT payload FROM notifications WHERE template = ANY(%s) AND payload->>'subject' = %s "
        "AND (%s::text IS NULL OR payload->>'rule' = %s) ORDER BY created_at, (payload->>'notification')::int",
        templates, subject, rule, rule)]


def _issues(resp, subject, rule=None):
    return [i for i in resp["results"]["issues"] if i["job"] == subject and (rule is None or i["rule"] == rule)]


def _checkin(sql, job, at, status="healthy", metadata=None):
    """A heartbeat at a chosen moment, as the runbook's function writes it."""
    sql("INSERT INTO job_heartbeats (job_name, last_run_at, status, metadata, updated_at) "
        "VALUES (%s, %s, %s, %s, now()) ON CONFLICT (job_name) DO UPDATE "
        "SET last_run_at = EXCLUDED.last_run_at, status = EXCLUDED.status, metadata = EXCLUDED.metadata, "
        "updated_at = now()", job, at, status, json.dumps(metadata or {}))


@pytest.fixture
def w(sql):
    """A fresh database: alerts go to one email address (one outbox row each), future
    as_of allowed, and bgjobs' own jobs disabled (they never ran, so they would be missed)."""
    sql("SET bgjobs.allow_future_as_of = on")
    _setting(sql, "alert_email_to", "ops@example.com")
    sql("UPDATE bgjobs.job_registry SET enabled = false")
    return sql


@pytest.fixture
def t0(sql):
    """02:00 UTC two days ahead: the slot of the nightly job below."""
    return sql("SELECT date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + interval '2 days 2 hours'")[0][0]


# ------------------------------------------------------------------ monitor-only jobs

def test_watch_job_registers_and_checkins_are_recorded(w):
    row = w("SELECT bgjobs.watch_job('nightly-etl', '0 2 * * *', 'UTC', '30 minutes')")[0][0]
    assert (row["job_name"], row["schedule"], row["timezone"], row["grace"]) == ("nightly-etl", "0 2 * * *", "UTC", "00:30:00")
    w("SELECT update_job_heartbeat('nightly-etl', 'started')")
    w("SELECT update_job_heartbeat('nightly-etl', 'healthy', '{\"rows\": 5}')")
    w("SELECT update_job_heartbeat('other-job')")                       # not watched: no check-in
    runs = w("SELECT job_name, status, started_at IS NOT NULL, finished_at >= started_at, metadata FROM bgjobs.watch_runs")
    assert runs == [("nightly-etl", "success", True, True, {"rows": 5})]
    # the runbook's table is untouched by the watch: same row as before
    assert w("SELECT status, metadata FROM job_heartbeats WHERE job_name = 'nightly-etl'") == [("healthy", {"rows": 5})]
    # the runbook's emergency SQL records no check-in
    w("UPDATE job_heartbeats SET last_alert_at = NULL WHERE job_name = 'nightly-etl'")
    assert w("SELECT count(*) FROM bgjobs.watch_runs")[0][0] == 1
    # job_status, job_metrics and Prometheus show it
    [st] = w("SELECT state, last_status, schedule, active, pg_cron_job, next_expected_run IS NOT NULL "
             "FROM job_status WHERE job_name = 'nightly-etl'")
    assert st == ("Success", "success", "0 2 * * *", True, None, True)
    metrics = w("SELECT job_metrics(now(), 'nightly-etl')")[0][0]
    assert [j["job"] for j in metrics["jobs"]] == ["nightly-etl"]
    assert metrics["jobs"][0]["runs"]["24h"] == {"total": 1, "successful": 1, "failed": 0}
    w("SELECT update_job_heartbeat('nightly-etl', 'started')")
    assert w("SELECT state FROM job_status WHERE job_name = 'nightly-etl'") == [("Running",)]
    prom = w("SELECT job_metrics_prometheus()")[0][0]
    assert 'bgjobs_job_last_run_timestamp_seconds{job="nightly-etl"}' in prom


@pytest.mark.parametrize("args, message", [
    (("", "0 2 * * *", "UTC", None), 'invalid job name ""'),
    (("x", "0 25 * * *", "UTC", None), 'invalid cron expression "0 25 * * *" for job "x"'),
    (("x", "every day", "UTC", None), 'invalid cron expression "every day" for job "x"'),
    (("x", "0 0 30 2 *", "UTC", None), 'invalid cron expression "0 0 30 2 *" for job "x": day-of-month and month never coincide'),
    (("x", "0 2 * * *", "Mars/Olympus", None), 'unknown time zone "Mars/Olympus" for job "x"'),
    (("x", "0 2 * * *", "UTC", "-1 hour"), 'invalid grace "-01:00:00" for job "x"'),
    (("check-job-health", "0 2 * * *", "UTC", None), 'job "check-job-health" is a job bgjobs runs'),
    (("pg_cron:x", "0 2 * * *", "UTC", None), 'invalid job name "pg_cron:x"'),
])
def test_watch_job_refuses_bad_input_naming_it_and_changes_nothing(w, args, message):
    w("SELECT bgjobs.watch_job('x', '0 3 * * *')")
    with pytest.raises(psycopg.Error) as exc:
        w("SELECT bgjobs.watch_job(%s, %s, %s, %s::interval)", *args)
    assert str(exc.value).splitlines()[0].startswith(message), str(exc.value)
    assert w("SELECT job_name, schedule, timezone FROM bgjobs.watched_jobs") == [("x", "0 3 * * *", "UTC")]


def test_monitor_only_job_checking_in_late_alerts_once_then_resolves(w, t0):
    w("SELECT bgjobs.watch_job('nightly-etl', '0 2 * * *', 'UTC', '30 minutes')")
    _checkin(w, "nightly-etl", t0 - timedelta(days=1) + timedelta(minutes=5))     # yesterday's slot: on time
    on_time = _run(w, "check-job-health", t0 + timedelta(minutes=29))
    assert _issues(on_time, "nightly-etl") == []
    late = _run(w, "check-job-health", t0 + timedelta(minutes=31))
    [hit] = _issues(late, "nightly-etl", "missed_run")
    assert hit["severity"] == "CRITICAL"
    assert "nightly-etl has not checked in" in hit["summary"]
    assert hit["details"]["expected_at"].startswith(t0.strftime("%Y-%m-%dT02:00:00"))
    _run(w, "check-job-health", t0 + timedelta(minutes=45))                     # still late: no second alert
    assert len(_alerts(w, "nightly-etl", "missed_run")) == 1
    _checkin(w, "nightly-etl", t0 + timedelta(minutes=50))                       # the late check-in
    _run(w, "check-job-health", t0 + timedelta(minutes=55))
    assert len(_alerts(w, "nightly-etl", "missed_run")) == 1
    [resolved] = _alerts(w, "nightly-etl", "missed_run", template="alert_resolved")
    assert resolved["job_name"] == "nightly-etl"
    # the stale-heartbeat rule leaves a monitor-only job to its own rule: no duplicate
    _run(w, "check-job-health", t0 + timedelta(days=2))
    assert _alerts(w, "nightly-etl", "stale_heartbeat") == []


def test_monitor_only_job_that_never_checked_in_is_missed_from_its_registration(w):
    w("SELECT bgjobs.watch_job('nightly-etl', '0 2 * * *')")          # grace derived: 1 hour for a daily job
    assert w("SELECT grace FROM bgjobs.watched_jobs")[0][0] == timedelta(hours=1)
    first = w("SELECT bgjobs.cron_next('0 2 * * *', 'UTC', now())")[0][0]     # its first slot
    assert _issues(_run(w, "check-job-health", first + timedelta(minutes=59)), "nightly-etl") == []
    [hit] = _issues(_run(w, "check-job-health", first + timedelta(minutes=61)), "nightly-etl", "missed_run")
    assert "since it was registered" in hit["summary"]


def test_monitor_only_job_failing_alerts_with_its_error_then_resolves(w, t0):
    w("SELECT bgjobs.watch_job('nightly-etl', '0 2 * * *', 'UTC', '30 minutes')")
    _checkin(w, "nightly-etl", t0 + timedelta(minutes=1), "failed", {"error": "disk full on /data"})
    resp = _run(w, "check-job-health", t0 + timedelta(minutes=10))
    [hit] = _issues(resp, "nightly-etl")
    assert (hit["rule"], hit["severity"]) == ("consecutive_failures", "WARNING")
    assert hit["summary"] == "nightly-etl failed: disk full on /data"
    _run(w, "check-job-health", t0 + timedelta(minutes=20))
    [alert] = _alerts(w, "nightly-etl")
    assert alert["rule"] == "consecutive_failures"
    assert w("SELECT last_status, last_error, health_status FROM bgjobs.job_stats(%s) WHERE job_name = 'nightly-etl'",
             t0 + timedelta(minutes=20)) == [("failed", "disk full on /data", "CRITICAL")]
    _checkin(w, "nightly-etl", t0 + timedelta(minutes=30))               # the retry succeeds
    _run(w, "check-job-health", t0 + timedelta(minutes=40))
    assert len(_alerts(w, "nightly-etl")) == 1
    assert len(_alerts(w, "nightly-etl", template="alert_resolved")) == 1


def test_monitor_only_job_started_without_finishing(w, t0):
    w("SELECT bgjobs.watch_job('nightly-etl', '0 2 * * *', 'UTC', '30 minutes')")
    _checkin(w, "nightly-etl", t0, "started")
    assert w("SELECT running_since FROM bgjobs.watch_stats(%s) WHERE job_name = 'nightly-etl'", t0) == [(t0,)]
    # no history: the watch_timeout_minutes setting (60) is the limit
    assert _issues(_run(w, "check-job-health", t0 + timedelta(minutes=59)), "nightly-etl") == []
    [hit] = _issues(_run(w, "check-job-health", t0 + timedelta(minutes=61)), "nightly-etl")
    assert (hit["rule"], hit["severity"]) == ("stuck_run", "CRITICAL")
    assert "has not finished after 01:01:00" in hit["summary"]
    assert len(_alerts(w, "nightly-etl", "stuck_run")) == 1


def test_monitor_only_job_stuck_against_its_own_history(w, t0):
    """Five earlier runs of 60 s: a run open for longer than max(2 x p95, p95 + 5 min) = 6 min is stuck."""
    w("SELECT bgjobs.watch_job('etl', '*/10 * * * *', 'UTC', '5 minutes')")
    for i in range(5):
        start = t0 - timedelta(minutes=10 * (5 - i))
        _checkin(w, "etl", start, "started")
        _checkin(w, "etl", start + timedelta(seconds=60), "ok")
    _checkin(w, "etl", t0, "started")
    assert _issues(_run(w, "check-job-health", t0 + timedelta(minutes=5, seconds=59)), "etl", "stuck_run") == []
    [hit] = _issues(_run(w, "check-job-health", t0 + timedelta(minutes=6, seconds=1)), "etl", "stuck_run")
    assert "its runs usually take up to 60.0s" in hit["summary"]


def test_monitor_only_runs_too_long_or_too_short_against_their_history(w, t0):
    w("SELECT bgjobs.watch_job('etl', '0 * * * *', 'UTC', '30 minutes')")
    durations = [100, 100, 100, 100, 100, 100, 100, 100]        # earlier runs: 100 s
    for i, d in enumerate(durations):
        start = t0 - timedelta(hours=len(durations) + 2 - i)
        _checkin(w, "etl", start, "started")
        _checkin(w, "etl", start + timedelta(seconds=d), "ok")
    for i, d in enumerate((100, 100)):
        _checkin(w, "etl", t0 - timedelta(hours=2 - i), "started")
        _checkin(w, "etl", t0 - timedelta(hours=2 - i) + timedelta(seconds=d), "ok")
    assert _issues(_run(w, "check-job-health", t0 + timedelta(minutes=1)), "etl") == []
    _checkin(w, "etl", t0, "started")
    _checkin(w, "etl", t0 + timedelta(seconds=5), "ok")                 # 5 s: 1/20 of its usual
    [short] = _issues(_run(w, "check-job-health", t0 + timedelta(minutes=2)), "etl")
    assert (short["rule"], short["severity"]) == ("short_run", "WARNING")
    _checkin(w, "etl", t0 + timedelta(hours=1), "started")
    _checkin(w, "etl", t0 + timedelta(hours=1, seconds=400), "ok")      # 400 s: 4x its usual
    [slow] = _issues(_run(w, "check-job-health", t0 + timedelta(hours=1, minutes=10)), "etl")
    assert (slow["rule"], slow["severity"]) == ("slow_run", "WARNING")
    assert len(_alerts(w, "etl", "short_run", template="alert_resolved")) == 1


def test_runbook_emergency_sql_forces_and_silences_a_watched_jobs_alert(w):
    """As of now (the runbook's SQL uses now()): a failed check-in alerts once; within the
    window nothing more; `SET last_alert_at = NULL` forces it again; `= now()` holds it back
    for alert_suppression_hours from then."""
    w("SELECT bgjobs.watch_job('etl', '0 2 * * *')")
    w("SELECT update_job_heartbeat('etl', 'failed', '{\"error\": \"boom\"}')")
    _run(w, "check-job-health")
    _run(w, "check-job-health")
    assert len(_alerts(w, "etl")) == 1
    w("UPDATE job_heartbeats SET last_alert_at = NULL WHERE job_name = 'etl'")
    _run(w, "check-job-health")
    assert [a["notification"] for a in _alerts(w, "etl")] == [1, 2]
    notified = w("SELECT last_notified_at FROM bgjobs.alert_state WHERE subject = 'etl'")[0][0]
    w("SELECT pg_sleep(0.01)")
    w("UPDATE job_heartbeats SET last_alert_at = now() WHERE job_name = 'etl'")
    silenced_at = w("SELECT last_alert_at FROM job_heartbeats WHERE job_name = 'etl'")[0][0]
    assert silenced_at > notified
    # past the window of the last alert, but not of the silence: held back
    _run(w, "check-job-health", silenced_at + timedelta(hours=6) - timedelta(milliseconds=5))
    assert len(_alerts(w, "etl")) == 2
    _run(w, "check-job-health", silenced_at + timedelta(hours=6))
    assert [a["notification"] for a in _alerts(w, "etl")] == [1, 2, 3]


def test_unwatch_job_silences_exactly_that_job(w, t0):
    for name in ("etl-a", "etl-b"):
        w("SELECT bgjobs.watch_job(%s, '0 2 * * *', 'UTC', '30 minutes')", name)
        _checkin(w, name, t0, "failed")
    _run(w, "check-job-health", t0 + timedelta(minutes=5))
    assert (len(_alerts(w, "etl-a")), len(_alerts(w, "etl-b"))) == (1, 1)
    assert w("SELECT bgjobs.unwatch_job('etl-a')")[0][0] is True
    resp = _run(w, "check-job-health", t0 + timedelta(hours=7))
    assert _issues(resp, "etl-a") == [] and len(_issues(resp, "etl-b")) == 1
    assert (len(_alerts(w, "etl-a")), len(_alerts(w, "etl-b"))) == (1, 2)      # b's reminder only
    assert _alerts(w, "etl-a", template="alert_resolved") == []
    assert w("SELECT count(*) FROM job_status WHERE job_name = 'etl-a'")[0][0] == 0
    assert w("SELECT count(*) FROM bgjobs.watch_runs WHERE job_name = 'etl-a'")[0][0] == 1   # history stays


def test_register_job_and_watch_job_keep_their_names_apart(w):
    w("CREATE FUNCTION public.my_body() RETURNS void LANGUAGE sql AS $$ SELECT $$")
    w("SELECT bgjobs.watch_job('etl', '0 2 * * *')")
    with pytest.raises(psycopg.Error, match="register_job: job name 'etl' is a monitor-only job"):
        w("SELECT bgjobs.register_job('etl', 'public.my_body', '0 3 * * *')")
    w("SELECT bgjobs.register_job('mine', 'public.my_body', '0 3 * * *')")
    with pytest.raises(psycopg.Error, match='job "mine" is a job bgjobs runs'):
        w("SELECT bgjobs.watch_job('mine', '0 2 * * *')")
    assert w("SELECT job_name FROM bgjobs.watched_jobs") == [("etl",)]


def test_cli_jobs_watch(db, sql):
    ok = subprocess.run([sys.executable, "-m", "bgjobs", "jobs", "watch", "etl", "--dsn", db,
                         "--schedule", "15 3 * * *", "--timezone", "Europe/Berlin", "--grace", "20 minutes"],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("watching etl: schedule 15 3 * * * (Europe/Berlin), grace 00:20:00")
    assert sql("SELECT schedule, timezone, grace FROM bgjobs.watched_jobs") == \
        [("15 3 * * *", "Europe/Berlin", timedelta(minutes=20))]
    for extra, message in ((["--schedule", "61 * * * *"], 'bgjobs: watch etl2: invalid cron expression "61 * * * *"'),
                           (["--schedule", "0 * * * *", "--timezone", "Nowhere"], 'bgjobs: watch etl2: unknown time zone "Nowhere"'),
                           (["--schedule", "0 * * * *", "--grace", "soon"], "bgjobs: watch etl2: invalid grace 'soon'"),
                           ([], "bgjobs: watch etl2: --schedule is required")):
        bad = subprocess.run([sys.executable, "-m", "bgjobs", "jobs", "watch", "etl2", "--dsn", db, *extra],
                             capture_output=True, text=True)
        assert bad.returncode == 1
        assert bad.stderr.startswith(message) and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert sql("SELECT count(*) FROM bgjobs.watched_jobs")[0][0] == 1
    gone = subprocess.run([sys.executable, "-m", "bgjobs", "jobs", "unwatch", "etl", "--dsn", db],
                          capture_output=True, text=True)
    assert gone.returncode == 0 and sql("SELECT count(*) FROM bgjobs.watched_jobs")[0][0] == 0
    status = subprocess.run([sys.executable, "-m", "bgjobs", "jobs", "unwatch", "etl", "--dsn", db],
                            capture_output=True, text=True)
    assert status.returncode == 1 and status.stderr.strip() == "bgjobs: unwatch etl: no monitor-only job of that name"


# ------------------------------------------------------------------ pg_cron jobs (bgjobs in pg_cron's database)

@pytest.fixture(scope="module")
def cron_install(pg_server, cron_conn):
    """bgjobs installed (without its own schedules) into pg_cron's database, for the module."""
    dsn = pg_server.dsn(pg_server.cron_db)
    inst.install(dsn, Settings(), schedule=False, report=lambda s: None)
    try:
        yield dsn
    finally:
        inst.uninstall(dsn, report=lambda s: None)


@pytest.fixture
def cw(cron_install, cron_conn):
    """sql() on pg_cron's database with bgjobs installed, plus schedule(name, expr, cmd,
    database=None) -> jobid; the test's pg_cron jobs, their run rows, and the watch's
    state are removed afterwards."""
    made: list[int] = []
    with psycopg.connect(cron_install, autocommit=True) as c:
        def sql(query, *params):
            cur = c.execute(query, params or None)
            return cur.fetchall() if cur.description else []

        def schedule(name, expr, command, database=None):
            if database is None:
                jobid = sql("SELECT cron.schedule(%s, %s, %s)", name, expr, command)[0][0]
            else:
                jobid = sql("SELECT cron.schedule_in_database(%s, %s, %s, %s)", name, expr, command, database)[0][0]
            made.append(jobid)
            return jobid

        def add_run(jobid, status, start, seconds=2.0, message=None):
            sql("INSERT INTO cron.job_run_details (jobid, job_pid, database, username, command, status, "
                "return_message, start_time, end_time) "
                "SELECT j.jobid, 0, j.database, j.username, j.command, %s, %s, %s::timestamptz, "
                "%s::timestamptz + make_interval(secs => %s) FROM cron.job j WHERE j.jobid = %s",
                status, message, start, start, seconds, jobid)

        sql.schedule, sql.add_run = schedule, add_run
        sql("SET bgjobs.allow_future_as_of = on")
        sql("UPDATE bgjobs.job_registry SET enabled = false")
        _setting(sql, "alert_email_to", "ops@example.com")
        try:
            yield sql
        finally:
            for jobid in made:
                sql("SELECT cron.unschedule(%s::bigint) FROM cron.job WHERE jobid = %s", jobid, jobid)
                sql("DELETE FROM cron.job_run_details WHERE jobid = %s", jobid)
            for table in ("bgjobs.alert_state", "public.notifications", "bgjobs.cron_watch_optouts",
                          "bgjobs.cron_watch_seen", "bgjobs.schedule_cache", "public.app_settings",
                          "bgjobs.secrets", "public.jobs_log", "bgjobs.watched_jobs", "bgjobs.watch_runs",
                          "public.job_heartbeats"):
                sql(f"DELETE FROM {table}")


def test_pg_cron_run_details_index_and_no_command_for_the_viewer(cw):
    assert cw("SELECT to_regclass('cron.bgjobs_job_run_details_jobid_idx') IS NOT NULL")[0][0]
    jobid = cw.schedule("watch-secret", "0 3 1 1 *", "SELECT 'sk_live_SECRET'")
    cw.add_run(jobid, "failed", datetime.now().astimezone() - timedelta(minutes=1),
               message="ERROR:  invalid input syntax for type integer: \"sk_live_SECRET\"\nDETAIL: more")
    cw("SET ROLE bgjobs_viewer")
    try:
        [row] = cw("SELECT job_name, pg_cron_job, schedule, last_status, last_error FROM job_status "
                   "WHERE job_name LIKE 'pg_cron:%'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            cw("SELECT * FROM bgjobs.cron_watch_jobs()")
    finally:
        cw("RESET ROLE")
    assert row == ("pg_cron:watch-secret", "watch-secret", "0 3 1 1 *", "failed",
                   'ERROR:  invalid input syntax for type integer: "…"')
    assert "SECRET" not in json.dumps(cw("SELECT to_jsonb(s) FROM job_status s")[0][0])


@pytest.mark.slow
def test_failing_pg_cron_job_alerts_once_reminds_once_resolves_once(cw, httpserver):
    """A real pg_cron job scheduled outside bgjobs that fails every minute: one Slack alert,
    one reminder after the suppression window, one resolved notice once it succeeds."""
    httpserver.expect_request("/slack", method="POST").respond_with_data("ok")
    cw("DELETE FROM app_settings WHERE key = 'alert_email_to'")
    cw("SELECT set_secret('SLACK_WEBHOOK_URL', %s)", httpserver.url_for("/slack"))
    _setting(cw, "consecutive_failures_critical", 1)
    _setting(cw, "watch_cron_grace_minutes", 600)           # the replays ahead must not find it missed
    jobid = cw.schedule("watch-fail", "* * * * *", "SELECT 1/0")

    def wait_for(status, after_runid=0):
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            row = cw("SELECT max(runid) FROM cron.job_run_details WHERE jobid = %s AND status = %s AND runid > %s",
                     jobid, status, after_runid)[0][0]
            if row:
                return row
            time.sleep(1)
        pytest.fail(f"pg_cron did not record a {status} run of watch-fail within 90 s")

    def slack():
        bodies = [json.loads(req.get_data(as_text=True)) for req, _ in httpserver.log if req.path == "/slack"]
        # the headline without its icon
        return [b["text"].split(" ", 1)[1] for b in bodies if "pg_cron:watch-fail" in json.dumps(b)]

    failed = wait_for("failed")
    now = cw("SELECT now()")[0][0]
    resp = _run(cw, "check-job-health")
    [hit] = _issues(resp, "pg_cron:watch-fail")
    assert (hit["rule"], hit["severity"]) == ("consecutive_failures", "CRITICAL")
    assert "division by zero" in hit["summary"]
    _run(cw, "check-job-health", now + timedelta(hours=1))      # within the window: nothing new
    _run(cw, "deliver-notifications")
    assert slack() == ["Job Failed: pg_cron:watch-fail"]
    _run(cw, "check-job-health", now + timedelta(hours=7))      # past alert_suppression_hours (6)
    _run(cw, "deliver-notifications")
    assert slack()[1:] == ["[CRITICAL] bgjobs: pg_cron:watch-fail — consecutive failures (repeat)"]
    cw("SELECT cron.alter_job(%s, command := 'SELECT 1')", jobid)
    wait_for("succeeded", failed)
    _run(cw, "check-job-health", now + timedelta(hours=8))
    _run(cw, "deliver-notifications")
    _run(cw, "check-job-health", now + timedelta(hours=9))
    _run(cw, "deliver-notifications")
    assert slack() == ["Job Failed: pg_cron:watch-fail",
                       "[CRITICAL] bgjobs: pg_cron:watch-fail — consecutive failures (repeat)",
                       "[RESOLVED] bgjobs: pg_cron:watch-fail — consecutive failures"]


def test_pg_cron_runs_missing_from_the_schedule_alert(cw):
    """The server was down across the 03:00 slot (pg_cron logs nothing for it): a run row
    for the slot before, none for the last one.  Another database's job, named with it."""
    expected = cw("SELECT bgjobs.cron_prev('0 3 * * *', 'UTC', now() - interval '10 minutes')")[0][0]
    down = cw.schedule("watch-missed", "0 3 * * *", "SELECT 1", database="postgres")
    ontime = cw.schedule("watch-ontime", "0 3 * * *", "SELECT 1", database="postgres")
    cw.add_run(down, "succeeded", expected - timedelta(days=1))
    cw.add_run(ontime, "succeeded", expected + timedelta(seconds=1))
    resp = _run(cw, "check-job-health", expected + timedelta(minutes=11))   # just past the grace
    assert _issues(resp, "pg_cron:watch-ontime@postgres") == []
    [hit] = _issues(resp, "pg_cron:watch-missed@postgres")
    assert (hit["rule"], hit["severity"]) == ("missed_run", "CRITICAL")
    assert hit["details"]["expected_at"] == expected.isoformat()
    assert "has not run for 24.2 hours" in hit["summary"], hit["summary"]
    assert len(_alerts(cw, "pg_cron:watch-missed@postgres", "missed_run")) == 1
    # made inactive: its runs stop; the finding says why
    cw("SELECT cron.alter_job(%s, active := false)", ontime)
    later = _run(cw, "check-job-health", expected + timedelta(days=1, minutes=11))
    [inactive] = _issues(later, "pg_cron:watch-ontime@postgres")
    assert inactive["rule"] == "missed_run" and inactive["summary"].endswith("the job is inactive in cron.job")
    assert cw("SELECT active FROM job_status WHERE job_name = 'pg_cron:watch-ontime@postgres'") == [(False,)]


def test_pg_cron_job_that_never_ran_is_missed_from_when_it_was_first_seen(cw):
    cw.schedule("watch-never", "*/5 * * * *", "SELECT 1")
    first = _run(cw, "check-job-health")
    assert _issues(first, "pg_cron:watch-never") == []
    seen = cw("SELECT first_seen_at FROM bgjobs.cron_watch_seen s JOIN cron.job j USING (jobid) "
              "WHERE j.jobname = 'watch-never'")[0][0]
    # the launcher is gone (or the job never fired): 5-minute slots pass with no run row
    [hit] = _issues(_run(cw, "check-job-health", seen + timedelta(minutes=25)), "pg_cron:watch-never")
    assert hit["rule"] == "missed_run" and "since it was first seen" in hit["summary"]


def test_pg_cron_run_still_running_far_past_its_usual_duration(cw):
    jobid = cw.schedule("watch-long", "0 * * * *", "SELECT 1")
    now = cw("SELECT now()")[0][0]
    for h in range(6, 0, -1):
        cw.add_run(jobid, "succeeded", now - timedelta(hours=h), seconds=30)
    cw("INSERT INTO cron.job_run_details (jobid, job_pid, database, username, command, status, start_time) "
       "SELECT jobid, 0, database, username, command, 'running', %s FROM cron.job WHERE jobid = %s",
       now - timedelta(minutes=10), jobid)
    [hit] = _issues(_run(cw, "check-job-health"), "pg_cron:watch-long")
    assert (hit["rule"], hit["severity"]) == ("stuck_run", "CRITICAL")
    assert cw("SELECT state FROM job_status WHERE job_name = 'pg_cron:watch-long'") == [("Running",)]


def test_opting_out_silences_exactly_that_pg_cron_job(cw):
    now = cw("SELECT now()")[0][0]
    for name in ("watch-a", "watch-b"):
        jobid = cw.schedule(name, "0 3 1 1 *", "SELECT 1")
        cw.add_run(jobid, "failed", now - timedelta(minutes=5), message="ERROR:  boom")
    _run(cw, "check-job-health")
    assert (len(_alerts(cw, "pg_cron:watch-a")), len(_alerts(cw, "pg_cron:watch-b"))) == (1, 1)
    with pytest.raises(psycopg.Error, match='no pg_cron job named "watch-zzz"'):
        cw("SELECT bgjobs.unwatch_cron_job('watch-zzz')")
    assert cw("SELECT bgjobs.unwatch_cron_job('watch-a')")[0][0] == 1
    resp = _run(cw, "check-job-health", now + timedelta(hours=7))
    assert _issues(resp, "pg_cron:watch-a") == [] and len(_issues(resp, "pg_cron:watch-b")) == 1
    assert (len(_alerts(cw, "pg_cron:watch-a")), len(_alerts(cw, "pg_cron:watch-b"))) == (1, 2)
    assert _alerts(cw, "pg_cron:watch-a", template="alert_resolved") == []
    assert [r[0] for r in cw("SELECT job_name FROM job_status WHERE job_name LIKE 'pg_cron:%' ORDER BY 1")] == \
        ["pg_cron:watch-b"]
    # its history is untouched
    assert cw("SELECT count(*) FROM cron.job_run_details d JOIN cron.job j USING (jobid) "
              "WHERE j.jobname = 'watch-a'")[0][0] == 1
    # watched again: a new episode alerts
    assert cw("SELECT bgjobs.watch_cron_job('watch-a')")[0][0] == 1
    _run(cw, "check-job-health", now + timedelta(hours=8))
    assert len(_alerts(cw, "pg_cron:watch-a")) == 2
    # the setting turns the whole pg_cron watch off
    _setting(cw, "watch_cron_jobs", "false")
    assert [i for i in _run(cw, "check-job-health", now + timedelta(hours=9))["results"]["issues"]
            if i["job"].startswith("pg_cron:")] == []


def test_doctor_and_status_show_the_watched_jobs(cw, cron_install):
    cw.schedule("watch-doc", "0 3 1 1 *", "SELECT 1")
    cw("SELECT bgjobs.watch_job('nightly-etl', '0 2 * * *')")
    try:
        status = subprocess.run([sys.executable, "-m", "bgjobs", "status", "--json", "--dsn", cron_install],
                                capture_output=True, text=True)
        table = subprocess.run([sys.executable, "-m", "bgjobs", "status", "--wide", "--dsn", cron_install],
                               capture_output=True, text=True)
    finally:
        cw("SELECT bgjobs.unwatch_job('nightly-etl')")
    assert status.returncode == 0 and table.returncode == 0, status.stderr + table.stderr
    rows = {r["job_name"]: r for r in json.loads(status.stdout)}
    assert rows["pg_cron:watch-doc"]["schedule"] == "0 3 1 1 *" and rows["pg_cron:watch-doc"]["active"] is True
    assert rows["nightly-etl"]["schedule"] == "0 2 * * *"
    assert "pg_cron:watch-doc" in table.stdout and "nightly-etl" in table.stdout
    out = subprocess.run([sys.executable, "-m", "bgjobs", "doctor", "--dsn", cron_install],
                         capture_output=True, text=True).stdout
    [line] = [x for x in out.splitlines() if "watching" in x]
    assert "0 monitor-only jobs, 1 pg_cron jobs (every user's)" in line and "no index" not in line, line


def test_retention_keeps_a_quiet_monitor_only_jobs_heartbeat(w):
    """purge-old-logs drops the heartbeats of jobs it knows nothing of after 30 quiet days,
    never those of a monitor-only job (its check-ins are what is watched)."""
    w("SELECT bgjobs.watch_job('quarterly-etl', '0 2 1 */3 *', 'UTC', '1 day')")
    for job in ("quarterly-etl", "forgotten-script"):
        w("INSERT INTO job_heartbeats (job_name, last_run_at, created_at) "
          "VALUES (%s, now() - interval '40 days', now() - interval '100 days')", job)
    _run(w, "purge-old-logs")
    assert w("SELECT job_name FROM job_heartbeats WHERE job_name IN ('quarterly-etl', 'forgotten-script')") == [
        ("quarterly-etl",)]
