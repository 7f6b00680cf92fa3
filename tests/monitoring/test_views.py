"""Views, job_metrics() JSON, Prometheus text, purge-old-logs, `bgjobs status`: what the
seeds' dashboards and runbooks read."""

from __future__ import annotations

import re
from datetime import timedelta

from bgjobs import status as st


def log_run(sql, job, at, status="success", seconds=1.0, records=0):
    sql("INSERT INTO jobs_log (job_name, started_at, completed_at, status, as_of, records_updated) "
        "VALUES (%s, %s, %s::timestamptz + make_interval(secs => %s), %s, %s, %s)",
        job, at, at, seconds, status, at, records)


def runs(sql, job, ok, failed, hours_ago=1.0, seconds=1.0):
    now = sql("SELECT now()")[0][0]
    for i in range(ok):
        log_run(sql, job, now - timedelta(hours=hours_ago, minutes=i), seconds=seconds, records=2)
    for i in range(failed):
        log_run(sql, job, now - timedelta(hours=hours_ago, minutes=ok + i), "failed", seconds=seconds)


def test_health_labels_at_their_thresholds(sql):
    runs(sql, "check-sla-and-overdue", 19, 1)        # 95 %: Healthy
    runs(sql, "automation-health-check", 16, 1)      # 94.1 %: Degraded
    runs(sql, "purge-old-logs", 8, 2)                # 80 %: Degraded
    runs(sql, "cron-healthcheck", 79, 21)            # 79 %: Unhealthy
    got = dict((r[0], (float(r[1]), r[2])) for r in sql(
        "SELECT job_name, health_score, health_label FROM job_success_rates WHERE health_score IS NOT NULL"))
    assert got == {"check-sla-and-overdue": (95.0, "Healthy"), "automation-health-check": (94.1, "Degraded"),
                   "purge-old-logs": (80.0, "Degraded"), "cron-healthcheck": (79.0, "Unhealthy")}
    # job_status agrees, keeps its columns, and adds the monitoring ones
    rows = sql("SELECT job_name, health_score, health_label, success_rate_24h, alerts FROM job_status "
               "WHERE job_name = 'purge-old-logs'")
    assert rows == [("purge-old-logs", 80.0, "Degraded", 80.0, [])]
    cols = [r[0] for r in sql("SELECT column_name FROM information_schema.columns WHERE table_name = 'job_status' "
                              "ORDER BY ordinal_position")]
    assert cols[:19] == ["job_name", "pg_cron_job", "schedule", "local_time", "enabled", "active", "state",
                         "running_pid", "last_run_at", "last_status", "last_duration", "last_records_updated",
                         "last_error", "runs_7d", "successes_7d", "health_score", "health_label",
                         "next_expected_run", "success_rate_24h"]


def test_success_rate_windows_and_percentiles(sql):
    now = sql("SELECT now()")[0][0]
    job = "check-sla-and-overdue"
    for i in range(10):                                   # last 24 h: 10 ok, durations 1..10 s
        log_run(sql, job, now - timedelta(hours=1, minutes=i), seconds=i + 1)
    for i in range(5):                                    # 3 days ago: failures
        log_run(sql, job, now - timedelta(days=3, minutes=i), "failed")
    for i in range(5):                                    # 20 days ago: ok
        log_run(sql, job, now - timedelta(days=20, minutes=i), seconds=1)
    log_run(sql, job, now - timedelta(days=40), "failed")  # outside every window
    r = sql("SELECT runs_24h, success_rate_24h, runs_7d, success_rate_7d, runs_30d, success_rate_30d, "
            "p50_duration_seconds, p95_duration_seconds, max_duration_seconds, records_updated_24h "
            "FROM job_success_rates WHERE job_name = %s", job)[0]
    assert tuple(float(x) for x in r[:6]) == (10, 100, 15, 66.67, 20, 75)
    # p50/p95 over the last 100 successful runs: 1..10 s and five of 1 s
    assert (float(r[6]), float(r[7]), float(r[8])) == (3.0, 9.3, 10.0)
    assert r[9] == 0


def test_seed_runbook_and_dashboard_queries_run_verbatim(sql):
    runs(sql, "update-installment-statuses", 3, 1)
    sql("INSERT INTO job_heartbeats (job_name, last_run_at) VALUES ('old-job', now() - interval '30 hours')")
    queries = [
        # monitoring seed: Recent Executions, Health Status, Success Rate
        """SELECT id, job_name, started_at, completed_at, (completed_at - started_at) AS duration,
             records_updated, status, error_message
           FROM jobs_log WHERE job_name = 'update-installment-statuses' ORDER BY started_at DESC LIMIT 10""",
        """WITH latest_run AS (
             SELECT started_at, completed_at, status, error_message, records_updated
             FROM jobs_log WHERE job_name = 'update-installment-statuses' ORDER BY started_at DESC LIMIT 1)
           SELECT CASE WHEN lr.status = 'failed' THEN 'CRITICAL'
                       WHEN now() - lr.started_at > INTERVAL '25 hours' THEN 'WARNING'
                       WHEN lr.status = 'success' THEN 'OK' ELSE 'UNKNOWN' END AS health_status,
                  lr.started_at AS last_run, lr.status AS last_status, lr.records_updated, lr.error_message
           FROM latest_run lr""",
        """SELECT COUNT(*) AS total_runs, COUNT(*) FILTER (WHERE status = 'success') AS successful_runs,
             COUNT(*) FILTER (WHERE status = 'failed') AS failed_runs,
             ROUND(100.0 * COUNT(*) FILTER (WHERE status = 'success') / COUNT(*), 2) AS success_rate
           FROM jobs_log WHERE job_name = 'update-installment-statuses' AND started_at > now() - INTERVAL '30 days'""",
        # runbook: stale jobs, alert history, summary view
        """SELECT job_name, last_run_at, EXTRACT(hours FROM (now() - last_run_at)) as hours_overdue, status,
             last_alert_at, CASE WHEN last_alert_at IS NULL THEN 'Never alerted'
               ELSE EXTRACT(hours FROM (now() - last_alert_at)) || ' hours ago' END as last_alert_info
           FROM job_heartbeats WHERE last_run_at < (now() - interval '24 hours') ORDER BY last_run_at ASC""",
        "SELECT * FROM healthcheck_summary",
        # operations guide: monitoring dashboard metrics from audit_log
        """SELECT details->>'job_name' as job, COUNT(*) as total_runs,
             AVG((details->>'execution_time_ms')::int) as avg_time_ms,
             PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY (details->>'execution_time_ms')::int) as p95_time_ms
           FROM audit_log WHERE action_type = 'background_job_execution'
             AND timestamp > NOW() - INTERVAL '24 hours' GROUP BY details->>'job_name'""",
    ]
    for q in queries:
        sql(q)
    assert sql(queries[1])[0][0] == "CRITICAL" or sql(queries[1])[0][0] in ("OK", "CRITICAL")
    assert sql(queries[3])[0][0] == "old-job"
    assert sql(queries[2])[0][:3] == (4, 3, 1)


def test_job_metrics_json(sql, run):
    runs(sql, "check-sla-and-overdue", 4, 1)
    m = sql("SELECT job_metrics()")[0][0]
    assert set(m) == {"generatedAt", "asOf", "summary", "jobs"}
    assert m["summary"]["totalJobs"] == 10
    j = next(x for x in m["jobs"] if x["job"] == "check-sla-and-overdue")
    assert j["runs"]["24h"] == {"total": 5, "successful": 4, "failed": 1}
    assert j["successRate"]["24h"] == 80 and j["healthLabel"] == "Degraded"
    assert j["lastRun"]["status"] == "success" and j["healthStatus"] == "OK"
    assert j["duration"]["p50"] == 1 and j["recordsUpdated24h"] == 8
    assert sum(d["total"] for d in j["recordsUpdatedPerDay"]) == 8
    one = sql("SELECT job_metrics(now(), 'check-sla-and-overdue')")[0][0]
    assert [x["job"] for x in one["jobs"]] == ["check-sla-and-overdue"]
    # an alert shows in the job's entry
    far = sql("SELECT now() + interval '3 days'")[0][0]
    run("check-job-health", far)
    m = sql("SELECT job_metrics(%s)", far)[0][0]
    j = next(x for x in m["jobs"] if x["job"] == "automation-health-check")
    assert j["alerts"][0]["rule"] == "missed_run" and m["summary"]["alertsFiring"]["critical"] >= 1


LINE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*",?)*\})? '
                  r'(-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?|NaN|[+-]Inf)$')


def test_prometheus_text_exposition(sql, run):
    runs(sql, "check-sla-and-overdue", 3, 1)
    sql("INSERT INTO job_heartbeats (job_name, last_run_at) VALUES ('we\"ird\\job', now())")
    run("check-job-health", sql("SELECT now() + interval '3 days'")[0][0])
    text = sql("SELECT job_metrics_prometheus()")[0][0]
    assert text.endswith("\n")
    names = set()
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            names.add(line.split()[2])
            continue
        assert LINE.match(line), line
    assert {"bgjobs_job_last_run_timestamp_seconds", "bgjobs_job_success_rate", "bgjobs_job_duration_seconds",
            "bgjobs_job_health_score", "bgjobs_alert_firing", "bgjobs_heartbeat_age_seconds",
            "bgjobs_notifications"} <= names
    assert 'bgjobs_job_success_rate{job="check-sla-and-overdue",window="24h"} 0.75' in text
    assert 'bgjobs_heartbeat_age_seconds{job="we\\"ird\\\\job"}' in text
    assert 'bgjobs_alert_firing{subject="automation-health-check",rule="missed_run",severity="CRITICAL"' in text


def test_purge_old_logs_keeps_what_retention_says(sql, run):
    now = sql("SELECT now()")[0][0]
    tenant = sql("INSERT INTO tenants (name) VALUES ('T') RETURNING id")[0][0]
    log_run(sql, "check-sla-and-overdue", now - timedelta(days=91))
    log_run(sql, "check-sla-and-overdue", now - timedelta(days=89))
    # a monitor-only job's runs: an old finished one goes, a recent one and an open one stay
    sql("INSERT INTO bgjobs.watch_runs (job_name, started_at, finished_at, status) VALUES "
        "('etl', now() - interval '95 days', now() - interval '95 days', 'success'), "
        "('etl', now() - interval '2 days', now() - interval '2 days', 'failed'), "
        "('etl', now() - interval '93 days', NULL, 'running')")
    sql("INSERT INTO audit_log (action_type, \"timestamp\") VALUES ('x', now() - interval '91 days'), "
        "('x', now() - interval '1 day')")
    sql("INSERT INTO automation_logs (tenant_id, rule_name, status, executed_at) VALUES "
        "(%s, 'r', 'success', now() - interval '181 days'), (%s, 'r', 'success', now() - interval '179 days')",
        tenant, tenant)
    sql("INSERT INTO notifications (channel, template, dedupe_key, status, created_at) VALUES "
        "('email', 't', 'a', 'sent', now() - interval '91 days'), ('email', 't', 'b', 'pending', now() - interval '91 days'), "
        "('email', 't', 'c', 'dead', now() - interval '10 days')")
    # pg_cron's run history, as when this database is pg_cron's own
    sql("CREATE SCHEMA cron")
    sql("CREATE TABLE cron.job_run_details (runid bigserial, username text, start_time timestamptz)")
    sql("INSERT INTO cron.job_run_details (username, start_time) VALUES ('bgjobs_runner', now() - interval '31 days'), "
        "('bgjobs_runner', now() - interval '29 days'), ('other_app', now() - interval '40 days')")
    sql("GRANT USAGE ON SCHEMA cron TO bgjobs_runner")     # as install grants it for pg_cron's own schema
    sql("GRANT SELECT, DELETE ON cron.job_run_details TO bgjobs_runner")
    r = run("purge-old-logs")["results"]
    assert (r["jobsLog"], r["auditLog"], r["automationLogs"], r["notifications"], r["cronJobRunDetails"]) == (1, 1, 1, 1, 1)
    assert sql("SELECT count(*) FROM jobs_log WHERE job_name = 'check-sla-and-overdue'") == [(1,)]
    assert r["watchRuns"] == 1
    assert sql("SELECT status FROM bgjobs.watch_runs ORDER BY started_at") == [("running",), ("failed",)]
    assert sql("SELECT dedupe_key FROM notifications ORDER BY 1") == [("b",), ("c",)]   # pending is never purged
    # only bgjobs_runner's old run: other applications' history stays (retention_cron_all_users off)
    assert sql("SELECT username FROM cron.job_run_details ORDER BY start_time") == [("other_app",), ("bgjobs_runner",)]
    sql("UPDATE app_settings SET value = '0' WHERE key = 'retention_days_audit_log'")
    sql("INSERT INTO audit_log (action_type, \"timestamp\") VALUES ('x', now() - interval '400 days')")
    assert run("purge-old-logs")["results"]["auditLog"] == 0                    # 0 keeps forever


def test_bgjobs_status_shows_alerts(sql, run, db):
    run("check-job-health", sql("SELECT now() - interval '1 minute'")[0][0])
    sql("INSERT INTO jobs_log (job_name, status, error_message) VALUES ('automation-health-check', 'failed', 'boom')")
    run("check-job-health")
    rows = st.fetch(db)
    row = next(r for r in rows if r["job_name"] == "automation-health-check")
    assert row["alert_severity"] == "WARNING" and row["alerts"] == ["consecutive_failures"]
    text = st.render(rows)
    assert "ALERT" in text.splitlines()[0]
    assert "WARNING consecutive_failures" in text
