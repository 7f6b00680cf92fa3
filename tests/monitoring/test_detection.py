"""Detection rules, each at its boundary, replayed with as_of (check-job-health and
cron-healthcheck run through run_job(job, as_of) against a fresh database)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import psycopg
import pytest


@pytest.fixture
def t0(sql):
    """07:00 UTC, two days ahead: the daily jobs' schedule point, after install."""
    return sql("SELECT date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + interval '2 days 7 hours'")[0][0]


@pytest.fixture(autouse=True)
def alert_channel(configure):
    configure(email_to="ops@example.com")   # one outbox row per alert


def issues(resp, job=None, rule=None):
    return [i for i in resp["results"]["issues"]
            if (job is None or i["job"] == job) and (rule is None or i["rule"] == rule)]


def log_run(sql, job, at, status="success", seconds=1.0, error=None):
    sql("INSERT INTO jobs_log (job_name, started_at, completed_at, status, as_of, trigger, error_message) "
        "VALUES (%s, %s, %s::timestamptz + make_interval(secs => %s), %s, %s, 'cron', %s)",
        job, at, at, seconds, status, at, error)


def only(sql, *jobs):
    """Leave only these jobs enabled (the others would be 'missed' at a far as_of)."""
    sql("UPDATE bgjobs.job_registry SET enabled = (job_name = ANY(%s))", list(jobs))


def alerts(sql, subject, rule=None, template=None):
    """Alerts queued for subject (and rule): job_alert and job_failure (the first alert of a
    failure streak, in the seeds' format) unless a template is named."""
    templates = [template] if template else ["job_alert", "job_failure"]
    return [r[0] for r in sql(
        "SELECT payload FROM notifications WHERE template = ANY(%s) AND payload->>'subject' = %s "
        "AND (%s::text IS NULL OR payload->>'rule' = %s) ORDER BY created_at, (payload->>'notification')::int",
        templates, subject, rule, rule)]


# ------------------------------------------------------------------ missed run

def test_missed_run_daily_cron_job_boundary_25h(sql, run, t0):
    job = "automation-health-check"            # 0 7 * * *, grace 1 h
    log_run(sql, job, t0)
    ok = run("check-job-health", t0 + timedelta(hours=25))
    assert issues(ok, job, "missed_run") == []
    late = run("check-job-health", t0 + timedelta(hours=25, minutes=1))
    [hit] = issues(late, job, "missed_run")
    assert hit["severity"] == "CRITICAL"
    assert late["results"]["status"] == "critical"
    assert hit["details"]["hours_since_last_run"] == 25.0
    assert "expected a run at" in hit["summary"]


def test_missed_run_tenant_local_job_is_25_hours(sql, run, t0):
    job = "update-installment-statuses"        # tenant-local 02:00: expected_interval 1 day + grace 1 h
    log_run(sql, job, t0)
    assert issues(run("check-job-health", t0 + timedelta(hours=25)), job, "missed_run") == []
    [hit] = issues(run("check-job-health", t0 + timedelta(hours=25, seconds=1)), job, "missed_run")
    assert hit["severity"] == "CRITICAL"


def test_missed_run_of_a_frequent_job_uses_its_own_schedule(sql, run, t0):
    job = "check-sla-and-overdue"              # */15, grace 5 min (a quarter of 15 min, at least 5)
    log_run(sql, job, t0)
    # next fire 07:15; missed once a fire is more than 5 minutes past with no run after it
    assert issues(run("check-job-health", t0 + timedelta(minutes=20)), job, "missed_run") == []
    assert issues(run("check-job-health", t0 + timedelta(minutes=20, seconds=1)), job, "missed_run")


def test_missed_run_counts_from_registration_when_never_run(sql, run):
    reg = sql("SELECT registered_at FROM bgjobs.job_registry WHERE job_name = 'purge-old-logs'")[0][0]
    early = run("check-job-health", reg + timedelta(minutes=30))
    assert issues(early, "purge-old-logs", "missed_run") == []
    later = run("check-job-health", reg + timedelta(days=2))
    [hit] = issues(later, "purge-old-logs", "missed_run")
    assert "never run" in hit["summary"]


def test_disabled_job_is_not_judged(sql, run, t0):
    sql("UPDATE bgjobs.job_registry SET enabled = false WHERE job_name = 'automation-health-check'")
    assert issues(run("check-job-health", t0 + timedelta(days=3)), "automation-health-check") == []


# ------------------------------------------------------------------ failures

def test_one_failure_warns_three_in_a_row_are_critical_success_resolves(sql, run, t0):
    job = "automation-health-check"
    only(sql, job)
    log_run(sql, job, t0, "failed", error="boom 1")
    r1 = run("check-job-health", t0 + timedelta(minutes=5))
    [hit] = issues(r1, job, "consecutive_failures")
    assert hit["severity"] == "WARNING" and "boom 1" in hit["summary"]
    assert r1["results"]["status"] == "warning"
    assert len(alerts(sql, job, "consecutive_failures")) == 1

    log_run(sql, job, t0 + timedelta(hours=1), "failed", error="boom 2")
    r2 = run("check-job-health", t0 + timedelta(hours=1, minutes=5))
    assert issues(r2, job, "consecutive_failures")[0]["severity"] == "WARNING"
    assert len(alerts(sql, job, "consecutive_failures")) == 1      # still the same episode, no repeat yet

    log_run(sql, job, t0 + timedelta(hours=2), "failed", error="boom 3")
    r3 = run("check-job-health", t0 + timedelta(hours=2, minutes=5))
    [hit] = issues(r3, job, "consecutive_failures")
    assert hit["severity"] == "CRITICAL" and hit["details"]["consecutive_failures"] == 3
    sent = alerts(sql, job, "consecutive_failures")
    assert [a["severity"] for a in sent] == ["WARNING", "CRITICAL"]   # escalation is sent at once
    assert sent[1]["escalated"] is True and sent[1]["repeat"] is False

    log_run(sql, job, t0 + timedelta(hours=3), "success")        # resolves at once (jobs_log trigger)
    r4 = run("check-job-health", t0 + timedelta(hours=3, minutes=5))
    assert issues(r4, job, "consecutive_failures") == []
    [resolved] = alerts(sql, job, "consecutive_failures", template="alert_resolved")
    assert "Resolved after" in resolved["summary"]
    run("check-job-health", t0 + timedelta(hours=4))
    assert len(alerts(sql, job, "consecutive_failures", template="alert_resolved")) == 1


def test_two_failures_are_not_critical(sql, run, t0):
    job = "automation-health-check"
    log_run(sql, job, t0, "failed")
    log_run(sql, job, t0 + timedelta(minutes=1), "success")
    log_run(sql, job, t0 + timedelta(minutes=2), "failed")
    log_run(sql, job, t0 + timedelta(minutes=3), "failed")
    [hit] = issues(run("check-job-health", t0 + timedelta(minutes=10)), job, "consecutive_failures")
    assert hit["severity"] == "WARNING" and hit["details"]["consecutive_failures"] == 2


# ------------------------------------------------------------------ slow runs

def test_slow_run_thresholds_against_expected_duration(sql, run, t0):
    job = "automation-health-check"
    sql("UPDATE bgjobs.job_registry SET expected_duration = '10 seconds' WHERE job_name = %s", job)
    log_run(sql, job, t0, seconds=15.0)                          # exactly 1.5x: not slow
    assert issues(run("check-job-health", t0 + timedelta(minutes=1)), job, "slow_run") == []
    log_run(sql, job, t0 + timedelta(minutes=2), seconds=15.1)   # > 1.5x: WARNING
    [hit] = issues(run("check-job-health", t0 + timedelta(minutes=3)), job, "slow_run")
    assert hit["severity"] == "WARNING" and hit["details"]["expected_seconds"] == 10
    log_run(sql, job, t0 + timedelta(minutes=4), seconds=20.1)
    log_run(sql, job, t0 + timedelta(minutes=5), seconds=20.1)   # 2 of the last 3 > 2x (15.1 is not)
    assert issues(run("check-job-health", t0 + timedelta(minutes=6)), job, "slow_run")[0]["severity"] == "WARNING"
    log_run(sql, job, t0 + timedelta(minutes=7), seconds=20.1)   # 3 consecutive > 2x: CRITICAL
    assert issues(run("check-job-health", t0 + timedelta(minutes=8)), job, "slow_run")[0]["severity"] == "CRITICAL"
    log_run(sql, job, t0 + timedelta(minutes=9), seconds=20.0)   # exactly 2x breaks the streak
    assert issues(run("check-job-health", t0 + timedelta(minutes=10)), job, "slow_run")[0]["severity"] == "WARNING"
    log_run(sql, job, t0 + timedelta(minutes=11), seconds=9)
    assert issues(run("check-job-health", t0 + timedelta(minutes=12)), job, "slow_run") == []
    assert [a["severity"] for a in alerts(sql, job, "slow_run")] == ["WARNING", "CRITICAL"]
    assert len(alerts(sql, job, "slow_run", template="alert_resolved")) == 1


def test_slow_run_defaults_to_the_jobs_own_p95(sql, run, t0):
    job = "purge-old-logs"                                         # no expected_duration
    sql("UPDATE bgjobs.job_registry SET expected_duration = NULL WHERE job_name = %s", job)
    for i in range(20):
        log_run(sql, job, t0 + timedelta(minutes=i), seconds=1.0)
    for i in range(3):
        log_run(sql, job, t0 + timedelta(minutes=30 + i), seconds=2.5)
    [hit] = issues(run("check-job-health", t0 + timedelta(hours=1)), job, "slow_run")
    assert hit["severity"] == "CRITICAL"
    assert hit["details"]["expected_from"] == "p95 of earlier runs" and hit["details"]["expected_seconds"] == 1


# ------------------------------------------------------------------ system rules

def test_no_job_in_24_hours_is_critical(sql, run, t0):
    log_run(sql, "check-sla-and-overdue", t0)
    assert issues(run("check-job-health", t0 + timedelta(hours=23, minutes=59)), "system", "no_jobs_24h") == []
    [hit] = issues(run("check-job-health", t0 + timedelta(hours=24, seconds=1)), "system", "no_jobs_24h")
    assert hit["severity"] == "CRITICAL"


def test_success_rate_below_90_percent_warns(sql, run, t0):
    for i in range(9):
        log_run(sql, "check-sla-and-overdue", t0 + timedelta(minutes=i))
    log_run(sql, "check-sla-and-overdue", t0 + timedelta(minutes=10), "failed")
    log_run(sql, "check-sla-and-overdue", t0 + timedelta(minutes=11))   # 10 of 11: 90.9 %
    assert issues(run("check-job-health", t0 + timedelta(minutes=20)), "system", "low_success_rate") == []
    log_run(sql, "check-sla-and-overdue", t0 + timedelta(minutes=21), "failed")
    # 11 of 13 (the first check-job-health run counts too): 84.6 %
    [hit] = issues(run("check-job-health", t0 + timedelta(minutes=22)), "system", "low_success_rate")
    assert hit["severity"] == "WARNING" and hit["details"]["success_rate"] == 84.62


def test_delivery_rate_below_99_percent_is_info(sql, run, t0):
    sql("INSERT INTO notifications (channel, recipient, template, dedupe_key, status, created_at) "
        "SELECT 'email', 'a@example.com', 't', 'k' || g, CASE WHEN g <= 99 THEN 'sent' ELSE 'dead' END, %s "
        "FROM generate_series(1, 100) g", t0)
    r = run("check-job-health", t0 + timedelta(minutes=1))
    assert issues(r, "system", "delivery_rate") == []               # 99 %
    sql("UPDATE notifications SET status = 'dead' WHERE dedupe_key = 'k1'")
    r = run("check-job-health", t0 + timedelta(minutes=2))
    [hit] = issues(r, "system", "delivery_rate")
    assert hit["severity"] == "INFO" and hit["details"]["delivery_rate"] == 98
    assert r["results"]["status"] != "critical" or issues(r, rule="missed_run")


@pytest.fixture
def tenant(sql):
    return sql("INSERT INTO tenants (name, timezone) VALUES ('Acme Tax', 'Asia/Kolkata') RETURNING id")[0][0]


def test_automation_rule_triggered_more_than_10_times_an_hour(sql, run, t0, tenant):
    rule = sql("INSERT INTO automation_rules (tenant_id, rule_name, trigger_event) "
               "VALUES (%s, 'Escalate overdue', 'task_overdue') RETURNING id", tenant)[0][0]
    sql("INSERT INTO automation_logs (tenant_id, rule_id, rule_name, trigger_event, status, executed_at) "
        "SELECT %s, %s, 'Escalate overdue', 'task_overdue', 'success', %s::timestamptz - make_interval(mins => g) "
        "FROM generate_series(1, 10) g", tenant, rule, t0)
    assert issues(run("check-job-health", t0), rule="rule_storm") == []
    sql("INSERT INTO automation_logs (tenant_id, rule_id, rule_name, trigger_event, status, executed_at) "
        "VALUES (%s, %s, 'Escalate overdue', 'task_overdue', 'success', %s)", tenant, rule, t0)
    [hit] = issues(run("check-job-health", t0 + timedelta(seconds=1)), rule="rule_storm")
    assert hit["severity"] == "INFO" and hit["details"]["triggers_last_hour"] == 11
    assert "Escalate overdue" in hit["job"]
    # an hour later the storm is over: resolved
    assert issues(run("check-job-health", t0 + timedelta(hours=1, minutes=1)), rule="rule_storm") == []


def test_analytics_anomaly_is_info(sql, run, t0, tenant):
    day = (t0 - timedelta(hours=8)).date()
    sql("INSERT INTO analytics_snapshots (tenant_id, metric_type, snapshot_date, metric_value) "
        "VALUES (%s, 'daily_snapshot', %s, '{\"case_count\": 342, \"anomaly_detected\": false}')", tenant, day)
    assert issues(run("check-job-health", t0), rule="analytics_anomaly") == []
    sql("UPDATE analytics_snapshots SET metric_value = metric_value || '{\"anomaly_detected\": true}'")
    [hit] = issues(run("check-job-health", t0 + timedelta(minutes=1)), rule="analytics_anomaly")
    assert hit["severity"] == "INFO" and "Acme Tax" in hit["job"]


# ------------------------------------------------------------------ alert state

def test_one_alert_repeat_after_6_hours_and_one_resolved_notice(sql, run, t0):
    job = "automation-health-check"
    log_run(sql, job, t0)
    start = t0 + timedelta(hours=26)
    run("check-job-health", start)
    assert len(alerts(sql, job, "missed_run")) == 1
    for h in (1, 2, 5):
        r = run("check-job-health", start + timedelta(hours=h, minutes=59))
        assert r["results"]["suppressedAlerts"] >= 1
    assert len(alerts(sql, job, "missed_run")) == 1                       # < 6 h: quiet
    run("check-job-health", start + timedelta(hours=6))
    sent = alerts(sql, job, "missed_run")
    assert len(sent) == 2 and sent[1]["repeat"] is True                    # >= 6 h: again
    run("check-job-health", start + timedelta(hours=7))
    assert len(alerts(sql, job, "missed_run")) == 2
    log_run(sql, job, start + timedelta(hours=8))                          # it runs again
    run("check-job-health", start + timedelta(hours=8, minutes=1))
    run("check-job-health", start + timedelta(hours=9))
    assert len(alerts(sql, job, "missed_run", template="alert_resolved")) == 1
    state = sql("SELECT state, count, episodes FROM bgjobs.alert_state WHERE subject = %s AND rule = 'missed_run'", job)
    assert state == [("ok", 2, 1)]
    # a replayed evaluation of a moment already judged queues nothing new
    before = sql("SELECT count(*) FROM notifications")[0][0]
    run("check-job-health", start + timedelta(hours=9))
    assert sql("SELECT count(*) FROM notifications")[0][0] == before


def test_silence_holds_alerts_and_sends_when_it_ends(sql, run):
    job = "automation-health-check"
    now = sql("SELECT now()")[0][0]
    sid = sql("SELECT silence_job(%s, now() + interval '2 hours', 'planned maintenance')", job)[0][0]
    assert sql("SELECT job_name, reason, active, created_by FROM job_silences WHERE id = %s", sid) == \
        [(job, "planned maintenance", True, "postgres")]
    log_run(sql, job, now, "failed", error="db down")
    r = run("check-job-health", now + timedelta(hours=1))
    assert issues(r, job, "consecutive_failures") and r["results"]["silencedAlerts"] >= 1
    assert alerts(sql, job, "consecutive_failures") == []
    assert sql("SELECT silenced_until IS NOT NULL FROM job_status WHERE job_name = %s", job) == [(True,)]
    run("check-job-health", now + timedelta(hours=2, minutes=1))           # silence over, still failing
    [sent] = alerts(sql, job, "consecutive_failures")
    assert sent["repeat"] is False


def test_silence_of_everything_and_unsilence(sql, run):
    job = "automation-health-check"
    now = sql("SELECT now()")[0][0]
    sql("SELECT silence_job(NULL, now() + interval '1 day', 'migration weekend')")
    log_run(sql, job, now, "failed")
    run("check-job-health", now + timedelta(minutes=5))
    assert alerts(sql, job) == []
    assert sql("SELECT unsilence_job('*')")[0][0] == 1
    run("check-job-health", now + timedelta(minutes=10))
    assert len(alerts(sql, job, "consecutive_failures")) == 1


def test_silence_requires_reason_and_known_job(sql):
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        sql("SELECT silence_job('automation-health-check', now() + interval '1 hour', '  ')")
    with pytest.raises(psycopg.errors.UndefinedObject, match="no-such-job"):
        sql("SELECT silence_job('no-such-job', now() + interval '1 hour', 'x')")
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        sql("SELECT silence_job('automation-health-check', now() - interval '1 hour', 'x')")


# ------------------------------------------------------------------ stale heartbeats (runbook)

def test_stale_heartbeat_boundary_and_6h_anti_spam(sql, run, t0):
    sql("INSERT INTO job_heartbeats (job_name, last_run_at) VALUES ('nightly-export', %s)", t0)

    def stale(r):
        return [s["job_name"] for s in r["results"]["stale"] if s["job_name"] == "nightly-export"]

    r = run("cron-healthcheck", t0 + timedelta(hours=24))                 # exactly 24 h: not stale
    assert stale(r) == []
    r = run("cron-healthcheck", t0 + timedelta(hours=24, seconds=1))
    assert stale(r) == ["nightly-export"] and len(alerts(sql, "nightly-export")) == 1
    assert sql("SELECT last_alert_at FROM job_heartbeats WHERE job_name = 'nightly-export'")[0][0] == \
        t0 + timedelta(hours=24, seconds=1)
    r = run("cron-healthcheck", t0 + timedelta(hours=30))                 # 5h59m59s later: suppressed
    assert stale(r) and len(alerts(sql, "nightly-export")) == 1 and r["results"]["suppressed_alerts"] >= 1
    r = run("cron-healthcheck", t0 + timedelta(hours=30, seconds=1))      # 6 h later: alerts again
    sent = alerts(sql, "nightly-export", "stale_heartbeat")
    assert len(sent) == 2 and sent[1]["repeat"] is True
    assert sent[0]["details"]["hours_since_last_run"] == 24.0
    assert "nightly-export has not reported a heartbeat for 24.0 hours" in sent[0]["summary"]


def test_runbook_emergency_procedures_work_as_written(sql, run):
    sql("INSERT INTO job_heartbeats (job_name, last_run_at) VALUES ('critical-job-name', now() - interval '30 hours')")
    assert run("cron-healthcheck")["results"]["alerts_sent"] == 1
    assert run("cron-healthcheck")["results"]["suppressed_alerts"] == 1
    # Force Alert for Specific Job
    sql("UPDATE job_heartbeats SET last_alert_at = NULL WHERE job_name = 'critical-job-name'")
    assert run("cron-healthcheck")["results"]["alerts_sent"] == 1
    # Disable All Alerts Temporarily
    sql("UPDATE job_heartbeats SET last_alert_at = now()")
    r = run("cron-healthcheck")
    assert r["results"]["alerts_sent"] == 0 and r["results"]["suppressed_alerts"] == 1
    # the runbook's "Alerts Being Suppressed" query, verbatim
    rows = sql("""
SELECT
  job_name,
  last_run_at,
  last_alert_at,
  EXTRACT(hours FROM (now() - last_run_at)) as hours_overdue,
  EXTRACT(hours FROM (now() - COALESCE(last_alert_at, '-infinity'))) as hours_since_alert,
  CASE
    WHEN last_alert_at IS NULL THEN 'Never alerted (should alert)'
    WHEN (now() - last_alert_at) < interval '6 hours' THEN 'Suppressed (< 6h since last alert)'
    ELSE 'Should alert (>= 6h since last alert)'
  END as alert_status
FROM job_heartbeats
WHERE last_run_at < (now() - interval '24 hours');""")
    assert [(r[0], r[-1]) for r in rows] == [("critical-job-name", "Suppressed (< 6h since last alert)")]
    # Bulk Job Recovery, verbatim; then the healthcheck resolves it (one notice)
    sql("""UPDATE job_heartbeats
SET last_run_at = now(),
    status = 'recovered',
    last_alert_at = now()
WHERE last_run_at < (now() - interval '24 hours');""")
    r = run("cron-healthcheck")
    assert r["results"]["stale_jobs"] == 0 and r["results"]["resolved"] == 1
    assert len(alerts(sql, "critical-job-name", "stale_heartbeat", template="alert_resolved")) == 1
    assert sql("SELECT total_jobs, stale_jobs FROM healthcheck_summary")[0] >= (1, 0)


# ------------------------------------------------------------------ hard timeout

def test_run_past_its_timeout_is_cancelled_by_check_job_health(sql, run, db):
    sql("""CREATE FUNCTION bgjobs.job_sleepy(p_as_of timestamptz, p_tenants uuid[]) RETURNS jsonb
           LANGUAGE sql AS $$ SELECT pg_sleep(60); SELECT '{}'::jsonb $$""")
    sql("INSERT INTO bgjobs.job_registry (job_name, schedule, function_name, timeout) "
        "VALUES ('sleepy', '0 * * * *', 'job_sleepy', '1 second')")
    out = {}

    def sleeper():
        with psycopg.connect(db, autocommit=True) as c:
            out["resp"] = c.execute("SELECT run_job('sleepy')").fetchone()[0]

    th = threading.Thread(target=sleeper)
    started = time.monotonic()
    th.start()
    time.sleep(1.5)
    run("check-job-health")
    th.join(20)
    assert not th.is_alive() and time.monotonic() - started < 15
    assert out["resp"]["success"] is False
    assert "exceeded its timeout of 00:00:01" in out["resp"]["error"]
    assert sql("SELECT status, error_message LIKE 'cancelled:%%' FROM jobs_log WHERE job_name = 'sleepy'") == \
        [("failed", True)]
    # and the runtime announced the failure at once
    assert sql("SELECT count(*) FROM notifications WHERE template = 'job_failure' "
               "AND payload->>'job_name' = 'sleepy'")[0][0] == 1
