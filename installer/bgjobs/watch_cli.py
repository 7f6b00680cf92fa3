"""`bgjobs jobs watch|unwatch`: monitor-only jobs and the pg_cron jobs bgjobs watches.

Everything goes through the SQL a DBA would call in psql: bgjobs.watch_job(),
bgjobs.unwatch_job(), bgjobs.unwatch_cron_job() and bgjobs.watch_cron_job().  A refusal is
reported as the first line of the database's message, and nothing is changed.
"""

from __future__ import annotations

import json

import click
import psycopg

from .db import connect, first_line, resolve_dsn
from .errors import BgjobsError


def _installed(conn) -> None:
    if conn.execute("SELECT to_regprocedure('bgjobs.watch_job(text,text,text,interval)')").fetchone()[0] is None:
        raise BgjobsError(f"bgjobs (with watching) is not installed in database {conn.info.dbname} (run bgjobs install)")


def _fail(exc: psycopg.Error, doing: str) -> BgjobsError:
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return BgjobsError(f"{doing}: permission denied (needs bgjobs_admin)")
    return BgjobsError(f"{doing}: {first_line(exc)}")


def watch(dsn: str, name: str, schedule: str, timezone: str, grace: str | None) -> dict:
    with connect(dsn, autocommit=True) as conn:
        _installed(conn)
        if grace is not None:
            try:
                conn.execute("SELECT %s::interval", (grace,))
            except psycopg.Error:
                raise BgjobsError(f"watch {name}: invalid grace {grace!r} (an interval such as '15 minutes')") from None
        try:
            return conn.execute("SELECT bgjobs.watch_job(%s, %s, %s, %s::interval)",
                                (name, schedule, timezone, grace)).fetchone()[0]
        except psycopg.Error as exc:
            raise _fail(exc, f"watch {name}") from None


def unwatch(dsn: str, name: str) -> bool:
    with connect(dsn, autocommit=True) as conn:
        _installed(conn)
        try:
            return conn.execute("SELECT bgjobs.unwatch_job(%s)", (name,)).fetchone()[0]
        except psycopg.Error as exc:
            raise _fail(exc, f"unwatch {name}") from None


def cron(dsn: str, job: str, database: str | None, watched: bool) -> int:
    """Opt a pg_cron job (jobid or name) out of the watch, or back in."""
    fn = "bgjobs.watch_cron_job" if watched else "bgjobs.unwatch_cron_job"
    with connect(dsn, autocommit=True) as conn:
        _installed(conn)
        try:
            if job.isdigit() and database is None:
                return conn.execute(f"SELECT {fn}(%s::bigint)", (int(job),)).fetchone()[0]
            return conn.execute(f"SELECT {fn}(%s::text, %s::text)", (job, database)).fetchone()[0]
        except psycopg.Error as exc:
            raise _fail(exc, f"{'watch' if watched else 'unwatch'} pg_cron job {job}") from None


def register(jobs: click.Group, dsn_option, one_line_errors) -> None:
    """Add `watch` and `unwatch` to the `bgjobs jobs` group."""

    @jobs.command("watch")
    @dsn_option
    @click.argument("name")
    @click.option("--schedule", default=None, help="5-field cron expression the work runs on (monitor-only job)")
    @click.option("--timezone", default="UTC", show_default=True, help="IANA zone the schedule is read in")
    @click.option("--grace", default=None, help="how late a check-in may be, e.g. '15 minutes' (default: from the schedule)")
    @click.option("--cron", "is_cron", is_flag=True, help="NAME is a pg_cron job (name or jobid) to watch again")
    @click.option("--database", default=None, help="with --cron: only the job of that name in this database")
    @click.option("--json", "as_json", is_flag=True)
    @one_line_errors
    def jobs_watch(dsn, name, schedule, timezone, grace, is_cron, database, as_json):
        """Watch a monitor-only job NAME that checks in with update_job_heartbeat(NAME, status).

        The work calls update_job_heartbeat(NAME, 'started') when it starts (optional: it
        measures run time and catches runs that never finish) and update_job_heartbeat(NAME)
        or update_job_heartbeat(NAME, 'failed', '{"error": "..."}') when it ends.  With
        --cron: watch a pg_cron job again after `bgjobs jobs unwatch --cron`.
        """
        dsn = resolve_dsn(dsn)
        if is_cron:
            if schedule is not None:
                raise BgjobsError("--schedule is for monitor-only jobs; a pg_cron job has its own")
            n = cron(dsn, name, database, True)
            click.echo(f"pg_cron job {name} is watched" + ("" if n else " (it was not opted out)"))
            return
        if not schedule:
            raise BgjobsError(f"watch {name}: --schedule is required (the cron expression the work runs on)")
        row = watch(dsn, name, schedule, timezone, grace)
        if as_json:
            click.echo(json.dumps(row))
        else:
            click.echo(f"watching {row['job_name']}: schedule {row['schedule']} ({row['timezone']}), "
                       f"grace {row['grace']}; next check-in expected {row.get('next_expected_run') or 'unknown'}")

    @jobs.command("unwatch")
    @dsn_option
    @click.argument("name")
    @click.option("--cron", "is_cron", is_flag=True, help="NAME is a pg_cron job (name or jobid) to stop watching")
    @click.option("--database", default=None, help="with --cron: only the job of that name in this database")
    @one_line_errors
    def jobs_unwatch(dsn, name, is_cron, database):
        """Stop watching a monitor-only job (its history stays), or with --cron a pg_cron job."""
        dsn = resolve_dsn(dsn)
        if is_cron:
            n = cron(dsn, name, database, False)
            click.echo(f"pg_cron job {name} is no longer watched ({n} job{'s' if n != 1 else ''})")
            return
        if not unwatch(dsn, name):
            raise BgjobsError(f"unwatch {name}: no monitor-only job of that name")
        click.echo(f"{name} is no longer watched")


def install_commands(main: click.Group, dsn_option, one_line_errors) -> None:
    """One line in cli.py: the `jobs` group (made here unless it exists) with watch/unwatch."""
    jobs = main.commands.get("jobs")
    if jobs is None:
        @main.group("jobs")
        def jobs():
            """Jobs from the shell: monitor-only jobs and the pg_cron jobs bgjobs watches."""
    register(jobs, dsn_option, one_line_errors)
