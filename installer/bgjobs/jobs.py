"""The job API from Python: what `bgjobs install` and `bgjobs jobs ...` register.

Every job, shipped or a DBA's own, is registered by the SQL function bgjobs.register_job
(sql/api/): the installer calls it for the shipped jobs (registry.py) that are not yet
registered and for the jobs the settings file declares or overrides; nothing else writes
the registry.  A registered row is the DBA's from then on: re-running install leaves it
(its pauses and API overrides included) as it is, unless the settings file names the job.
A shipped job a DBA unregistered stays unregistered (bgjobs.unregistered_jobs) until the
settings file names it or it is registered again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import psycopg
from psycopg import sql

from .errors import BgjobsError
from .registry import BY_NAME, JOBS, Job, default_grace

ARGS = ("body", "schedule", "timezone", "timeout", "expected_duration", "grace", "description")


@dataclass(frozen=True)
class CronSpec:
    """What pg_cron must run for one registered job."""
    name: str               # job name
    tick: str               # pg_cron expression (UTC)
    pg_cron_name: str       # pg_cron job name wanted
    enabled: bool = True


@dataclass
class Registration:
    name: str
    args: dict              # register_job's arguments but job_name
    action: str             # "add" or "update (fields)"
    cron_name: str | None = None      # a shipped job's own pg_cron name
    enabled: bool | None = None       # None: leave as it is
    stale_after: timedelta | None = None


def shipped_args(job: Job) -> dict:
    if job.tenant_local:
        schedule, tz = f"{job.local_time.minute} {job.local_time.hour} * * *", "tenant"
    else:
        schedule, tz = job.tick, job.extra.get("timezone", "UTC")
    return {"body": job.function, "schedule": schedule, "timezone": tz, "timeout": job.timeout,
            "expected_duration": job.expected_duration, "grace": job.grace, "description": job.description}


def row_args(row: dict) -> dict:
    """register_job's arguments that re-register a registry row as it is (a grace that is
    the default for its interval is left to be derived again)."""
    grace = row["grace"]
    if grace == default_grace(row["expected_interval"]):
        grace = None
    return {"body": f"{row['function_schema']}.{row['function_name']}", "schedule": row["schedule"],
            "timezone": row["timezone"], "timeout": row["timeout"], "expected_duration": row["expected_duration"],
            "grace": grace, "description": row["description"]}


def with_settings(args: dict, ov: dict) -> dict:
    """A settings file's [jobs."name"] table (parsed by settings.py) applied to arguments."""
    out = dict(args)
    for key in ("body", "schedule", "timeout", "expected_duration", "grace", "description"):
        if key in ov:
            out[key] = ov[key]
    if "extra" in ov and "timezone" in ov["extra"]:
        out["timezone"] = ov["extra"]["timezone"]
    if "timezone" in ov:
        out["timezone"] = ov["timezone"]
    if "local_time" in ov:
        t = ov["local_time"]
        out["schedule"], out["timezone"] = f"{t.minute} {t.hour} * * *", "tenant"
    return out


def _differs(row: dict, args: dict) -> list[str]:
    current = row_args(row)
    diff = [k for k in ARGS if k != "grace" and current[k] != args[k]]
    if args["grace"] is not None and row["grace"] != args["grace"]:
        diff.append("grace")
    return diff


def existing(conn) -> dict[str, dict]:
    if conn.execute("SELECT to_regclass('bgjobs.job_registry')").fetchone()[0] is None:
        return {}
    cur = conn.cursor(row_factory=psycopg.rows.dict_row)
    return {r["job_name"]: r for r in cur.execute("SELECT * FROM bgjobs.job_registry")}


def unregistered(conn) -> dict[str, object]:
    """Jobs a DBA unregistered (bgjobs.unregistered_jobs): name -> when."""
    if conn.execute("SELECT to_regclass('bgjobs.unregistered_jobs')").fetchone()[0] is None:
        return {}
    return dict(conn.execute("SELECT job_name, unregistered_at FROM bgjobs.unregistered_jobs").fetchall())


def planned(conn, settings, plpython: bool) -> list[Registration]:
    """The registrations an install makes: each shipped job not registered yet (unless a DBA
    unregistered it and the settings file does not name it), and each job the settings file
    declares or overrides where that changes its row."""
    rows = existing(conn)
    gone = unregistered(conn)
    out: list[Registration] = []
    for job in JOBS:
        ov = settings.jobs.get(job.name, {})
        enabled = ov.get("enabled")
        if job.needs_plpython and not plpython:
            enabled = False
        row = rows.get(job.name)
        if row is None and job.name in gone and job.name not in settings.jobs:
            continue                      # the DBA's unregister_job stands
        if row is None:
            out.append(Registration(job.name, with_settings(shipped_args(job), ov), "add", job.cron_name,
                                    job.enabled if enabled is None else enabled, ov.get("stale_after")))
            continue
        args = with_settings(row_args(row), ov)
        diff = _differs(row, args)
        if enabled is not None and enabled != row["enabled"]:
            diff.append("enabled")
        if "stale_after" in ov and ov["stale_after"] != row["stale_after"]:
            diff.append("stale_after")
        if diff:
            out.append(Registration(job.name, args, f"update {job.name} ({', '.join(diff)})", None, enabled,
                                    ov.get("stale_after")))
    for name, ov in settings.jobs.items():
        if name in BY_NAME:
            continue
        row = rows.get(name)
        if row is None:
            args = with_settings({"timezone": "UTC", "timeout": timedelta(minutes=30), "expected_duration": None,
                                  "grace": None, "description": ""}, ov)
            out.append(Registration(name, args, "add", None, ov.get("enabled"), ov.get("stale_after")))
            continue
        args = with_settings(row_args(row), ov)
        diff = _differs(row, args)
        if "enabled" in ov and ov["enabled"] != row["enabled"]:
            diff.append("enabled")
        if diff:
            out.append(Registration(name, args, f"update {name} ({', '.join(diff)})", None, ov.get("enabled"),
                                    ov.get("stale_after")))
    return out


def register(conn, name: str, args: dict) -> dict:
    """bgjobs.register_job(name, ...) with named arguments; errors become one line."""
    names = ["job_name"] + [k for k in ARGS if k in args]
    q = sql.SQL("SELECT bgjobs.register_job({})").format(
        sql.SQL(", ").join(sql.SQL("{} => {}").format(sql.Identifier(k), sql.Placeholder(k)) for k in names))
    try:
        return conn.execute(q, {"job_name": name, **args}).fetchone()[0]
    except psycopg.Error as exc:
        raise BgjobsError(_message(exc)) from None


def apply(conn, regs: list[Registration]) -> None:
    """Register (inside the caller's transaction, with bgjobs.defer_schedule on: the caller
    applies the pg_cron schedules), then the install-only facts: a shipped job's own pg_cron
    name, enabled, stale_after."""
    for reg in regs:
        register(conn, reg.name, reg.args)
        if reg.cron_name:
            conn.execute("UPDATE bgjobs.job_registry SET cron_jobname = %s WHERE job_name = %s "
                         "AND cron_jobname IS NULL", (reg.cron_name, reg.name))
        if reg.enabled is not None:
            conn.execute("UPDATE bgjobs.job_registry SET enabled = %s, updated_at = now() WHERE job_name = %s "
                         "AND enabled IS DISTINCT FROM %s", (reg.enabled, reg.name, reg.enabled))
        if reg.stale_after is not None:
            conn.execute("UPDATE bgjobs.job_registry SET stale_after = %s, updated_at = now() WHERE job_name = %s "
                         "AND stale_after IS DISTINCT FROM %s", (reg.stale_after, reg.name, reg.stale_after))


def specs(conn) -> list[CronSpec]:
    """What pg_cron must run: one spec per registered job.  (A registry from before
    migration 0009 has no tick column yet: its schedule is the tick.)"""
    has_tick = conn.execute("SELECT 1 FROM pg_attribute WHERE attrelid = 'bgjobs.job_registry'::regclass "
                            "AND attname = 'tick' AND NOT attisdropped").fetchone() is not None
    tick = "coalesce(tick, schedule)" if has_tick else "schedule"
    return [CronSpec(n, t, c, e) for n, t, c, e in conn.execute(
        f"SELECT job_name, {tick}, coalesce(cron_jobname, job_name), enabled "
        "FROM bgjobs.job_registry ORDER BY job_name").fetchall()]


def planned_specs(conn, regs: list[Registration]) -> list[CronSpec]:
    """specs() as they will be after `regs` (for --dry-run, before anything is written)."""
    have = {s.name: s for s in (specs(conn) if existing(conn) else [])}
    for reg in regs:
        old = have.get(reg.name)
        tz, sched = reg.args["timezone"], " ".join(str(reg.args["schedule"]).split())
        tick = sched if tz == "UTC" else zone_tick(sched)
        enabled = reg.enabled if reg.enabled is not None else (old.enabled if old else True)
        have[reg.name] = CronSpec(reg.name, tick, old.pg_cron_name if old else (reg.cron_name or reg.name), enabled)
    return sorted(have.values(), key=lambda s: s.name)


def zone_tick(schedule: str) -> str:
    """Python mirror of bgjobs.zone_tick (for --dry-run only; the SQL function decides)."""
    macros = {"@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually"}
    m = "0" if schedule.strip().lower() in macros else schedule.split()[0]
    if not all(p.isdigit() and len(p) <= 2 for p in m.split(",")):
        return "* * * * *"
    mins = sorted({int(v) % 15 + 15 * k for v in m.split(",") for k in range(4)})
    return "*/15 * * * *" if mins == [0, 15, 30, 45] else ",".join(map(str, mins)) + " * * * *"


def _message(exc: psycopg.Error) -> str:
    diag = getattr(exc, "diag", None)
    text = (diag.message_primary if diag is not None and diag.message_primary else str(exc)).strip()
    return text.splitlines()[0] if text else type(exc).__name__
