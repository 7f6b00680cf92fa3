"""`bgjobs jobs ...`: the job API (CONTRACT §4) from the shell.

    bgjobs jobs list [--json]
    bgjobs jobs add NAME --body F --schedule '0 8 * * *' [--timezone Europe/Berlin] [--timeout '10 minutes']
    bgjobs jobs remove NAME
    bgjobs jobs pause NAME [--until TS] [--reason R]
    bgjobs jobs resume NAME

Each calls the SQL function of the same name (bgjobs.register_job, unregister_job,
pause_job, resume_job), so a job added here is the same as one registered from psql.
Where pg_cron lives in another database of the cluster, `add` and `remove` also apply
the pg_cron side there (the SQL functions cannot reach it).  Errors are one line.
"""

from __future__ import annotations

import json
from datetime import timezone

import click
import psycopg

from .cli import dsn_option, one_line_errors
from .db import connect, first_line, resolve_dsn
from .errors import BgjobsError

LIST_SQL = """
SELECT r.job_name, r.schedule, r.timezone, coalesce(r.tick, r.schedule) AS tick,
       r.function_schema || '.' || r.function_name AS body, r.enabled,
       bgjobs.job_paused(r.paused_from, r.paused_until, now()) AS paused,
       CASE WHEN bgjobs.job_paused(r.paused_from, r.paused_until, now()) THEN r.paused_until END AS paused_until,
       CASE WHEN bgjobs.job_paused(r.paused_from, r.paused_until, now()) THEN r.pause_reason END AS pause_reason,
       coalesce(r.cron_jobname, r.job_name) AS pg_cron_job, r.timeout::text AS timeout, r.grace::text AS grace,
       bgjobs.next_expected_run(r.job_name, now()) AS next_run, r.description
  FROM bgjobs.job_registry r
 ORDER BY r.job_name
"""


def _connect(dsn):
    conn = connect(resolve_dsn(dsn), autocommit=True)
    conn.add_notice_handler(_warn)
    return conn


def _warn(diag) -> None:
    if diag.severity_nonlocalized == "WARNING" or diag.severity == "WARNING":
        click.echo(f"bgjobs: warning: {diag.message_primary}", err=True)


def _call(conn, query: str, args: tuple):
    try:
        return conn.execute(query, args).fetchone()
    except psycopg.errors.UndefinedFunction as exc:
        if "bgjobs." in str(exc) and "does not exist" in str(exc) and "register_job: body" not in str(exc):
            raise BgjobsError("the job API is not installed in this database (run bgjobs install)") from None
        raise BgjobsError(first_line(exc)) from None
    except psycopg.errors.InsufficientPrivilege as exc:
        raise BgjobsError(first_line(exc)) from None
    except psycopg.Error as exc:
        raise BgjobsError(first_line(exc)) from None


def _cron_side(conn):
    """(preflight, connection to pg_cron's database) when pg_cron is loaded, else None.  The
    SQL functions schedule only where pg_cron lives in this database and bgjobs_runner may
    schedule there; this applies the rest from the shell (as install does)."""
    from . import install as inst

    pf = inst.preflight(conn, need_cron=False)
    if not pf.cron_preloaded:
        return None
    cconn = inst._cron_conn(conn, pf)
    if not inst._cron_ready(cconn):
        if cconn is not conn:
            cconn.close()
        return None
    return pf, cconn


@click.group()
def jobs():
    """Your own jobs: list, add, remove, pause, resume (the job API)."""


@jobs.command("list")
@dsn_option
@click.option("--json", "as_json", is_flag=True, help="JSON output")
@one_line_errors
def jobs_list(dsn, as_json):
    """Every registered job: schedule, zone, body, pause, pg_cron job, next run."""
    with _connect(dsn) as conn:
        try:
            cur = conn.cursor(row_factory=psycopg.rows.dict_row)
            rows = cur.execute(LIST_SQL).fetchall()
        except psycopg.errors.UndefinedTable:
            raise BgjobsError("bgjobs is not installed in this database (run bgjobs install)") from None
        except psycopg.errors.InsufficientPrivilege as exc:
            raise BgjobsError(f"{first_line(exc)} (grant bgjobs_admin to this login)") from None
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    head = ("JOB", "SCHEDULE", "ZONE", "BODY", "STATE", "NEXT RUN (UTC)")
    table = [head]
    for r in rows:
        state = "disabled" if not r["enabled"] else "active"
        if r["paused"]:
            until = r["paused_until"]
            state = "paused" + (f" until {until.astimezone(timezone.utc):%Y-%m-%d %H:%M}" if until else "")
        nxt = r["next_run"].astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M") if r["next_run"] else "-"
        table.append((r["job_name"], r["schedule"], r["timezone"], r["body"], state, nxt))
    widths = [max(len(str(row[i])) for row in table) for i in range(len(head))]
    for row in table:
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip())


def _interval(name, value):
    from .settings import parse_interval

    if value is None:
        return None
    try:
        return parse_interval(value)
    except ValueError as exc:
        raise BgjobsError(f"--{name}: {exc}") from None


@jobs.command("add")
@click.argument("name")
@click.option("--body", required=True, help="function the job runs: schema.function (or function, in public)")
@click.option("--schedule", required=True, help="5-field cron expression, read in --timezone")
@click.option("--timezone", default="UTC", show_default=True, help="IANA zone, or tenant (each tenant's own)")
@click.option("--timeout", default="30 minutes", show_default=True, help="cancel a run after this long")
@click.option("--expected-duration", default=None, help="a run longer than 1.5x this is slow (default: own p95)")
@click.option("--grace", default=None, help="how late a run may be before it is missed (default: derived)")
@click.option("--description", default="", help="one line shown in status")
@dsn_option
@one_line_errors
def jobs_add(name, body, schedule, timezone, timeout, expected_duration, grace, description, dsn):
    """Register NAME (or update it) and schedule it in pg_cron."""
    from . import install as inst

    args = (name, body, schedule, timezone, _interval("timeout", timeout),
            _interval("expected-duration", expected_duration), _interval("grace", grace), description)
    with _connect(dsn) as conn:
        (res,) = _call(conn, "SELECT bgjobs.register_job(%s, %s, %s, %s, %s, %s, %s, %s)", args)
        where = ""
        if not res["scheduled"]:
            side = _cron_side(conn)
            if side is not None:
                pf, cconn = side
                try:
                    inst.apply_schedules(conn, cconn, pf, report=lambda s: None, only={name})
                finally:
                    if cconn is not conn:
                        cconn.close()
                where = "" if pf.cron_here else f" (pg_cron in database {pf.cron_db})"
            else:
                where = " (not scheduled: pg_cron is not loaded or not created; bgjobs install applies it)"
        (cron_name,) = conn.execute("SELECT coalesce(cron_jobname, job_name) FROM bgjobs.job_registry "
                                    "WHERE job_name = %s", (name,)).fetchone()
    verb = "registered" if res["created"] else ("updated" if res["changed"] else "unchanged")
    click.echo(f"{verb} {name}: {res['body']} at '{res['schedule']}' {res['timezone']}; "
               f"pg_cron job {cron_name} ticks '{res['tick']}'{where}")


@jobs.command("remove")
@click.argument("name")
@dsn_option
@one_line_errors
def jobs_remove(name, dsn):
    """Unregister NAME and unschedule it; its run history stays."""
    from . import install as inst

    with _connect(dsn) as conn:
        row = conn.execute("SELECT coalesce(cron_jobname, job_name) FROM bgjobs.job_registry WHERE job_name = %s",
                           (name,)).fetchone() if conn.execute(
            "SELECT to_regclass('bgjobs.job_registry')").fetchone()[0] else None
        _call(conn, "SELECT bgjobs.unregister_job(%s)", (name,))
        side = _cron_side(conn) if row else None
        if side is not None:
            pf, cconn = side
            try:
                rows = [r for r in inst._runner_cron_rows(cconn, pf) if r[1] == row[0] and r[4] == pf.dbname]
                for jobid, *_ in rows:
                    if pf.superuser:
                        cconn.execute("SELECT cron.unschedule(%s::bigint)", (jobid,))
                    else:
                        with inst._as_runner(cconn):
                            cconn.execute("SELECT cron.unschedule(%s::bigint)", (jobid,))
            finally:
                if cconn is not conn:
                    cconn.close()
    click.echo(f"removed {name} (its run history stays)")


@jobs.command("pause")
@click.argument("name")
@click.option("--until", default=None, help="end of the pause (a timestamp; default: until resumed)")
@click.option("--reason", default=None, help="why (shown in status)")
@dsn_option
@one_line_errors
def jobs_pause(name, until, reason, dsn):
    """Pause NAME: no runs, no missed-run alerts, no catch-up of the slots it covers."""
    with _connect(dsn) as conn:
        _call(conn, "SELECT bgjobs.pause_job(%s, %s::timestamptz, %s)", (name, until, reason))
        (end,) = conn.execute("SELECT paused_until FROM bgjobs.job_registry WHERE job_name = %s", (name,)).fetchone()
    click.echo(f"paused {name}" + (f" until {end.isoformat()}" if end else " until resumed"))


@jobs.command("resume")
@click.argument("name")
@dsn_option
@one_line_errors
def jobs_resume(name, dsn):
    """Resume NAME now; the slots passed while paused are not caught up."""
    with _connect(dsn) as conn:
        _call(conn, "SELECT bgjobs.resume_job(%s)", (name,))
    click.echo(f"resumed {name}")
