"""Least privilege: roles, grants, pinned search_path, secrets."""

from __future__ import annotations

import uuid

import psycopg
import pytest

OURS = """
    SELECT p.oid::regprocedure::text, p.prosecdef, p.proconfig, p.proacl
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname IN ('bgjobs', 'bgjobs_app')
        OR (n.nspname = 'public' AND p.proname IN ('run_job', 'set_secret', 'update_job_heartbeat'))
"""


def test_every_function_pins_search_path_and_definers_put_pg_temp_last(sql):
    rows = sql(OURS)
    assert len(rows) > 15
    for sig, secdef, config, _ in rows:
        paths = [c for c in (config or []) if c.startswith("search_path=")]
        if sig.startswith("bgjobs.run_scheduled_job"):
            continue   # a procedure that COMMITs may not have SET; it only calls qualified functions
        assert paths, f"{sig} has no pinned search_path"
        if secdef:
            assert paths[0].rstrip().endswith("pg_temp"), f"{sig}: pg_temp must come last ({paths[0]})"


def test_public_cannot_execute_anything_of_ours(sql):
    for sig, _, _, acl in sql(OURS):
        assert acl is not None, f"{sig} still has the default EXECUTE for PUBLIC"
        assert not any(str(a).startswith("=") for a in acl), f"{sig}: PUBLIC may execute ({acl})"


@pytest.fixture
def login(sql, db):
    """login(role) -> a connection as a new login role granted that bgjobs role."""
    made = []

    def make(granted: str | None):
        name = f"u_{uuid.uuid4().hex[:8]}"
        sql(f"CREATE ROLE {name} LOGIN PASSWORD 'pw'")
        if granted:
            sql(f"GRANT {granted} TO {name}")
        made.append(name)
        c = psycopg.connect(db, user=name, password="pw", autocommit=True)
        return c

    yield make
    for name in made:
        sql(f"DROP OWNED BY {name}")
        sql(f"DROP ROLE {name}")


def test_viewer_reads_monitoring_but_cannot_trigger_change_or_read_secrets(sql, login):
    sql("SELECT set_secret('SLACK_WEBHOOK_URL', 'https://hooks.example/T000/B000/very-secret')")
    sql("INSERT INTO notifications (channel, recipient, template, payload, dedupe_key) "
        "VALUES ('email', 'client@example.com', 'x', '{\"name\": \"A Client\"}', 'k1')")
    with login("bgjobs_viewer") as v:
        assert v.execute("SELECT count(*) FROM job_status").fetchone()[0] >= 9
        v.execute("SELECT * FROM healthcheck_summary").fetchone()
        v.execute("SELECT job_name, status FROM jobs_log").fetchall()
        v.execute("SELECT status, attempts FROM notifications").fetchall()
        for query in ("SELECT * FROM bgjobs.secrets",
                      "SELECT bgjobs.get_secret('SLACK_WEBHOOK_URL')",
                      "SELECT set_secret('SLACK_WEBHOOK_URL', 'x')",
                      "SELECT run_job('check-sla-and-overdue')",
                      "SELECT recipient FROM notifications",
                      "SELECT dedupe_key FROM notifications",
                      "SELECT last_error FROM notifications",
                      "SELECT payload FROM notifications",
                      "SELECT value FROM app_settings",
                      "UPDATE job_heartbeats SET last_alert_at = now()",
                      "CALL bgjobs.run_scheduled_job('check-sla-and-overdue')"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                v.execute(query)


def test_admin_triggers_sets_secrets_and_runs_runbook_procedures(sql, login):
    with login("bgjobs_admin") as a:
        resp = a.execute("SELECT run_job('update-installment-statuses')").fetchone()[0]
        assert resp["job"] == "update-installment-statuses"
        a.execute("SELECT set_secret('RESEND_API_KEY', 're_123')")
        a.execute("UPDATE app_settings SET value = 'ops@example.com' WHERE key = 'alert_email_to'")
        a.execute("UPDATE job_heartbeats SET last_alert_at = now()")                      # runbook: silence all
        a.execute("UPDATE job_heartbeats SET last_alert_at = NULL WHERE job_name = 'x'")  # runbook: force one
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            a.execute("SELECT * FROM bgjobs.secrets")
    assert sql("SELECT value FROM bgjobs.secrets WHERE name = 'RESEND_API_KEY'") == [("re_123",)]
    assert sql("SELECT count(*) FROM audit_log WHERE action_type = 'manual_job_trigger'")[0][0] == 1


def test_login_role_without_bgjobs_roles_sees_nothing(login):
    with login(None) as c:
        for query in ("SELECT * FROM jobs_log", "SELECT * FROM job_status", "SELECT run_job('check-sla-and-overdue')"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                c.execute(query)


def test_secret_names_are_validated_and_values_never_echoed(sql):
    with pytest.raises(psycopg.errors.InvalidParameterValue, match='invalid secret name "bad name"'):
        sql("SELECT set_secret('bad name', 'x')")
    assert "hunter2" not in repr(sql("SELECT set_secret('SMTP_PASSWORD', 'hunter2')"))
    sql("SELECT set_secret('SMTP_PASSWORD', NULL)")
    assert sql("SELECT count(*) FROM bgjobs.secrets WHERE name = 'SMTP_PASSWORD'")[0][0] == 0
