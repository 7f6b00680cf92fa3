"""A/B of the SLA tick with automation rules: an earlier revision's check-sla-and-overdue
against this tree's, and against the bare set-based statements that write the same rows
(issue 9: moving the overdue flags must not make the tick slower):

    .venv/bin/python benchmarks/bench_sla_ab.py [--rev main] [--tenants 1000] [--repeat 3]

Starts one sandbox with two databases loaded from the same seed (1,000 tasks per tenant,
3.3 % newly overdue at the measured tick, the older overdue ones already flagged, two rules
per tenant as in bench_jobs.py): "old" installed from `git archive REV` (a revision whose
flags live in tasks' own columns, such as 9dfbd52), "new" from this tree.  Runs the ticks
interleaved (old; new: incremental, the previous tick 15 minutes earlier; bare statements
reading only the tasks due since then; new as a full pass; bare statements reading every
open past-due task), then the tick with nothing new on each.  Prints the figures;
benchmarks/RESULTS-jobs.md quotes them by hand.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "installer"))

import bench_jobs as bj
import psycopg
from bgjobs import sandbox

LOAD = r'''
import sys
src, dsn, tenants = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, src + "/installer")
import psycopg
from datetime import datetime, timezone
from bgjobs import install, demodata
from bgjobs.settings import Settings
install.install(dsn, Settings(), schedule=False, report=lambda s: None)
with psycopg.connect(dsn, autocommit=True) as c:
    demodata.load(c, tenants=tenants, tasks_per_tenant=1000, installments_per_tenant=10, hearings_per_tenant=200,
                  documents_per_tenant=100, seed=11, as_of=datetime(2026, 3, 9, 12, 0, tzinfo=timezone.utc),
                  recent_overdue_pct=3.3, preflag=True, rules=False)
    c.execute("""INSERT INTO automation_rules (tenant_id, rule_name, trigger_event, actions)
                 SELECT id, 'Notify assignee of overdue task', 'task_overdue',
                        '[{"type": "notify", "to": "assignee"}]' FROM tenants""")
    c.execute("""INSERT INTO automation_rules (tenant_id, rule_name, trigger_event, actions)
                 SELECT id, 'SMS the client', 'task_overdue', '[{"type": "sms"}]' FROM tenants t
                  WHERE ('x' || substr(md5(t.id::text), 1, 2))::bit(8)::int % 2 = 0""")
    c.execute("VACUUM ANALYZE")
'''


def reset_old(b: bj.Bench, t) -> None:
    b.sql("UPDATE tasks SET is_overdue = false, overdue_since = NULL WHERE overdue_since = %s", (t,))
    b.sql("UPDATE tasks SET sla_violated = false, sla_violated_at = NULL WHERE sla_violated_at = %s", (t,))
    b.sql("DELETE FROM automation_logs WHERE executed_at = %s", (t,))
    b.sql("DELETE FROM notifications WHERE template = 'automation_notification'")
    b.sql("DELETE FROM audit_log WHERE action_type = 'sla_violation' AND \"timestamp\" = %s", (t,))
    b.sql("VACUUM ANALYZE tasks, automation_logs, notifications, audit_log")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rev", default="main")
    ap.add_argument("--tenants", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bgjobs-ab-", dir="/tmp"))
    tmp.chmod(0o755)                      # the sandbox runs as another OS user when started as root
    src = tmp / "old"
    src.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    sb = sandbox.start(tmp / "sandbox", sandbox.free_port())
    try:
        with psycopg.connect(sb.dsn_for("postgres"), autocommit=True) as c:
            for db in ("old", "new"):
                c.execute(f'CREATE DATABASE "{db}"')
        for where, db in ((src, "old"), (ROOT, "new")):
            subprocess.run([sys.executable, "-c", LOAD, str(where), sb.dsn_for(db), str(args.tenants)], check=True)
        old, new = bj.Bench(sb.dsn_for("old")), bj.Bench(sb.dsn_for("new"))
        t = bj.AS_OF
        # new: the incremental tick (the previous one 15 minutes earlier); new_full: the same
        # tick as a full pass; bare: the statements reading every open past-due task;
        # bare_window: reading only the tasks due since the previous tick
        runs: dict[str, list[float]] = {"old": [], "new": [], "bare_window": [], "new_full": [], "bare": []}
        loads = []
        for _ in range(args.repeat):
            loads.append(os.getloadavg()[0])
            runs["old"].append(bj.sla_tick(old, t, full=None)[0])
            reset_old(old, t)
            sec, res, _ = bj.sla_tick(new, t)
            runs["new"].append(sec)
            bj.reset_sla(new, t)
            runs["bare_window"].append(bj.bare_with_rules(new, t, window=True)[0])
            bj.reset_sla(new, t)
            sec, fres, _ = bj.sla_tick(new, t, full=True)
            assert fres == res, (fres, res)
            runs["new_full"].append(sec)
            bj.reset_sla(new, t)
            runs["bare"].append(bj.bare_with_rules(new, t)[0])
            bj.reset_sla(new, t)
        med = {k: statistics.median(v) for k, v in runs.items()}
        print(f"tick results (new): {res}")
        print("1-minute load average at each round's start: " + ", ".join(f"{x:.2f}" for x in loads))
        for k, v in runs.items():
            print(f"{k}: median {med[k]:.3f} s ({', '.join(f'{x:.3f}' for x in v)})")
        print(f"new / old {med['new'] / med['old']:.2f}x; new / bare_window {med['new'] / med['bare_window']:.2f}x; "
              f"new_full / bare {med['new_full'] / med['bare']:.2f}x; new / bare {med['new'] / med['bare']:.2f}x")
        bj.sla_tick(old, t, full=None)
        bj.sla_tick(new, t)
        for label in ("nothing new", "nothing new after VACUUM"):
            if label.endswith("VACUUM"):
                old.sql("VACUUM ANALYZE tasks")
                new.sql("VACUUM ANALYZE tasks, bgjobs_app.task_flags")
            base = 0 if label == "nothing new" else 10
            o = [bj.sla_tick(old, t, full=None)[0] for _ in range(5)]
            n = [bj.sla_tick(new, t + timedelta(seconds=base + k))[0] for k in range(1, 6)]
            f = [bj.sla_tick(new, t + timedelta(seconds=base + 5), full=None)[0] for _ in range(5)]
            print(f"{label}: old {', '.join(f'{x * 1000:.0f}' for x in o)} ms; new incremental "
                  f"{', '.join(f'{x * 1000:.0f}' for x in n)} ms; new full pass {', '.join(f'{x * 1000:.0f}' for x in f)} ms")
    finally:
        sandbox.stop(tmp / "sandbox")
        subprocess.run(["rm", "-rf", str(tmp)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
