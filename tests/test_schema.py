"""Schema drift and migration hygiene (graphile-worker / procrastinate style)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from bgjobs.resources import migrations_dir
from schema_dump import SCHEMA_FILE, dump


def test_migrated_schema_matches_committed_dump(template_db, pg_server):
    current = dump(pg_server.dsn(template_db))
    if os.environ.get("BGJOBS_UPDATE_SCHEMA"):
        SCHEMA_FILE.write_text(current)
    assert SCHEMA_FILE.exists(), "schema/bgjobs.sql missing: run BGJOBS_UPDATE_SCHEMA=1 ./dev test tests/test_schema.py"
    assert current == SCHEMA_FILE.read_text(), (
        "the installed schema differs from schema/bgjobs.sql; if intended, regenerate it with "
        "BGJOBS_UPDATE_SCHEMA=1 ./dev test tests/test_schema.py and commit the diff")


def test_migration_names_rollbacks_and_dependencies():
    files = sorted(p.name for p in migrations_dir().iterdir() if p.suffix == ".sql")
    forward = [f for f in files if not f.endswith(".rollback.sql")]
    assert forward, "no migrations"
    previous = None
    for i, name in enumerate(forward, start=1):
        m = re.fullmatch(r"(\d{4})\.([a-z0-9_]+)\.sql", name)
        assert m, f"migration {name} is not named NNNN.slug.sql"
        assert int(m.group(1)) == i, f"migration {name}: numbers must be 0001, 0002, ... without gaps"
        assert name.replace(".sql", ".rollback.sql") in files, f"migration {name} has no rollback"
        text = (migrations_dir() / name).read_text()
        dep = re.search(r"^-- depends:(.*)$", text, re.MULTILINE)
        assert dep, f"{name} lacks a '-- depends:' line"
        assert dep.group(1).strip() == (previous or ""), f"{name} must depend on {previous}"
        previous = name[:-4]


def test_rollback_then_reinstall_gives_the_same_schema(new_db, pg_server, template_db):
    name = new_db()
    dsn = pg_server.dsn(name)
    run = lambda *a: subprocess.run([sys.executable, "-m", "bgjobs", *a, "--dsn", dsn],
                                    capture_output=True, text=True, check=True)
    run("install", "--no-schedule")
    run("uninstall", "--yes")
    assert "CREATE TABLE" not in dump(dsn)
    run("install", "--no-schedule")
    assert dump(dsn) == dump(pg_server.dsn(template_db))
