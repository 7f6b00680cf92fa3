"""The docker/ folder for real: the database image (testcontainers) and the compose stack.

Needs a Docker engine and the base image debian:bookworm (.ci/docker-setup builds one from
the Debian mirror where no image registry is reachable). Without an engine the module skips
with the reason; with BGJOBS_REQUIRE_DOCKER=1 (set by CI once it started an engine) it fails
instead, so CI cannot pass by skipping.

What a user of the image would check: it starts as a non-root user, turns healthy only when
the server and pg_cron's launcher run, takes its password from a file, refuses to start
without one, carries pg_cron's libpq-mode configuration, `bgjobs install` works into it over
TCP, and pg_cron runs jobs in it, both as the installing superuser and as a password-less
bgjobs_runner role (peer authentication through the bgjobs_cron ident map). The compose
stack builds, installs, and delivers a failure alert e-mail to its mail sink.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest

# The reaper container (Ryuk) is an image pulled from a registry, which these machines cannot
# reach; the fixtures below remove what they start themselves.
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")

ROOT = Path(__file__).resolve().parents[1]
DOCKER_DIR = ROOT / "docker"
BASE_IMAGE = "debian:bookworm"
REQUIRED = os.environ.get("BGJOBS_REQUIRE_DOCKER") == "1"


def _engine_problem() -> str | None:
    """None if a Docker engine answers, else why not (waits at most 3 s)."""
    try:
        import docker
    except ImportError:
        return "the docker Python package is not installed (pip install -e '.[test]')"
    try:
        client = docker.from_env(timeout=3)
    except Exception as exc:
        return f"no Docker engine here ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
    try:
        client.ping()
    except Exception as exc:
        return f"the Docker engine does not answer ({type(exc).__name__})"
    finally:
        client.close()
    return None


_PROBLEM = _engine_problem()
pytestmark = [pytest.mark.docker]
if _PROBLEM and not REQUIRED:
    pytestmark.append(pytest.mark.skip(reason=_PROBLEM))


def _wait(what: str, probe, timeout: float, interval: float = 1.0):
    """probe() until it returns something truthy; fail naming `what` after timeout s."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:.0f} s")
        time.sleep(interval)


@pytest.fixture(scope="module")
def client():
    if _PROBLEM:
        pytest.fail(f"BGJOBS_REQUIRE_DOCKER=1 but {_PROBLEM}")
    import docker

    c = docker.from_env(timeout=300)
    try:
        c.images.get(BASE_IMAGE)
    except docker.errors.ImageNotFound:
        try:
            c.images.pull(BASE_IMAGE)
        except docker.errors.APIError as exc:
            reason = (f"no {BASE_IMAGE} image and it cannot be pulled ({str(exc).splitlines()[0]}); "
                      "`.ci/docker-setup start` builds one from the Debian mirror")
            if REQUIRED:
                pytest.fail(reason)
            pytest.skip(reason)
    yield c
    c.close()


@pytest.fixture(scope="module")
def db_image(client):
    """The database image built from docker/ exactly as a user builds it, under a tag of our
    own; removed by that tag only (an image id other tags share keeps them)."""
    tag = f"bgjobs-postgres-test:{uuid.uuid4().hex[:12]}"
    client.images.build(path=str(DOCKER_DIR), tag=tag, rm=True, forcerm=True)
    yield client.images.get(tag)
    client.images.remove(tag)


@pytest.fixture
def password_file(tmp_path):
    password = secrets.token_urlsafe(18)
    path = tmp_path / "postgres-password"
    path.write_text(password + "\n")
    path.chmod(0o644)  # read by the container's postgres user through the bind mount
    return password, path


def _health(container) -> str:
    wrapped = container.get_wrapped_container()
    wrapped.reload()
    return wrapped.attrs["State"].get("Health", {}).get("Status", "")


def test_database_image_runs_pg_cron_jobs_for_bgjobs(client, db_image, password_file):
    from testcontainers.core.container import DockerContainer

    password, pw_path = password_file
    container = (DockerContainer(db_image.tags[0])
                 .with_env("POSTGRES_PASSWORD_FILE", "/run/secrets/postgres-password")
                 .with_volume_mapping(pw_path, "/run/secrets/postgres-password", "ro"))
    # Published on the loopback interface only (testcontainers' own binding is 0.0.0.0).
    container.ports["5432/tcp"] = ("127.0.0.1",)
    with container:
        _wait("container healthy", lambda: _health(container) == "healthy", 120)
        wrapped = container.get_wrapped_container()

        # non-root: every process of the container runs as the image's postgres user
        uid = container.exec(["id", "-u"]).output.decode().strip()
        assert wrapped.attrs["Config"]["User"] == "postgres"
        top = wrapped.top(ps_args="-o pid,uid,comm")
        uids = {row[top["Titles"].index("UID")] for row in top["Processes"]}
        assert uids == {uid}, top
        assert uid != "0"
        # the password reached the server from the file only: not in the image, not in env
        assert password not in json.dumps(db_image.attrs)
        assert password not in json.dumps(db_image.history())
        assert not any(e.startswith("POSTGRES_PASSWORD=") for e in wrapped.attrs["Config"]["Env"])

        port = container.get_exposed_port(5432)
        wrapped.reload()
        assert {b["HostIp"] for b in wrapped.attrs["NetworkSettings"]["Ports"]["5432/tcp"]} == {"127.0.0.1"}
        dsn = f"postgresql://postgres:{password}@127.0.0.1:{port}/bgjobs"
        with psycopg.connect(dsn, autocommit=True) as conn:
            settings = dict(conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN ('shared_preload_libraries', "
                "'cron.database_name', 'cron.use_background_workers', 'cron.host')").fetchall())
            assert settings == {"shared_preload_libraries": "pg_cron", "cron.database_name": "bgjobs",
                                "cron.use_background_workers": "off", "cron.host": "/var/run/postgresql"}
            local_rules = conn.execute(
                "SELECT user_name, auth_method, options FROM pg_hba_file_rules "
                "WHERE type = 'local' ORDER BY line_number").fetchall()
            assert local_rules[0] == (["bgjobs_runner"], "peer", ["map=bgjobs_cron"])
            assert ("bgjobs_cron", "postgres", "bgjobs_runner") in conn.execute(
                "SELECT map_name, sys_name, pg_username FROM pg_ident_file_mappings").fetchall()

            proc = subprocess.run([sys.executable, "-m", "bgjobs", "install", "--dsn", dsn],
                                  capture_output=True, text=True, timeout=600)
            assert proc.returncode == 0, f"bgjobs install failed:\n{proc.stdout}\n{proc.stderr}"

            # install made bgjobs_runner (LOGIN, no password) and scheduled bgjobs' jobs as it:
            # pg_cron reaches it through the socket and the ident map. A probe job of our
            # own as the runner shows the same path for a DBA's own job.
            assert conn.execute("SELECT rolcanlogin, rolsuper, rolpassword IS NULL FROM pg_authid "
                                "WHERE rolname = 'bgjobs_runner'").fetchone() == (True, False, True)
            conn.execute("CREATE TABLE public.docker_probe (who text NOT NULL)")
            conn.execute("GRANT INSERT ON public.docker_probe TO bgjobs_runner")
            conn.execute("SELECT cron.schedule_in_database('docker-probe', '* * * * *', "
                         "'INSERT INTO public.docker_probe VALUES (current_user)', current_database(), "
                         "'bgjobs_runner')")

            def both_ran():
                cron = conn.execute(
                    "SELECT j.jobname, j.username, d.status FROM cron.job_run_details d "
                    "JOIN cron.job j USING (jobid) WHERE j.jobname IN ('deliver-notifications', 'docker-probe') "
                    "AND d.status IN ('succeeded', 'failed') ORDER BY d.runid").fetchall()   # finished runs
                return cron if {r[0] for r in cron} == {"deliver-notifications", "docker-probe"} else None

            cron = _wait("pg_cron runs of deliver-notifications and docker-probe", both_ran, 80)
            assert {(name, user, status) for name, user, status in cron} == {
                ("deliver-notifications", "bgjobs_runner", "succeeded"),
                ("docker-probe", "bgjobs_runner", "succeeded")}
            assert conn.execute("SELECT DISTINCT who FROM public.docker_probe").fetchall() == [("bgjobs_runner",)]
            assert ("deliver-notifications", "success", "cron") in conn.execute(
                "SELECT job_name, status, trigger FROM jobs_log").fetchall()

            # The healthcheck means pg_cron too: with its launcher gone it reports unhealthy.
            check = container.exec(["bgjobs-db-healthcheck"])
            assert (check.exit_code, check.output.decode().strip()) == (0, "database up, pg_cron launcher running")
            assert conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE backend_type = 'pg_cron launcher'").fetchall() == [(True,)]
            check = _wait("healthcheck failing without the launcher",
                          lambda: (r := container.exec(["bgjobs-db-healthcheck"])).exit_code != 0 and r, 10, 0.2)
            assert check.output.decode().strip() == "pg_cron launcher not running (a restart brings it back)"


def test_database_image_refuses_to_start_without_a_password(client, db_image):
    container = client.containers.run(db_image.id, detach=True)
    try:
        assert container.wait(timeout=60)["StatusCode"] == 1
        logs = container.logs().decode().strip().splitlines()
        assert logs == ["bgjobs-db: first start: set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE "
                        "(the password of postgres over TCP)"]
    finally:
        container.remove(force=True, v=True)


def _compose_command() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"],
                                                 capture_output=True).returncode == 0:
        return ["docker", "compose"]
    reason = "neither docker-compose nor the docker compose plugin is installed"
    if REQUIRED:
        pytest.fail(reason)
    pytest.skip(reason)


def test_compose_stack_delivers_an_alert_email(client):
    project = f"bgjobstest{uuid.uuid4().hex[:10]}"
    password = secrets.token_urlsafe(18)
    env = dict(os.environ, POSTGRES_PASSWORD=password, BGJOBS_DB_PORT="", BGJOBS_SMTP_PORT="")
    base = _compose_command() + ["-f", str(DOCKER_DIR / "compose.yaml"), "-p", project]

    def compose(*args, timeout=120, check=True):
        proc = subprocess.run(base + list(args), env=env, capture_output=True, text=True, timeout=timeout)
        if check:
            assert proc.returncode == 0, f"compose {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
        return proc

    def container_of(service):
        ids = compose("ps", "-q", service).stdout.split()
        return client.containers.get(ids[0]) if ids else None

    try:
        compose("up", "-d", "--build", timeout=900)
        installer = container_of("installer")
        _wait("installer finished", lambda: (installer.reload(), installer.status == "exited")[1], 300)
        assert installer.attrs["State"]["ExitCode"] == 0, installer.logs().decode()
        assert "bgjobs installed in database bgjobs" in installer.logs().decode()
        worker = container_of("worker")
        _wait("worker running", lambda: (worker.reload(), worker.status == "running")[1], 60)

        host, _, port = compose("port", "db", "5432").stdout.strip().rpartition(":")
        assert host == "127.0.0.1"
        token = uuid.uuid4().hex
        job = "automation-health-check"           # a registered job: its failure streak alerts once
        with psycopg.connect(f"postgresql://postgres:{password}@127.0.0.1:{port}/bgjobs", autocommit=True) as conn:
            conn.execute("INSERT INTO jobs_log (job_name, status, error_message) VALUES (%s, 'failed', %s)",
                         (job, f"disk full {token}"))

            def mails_for_job():
                out = compose("exec", "-T", "mail", "sh", "-c",
                              "for f in /var/spool/mailsink/*.eml; do [ -e \"$f\" ] && cat \"$f\" && printf '\\0'; done; exit 0")
                messages = [email.message_from_bytes(part.encode(), policy=email.policy.default)
                            for part in out.stdout.split("\0") if part.strip()]
                return [m for m in messages if job in str(m["Subject"]) and token in m.get_body(("plain",)).get_content()]

            mails = _wait("alert e-mail at the mail sink", mails_for_job, 120, 2)
            assert len(mails) == 1
            mail = mails[0]
            assert str(mail["Subject"]) == f"ALERT: Job Failed - {job}"
            assert str(mail["To"]) == "ops@example.com"
            assert str(mail["X-Mailsink-To"]) == "ops@example.com"
            assert f"disk full {token}" in mail.get_body(("plain",)).get_content()
            assert conn.execute("SELECT channel, recipient, status FROM notifications "
                                "WHERE payload->>'job_name' = %s", (job,)).fetchall() == [
                ("email", "ops@example.com", "sent")]
    finally:
        down = compose("down", "-v", "--rmi", "local", "--remove-orphans", timeout=300, check=False)
        assert down.returncode == 0, down.stderr
    assert not client.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"})
    assert not client.images.list(filters={"reference": f"{project}_*"})
