"""bgjobs archive: rows older than the cut-off go to a CSV (or gzip CSV) file through COPY
and are deleted in the same transactions, batch by batch; an interrupted run loses nothing
and duplicates nothing when it is run again."""

from __future__ import annotations

import csv
import gzip
import io
import subprocess
import sys
import time

import psycopg
import pytest
from cli_helpers import one_line_error, run_cli

TENANT = "00000000-0000-0000-0000-000000000000"


@pytest.fixture(autouse=True)
def empty_audit_trail(sql):
    """Start from an empty audit trail: install itself audits the jobs it registers."""
    sql("DELETE FROM audit_log")


def add_audit(sql, n: int, days_ago: float, action: str = "background_job_execution") -> None:
    sql("INSERT INTO audit_log (action_type, details, \"timestamp\") "
        "SELECT %s, jsonb_build_object('job_name', 'job-' || (g %% 3), 'n', g), now() - %s * interval '1 day' "
        "- g * interval '1 second' FROM generate_series(1, %s) g", action, days_ago, n)


def csv_rows(path) -> tuple[list[str], list[dict]]:
    with (gzip.open(path, "rt") if str(path).endswith(".gz") else open(path)) as f:
        raw = f.read()
    rows = list(csv.DictReader(io.StringIO(raw)))
    header = raw.splitlines()[0].split(",") if raw else []
    return header, rows


def audit_ids(sql, where="true") -> set[str]:
    return {str(r[0]) for r in sql(f"SELECT id FROM audit_log WHERE {where}")}


def test_archive_audit_log_older_than_90_days_to_csv(sql, db, tmp_path):
    add_audit(sql, 1200, 120)
    add_audit(sql, 300, 91)
    add_audit(sql, 250, 80)                      # younger than 90 days: kept
    old = audit_ids(sql, "\"timestamp\" < now() - interval '90 days'")
    young = audit_ids(sql, "\"timestamp\" >= now() - interval '90 days'")
    assert len(old) == 1500 and len(young) == 250
    out = tmp_path / "audit.csv"
    proc = run_cli("archive", "--dsn", db, "--table", "audit_log", "--out", str(out), "--batch-size", "200",
                   check=True)
    assert "audit_log: 1500 rows older than" in proc.stdout and "(8 batches)" in proc.stdout
    header, rows = csv_rows(out)
    assert header == ["id", "tenant_id", "action_type", "entity_type", "entity_id", "user_id", "details", "timestamp"]
    assert len(rows) == 1500 and {r["id"] for r in rows} == old       # exactly the old rows, once each
    assert out.read_text().count("id,tenant_id,action_type") == 1    # one header
    assert audit_ids(sql) == young                                     # exactly those deleted
    run = sql("SELECT rows_archived, batches, finished_at IS NOT NULL, bytes_committed FROM bgjobs.archive_runs")
    assert run == [(1500, 8, True, out.stat().st_size)]
    # nothing left: a second run writes an empty file with nothing deleted
    proc = run_cli("archive", "--dsn", db, "--table", "audit_log", "--out", str(tmp_path / "again.csv"), check=True)
    assert "audit_log: 0 rows" in proc.stdout and audit_ids(sql) == young


def test_archive_gzip_and_automation_logs_keep_180_days(sql, db, tmp_path):
    sql("INSERT INTO tenants (id, name) VALUES (%s, 'Firm')", TENANT)
    sql("INSERT INTO automation_logs (tenant_id, rule_name, status, executed_at) "
        "SELECT %s, 'rule ' || (g %% 4), 'success', now() - (150 + g) * interval '1 day' + interval '12 hours' FROM generate_series(1, 90) g",
        TENANT)                                 # 151 .. 240 days old: 60 are older than 180 days
    out = tmp_path / "rules.csv.gz"
    run_cli("archive", "--dsn", db, "--table", "automation_logs", "--out", str(out), "--batch-size", "7", check=True)
    header, rows = csv_rows(out)
    assert header[:3] == ["tenant_id", "id", "rule_id"] and len(rows) == 60
    assert len({r["id"] for r in rows}) == 60
    assert sql("SELECT count(*), min(executed_at) > now() - interval '180 days' FROM automation_logs") == [(30, True)]
    # nine gzip members, one per batch; gzip reads them as one stream
    with gzip.open(out) as f:
        assert f.read().count(b"\n") == 61


def test_interrupted_archive_loses_nothing_and_duplicates_nothing(sql, conn, db, tmp_path, pg_server):
    add_audit(sql, 2000, 100)
    add_audit(sql, 100, 10)
    old = audit_ids(sql, "\"timestamp\" < now() - interval '90 days'")
    young = audit_ids(sql, "\"timestamp\" >= now() - interval '90 days'")
    # a row of the third batch (key order) is locked, so the run stops inside that batch:
    # after writing and fsyncing it, in its DELETE
    keys = sql("SELECT tenant_id, id FROM audit_log WHERE \"timestamp\" < now() - interval '90 days' "
               "ORDER BY tenant_id, id")
    out = tmp_path / "audit.csv"
    cmd = [sys.executable, "-m", "bgjobs", "archive", "--dsn", db, "--table", "audit_log", "--out", str(out),
           "--batch-size", "300"]
    dbname = conn.info.dbname
    with psycopg.connect(db) as locker:
        locker.execute("SELECT 1 FROM audit_log WHERE tenant_id = %s AND id = %s FOR UPDATE", keys[700])
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        pid = None
        for _ in range(600):
            row = sql("SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = 'bgjobs' "
                      "AND wait_event_type = 'Lock'", dbname)
            if row:
                pid = row[0][0]
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        assert pid, "the archive never reached the locked batch"
        proc.kill()                                         # SIGKILL: no clean-up of any kind
        proc.wait()
        _, written = csv_rows(out)
        assert len(written) == 900                          # three batches written and fsynced ...
        assert len(audit_ids(sql)) == 2100 - 600            # ... two of them committed
        locker.rollback()
    for _ in range(600):                                    # the killed run's backend rolls back and ends
        if not sql("SELECT 1 FROM pg_stat_activity WHERE pid = %s", pid):
            break
        time.sleep(0.1)
    assert len(audit_ids(sql)) == 1500
    assert sql("SELECT rows_archived, finished_at FROM bgjobs.archive_runs") == [(600, None)]

    again = run_cli(*cmd[3:], check=True)                   # the same command, again
    assert "removed" in again.stdout and "not committed" in again.stdout
    assert "resuming interrupted archive run" in again.stdout
    _, rows = csv_rows(out)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) == 2000                # no duplicates
    assert set(ids) == old                                  # rows in the file = rows deleted
    assert audit_ids(sql) == young
    assert out.read_text().count("id,tenant_id,action_type") == 1
    assert sql("SELECT rows_archived, finished_at IS NOT NULL FROM bgjobs.archive_runs") == [(2000, True)]


def test_interrupted_run_is_closed_when_another_file_is_named(sql, db, tmp_path):
    add_audit(sql, 50, 100)
    first = tmp_path / "first.csv"
    # an interrupted run as the ledger and the file show it: 0 bytes committed, a stray tail
    cutoff = sql("SELECT now() - interval '90 days'")[0][0]
    sql("INSERT INTO bgjobs.archive_runs (table_name, file, compressed, cutoff) VALUES ('audit_log', %s, false, %s)",
        str(first), cutoff)
    first.write_text("id,tenant_id\nstray,row\n")
    second = tmp_path / "second.csv"
    proc = run_cli("archive", "--dsn", db, "--table", "audit_log", "--out", str(second), check=True)
    assert "closed interrupted archive run" in proc.stdout
    assert first.read_text() == ""                          # the uncommitted tail is gone
    assert len(csv_rows(second)[1]) == 50


def test_a_second_archive_of_the_same_table_is_refused_while_one_runs(sql, db, tmp_path):
    add_audit(sql, 20, 100)
    with psycopg.connect(db, autocommit=True) as other:         # as a running archive holds it
        other.execute("SELECT pg_advisory_lock(hashtext('bgjobs archive'), hashtext('audit_log'))")
        msg = one_line_error(run_cli("archive", "--dsn", db, "--table", "audit_log", "--out", str(tmp_path / "a.csv")))
        assert "another bgjobs archive of audit_log is running" in msg
        assert not (tmp_path / "a.csv").exists() and len(audit_ids(sql)) == 20
        # the other table is not blocked
        run_cli("archive", "--dsn", db, "--table", "automation_logs", "--out", str(tmp_path / "b.csv"), check=True)
    run_cli("archive", "--dsn", db, "--table", "audit_log", "--out", str(tmp_path / "a.csv"), check=True)
    assert audit_ids(sql) == set()


def test_archive_refuses_bad_input_with_one_line(db, tmp_path):
    existing = tmp_path / "x.csv"
    existing.write_text("keep me\n")
    msg = one_line_error(run_cli("archive", "--dsn", db, "--table", "audit_log", "--out", str(existing)))
    assert "exists" in msg and existing.read_text() == "keep me\n"
    msg = one_line_error(run_cli("archive", "--dsn", db, "--table", "audit_logs"))
    assert 'did you mean "audit_log"' in msg
    msg = one_line_error(run_cli("archive", "--dsn", db, "--out", str(tmp_path / "y.csv")))
    assert "exactly one --table" in msg
    msg = one_line_error(run_cli("archive", "--dsn", db, "--table", "audit_log", "--older-than", "soon"))
    assert "--older-than" in msg


def test_retention_zero_leaves_rows_to_the_archive_at_the_seeds_age(sql, db, tmp_path):
    sql("UPDATE app_settings SET value = '0' WHERE key = 'retention_days_audit_log'")
    add_audit(sql, 40, 95)
    add_audit(sql, 10, 85)
    assert sql("SELECT run_job('purge-old-logs')->'results'->>'auditLog'") == [("0",)]   # purge keeps them
    proc = run_cli("archive", "--dsn", db, "--table", "audit_log", "--out", str(tmp_path / "a.csv"), check=True)
    assert "audit_log: 40 rows" in proc.stdout
    assert sql("SELECT count(*) FROM audit_log WHERE \"timestamp\" < now() - interval '90 days'") == [(0,)]
    assert sql("SELECT count(*) FROM audit_log WHERE details ? 'n'") == [(10,)]
