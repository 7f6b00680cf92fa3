"""`bgjobs maintenance`: the seeds' maintenance windows from the shell.

    bgjobs maintenance add [JOB] --from TS --until TS --reason R      one-off
    bgjobs maintenance add [JOB] --every '0 2 1-7 * sun' --for 2h --reason R [--timezone Z]
    bgjobs maintenance list [--json]
    bgjobs maintenance remove ID
    bgjobs maintenance verify            the seeds' post-maintenance checks, one line each

Everything goes through the SQL a DBA would use in psql (bgjobs.add_maintenance_window,
bgjobs.add_recurring_maintenance_window, bgjobs.remove_maintenance_window,
bgjobs.maintenance_until).
"""

from __future__ import annotations

import click
import psycopg
from psycopg.rows import dict_row

from . import output
from .db import connect, first_line, resolve_dsn
from .errors import BgjobsError


def _db_error(exc: psycopg.Error, doing: str) -> BgjobsError:
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return BgjobsError(f"{doing}: permission denied (needs bgjobs_admin)")
    hint = exc.diag.message_hint
    return BgjobsError(f"{doing}: {first_line(exc)}" + (f" ({hint})" if hint else ""))


def add(dsn: str, job: str | None, start: str | None, until: str | None, every: str | None,
        duration: str | None, timezone: str, reason: str | None) -> int:
    from .admin import parse_until
    if not reason or not reason.strip():
        raise BgjobsError("--reason is required (it is shown with the window)")
    with connect(dsn, autocommit=True) as conn:
        try:
            if every:
                if start or until:
                    raise BgjobsError("a recurring window (--every) takes --for, not --from/--until")
                _, d = parse_until(None, duration)
                return conn.execute("SELECT bgjobs.add_recurring_maintenance_window(%s, %s, %s, %s, %s)",
                                    (job, every, d, reason, timezone)).fetchone()[0]
            if not start or not (until or duration):
                raise BgjobsError("a one-off window needs --from and --until (or --for); "
                                  "a recurring one --every and --for")
            if until and duration:
                raise BgjobsError("give --until or --for, not both")
            if duration:
                _, d = parse_until(None, duration)
                return conn.execute("SELECT bgjobs.add_maintenance_window(%s, %s::timestamptz, %s::timestamptz + %s, %s)",
                                    (job, start, start, d, reason)).fetchone()[0]
            return conn.execute("SELECT bgjobs.add_maintenance_window(%s, %s::timestamptz, %s::timestamptz, %s)",
                                (job, start, until, reason)).fetchone()[0]
        except psycopg.Error as exc:
            raise _db_error(exc, "maintenance window") from None


def rows(dsn: str) -> list[dict]:
    with connect(dsn, autocommit=True) as conn:
        try:
            return conn.cursor(row_factory=dict_row).execute(
                "SELECT w.id, coalesce(w.job_name, '*') AS job, w.starts_at, w.ends_at, w.recurrence, "
                "w.duration, w.timezone, w.reason, w.created_by, "
                "bgjobs.maintenance_until(coalesce(w.job_name, ''), now()) IS NOT NULL "
                "  AND (w.recurrence IS NOT NULL OR now() BETWEEN w.starts_at AND w.ends_at) AS active_now "
                "FROM bgjobs.maintenance_windows w "
                "WHERE w.recurrence IS NOT NULL OR w.ends_at > now() ORDER BY w.id").fetchall()
        except psycopg.errors.UndefinedTable:
            raise BgjobsError("bgjobs maintenance windows are not installed here (run bgjobs install)") from None
        except psycopg.Error as exc:
            raise _db_error(exc, "maintenance list") from None


def remove(dsn: str, window_id: int) -> bool:
    with connect(dsn, autocommit=True) as conn:
        try:
            return conn.execute("SELECT bgjobs.remove_maintenance_window(%s)", (window_id,)).fetchone()[0]
        except psycopg.Error as exc:
            raise _db_error(exc, "maintenance remove") from None


def verify(dsn: str) -> list[tuple[str, str, str]]:
    """The seeds' post-maintenance verification, as (level, check, detail): every bgjobs
    pg_cron job active, no failed run in the last hour, no window still open."""
    out = []
    with connect(dsn, autocommit=True) as conn:
        inactive = [r[0] for r in conn.execute(
            "SELECT c.jobname FROM bgjobs.cron_jobs() c JOIN bgjobs.job_registry r "
            "ON c.jobname = coalesce(r.cron_jobname, r.job_name) WHERE r.enabled AND NOT c.active ORDER BY 1")]
        out.append(("FAIL" if inactive else "ok", "pg_cron jobs active",
                    "inactive: " + ", ".join(inactive) if inactive else "every enabled job is active"))
        failed = conn.execute(
            "SELECT count(*) FROM public.audit_log WHERE action_type = 'background_job_execution' "
            "AND details->>'status' = 'failed' AND \"timestamp\" > now() - interval '1 hour'").fetchone()[0]
        out.append(("FAIL" if failed else "ok", "failed runs in the last hour", str(failed)))
        open_ = conn.execute("SELECT count(*) FROM bgjobs.job_registry r "
                             "WHERE bgjobs.maintenance_until(r.job_name, now()) IS NOT NULL").fetchone()[0]
        out.append(("WARN" if open_ else "ok", "maintenance windows",
                    f"{open_} job(s) still inside a window" if open_ else "none open now"))
    return out


def active_line(conn) -> str | None:
    """'maintenance: ...' for `bgjobs status` when a window is open now, else None."""
    try:
        r = conn.execute("SELECT string_agg(DISTINCT coalesce(w.job_name, 'all jobs'), ', '), "
                         "max(bgjobs.maintenance_until(coalesce(w.job_name, ''), now())) "
                         "FROM bgjobs.maintenance_windows w "
                         "WHERE bgjobs.maintenance_until(coalesce(w.job_name, ''), now()) IS NOT NULL "
                         "AND (w.recurrence IS NOT NULL OR now() >= w.starts_at AND now() < w.ends_at)").fetchone()
    except psycopg.Error:
        return None
    if not r or r[0] is None:
        return None
    return f"maintenance window open for {r[0]} until {r[1].strftime('%Y-%m-%d %H:%M %Z')}: those jobs do not run"


# ------------------------------------------------------------------------ the commands

dsn_option = click.option("--dsn", default=None,
                          help="libpq connection string or URI (default: $DATABASE_URL, else libpq's PG* variables)")


def register(main: click.Group, one_line_errors) -> None:
    @main.group()
    def maintenance():
        """Maintenance windows: the named jobs (or all) do not run, raise no missed-run alert,
        and hold their alerts."""

    @maintenance.command("add")
    @click.argument("job", required=False)
    @click.option("--from", "start", default=None, metavar="TIMESTAMP", help="one-off: start")
    @click.option("--until", default=None, metavar="TIMESTAMP", help="one-off: end")
    @click.option("--every", default=None, metavar="'M H DOM MON DOW'",
                  help="recurring start, day of month AND day of week (first Sunday 02:00: '0 2 1-7 * sun')")
    @click.option("--for", "duration", default=None, metavar="DURATION", help="length, e.g. 2h")
    @click.option("--timezone", default="UTC", show_default=True, help="zone of --every")
    @click.option("--reason", default=None, help="why (required)")
    @dsn_option
    @one_line_errors
    def add_cmd(job, start, until, every, duration, timezone, reason, dsn):
        """Add a window for JOB (or every job)."""
        wid = add(resolve_dsn(dsn), job, start, until, every, duration, timezone, reason)
        click.echo(f"maintenance window #{wid} added for {job or 'every job'}")

    @maintenance.command("list")
    @click.option("--json", "as_json", is_flag=True)
    @dsn_option
    @one_line_errors
    def list_cmd(as_json, dsn):
        """Windows that are open or still to come."""
        rs = rows(resolve_dsn(dsn))
        if as_json:
            click.echo(output.dumps(rs))
            return
        if not rs:
            click.echo("no maintenance windows")
            return
        cols = [output.Column("ID"), output.Column("JOB"), output.Column("WHEN"), output.Column("OPEN NOW"),
                output.Column("REASON", priority=1)]
        table = [[str(r["id"]), r["job"],
                  (f"{r['recurrence']} ({r['timezone']}) for {r['duration']}" if r["recurrence"] else
                   f"{r['starts_at']:%Y-%m-%d %H:%M %Z} to {r['ends_at']:%Y-%m-%d %H:%M %Z}"),
                  "yes" if r["active_now"] else "no", r["reason"]] for r in rs]
        click.echo(output.render_table(cols, table, width=output.width_for(), color=output.use_color()))

    @maintenance.command("remove")
    @click.argument("window_id", type=int)
    @dsn_option
    @one_line_errors
    def remove_cmd(window_id, dsn):
        """Remove (end) window WINDOW_ID."""
        if not remove(resolve_dsn(dsn), window_id):
            raise BgjobsError(f"no maintenance window #{window_id}")
        click.echo(f"maintenance window #{window_id} removed")

    @maintenance.command("verify")
    @dsn_option
    @one_line_errors
    def verify_cmd(dsn):
        """The seeds' post-maintenance checks; non-zero if one fails."""
        results = verify(resolve_dsn(dsn))
        for level, name, detail in results:
            click.echo(f"{level:<4} {name}: {detail}")
        if any(level == "FAIL" for level, _, _ in results):
            raise SystemExit(1)
