"""`bgjobs doctor`: one line per check of what install needs and what keeps jobs running.
FAIL lines make the exit status non-zero; WARN lines do not."""

from __future__ import annotations

from collections.abc import Callable

import psycopg

from .db import connect
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


# What pg_cron writes to cron.job_run_details when a run never reached the database
# (libpq mode: its connection to cron.host was refused or could not authenticate).
CONNECT_FAILURES = ("connection failed", "authentication failed", "could not connect", "no pg_hba.conf entry",
                    "is not permitted to log in", "fe_sendauth", "role \"bgjobs_runner\" does not exist")
CRON_AUTH_FIX = ("pg_cron (libpq mode) connects to cron.host as bgjobs_runner: add `local all bgjobs_runner peer "
                 "map=bgjobs_cron` at the top of pg_hba.conf and `bgjobs_cron <server's OS user> bgjobs_runner` "
                 "to pg_ident.conf, set cron.host to the server's unix socket directory, then reload")


def _setting(conn, name: str) -> tuple[str | None, bool]:
    """(value, readable): pg_cron's settings are superuser-only (GUC_SUPERUSER_ONLY), and
    current_setting(name, true) raises for other roles without pg_read_all_settings."""
    try:
        return _one(conn, "SELECT current_setting(%s, true)", name), True
    except psycopg.errors.InsufficientPrivilege:
        return None, False


def _can_see_all(conn) -> bool:
    return bool(_one(conn, "SELECT rolsuper OR pg_has_role(current_user, 'pg_read_all_stats', 'MEMBER') "
                           "FROM pg_roles WHERE rolname = current_user"))


def _launcher(d: Doctor, conn) -> None:
    """pg_cron's launcher, as pg_stat_activity shows it; a role that cannot see other roles'
    backends (not a superuser, not in pg_read_all_stats) gets a WARN, never a false FAIL."""
    if not _can_see_all(conn):
        d.say(WARN, "pg_cron launcher", f"cannot see it: role {_one(conn, 'SELECT current_user')} is neither a "
              "superuser nor a member of pg_read_all_stats (pg_stat_activity hides other roles' backends)")
        return
    pid = _one(conn, "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_cron launcher' LIMIT 1")
    d.say(OK if pid else FAIL, "pg_cron launcher",
          f"running (pid {pid})" if pid else "not running: no job will fire until the server restarts "
          "(was it terminated with pg_terminate_backend?); restart PostgreSQL")


def _cron_version(conn, here: bool) -> str | None:
    if here:
        v = _one(conn, "SELECT extversion FROM pg_extension WHERE extname = 'pg_cron'")
        if v:
            return v
    return _one(conn, "SELECT default_version FROM pg_available_extensions WHERE name = 'pg_cron'")


def _older(version: str | None, than: tuple[int, int]) -> bool:
    try:
        parts = tuple(int(x) for x in version.split("-")[0].split(".")[:2])
    except (AttributeError, ValueError):
        return False
    return parts < than


def _cron_mode(d: Doctor, conn, here: bool) -> None:
    """pg_cron 1.4 with background workers starts no job while another runs (pg_cron #200,
    fixed in 1.5): one long run delays every other job's tick."""
    bgw, readable = _setting(conn, "cron.use_background_workers")
    version = _cron_version(conn, here)
    if not readable:
        d.say(WARN, "pg_cron mode", "cannot read cron.use_background_workers (superuser or pg_read_all_settings "
              "needed)")
    elif bgw == "on":
        if _older(version, (1, 5)):
            d.say(WARN, "pg_cron mode", f"cron.use_background_workers = on with pg_cron {version}: no job starts "
                  "while another one runs (pg_cron #200, fixed in 1.5), so a long run delays every other tick; "
                  "set cron.use_background_workers = off (libpq mode) with " + CRON_AUTH_FIX.split(": ", 1)[1]
                  + ", or upgrade pg_cron to 1.5+")
        else:
            d.say(OK, "pg_cron mode", f"background workers (pg_cron {version})")
    else:
        host, _ = _setting(conn, "cron.host")
        d.say(OK, "pg_cron mode", f"libpq mode: pg_cron connects to {host or 'localhost'} as each job's user "
              f"(pg_cron {version})")


def _cron_runs(d: Doctor, conn) -> None:
    """bgjobs' pg_cron runs that failed before reaching bgjobs (connection, authentication):
    the latest finished run of each of bgjobs_runner's jobs in this database."""
    if not _one(conn, "SELECT has_table_privilege('cron.job_run_details', 'SELECT') "
                      "AND has_table_privilege('cron.job', 'SELECT')"):
        d.say(WARN, "pg_cron runs", "cannot read cron.job_run_details")
        return
    if not _one(conn, "SELECT rolsuper OR rolbypassrls OR current_user = 'bgjobs_runner' FROM pg_roles "
                      "WHERE rolname = current_user"):
        d.say(WARN, "pg_cron runs", "cannot see bgjobs_runner's runs (pg_cron's row security shows each role its "
              "own): run bgjobs doctor as a superuser to check them")
        return
    # latest finished run of each job by runid: a run that never connected has no start_time
    rows = conn.execute(
        "SELECT DISTINCT ON (j.jobname) j.jobname, d.status, d.return_message "
        "FROM cron.job_run_details d JOIN cron.job j ON j.jobid = d.jobid "
        "WHERE j.username = 'bgjobs_runner' AND j.database = current_database() "
        "AND d.status IN ('succeeded', 'failed') "
        "ORDER BY j.jobname, d.runid DESC").fetchall()
    bad = [(name, msg) for name, status, msg in rows
           if status == "failed" and any(f in (msg or "").lower() for f in CONNECT_FAILURES)]
    if bad:
        msgs = sorted({(m or "").strip().splitlines()[0][:120] for _, m in bad if m})
        d.say(FAIL, "pg_cron runs", f"{len(bad)} of bgjobs' jobs fail before reaching bgjobs "
              f"({', '.join(n for n, _ in bad)}: {'; '.join(msgs)}); {CRON_AUTH_FIX}")
    elif rows:
        failed = sum(1 for _, status, _ in rows if status == "failed")
        d.say(OK, "pg_cron runs", f"{len(rows)} jobs have run; the last run of {failed} failed inside bgjobs"
              if failed else f"{len(rows)} jobs have run, none failed to start")
    else:
        d.say(OK, "pg_cron runs", "no run of bgjobs' jobs recorded yet")


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

        cron_db, readable = _setting(conn, "cron.database_name")
        if not readable:
            # pg_cron's settings are superuser-only: a role without pg_read_all_settings
            # cannot tell where pg_cron lives unless its extension is in this database
            here = _one(conn, "SELECT count(*) FROM pg_extension WHERE extname = 'pg_cron'")
            cron_db = db if here else None
            d.say(OK if here else WARN, "pg_cron", f"its extension is in this database ({db})" if here else
                  f"cannot read cron.database_name as role {_one(conn, 'SELECT current_user')} (superuser or "
                  "pg_read_all_settings needed); pg_cron's extension is not in this database")
        elif not cron_db:
            d.say(FAIL, "pg_cron", "not in shared_preload_libraries (add it and cron.database_name, then restart)")
        else:
            d.say(OK, "pg_cron", f"preloaded; its database is {cron_db}" + (" (this one)" if cron_db == db else ""))
        if cron_db or not readable:
            _launcher(d, conn)
            _cron_mode(d, conn, cron_db == db)

        has_py = _one(conn, "SELECT count(*) FROM pg_extension WHERE extname = 'plpython3u'")
        if has_py:
            d.say(OK, "plpython3u", "installed: notifications are delivered in the database")
        else:
            d.say(WARN, "plpython3u", "not installed: notifications are delivered only by `bgjobs worker`")

        if _one(conn, "SELECT to_regclass('bgjobs.job_registry')") is None:
            d.say(FAIL, "installed", f"bgjobs is not installed in {db} (run bgjobs install)")
            return not d.failed
        from .install import _pending_migrations
        try:
            pending = _pending_migrations(conn)
            d.say(WARN if pending else OK, "migrations", f"{len(pending)} pending (run bgjobs install)" if pending
                  else "up to date")
        except psycopg.errors.InsufficientPrivilege:
            d.say(WARN, "migrations", f"cannot read bgjobs' migration history as role {_one(conn, 'SELECT current_user')}"
                  " (run bgjobs doctor as the installing role to check it)")

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

        if cron_db == db:
            _cron_runs(d, conn)
        _check_watch(d, conn, db, cron_db)

        stuck = _one(conn, "SELECT count(*) FROM public.jobs_log j WHERE j.status = 'running' "
                           "AND bgjobs.lock_held(j.job_name, j.pid) IS NULL")
        d.say(WARN if stuck else OK, "abandoned runs", f"{stuck} running rows without a live backend (reaped on next run)"
              if stuck else "none")
        failing = conn.execute("SELECT job_name, last_error FROM public.job_status WHERE state = 'Failed'").fetchall()
        d.say(WARN if failing else OK, "last runs", ", ".join(f"{j} failed" for j, _ in failing) if failing
              else "no job's last run failed")
        slack = _one(conn, "SELECT bgjobs.secret_is_set('SLACK_WEBHOOK_URL')") \
            if _one(conn, "SELECT has_function_privilege('bgjobs.secret_is_set(text)', 'EXECUTE')") else False
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


def _check_watch(d: Doctor, conn, db: str, cron_db: str | None) -> None:
    """Watching jobs bgjobs did not create: where pg_cron's jobs can be read, and by whom."""
    if _one(conn, "SELECT to_regprocedure('bgjobs.cron_watch_jobs(timestamp with time zone,integer)')") is None:
        return
    watched = _one(conn, "SELECT count(*) FROM bgjobs.watched_jobs")
    if cron_db and cron_db != db:
        d.say(WARN, "watching", f"pg_cron lives in {cron_db}: only monitor-only jobs ({watched}) are watched here; "
                                "install bgjobs there to watch every pg_cron job of the cluster")
        return
    if not cron_db:
        return
    if not _one(conn, "SELECT bgjobs.get_setting('watch_cron_jobs')::boolean"):
        d.say(OK, "watching", f"{watched} monitor-only jobs; pg_cron jobs not watched (watch_cron_jobs is off)")
        return
    owner_super = _one(conn, "SELECT r.rolsuper FROM pg_proc p JOIN pg_roles r ON r.oid = p.proowner "
                             "WHERE p.oid = 'bgjobs.cron_watch_jobs(timestamptz, integer)'::regprocedure")
    try:
        with conn.transaction():
            n = _one(conn, "SELECT count(*) FROM bgjobs.cron_watch_jobs(now(), 0)")
    except psycopg.Error:
        n = None
    index = _one(conn, "SELECT to_regclass('cron.bgjobs_job_run_details_jobid_idx')") is not None
    what = (f"{watched} monitor-only jobs, {n if n is not None else 'an unknown number of'} pg_cron jobs"
            + (" (every user's)" if owner_super else " (only the installing role's own: it is not a superuser)"))
    if not index:
        what += "; no index on cron.job_run_details (jobid, runid): see README 'Watching jobs bgjobs did not create'"
    d.say(OK if owner_super and index else WARN, "watching", what)
