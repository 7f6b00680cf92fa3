"""Issue 7: bad input on every write path.  Settings are typed and checked both in the TOML
file and on a DBA's UPDATE of app_settings (one line naming the key, nothing changed); a
manual run's as_of is finite and not far in the future unless explicitly allowed; a DSN's
password never appears in an error."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest

BAD_VALUES = [
    ("alert_suppression_hours", "4h"),
    ("slow_run_warning_factor", "fast"),
    ("smtp_port", "99999999"),
    ("smtp_port", "0"),
    ("resend_base_url", "file:///etc/passwd"),
    ("alert_email_from", "ops@example.com\r\nBcc: victim@example.com"),
    ("send_resolved", "maybe"),
]
BAD_TOML = [
    ("alert_suppression_hours", 'alert_suppression_hours = "4h"'),
    ("slow_run_warning_factor", 'slow_run_warning_factor = "fast"'),
    ("smtp_port", "smtp_port = 99999999"),
    ("smtp_port", "smtp_port = 0"),
    ("resend_base_url", 'resend_base_url = "file:///etc/passwd"'),
    ("alert_email_from", r'alert_email_from = "ops@example.com\r\nBcc: victim@example.com"'),
    ("send_resolved", 'send_resolved = "maybe"'),
]


def bgjobs(*args):
    return subprocess.run([sys.executable, "-m", "bgjobs", *args], capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items() if k != "DATABASE_URL"}, timeout=300)


def one_line_error(proc) -> str:
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def settings_rows(dsn):
    with psycopg.connect(dsn, autocommit=True) as c:
        return c.execute("SELECT key, value FROM public.app_settings ORDER BY key").fetchall()


# ------------------------------------------------------------------ E: app_settings by SQL

@pytest.mark.parametrize("key, value", BAD_VALUES, ids=[f"{k}={v!r}" for k, v in BAD_VALUES])
def test_update_of_a_setting_to_a_bad_value_is_refused_naming_the_key(conn, key, value):
    before = conn.execute("SELECT value FROM app_settings WHERE key = %s", (key,)).fetchone()
    assert before is not None
    with pytest.raises(psycopg.Error) as exc:
        conn.execute("UPDATE app_settings SET value = %s WHERE key = %s", (value, key))
    assert key in exc.value.diag.message_primary, exc.value.diag.message_primary
    assert "\n" not in exc.value.diag.message_primary
    assert conn.execute("SELECT value FROM app_settings WHERE key = %s", (key,)).fetchone() == before


def test_insert_of_an_unknown_setting_is_refused_naming_it(conn):
    with pytest.raises(psycopg.Error) as exc:
        conn.execute("INSERT INTO app_settings (key, value) VALUES ('smtp_prot', '25')")
    assert "smtp_prot" in exc.value.diag.message_primary
    assert conn.execute("SELECT count(*) FROM app_settings WHERE key = 'smtp_prot'").fetchone()[0] == 0


def test_good_values_are_accepted(conn):
    conn.execute("UPDATE app_settings SET value = '2525' WHERE key = 'smtp_port'")
    conn.execute("UPDATE app_settings SET value = '12' WHERE key = 'alert_suppression_hours'")
    conn.execute("UPDATE app_settings SET value = 'http://127.0.0.1:8025' WHERE key = 'resend_base_url'")
    assert conn.execute("SELECT value FROM app_settings WHERE key IN ('smtp_port', 'alert_suppression_hours', "
                        "'resend_base_url') ORDER BY key").fetchall() == [("12",), ("http://127.0.0.1:8025",), ("2525",)]


# ------------------------------------------------------------------ E: the settings file

@pytest.mark.parametrize("key, line", BAD_TOML, ids=[line for _, line in BAD_TOML])
def test_settings_file_with_a_bad_value_is_refused_whole(db, tmp_path, key, line):
    f = tmp_path / "bad.toml"
    f.write_text(f'alert_email_to = "ops@example.com"\n{line}\n')
    before = settings_rows(db)
    msg = one_line_error(bgjobs("install", "--dsn", db, "--settings", str(f)))
    assert key in msg, msg
    assert settings_rows(db) == before


@pytest.mark.parametrize("kind", ["directory", "non-utf8", "grace-inf"])
def test_unreadable_settings_file_gives_one_line(db, tmp_path, kind):
    if kind == "directory":
        f = tmp_path / "settings.d"
        f.mkdir()
    else:
        f = tmp_path / "settings.toml"
        f.write_bytes(b'alert_email_to = "ops\xff\xfe@example.com"\n' if kind == "non-utf8"
                      else b'[jobs."check-job-health"]\ngrace = inf\n')
    before = settings_rows(db)
    one_line_error(bgjobs("install", "--dsn", db, "--settings", str(f)))
    assert settings_rows(db) == before


# ------------------------------------------------------------------ F: the as_of guard

@pytest.fixture
def open_task(conn):
    tenant = conn.execute("INSERT INTO tenants (name) VALUES ('Acme') RETURNING id").fetchone()[0]
    conn.execute("INSERT INTO tasks (tenant_id, title, due_date, status, priority) "
                 "VALUES (%s, 'Reply to notice', now() + interval '30 days', 'Open', 'Low')", (tenant,))


def business_rows(conn):
    return (conn.execute("SELECT to_jsonb(t) FROM tasks t ORDER BY id").fetchall(),
            conn.execute("SELECT count(*) FROM analytics_snapshots").fetchone()[0])


@pytest.mark.parametrize("job, as_of", [
    ("check-sla-and-overdue", "infinity"),
    ("check-sla-and-overdue", "-infinity"),
    ("analytics-snapshot", "infinity"),
])
def test_non_finite_as_of_is_refused(conn, open_task, job, as_of):
    before = business_rows(conn)
    with pytest.raises(psycopg.Error) as exc:
        conn.execute("SELECT run_job(%s, %s::timestamptz)", (job, as_of))
    assert "as_of" in str(exc.value)
    assert business_rows(conn) == before


def test_far_future_as_of_is_refused_unless_allowed(conn, open_task):
    before = business_rows(conn)
    with pytest.raises(psycopg.Error) as exc:
        conn.execute("SELECT run_job('check-sla-and-overdue', '9999-12-31')")
    assert "as_of" in str(exc.value)
    assert business_rows(conn) == before
    conn.execute("SET bgjobs.allow_future_as_of = on")
    resp = conn.execute("SELECT run_job('check-sla-and-overdue', '9999-12-31')").fetchone()[0]
    assert resp["success"] is True, resp
    assert conn.execute("SELECT count(*) FROM bgjobs_app.task_flags WHERE overdue_since IS NOT NULL").fetchone()[0] == 1


# ------------------------------------------------------------------ G: no password in errors

DSNS = [
    "postgresql://u:SuperSecretPw@127.0.0.1:1/x",              # refused
    "postgresql://u:Super%SecretPw@127.0.0.1:1/x",             # a bad percent-escape in the password
    "postgresql://u:SuperSecretPw@127.0.0.1:1/x?sslmode=bogus",
]


@pytest.mark.parametrize("dsn", DSNS)
@pytest.mark.parametrize("cmd", [["status"], ["install"], ["run", "check-sla-and-overdue"], ["uninstall", "--yes"],
                                 ["worker", "--once"]])
def test_dsn_password_is_never_printed(cmd, dsn):
    proc = bgjobs(*cmd, "--dsn", dsn)
    msg = one_line_error(proc)
    assert "SecretPw" not in msg and "SecretPw" not in proc.stdout, msg


@pytest.mark.parametrize("dsn", DSNS)
def test_doctor_never_prints_the_dsn_password(dsn):
    proc = bgjobs("doctor", "--dsn", dsn)
    assert proc.returncode != 0
    assert "SecretPw" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
