"""The installed schema as text (pg_dump --schema-only, normalised), compared with the
committed schema/bgjobs.sql by tests/test_schema.py.  After an intended schema change:

    BGJOBS_UPDATE_SCHEMA=1 ./dev test tests/test_schema.py

rewrites schema/bgjobs.sql; review its diff like any other change.  The embedded plpython/
modules' hashes are masked, so a change to a module alone does not churn the dump."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema" / "bgjobs.sql"


def dump(dsn: str) -> str:
    from bgjobs import sandbox

    out = subprocess.run(
        [str(sandbox.bindir() / "pg_dump"), "--schema-only", "--no-owner", "--no-comments",
         "-T", "bgjobs._yoyo*", "-T", "bgjobs.yoyo_lock", "--dbname", dsn],
        capture_output=True, text=True, check=True).stdout
    lines = []
    for line in out.splitlines():
        if line.startswith("--") or line.startswith("SET ") or line.startswith("SELECT pg_catalog.set_config"):
            continue
        if re.match(r"^\\(un)?restrict ", line):     # pg_dump >= 15.14 adds these random keys
            continue
        lines.append(line.rstrip())
    text = "\n".join(lines)
    # the PL/Python loaders key each embedded plpython/ module by its hash: a module's own
    # change is reviewed in plpython/, not again here as churn
    text = re.sub(r"bgjobs_mod:(\w+):[0-9a-f]{16}", r"bgjobs_mod:\1:<sha256>", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
