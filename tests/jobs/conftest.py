"""Fixtures for the business-job tests: a small factory that inserts tenants, users,
cases, tasks, hearings, rules, plans and installments with explicit values, and helpers
to run jobs (manually through run_job, or as pg_cron's tick through run_scheduled_job)."""

from __future__ import annotations

import json

import pytest
from psycopg.types.json import Jsonb


class Factory:
    def __init__(self, conn):
        self.conn = conn
        self.n = 0

    def _one(self, query, params):
        return self.conn.execute(query, params).fetchone()[0]

    def _next(self):
        self.n += 1
        return self.n

    def tenant(self, name=None, tz="UTC", whatsapp=False):
        return self._one("INSERT INTO tenants (name, timezone, whatsapp_enabled) VALUES (%s, %s, %s) RETURNING id",
                         (name or f"tenant {self._next()}", tz, whatsapp))

    def user(self, tenant, email=None, role="member", phone=None, name=None, active=True):
        n = self._next()
        return self._one("INSERT INTO users (tenant_id, email, full_name, role, phone, is_active) "
                         "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                         (tenant, email or f"user{n}@example.com", name or f"User {n}", role, phone, active))

    def court(self, name="GSTAT Ahmedabad", city="Ahmedabad"):
        return self._one("INSERT INTO courts (name, city) VALUES (%s, %s) RETURNING id", (name, city))

    def case(self, tenant, owner=None, assigned=None, number=None, title="GST Appeal", status="Active"):
        return self._one("INSERT INTO cases (tenant_id, case_number, title, status, owner_id, assigned_to) "
                         "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                         (tenant, number or f"CASE-{self._next()}", title, status, owner, assigned))

    def task(self, tenant, due, status="Open", priority="Medium", assigned=None, case=None, title=None,
             completed_at=None):
        return self._one("INSERT INTO tasks (tenant_id, case_id, title, due_date, status, priority, assigned_to, "
                         "completed_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                         (tenant, case, title or f"task {self._next()}", due, status, priority, assigned,
                          completed_at))

    def hearing(self, tenant, case, at, court=None, status="Scheduled"):
        return self._one("INSERT INTO hearings (tenant_id, case_id, court_id, hearing_date, status) "
                         "VALUES (%s, %s, %s, %s, %s) RETURNING id", (tenant, case, court, at, status))

    def document(self, tenant, case=None):
        return self._one("INSERT INTO documents (tenant_id, case_id) VALUES (%s, %s) RETURNING id", (tenant, case))

    def rule(self, tenant, event, name=None, actions=(), active=True, created_at="2000-01-01"):
        return self._one("INSERT INTO automation_rules (tenant_id, rule_name, trigger_event, is_active, actions, "
                         "created_at) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                         (tenant, name or f"rule {self._next()}", event, active, Jsonb(list(actions)), created_at))

    def log(self, tenant, rule, at, status="success", name=None, event="task_overdue"):
        return self._one("INSERT INTO automation_logs (tenant_id, rule_id, rule_name, trigger_event, status, "
                         "executed_at) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                         (tenant, rule, name, event, status, at))

    def plan(self, tenant):
        return self._one("INSERT INTO payment_plans (tenant_id) VALUES (%s) RETURNING id", (tenant,))

    def installment(self, plan, due, status="pending", amount=100):
        return self._one("INSERT INTO installments (payment_plan_id, amount, student_due_date, status) "
                         "VALUES (%s, %s, %s, %s) RETURNING id", (plan, amount, due, status))


@pytest.fixture
def mk(conn):
    return Factory(conn)


@pytest.fixture
def run(conn):
    """run(job, as_of) -> the run_job response (dict); fails the test if the job failed."""
    conn.execute("SET bgjobs.allow_future_as_of = on")   # replays moments ahead of the clock

    def go(job, as_of=None, ok=True):
        if as_of is None:
            resp = conn.execute("SELECT run_job(%s)", (job,)).fetchone()[0]
        else:
            resp = conn.execute("SELECT run_job(%s, %s::timestamptz)", (job, as_of)).fetchone()[0]
        if ok:
            assert resp["success"], json.dumps(resp, indent=1)
        return resp
    return go


@pytest.fixture
def tick(conn):
    """tick(job, as_of): what pg_cron does; returns the jobs_log rows it wrote."""
    def go(job, as_of):
        before = conn.execute("SELECT count(*) FROM jobs_log").fetchone()[0]
        conn.execute("CALL bgjobs.run_scheduled_job(%s, %s::timestamptz)", (job, as_of))
        rows = conn.execute("SELECT status, records_updated, results, error_message FROM jobs_log "
                            "ORDER BY started_at OFFSET %s", (before,)).fetchall()
        for status, _, _, err in rows:
            assert status == "success", err
        return rows
    return go
