"""What check-sla-and-overdue's change feed (sql/app/bgjobs.tasks_sla_feed.sql: statement
triggers on tasks writing bgjobs.task_changes) costs the application's writes:

    .venv/bin/python benchmarks/bench_sla_feed.py [--tenants 100] [--rounds 3]

Starts a sandbox, installs bgjobs, loads 1,000 tasks per tenant (bgjobs.demodata), then
measures, with the feed's triggers enabled and disabled in alternating rounds:
single-row UPDATEs that change a task's status (each its own transaction), single-row
UPDATEs of a column the feed ignores (title), single-row INSERTs, and one UPDATE of every
open task's due date.  Prints medians; benchmarks/RESULTS-jobs.md quotes them by hand.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "installer"))

import psycopg  # noqa: E402
from bgjobs import demodata, install, sandbox  # noqa: E402
from bgjobs.settings import Settings  # noqa: E402

TRIGGERS = ("tasks_sla_feed_insert", "tasks_sla_feed_update", "tasks_sla_feed_delete", "tasks_sla_feed_truncate")
N = 2000


def feed(c, on: bool) -> None:
    verb = "ENABLE ALWAYS" if on else "DISABLE"
    c.execute("ALTER TABLE tasks " + ", ".join(f"{verb} TRIGGER {t}" for t in TRIGGERS))


def measure(c, ids, tenant) -> dict[str, float]:
    out = {}
    t0 = time.perf_counter()
    for i, (tid, task) in enumerate(ids):
        c.execute("UPDATE tasks SET status = %s WHERE tenant_id = %s AND id = %s",
                  ("In Progress" if i % 2 else "Open", tid, task))
    out["status update (per row, ms)"] = (time.perf_counter() - t0) / len(ids) * 1000
    t0 = time.perf_counter()
    for tid, task in ids:
        c.execute("UPDATE tasks SET title = title WHERE tenant_id = %s AND id = %s", (tid, task))
    out["title update (per row, ms)"] = (time.perf_counter() - t0) / len(ids) * 1000
    t0 = time.perf_counter()
    for _ in range(len(ids) // 4):
        c.execute("INSERT INTO tasks (tenant_id, title, due_date) VALUES (%s, 'bench', now())", (tenant,))
    out["insert (per row, ms)"] = (time.perf_counter() - t0) / (len(ids) // 4) * 1000
    c.execute("DELETE FROM tasks WHERE title = 'bench'")
    t0 = time.perf_counter()
    n = c.execute("UPDATE tasks SET due_date = due_date + interval '1 minute' "
                  "WHERE status IN ('Open', 'In Progress')").rowcount
    out[f"one UPDATE of {n:,} open tasks' due dates (s)"] = time.perf_counter() - t0
    c.execute("DELETE FROM bgjobs.task_changes")
    c.execute("VACUUM ANALYZE tasks, bgjobs.task_changes")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tenants", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bgjobs-feed-", dir="/tmp"))
    tmp.chmod(0o755)
    sb = sandbox.start(tmp / "sandbox", sandbox.free_port())
    try:
        with psycopg.connect(sb.dsn_for("postgres"), autocommit=True) as c:
            c.execute('CREATE DATABASE "feed"')
        dsn = sb.dsn_for("feed")
        install.install(dsn, Settings(), schedule=False, report=lambda s: None)
        with psycopg.connect(dsn, autocommit=True) as c:
            demodata.load(c, tenants=args.tenants, tasks_per_tenant=1000, installments_per_tenant=0, seed=3,
                          as_of=datetime(2026, 3, 9, 12, 0, tzinfo=timezone.utc))
            c.execute("DELETE FROM bgjobs.task_changes")
            c.execute("VACUUM ANALYZE")
            ids = c.execute("SELECT tenant_id, id FROM tasks ORDER BY md5(id::text) LIMIT %s", (N,)).fetchall()
            tenant = ids[0][0]
            runs: dict[str, dict[str, list[float]]] = {"on": {}, "off": {}}
            loads = []
            for _ in range(args.rounds):
                for state in ("on", "off"):
                    loads.append(os.getloadavg()[0])
                    feed(c, state == "on")
                    for k, v in measure(c, ids, tenant).items():
                        runs[state].setdefault(k, []).append(v)
            feed(c, True)
        print(f"{args.tenants * 1000:,} tasks; rounds alternate feed on/off; 1-minute load averages: "
              + ", ".join(f"{x:.2f}" for x in loads))
        for k in runs["on"]:
            on, off = statistics.median(runs["on"][k]), statistics.median(runs["off"][k])
            print(f"{k}: feed on {on:.3f}, off {off:.3f} ({on / off:.2f}x); on "
                  + ", ".join(f"{x:.3f}" for x in runs["on"][k]) + "; off " + ", ".join(f"{x:.3f}" for x in runs["off"][k]))
    finally:
        sandbox.stop(tmp / "sandbox")
        subprocess.run(["rm", "-rf", str(tmp)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
