"""What a person sees at a terminal: the CLI runs under a real pseudo-terminal (pexpect),
80 columns wide."""

from __future__ import annotations

import os
import re
import sys

import pexpect
import pytest

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def tty(args, env=None, rows=24, cols=80):
    e = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS", "LINES", "FORCE_COLOR")}
    e.update({"TERM": "xterm-256color", **(env or {})})
    return pexpect.spawn(sys.executable, ["-m", "bgjobs", *args], env=e, dimensions=(rows, cols),
                         encoding="utf-8", timeout=120)


def everything(child) -> str:
    child.expect(pexpect.EOF)
    child.close()
    return child.before


@pytest.fixture
def ran(sql, db):
    sql("SELECT run_job('update-installment-statuses')")
    sql("INSERT INTO jobs_log (job_name, status, error_message) VALUES ('automation-health-check', 'failed', "
        "'boom: a very long error message that goes on and on and on well past the edge of an eighty column "
        "terminal, as real ones do')")
    return db


def test_status_fits_80_columns_with_colour(ran):
    child = tty(["status", "--dsn", ran])
    out = everything(child)
    assert child.exitstatus == 0, out
    assert ANSI.search(out), "no colour on a terminal"
    lines = [ANSI.sub("", line) for line in out.replace("\r", "").splitlines() if line.strip()]
    assert lines[0].split()[:2] == ["JOB", "STATE"]
    assert max(len(line) for line in lines) <= 80, max(lines, key=len)
    assert any(line.startswith("update-installment-statuses") and "Success" in line for line in lines)
    assert any(line.startswith("  automation-health-check: boom") for line in lines)


def test_no_color_means_no_escape_codes(ran):
    child = tty(["status", "--dsn", ran], env={"NO_COLOR": "1"})
    out = everything(child)
    assert child.exitstatus == 0, out
    assert "\x1b[" not in out and "update-installment-statuses" in out


def test_wide_status_on_a_terminal_shows_every_column(ran):
    out = ANSI.sub("", everything(tty(["status", "--wide", "--dsn", ran], cols=80)))
    head = next(line for line in out.replace("\r", "").splitlines() if line.startswith("JOB"))
    assert "PG_CRON JOB" in head and "SILENCED UNTIL" in head


def test_archive_progress_bar_on_a_terminal(sql, db, tmp_path):
    sql("INSERT INTO audit_log (action_type, \"timestamp\") "
        "SELECT 'background_job_execution', now() - interval '100 days' FROM generate_series(1, 3000)")
    child = tty(["archive", "--dsn", db, "--table", "audit_log", "--out", str(tmp_path / "a.csv"),
                 "--batch-size", "500"])
    out = ANSI.sub("", everything(child))
    assert child.exitstatus == 0, out
    assert re.search(r"archive audit_log .*3000/3000 rows", out), out
    assert "audit_log: 3000 rows older than" in out


def test_demo_data_progress_bar_on_a_terminal(db):
    out = ANSI.sub("", everything(tty(["demo-data", "--dsn", db, "--tenants", "3", "--tasks-per-tenant", "20"])))
    assert re.search(r"demo data .*11/11 tables", out), out
    assert "loaded: 3 tenants" in out


def test_secret_prompt_hides_the_value(db, sql):
    child = tty(["secret", "set", "RESEND_API_KEY", "--dsn", db])
    child.expect("not echoed")
    child.sendline("re_live_s3cr3t")
    out = everything(child)
    assert child.exitstatus == 0, out
    assert "re_live_s3cr3t" not in out and "secret RESEND_API_KEY stored" in out
    assert sql("SELECT value FROM bgjobs.secrets WHERE name = 'RESEND_API_KEY'") == [("re_live_s3cr3t",)]


def test_install_on_a_terminal_shows_a_spinner_and_every_line(new_db, pg_server):
    child = tty(["install", "--no-schedule", "--dsn", pg_server.dsn(new_db())])
    raw = everything(child)
    assert child.exitstatus == 0, raw
    out = ANSI.sub("", raw)
    assert "installing" in out                                  # the spinner's line, while it ran
    assert "bgjobs installed in database" in out and "applied" in out
