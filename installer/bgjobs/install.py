"""`bgjobs install` and `bgjobs uninstall`.

install = preflight -> roles and extensions -> yoyo migrations -> SQL objects (sql/,
re-applied on every install, with the plpython/ modules embedded) + app_settings +
job registry in one transaction -> pg_cron schedules (in pg_cron's own database, through
cron.schedule_in_database when that is another one).  Idempotent; --dry-run only plans.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import sqlparse
from psycopg import sql

from . import apptables
from . import jobs as job_api
from .db import YOYO_TABLES, connect, first_line, yoyo_uri
from .errors import BgjobsError
from .jobs import CronSpec, Registration
from .resources import migrations_dir, plpython_dir, sql_dir
from .settings import DEFAULTS, Settings

ROLES = ("bgjobs_admin", "bgjobs_viewer", "bgjobs_runner", "bgjobs_deliverer")
RUNNER = "bgjobs_runner"          # pg_cron runs bgjobs' jobs as this role (LOGIN, no password)
PINNED_PATH = "pg_catalog, pg_temp"
# The runtime (functions, api, monitoring, views, plpython; database schema bgjobs) and, in
# sql/app, the seeds' application: its six jobs, the automation-rule runner and its tables'
# triggers (database schema bgjobs_app).
SQL_ORDER = ("functions", "api", "app", "monitoring", "views", "plpython")
Report = Callable[[str], None]


@dataclass
class Preflight:
    dbname: str
    user: str
    server_version: str
    superuser: bool
    cron_preloaded: bool
    cron_db: str | None
    plpython: bool                # plpython3u installed or installable here
    notes: list[str] = field(default_factory=list)

    @property
    def cron_here(self) -> bool:
        return self.cron_db == self.dbname


CRON_FUNCTIONS = ("cron.schedule_in_database(text,text,text,text,text,boolean)",
                  "cron.alter_job(bigint,text,text,text,text,boolean)")


def preflight(conn: psycopg.Connection, need_cron: bool = True) -> Preflight:
    """Everything install needs, checked before its first change.  What only a superuser
    can grant is collected and named in one line, as the exact statements to run."""
    q = lambda s, *a: conn.execute(s, a or None).fetchone()
    num, version = q("SELECT current_setting('server_version_num')::int, current_setting('server_version')")
    dbname, user, superuser, createrole = q(
        "SELECT current_database(), current_user, r.rolsuper, r.rolcreaterole FROM pg_roles r WHERE r.rolname = current_user")
    if num < 150000:
        raise BgjobsError(f"PostgreSQL 15 or newer is required; {dbname} runs {version}")
    grants: list[str] = []
    qi = lambda name: sql.Identifier(name).as_string(conn)
    if not q("SELECT has_database_privilege(current_database(), 'CREATE')")[0]:
        grants.append(f"GRANT CREATE ON DATABASE {qi(dbname)} TO {qi(user)}")
    if not q("SELECT has_schema_privilege('public', 'CREATE')")[0]:
        grants.append(f"GRANT CREATE ON SCHEMA public TO {qi(user)}")
    missing_roles = [r for r in ROLES if not q("SELECT 1 FROM pg_roles WHERE rolname = %s", r)]
    if not superuser and not createrole:
        if missing_roles:
            grants += [f"CREATE ROLE {r} {'LOGIN' if r == RUNNER else 'NOLOGIN'}" for r in missing_roles]
        for r in (RUNNER,):
            if r in missing_roles or not q("SELECT pg_has_role(current_user, %s, 'MEMBER')", r)[0]:
                grants.append(f"GRANT {r} TO {qi(user)}")

    # pg_cron: here (its schema is in this database), or in cron.database_name
    cron_here = q("SELECT 1 FROM pg_namespace WHERE nspname = 'cron'") is not None
    try:
        with conn.transaction():
            cron_db = q("SELECT current_setting('cron.database_name', true)")[0]
    except psycopg.errors.InsufficientPrivilege:
        cron_db = dbname if cron_here else None
        if need_cron and not cron_here:
            grants.append(f"GRANT pg_read_all_settings TO {qi(user)}")
    loaded = bool(cron_db) or cron_here
    if need_cron and not loaded and not grants:
        raise BgjobsError("pg_cron is not loaded: add shared_preload_libraries = 'pg_cron' and "
                          "cron.database_name = '<database>' to postgresql.conf and restart the server "
                          "(or install with --no-schedule)")
    installed_py = q("SELECT 1 FROM pg_extension WHERE extname = 'plpython3u'") is not None
    available_py = q("SELECT 1 FROM pg_available_extensions WHERE name = 'plpython3u'") is not None
    # PL/Python is an untrusted language: only a superuser creates its functions
    pf = Preflight(dbname, user, version, bool(superuser), loaded, cron_db, (installed_py or available_py) and bool(superuser))
    if need_cron and loaded and not superuser:
        grants += _cron_grants_needed(conn, pf, missing_roles)
    if grants:
        raise BgjobsError(f"{user} cannot install bgjobs into {dbname} yet; nothing was changed. "
                          f"As a superuser, run: {'; '.join(grants)};  then install again")
    if not pf.plpython:
        why = ("not available on this server" if not available_py
               else f"only a superuser can create PL/Python functions ({user} is not)")
        pf.notes.append(f"plpython3u {why}: notifications are delivered by `bgjobs worker` "
                        "(grant bgjobs_deliverer to its login); everything else is installed")
    return pf


def _cron_grants_needed(conn, pf: Preflight, missing_roles: list[str]) -> list[str]:
    """What bgjobs_runner needs in pg_cron's database for a non-superuser install to
    schedule bgjobs' jobs as it (pg_cron lets only a superuser schedule for another role)."""
    try:
        cconn = _cron_conn(conn, pf)
    except BgjobsError as exc:
        raise BgjobsError(f"pg_cron lives in database {pf.cron_db}: {exc}") from None
    try:
        if cconn.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'cron'").fetchone() is None:
            return [f"CREATE EXTENSION pg_cron /* in database {pf.cron_db} */"]
        need = []
        runner_exists = RUNNER not in missing_roles
        usage = runner_exists and cconn.execute("SELECT has_schema_privilege(%s, 'cron', 'USAGE')", (RUNNER,)).fetchone()[0]
        if not usage:
            need.append(f"GRANT USAGE ON SCHEMA cron TO {RUNNER} /* in database {pf.cron_db} */")
        missing_fn = []
        for sig in CRON_FUNCTIONS:
            name = sig.split("(")[0].split(".")[1]
            oid = cconn.execute("SELECT p.oid FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                                "WHERE n.nspname = 'cron' AND p.proname = %s", (name,)).fetchone()
            if oid is None or not runner_exists or not cconn.execute(
                    "SELECT has_function_privilege(%s, %s::oid, 'EXECUTE')", (RUNNER, oid[0])).fetchone()[0]:
                missing_fn.append(sig)
        if missing_fn:
            need.append(f"GRANT EXECUTE ON FUNCTION {', '.join(missing_fn)} TO {RUNNER} /* in database {pf.cron_db} */")
        if need and not runner_exists:
            need.insert(0, f"CREATE ROLE {RUNNER} LOGIN")
        return need
    finally:
        if cconn is not conn:
            cconn.close()


# --------------------------------------------------------------------------- plans

@dataclass
class Plan:
    preflight: Preflight
    migrations: list[str]
    sql_files: list[Path]
    settings_changes: list[tuple[str, str | None, str]]
    registry_changes: list[str]
    schedule_actions: list[tuple[str, str, str]]     # (action, cron name, detail)
    jobs: list[Registration]                         # bgjobs.register_job calls to make
    app: apptables.AppTables | None = None

    def lines(self) -> list[str]:
        pf = self.preflight
        out = [f"target: database {pf.dbname} as {pf.user} (PostgreSQL {pf.server_version}); "
               f"pg_cron in database {pf.cron_db or '(not loaded)'}; plpython3u: {'yes' if pf.plpython else 'no'}"]
        out += [f"note: {n}" for n in pf.notes]
        out.append(f"migrations to apply: {len(self.migrations)}" + (f" ({', '.join(self.migrations)})" if self.migrations else ""))
        if self.app is not None:
            out += self.app.lines(first_install=bool(self.migrations))
        out.append(f"SQL objects to (re)apply: {len(self.sql_files)} files")
        for key, old, new in self.settings_changes:
            shown = new if len(new) < 60 else new[:57] + "..."
            out.append(f"setting {key}: {'(new)' if old is None else repr(old)} -> {shown!r}")
        out += [f"registry: {c}" for c in self.registry_changes]
        for action, name, detail in self.schedule_actions:
            out.append(f"pg_cron {action}: {name} {detail}".rstrip())
        return out

    @property
    def changes(self) -> int:
        return (len(self.migrations) + len(self.settings_changes) + len(self.registry_changes)
                + sum(1 for a, _, _ in self.schedule_actions if a != "unchanged"))


def _sql_files(include_plpython: bool) -> list[Path]:
    root = sql_dir()
    files: list[Path] = []
    subdirs = [d for d in SQL_ORDER if (root / d).is_dir()]
    subdirs += sorted(d.name for d in root.iterdir() if d.is_dir() and d.name not in SQL_ORDER)
    for d in subdirs:
        if d == "plpython" and not include_plpython:
            continue
        files += sorted((root / d).glob("*.sql"))
    return files


def _existing_registry(conn) -> dict[str, dict]:
    return job_api.existing(conn)


def _existing_settings(conn) -> dict[str, str]:
    if conn.execute("SELECT to_regclass('public.app_settings')").fetchone()[0] is None:
        return {}
    return dict(conn.execute("SELECT key, value FROM public.app_settings").fetchall())


# --------------------------------------------------------------------------- pg_cron

def _cron_conn(conn: psycopg.Connection, pf: Preflight) -> psycopg.Connection:
    if pf.cron_here:
        return conn
    return connect(conn.info.dsn, dbname=pf.cron_db, autocommit=True, password=conn.info.password or None)


def _cron_ready(cconn: psycopg.Connection) -> bool:
    # from the catalog: a non-superuser installer may have no USAGE on schema cron
    return cconn.execute("SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                         "WHERE n.nspname = 'cron' AND c.relname = 'job'").fetchone() is not None


def _command(job: CronSpec) -> str:
    return f"CALL bgjobs.run_scheduled_job('{job.name}')"


def _schedule_plan(conn, cconn, pf: Preflight, jobs: list[CronSpec]) -> list[tuple[str, str, str, CronSpec | None, int | None]]:
    """(action, cron name, detail, job, jobid) for each job; action in create/update/move/unchanged.
    bgjobs' pg_cron jobs belong to bgjobs_runner; a job an older release scheduled as the
    installing role is moved to the runner (same name, same schedule)."""
    existing_reg = _existing_registry(conn)
    cron_rows = []
    if cconn is not None and _cron_ready(cconn):
        cron_rows = _runner_cron_rows(cconn, pf)
    by_name = {r[1]: r for r in cron_rows if r[6] == RUNNER}
    legacy = {r[1]: r for r in cron_rows if r[6] != RUNNER and r[4] == pf.dbname
              and r[3].startswith("CALL bgjobs.run_scheduled_job(")}
    plan = []
    for j in jobs:
        name = (existing_reg.get(j.name) or {}).get("cron_jobname") or j.pg_cron_name
        row = by_name.get(name)
        if row is not None and row[4] != pf.dbname:
            # pg_cron keys jobs by name and user: that name belongs to another database's
            # install (re-scheduling it would silently rewire that job). Use our own name.
            name = f"{j.pg_cron_name}@{pf.dbname}"
            row = by_name.get(name)
        want = (j.tick, _command(j), pf.dbname)
        if row is None and name in legacy:
            old = legacy[name]
            plan.append(("move", name, f"from role {old[6]} to {RUNNER}", j, old[0]))
        elif row is None:
            plan.append(("create", name, f"'{j.tick}'" + ("" if j.enabled else " (inactive)"), j, None))
        elif (row[2], row[3], row[4]) != want or (not j.enabled and row[5]):
            plan.append(("update", name, f"'{row[2]}' -> '{j.tick}'" + ("" if j.enabled else " (inactive)"), j, row[0]))
        else:
            plan.append(("unchanged", name, "", j, row[0]))
    return plan


def _runner_cron_rows(cconn, pf: Preflight) -> list[tuple]:
    """(jobid, jobname, schedule, command, database, active, username) of the runner's jobs
    and of the installing role's own (an older release scheduled as it)."""
    q = ("SELECT jobid, jobname, schedule, command, database, active, username FROM cron.job "
         "WHERE username IN (%s, current_user)")
    if pf.superuser:
        return cconn.execute(q, (RUNNER,)).fetchall()
    rows = []
    if cconn.execute("SELECT has_schema_privilege('cron', 'USAGE')").fetchone()[0]:
        rows = cconn.execute(q, (RUNNER,)).fetchall()        # the installer's own
    if not cconn.execute("SELECT pg_has_role(current_user, %s, 'MEMBER')", (RUNNER,)).fetchone()[0]:
        return rows                                          # first install: the runner has no jobs yet
    with _as_runner(cconn):
        rows += cconn.execute(q, (RUNNER,)).fetchall()       # row security: the runner's
    return list({r[0]: r for r in rows}.values())


class _as_runner:
    """SET ROLE bgjobs_runner for a non-superuser installer (pg_cron lets only a superuser
    schedule a job for another role; a member of the runner schedules as it)."""
    def __init__(self, cconn):
        self.cconn = cconn

    def __enter__(self):
        self.cconn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(RUNNER)))

    def __exit__(self, *exc):
        self.cconn.execute("RESET ROLE")


def _apply_schedules(cconn, pf: Preflight, plan) -> None:
    def schedule(name, job):
        if pf.superuser:
            return cconn.execute("SELECT cron.schedule_in_database(%s, %s, %s, %s, %s, %s)",
                                 (name, job.tick, _command(job), pf.dbname, RUNNER, job.enabled)).fetchone()[0]
        with _as_runner(cconn):
            return cconn.execute("SELECT cron.schedule_in_database(%s, %s, %s, %s, NULL, %s)",
                                 (name, job.tick, _command(job), pf.dbname, job.enabled)).fetchone()[0]

    for action, name, _, job, jobid in plan:
        if action == "create":
            schedule(name, job)
        elif action == "move":
            cconn.execute("SELECT cron.unschedule(%s::bigint)", (jobid,))
            schedule(name, job)
        elif action == "update":
            # schedule, command and database; a job paused in pg_cron by hand stays paused
            # (install re-activates nothing), one disabled in the registry is made inactive
            args = (jobid, job.tick, _command(job), pf.dbname, None if job.enabled else False)
            if pf.superuser:
                cconn.execute("SELECT cron.alter_job(%s, %s, %s, %s, NULL, %s)", args)
            else:
                with _as_runner(cconn):
                    cconn.execute("SELECT cron.alter_job(%s, %s, %s, %s, NULL, %s)", args)


# --------------------------------------------------------------------------- install

def expand_plpython(body: str, modules: dict[str, str]) -> str:
    """Replace each '#bgjobs:import NAME' line by a loader that execs the module's source
    (stored in bgjobs.plpython_modules) once per session, keyed by its hash in GD."""
    def loader(m: re.Match) -> str:
        name = m.group(1)
        if name not in modules:
            raise BgjobsError(f"PL/Python import of unknown module {name!r}")
        key = f"bgjobs_mod:{name}:{hashlib.sha256(modules[name].encode()).hexdigest()[:16]}"
        return (
            f"if {key!r} not in GD:\n"
            f"    import sys as _sys, types as _types\n"
            f"    _src = plpy.execute(\"SELECT source FROM bgjobs.plpython_modules WHERE name = '{name}'\")[0]['source']\n"
            f"    _mod = _types.ModuleType({name!r})\n"
            f"    _mod.__file__ = 'plpython/{name}.py'\n"
            f"    exec(compile(_src, 'plpython/{name}.py', 'exec'), _mod.__dict__)\n"
            f"    _sys.modules[{name!r}] = _mod\n"
            f"    GD[{key!r}] = _mod\n"
            f"{name} = GD[{key!r}]"
        )
    return re.sub(r"^#bgjobs:import (\w+)\s*$", loader, body, flags=re.MULTILINE)


# Modules under plpython/ that the server does not run: the schedule math is SQL
# (bgjobs.cron_fire); the command line keeps bgjobs_schedule to check a settings file
# before it connects.
CLIENT_ONLY_MODULES = frozenset({"bgjobs_schedule"})


def _plpython_modules() -> dict[str, str]:
    return {p.stem: p.read_text() for p in sorted(plpython_dir().glob("*.py"))
            if not p.name.startswith("_") and p.stem not in CLIENT_ONLY_MODULES}


def _run_migrations(conn: psycopg.Connection, report: Report, adopt: bool = False) -> list[str]:
    from yoyo import get_backend, read_migrations

    conn.execute("CREATE SCHEMA IF NOT EXISTS bgjobs")
    conn.execute("REVOKE ALL ON SCHEMA bgjobs FROM PUBLIC")
    backend = get_backend(yoyo_uri(conn))
    try:
        migrations = read_migrations(str(migrations_dir()))
        with backend.lock():
            backend.ensure_internal_schema_updated()       # bgjobs' own history tables
            _adopt_legacy_history(conn, [m.id for m in migrations], report)
            pending = backend.to_apply(migrations)
            if adopt:
                # the application's own tables are used as they are: the migration that
                # would create them is recorded as applied without running
                skip = pending.filter(lambda m: m.id == apptables.CREATING_MIGRATION)
                if skip:
                    backend.mark_migrations(skip)
                    report(f"adopted the application's tables: {apptables.CREATING_MIGRATION} marked applied, not run")
                pending = pending.filter(lambda m: m.id != apptables.CREATING_MIGRATION)
            names = [m.id for m in pending]
            if pending:
                backend.apply_migrations(pending)
                report(f"applied migrations: {', '.join(names)}")
        return names
    finally:
        backend.connection.close()


def _adopt_legacy_history(conn: psycopg.Connection, ours: list[str], report: Report) -> None:
    """Releases up to 0.1 kept bgjobs' yoyo history in public, where an application's own
    yoyo history lives too.  Move bgjobs' rows into bgjobs' own history tables; drop the
    public tables only when nothing but bgjobs' rows was in them."""
    if conn.execute("SELECT to_regclass('public._yoyo_migration')").fetchone()[0] is None:
        return
    with conn.transaction():
        moved = conn.execute(
            "INSERT INTO bgjobs._yoyo_migration SELECT p.* FROM public._yoyo_migration p "
            "WHERE p.migration_id = ANY(%s) AND NOT EXISTS "
            "(SELECT 1 FROM bgjobs._yoyo_migration b WHERE b.migration_id = p.migration_id)", (ours,)).rowcount
        conn.execute("DELETE FROM public._yoyo_migration WHERE migration_id = ANY(%s)", (ours,))
        conn.execute("DELETE FROM public._yoyo_log WHERE migration_id = ANY(%s)", (ours,))
        left = conn.execute("SELECT count(*) FROM public._yoyo_migration").fetchone()[0]
        if left == 0:
            for t in YOYO_TABLES:
                conn.execute(sql.SQL("DROP TABLE IF EXISTS public.{}").format(sql.Identifier(t)))
    if moved:
        report(f"moved bgjobs' migration history ({moved} migrations) from public into schema bgjobs")


def _pending_migrations(conn: psycopg.Connection) -> list[str]:
    from yoyo import read_migrations
    migrations = [m.id for m in read_migrations(str(migrations_dir()))]
    applied: set[str] = set()
    for table in ("bgjobs._yoyo_migration", "public._yoyo_migration"):     # public: releases up to 0.1
        if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0] is not None:
            applied |= {r[0] for r in conn.execute(
                sql.SQL("SELECT migration_id FROM {}").format(sql.SQL(table))).fetchall()}
    return [m for m in migrations if m not in applied]


def plan_install(conn: psycopg.Connection, settings: Settings, schedule: bool = True) -> tuple[Plan, psycopg.Connection | None]:
    pf = preflight(conn, need_cron=schedule)
    regs = job_api.planned(conn, settings, pf.plpython)
    current = _existing_settings(conn)
    changes = []
    for key, (default, _) in DEFAULTS.items():
        if key not in current and key not in settings.values:
            changes.append((key, None, default))
    for key, value in settings.values.items():
        if current.get(key) != value:
            changes.append((key, current.get(key), value))
    reg_changes = [f"add {r.name}" if r.action == "add" else r.action for r in regs]
    cconn = None
    sched_plan = []
    if schedule:
        cconn = _cron_conn(conn, pf)
        sched_plan = _schedule_plan(conn, cconn, pf, job_api.planned_specs(conn, regs))
    app = apptables.inspect(conn)
    pending = [m for m in _pending_migrations(conn) if not (app.adopt and m == apptables.CREATING_MIGRATION)]
    plan = Plan(pf, pending, _sql_files(pf.plpython), changes, reg_changes,
                [(a, n, d) for a, n, d, _, _ in sched_plan], regs, app)
    plan._sched = sched_plan  # type: ignore[attr-defined]
    return plan, cconn


def install(dsn: str, settings: Settings, dry_run: bool = False, schedule: bool = True,
            report: Report = print) -> Plan:
    conn = connect(dsn, autocommit=True)
    cconn = None
    try:
        plan, cconn = plan_install(conn, settings, schedule)
        if dry_run:
            for line in plan.lines():
                report(line)
            report(f"dry run: {plan.changes} change(s) planned; nothing was changed")
            return plan
        pf = plan.preflight
        for note in pf.notes:
            report(f"note: {note}")
        _ensure_roles_and_extensions(conn, cconn, pf, schedule)
        applied = _run_migrations(conn, report, adopt=plan.app.adopt)
        _apply_objects(conn, plan, settings, report,
                       created_now=apptables.CREATING_MIGRATION in applied)
        report(f"applied {len(plan.sql_files)} SQL object files, {len(plan.settings_changes)} setting change(s), "
               f"{len(plan.registry_changes)} registry change(s)")
        if schedule:
            apply_schedules(conn, cconn, pf, report)
        report(f"bgjobs installed in database {pf.dbname}: {plan.changes} change(s)")
        return plan
    finally:
        if cconn is not None and cconn is not conn:
            cconn.close()
        conn.close()


def apply_schedules(conn, cconn, pf: Preflight, report: Report = print, only: set[str] | None = None) -> list:
    """Make pg_cron (in its own database, through cconn) run every registered job (or those
    in `only`) as the registry says, and record the pg_cron names used.  Returns the plan."""
    specs = [s for s in job_api.specs(conn) if only is None or s.name in only]
    sched_plan = _schedule_plan(conn, cconn, pf, specs)
    with cconn.transaction():
        _apply_schedules(cconn, pf, sched_plan)
    with conn.transaction():
        for _, name, _, job, _ in sched_plan:
            conn.execute("UPDATE bgjobs.job_registry SET cron_jobname = %s WHERE job_name = %s "
                         "AND cron_jobname IS DISTINCT FROM %s", (name, job.name, name))
    for action, name, detail, _, _ in sched_plan:
        if action != "unchanged":
            report(f"pg_cron {action}: {name} {detail}")
    return sched_plan


def _ensure_roles_and_extensions(conn, cconn, pf: Preflight, schedule: bool) -> None:
    for role in ROLES:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
            try:
                conn.execute(sql.SQL("CREATE ROLE {} {}").format(
                    sql.Identifier(role), sql.SQL("LOGIN" if role == RUNNER else "NOLOGIN")))
            except psycopg.errors.DuplicateObject:
                pass
    if not pf.superuser:
        # a CREATEROLE owner may make itself a member of the runner: it then owns run_job()
        # and cron_jobs() through it and schedules pg_cron jobs as it
        member = conn.execute("SELECT pg_has_role(current_user, %s, 'MEMBER')", (RUNNER,)).fetchone()[0]
        if not member:
            conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(RUNNER), sql.Identifier(pf.user)))
    if pf.plpython:
        conn.execute("CREATE EXTENSION IF NOT EXISTS plpython3u")
    if schedule and not _cron_ready(cconn):
        try:
            cconn.execute("CREATE EXTENSION IF NOT EXISTS pg_cron")
        except psycopg.Error as exc:
            raise BgjobsError(f"cannot create extension pg_cron in database {pf.cron_db}: {first_line(exc)}") from None
    if schedule and pf.superuser:
        # the runner sees (and retention deletes) only its own jobs' rows: pg_cron's row security
        cconn.execute(sql.SQL("GRANT USAGE ON SCHEMA cron TO {}").format(sql.Identifier(RUNNER)))
        # bgjobs.register_job schedules through bgjobs.cron_apply, owned by the runner: pg_cron
        # runs a job as the role that scheduled it.  pg_cron 1.4 leaves these two to the DBA.
        cconn.execute(sql.SQL("GRANT EXECUTE ON FUNCTION cron.schedule_in_database(text, text, text, text, text, boolean), "
                              "cron.alter_job(bigint, text, text, text, text, boolean) TO {}").format(sql.Identifier(RUNNER)))


def _apply_objects(conn: psycopg.Connection, plan: Plan, settings: Settings, report: Report = print,
                   created_now: bool = False) -> None:
    modules = _plpython_modules() if plan.preflight.plpython else {}
    with conn.transaction():
        conn.execute("SET LOCAL check_function_bodies = off")
        conn.execute("SET LOCAL client_min_messages = warning")
        # Every object is created under the pinned path: a view binds its operators when it
        # is created, so one created with public on the path could bind to an operator
        # planted there (a better match for integer / numeric than the built-in one).
        conn.execute(f"SET LOCAL search_path TO {PINNED_PATH}")
        if conn.execute("SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus'").fetchone():
            # tenant tables distributed by bgjobs distribute keep their row triggers
            # (installments' tenant fill, tenants' zone check): Citus accepts a trigger on a
            # distributed table only with this setting
            conn.execute("SET LOCAL citus.enable_unsafe_triggers = on")
        # Some functions are owned by bgjobs_runner or bgjobs_deliverer (see their files);
        # a new owner needs CREATE on the schema, granted for this transaction only.
        for role in (RUNNER, "bgjobs_deliverer"):
            conn.execute(sql.SQL("GRANT CREATE ON SCHEMA public, bgjobs, bgjobs_app TO {}").format(sql.Identifier(role)))
        _write_setting_spec(conn)
        if plan.app is not None:
            apptables.record(conn, plan.app, created_now)   # before the files: triggers ask it
        _reset_routine_grants(conn)
        # the routines' catalog rows as they are before the files run (the REVOKEs above
        # rewrote rows in this same transaction, so an xmin cannot tell what the files wrote)
        untouched = _routine_rows(conn)
        for name, source in modules.items():
            conn.execute(
                "INSERT INTO bgjobs.plpython_modules (name, source, sha256) VALUES (%s, %s, %s) "
                "ON CONFLICT (name) DO UPDATE SET source = EXCLUDED.source, sha256 = EXCLUDED.sha256, updated_at = now() "
                "WHERE bgjobs.plpython_modules.sha256 <> EXCLUDED.sha256",
                (name, source, hashlib.sha256(source.encode()).hexdigest()))
        # a module an earlier release embedded and this one does not (bgjobs_schedule)
        conn.execute("DELETE FROM bgjobs.plpython_modules WHERE name <> ALL(%s)", (list(_plpython_modules()),))
        views = []
        for path in plan.sql_files:
            text = path.read_text()
            if path.parent.name == "views":
                views.append(path)
                continue
            if path.parent.name == "plpython":
                text = expand_plpython(text, modules)
            _exec_file(conn, path, text, report)
        _apply_views(conn, views)
        skipped = [_object_name(f) for f in _sql_files(True) if f not in plan.sql_files]
        _drop_stale_routines(conn, untouched, report, keep=skipped)
        for key, (default, desc) in DEFAULTS.items():
            conn.execute("INSERT INTO public.app_settings (key, value, description) VALUES (%s, %s, %s) "
                         "ON CONFLICT (key) DO NOTHING", (key, default, desc))
        for key, value in settings.values.items():
            conn.execute("INSERT INTO public.app_settings (key, value, description) VALUES (%s, %s, %s) "
                         "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now() "
                         "WHERE app_settings.value IS DISTINCT FROM EXCLUDED.value",
                         (key, value, DEFAULTS[key][1]))
        # Jobs are registered through the job API (bgjobs.register_job), as a DBA's are; the
        # pg_cron schedules follow once this transaction has committed (apply_schedules).
        # A registered row is left as it is unless the settings file names its job.
        conn.execute("SET LOCAL bgjobs.defer_schedule = on")
        job_api.apply(conn, plan.jobs)
        for role in (RUNNER, "bgjobs_deliverer"):
            conn.execute(sql.SQL("REVOKE CREATE ON SCHEMA public, bgjobs, bgjobs_app FROM {}").format(sql.Identifier(role)))


# What releases up to 0.1 created in public (they kept no record of their routines).
LEGACY_PUBLIC_ROUTINES = ("run_job", "update_job_heartbeat", "set_secret", "silence_job", "unsilence_job",
                          "job_metrics", "job_metrics_prometheus")


def _reset_routine_grants(conn) -> None:
    """Revoke what bgjobs' roles hold on bgjobs' routines; each object file then grants
    exactly what this release says (an upgrade must not leave an older release's grant
    behind, such as bgjobs_admin's EXECUTE on get_secret).  Same transaction: no window."""
    roles = sql.SQL(", ").join(sql.Identifier(r) for r in ROLES)
    conn.execute(sql.SQL("REVOKE ALL ON ALL ROUTINES IN SCHEMA bgjobs, bgjobs_app FROM {}").format(roles))
    ours = [r for (r,) in conn.execute(
        "SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace "
        "AND (p.oid::regprocedure::text IN (SELECT identity FROM bgjobs.installed_routines) "
        "     OR p.proname = ANY(%s))", (list(LEGACY_PUBLIC_ROUTINES),)).fetchall()]
    for identity in ours:
        conn.execute(sql.SQL("REVOKE ALL ON ROUTINE {} FROM {}").format(sql.SQL(identity), roles))


def _routine_rows(conn) -> set[tuple[int, str]]:
    return {(oid, ctid) for oid, ctid in conn.execute(
        "SELECT p.oid, p.ctid::text FROM pg_proc p "
        "WHERE p.pronamespace IN ('bgjobs'::regnamespace, to_regnamespace('bgjobs_app')::oid, 'public'::regnamespace)").fetchall()}


def _drop_stale_routines(conn, untouched: set[tuple[int, str]], report: Report,
                         keep: list[tuple[str, str]] = ()) -> None:
    """Drop the routines an earlier install created that this release no longer defines
    (an old SECURITY DEFINER overload must not keep its grants).  Found in the catalog:
    every routine the files (re)created or granted has a new catalog row version (a ctid
    that `untouched`, taken before the files ran, does not hold);
    bgjobs.installed_routines records what each install created.  Routines of object files
    this install did not apply (`keep`: PL/Python ones, when the installing role may not
    create them) stay as a superuser's install made them."""
    written = {r for (oid, ctid, r, schema, name) in conn.execute(
        "SELECT p.oid, p.ctid::text, p.oid::regprocedure::text, n.nspname, p.proname FROM pg_proc p "
        "JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE p.pronamespace IN ('bgjobs'::regnamespace, to_regnamespace('bgjobs_app')::oid, 'public'::regnamespace)").fetchall()
        if (oid, ctid) not in untouched or (schema, name) in keep}
    before = {r for (r,) in conn.execute("SELECT identity FROM bgjobs.installed_routines").fetchall()}
    if not before:                                   # first install of this release line
        before = {r for (r,) in conn.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc p "
            "WHERE p.pronamespace IN ('bgjobs'::regnamespace, to_regnamespace('bgjobs_app')::oid) "
            "OR (p.pronamespace = 'public'::regnamespace AND p.proname = ANY(%s))",
            (list(LEGACY_PUBLIC_ROUTINES),)).fetchall()}
    for identity in sorted(before - written):
        if conn.execute("SELECT to_regprocedure(%s)", (identity,)).fetchone()[0] is None:
            continue
        try:
            with conn.transaction():
                conn.execute(sql.SQL("DROP ROUTINE {}").format(sql.SQL(identity)))
        except psycopg.errors.DependentObjectsStillExist as exc:
            raise BgjobsError(f"{identity} is no longer part of bgjobs, but {first_line(exc)}; "
                              "nothing was applied") from None
        report(f"dropped {identity}: this release no longer defines it")
    conn.execute("DELETE FROM bgjobs.installed_routines")
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO bgjobs.installed_routines (identity) VALUES (%s)", [(r,) for r in sorted(written)])


def _write_setting_spec(conn) -> None:
    """Copy the settings spec (installer/bgjobs/settings.py, its one home) into
    bgjobs.setting_spec, where the app_settings trigger and get_setting() read it."""
    from .settings import SPEC
    rows = [(k, s.type, s.default, s.min, s.max, list(s.choices) if s.choices else None, s.optional, s.description)
            for k, s in SPEC.items()]
    conn.execute("DELETE FROM bgjobs.setting_spec WHERE NOT (key = ANY(%s))", ([r[0] for r in rows],))
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO bgjobs.setting_spec (key, type, default_value, min_value, max_value, choices, optional, description) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (key) DO UPDATE SET type = EXCLUDED.type, "
            "default_value = EXCLUDED.default_value, min_value = EXCLUDED.min_value, max_value = EXCLUDED.max_value, "
            "choices = EXCLUDED.choices, optional = EXCLUDED.optional, description = EXCLUDED.description "
            "WHERE (setting_spec.*) IS DISTINCT FROM (EXCLUDED.*)", rows)

def _exec_file(conn, path: Path, text: str, report: Report = print) -> None:
    """Apply one object file.  A function whose return type changed since the installed
    version cannot be replaced in place: it is dropped (with our views that depend on it,
    re-created by the views pass that follows) and created again, and that is reported.
    If a view that is not bgjobs' depends on it, the install stops and names it."""
    try:
        with conn.transaction():
            _exec_statements(conn, text)
        return
    except psycopg.errors.InvalidFunctionDefinition as exc:
        if "return type" not in str(exc):
            raise BgjobsError(f"{path.parent.name}/{path.name}: {first_line(exc)}") from None
        schema, name = _object_name(path)
    except psycopg.Error as exc:
        raise BgjobsError(f"{path.parent.name}/{path.name}: {first_line(exc)}") from None
    ours = {".".join(_object_name(p)) for p in _sql_files(True) if p.parent.name == "views"}
    foreign = [v for (v,) in conn.execute(
        "SELECT DISTINCT cn.nspname || '.' || c.relname FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid "
        "JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace cn ON cn.oid = c.relnamespace "
        "JOIN pg_proc p ON p.oid = d.refobjid "
        "JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE d.classid = 'pg_rewrite'::regclass AND n.nspname = %s AND p.proname = %s", (schema, name)).fetchall()
        if v not in ours]
    if foreign:
        raise BgjobsError(f"{schema}.{name} changed its return type in this release, but {', '.join(foreign)} "
                          f"(not bgjobs') depends on it: drop it, install, then re-create it; nothing was applied")
    try:
        with conn.transaction():
            for (sig,) in conn.execute(
                    "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                    "WHERE n.nspname = %s AND p.proname = %s", (schema, name)).fetchall():
                conn.execute(sql.SQL("DROP FUNCTION {} CASCADE").format(sql.SQL(sig)))
            _exec_statements(conn, text)
        report(f"re-created {schema}.{name}: its return type changed (dependent views are re-created next)")
    except psycopg.Error as exc:
        raise BgjobsError(f"{path.parent.name}/{path.name}: {first_line(exc)}") from None


def split_statements(text: str) -> list[str]:
    """The statements of an SQL file (sqlparse, which yoyo uses for the same job: quotes,
    dollar quotes and comments respected), comment-only pieces dropped.  Each goes to the
    server on its own: Citus propagates the DDL of a distributed table (a CREATE TRIGGER
    after its function) by re-sending the command's text, which must then hold that one
    statement."""
    return [s.strip() for s in sqlparse.split(text)
            if sqlparse.format(s, strip_comments=True).strip()]


def _exec_statements(conn, text: str) -> None:
    for statement in split_statements(text):
        conn.execute(statement)


def _apply_views(conn, views: list[Path]) -> None:
    """Views may depend on each other: apply in passes until all are created."""
    pending = list(views)
    while pending:
        failed, last = [], None
        for path in pending:
            try:
                with conn.transaction():
                    conn.execute(path.read_text())
            except psycopg.Error as exc:
                failed.append(path)
                last = (path, exc)
        if len(failed) == len(pending):
            path, exc = last
            raise BgjobsError(f"views/{path.name}: {first_line(exc)}")
        pending = failed


# --------------------------------------------------------------------------- uninstall

def uninstall(dsn: str, keep_data: bool = False, report: Report = print) -> None:
    conn = connect(dsn, autocommit=True)
    try:
        dbname = conn.info.dbname
        reg = _existing_registry(conn)
        if not reg and conn.execute("SELECT to_regclass('bgjobs._yoyo_migration')").fetchone()[0] is None:
            raise BgjobsError(f"bgjobs is not installed in database {dbname}")
        cron_db = conn.execute("SELECT current_setting('cron.database_name', true)").fetchone()[0]
        names = [r.get("cron_jobname") or r["job_name"] for r in reg.values()]
        if cron_db and names:
            superuser = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0]
            pf = Preflight(dbname, conn.info.user, "", bool(superuser), True, cron_db, False)
            cconn = _cron_conn(conn, pf)
            try:
                if _cron_ready(cconn):
                    rows = [(r[0], r[1], r[6]) for r in _runner_cron_rows(cconn, pf)
                            if r[4] == dbname and r[1] in names]
                    for jobid, name, user in rows:
                        if user == RUNNER and not pf.superuser:
                            with _as_runner(cconn):
                                cconn.execute("SELECT cron.unschedule(%s::bigint)", (jobid,))
                        else:
                            cconn.execute("SELECT cron.unschedule(%s::bigint)", (jobid,))
                        report(f"pg_cron unscheduled: {name}")
            finally:
                if cconn is not conn:
                    cconn.close()
        with conn.transaction():
            conn.execute("SET LOCAL client_min_messages = warning")
            _drop_objects(conn)
            report("dropped bgjobs functions, procedures, views and triggers")
        if not keep_data:
            kept = apptables.adopted(conn)
            _rollback_migrations(conn, keep_app_tables=kept)
            report("rolled back all migrations (bgjobs' tables and their data removed)")
            if kept:
                report("kept the application's own tables, their rows and grants (bgjobs adopted them, "
                       "did not create them)")
        else:
            report("kept the tables, their data and their grants (--keep-data); a later install resumes with them")
        report(f"bgjobs uninstalled from database {dbname} (roles {', '.join(ROLES)} are cluster-wide and kept)")
    finally:
        conn.close()


def _drop_objects(conn) -> None:
    """Uninstall's routines and views: the views of sql/views (one object per file, file
    name = object name) and the routines the catalog records as bgjobs' (every routine in
    schemas bgjobs and bgjobs_app, and those bgjobs.installed_routines lists).  CASCADE takes the
    triggers bgjobs put on tables with their functions."""
    for path in _sql_files(True):
        if path.parent.name == "views":
            schema, name = _object_name(path)
            conn.execute(sql.SQL("DROP VIEW IF EXISTS {}.{} CASCADE").format(sql.Identifier(schema), sql.Identifier(name)))
    recorded = []
    if conn.execute("SELECT to_regclass('bgjobs.installed_routines')").fetchone()[0] is not None:
        recorded = [r for (r,) in conn.execute("SELECT identity FROM bgjobs.installed_routines").fetchall()]
    for (sig,) in conn.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc p "
            "WHERE p.pronamespace IN ('bgjobs'::regnamespace, to_regnamespace('bgjobs_app')::oid) "
            "OR p.oid::regprocedure::text = ANY(%s) "
            "OR (p.pronamespace = 'public'::regnamespace AND p.proname = ANY(%s))",
            (recorded, list(LEGACY_PUBLIC_ROUTINES))).fetchall():
        conn.execute(sql.SQL("DROP ROUTINE IF EXISTS {} CASCADE").format(sql.SQL(sig)))


def _object_name(path: Path) -> tuple[str, str]:
    """(schema, name) of the object a file under sql/ creates: one object per file, named
    after it (`bgjobs.begin_run.sql`; no schema prefix means public)."""
    schema, _, name = path.stem.rpartition(".")
    return (schema or "public", name)


def _rollback_migrations(conn, keep_app_tables: bool = False) -> None:
    from yoyo import get_backend, read_migrations

    backend = get_backend(yoyo_uri(conn))
    try:
        migrations = read_migrations(str(migrations_dir()))
        with backend.lock():
            backend.ensure_internal_schema_updated()
            _adopt_legacy_history(conn, [m.id for m in migrations], lambda s: None)
            # every migration but the first through yoyo; the first's rollback drops schema
            # bgjobs, where yoyo keeps bgjobs' history, so it runs last, by hand
            rollback = backend.to_rollback(migrations.filter(lambda m: m.id != "0001.core"))
            if keep_app_tables:
                # adopted, not created: its rollback would drop the application's tables
                backend.unmark_migrations(rollback.filter(lambda m: m.id == apptables.CREATING_MIGRATION))
                rollback = rollback.filter(lambda m: m.id != apptables.CREATING_MIGRATION)
            backend.rollback_migrations(rollback)
        with conn.transaction():
            conn.execute((migrations_dir() / "0001.core.rollback.sql").read_text())
        # bgjobs' history went with schema bgjobs; an application's yoyo tables in public stay
    finally:
        backend.connection.close()
