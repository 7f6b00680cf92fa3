"""bgjobs installed into an application's existing database (CONTRACT section 5, issue 9
item 3).  The application's schema comes from its own yoyo migration (tests/fixtures/
app_schema.sql: exactly the contract's minimum columns), with rows and grants of its own
and its own yoyo history in public.  Install adopts the tables as they are, every job runs,
uninstall leaves the application's tables, rows, grants and history as they were, apart
from what the jobs legitimately wrote (decided here: the jobs' business effect stays, so
installments made overdue stay 'overdue', and the automation_logs and analytics_snapshots
rows the jobs wrote stay: they are the application's records)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest
from bgjobs.apptables import MINIMUM
from bgjobs.db import yoyo_uri
from yoyo import get_backend, read_migrations

FIXTURE = Path(__file__).parent / "fixtures" / "app_schema.sql"
AS_OF = datetime(2026, 3, 9, 12, 0, tzinfo=timezone.utc)
APP_TABLES = list(MINIMUM)
APP_ROLE = "app_rw"


def bgjobs(*args):
    return subprocess.run([sys.executable, "-m", "bgjobs", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=300)


def app_migrate(dsn: str, tmp_path: Path) -> None:
    """The application's own yoyo migration, with its history in public (yoyo's default)."""
    d = tmp_path / "app_migrations"
    d.mkdir()
    (d / "0001.app_schema.sql").write_text(FIXTURE.read_text())
    with psycopg.connect(dsn, autocommit=True) as c:
        uri = yoyo_uri(c).replace("schema=bgjobs", "schema=public")
    backend = get_backend(uri)
    try:
        with backend.lock():
            backend.apply_migrations(backend.to_apply(read_migrations(str(d))))
    finally:
        backend.connection.close()


def app_rows(c) -> dict[str, str]:
    """The application's rows, by name (ids are random)."""
    ids = {}
    q = lambda s, *a: c.execute(s, a).fetchone()[0]
    ids["A"] = q("INSERT INTO tenants (name) VALUES ('Shah & Co') RETURNING id")
    ids["B"] = q("INSERT INTO tenants (name, timezone) VALUES ('Mehta Legal', 'Asia/Kolkata') RETURNING id")
    ids["u1"] = q("INSERT INTO users (tenant_id, email, full_name) VALUES (%s, 'owner@a.example', 'Owner A') "
                  "RETURNING id", ids["A"])
    ids["u2"] = q("INSERT INTO users (tenant_id, email, full_name) VALUES (%s, 'adv@a.example', 'Advocate A') "
                  "RETURNING id", ids["A"])
    ids["u3"] = q("INSERT INTO users (tenant_id, email, full_name) VALUES (%s, 'owner@b.example', 'Owner B') "
                  "RETURNING id", ids["B"])
    ids["court"] = q("INSERT INTO courts (name, city) VALUES ('GSTAT Ahmedabad', 'Ahmedabad') RETURNING id")
    ids["c1"] = q("INSERT INTO cases (tenant_id, case_number, title, owner_id, assigned_to) "
                  "VALUES (%s, 'GST/1', 'Appeal', %s, %s) RETURNING id", ids["A"], ids["u1"], ids["u2"])
    ids["c2"] = q("INSERT INTO cases (tenant_id, case_number, title, owner_id) VALUES (%s, 'GST/2', 'Refund', %s) "
                  "RETURNING id", ids["B"], ids["u3"])
    ids["h1"] = q("INSERT INTO hearings (tenant_id, case_id, court_id, hearing_date) "
                  "VALUES (%s, %s, %s, %s::timestamptz + interval '3 hours') RETURNING id",
                  ids["A"], ids["c1"], ids["court"], AS_OF)
    q("INSERT INTO hearings (tenant_id, case_id, hearing_date, status) "
      "VALUES (%s, %s, %s::timestamptz - interval '5 days', 'Attended') RETURNING id", ids["B"], ids["c2"], AS_OF)
    task = ("INSERT INTO tasks (tenant_id, case_id, title, due_date, status, priority, assigned_to) "
            "VALUES (%s, %s, %s, %s::timestamptz + %s::interval, %s, %s, %s) RETURNING id")
    ids["t1"] = q(task, ids["A"], ids["c1"], "File reply", AS_OF, "-1 hour", "Open", "Medium", ids["u2"])
    ids["t2"] = q(task, ids["A"], ids["c1"], "Pay pre-deposit", AS_OF, "-30 hours", "In Progress", "High", None)
    ids["t3"] = q(task, ids["A"], ids["c1"], "Brief counsel", AS_OF, "5 hours", "Open", "Low", None)
    ids["t4"] = q(task, ids["A"], ids["c1"], "Collect documents", AS_OF, "-3 days", "Completed", "Medium", ids["u2"])
    ids["t5"] = q(task, ids["B"], ids["c2"], "Draft refund", AS_OF, "-2 hours", "Open", "Low", ids["u3"])
    q("INSERT INTO documents (tenant_id, case_id, created_at) VALUES (%s, %s, %s) RETURNING id",
      ids["A"], ids["c1"], AS_OF)
    ids["rule"] = q("INSERT INTO automation_rules (tenant_id, rule_name, trigger_event) "
                    "VALUES (%s, 'Overdue alert', 'task_overdue') RETURNING id", ids["A"])
    q("INSERT INTO automation_logs (tenant_id, rule_id, rule_name, trigger_event, status, actions_executed, executed_at) "
      "VALUES (%s, %s, 'Overdue alert', 'task_overdue', 'success', '[]', %s::timestamptz - interval '1 day') "
      "RETURNING id", ids["A"], ids["rule"], AS_OF)
    q("INSERT INTO analytics_snapshots (tenant_id, metric_type, snapshot_date, metric_value) "
      "VALUES (%s, 'weekly_revenue', '2026-03-08', '{\"total\": 1200}') RETURNING id", ids["A"])
    ids["p1"] = q("INSERT INTO payment_plans (tenant_id) VALUES (%s) RETURNING id", ids["A"])
    ids["p2"] = q("INSERT INTO payment_plans (tenant_id) VALUES (%s) RETURNING id", ids["B"])
    inst = ("INSERT INTO installments (payment_plan_id, amount, student_due_date, status) "
            "VALUES (%s, %s, %s, %s) RETURNING id")
    ids["i1"] = q(inst, ids["p1"], 500, "2026-03-01", "pending")     # past due: becomes overdue
    ids["i2"] = q(inst, ids["p1"], 500, "2026-04-01", "pending")     # not yet due
    ids["i3"] = q(inst, ids["p1"], 500, "2026-02-01", "paid")
    ids["i4"] = q(inst, ids["p2"], 750, "2026-03-08", "pending")     # Kolkata's 9 March: overdue
    return ids


def data(c) -> dict[str, list[str]]:
    """Every row of every application table and of the application's yoyo history."""
    out = {}
    for t in APP_TABLES + ["_yoyo_migration", "_yoyo_version"]:
        out[t] = sorted(r[0] for r in c.execute(f"SELECT to_jsonb(x)::text FROM public.{t} x").fetchall())
    out["_yoyo_log"] = sorted(r[0] for r in c.execute(
        "SELECT to_jsonb(x)::text FROM public._yoyo_log x").fetchall())
    return out


def structure(c) -> dict[str, list]:
    """Columns, constraints, indexes, triggers and grants of the application's tables, and the
    yoyo tables in public."""
    q = lambda s: sorted(c.execute(s, (APP_TABLES,)).fetchall())
    return {
        "columns": q("SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
                     "pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                     "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
                     "WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY(%s) "
                     "AND a.attnum > 0 AND NOT a.attisdropped"),
        "constraints": q("SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                         "WHERE conrelid::regclass::text = ANY(%s)"),
        "indexes": q("SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = ANY(%s)"),
        "triggers": q("SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE NOT tgisinternal "
                      "AND tgrelid::regclass::text = ANY(%s)"),
        "grants": q("SELECT c.relname, coalesce(c.relacl::text, '') FROM pg_class c "
                    "WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY(%s)"),
        "reloptions": q("SELECT c.relname, coalesce(c.reloptions::text, '') FROM pg_class c "
                        "WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY(%s)"),
        "yoyo": sorted(c.execute("SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace "
                                 "AND relkind = 'r' AND (relname LIKE '%yoyo%')").fetchall()),
    }


@pytest.fixture
def app_db(new_db, pg_server, tmp_path):
    name = new_db()
    dsn = pg_server.dsn(name)
    with pg_server.admin() as c:
        if not c.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,)).fetchone():
            c.execute(f"CREATE ROLE {APP_ROLE} NOLOGIN")
    app_migrate(dsn, tmp_path)
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute(f"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO {APP_ROLE}")
        ids = app_rows(c)
    return dsn, ids


def test_install_run_every_job_uninstall_keeps_the_application(app_db):
    dsn, ids = app_db
    with psycopg.connect(dsn, autocommit=True) as c:
        before, shape = data(c), structure(c)
        assert before["_yoyo_migration"] and "0001.app_schema" in before["_yoyo_migration"][0]

    # --dry-run names every change to the application's tables, and makes none
    dry = bgjobs("install", "--dsn", dsn, "--no-schedule", "--dry-run")
    assert dry.returncode == 0, dry.stderr + dry.stdout
    out = dry.stdout
    assert "application tables found: " + ", ".join(APP_TABLES) in out
    assert "0002.business_tables is marked applied, not run" in out
    for t in APP_TABLES:
        assert f"change to application table {t}: GRANT " in out, t
    assert "change to application table tasks: GRANT SELECT, UPDATE TO bgjobs_runner" in out
    assert "no trigger on application table installments: installments_set_tenant" in out
    assert "no trigger on application table tasks: tasks_sla_feed_* (nor the index tasks_open_due_date_idx) " \
           "is added only to a table bgjobs creates; without this change feed every check-sla-and-overdue " \
           "tick is a full pass" in out
    assert "no column, index or trigger is added to any application table" in out
    with psycopg.connect(dsn, autocommit=True) as c:
        assert data(c) == before and structure(c) == shape
        assert c.execute("SELECT to_regnamespace('bgjobs')").fetchone()[0] is None

    inst = bgjobs("install", "--dsn", dsn, "--no-schedule")
    assert inst.returncode == 0, inst.stderr + inst.stdout
    assert "adopted the application's tables: 0002.business_tables marked applied, not run" in inst.stdout
    with psycopg.connect(dsn, autocommit=True) as c:
        assert data(c) == before                               # install wrote no application row
        now = structure(c)
        assert {k: v for k, v in now.items() if k != "grants"} == {k: v for k, v in shape.items() if k != "grants"}
        assert c.execute("SELECT count(*), min(origin), max(origin) FROM bgjobs.app_tables").fetchone() == \
            (len(APP_TABLES), "adopted", "adopted")
        assert c.execute("SELECT migration_id FROM public._yoyo_migration").fetchall() == [("0001.app_schema",)]
        assert "0002.business_tables" in {r[0] for r in c.execute(
            "SELECT migration_id FROM bgjobs._yoyo_migration").fetchall()}

        # every enabled job, as of one moment
        c.execute("SET bgjobs.allow_future_as_of = on")
        jobs = [r[0] for r in c.execute(
            "SELECT job_name FROM bgjobs.job_registry WHERE enabled ORDER BY job_name").fetchall()]
        assert {"check-sla-and-overdue", "update-installment-statuses", "analytics-snapshot",
                "send-hearing-reminders", "check-upcoming-deadlines", "automation-health-check"} <= set(jobs)
        results = {}
        for job in jobs:
            resp = c.execute("SELECT run_job(%s, %s)", (job, AS_OF)).fetchone()[0]
            assert resp["success"] is True, (job, resp)
            results[job] = resp["results"]
        # a second tick at the same moment finds nothing new
        again = c.execute("SELECT run_job('check-sla-and-overdue', %s)", (AS_OF,)).fetchone()[0]["results"]

        sla = results["check-sla-and-overdue"]
        assert sla == {"overdueTasks": 3, "slaViolations": 1, "rulesTriggered": 2, "recordsUpdated": 3}
        assert again == {"overdueTasks": 0, "slaViolations": 0, "rulesTriggered": 0, "recordsUpdated": 0}
        # no change feed on the application's own tasks: a later tick is a full pass too
        later = c.execute("SELECT run_job('check-sla-and-overdue', %s)", (AS_OF + timedelta(minutes=15),)).fetchone()[0]
        assert later["results"]["overdueTasks"] == 0
        assert c.execute("SELECT last_pass, last_reason FROM bgjobs_app.sla_tick_state").fetchone() == \
            ("full", "no change feed")
        flagged = dict(c.execute("SELECT task_id, sla_violated_at IS NOT NULL FROM bgjobs_app.task_flags").fetchall())
        assert flagged == {ids["t1"]: False, ids["t2"]: True, ids["t5"]: False}
        assert results["update-installment-statuses"]["installmentsUpdated"] == 2
        assert dict(c.execute("SELECT id, status FROM installments").fetchall()) == {
            ids["i1"]: "overdue", ids["i2"]: "pending", ids["i3"]: "paid", ids["i4"]: "overdue"}
        assert results["analytics-snapshot"]["snapshotsWritten"] == 2
        snap = c.execute("SELECT metric_value FROM analytics_snapshots WHERE tenant_id = %s "
                         "AND metric_type = 'daily_snapshot'", (ids["A"],)).fetchall()
        assert len(snap) == 1 and snap[0][0]["overdue_tasks"] == 2 and snap[0][0]["case_count"] == 1
        assert results["send-hearing-reminders"]["emailsQueued"] == 2
        assert results["check-upcoming-deadlines"]["itemsFound"] == 2
        logs = c.execute("SELECT l.rule_id, e.entity_id, l.status FROM automation_logs l "
                         "JOIN bgjobs_app.automation_events e ON e.log_id = l.id").fetchall()
        assert sorted(logs) == sorted([(ids["rule"], ids["t1"], "success"), (ids["rule"], ids["t2"], "success")])
        after_jobs = data(c)

    un = bgjobs("uninstall", "--dsn", dsn, "--yes")
    assert un.returncode == 0, un.stderr + un.stdout
    assert "kept the application's own tables" in un.stdout
    with psycopg.connect(dsn, autocommit=True) as c:
        assert c.execute("SELECT to_regnamespace('bgjobs')").fetchone()[0] is None
        assert structure(c) == shape                           # columns, indexes, triggers, grants, yoyo tables
        after = data(c)
    assert after == after_jobs                                 # uninstall removed no application row
    for t in APP_TABLES:
        if t == "installments":
            continue
        assert set(before[t]) <= set(after[t]), t              # every application row is still there
    added = {t: len(after[t]) - len(before[t]) for t in APP_TABLES if len(after[t]) != len(before[t])}
    # what the jobs wrote: one log row per rule execution, one daily snapshot per tenant
    assert added == {"automation_logs": 2, "analytics_snapshots": 2}
    # installments: the same rows; the jobs' business effect (pending -> overdue) stays
    changed = set(before["installments"]) ^ set(after["installments"])
    assert len(changed) == 4 and all(str(ids["i1"]) in r or str(ids["i4"]) in r for r in changed)
    for t in ("_yoyo_migration", "_yoyo_version", "_yoyo_log"):
        assert after[t] == before[t], t                        # the application's yoyo history


def test_a_table_without_a_minimum_column_is_named_and_nothing_changes(app_db):
    dsn, _ = app_db
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("ALTER TABLE tasks DROP COLUMN priority")
        before, shape = data(c), structure(c)
    proc = bgjobs("install", "--dsn", dsn, "--no-schedule")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "application table tasks has no column priority" in lines[0], proc.stderr
    with psycopg.connect(dsn, autocommit=True) as c:
        assert c.execute("SELECT to_regnamespace('bgjobs')").fetchone()[0] is None
        assert data(c) == before and structure(c) == shape


def test_an_incompatible_type_and_a_missing_table_are_named(app_db):
    dsn, _ = app_db
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("ALTER TABLE installments ALTER COLUMN student_due_date TYPE text")
    proc = bgjobs("install", "--dsn", dsn, "--no-schedule", "--dry-run")
    assert proc.returncode != 0
    assert "application table installments: column student_due_date is text, bgjobs needs date" in proc.stderr
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("ALTER TABLE installments ALTER COLUMN student_due_date TYPE date USING student_due_date::date")
        c.execute("DROP TABLE documents")
    proc = bgjobs("install", "--dsn", dsn, "--no-schedule")
    assert proc.returncode != 0
    assert "but not documents" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    with psycopg.connect(dsn, autocommit=True) as c:
        assert c.execute("SELECT to_regnamespace('bgjobs')").fetchone()[0] is None
