"""Secrets, silences and settings from the shell, and the messages a user gets when a name
is wrong or no DSN is given."""

from __future__ import annotations

import json

import psycopg
from cli_helpers import one_line_error, run_cli


def test_secret_set_reads_stdin_never_echoes_and_list_shows_names_only(db, sql):
    value = "https://hooks.slack.example/T000/B000/very-secret-token"
    proc = run_cli("secret", "set", "SLACK_WEBHOOK_URL", "--dsn", db, input=value + "\n", check=True)
    assert value not in proc.stdout + proc.stderr
    assert proc.stdout.strip() == "secret SLACK_WEBHOOK_URL stored"
    assert sql("SELECT value FROM bgjobs.secrets WHERE name = 'SLACK_WEBHOOK_URL'") == [(value,)]  # no newline
    run_cli("secret", "set", "SMTP_PASSWORD", "--dsn", db, input="hunter2", check=True)
    listing = run_cli("secret", "list", "--dsn", db, check=True).stdout
    assert "SLACK_WEBHOOK_URL" in listing and "SMTP_PASSWORD" in listing
    assert "very-secret" not in listing and "hunter2" not in listing
    rows = json.loads(run_cli("secret", "list", "--json", "--dsn", db, check=True).stdout)
    assert [r["name"] for r in rows] == ["SLACK_WEBHOOK_URL", "SMTP_PASSWORD"]
    assert set(rows[0]) == {"name", "updated_at"} and "T" in rows[0]["updated_at"]
    assert "invalid secret name" in one_line_error(run_cli("secret", "set", "bad name", "--dsn", db, input="x"))
    assert "empty value" in one_line_error(run_cli("secret", "set", "RESEND_API_KEY", "--dsn", db, input=""))
    assert run_cli("secret", "unset", "SMTP_PASSWORD", "--dsn", db, check=True).stdout.strip() == \
        "secret SMTP_PASSWORD removed"
    assert sql("SELECT name FROM bgjobs.secrets") == [("SLACK_WEBHOOK_URL",)]


def test_secret_list_works_for_an_admin_login_and_is_refused_to_a_viewer(db, sql):
    sql("SELECT set_secret('RESEND_API_KEY', 're_123')")
    for role, name in (("bgjobs_admin", "cli_admin_t"), ("bgjobs_viewer", "cli_viewer_t")):
        sql(f"DROP ROLE IF EXISTS {name}")
        sql(f"CREATE ROLE {name} LOGIN PASSWORD 'pw' IN ROLE {role}")
    try:
        dsn = psycopg.conninfo.make_conninfo(db, user="cli_admin_t", password="pw")
        assert "RESEND_API_KEY" in run_cli("secret", "list", "--dsn", dsn, check=True).stdout
        dsn = psycopg.conninfo.make_conninfo(db, user="cli_viewer_t", password="pw")
        assert "permission denied" in one_line_error(run_cli("secret", "list", "--dsn", dsn))
    finally:
        for name in ("cli_admin_t", "cli_viewer_t"):
            sql(f"DROP ROLE {name}")


def test_silence_and_unsilence(db, sql):
    proc = run_cli("silence", "check-sla-and-overdue", "--for", "2h", "--reason", "GSTAT portal maintenance",
                   "--dsn", db, check=True)
    assert proc.stdout.startswith("silenced check-sla-and-overdue until ")
    rows = sql("SELECT job_name, reason, active, until - starts_at FROM job_silences")
    assert len(rows) == 1 and rows[0][:3] == ("check-sla-and-overdue", "GSTAT portal maintenance", True)
    assert abs(rows[0][3].total_seconds() - 7200) < 60
    run_cli("silence", "--all", "--until", "2099-01-01 00:00+00", "--reason", "migration", "--dsn", db, check=True)
    assert sql("SELECT job_name, until FROM job_silences WHERE job_name = '*'")[0][1].year == 2099
    msg = one_line_error(run_cli("silence", "check-sla-and-overdu", "--for", "1h", "--reason", "x", "--dsn", db))
    assert 'unknown job "check-sla-and-overdu"' in msg and 'did you mean "check-sla-and-overdue"' in msg
    assert "--reason" in one_line_error(run_cli("silence", "check-sla-and-overdue", "--for", "1h", "--dsn", db))
    assert "exactly one of --until" in one_line_error(
        run_cli("silence", "check-sla-and-overdue", "--reason", "x", "--dsn", db))
    assert "--for" in one_line_error(run_cli("silence", "--all", "--for", "soon", "--reason", "x", "--dsn", db))
    assert "--until" in one_line_error(run_cli("silence", "--all", "--until", "tomorrowish", "--reason", "x",
                                               "--dsn", db))
    assert sql("SELECT count(*) FROM job_silences") == [(2,)]       # nothing half-applied
    assert run_cli("unsilence", "check-sla-and-overdue", "--dsn", db, check=True).stdout.strip() == \
        "ended 1 silence(s) of check-sla-and-overdue"
    run_cli("unsilence", "--all", "--dsn", db, check=True)
    assert sql("SELECT count(*) FROM job_silences WHERE active") == [(0,)]


def test_settings_show_and_set(db, sql):
    out = run_cli("settings", "show", "--dsn", db, check=True).stdout
    assert "smtp_port" in out and "25" in out
    rows = json.loads(run_cli("settings", "show", "smtp_port", "--json", "--dsn", db, check=True).stdout)
    assert [(r["key"], r["value"]) for r in rows] == [("smtp_port", "25")]
    assert run_cli("settings", "set", "smtp_port", "2525", "--dsn", db, check=True).stdout.strip() == \
        "smtp_port: '25' -> '2525'"
    assert sql("SELECT value FROM app_settings WHERE key = 'smtp_port'") == [("2525",)]
    msg = one_line_error(run_cli("settings", "set", "smtp_prot", "1025", "--dsn", db))
    assert 'unknown setting "smtp_prot"' in msg and '"smtp_port"' in msg and len(msg) < 200
    msg = one_line_error(run_cli("settings", "set", "x" * 3000, "1", "--dsn", db))
    assert len(msg) < 200
    msg = one_line_error(run_cli("settings", "set", "smtp_port", "twenty-five", "--dsn", db))
    assert "smtp_port" in msg and "whole number" in msg
    assert "did you mean" in one_line_error(run_cli("settings", "show", "alert_email", "--dsn", db))
    assert sql("SELECT value FROM app_settings WHERE key = 'smtp_port'") == [("2525",)]


def test_settings_set_refuses_a_bad_value_in_one_line_and_changes_nothing(db, sql):
    before = sql("SELECT key, value FROM app_settings ORDER BY key")
    msg = one_line_error(run_cli("settings", "set", "alert_email_from", "nobody", "--dsn", db))
    assert "alert_email_from" in msg and "must be an e-mail address" in msg
    msg = one_line_error(run_cli("settings", "set", "smtp_port", "99999999", "--dsn", db))
    assert "smtp_port" in msg and "between 1 and 65535" in msg
    assert sql("SELECT key, value FROM app_settings ORDER BY key") == before


def test_unknown_job_did_you_mean_and_no_dsn_hint(db):
    msg = one_line_error(run_cli("run", "check-sla-and-overdu", "--dsn", db))
    assert 'unknown job "check-sla-and-overdu"' in msg and 'did you mean "check-sla-and-overdue"' in msg
    env = {"DATABASE_URL": "", "PGHOST": "127.0.0.1", "PGPORT": "1", "PGDATABASE": "", "PGUSER": "nobody"}
    msg = one_line_error(run_cli("status", env=env))
    assert "cannot connect" in msg and "--dsn" in msg and "DATABASE_URL" in msg
    msg = one_line_error(run_cli("status", "--dsn", "postgresql://nobody@127.0.0.1:1/x"))
    assert "cannot connect" in msg and "DATABASE_URL" not in msg       # a DSN was given: no hint
