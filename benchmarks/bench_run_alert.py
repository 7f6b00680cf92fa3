#!/usr/bin/env python3
"""The alert work of one failed run among 10,000 registered jobs (1,000,000 jobs_log rows,
bench_monitoring's machinery).  A failed run applies its job's failure-streak alert at once
(bgjobs.apply_run_alert, from the jobs_log trigger); it used to evaluate every job's rules
and keep one job's, now it evaluates that job only.  Checks that the per-job evaluation
finds exactly what the full one finds for the same jobs.

    .venv/bin/python benchmarks/bench_run_alert.py --dsn SUPERUSER_DSN_TO_A_SCRATCH_SERVER [--out benchmarks/RESULTS-run-alert.md]

It creates (and leaves) a database `bench_run_alert` on that server.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_monitoring import seed_health
from bgjobs import install as inst
from bgjobs.settings import Settings

DB = "bench_run_alert"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dsn", required=True)
    ap.add_argument("--jobs", type=int, default=10_000)
    ap.add_argument("--rows-per-job", type=int, default=100)
    ap.add_argument("--out", default=str(Path(__file__).with_name("RESULTS-run-alert.md")))
    args = ap.parse_args()
    with psycopg.connect(args.dsn, autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        c.execute(f"CREATE DATABASE {DB}")
    dsn = make_conninfo(**{**conninfo_to_dict(args.dsn), "dbname": DB})
    inst.install(dsn, Settings(), schedule=False, report=lambda s: None)
    with psycopg.connect(dsn, autocommit=True) as c:
        now = seed_health(c, args.jobs, args.rows_per_job)
        c.execute("ANALYZE")
        job = "bench-00042"
        load0 = os.getloadavg()

        def median_ms(q, *a):
            out = []
            for _ in range(7):
                t = time.perf_counter()
                c.execute(q, a).fetchall()
                out.append(time.perf_counter() - t)
            return statistics.median(out) * 1000

        full = median_ms("SELECT * FROM bgjobs.detect_job_issues(%s) f "
                         "WHERE f.subject = %s AND f.rule = 'consecutive_failures'", now, job)
        one = median_ms("SELECT * FROM bgjobs.detect_job_issues(%s, %s) f WHERE f.rule = 'consecutive_failures'",
                        now, job)
        alert = median_ms("SELECT bgjobs.apply_run_alert(%s, %s)", job, now)
        names = [r[0] for r in c.execute("SELECT job_name FROM bgjobs.job_registry ORDER BY 1 LIMIT 300")]
        every = sorted(r for r in c.execute("SELECT subject, rule, severity, summary FROM bgjobs.detect_job_issues(%s)",
                                            (now,)) if r[0] in set(names))
        each = sorted(r for n in names for r in c.execute(
            "SELECT subject, rule, severity, summary FROM bgjobs.detect_job_issues(%s, %s)", (now, n)))
        load1 = os.getloadavg()
    same = every == each
    lines = [
        "# One failed run's alert work among 10,000 jobs (`benchmarks/bench_run_alert.py`)", "",
        f"Run {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; {args.jobs:,} registered jobs, "
        f"{args.jobs * args.rows_per_job:,} jobs_log rows; median of 7; load average "
        f"{load0[0]:.2f} before, {load1[0]:.2f} after.", "",
        "| what | time |", "| --- | ---: |",
        f"| every job's rules, one job's kept (what apply_run_alert did before) | {full:.1f} ms |",
        f"| that job's rules only (`detect_job_issues(as_of, job)`) | {one:.1f} ms |",
        f"| `apply_run_alert` (a failed run's whole alert step) | {alert:.1f} ms |", "",
        f"Per-job findings equal the full evaluation's for the first 300 jobs ({len(each)} findings): "
        f"{'yes' if same else 'NO'}.", ""]
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
