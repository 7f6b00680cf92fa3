"""The application's tables (CONTRACT section 5): the one home of their minimum columns.

An application usually has these tables already, made by its own migrations.  Install
finds them in the catalog and checks each has the contract's minimum columns with
compatible types; then it adopts them as they are (migration 0002, which would create
them, is marked applied without running) and records that in bgjobs.app_tables, so that
uninstall drops only the tables bgjobs created.  Into a database without any of them,
0002 creates them (the demo, the test suite).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import BgjobsError

CREATING_MIGRATION = "0002.business_tables"

# type families: a column is compatible when its type is one of the family's
TEXT = ("text", "character varying", "character", "citext")
UUID = ("uuid",)
TSTZ = ("timestamp with time zone",)
DATE = ("date",)
BOOL = ("boolean",)
NUMBER = ("numeric", "integer", "bigint", "smallint", "double precision", "real")
JSONB = ("jsonb",)

# table -> {column: family}: the contract's minimum (automation_logs and analytics_snapshots:
# the seeds' columns, which the jobs write)
MINIMUM: dict[str, dict[str, tuple[str, ...]]] = {
    "tenants": {"id": UUID, "name": TEXT, "timezone": TEXT},
    "users": {"id": UUID, "tenant_id": UUID, "email": TEXT, "full_name": TEXT},
    "courts": {"id": UUID, "name": TEXT, "city": TEXT},
    "cases": {"id": UUID, "tenant_id": UUID, "case_number": TEXT, "title": TEXT, "status": TEXT,
              "owner_id": UUID, "assigned_to": UUID},
    "hearings": {"id": UUID, "tenant_id": UUID, "case_id": UUID, "court_id": UUID, "hearing_date": TSTZ,
                 "status": TEXT},
    "tasks": {"id": UUID, "tenant_id": UUID, "case_id": UUID, "title": TEXT, "due_date": TSTZ, "status": TEXT,
              "priority": TEXT, "assigned_to": UUID},
    "documents": {"id": UUID, "tenant_id": UUID, "case_id": UUID, "created_at": TSTZ},
    "automation_rules": {"id": UUID, "tenant_id": UUID, "rule_name": TEXT, "trigger_event": TEXT, "is_active": BOOL},
    "automation_logs": {"id": UUID, "tenant_id": UUID, "rule_id": UUID, "rule_name": TEXT, "trigger_event": TEXT,
                        "status": TEXT, "actions_executed": JSONB, "error_message": TEXT, "executed_at": TSTZ},
    "analytics_snapshots": {"id": UUID, "tenant_id": UUID, "metric_type": TEXT, "snapshot_date": DATE,
                            "metric_value": JSONB, "created_at": TSTZ},
    "payment_plans": {"id": UUID, "tenant_id": UUID},
    "installments": {"id": UUID, "payment_plan_id": UUID, "amount": NUMBER, "student_due_date": DATE,
                     "status": TEXT},
}

# the rows the jobs insert: every other NOT NULL column needs a default
INSERTED = {
    "automation_logs": {"id", "tenant_id", "rule_id", "rule_name", "trigger_event", "status", "actions_executed",
                        "error_message", "executed_at"},
    "analytics_snapshots": {"tenant_id", "metric_type", "snapshot_date", "metric_value"},
}

# what migration 0004 grants bgjobs_runner on them (the jobs' reach), as dry-run shows it
RUNNER_GRANTS = {
    **{t: "SELECT" for t in ("tenants", "users", "courts", "cases", "hearings", "documents", "automation_rules",
                             "payment_plans")},
    "tasks": "SELECT, UPDATE", "installments": "SELECT, UPDATE",
    "automation_logs": "SELECT, INSERT, UPDATE, DELETE", "analytics_snapshots": "SELECT, INSERT, UPDATE",
}

# what the jobs write into them (the business effect), as dry-run shows it
WRITES = {
    "tasks": "automation rules with an escalate action raise priority (check-sla-and-overdue, "
             "check-upcoming-deadlines); overdue/SLA flags go to bgjobs_app.task_flags, not to tasks",
    "installments": "status 'pending' -> 'overdue' (update-installment-statuses)",
    "automation_logs": "one row per automation rule execution; rows older than retention_days_automation_logs "
                       "are deleted (purge-old-logs)",
    "analytics_snapshots": "one daily_snapshot row per tenant and local date (analytics-snapshot)",
}

# triggers bgjobs puts only on a table it created
TRIGGERS = {"tenants": "tenants_check_timezone", "installments": "installments_set_tenant",
            "tasks": "tasks_sla_feed_* (nor the index tasks_open_due_date_idx)"}
# what a table without its trigger costs
WITHOUT = {"tasks": "without this change feed every check-sla-and-overdue tick is a full pass (it reads every "
                    "open past-due task and every flag)"}


@dataclass
class AppTables:
    existing: list[str]                       # application tables found in schema public
    recorded: dict[str, str] = field(default_factory=dict)   # bgjobs.app_tables: table -> origin
    created_before: bool = False              # 0002 ran here before bgjobs.app_tables existed

    @property
    def adopt(self) -> bool:
        """True when this install adopts the application's tables (they exist, bgjobs has
        not recorded creating them)."""
        return bool(self.existing) and not self.recorded and not self.created_before

    def lines(self, first_install: bool) -> list[str]:
        if not self.adopt:
            return []
        out = [f"application tables found: {', '.join(self.existing)}: adopted as they are "
               f"(migration {CREATING_MIGRATION} is marked applied, not run; uninstall keeps them)"]
        if first_install:
            for t in self.existing:
                out.append(f"change to application table {t}: GRANT {RUNNER_GRANTS[t]} TO bgjobs_runner")
        for t in self.existing:
            if t in WRITES:
                out.append(f"jobs write to application table {t}: {WRITES[t]}")
        for t, trig in TRIGGERS.items():
            out.append(f"no trigger on application table {t}: {trig} is added only to a table bgjobs creates"
                       + (f"; {WITHOUT[t]}" if t in WITHOUT else ""))
        out.append("no column, index or trigger is added to any application table")
        return out


def inspect(conn) -> AppTables:
    """The application tables in schema public and what bgjobs recorded about them.
    Raises BgjobsError (one line, nothing changed) when some exist and others do not, or
    when one lacks a minimum column or has it with an incompatible type."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_catalog.pg_class c WHERE c.relnamespace = 'public'::regnamespace "
        "AND c.relkind IN ('r', 'p') AND c.relname = ANY(%s)", (list(MINIMUM),)).fetchall()
    existing = [t for t in MINIMUM if t in {r[0] for r in rows}]
    recorded: dict[str, str] = {}
    if conn.execute("SELECT to_regclass('bgjobs.app_tables')").fetchone()[0] is not None:
        recorded = dict(conn.execute("SELECT table_name, origin FROM bgjobs.app_tables").fetchall())
    created_before = False
    if not recorded and conn.execute("SELECT to_regclass('bgjobs._yoyo_migration')").fetchone()[0] is not None:
        created_before = conn.execute("SELECT 1 FROM bgjobs._yoyo_migration WHERE migration_id = %s",
                                      (CREATING_MIGRATION,)).fetchone() is not None
    if not created_before and not recorded and conn.execute(
            "SELECT to_regclass('public._yoyo_migration')").fetchone()[0] is not None:
        # releases up to 0.1 kept bgjobs' history in public
        created_before = conn.execute("SELECT 1 FROM public._yoyo_migration WHERE migration_id = %s",
                                      (CREATING_MIGRATION,)).fetchone() is not None
    app = AppTables(existing, recorded, created_before)
    if app.adopt:
        missing_tables = [t for t in MINIMUM if t not in existing]
        if missing_tables:
            raise BgjobsError(f"the database has application tables {', '.join(existing)} but not "
                              f"{', '.join(missing_tables)}: create them (CONTRACT section 5) or drop the others; "
                              "nothing was changed")
        for t in existing:
            _check_columns(conn, t)
    return app


def _check_columns(conn, table: str) -> None:
    cols = {name: (typ, notnull, hasdef) for name, typ, notnull, hasdef in conn.execute(
        "SELECT a.attname, pg_catalog.format_type(a.atttypid, NULL), a.attnotnull, "
        "a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '' "
        "FROM pg_catalog.pg_attribute a WHERE a.attrelid = pg_catalog.to_regclass(%s) "
        "AND a.attnum > 0 AND NOT a.attisdropped", (f"public.{table}",)).fetchall()}
    for col, family in MINIMUM[table].items():
        if col not in cols:
            raise BgjobsError(f"application table {table} has no column {col} (CONTRACT section 5); "
                              "nothing was changed")
        if cols[col][0] not in family:
            raise BgjobsError(f"application table {table}: column {col} is {cols[col][0]}, bgjobs needs "
                              f"{' or '.join(family)}; nothing was changed")
    for col, (_, notnull, hasdef) in cols.items():
        if table in INSERTED and notnull and not hasdef and col not in INSERTED[table]:
            raise BgjobsError(f"application table {table}: column {col} is NOT NULL without a default, "
                              "and bgjobs' jobs insert rows without it; nothing was changed")


def record(conn, app: AppTables, created_now: bool) -> None:
    """Write bgjobs.app_tables once: adopted (this install adopted them) or created (0002
    ran, now or in an earlier install)."""
    if app.recorded:
        return
    origin = "adopted" if app.adopt else "created"
    if origin == "created" and not (created_now or app.created_before):
        return
    conn.execute("INSERT INTO bgjobs.app_tables (table_name, origin) SELECT t, %s FROM unnest(%s::text[]) t "
                 "ON CONFLICT (table_name) DO NOTHING", (origin, list(MINIMUM)))


def adopted(conn) -> bool:
    """Whether this install adopted the application's tables (uninstall keeps them)."""
    if conn.execute("SELECT to_regclass('bgjobs.app_tables')").fetchone()[0] is None:
        return False
    return conn.execute("SELECT 1 FROM bgjobs.app_tables WHERE origin = 'adopted' LIMIT 1").fetchone() is not None
