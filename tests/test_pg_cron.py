"""pg_cron itself fires a job end to end: schedule -> CALL bgjobs.run_scheduled_job ->
jobs_log, audit_log, heartbeat.  Waits on pg_cron's real clock (about a minute)."""

from __future__ import annotations

import subprocess
import sys
import time

import psycopg
import pytest


@pytest.mark.slow
def test_pg_cron_fires_a_job_scheduled_every_minute(new_db, pg_server, cron_conn, tmp_path):
    name = new_db()
    dsn = pg_server.dsn(name)
    settings = tmp_path / "every-minute.toml"
    settings.write_text('[jobs."check-sla-and-overdue"]\nschedule = "* * * * *"\n')
    subprocess.run([sys.executable, "-m", "bgjobs", "install", "--dsn", dsn, "--settings", str(settings)],
                   check=True, capture_output=True)
    with psycopg.connect(dsn, autocommit=True) as c:
        [(cron_name,)] = c.execute("SELECT cron_jobname FROM bgjobs.job_registry "
                                   "WHERE job_name = 'check-sla-and-overdue'").fetchall()
        assert cron_conn.execute("SELECT schedule, database FROM cron.job WHERE jobname = %s",
                                 (cron_name,)).fetchone() == ("* * * * *", name)
        deadline = time.monotonic() + 70
        row = None
        while time.monotonic() < deadline:
            row = c.execute("SELECT status, trigger, error_message FROM jobs_log "
                            "WHERE job_name = 'check-sla-and-overdue' AND status <> 'running'").fetchone()
            if row:
                break
            time.sleep(1)
        assert row is not None, "pg_cron did not run check-sla-and-overdue within 70 s"
        assert row == ("success", "cron", None)
        assert c.execute("SELECT status FROM job_heartbeats WHERE job_name = 'check-sla-and-overdue'").fetchone() == ("healthy",)
        assert c.execute("SELECT count(*) FROM audit_log WHERE action_type = 'background_job_execution' "
                         "AND details->>'job_name' = 'check-sla-and-overdue'").fetchone()[0] >= 1
    # pg_cron's own record of it: pg_cron marks its run finished only after our procedure's
    # last COMMIT has returned, so allow it a moment
    deadline = time.monotonic() + 15
    while True:
        status = cron_conn.execute(
            "SELECT d.status, d.return_message FROM cron.job_run_details d JOIN cron.job j USING (jobid) "
            "WHERE j.jobname = %s ORDER BY d.start_time LIMIT 1", (cron_name,)).fetchone()
        if status and status[0] not in ("starting", "running") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert status[0] == "succeeded", status
