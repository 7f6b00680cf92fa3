"""automation-health-check: the 24 h window, the 20 % / 80 % / 95 % edges, inactive rules
(48 h), the seeds' HealthMetrics result, findings to the tenant's admins via the outbox."""

from datetime import datetime, timedelta, timezone

from bgjobs import pymodules

JOB = "automation-health-check"
AS_OF = datetime(2026, 3, 8, 7, 0, tzinfo=timezone.utc)
H = timedelta(hours=1)


def logs(sql, tenant, rule, ok, failed, at=AS_OF - H):
    sql("""INSERT INTO automation_logs (tenant_id, rule_id, rule_name, trigger_event, status, executed_at)
           SELECT %s, r.id, r.rule_name, r.trigger_event, CASE WHEN g <= %s THEN 'success' ELSE 'failed' END, %s
             FROM automation_rules r, generate_series(1, %s) g WHERE r.id = %s""",
        tenant, ok, at, ok + failed, rule)


def test_edges_metrics_and_findings(sql, mk, run):
    t = mk.tenant("Firm")
    mk.user(t, email="admin1@example.com", role="admin")
    mk.user(t, email="admin2@example.com", role="admin")
    mk.user(t, email="member@example.com")
    mk.user(t, email="old-admin@example.com", role="admin", active=False)
    edge = mk.rule(t, "task_overdue", "Edge 80/20")          # 80 % success, 20 % failures: fine
    logs(sql, t, edge, 4, 1)
    below = mk.rule(t, "sla_violation", "Just below")         # 79.01 %: CRITICAL and degraded
    logs(sql, t, below, 64, 17)
    good = mk.rule(t, "deadline_approaching", "Healthy")
    logs(sql, t, good, 10, 0, at=AS_OF)                       # exactly at as_of: inside the window
    logs(sql, t, good, 0, 50, at=AS_OF - 24 * H)              # exactly 24 h ago: outside
    stale = mk.rule(t, "task_overdue", "Stale", created_at=AS_OF - 72 * H)
    logs(sql, t, stale, 1, 0, at=AS_OF - 49 * H)              # last ran 49 h ago: inactive
    recent = mk.rule(t, "task_overdue", "Ran 47h ago", created_at=AS_OF - 72 * H)
    logs(sql, t, recent, 1, 0, at=AS_OF - 47 * H)
    mk.rule(t, "task_overdue", "Brand new", created_at=AS_OF - H)                     # too young to judge
    mk.rule(t, "task_overdue", "Switched off", active=False, created_at=AS_OF - 72 * H)
    res = run(JOB, AS_OF)["results"]
    assert {k: res[k] for k in ("total_executions", "successful_executions", "failed_executions",
                                "success_rate", "inactive_rules")} == {
        "total_executions": 96, "successful_executions": 78, "failed_executions": 18,
        "success_rate": 81.25, "inactive_rules": ["Stale"]}
    assert res["degraded_rules"] == [{"rule_id": str(below), "rule_name": "Just below", "failure_rate": 20.99,
                                      "tenant_id": str(t)}]
    assert (res["critical"], res["warning"], res["info"]) == (1, 1, 1)
    assert res["notificationsQueued"] == 2 and res["recordsUpdated"] == 2
    rows = sql("SELECT recipient, payload FROM notifications WHERE template = 'automation_health' ORDER BY 1")
    assert [r for r, _ in rows] == ["admin1@example.com", "admin2@example.com"]
    payload = rows[0][1]
    assert payload["severity"] == "CRITICAL"
    assert [f["level"] for f in payload["findings"]] == ["CRITICAL", "WARNING", "INFO"]
    assert payload["findings"][0]["message"].startswith('Rule "Just below": success rate 79.01% over 81 executions')
    assert "Stale" in payload["findings"][1]["message"]
    assert payload["findings"][2]["message"].startswith("Overall automation success rate 81.25%")
    m = pymodules.channels().render("automation_health", payload)
    assert m["subject"] == "[CRITICAL] bgjobs: automation health check"
    assert "success_rate: 81.25" in m["text"]
    # the same day again: nothing new queued
    assert run(JOB, AS_OF + H)["results"]["notificationsQueued"] == 0
    assert sql("SELECT count(*) FROM notifications") == [(2,)]


def test_degraded_but_not_critical_and_info_edge(sql, mk, run):
    t = mk.tenant()
    mk.user(t, email="admin@example.com", role="admin")
    r = mk.rule(t, "task_overdue", "Mixed")
    # 100 runs: 80 success, 19 failed, 1 with another status -> success 80 % (not critical),
    # failures 19 % (not degraded); overall 80 % < 95 %: INFO only
    logs(sql, t, r, 80, 19)
    sql("INSERT INTO automation_logs (tenant_id, rule_id, status, executed_at) VALUES (%s, %s, 'skipped', %s)",
        t, r, AS_OF - H)
    res = run(JOB, AS_OF)["results"]
    assert res["degraded_rules"] == [] and (res["critical"], res["warning"], res["info"]) == (0, 0, 1)
    payload = sql("SELECT payload FROM notifications")[0][0]
    assert payload["severity"] == "INFO"


def test_overall_95_percent_edge_and_quiet_tenants(sql, mk, run):
    fine, quiet, other = mk.tenant(), mk.tenant(), mk.tenant()
    for t in (fine, quiet, other):
        mk.user(t, role="admin")
    r = mk.rule(fine, "task_overdue")
    logs(sql, fine, r, 19, 1)                                # exactly 95 %: no INFO, 5 % failures: fine
    r2 = mk.rule(other, "task_overdue", created_at=AS_OF - H)        # new, never ran: not judged yet
    logs(sql, other, r2, 0, 0)
    res = run(JOB, AS_OF)["results"]
    assert res["success_rate"] == 95.0 and res["tenantsWithFindings"] == 0
    assert sql("SELECT count(*) FROM notifications") == [(0,)]


def test_nothing_ran(sql, mk, run):
    t = mk.tenant()
    mk.user(t, role="admin")
    res = run(JOB, AS_OF)["results"]
    assert res == {"total_executions": 0, "successful_executions": 0, "failed_executions": 0, "success_rate": 100,
                   "inactive_rules": [], "degraded_rules": [], "tenantsChecked": 1, "tenantsWithFindings": 0,
                   "critical": 0, "warning": 0, "info": 0, "notificationsQueued": 0, "recordsUpdated": 0}
