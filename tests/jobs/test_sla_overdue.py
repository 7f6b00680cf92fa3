"""check-sla-and-overdue: overdue and SLA rules and their edges, once per overdue episode,
automation rules (one automation_logs row per rule execution), audit_log, idempotency."""

from datetime import datetime, timedelta, timezone

JOB = "check-sla-and-overdue"
T = datetime(2026, 3, 8, 12, 0, tzinfo=timezone.utc)
H = timedelta(hours=1)


def flags(sql, task):
    """(overdue, SLA violated) as the job flagged them in bgjobs_app.task_flags (the task row
    itself is never written)."""
    return sql("SELECT f.overdue_since IS NOT NULL, f.sla_violated_at IS NOT NULL FROM tasks t "
               "LEFT JOIN bgjobs_app.task_flags f ON f.tenant_id = t.tenant_id AND f.task_id = t.id "
               "WHERE t.id = %s", task)[0]


def test_overdue_and_sla_rules_and_edges(sql, mk, run):
    t = mk.tenant()
    due_now = mk.task(t, T)                                            # due exactly now: not overdue
    one_sec = mk.task(t, T - timedelta(seconds=1))                     # overdue, within SLA (72 h)
    in_progress = mk.task(t, T - H, status="In Progress")
    crit_edge = mk.task(t, T - 4 * H, priority="Critical")             # exactly at the SLA: not violated
    crit_past = mk.task(t, T - 4 * H - timedelta(seconds=1), priority="Critical")
    high = mk.task(t, T - 25 * H, priority="High")
    low = mk.task(t, T - 167 * H, priority="Low")
    completed = mk.task(t, T - 500 * H, status="Completed")
    cancelled = mk.task(t, T - 500 * H, status="Cancelled")
    no_due = mk.task(t, None)
    future = mk.task(t, T + H)
    resp = run(JOB, T)["results"]
    assert resp == {"overdueTasks": 6, "slaViolations": 2, "rulesTriggered": 0, "recordsUpdated": 6}
    assert flags(sql, due_now) == (False, False)
    assert flags(sql, one_sec) == (True, False)
    assert flags(sql, in_progress) == (True, False)
    assert flags(sql, crit_edge) == (True, False)
    assert flags(sql, crit_past) == (True, True)
    assert flags(sql, high) == (True, True)
    assert flags(sql, low) == (True, False)
    for task in (completed, cancelled, no_due, future):
        assert flags(sql, task) == (False, False)
    assert sql("SELECT overdue_since, sla_violated_at FROM bgjobs_app.task_flags WHERE task_id = %s", crit_past) == [(T, T)]
    # violations are audited, one row per task
    audited = sql("SELECT entity_id, details->>'priority', (details->>'sla_hours')::numeric FROM audit_log "
                  "WHERE action_type = 'sla_violation' ORDER BY 2")
    assert audited == [(crit_past, "Critical", 4), (high, "High", 24)]
    assert sql("SELECT tenant_id FROM audit_log WHERE action_type = 'sla_violation'") == [(t,), (t,)]


def test_once_per_episode_and_again_after_reopening(sql, mk, run):
    t = mk.tenant()
    user = mk.user(t)
    rule = mk.rule(t, "task_overdue", "Escalate overdue", actions=[{"type": "notify", "to": "assignee"}])
    task = mk.task(t, T - H, assigned=user)
    assert run(JOB, T)["results"]["overdueTasks"] == 1
    for k in range(1, 5):                         # later ticks: nothing new
        assert run(JOB, T + k * 15 * timedelta(minutes=1))["results"] == \
            {"overdueTasks": 0, "slaViolations": 0, "rulesTriggered": 0, "recordsUpdated": 0}
    assert sql("SELECT count(*) FROM automation_logs WHERE rule_id = %s", rule) == [(1,)]
    # moving the due date to another past moment keeps the episode
    sql("UPDATE tasks SET due_date = due_date - interval '1 day' WHERE id = %s", task)
    assert flags(sql, task) == (True, False)
    assert run(JOB, T + 2 * H)["results"]["overdueTasks"] == 0
    # completed: the episode ends at the next tick; reopened while still past due: a new episode
    sql("UPDATE tasks SET status = 'Completed' WHERE id = %s", task)
    assert run(JOB, T + 3 * H)["results"]["overdueTasks"] == 0
    assert flags(sql, task) == (False, False)
    sql("UPDATE tasks SET status = 'Open' WHERE id = %s", task)
    assert run(JOB, T + 4 * H)["results"]["overdueTasks"] == 1
    assert sql("SELECT count(*) FROM automation_logs WHERE rule_id = %s", rule) == [(2,)]
    assert sql("SELECT count(*) FROM notifications WHERE template = 'automation_notification'") == [(2,)]
    # due date moved into the future: the episode ends; overdue again once it passes (a
    # tick in between or not: the due date is now after the moment the episode began)
    sql("UPDATE tasks SET due_date = now() + interval '1 hour' WHERE id = %s", task)
    assert run(JOB, datetime.now(timezone.utc))["results"]["overdueTasks"] == 0
    assert flags(sql, task) == (False, False)
    assert run(JOB, datetime.now(timezone.utc) + 2 * H)["results"]["overdueTasks"] == 1
    sql("UPDATE tasks SET due_date = now() + interval '3 hour' WHERE id = %s", task)
    assert run(JOB, datetime.now(timezone.utc) + 4 * H)["results"]["overdueTasks"] == 1
    assert sql("SELECT count(*) FROM automation_logs WHERE rule_id = %s", rule) == [(4,)]


def test_automation_rules_run_once_per_rule_and_event(sql, mk, run):
    t, other = mk.tenant(), mk.tenant()
    owner, advocate, admin = mk.user(t), mk.user(t), mk.user(t, role="admin", email="boss@example.com")
    case = mk.case(t, owner=owner, assigned=advocate)
    r_notify = mk.rule(t, "task_overdue", "Notify assignee and owner",
                       actions=[{"type": "notify", "to": "assignee"}, {"type": "notify", "to": "case_owner"}])
    r_escalate = mk.rule(t, "task_overdue", "Escalate", actions=[{"type": "escalate"}])
    r_bad = mk.rule(t, "sla_violation", "Call the partner", actions=[{"type": "phone_call"},
                                                                      {"type": "notify", "to": "admins"}])
    mk.rule(t, "task_overdue", "Inactive", actions=[{"type": "escalate"}], active=False)
    mk.rule(other, "task_overdue", "Other tenant's rule", actions=[{"type": "escalate"}])
    mk.rule(t, "deadline_approaching", "Not this event")
    a = mk.task(t, T - H, priority="Low", assigned=advocate, case=case)          # overdue only
    b = mk.task(t, T - 30 * H, priority="High", case=case)                       # overdue + SLA, unassigned
    resp = run(JOB, T)["results"]
    # a: 2 rules; b: 2 rules for task_overdue + 1 for sla_violation
    assert resp == {"overdueTasks": 2, "slaViolations": 1, "rulesTriggered": 5, "recordsUpdated": 2}
    logs = sql("SELECT l.rule_id, e.entity_id, l.trigger_event, l.status, l.error_message, l.executed_at "
               "FROM automation_logs l JOIN bgjobs_app.automation_events e ON e.log_id = l.id ORDER BY 1, 2")
    assert sorted((r, e, s) for r, e, _, s, _, _ in logs) == sorted([
        (r_notify, a, "success"), (r_notify, b, "success"), (r_escalate, a, "success"),
        (r_escalate, b, "success"), (r_bad, b, "failed")])
    bad = [row for row in logs if row[0] == r_bad][0]
    assert bad[4] == 'unsupported action type "phone_call"' and bad[5] == T
    data = sql("SELECT event_data FROM bgjobs_app.automation_events WHERE rule_id = %s AND entity_id = %s",
               r_notify, a)[0][0]
    assert data == {"task_id": str(a), "case_id": str(case), "priority": "Low", "days_overdue": 0}
    # escalate raised each task one step
    assert sql("SELECT priority FROM tasks WHERE id = %s", a) == [("Medium",)]
    assert sql("SELECT priority FROM tasks WHERE id = %s", b) == [("Critical",)]
    # notify: a -> assignee (advocate) and owner; b (unassigned) -> the case's advocate and owner;
    # the failed rule's notify to admins still ran
    got = sorted(sql("SELECT recipient, payload->>'title' FROM notifications WHERE template = 'automation_notification'"))
    emails = dict(sql("SELECT id, email FROM users"))
    ta, tb = (sql("SELECT title FROM tasks WHERE id = %s", x)[0][0] for x in (a, b))
    assert got == sorted([(emails[advocate], ta), (emails[owner], ta), (emails[advocate], tb),
                          (emails[owner], tb), ("boss@example.com", tb)])
    assert admin


def test_two_runs_at_the_same_moment_change_nothing_the_second_time(sql, mk, run):
    t = mk.tenant()
    mk.rule(t, "task_overdue", actions=[{"type": "notify", "to": "admins"}])
    mk.user(t, role="admin")
    for i in range(20):
        mk.task(t, T - i * 5 * H, priority=["Critical", "High", "Medium", "Low"][i % 4])
    first = run(JOB, T)["results"]
    snapshot = lambda: (sql("SELECT * FROM tasks ORDER BY id"), sql("SELECT count(*) FROM automation_logs"),
                        sql("SELECT count(*) FROM notifications"),
                        sql("SELECT count(*) FROM audit_log WHERE action_type = 'sla_violation'"))
    before = snapshot()
    second = run(JOB, T)["results"]
    assert first["overdueTasks"] == 19 and first["slaViolations"] > 0
    assert second == {"overdueTasks": 0, "slaViolations": 0, "rulesTriggered": 0, "recordsUpdated": 0}
    assert snapshot() == before
    assert sql("SELECT records_updated FROM jobs_log WHERE job_name = %s ORDER BY started_at", JOB) == [(19,), (0,)]


def test_sla_hours_come_from_settings(sql, mk, run):
    t = mk.tenant()
    task = mk.task(t, T - 2 * H, priority="Medium")
    assert run(JOB, T)["results"]["slaViolations"] == 0
    sql("UPDATE app_settings SET value = '1' WHERE key = 'sla_hours_medium'")
    assert run(JOB, T)["results"]["slaViolations"] == 1
    assert flags(sql, task) == (True, True)


def test_tenant_filter_and_replay(sql, mk):
    t1, t2 = mk.tenant(tz="Asia/Kolkata"), mk.tenant(tz="America/New_York")
    a, b = mk.task(t1, T - H), mk.task(t2, T - H)
    res = sql("SELECT bgjobs_app.job_check_sla_and_overdue(%s, %s)", T, [t1])[0][0]
    assert res["overdueTasks"] == 1 and flags(sql, a) == (True, False) and flags(sql, b) == (False, False)
    # replay as of an earlier moment: nothing was due then
    res = sql("SELECT bgjobs_app.job_check_sla_and_overdue(%s, NULL)", T - 2 * H)[0][0]
    assert res["overdueTasks"] == 0 and flags(sql, b) == (False, False)
    res = sql("SELECT bgjobs_app.job_check_sla_and_overdue(%s, NULL)", T)[0][0]
    assert res["overdueTasks"] == 1 and flags(sql, b) == (True, False)


def test_failure_rolls_back_the_tick(sql, mk, run):
    t = mk.tenant()
    task = mk.task(t, T - H)
    sql("REVOKE INSERT ON bgjobs_app.task_flags FROM bgjobs_runner")       # the tick fails part-way
    resp = run(JOB, T, ok=False)
    assert not resp["success"] and "permission denied for table task_flags" in resp["error"]
    assert flags(sql, task) == (False, False)
    assert sql("SELECT status FROM jobs_log WHERE job_name = %s", JOB) == [("failed",)]
