"""`bgjobs distribute`: spread an installed database's tenant tables over a Citus cluster.

    bgjobs distribute [--dsn DSN] [--dry-run]

Run it against the coordinator's database once bgjobs is installed there, the citus
extension is created and the worker nodes are added (citus_add_node).  It makes

  * ``public.tenants`` a distributed table by ``id``;
  * every other tenant table (TENANT_TABLES) a distributed table by ``tenant_id``,
    colocated with ``tenants``, so every job's join on tenant_id stays on one node;
  * ``public.courts`` a reference table (a copy on every node: hearings join it);

in an order that Citus accepts (a referenced table before the tables that reference it;
``courts`` last, with the foreign keys to it set aside and put back, since making it a
reference table first would turn every table connected to it into a Citus local table).

What stays a plain table on the coordinator (RUNTIME_LOCAL), and why:

  * ``notifications``: the outbox is claimed with ``FOR UPDATE SKIP LOCKED``, which Citus
    does not support across shards; delivery is coordinator work anyway;
  * ``jobs_log``, ``job_heartbeats``, ``app_settings`` and every ``bgjobs.*`` table: the job
    runtime (runs, locks, registry, alerts, secrets, settings), most without a tenant,
    written by the coordinator's own runs; ``bgjobs_app.task_flags`` and
    ``bgjobs_app.automation_events`` grow with the tenants' data and are joined with the
    distributed tables through the coordinator;
  * ``audit_log``: one row per run (no tenant) besides the SLA violations; the coordinator
    writes it.

Citus does not support ``ON DELETE SET NULL`` on a foreign key that holds the distribution
column: ``automation_logs``' key to its rule is dropped (a deleted rule's logs keep its
``rule_id`` and ``rule_name``; the health check counts them the same way).

Idempotent: a table already distributed the way bgjobs needs is left alone (a second run
changes nothing), so a database whose application distributed its tables itself is
recognised from ``pg_dist_partition``.  A table distributed some other way (another
column, not colocated with tenants) is refused with its name: the jobs' joins need it
colocated, and bgjobs never rewrites an application's table.  Everything happens in one
transaction: a failure leaves nothing half-applied.
"""

from __future__ import annotations

import click
import psycopg
from psycopg import sql

from .db import connect, first_line, resolve_dsn
from .errors import BgjobsError

DISTRIBUTION_ROOT = ("public.tenants", "id")
# in foreign-key order: each table after the tables it references
TENANT_TABLES = ("public.users", "public.cases", "public.hearings", "public.tasks", "public.documents",
                 "public.automation_rules", "public.automation_logs", "public.analytics_snapshots",
                 "public.payment_plans", "public.installments")
REFERENCE_TABLES = ("public.courts",)
RUNTIME_LOCAL = ("public.notifications", "public.jobs_log", "public.audit_log", "public.job_heartbeats",
                 "public.app_settings", "bgjobs.*")


def citus_version(conn: psycopg.Connection) -> str | None:
    row = conn.execute("SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'citus'").fetchone()
    return row[0] if row else None


def distributed_tables(conn: psycopg.Connection) -> dict[str, tuple[str, str | None, int]]:
    """{table: (kind, distribution column, colocation id)} from pg_dist_partition; kind is
    'distributed' (hash), 'reference' or 'local' (a Citus local table)."""
    if citus_version(conn) is None:
        return {}
    rows = conn.execute(
        "SELECT p.logicalrelid::regclass::text, p.partmethod, p.repmodel, "
        "       pg_catalog.column_to_column_name(p.logicalrelid, p.partkey), p.colocationid "
        "  FROM pg_catalog.pg_dist_partition p").fetchall()
    out = {}
    for rel, method, repmodel, column, coloc in rows:
        name = rel if "." in rel else f"public.{rel}"
        if method == "h":
            kind = "distributed"
        elif method == "n" and repmodel == "t":
            kind = "reference"
        else:
            kind = "local"
        out[name] = (kind, column if method == "h" else None, coloc)
    return out


def plan(conn: psycopg.Connection) -> list[tuple[str, str]]:
    """The steps still to do, as (table, what); refuses a table distributed another way."""
    dist = distributed_tables(conn)
    steps = []
    root, root_col = DISTRIBUTION_ROOT
    wanted = [(root, root_col)] + [(t, "tenant_id") for t in TENANT_TABLES]
    # the colocation group every tenant table must share: the root's, or (root not yet
    # distributed) that of the tenant tables the application already distributed
    root_coloc = dist[root][2] if dist.get(root, ("",))[0] == "distributed" else next(
        (dist[t][2] for t, c in wanted if dist.get(t, ("",))[0] == "distributed" and dist[t][1] == c), None)
    for table, column in wanted:
        if conn.execute("SELECT pg_catalog.to_regclass(%s)", (table,)).fetchone()[0] is None:
            raise BgjobsError(f"{table} does not exist: install bgjobs (bgjobs install) before distributing")
        kind, col, coloc = dist.get(table, (None, None, None))
        if kind is None:
            steps.append((table, f"distribute by {column}" + ("" if table == root else f", colocated with {root}")))
        elif kind != "distributed" or col != column:
            how = "a reference table" if kind == "reference" else (
                "a Citus local table" if kind == "local" else f"distributed by {col}")
            raise BgjobsError(f"{table} is {how}; bgjobs needs it distributed by {column} "
                              f"(colocated with {root}): undistribute_table() it first")
        elif root_coloc is not None and coloc != root_coloc:
            raise BgjobsError(f"{table} is distributed by {column} but not colocated with {root}; "
                              f"colocate it (alter_distributed_table(..., colocate_with => '{root}')) first")
    for table in REFERENCE_TABLES:
        kind = dist.get(table, (None,))[0]
        if kind is None:
            steps.append((table, "make a reference table"))
        elif kind != "reference":
            raise BgjobsError(f"{table} is a {kind} table; bgjobs needs it a reference table")
    return steps


def _set_null_fks(conn, table: str) -> list[tuple[str, str]]:
    """Foreign keys of table with ON DELETE/UPDATE SET NULL or SET DEFAULT (not supported
    by Citus on a key that holds the distribution column): (name, definition)."""
    return conn.execute(
        "SELECT c.conname, pg_catalog.pg_get_constraintdef(c.oid) FROM pg_catalog.pg_constraint c "
        " WHERE c.conrelid = %s::regclass AND c.contype = 'f' "
        "   AND (c.confdeltype IN ('n', 'd') OR c.confupdtype IN ('n', 'd'))", (table,)).fetchall()


def _fks_to(conn, table: str) -> list[tuple[str, str, str]]:
    """Foreign keys referencing table from other tables: (referencing table, name, definition)."""
    return conn.execute(
        "SELECT c.conrelid::regclass::text, c.conname, pg_catalog.pg_get_constraintdef(c.oid) "
        "  FROM pg_catalog.pg_constraint c "
        " WHERE c.confrelid = %s::regclass AND c.contype = 'f' AND c.conrelid <> c.confrelid", (table,)).fetchall()


def distribute(dsn: str, dry_run: bool = False, report=print) -> int:
    """Distribute the tenant tables (see the module's doc); returns the number of tables
    changed (0: already distributed)."""
    with connect(dsn, autocommit=True) as conn:
        if citus_version(conn) is None:
            raise BgjobsError("the citus extension is not created in this database "
                              "(CREATE EXTENSION citus on the coordinator and add the workers first)")
        if conn.execute("SELECT pg_catalog.to_regclass('bgjobs.job_registry')").fetchone()[0] is None:
            raise BgjobsError("bgjobs is not installed in this database: run bgjobs install first")
        steps = plan(conn)
        if steps and not conn.execute("SELECT count(*) FROM pg_catalog.citus_get_active_worker_nodes()").fetchone()[0]:
            raise BgjobsError("the Citus cluster has no active worker node: add them with citus_add_node() first")
        if not steps:
            report("already distributed: tenant tables by tenant_id (colocated with public.tenants), "
                   "public.courts a reference table; nothing to do")
            return 0
        if dry_run:
            for table, what in steps:
                report(f"would {what}: {table}")
            report(f"dry run: {len(steps)} table(s) to change; nothing was changed")
            return len(steps)
        try:
            with conn.transaction():
                _apply(conn, steps, report)
        except psycopg.Error as exc:
            raise BgjobsError(f"distributing failed, nothing was changed: {first_line(exc)}") from None
        report(f"distributed {len(steps)} table(s); kept on the coordinator: {', '.join(RUNTIME_LOCAL)}")
        return len(steps)


def _apply(conn, steps: list[tuple[str, str]], report) -> None:
    # one transaction: Citus must not open parallel connections per shard after a table of
    # the transaction was distributed; triggers (tenants' zone check, installments' tenant
    # fill) are shard-local row triggers, which Citus accepts only with this setting
    conn.execute("SET LOCAL citus.multi_shard_modify_mode = 'sequential'")
    conn.execute("SET LOCAL citus.enable_unsafe_triggers = on")
    conn.execute("SET LOCAL client_min_messages = warning")
    todo = {t for t, _ in steps}
    # the foreign keys to courts go aside while courts is a plain table: a reference table
    # with local tables pointing at it would turn them all into Citus local tables
    put_back = []
    for table in REFERENCE_TABLES:
        if table in todo:
            for referencing, name, definition in _fks_to(conn, table):
                conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                    sql.SQL(referencing), sql.Identifier(name)))
                put_back.append((referencing, name, definition))
    root, root_col = DISTRIBUTION_ROOT
    for table, what in steps:
        if table in REFERENCE_TABLES:
            continue
        for name, definition in _set_null_fks(conn, table):
            conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.SQL(table), sql.Identifier(name)))
            report(f"dropped {table}.{name} ({definition}): Citus does not support SET NULL/DEFAULT "
                   "on a key holding the distribution column")
        if table == "public.tasks":
            dropped = _drop_feed_triggers(conn)
            if dropped:
                report(f"dropped {', '.join(dropped)} on public.tasks: check-sla-and-overdue's change feed lives "
                       "on the coordinator, the shards on the workers; each tick makes a full pass")
        if table == root:
            # colocated with the tenant tables the application already distributed, if any
            done = [t for t in TENANT_TABLES if t not in todo]
            conn.execute("SELECT pg_catalog.create_distributed_table(%s, %s, colocate_with => %s)",
                         (table, root_col, done[0] if done else "default"))
        else:
            conn.execute("SELECT pg_catalog.create_distributed_table(%s, 'tenant_id', colocate_with => %s)",
                         (table, root))
        report(f"{what.replace('distribute ', 'distributed ')}: {table}")
    for table in REFERENCE_TABLES:
        if table in todo:
            conn.execute("SELECT pg_catalog.create_reference_table(%s)", (table,))
            report(f"made a reference table: {table}")
    for referencing, name, definition in put_back:
        conn.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
            sql.SQL(referencing), sql.Identifier(name), sql.SQL(definition)))


FEED_TRIGGERS = ("tasks_sla_feed_insert", "tasks_sla_feed_update", "tasks_sla_feed_delete", "tasks_sla_feed_truncate")


def _drop_feed_triggers(conn) -> list[str]:
    """The SLA tick's change-feed triggers on public.tasks (sql/app/bgjobs_app.tasks_sla_feed.sql):
    they would run on the shards, where bgjobs_app.task_changes does not exist."""
    names = [n for (n,) in conn.execute(
        "SELECT tgname FROM pg_catalog.pg_trigger WHERE tgrelid = 'public.tasks'::regclass AND tgname = ANY(%s) "
        "ORDER BY tgname", (list(FEED_TRIGGERS),)).fetchall()]
    for name in names:
        conn.execute(sql.SQL("DROP TRIGGER {} ON public.tasks").format(sql.Identifier(name)))
    return names


def register(main: click.Group, one_line_errors) -> None:
    @main.command("distribute")
    @click.option("--dsn", default=None, help="the Citus coordinator's database (default: $DATABASE_URL, else PG*)")
    @click.option("--dry-run", is_flag=True, help="print what would be distributed and change nothing")
    @one_line_errors
    def distribute_cmd(dsn, dry_run):
        """Distribute the tenant tables over a Citus cluster (idempotent)."""
        distribute(resolve_dsn(dsn), dry_run=dry_run, report=click.echo)
