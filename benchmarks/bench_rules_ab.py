"""Before/after of the SLA tick with automation rules on ONE kept database (issue 9, "Speed"):

    .venv/bin/python benchmarks/bench_rules_ab.py [--dir D] [--port P] [--load] [--rev main] [--rounds 3]
                                                  [--modes before,after,bare_window,before_full,after_full,bare]

--load starts a sandbox in D (bgjobs.sandbox), installs this tree without pg_cron schedules and
loads the data of bench_jobs.py (1,000 tenants x 1,000 tasks, 3.3 % newly overdue at the measured
tick, the older overdue ones flagged, two task_overdue rules per tenant); without it the sandbox
in D (left running by an earlier --load) is reused.  Each round runs the modes interleaved, each
on a fresh backend, then undoes the tick (bench_jobs.reset_sla: flags, rows, tick state, VACUUM):
  before / after          one incremental tick (run_job) with REV's / this tree's
                          fire_automation_events and job_check_sla_and_overdue (CREATE OR REPLACE
                          between runs; the rest of the schema is this tree's);
  before_full, after_full the same as a full pass;
  bare_window, bare       bench_jobs.bare_with_rules (the set-based statements writing the same
                          rows), reading the window since the previous tick / every open past-due task;
  *_serial                the bare statements with max_parallel_workers_per_gather = 0 (the tick's
                          statements write, so they never run in parallel).
Every tick's results must equal the first one's.  Prints wall time, the backend's CPU time and
the 1-minute load average at each round's start; benchmarks/RESULTS-jobs.md quotes them by hand.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "installer"))

import bench_jobs as bj
from bgjobs import install, sandbox
from bgjobs.settings import Settings

FILES = ("sql/app/bgjobs_app.fire_automation_events.sql", "sql/app/bgjobs_app.job_check_sla_and_overdue.sql")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/bgjobs-rules-ab"))
    ap.add_argument("--port", type=int, default=55416)
    ap.add_argument("--load", action="store_true")
    ap.add_argument("--tenants", type=int, default=1000)
    ap.add_argument("--rev", default="main")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--modes", default="before,after,bare_window,before_full,after_full,bare")
    args = ap.parse_args()

    sb = sandbox.start(args.dir, args.port)
    dsn = sb.dsn_for("rules_ab")
    if args.load:
        with psycopg.connect(sb.dsn_for("postgres"), autocommit=True) as c:
            c.execute('DROP DATABASE IF EXISTS "rules_ab" WITH (FORCE)')
            c.execute('CREATE DATABASE "rules_ab"')
        install.install(dsn, Settings(), schedule=False, report=lambda s: None)
        bj.load(bj.Bench(dsn), args.tenants, 1000, 0, rules=False, seed=11)
        bj.Bench(dsn).sql("""INSERT INTO automation_rules (tenant_id, rule_name, trigger_event, actions)
                 SELECT id, 'Notify assignee of overdue task', 'task_overdue', '[{"type": "notify", "to": "assignee"}]'
                   FROM tenants""")
        bj.Bench(dsn).sql("""INSERT INTO automation_rules (tenant_id, rule_name, trigger_event, actions)
                 SELECT id, 'SMS the client', 'task_overdue', '[{"type": "sms"}]' FROM tenants t
                  WHERE ('x' || substr(md5(t.id::text), 1, 2))::bit(8)::int % 2 = 0""")
        bj.Bench(dsn).sql("ANALYZE automation_rules")

    sources = {"after": [(ROOT / f).read_text() for f in FILES],
               "before": [subprocess.run(["git", "-C", str(ROOT), "show", f"{args.rev}:{f}"], check=True,
                                         capture_output=True, text=True).stdout for f in FILES]}

    def use(which: str) -> None:
        with psycopg.connect(dsn, autocommit=True) as c:
            for text in sources[which]:
                c.execute(text)

    b = bj.Bench(dsn)
    serial = bj.Bench(dsn + "?options=-c%20max_parallel_workers_per_gather%3D0")
    T = bj.AS_OF
    modes = args.modes.split(",")
    wall = {m: [] for m in modes}
    cpu = {m: [] for m in modes}
    loads, ref = [], None
    bj.reset_sla(b, T)
    try:
        for r in range(args.rounds):
            loads.append(os.getloadavg()[0])
            for m in modes:
                if m.startswith("bare"):
                    t, out, mem = bj.bare_with_rules(serial if m.endswith("_serial") else b, T,
                                                     window=m.startswith("bare_window"))
                else:
                    use(m.split("_")[0])
                    t, res, mem = bj.sla_tick(b, T, full=m.endswith("_full"))
                    ref = ref or res
                    assert res == ref, (m, res, ref)
                    out = (res["rulesTriggered"], res["overdueTasks"])
                wall[m].append(t)
                cpu[m].append(mem.get("cpu", 0.0))
                bj.reset_sla(b, T)
                print(r, m, f"{t:.3f} s", f"cpu {mem.get('cpu', 0.0):.2f} s", out, flush=True)
    finally:
        use("after")
    print("1-minute load average at each round's start: " + ", ".join(f"{x:.2f}" for x in loads))
    for m in modes:
        print(f"{m:20s} median {statistics.median(wall[m]):.3f} s (" + ", ".join(f"{x:.3f}" for x in wall[m])
              + f"); cpu median {statistics.median(cpu[m]):.2f} s")
    print(f"sandbox left running in {args.dir} (stop: python -c 'from bgjobs import sandbox; "
          f"sandbox.stop(\"{args.dir}\")')")
    return 0


if __name__ == "__main__":
    sys.exit(main())
