"""A throw-away Citus cluster for tests/citus: a coordinator and two workers, each a local
bgjobs sandbox (bgjobs.sandbox.temporary) with citus preloaded before pg_cron, listening on
127.0.0.1 only.  The nodes know each other by their unix socket directories (mode 0700,
owned by the servers' common OS user), so node-to-node connections need no password and
never leave the machine.

Everything here is skipped, with the reason SKIP_REASON, when the server the suite runs
against has no citus in pg_available_extensions (CI's machines: Citus is not packaged for
Debian or PyPI and must be built and installed by hand).
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import sql

SKIP_REASON = "Citus is not installed on this server"

NODE_CONF = """
# --- Citus test node ---
shared_preload_libraries = 'citus,pg_cron'
max_connections = 200
citus.shard_count = 8
"""


@dataclass
class Node:
    dsn_base: object         # the sandbox
    socket_dir: str
    port: int

    def dsn(self, dbname: str) -> str:
        return self.dsn_base.dsn_for(dbname)


@dataclass
class Cluster:
    coordinator: Node
    workers: list

    def create_database(self, dbname: str) -> str:
        """A database on every node with the citus extension, the workers added;
        returns its DSN on the coordinator."""
        for node in [self.coordinator, *self.workers]:
            with psycopg.connect(node.dsn("postgres"), autocommit=True) as c:
                if not c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone():
                    c.execute(f'CREATE DATABASE "{dbname}"')
            with psycopg.connect(node.dsn(dbname), autocommit=True) as c:
                c.execute("SET client_min_messages = warning")
                c.execute("CREATE EXTENSION IF NOT EXISTS citus")
        dsn = self.coordinator.dsn(dbname)
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute("SELECT citus_set_coordinator_host(%s, %s)",
                      (self.coordinator.socket_dir, self.coordinator.port))
            for w in self.workers:
                c.execute("SELECT citus_add_node(%s, %s)", (w.socket_dir, w.port))
        return dsn


@pytest.fixture(scope="session")
def citus_installed(pg_server):
    with pg_server.admin() as c:
        if not c.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'citus'").fetchone():
            pytest.skip(SKIP_REASON)


@pytest.fixture(scope="session")
def citus_cluster(citus_installed):
    from bgjobs import sandbox

    with ExitStack() as stack:
        nodes = []
        for role in ("coord", "w1", "w2"):
            sb = stack.enter_context(sandbox.temporary(f"bgjobs-citus-{role}-", extra_conf=NODE_CONF))
            nodes.append(Node(sb, str(sb.socket_dir), sb.port))
        # Citus copies the coordinator's roles, passwords included, to a node it adds: give
        # every node the coordinator's superuser password up front
        password = nodes[0].dsn_base.password
        for node in nodes[1:]:
            with psycopg.connect(node.dsn("postgres"), autocommit=True) as c:
                c.execute(sql.SQL("ALTER ROLE postgres PASSWORD {}").format(sql.Literal(password)))
            node.dsn_base.password = password
        yield Cluster(nodes[0], nodes[1:])
