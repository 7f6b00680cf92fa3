"""`bgjobs demo` ends by saying what still runs and how to stop it, and never prints the
sandbox's password."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from bgjobs import sandbox
from cli_helpers import run_cli


def test_demo_says_what_still_runs_and_hides_the_password():
    d = Path(tempfile.mkdtemp(prefix="bgjobs-demo-end-", dir="/tmp"))
    try:
        proc = run_cli("demo", "--dir", str(d), "--port", str(sandbox.free_port()), env={"COLUMNS": "100"},
                       check=True)
        password = json.loads((d / "sandbox.json").read_text())["password"]
        assert password not in proc.stdout + proc.stderr
        tail = proc.stdout.strip().splitlines()[-6:]
        assert tail[0].startswith(f"still running: the sandbox PostgreSQL in {d}, on 127.0.0.1:")
        assert "with pg_cron ticking" in tail[1] and "deliver-notifications every minute" in tail[1]
        assert tail[-1] == f"  stop it: bgjobs sandbox stop --dir {d}"
        assert f"the password is in {d / 'sandbox.json'}" in proc.stdout
        assert run_cli("sandbox", "status", "--dir", str(d)).returncode == 0        # it does still run
        assert run_cli("sandbox", "stop", "--dir", str(d), check=True).stdout.strip() == "stopped"
    finally:
        sandbox.stop(d)
        shutil.rmtree(d, ignore_errors=True)
