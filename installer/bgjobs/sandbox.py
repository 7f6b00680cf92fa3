"""An embedded local PostgreSQL cluster for the demo, the tests and quick trials.

`bgjobs sandbox start` creates (once) and starts a cluster in a directory:
pg_cron preloaded (its database is ``bgjobs``), plpython3u available, listening on
127.0.0.1 only, with its own port and its own socket directory.  As root the server
runs as the ``postgres`` OS user (or a ``bgjobs`` system user created for it), since
PostgreSQL refuses to run as root; as a normal user it runs as that user.

Authentication: TCP on loopback needs the superuser password generated at initdb
(kept in ``<dir>/sandbox.json``, mode 0600, and in the DSN that ``start`` prints);
the unix socket directory is mode 0700, so only the server's OS user (and root) can
use it.

pg_cron runs in libpq mode (``cron.use_background_workers = off``): pg_cron 1.4.2 with
background workers starts no job while another one runs (upstream issue #200, fixed in
1.5), so one long run would delay every other job's tick.  In libpq mode pg_cron opens
a connection per run to ``cron.host`` (the socket directory) as the job's user; pg_cron
runs as the server's OS user, so the socket lets it in as bgjobs_runner by peer
authentication through the ident map ``bgjobs_cron`` (``<os user> -> bgjobs_runner``),
and as any other role by trust (the socket is reachable by the server's OS user only).
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import BgjobsError

DEFAULT_PORT = 54329
DATABASE = "bgjobs"
SUPERUSER = "postgres"
DEBIAN_PACKAGES = "postgresql-15 postgresql-15-cron postgresql-plpython3-15"


@dataclass
class Sandbox:
    dir: Path
    port: int
    password: str
    os_user: str

    @property
    def dsn(self) -> str:
        return f"postgresql://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{DATABASE}"

    def dsn_for(self, dbname: str) -> str:
        return f"postgresql://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{dbname}"

    @property
    def data(self) -> Path:
        return self.dir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.dir / "run"

    @property
    def logfile(self) -> Path:
        return self.dir / "postgres.log"


def default_dir() -> Path:
    env = os.environ.get("BGJOBS_SANDBOX_DIR")
    if env:
        return Path(env)
    if os.geteuid() == 0:
        return Path("/var/lib/bgjobs/sandbox")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "bgjobs" / "sandbox"


def bindir() -> Path:
    """The PostgreSQL server binaries: $PG_BINDIR, `pg_config --bindir`, Debian's path."""
    candidates = []
    if os.environ.get("PG_BINDIR"):
        candidates.append(Path(os.environ["PG_BINDIR"]))
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if out.returncode == 0:
            candidates.append(Path(out.stdout.strip()))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for c in candidates:
        if (c / "initdb").exists() and (c / "pg_ctl").exists():
            return c
    raise BgjobsError(
        f"PostgreSQL server binaries (initdb, pg_ctl) not found; install the Debian packages: {DEBIAN_PACKAGES}"
    )


def _pkglibdir(bin_dir: Path) -> Path:
    pg_config = bin_dir / "pg_config"
    exe = str(pg_config) if pg_config.exists() else shutil.which("pg_config")
    if exe:
        out = subprocess.run([exe, "--pkglibdir"], capture_output=True, text=True)
        if out.returncode == 0:
            return Path(out.stdout.strip())
    return bin_dir.parent / "lib"


def check_extensions(bin_dir: Path) -> None:
    lib = _pkglibdir(bin_dir)
    missing = [pkg for so, pkg in (("pg_cron.so", "postgresql-15-cron"), ("plpython3.so", "postgresql-plpython3-15"))
               if not (lib / so).exists()]
    if missing:
        raise BgjobsError(
            f"PostgreSQL extension packages missing from {lib}: install the Debian packages: {' '.join(missing)}"
        )


def _server_user() -> str:
    """The OS user that runs the server: ourselves, or (as root) postgres / bgjobs."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name
    for name in ("postgres", "bgjobs"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            pass
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "bgjobs"],
                   check=True, capture_output=True)
    return "bgjobs"


def _run_as(user: str, args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    kwargs: dict = {"capture_output": True, "text": True, "cwd": str(cwd)}
    env = dict(os.environ)
    for var in ("PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD", "DATABASE_URL", "PGSERVICE"):
        env.pop(var, None)
    if os.geteuid() == 0 and user != "root":
        pw = pwd.getpwnam(user)
        kwargs.update(user=pw.pw_uid, group=pw.pw_gid, extra_groups=[])
        env.update(HOME=pw.pw_dir or str(cwd), USER=user, LOGNAME=user)
    kwargs["env"] = env
    proc = subprocess.run(args, **kwargs)
    if check and proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise BgjobsError(f"{Path(args[0]).name} failed: {tail[0]}")
    return proc


def _check_reachable(path: Path, user: str) -> None:
    """As root, every parent of the sandbox dir must be searchable by the server user."""
    if os.geteuid() != 0:
        return
    pw = pwd.getpwnam(user)
    for parent in list(path.parents)[::-1]:
        st = parent.stat()
        if st.st_uid == pw.pw_uid:
            continue
        if not st.st_mode & stat.S_IXOTH and not (st.st_gid == pw.pw_gid and st.st_mode & stat.S_IXGRP):
            raise BgjobsError(
                f"sandbox dir {path} is not reachable by OS user {user} ({parent} is mode "
                f"{stat.S_IMODE(st.st_mode):o}); choose another --dir, e.g. /var/lib/bgjobs/sandbox"
            )


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _state_file(d: Path) -> Path:
    return d / "sandbox.json"


def load(d: Path | None = None) -> Sandbox | None:
    d = Path(d or default_dir()).absolute()
    f = _state_file(d)
    if not f.exists():
        return None
    st = json.loads(f.read_text())
    return Sandbox(dir=d, port=st["port"], password=st["password"], os_user=st["os_user"])


def is_running(sb: Sandbox) -> bool:
    proc = _run_as(sb.os_user, [str(bindir() / "pg_ctl"), "status", "-D", str(sb.data)], cwd=sb.dir, check=False)
    return proc.returncode == 0


CONF = """
# --- bgjobs sandbox ---
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{socket_dir}'
unix_socket_permissions = 0700
shared_preload_libraries = 'pg_cron'
cron.database_name = '{database}'
cron.use_background_workers = {bgworkers}
cron.host = '{socket_dir}'
max_worker_processes = 40
max_connections = 100
timezone = 'UTC'
log_timezone = 'UTC'
log_min_messages = warning
shared_buffers = 256MB
"""

HBA = """# bgjobs sandbox: socket dir is 0700 (server user and root only); TCP needs the password.
# pg_cron (libpq mode, as the server's OS user) connects as bgjobs_runner: peer + ident map.
local   all   bgjobs_runner        peer map=bgjobs_cron
local   all   all                  trust
host    all   all   127.0.0.1/32   scram-sha-256
"""


IDENT = """# bgjobs sandbox: pg_cron runs as the server's OS user and runs bgjobs' jobs as bgjobs_runner
bgjobs_cron   {os_user}   bgjobs_runner
"""

CRON_MODES = ("libpq", "bgworker")


def start(d: Path | None = None, port: int | None = None, preload_cron: bool = True,
          cron_mode: str = "libpq", extra_conf: str = "") -> Sandbox:
    """Create (first time) and start the sandbox cluster; return it. Idempotent.
    preload_cron=False makes a cluster without pg_cron (for testing preflight);
    cron_mode 'bgworker' (pg_cron's background workers, which serialise jobs on 1.4.2)
    exists for the scheduler benchmark and doctor's tests: the default is 'libpq';
    extra_conf: postgresql.conf lines appended at creation (later lines win)."""
    if cron_mode not in CRON_MODES:
        raise BgjobsError(f"cron mode {cron_mode!r}: expected one of {', '.join(CRON_MODES)}")
    d = Path(d or default_dir()).absolute()
    bin_dir = bindir()
    check_extensions(bin_dir)
    sb = load(d)
    if sb is None:
        sb = _init(d, bin_dir, port, preload_cron, cron_mode, extra_conf)
    elif port is not None and port != sb.port:
        if is_running(sb):
            raise BgjobsError(f"sandbox in {d} already runs on port {sb.port}; stop it first to change the port")
        _set_port(sb, port)
    if not is_running(sb):
        if not _port_free(sb.port):
            raise BgjobsError(f"port {sb.port} on 127.0.0.1 is in use; pass another --port")
        _run_as(sb.os_user, [str(bin_dir / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(sb.data),
                             "-l", str(sb.logfile)], cwd=d)
    _ensure_database(sb)
    _wait_for_launcher(sb)
    return sb


def _wait_for_launcher(sb: Sandbox, timeout: float = 20) -> None:
    """pg_cron's launcher connects to its database, which may have just been created: it
    retries after its restart delay.  Return once it runs, so that nothing right after
    start sees the scheduler as down."""
    import psycopg

    deadline = time.monotonic() + timeout
    with psycopg.connect(sb.dsn_for("postgres"), autocommit=True, connect_timeout=10) as conn:
        if "pg_cron" not in conn.execute("SELECT current_setting('shared_preload_libraries')").fetchone()[0]:
            return
        while time.monotonic() < deadline:
            if conn.execute("SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pg_cron launcher'").fetchone():
                return
            time.sleep(0.2)
    raise BgjobsError(f"pg_cron's launcher did not start within {timeout:.0f} s (see {sb.logfile})")


def _set_port(sb: Sandbox, port: int) -> None:
    conf = sb.data / "postgresql.auto.conf"
    _run_as(sb.os_user, ["sh", "-c", f"echo 'port = {int(port)}' >> '{conf}'"], cwd=sb.dir)
    sb.port = port
    _write_state(sb)


def _write_state(sb: Sandbox) -> None:
    f = _state_file(sb.dir)
    f.write_text(json.dumps({"port": sb.port, "password": sb.password, "os_user": sb.os_user}))
    os.chmod(f, 0o600)


def _init(d: Path, bin_dir: Path, port: int | None, preload_cron: bool = True, cron_mode: str = "libpq",
          extra_conf: str = "") -> Sandbox:
    user = _server_user()
    d.mkdir(parents=True, exist_ok=True)
    _check_reachable(d, user)
    pw = pwd.getpwnam(user)
    if os.geteuid() == 0:
        os.chown(d, pw.pw_uid, pw.pw_gid)
    os.chmod(d, 0o700)
    if port is None:
        port = DEFAULT_PORT if _port_free(DEFAULT_PORT) else free_port()
    sb = Sandbox(dir=d, port=port, password=secrets.token_urlsafe(18), os_user=user)
    pwfile = d / ".pwfile"
    pwfile.write_text(sb.password + "\n")
    os.chmod(pwfile, 0o600)
    if os.geteuid() == 0:
        os.chown(pwfile, pw.pw_uid, pw.pw_gid)
    try:
        _run_as(user, [str(bin_dir / "initdb"), "-D", str(sb.data), "-U", SUPERUSER, "-E", "UTF8",
                       "--locale=C.UTF-8", "--auth-local=trust", "--auth-host=scram-sha-256",
                       f"--pwfile={pwfile}"], cwd=d)
    finally:
        pwfile.unlink(missing_ok=True)
    socket_dir = sb.socket_dir
    _run_as(user, ["mkdir", "-p", "-m", "700", str(socket_dir)], cwd=d)
    conf = CONF.format(port=port, socket_dir=socket_dir, database=DATABASE,
                       bgworkers="on" if cron_mode == "bgworker" else "off")
    if not preload_cron:
        # drop the pg_cron settings by name: a substring test would also drop a line whose
        # value holds "cron" (the socket directory of a cluster in /tmp/bgjobs-nocron-...)
        conf = "\n".join(line for line in conf.splitlines() if not _is_cron_setting(line)) + "\n"
    _append(sb, sb.data / "postgresql.conf", conf + extra_conf)
    _append(sb, sb.data / "pg_hba.conf", HBA, replace=True)
    _append(sb, sb.data / "pg_ident.conf", IDENT.format(os_user=user))
    _write_state(sb)
    return sb


def _is_cron_setting(line: str) -> bool:
    """A postgresql.conf line that sets pg_cron up: shared_preload_libraries (pg_cron is
    the only library the sandbox preloads) or a cron.* parameter."""
    key = line.split("=", 1)[0].strip() if "=" in line else ""
    return key == "shared_preload_libraries" or key.startswith("cron.")


def _append(sb: Sandbox, path: Path, text: str, replace: bool = False) -> None:
    mode = "w" if replace else "a"
    with open(path, mode) as fh:
        fh.write(text)
    if os.geteuid() == 0:
        pw = pwd.getpwnam(sb.os_user)
        os.chown(path, pw.pw_uid, pw.pw_gid)


def _ensure_database(sb: Sandbox) -> None:
    import psycopg

    with psycopg.connect(sb.dsn_for("postgres"), autocommit=True, connect_timeout=10) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone():
            conn.execute(f'CREATE DATABASE "{DATABASE}"')


def stop(d: Path | None = None) -> bool:
    """Stop the sandbox; True if it was running."""
    sb = load(d)
    if sb is None or not is_running(sb):
        return False
    _run_as(sb.os_user, [str(bindir() / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(sb.data)], cwd=sb.dir)
    return True


def wait_ready(sb: Sandbox, timeout: float = 30) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(sb.dsn_for("postgres"), connect_timeout=3):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@contextmanager
def temporary(prefix: str = "bgjobs-", preload_cron: bool = True, cron_mode: str = "libpq",
              extra_conf: str = ""):
    """A throw-away sandbox for tests and benchmarks: a new directory under /tmp (which the
    server's OS user can reach when we are root), a free port; stopped and removed after."""
    d = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    try:
        yield start(d, free_port(), preload_cron=preload_cron, cron_mode=cron_mode, extra_conf=extra_conf)
    finally:
        try:
            stop(d)
        finally:
            shutil.rmtree(d, ignore_errors=True)
