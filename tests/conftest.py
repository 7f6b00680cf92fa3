"""Test fixtures: one real PostgreSQL 15 (pg_cron preloaded, plpython3u) per session,
bgjobs installed once into a template database, and a fresh database per test cloned
from it (CREATE DATABASE ... TEMPLATE): real, fast, isolated.

The server: as root, through the same code as `bgjobs sandbox` (PostgreSQL refuses to
run as root, so the sandbox runs it as the postgres OS user); as a normal user, through
pytest-postgresql's process fixture.  BGJOBS_TEST_DSN (a superuser DSN to a server with
pg_cron preloaded and plpython3u available) uses an existing server instead.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

CRON_DB = "bgjobs"          # cron.database_name of the test cluster
TEMPLATE_DB = "bgjobs_template"


@dataclass
class Server:
    base_dsn: str           # superuser DSN (any database)
    cron_db: str

    def dsn(self, dbname: str) -> str:
        return make_conninfo(self.base_dsn, dbname=dbname)

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.dsn("postgres"), autocommit=True)


if os.environ.get("BGJOBS_TEST_DSN") or os.geteuid() == 0:
    @pytest.fixture(scope="session")
    def pg_server(tmp_path_factory):
        if os.environ.get("BGJOBS_TEST_DSN"):
            dsn = os.environ["BGJOBS_TEST_DSN"]
            with psycopg.connect(dsn, autocommit=True) as c:
                cron_db = c.execute("SELECT current_setting('cron.database_name', true)").fetchone()[0]
            yield Server(dsn, cron_db or "postgres")
            return
        from bgjobs import sandbox

        with sandbox.temporary("bgjobs-test-") as sb:
            yield Server(sb.dsn_for("postgres"), sandbox.DATABASE)
else:
    import atexit
    import shutil
    import tempfile

    from bgjobs.sandbox import bindir
    from pytest_postgresql import factories

    # pg_cron in libpq mode, as the sandbox runs it (pg_cron 1.4.2's background workers start
    # no job while another runs): it connects to the socket directory, where pytest-postgresql's
    # cluster trusts every local connection (the directory is this user's own, mode 0700)
    _SOCKET_DIR = tempfile.mkdtemp(prefix="bgjobs-test-sock-")
    atexit.register(shutil.rmtree, _SOCKET_DIR, True)
    postgresql_proc = factories.postgresql_proc(
        executable=str(bindir() / "pg_ctl"),
        port=None,
        unixsocketdir=_SOCKET_DIR,
        postgres_options=(f"-c shared_preload_libraries=pg_cron -c cron.database_name={CRON_DB} "
                          f"-c cron.use_background_workers=off -c cron.host={_SOCKET_DIR} "
                          "-c max_worker_processes=40 -c timezone=UTC"),
    )

    @pytest.fixture(scope="session")
    def pg_server(postgresql_proc):
        p = postgresql_proc
        base = make_conninfo(host=p.host, port=p.port, user=p.user, password=p.password or None, dbname="postgres")
        with psycopg.connect(base, autocommit=True) as c:
            if not c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (CRON_DB,)).fetchone():
                c.execute(f'CREATE DATABASE "{CRON_DB}"')
        yield Server(base, CRON_DB)


@pytest.fixture(scope="session")
def cron_conn(pg_server):
    """A superuser connection to pg_cron's database, with the extension created."""
    with psycopg.connect(pg_server.dsn(pg_server.cron_db), autocommit=True) as c:
        c.execute("SET client_min_messages = warning")
        c.execute("CREATE EXTENSION IF NOT EXISTS pg_cron")
        yield c


@pytest.fixture(scope="session")
def template_db(pg_server):
    """bgjobs installed (no pg_cron schedules) into a template database, once per session."""
    from bgjobs import install as inst
    from bgjobs.settings import Settings

    with pg_server.admin() as c:
        c.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{TEMPLATE_DB}"')
    inst.install(pg_server.dsn(TEMPLATE_DB), Settings(), schedule=False, report=lambda s: None)
    yield TEMPLATE_DB
    with pg_server.admin() as c:
        c.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)')


def _unschedule_db(pg_server, dbname: str) -> None:
    with psycopg.connect(pg_server.dsn(pg_server.cron_db), autocommit=True) as c:
        if c.execute("SELECT to_regclass('cron.job')").fetchone()[0]:
            for (jobid,) in c.execute("SELECT jobid FROM cron.job WHERE database = %s", (dbname,)).fetchall():
                c.execute("SELECT cron.unschedule(%s::bigint)", (jobid,))


@pytest.fixture
def new_db(pg_server):
    """Factory: an empty database (dropped, and its pg_cron jobs unscheduled, afterwards)."""
    made = []

    def make(template: str | None = None) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with pg_server.admin() as c:
            c.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        made.append(name)
        return name

    yield make
    for name in made:
        _unschedule_db(pg_server, name)
        with pg_server.admin() as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db(template_db, new_db, pg_server) -> str:
    """DSN of a fresh database with bgjobs installed (cloned from the template)."""
    return pg_server.dsn(new_db(template_db))


@pytest.fixture
def conn(db):
    """Autocommit superuser connection to the per-test database."""
    with psycopg.connect(db, autocommit=True) as c:
        yield c


@pytest.fixture
def sql(conn):
    """sql(query, *params) -> list of tuples (or [] for statements without rows)."""
    def run(query, *params):
        cur = conn.execute(query, params or None)
        return cur.fetchall() if cur.description else []
    return run
