"""`bgjobs sandbox start|status|stop` through the command line: the DSN is the last line,
the cluster is reused, pg_cron is preloaded and plpython3u is available."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
from bgjobs import sandbox


def cli(*args):
    return subprocess.run([sys.executable, "-m", "bgjobs", "sandbox", *args], capture_output=True, text=True, timeout=120)


def test_sandbox_lifecycle():
    d = Path(tempfile.mkdtemp(prefix="bgjobs-sb-", dir="/tmp"))
    port = sandbox.free_port()
    try:
        first = cli("start", "--dir", str(d), "--port", str(port))
        assert first.returncode == 0, first.stderr
        dsn = first.stdout.strip().splitlines()[-1]
        assert dsn.startswith("postgresql://postgres:") and dsn.endswith(f"@127.0.0.1:{port}/bgjobs")
        with psycopg.connect(dsn, autocommit=True) as c:
            assert c.execute("SELECT current_setting('cron.database_name')").fetchone()[0] == "bgjobs"
            assert "pg_cron" in c.execute("SHOW shared_preload_libraries").fetchone()[0]
            assert c.execute("SELECT count(*) FROM pg_available_extensions WHERE name = 'plpython3u'").fetchone()[0] == 1
            assert c.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"
        again = cli("start", "--dir", str(d))                  # reused, same DSN
        assert again.returncode == 0 and again.stdout.strip().splitlines()[-1] == dsn
        st = cli("status", "--dir", str(d))
        assert st.returncode == 0 and f"127.0.0.1:{port}" in st.stdout
        assert (d / "sandbox.json").stat().st_mode & 0o077 == 0     # the password file is private
        assert cli("stop", "--dir", str(d)).stdout.strip() == "stopped"
        st = cli("status", "--dir", str(d))
        assert st.returncode == 3 and "stopped" in st.stdout
    finally:
        sandbox.stop(d)
        shutil.rmtree(d, ignore_errors=True)


def test_busy_port_is_a_one_line_error():
    import socket
    d = Path(tempfile.mkdtemp(prefix="bgjobs-sb-", dir="/tmp"))
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            busy = s.getsockname()[1]
            out = cli("start", "--dir", str(d), "--port", str(busy))
        assert out.returncode != 0
        assert out.stderr.strip() == f"bgjobs: port {busy} on 127.0.0.1 is in use; pass another --port"
    finally:
        sandbox.stop(d)
        shutil.rmtree(d, ignore_errors=True)
