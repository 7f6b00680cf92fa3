"""bgjobs report --month: the seeds' monthly report over data inserted here, exact figures,
in every format."""

from __future__ import annotations

import csv
import io
import json

import pytest
from cli_helpers import one_line_error, run_cli

T1 = "11111111-1111-1111-1111-111111111111"
T2 = "22222222-2222-2222-2222-222222222222"


@pytest.fixture
def october(sql):
    """October 2026 (UTC) with rows just outside it on both sides."""
    def run(job, status, ms, at):
        sql("INSERT INTO audit_log (action_type, details, \"timestamp\") VALUES ('background_job_execution', "
            "jsonb_build_object('job_name', %s::text, 'status', %s::text, 'execution_time_ms', %s::int), %s)", job, status, ms, at)
    for i in range(8):
        run("check-sla-and-overdue", "success", 100 + 10 * i, f"2026-10-{1 + i:02d} 12:00+00")   # 100..170
    run("check-sla-and-overdue", "failed", 900, "2026-10-31 23:59:59+00")
    run("check-sla-and-overdue", "failed", 5000, "2026-11-01 00:00:00+00")       # November: not counted
    run("analytics-snapshot", "success", 2000, "2026-10-01 00:00:00+00")         # first instant: counted
    run("analytics-snapshot", "success", 3000, "2026-10-15 23:59+00")
    run("analytics-snapshot", "success", 9999, "2026-09-30 23:59:59+00")         # September: not counted
    sql("INSERT INTO audit_log (action_type, details, \"timestamp\") VALUES ('manual_job_trigger', "
        "'{\"job_name\": \"analytics-snapshot\"}', '2026-10-10 10:00+00')")      # not a run record
    sql("INSERT INTO tenants (id, name) VALUES (%s, 'Mehta & Associates'), (%s, 'Iyer Legal')", T1, T2)
    for n, status, at in ((5, "success", "2026-10-03"), (2, "failed", "2026-10-04"), (4, "success", "2026-09-29")):
        sql("INSERT INTO automation_logs (tenant_id, rule_name, status, executed_at) "
            "SELECT %s, 'Escalate SLA breach', %s, %s::timestamptz FROM generate_series(1, %s)", T1, status, at, n)
    sql("INSERT INTO automation_logs (tenant_id, rule_name, status, executed_at) VALUES "
        "(%s, 'Notify assignee of overdue task', 'success', '2026-10-20')", T2)
    for k, (channel, status, created, sent) in enumerate((
            ("email", "sent", "2026-10-02", "2026-10-02"), ("email", "sent", "2026-09-30", "2026-10-01 00:00:01"),
            ("email", "sent", "2026-10-31", "2026-11-01 00:00:01"), ("slack", "sent", "2026-10-05", "2026-10-05"),
            ("email", "pending", "2026-10-06", None), ("whatsapp", "dead", "2026-10-07", None))):
        sql("INSERT INTO notifications (channel, recipient, template, dedupe_key, status, created_at, sent_at) "
            "VALUES (%s, 'x', 't', %s, %s, %s, %s)", channel, f"k{k}", status, created, sent)
    for tenant, day, anomaly in ((T1, "2026-10-09", True), (T1, "2026-10-10", False), (T2, "2026-10-12", True),
                                 (T2, "2026-11-01", True)):
        body = {"anomaly_detected": anomaly,
                "anomalies": [{"metric": "overdue_tasks"}, {"metric": "active_cases"}] if anomaly else []}
        sql("INSERT INTO analytics_snapshots (tenant_id, metric_type, snapshot_date, metric_value) "
            "VALUES (%s, 'daily_snapshot', %s, %s)", tenant, day, json.dumps(body))


def test_report_json_has_the_seeds_figures(db, october):
    r = json.loads(run_cli("report", "--dsn", db, "--month", "2026-10", "--format", "json", check=True).stdout)
    assert r["start"] == "2026-10-01T00:00:00+00:00" and r["end"] == "2026-11-01T00:00:00+00:00"
    assert r["jobs"] == [
        {"job": "analytics-snapshot", "total_runs": 2, "successful": 2, "failed": 0, "success_rate_pct": 100,
         "avg_time_ms": 2500, "max_time_ms": 3000},
        {"job": "check-sla-and-overdue", "total_runs": 9, "successful": 8, "failed": 1, "success_rate_pct": 88.89,
         "avg_time_ms": 220, "max_time_ms": 900},
    ]
    assert r["totals"] == {"job_executions": 11, "successful": 10, "failed": 1, "success_rate_pct": 90.91,
                           "rules_triggered": 8, "notifications_sent": 3, "notifications_dead": 1, "anomalies": 2}
    assert r["automation_rules"] == [
        {"rule_name": "Escalate SLA breach", "triggered": 7, "succeeded": 5, "failed": 2},
        {"rule_name": "Notify assignee of overdue task", "triggered": 1, "succeeded": 1, "failed": 0}]
    assert r["notifications"] == [{"channel": "email", "sent": 2, "dead": 0}, {"channel": "slack", "sent": 1, "dead": 0},
                                  {"channel": "whatsapp", "sent": 0, "dead": 1}]
    assert r["anomalies"] == [
        {"tenant": "Mehta & Associates", "snapshot_date": "2026-10-09", "metric_type": "daily_snapshot",
         "metrics": "active_cases, overdue_tasks"},
        {"tenant": "Iyer Legal", "snapshot_date": "2026-10-12", "metric_type": "daily_snapshot",
         "metrics": "active_cases, overdue_tasks"}]


def test_report_text_markdown_csv(db, october):
    text = run_cli("report", "--dsn", db, "--month", "2026-10", check=True).stdout
    assert "bgjobs monthly report 2026-10 (2026-10-01 to 2026-11-01, UTC)" in text
    assert "11 executions, 10 successful, 1 failed (90.91% success)" in text
    line = next(x for x in text.splitlines() if x.startswith("check-sla-and-overdue"))
    assert line.split() == ["check-sla-and-overdue", "9", "8", "1", "88.89", "220", "900"]
    assert "8 triggered" in text and "3 sent, 1 given up (dead)" in text and "2 analytics snapshot(s)" in text
    md = run_cli("report", "--dsn", db, "--month", "2026-10", "--format", "markdown", check=True).stdout
    assert "| check-sla-and-overdue | 9 | 8 | 1 | 88.89 | 220 | 900 |" in md
    assert "| 2026-10-09 | Mehta & Associates | daily_snapshot | active_cases, overdue_tasks |" in md
    rows = list(csv.DictReader(io.StringIO(
        run_cli("report", "--dsn", db, "--month", "2026-10", "--format", "csv", check=True).stdout)))
    got = {(r["section"], r["item"], r["metric"]): r["value"] for r in rows}
    assert got[("jobs", "check-sla-and-overdue", "success_rate_pct")] == "88.89"
    assert got[("totals", "", "job_executions")] == "11"
    assert got[("notifications", "email", "sent")] == "2"


def test_report_empty_month_and_bad_month(db):
    r = json.loads(run_cli("report", "--dsn", db, "--month", "2020-02", "--json", check=True).stdout)
    assert r["jobs"] == [] and r["totals"]["job_executions"] == 0 and r["totals"]["success_rate_pct"] is None
    assert "0 executions" in run_cli("report", "--dsn", db, "--month", "2020-02", check=True).stdout
    for bad in ("2026-13", "October", "2026-1"):
        assert "--month: expected YYYY-MM" in one_line_error(run_cli("report", "--dsn", db, "--month", bad))
