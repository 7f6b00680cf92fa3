"""`bgjobs doctor`: one line per check of what install needs and what keeps jobs running.
FAIL lines make the exit status non-zero; WARN lines do not."""

from __future__ import annotations

from typing import Callable

import psycopg

from .db import connect, first_line
from .errors import BgjobsError

OK, WARN, FAIL = "ok", "WARN", "FAIL"


class Doctor:
    def __init__(self, report: Callable[[str], None]):
        self.report = report
        self.failed = False

    def say(self, level: str, name: str, detail: str) -> None:
        if level == FAIL:
            self.failed = True
        self.report(f"{level:<4} {name}: {detail}")


def _one(conn, q, *args):
    row = conn.execute(q, args or None).fetchone()
    return row[0] if row else None


def run(dsn: str, report: Callable[[str], None] = print) -> bool:
    d = Doctor(report)
    try:
        conn = connect(dsn, autocommit=True)
    except BgjobsError as exc:
        d.say(FAIL, "connection", str(exc))
        return False
    with conn:
        db = conn.info.dbname
        d.say(OK, "connection", f"connected to {db} as {_one(conn, 'SELECT current_user')}")
        num = _one(conn, "SELECT current_setting('server_version_num')::int")
        ver = _one(conn, "SELECT current_setting('server_version')")
        d.say(OK if num >= 150000 else FAIL, "server version", f"PostgreSQL {ver}" + ("" if num >= 150000 else " (15+ required)"))

        cron_db = _one(conn, "SELECT current_setting('cron.database_name', true)")
        if not cron_db:
            d.say(FAIL, "pg_cron", "not in shared_preload_libraries (add it and cron.database_name, then restart)")
        else:
            d.say(OK, "pg_cron", f"preloaded; its database is {cron_db}" + (" (this one)" if cron_db == db else ""))
        launcher = _one(conn, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_cron launcher'")
        if cron_db:
            d.say(OK if launcher else FAIL, "pg_cron launcher",
                  "running" if launcher else "not running: no job will fire until the server restarts "
                  "(was it terminated with pg_terminate_backend?)")

        has_py = _one(conn, "SELECT count(*) FROM pg_extension WHERE extname = 'plpython3u'")
        if has_py:
            d.say(OK, "plpython3u", "installed: notifications are delivered in the database")
        else:
            d.say(WARN, "plpython3u", "not installed: notifications are delivered only by `bgjobs worker`")

        if _one(conn, "SELECT to_regclass('bgjobs.job_registry')") is None:
            d.say(FAIL, "installed", f"bgjobs is not installed in {db} (run bgjobs install)")
            return not d.failed
        from .install import _pending_migrations
        pending = _pending_migrations(conn)
        d.say(WARN if pending else OK, "migrations", f"{len(pending)} pending (run bgjobs install)" if pending else "up to date")

        rows = conn.execute(
            "SELECT r.job_name, coalesce(r.cron_jobname, r.job_name), coalesce(r.tick, r.schedule), r.enabled, c.schedule, c.active, c.database "
            "FROM bgjobs.job_registry r LEFT JOIN bgjobs.cron_jobs() c ON c.jobname = coalesce(r.cron_jobname, r.job_name) "
            "ORDER BY 1").fetchall()
        if cron_db and cron_db != db:
            d.say(WARN, "schedules", f"pg_cron lives in {cron_db}: schedules are checked there by `bgjobs install --dry-run`")
        elif cron_db:
            bad = []
            for job, cname, sched, enabled, csched, cactive, cdb in rows:
                if not enabled:
                    continue
                if csched is None:
                    bad.append(f"{cname} not scheduled")
                elif csched != sched or not cactive or cdb != db:
                    bad.append(f"{cname} differs (schedule {csched!r}, active {cactive}, database {cdb})")
            d.say(FAIL if bad else OK, "schedules", "; ".join(bad) + " (run bgjobs install)" if bad
                  else f"{sum(1 for r in rows if r[3])} jobs scheduled and active")

        stuck = _one(conn, "SELECT count(*) FROM public.jobs_log j WHERE j.status = 'running' "
                           "AND bgjobs.lock_held(j.job_name, j.pid) IS NULL")
        d.say(WARN if stuck else OK, "abandoned runs", f"{stuck} running rows without a live backend (reaped on next run)"
              if stuck else "none")
        failing = conn.execute("SELECT job_name, last_error FROM public.job_status WHERE state = 'Failed'").fetchall()
        d.say(WARN if failing else OK, "last runs", ", ".join(f"{j} failed" for j, _ in failing) if failing
              else "no job's last run failed")
        slack = _one(conn, "SELECT count(*) FROM bgjobs.secrets WHERE name = 'SLACK_WEBHOOK_URL'") \
            if _one(conn, "SELECT has_table_privilege('bgjobs.secrets', 'SELECT')") else 0
        email = _one(conn, "SELECT bgjobs.get_setting('alert_email_to')")
        d.say(OK if (slack or email) else WARN, "alert channels",
              ", ".join(x for x in ("Slack webhook" if slack else "", f"email to {email}" if email else "") if x)
              or "none configured: set_secret('SLACK_WEBHOOK_URL', ...) or app_settings alert_email_to")
        backlog, dead = conn.execute(
            "SELECT count(*) FILTER (WHERE status IN ('pending', 'failed') AND next_attempt_at < now() - interval '10 minutes'), "
            "count(*) FILTER (WHERE status = 'dead' AND created_at > now() - interval '24 hours') FROM public.notifications"
        ).fetchone()
        d.say(WARN if backlog or dead else OK, "outbox",
              f"{backlog} overdue for delivery, {dead} dead in 24h" if backlog or dead else "nothing overdue, nothing dead")
    return not d.failed
