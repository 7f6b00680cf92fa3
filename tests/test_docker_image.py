"""The docker/ image end to end: build it, start it, `bgjobs install` into it, run a job.

Needs a Docker engine (testcontainers drives it). Without one, the whole module is skipped
with a clear reason, after a reachability check that waits at most 3 seconds.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

DOCKER_DIR = Path(__file__).resolve().parents[1] / "docker"
PASSWORD = "bgjobs-test-pw"  # URL-safe: it goes into the DSN as is
NO_ENGINE = "no Docker engine here (testcontainers needs one)"


def _docker_engine_reachable() -> bool:
    try:
        import docker
    except ImportError:
        return False
    try:
        client = docker.from_env(timeout=3)
    except Exception:
        return False
    try:
        return bool(client.ping())
    except Exception:
        return False
    finally:
        client.close()


pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(not _docker_engine_reachable(), reason=NO_ENGINE),
]


def _postgres_container_class():
    try:  # testcontainers >= 4.10 or so
        from testcontainers.community.postgres import PostgresContainer
    except ImportError:  # earlier 4.x
        from testcontainers.postgres import PostgresContainer
    return PostgresContainer


@pytest.mark.docker
def test_image_installs_and_runs_a_job():
    import psycopg
    from testcontainers.core.image import DockerImage

    PostgresContainer = _postgres_container_class()
    tag = f"bgjobs-postgres-test:{uuid.uuid4().hex[:12]}"

    with DockerImage(path=str(DOCKER_DIR), tag=tag) as image:
        with PostgresContainer(
            image=str(image),
            username="postgres",
            password=PASSWORD,
            dbname="bgjobs",
            driver=None,
        ) as pg:
            dsn = pg.get_connection_url()
            assert dsn.startswith("postgresql://"), dsn

            proc = subprocess.run(
                [sys.executable, "-m", "bgjobs", "install", "--dsn", dsn],
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert proc.returncode == 0, (
                f"bgjobs install exited {proc.returncode}\n"
                f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
            )

            with psycopg.connect(dsn, autocommit=True) as conn:
                settings = dict(
                    conn.execute(
                        "SELECT name, setting FROM pg_settings WHERE name IN "
                        "('cron.database_name', 'cron.use_background_workers', 'max_worker_processes')"
                    ).fetchall()
                )
                assert settings == {
                    "cron.database_name": "bgjobs",
                    "cron.use_background_workers": "on",
                    "max_worker_processes": "40",
                }
                (jobs,) = conn.execute("SELECT count(*) FROM cron.job").fetchone()
                assert jobs >= 9
                (job,) = conn.execute(
                    "SELECT run_job('check-sla-and-overdue')->>'job'"
                ).fetchone()
                assert job == "check-sla-and-overdue"
