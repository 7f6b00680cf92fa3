"""Benchmark for issue 13 (bgjobs on Citus), rerunnable:

    .venv/bin/python benchmarks/bench_citus.py [--cluster-tenants 100] [--repeat 3] [--quick]

Single node vs distributed on one machine: the same demo data (--cluster-tenants tenants x
1,000 tasks, with automation rules) on a database of a plain sandbox and on a local Citus
cluster (coordinator + two workers, throw-away sandboxes with citus preloaded, nodes joined
by unix socket, 32 shards per distributed table), every job run once in a day's order, then
the first SLA tick again with its writes undone between (median of --repeat).  Needs Citus
installed in the local PostgreSQL; says so and stops without it.

The SLA tick's figure on plain PostgreSQL against the ctid tick it replaced is
benchmarks/bench_sla_ab.py --rev d7d4a35.  Results go to benchmarks/RESULTS-citus.md
(overwritten; not with --quick) and stdout.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "installer"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_jobs import AS_OF, Bench, reset_sla
from bgjobs import demodata, distribute, install, sandbox
from bgjobs.settings import Settings

RESULTS = ROOT / "benchmarks" / "RESULTS-citus.md"
CITUS_CONF = """
shared_preload_libraries = 'citus,pg_cron'
max_connections = 300
"""
JOBS = ["check-sla-and-overdue", "send-hearing-reminders", "check-upcoming-deadlines", "automation-health-check",
        "analytics-snapshot", "update-installment-statuses", "cron-healthcheck", "check-job-health",
        "deliver-notifications", "purge-old-logs"]


def median(xs):
    return statistics.median(xs)


def sla_tick(b: Bench, as_of: datetime) -> tuple[float, dict]:
    t, resp, _ = b.timed("SELECT public.run_job('check-sla-and-overdue', %s)", (as_of,))
    assert resp["success"], resp
    return t, resp["results"]


def run_all(dsn: str, tenants: int, repeat: int) -> tuple[float, dict, list]:
    """Load the demo data (with rules), run every job once, then the SLA tick again with
    resets; returns (load seconds, {job: seconds}, [SLA tick seconds])."""
    b = Bench(dsn)
    t0 = time.perf_counter()
    with b.conn() as c:
        demodata.load(c, tenants=tenants, tasks_per_tenant=1000, installments_per_tenant=1000,
                      hearings_per_tenant=200, documents_per_tenant=100, seed=11, as_of=AS_OF)
        c.execute("VACUUM ANALYZE")
    loaded = time.perf_counter() - t0
    times = {}
    for job in JOBS:
        print(f"  {job} ...", file=sys.stderr, flush=True)
        t, resp, _ = b.timed("SELECT public.run_job(%s, %s)", (job, AS_OF))
        assert resp["success"], resp
        times[job] = t
    reset_sla(b, AS_OF)
    ticks = []
    for _ in range(repeat):
        ticks.append(sla_tick(b, AS_OF)[0])
        reset_sla(b, AS_OF)
    return loaded, times, ticks


def part2(b: Bench, sb, tenants: int, repeat: int) -> None:
    with psycopg.connect(sb.dsn_for("postgres"), autocommit=True) as c:
        if not c.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'citus'").fetchone():
            b.say("Single node vs distributed: skipped (Citus is not installed on this server)")
            return
        c.execute('DROP DATABASE IF EXISTS "bench_single" WITH (FORCE)')
        c.execute('CREATE DATABASE "bench_single"')
    single = sb.dsn_for("bench_single")
    install.install(single, Settings(), schedule=False, report=lambda s: None)
    s_load, s_times, s_ticks = run_all(single, tenants, repeat)
    with ExitStack() as stack:
        nodes = [stack.enter_context(sandbox.temporary(f"bgjobs-bench-citus-{r}-", extra_conf=CITUS_CONF))
                 for r in ("coord", "w1", "w2")]
        for w in nodes[1:]:       # Citus copies the coordinator's roles, passwords included
            with psycopg.connect(w.dsn_for("postgres"), autocommit=True) as c:
                c.execute(sql.SQL("ALTER ROLE postgres PASSWORD {}").format(sql.Literal(nodes[0].password)))
            w.password = nodes[0].password
        for n in nodes:
            with psycopg.connect(n.dsn_for("bgjobs"), autocommit=True) as c:
                c.execute("CREATE EXTENSION IF NOT EXISTS citus")
        dsn = nodes[0].dsn_for("bgjobs")
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute("SELECT citus_set_coordinator_host(%s, %s)", (str(nodes[0].socket_dir), nodes[0].port))
            for w in nodes[1:]:
                c.execute("SELECT citus_add_node(%s, %s)", (str(w.socket_dir), w.port))
            citus = c.execute("SELECT extversion FROM pg_extension WHERE extname = 'citus'").fetchone()[0]
            shards = c.execute("SHOW citus.shard_count").fetchone()[0]
        install.install(dsn, Settings(), schedule=False, report=lambda s: None)
        t0 = time.perf_counter()
        distribute.distribute(dsn, report=lambda s: None)
        dist_secs = time.perf_counter() - t0
        d_load, d_times, d_ticks = run_all(dsn, tenants, repeat)
        n_tasks = Bench(dsn).sql("SELECT count(*) FROM public.tasks")[0][0]
    b.say("## Single node vs distributed, on this one machine")
    b.say("")
    b.say(f"Citus {citus}: coordinator and two workers, all three local sandboxes on the same "
          f"{os.cpu_count()} CPUs, nodes joined by unix socket, {shards} shards per distributed table; "
          f"`bgjobs distribute` (on the empty tables) took {dist_secs:.1f} s. Data: {tenants:,} tenants, "
          f"{n_tasks:,} tasks, with automation rules (bgjobs.demodata, seed 11, as of {AS_OF:%Y-%m-%d %H:%M} UTC). "
          f"Nothing flagged before: the first SLA tick flags every overdue task of the data set. "
          f"Each job once, in a day's order, on a fresh backend; then that first SLA tick again (median of {repeat}, "
          "its writes undone between).")
    b.say("")
    b.say("| job | single node | distributed | distributed / single |")
    b.say("| --- | ---: | ---: | ---: |")
    b.say(f"| load the demo data | {s_load:.2f} s | {d_load:.2f} s | {d_load / s_load:.2f}x |")
    for job in JOBS:
        b.say(f"| {job} | {s_times[job]:.3f} s | {d_times[job]:.3f} s | {d_times[job] / s_times[job]:.2f}x |")
    b.say(f"| check-sla-and-overdue, repeated (median) | {median(s_ticks):.3f} s | {median(d_ticks):.3f} s | "
          f"{median(d_ticks) / median(s_ticks):.2f}x |")
    b.say("")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cluster-tenants", type=int, default=100, help="tenants x 1,000 tasks")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="10 tenants, one repeat, stdout only")
    args = ap.parse_args()
    if args.quick:
        args.cluster_tenants, args.repeat = 10, 1
    with sandbox.temporary("bgjobs-bench-citus-") as sb:
        with psycopg.connect(sb.dsn_for("postgres"), autocommit=True) as c:
            version = c.execute("SELECT current_setting('server_version')").fetchone()[0]
        b = Bench(sb.dsn_for("postgres"))
        b.say("# bgjobs on Citus: benchmark (issue 13)")
        b.say("")
        b.say(f"Run {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by `benchmarks/bench_citus.py` on "
              f"{os.cpu_count()} CPUs, {platform.machine()}, PostgreSQL {version} (sandboxes, fsync on), a machine "
              "shared with other work. Times are wall clock seen by the client.")
        b.say("")
        part2(b, sb, args.cluster_tenants, args.repeat)
    if not args.quick:
        RESULTS.write_text("\n".join(b.lines).rstrip() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
