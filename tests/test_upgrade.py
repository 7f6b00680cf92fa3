"""Upgrades you can trust: install the first release (0.1.0, tagged v0.1.0), give it jobs'
state and history, upgrade to this checkout, and compare with a fresh install: the schema
must be equal (functions, grants, views, triggers) and the state and history must survive."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import psycopg
import pytest
from bgjobs import install as inst
from bgjobs.settings import Settings
from schema_dump import dump

ROOT = Path(__file__).resolve().parents[1]
FIRST_RELEASE = "90fed40c6d122e5567e338c1303a47e782fb2cdf"     # v0.1.0
# made with: git archive --format=tar --prefix=bgjobs-0.1.0/ v0.1.0 <ARCHIVED> | gzip -n -9
RELEASE_ARCHIVE = ROOT / "tests" / "releases" / "bgjobs-0.1.0.tar.gz"
ARCHIVED = ("installer", "migrations", "sql", "plpython", "pyproject.toml")
# The database is scheduled, so pg_cron may add runs (and their audit rows) while the test
# runs; the state compared is the finished runs and the audit rows that were there before.
RUNS = "SELECT id, status FROM jobs_log WHERE status <> 'running'"


def _release_tree(tmp_path: Path) -> Path:
    """Release 0.1.0's installer, migrations, SQL and PL/Python, from the archive kept in
    tests/releases (a clone without history, such as CI's, has no tag to read it from)."""
    with tarfile.open(RELEASE_ARCHIVE) as tar:
        tar.extractall(tmp_path, filter="data")
    return tmp_path / "bgjobs-0.1.0"


def test_the_kept_archive_is_release_0_1_0():
    """tests/releases/bgjobs-0.1.0.tar.gz holds exactly the tagged release's files."""
    tree = None
    if shutil.which("git") and (ROOT / ".git").exists():
        tree = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", FIRST_RELEASE, *ARCHIVED],
                              capture_output=True)
    if tree is None or tree.returncode != 0:
        # one case: a copy without the repository's history (a shallow clone, an unpacked tarball)
        pytest.skip(f"release 0.1.0 ({FIRST_RELEASE[:7]}) is not in this copy's git history, so the kept "
                    "archive cannot be compared with it; the upgrade test runs from the archive all the same")
    tagged = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "-q", "--verify", "v0.1.0^{commit}"],
                            capture_output=True, text=True).stdout.strip()
    assert tagged in ("", FIRST_RELEASE)

    def files(tar: tarfile.TarFile, prefix: str = "") -> dict[str, bytes]:
        return {m.name.removeprefix(prefix): tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}

    with tarfile.open(fileobj=io.BytesIO(tree.stdout)) as want, tarfile.open(RELEASE_ARCHIVE) as kept:
        assert files(kept, "bgjobs-0.1.0/") == files(want)


def _old(release: Path, code: str, dsn: str) -> str:
    """Run `code` with release 0.1.0's package (dsn bound) in a subprocess."""
    prog = f"import sys; sys.path.insert(0, {str(release / 'installer')!r}); dsn = {dsn!r}\n{code}"
    env = dict(os.environ, PYTHONPATH="")
    res = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def test_upgrade_from_the_first_release_equals_a_fresh_install_and_keeps_state(tmp_path, pg_server, new_db):
    pytest.importorskip("croniter", reason="release 0.1.0's schedule module imports croniter")
    release = _release_tree(tmp_path)
    old_db, fresh_db = new_db(), new_db()
    old_dsn, fresh_dsn = pg_server.dsn(old_db), pg_server.dsn(fresh_db)

    _old(release, "from bgjobs import install, settings\n"
                  "install.install(dsn, settings.Settings(), schedule=True, report=lambda s: None)\n"
                  "import psycopg\nfrom bgjobs import demodata\n"
                  "with psycopg.connect(dsn, autocommit=True) as c:\n"
                  "    demodata.load(c, tenants=3, tasks_per_tenant=20)\n"
                  "    for (j,) in c.execute('SELECT job_name FROM bgjobs.job_registry ORDER BY 1').fetchall():\n"
                  "        c.execute('SELECT run_job(%s)', (j,))\n"
                  "    c.execute(\"SELECT set_secret('SLACK_WEBHOOK_URL', 'http://127.0.0.1:9/hook')\")\n"
                  "    c.execute(\"SELECT silence_job('analytics-snapshot', now() + interval '2 days', 'upgrade test')\")\n"
                  "    c.execute(\"INSERT INTO jobs_log (job_name, status, error_message) VALUES ('cron-healthcheck', 'failed', 'x')\")\n"
                  "    c.execute(\"SELECT run_job('check-job-health')\")\n", old_dsn)

    with psycopg.connect(old_dsn, autocommit=True) as c:
        before = {
            "runs": set(c.execute(RUNS).fetchall()),
            "audit": set(c.execute("SELECT id FROM audit_log").fetchall()),
            "alerts": c.execute("SELECT count(*) FROM bgjobs.alert_state WHERE state = 'firing'").fetchone()[0],
            "silences": c.execute("SELECT count(*) FROM bgjobs.silences").fetchone()[0],
            "secrets": c.execute("SELECT name FROM bgjobs.secrets").fetchall(),
            # overdue/SLA flags: in tasks' own columns before 0010, in bgjobs_app.task_flags after it
            "flags": c.execute("SELECT count(*) FROM tasks WHERE (is_overdue OR sla_violated) "
                               "AND status IN ('Open', 'In Progress')").fetchone()[0],
            "snapshots": c.execute("SELECT count(*) FROM analytics_snapshots").fetchone()[0],
            "heartbeats": c.execute("SELECT count(*) FROM job_heartbeats").fetchone()[0],
        }
        assert len(before["runs"]) >= 11 and before["alerts"] >= 1 and before["snapshots"] > 0
        assert c.execute("SELECT to_regclass('public._yoyo_migration')").fetchone()[0] is not None

    lines: list[str] = []
    inst.install(old_dsn, Settings(), report=lines.append)
    inst.install(fresh_dsn, Settings(), report=lambda s: None)
    assert any("moved bgjobs' migration history" in line for line in lines), lines

    d_old, d_fresh = dump(old_dsn), dump(fresh_dsn)
    if d_old != d_fresh:
        import difflib
        print("\n".join(difflib.unified_diff(d_old.splitlines(), d_fresh.splitlines(), lineterm="", n=2)))
    assert d_old == d_fresh

    with psycopg.connect(old_dsn, autocommit=True) as c:
        after = {
            "runs": set(c.execute(RUNS + " AND id = ANY(%s)", ([i for i, _ in before["runs"]],)).fetchall()),
            "audit": set(c.execute("SELECT id FROM audit_log").fetchall()) & before["audit"],
            "alerts": c.execute("SELECT count(*) FROM bgjobs.alert_state WHERE state = 'firing'").fetchone()[0],
            "silences": c.execute("SELECT count(*) FROM bgjobs.silences").fetchone()[0],
            "secrets": c.execute("SELECT name FROM bgjobs.secrets").fetchall(),
            "flags": c.execute("SELECT count(*) FROM bgjobs_app.task_flags").fetchone()[0],
            "snapshots": c.execute("SELECT count(*) FROM analytics_snapshots").fetchone()[0],
            "heartbeats": c.execute("SELECT count(*) FROM job_heartbeats").fetchone()[0],
        }
        assert after == before and before["flags"] > 0
        # the flags carried over: the next SLA tick finds only tasks that fell due since the last one
        last = c.execute("SELECT max(coalesce(as_of, started_at)) FROM jobs_log WHERE job_name = "
                         "'check-sla-and-overdue' AND status = 'success'").fetchone()[0]
        now = c.execute("SELECT now()").fetchone()[0]
        fell_due = c.execute("SELECT count(*) FROM tasks WHERE status IN ('Open', 'In Progress') "
                             "AND due_date >= %s AND due_date < %s", (last, now)).fetchone()[0]
        tick = c.execute("SELECT public.run_job('check-sla-and-overdue', %s)", (now,)).fetchone()[0]
        assert tick["success"] and tick["results"]["overdueTasks"] == fell_due, tick
        assert c.execute("SELECT to_regclass('public._yoyo_migration')").fetchone()[0] is None
        assert c.execute("SELECT count(*) FROM bgjobs._yoyo_migration").fetchone()[0] == len(
            list((ROOT / "migrations").glob("*[0-9].*[a-z].sql")) ) - len(list((ROOT / "migrations").glob("*.rollback.sql")))
        c.execute("SET bgjobs.allow_future_as_of = on")
        for (job,) in c.execute("SELECT job_name FROM bgjobs.job_registry WHERE enabled ORDER BY 1").fetchall():
            resp = c.execute("SELECT public.run_job(%s)", (job,)).fetchone()[0]
            assert resp["success"], resp
    with psycopg.connect(pg_server.dsn(pg_server.cron_db), autocommit=True) as cc:
        users = cc.execute("SELECT DISTINCT username FROM cron.job WHERE database = %s", (old_db,)).fetchall()
        assert users == [("bgjobs_runner",)]
        assert cc.execute("SELECT count(*) FROM cron.job WHERE database = %s", (old_db,)).fetchone()[0] == 10
