"""The `bgjobs` command line (CONTRACT section 2).

Every command exits 0 on success and non-zero with a one-line reason on an expected
failure (refused connection, missing extension, unknown job, bad settings file, ...).
"""

from __future__ import annotations

import json
import sys
from functools import wraps
from pathlib import Path

import click
import psycopg

from . import __version__
from .db import first_line, resolve_dsn
from .errors import BgjobsError

DSN_HELP = "libpq connection string or URI (default: $DATABASE_URL, else libpq's PG* variables)"


def one_line_errors(fn):
    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except BgjobsError as exc:
            click.echo(f"bgjobs: {exc}", err=True)
            sys.exit(1)
        except psycopg.Error as exc:
            click.echo(f"bgjobs: database error: {first_line(exc)}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("bgjobs: interrupted", err=True)
            sys.exit(130)
    return wrapper


dsn_option = click.option("--dsn", default=None, help=DSN_HELP)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bgjobs")
def main():
    """bgjobs: PostgreSQL-native background jobs (pg_cron + in-database functions)."""


# ---------------------------------------------------------------- sandbox

@main.group()
def sandbox():
    """An embedded local PostgreSQL (pg_cron preloaded, plpython3u available)."""


@sandbox.command("start")
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=None,
              help="cluster directory (default: $BGJOBS_SANDBOX_DIR, /var/lib/bgjobs/sandbox as root, "
                   "else ~/.local/share/bgjobs/sandbox)")
@click.option("--port", type=int, default=None, help="TCP port on 127.0.0.1 (default 54329, or a free one)")
@one_line_errors
def sandbox_start(directory, port):
    """Create (once) and start the sandbox; print its DSN as the last line."""
    from . import sandbox as sb_mod

    sb = sb_mod.start(directory, port)
    click.echo(f"sandbox running in {sb.dir} (server runs as OS user {sb.os_user}, log {sb.logfile})")
    click.echo(sb.dsn)


@sandbox.command("stop")
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=None)
@one_line_errors
def sandbox_stop(directory):
    """Stop the sandbox."""
    from . import sandbox as sb_mod

    click.echo("stopped" if sb_mod.stop(directory) else "not running")


@sandbox.command("status")
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=None)
@one_line_errors
def sandbox_status(directory):
    """Say whether the sandbox runs (exit 0 if it does, 3 if not)."""
    from . import sandbox as sb_mod

    sb = sb_mod.load(directory)
    if sb is None:
        click.echo(f"no sandbox in {directory or sb_mod.default_dir()}")
        sys.exit(3)
    if sb_mod.is_running(sb):
        click.echo(f"running in {sb.dir} on 127.0.0.1:{sb.port}")
        click.echo(sb.dsn)
    else:
        click.echo(f"stopped ({sb.dir})")
        sys.exit(3)


# ---------------------------------------------------------------- install / uninstall

@main.command()
@dsn_option
@click.option("--settings", "settings_file", type=click.Path(path_type=Path), default=None,
              help="TOML settings file (app_settings keys; [jobs.\"<name>\"] overrides)")
@click.option("--dry-run", is_flag=True, help="print the plan and change nothing")
@click.option("--no-schedule", is_flag=True, help="install without pg_cron schedules")
@one_line_errors
def install(dsn, settings_file, dry_run, no_schedule):
    """Preflight, migrations, functions, roles, settings, job registry, pg_cron schedules (idempotent)."""
    from . import install as inst
    from . import settings

    cfg = settings.load(settings_file)   # a bad file is refused before anything is touched
    inst.install(resolve_dsn(dsn), cfg, dry_run=dry_run, schedule=not no_schedule, report=click.echo)


@main.command()
@dsn_option
@click.option("--yes", is_flag=True, help="really remove")
@click.option("--keep-data", is_flag=True, help="keep the tables and their rows")
@one_line_errors
def uninstall(dsn, yes, keep_data):
    """Unschedule and remove what install created in this database, nothing else."""
    from . import install as inst

    if not yes:
        raise BgjobsError("uninstall removes bgjobs' schedules, functions, views and (without --keep-data) "
                          "its tables and their data from this database; run again with --yes")
    inst.uninstall(resolve_dsn(dsn), keep_data=keep_data, report=click.echo)


# ---------------------------------------------------------------- operate

@main.command()
@dsn_option
@one_line_errors
def doctor(dsn):
    """Check what install needs and what keeps jobs running; non-zero if any check fails."""
    from . import doctor as doc

    ok = doc.run(resolve_dsn(dsn), report=click.echo)
    sys.exit(0 if ok else 1)


@main.command()
@dsn_option
@click.option("--json", "as_json", is_flag=True, help="JSON output")
@one_line_errors
def status(dsn, as_json):
    """One row per job: schedule, active, last run and status, health, next expected run."""
    from . import status as st

    rows = st.fetch(resolve_dsn(dsn))
    click.echo(json.dumps(rows, indent=2, default=str) if as_json else st.render(rows))


@main.command()
@click.argument("job")
@dsn_option
@click.option("--as-of", "as_of", default=None, help="run as of this timestamp (e.g. '2026-11-23 02:00+05:30')")
@click.option("--allow-future", is_flag=True,
              help="allow an --as-of more than a day ahead (it changes business data for good)")
@one_line_errors
def run(job, dsn, as_of, allow_future):
    """Run JOB now through run_job(); print its response (audited as a manual trigger)."""
    from .db import connect

    with connect(resolve_dsn(dsn), autocommit=True) as conn:
        if allow_future:
            conn.execute("SET bgjobs.allow_future_as_of = on")
        try:
            resp = conn.execute("SELECT public.run_job(%s, coalesce(%s::timestamptz, now()))", (job, as_of)).fetchone()[0]
        except psycopg.errors.UndefinedObject as exc:
            raise BgjobsError(first_line(exc) + (f" ({exc.diag.message_hint})" if exc.diag.message_hint else "")) from None
        except psycopg.errors.UndefinedFunction:
            raise BgjobsError("run_job() not found: bgjobs is not installed in this database (run bgjobs install)") from None
        except (psycopg.errors.InvalidDatetimeFormat, psycopg.errors.InvalidParameterValue) as exc:
            hint = exc.diag.message_hint
            raise BgjobsError(f"--as-of: {first_line(exc)}" + (" (or --allow-future)" if hint else "")) from None
    click.echo(json.dumps(resp, indent=2))
    if not resp.get("success"):
        what = "skipped" if resp.get("skipped") else "failed"
        click.echo(f"bgjobs: job {job} {what}: {resp.get('error')}", err=True)
        sys.exit(2)


@main.command()
@dsn_option
@click.option("--once", is_flag=True, help="deliver what is due now, then exit")
@click.option("--interval", default=5.0, show_default=True, help="seconds between polls")
@one_line_errors
def worker(dsn, once, interval):
    """Deliver the notification outbox from outside the database (servers without plpython3u)."""
    from . import worker as wk

    wk.main(resolve_dsn(dsn), once=once, interval=interval, report=click.echo)


@main.command()
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=None, help="sandbox directory")
@click.option("--port", type=int, default=None)
@one_line_errors
def demo(directory, port):
    """Sandbox, install, realistic demo data, every job run, then status and notifications."""
    from . import demo as dm

    dm.main(directory, port, report=click.echo)


from .jobs_cli import jobs as _jobs_group; main.add_command(_jobs_group)  # noqa: E402,E702  (bgjobs jobs ...)

if __name__ == "__main__":  # pragma: no cover
    main()
