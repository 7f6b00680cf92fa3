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

from . import __version__, output
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
    with output.steps("installing", click.echo) as report:
        inst.install(resolve_dsn(dsn), cfg, dry_run=dry_run, schedule=not no_schedule, report=report)


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
def check(dsn):
    """Watchdog outside pg_cron: one line per problem; exit 0 ok, 1 warning, 2 critical."""
    from . import check as ck

    sys.exit(ck.run(resolve_dsn(dsn), report=click.echo))


@main.command()
@dsn_option
@click.option("--json", "as_json", is_flag=True, help="JSON output (numbers, ISO-8601 timestamps, seconds)")
@click.option("--wide", is_flag=True, help="every column, whatever the terminal width")
@one_line_errors
def status(dsn, as_json, wide):
    """One row per job: schedule, active, last run and status, health, next expected run.

    On a terminal the table fits its width (the least important columns go first); --wide
    shows every column."""
    from . import status as st

    rows = st.fetch(resolve_dsn(dsn))
    if as_json:
        click.echo(output.dumps(rows))
    else:
        click.echo(st.render(rows, width=output.width_for(), wide=wide, color=output.use_color()))
        from . import maintenance
        from .db import connect
        with connect(resolve_dsn(dsn), autocommit=True) as conn:
            line = maintenance.active_line(conn)
        if line:
            click.echo(line)


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
            from .admin import job_names
            with connect(resolve_dsn(dsn), autocommit=True) as c2:
                close = output.did_you_mean(job, job_names(c2))
            hint = close or (f" ({exc.diag.message_hint})" if exc.diag.message_hint else "")
            raise BgjobsError(first_line(exc) + hint) from None
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


# ---------------------------------------------------------------- the DBA's day: archive, report,
# secrets, silences, settings (logic in archive.py, report.py, admin.py)

@main.command()
@dsn_option
@click.option("--table", "tables", multiple=True, metavar="TABLE",
              help="audit_log or automation_logs (repeatable; default: both)")
@click.option("--older-than", default=None, metavar="DURATION",
              help="cut-off age, e.g. '90 days' (default: the table's retention_days_* setting: 90 / 180 days)")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="CSV file (gzip when it ends in .gz; default ./<table>-before-<date>.csv); needs one --table")
@click.option("--batch-size", default=10_000, show_default=True, help="rows per transaction")
@one_line_errors
def archive(dsn, tables, older_than, out, batch_size):
    """Move log rows older than the cut-off into CSV files, then delete exactly those rows.

    Streams through COPY in key-range batches; each batch is written and fsynced before its
    rows are deleted in the same transaction, so an interrupted run loses nothing and a
    rerun (same --out) resumes it without duplicates."""
    from . import archive as ar
    from .settings import parse_interval

    tables = tables or tuple(ar.TABLES)
    if out is not None and len(tables) != 1:
        raise BgjobsError("--out names one file: give exactly one --table with it")
    for t in tables:
        if t not in ar.TABLES:
            raise BgjobsError(f"--table: cannot archive {t!r}; choose {' or '.join(ar.TABLES)}"
                              f"{output.did_you_mean(t, ar.TABLES)}")
    age = None
    if older_than is not None:
        try:
            age = parse_interval(older_than)
        except ValueError as exc:
            raise BgjobsError(f"--older-than: {exc}") from None
    for t in tables:
        ar.archive(resolve_dsn(dsn), t, older_than=age, out=out, batch_size=batch_size, report=click.echo)


@main.command()
@dsn_option
@click.option("--month", default=None, metavar="YYYY-MM", help="calendar month, UTC (default: last month)")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json", "csv"]), default="text",
              show_default=True)
@click.option("--json", "as_json", is_flag=True, help="same as --format json")
@one_line_errors
def report(dsn, month, fmt, as_json):
    """The monthly report: runs, success rate, average and max time per job, automation rules
    triggered, notifications sent, anomalies."""
    from . import report as rp

    data = rp.build(resolve_dsn(dsn), month or rp.previous_month())
    click.echo(rp.render(data, "json" if as_json else fmt, width=output.width_for(), color=output.use_color()))


@main.group()
def secret():
    """Secrets (SLACK_WEBHOOK_URL, RESEND_API_KEY, SMTP_PASSWORD, ...): set, list names, unset."""


@secret.command("set")
@click.argument("name")
@dsn_option
@one_line_errors
def secret_set(name, dsn):
    """Store secret NAME; the value is read from stdin (hidden prompt on a terminal), never echoed."""
    from . import admin

    if sys.stdin.isatty():
        import getpass
        value = getpass.getpass(f"value for {name} (not echoed): ")
    else:
        value = sys.stdin.read()
        value = value.removesuffix("\n").removesuffix("\r")
    admin.set_secret(resolve_dsn(dsn), name, value)
    click.echo(f"secret {name} stored")


@secret.command("list")
@dsn_option
@click.option("--json", "as_json", is_flag=True, help="JSON output")
@one_line_errors
def secret_list(dsn, as_json):
    """The names of the stored secrets and when each was set (never their values)."""
    from . import admin

    rows = admin.list_secrets(resolve_dsn(dsn))
    if as_json:
        click.echo(output.dumps(rows))
    elif not rows:
        click.echo("no secrets stored")
    else:
        click.echo(output.render_table([output.Column("NAME"), output.Column("SET AT", priority=1)],
                                       [[r["name"], r["updated_at"].strftime("%Y-%m-%d %H:%M:%S %Z")] for r in rows],
                                       width=output.width_for(), color=output.use_color()))


@secret.command("unset")
@click.argument("name")
@dsn_option
@one_line_errors
def secret_unset(name, dsn):
    """Remove secret NAME."""
    from . import admin

    click.echo(f"secret {name} removed" if admin.unset_secret(resolve_dsn(dsn), name) else f"no secret {name}")


@main.command()
@click.argument("job", required=False)
@click.option("--all", "all_jobs", is_flag=True, help="silence every alert")
@click.option("--until", default=None, metavar="TIMESTAMP", help="e.g. '2026-12-01 04:00+00'")
@click.option("--for", "duration", default=None, metavar="DURATION", help="e.g. 2h, 30m, '1 day'")
@click.option("--reason", default=None, help="why (required; shown with the silence)")
@dsn_option
@one_line_errors
def silence(job, all_jobs, until, duration, reason, dsn):
    """No alerts for JOB (or --all) until a time; alerts held back go out after it if still true."""
    from . import admin

    if bool(job) == all_jobs:
        raise BgjobsError("name one JOB or give --all")
    s = admin.silence(resolve_dsn(dsn), None if all_jobs else job, until, duration, reason)
    click.echo(f"silenced {'every alert' if all_jobs else job} until "
               f"{s['until'].astimezone().strftime('%Y-%m-%d %H:%M:%S %Z')} (silence #{s['id']}): {s['reason']}")


@main.command()
@click.argument("job", required=False)
@click.option("--all", "all_jobs", is_flag=True, help="end the silences of everything (made with --all)")
@dsn_option
@one_line_errors
def unsilence(job, all_jobs, dsn):
    """End the active silences of JOB (or the --all silences) now."""
    from . import admin

    if bool(job) == all_jobs:
        raise BgjobsError("name one JOB or give --all")
    n = admin.unsilence(resolve_dsn(dsn), None if all_jobs else job)
    click.echo(f"ended {n} silence(s) of {'everything' if all_jobs else job}")


@main.group("settings")
def settings_group():
    """app_settings: show and set (values are checked before they are stored)."""


@settings_group.command("show")
@click.argument("key", required=False)
@dsn_option
@click.option("--json", "as_json", is_flag=True, help="JSON output")
@one_line_errors
def settings_show(key, dsn, as_json):
    """Every setting (or KEY's) with its value and description."""
    from . import admin

    rows = admin.show_settings(resolve_dsn(dsn), key)
    if as_json:
        click.echo(output.dumps(rows))
        return
    cols = [output.Column("KEY"), output.Column("VALUE"), output.Column("DESCRIPTION", priority=1)]
    click.echo(output.render_table(cols, [[r["key"], r["value"] or "", r["description"] or ""] for r in rows],
                                   width=output.width_for(), color=output.use_color()))


@settings_group.command("set")
@click.argument("key")
@click.argument("value")
@dsn_option
@one_line_errors
def settings_set(key, value, dsn):
    """Set KEY to VALUE in app_settings."""
    from . import admin

    old, new = admin.set_setting(resolve_dsn(dsn), key, value)
    click.echo(f"{key}: {old!r} -> {new!r}" if old is not None else f"{key} = {new!r}")


@main.command("demo-data")
@dsn_option
@click.option("--tenants", default=5, show_default=True, help="tenants (firms) to create")
@click.option("--tasks-per-tenant", default=40, show_default=True)
@click.option("--installments-per-tenant", default=None, type=int, help="default: as many as tasks")
@click.option("--seed", default=1, show_default=True, help="same seed, same data (a second load is a no-op)")
@one_line_errors
def demo_data(dsn, tenants, tasks_per_tenant, installments_per_tenant, seed):
    """Load the realistic demo data set (tenants, users, cases, tasks, hearings, rules, installments)."""
    from . import demodata
    from .db import connect

    if tenants < 1 or tasks_per_tenant < 1:
        raise BgjobsError("--tenants and --tasks-per-tenant must be at least 1")
    with connect(resolve_dsn(dsn), autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('public.tasks')").fetchone()[0] is None:
            raise BgjobsError(f"bgjobs is not installed in database {conn.info.dbname} (run bgjobs install)")
        with output.progress("demo data", demodata.STEPS, unit="tables") as bar:
            counts = demodata.load(conn, tenants=tenants, tasks_per_tenant=tasks_per_tenant, seed=seed,
                                   installments_per_tenant=installments_per_tenant,
                                   on_step=lambda table, n: bar.advance(1))
    if not counts.get("loaded"):
        click.echo(f"demo data of seed {seed} is already loaded; nothing changed")
    else:
        click.echo("loaded: " + ", ".join(f"{n} {t}" for t, n in counts.items() if t != "loaded"))


@main.command()
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=None, help="sandbox directory")
@click.option("--port", type=int, default=None)
@one_line_errors
def demo(directory, port):
    """Sandbox, install, realistic demo data, every job run, then status and notifications."""
    from . import demo as dm

    dm.main(directory, port, report=click.echo)


def _register_groups() -> None:
    from . import distribute, maintenance
    from .jobs_cli import jobs
    from .watch_cli import install_commands as watch_commands

    main.add_command(jobs)                          # bgjobs jobs ...
    maintenance.register(main, one_line_errors)    # bgjobs maintenance ...
    watch_commands(main, dsn_option, one_line_errors)   # bgjobs jobs watch|unwatch
    distribute.register(main, one_line_errors)     # bgjobs distribute


_register_groups()

if __name__ == "__main__":  # pragma: no cover
    main()
