"""The source distribution holds what its tests need: schema/ (the committed dump that
tests/test_schema.py compares with) and ./dev (the entry point that runs them)."""

import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_sdist_ships_tests_with_schema_and_dev(tmp_path):
    hatchling_sdist = pytest.importorskip("hatchling.builders.sdist")
    builder = hatchling_sdist.SdistBuilder(str(ROOT))
    (path,) = list(builder.build(directory=str(tmp_path), versions=["standard"]))
    with tarfile.open(path) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
        dev = tar.getmember(next(n for n in tar.getnames() if n.endswith("/dev")))
    for wanted in ("schema/bgjobs.sql", "dev", "tests/conftest.py", "tests/test_schema.py", "migrations/0001.core.sql",
                   "sql/views/job_status.sql", "plpython/bgjobs_schedule.py", "installer/bgjobs/cli.py", "pyproject.toml"):
        assert wanted in names, wanted
    assert dev.mode & 0o111, "./dev must stay executable"
    assert not any(n.startswith((".venv/", ".git/")) for n in names)
