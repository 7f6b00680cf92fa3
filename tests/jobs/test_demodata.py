"""The demo data loader: realistic coverage, determinism, idempotency, and every job
running on it."""

from datetime import datetime, timezone

from bgjobs import demodata

AS_OF = datetime(2026, 3, 8, 6, 0, tzinfo=timezone.utc)
JOBS = ["check-sla-and-overdue", "send-hearing-reminders", "check-upcoming-deadlines",
        "automation-health-check", "analytics-snapshot", "update-installment-statuses"]


def test_load_covers_every_status_priority_and_zone(conn, sql):
    counts = demodata.load(conn, tenants=5, tasks_per_tenant=60, seed=7, as_of=AS_OF)
    assert counts["loaded"] and counts["tenants"] == 5 and counts["tasks"] == 300
    assert counts["installments"] == 300
    assert {r[0] for r in sql("SELECT status FROM tasks")} == {"Open", "In Progress", "Completed", "Cancelled"}
    assert {r[0] for r in sql("SELECT priority FROM tasks")} == {"Critical", "High", "Medium", "Low"}
    assert {r[0] for r in sql("SELECT timezone FROM tenants")} >= {"Asia/Kolkata", "America/New_York",
                                                                   "America/Los_Angeles", "Pacific/Kiritimati"}
    assert sql("SELECT count(*) FROM tenants t WHERE NOT EXISTS "
               "(SELECT 1 FROM users u WHERE u.tenant_id = t.id AND u.role = 'admin')") == [(0,)]
    assert sql("SELECT count(*) > 0 FROM tasks WHERE status IN ('Open', 'In Progress') AND due_date < %s", AS_OF) == [(True,)]
    assert sql("SELECT count(*) > 0 FROM tasks WHERE status IN ('Open', 'In Progress') "
               "AND due_date BETWEEN %s AND %s + interval '24 hours'", AS_OF, AS_OF) == [(True,)]
    assert {r[0] for r in sql("SELECT status FROM installments")} == {"pending", "paid", "cancelled"}
    assert {r[0] for r in sql("SELECT status FROM hearings")} == {"Scheduled", "Attended", "Adjourned", "Cancelled"}
    # a hearing today and one tomorrow in each tenant's own zone
    assert sql("""SELECT count(DISTINCT h.tenant_id) FROM hearings h JOIN tenants t ON t.id = h.tenant_id
                  WHERE h.status = 'Scheduled'
                    AND (h.hearing_date AT TIME ZONE t.timezone)::date = (%s::timestamptz AT TIME ZONE t.timezone)::date + 1""",
               AS_OF) == [(5,)]
    # idempotent: a second load adds nothing
    assert demodata.load(conn, tenants=5, tasks_per_tenant=60, seed=7, as_of=AS_OF) == {"loaded": False}
    assert sql("SELECT count(*) FROM tasks") == [(300,)]


def test_every_job_does_something_on_demo_data(conn, run):
    demodata.load(conn, tenants=4, tasks_per_tenant=80, seed=3, as_of=AS_OF)
    for job in JOBS:
        res = run(job, AS_OF)["results"]
        assert res["recordsUpdated"] > 0, (job, res)
    res = run("automation-health-check", AS_OF + (AS_OF - AS_OF))["results"]
    assert "SMS the client on overdue task" in [d["rule_name"] for d in res["degraded_rules"]]
    assert "Weekly case review" in res["inactive_rules"]


def test_benchmark_shape_recent_overdue_and_preflag(conn, sql, run):
    demodata.load(conn, tenants=10, tasks_per_tenant=200, seed=5, as_of=AS_OF, recent_overdue_pct=4, preflag=True,
                  rules=False)
    recent = sql("SELECT count(*) FROM tasks t WHERE status IN ('Open', 'In Progress') AND due_date < %s "
                 "AND NOT EXISTS (SELECT FROM bgjobs_app.task_flags f WHERE f.tenant_id = t.tenant_id AND f.task_id = t.id)",
                 AS_OF)[0][0]
    assert 40 <= recent <= 130          # about 4 % of 2,000
    res = run("check-sla-and-overdue", AS_OF)["results"]
    assert res["overdueTasks"] == recent
