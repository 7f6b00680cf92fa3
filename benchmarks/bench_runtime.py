#!/usr/bin/env python3
"""Runtime benchmark (issue 2): run_job overhead on a no-op job, update_job_heartbeat
throughput under pgbench vs the runbook's own function, install and no-op re-install time.

    .venv/bin/python benchmarks/bench_runtime.py [--dsn SUPERUSER_DSN] [--out benchmarks/RESULTS-runtime.md]

Without --dsn it starts its own sandbox cluster in /tmp (as root: run by the postgres OS
user).  Results are printed and written as Markdown next to this file (the table at the
top of --out is replaced; its "## " sections are kept).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import psycopg
from bgjobs import install as inst
from bgjobs import sandbox
from bgjobs.settings import Settings
from psycopg.conninfo import conninfo_to_dict, make_conninfo

SEED_HEARTBEAT = """
CREATE OR REPLACE FUNCTION public.seed_update_job_heartbeat(
  p_job_name text, p_status text DEFAULT 'healthy', p_metadata jsonb DEFAULT '{}')
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path TO 'public' AS $$
BEGIN
  INSERT INTO public.job_heartbeats(job_name, last_run_at, status, metadata, updated_at)
  VALUES (p_job_name, now(), p_status, p_metadata, now())
  ON CONFLICT (job_name)
  DO UPDATE SET last_run_at = now(), status = EXCLUDED.status, metadata = EXCLUDED.metadata, updated_at = now();
END;
$$;
"""


def pgbench(dsn: str, script: str, clients: int, seconds: int) -> float:
    p = conninfo_to_dict(dsn)
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(script)
    os.chmod(f.name, 0o644)
    env = {**os.environ, "PGPASSWORD": p.get("password") or ""}
    out = subprocess.run([str(sandbox.bindir() / "pgbench"), "-n", "-h", p["host"], "-p", str(p["port"]),
                          "-U", p["user"], "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(seconds),
                          "-f", f.name, p["dbname"]], capture_output=True, text=True, env=env)
    os.unlink(f.name)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return float(re.search(r"tps = ([\d.]+)", out.stdout).group(1))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dsn")
    ap.add_argument("--out", default=str(Path(__file__).with_name("RESULTS-runtime.md")))
    ap.add_argument("--calls", type=int, default=3000)
    args = ap.parse_args()
    if args.dsn:
        results = run(args.dsn, args.calls)
    else:
        with sandbox.temporary("bgjobs-bench-") as sb:
            results = run(sb.dsn_for("postgres"), args.calls)
    write(results, args.out)


def run(base: str, calls: int) -> dict:
    r: dict = {}
    with psycopg.connect(base, autocommit=True) as c:
        r["server"] = c.execute("SHOW server_version").fetchone()[0]
        r["fsync"] = c.execute("SHOW fsync").fetchone()[0]
        c.execute("DROP DATABASE IF EXISTS bench_runtime WITH (FORCE)")
        c.execute("CREATE DATABASE bench_runtime")
    dsn = make_conninfo(base, dbname="bench_runtime")

    t = time.perf_counter()
    inst.install(dsn, Settings(), schedule=True, report=lambda s: None)
    r["install_s"] = time.perf_counter() - t
    times = []
    for _ in range(3):
        t = time.perf_counter()
        plan = inst.install(dsn, Settings(), schedule=True, report=lambda s: None)
        times.append(time.perf_counter() - t)
        assert plan.changes == 0
    r["reinstall_s"] = statistics.median(times)

    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("CREATE FUNCTION bgjobs.job_bench_noop(timestamptz, uuid[]) RETURNS jsonb "
                  "LANGUAGE sql AS $$ SELECT '{}'::jsonb $$")
        c.execute("INSERT INTO bgjobs.job_registry (job_name, schedule, function_name) "
                  "VALUES ('bench-noop', '* * * * *', 'job_bench_noop')")
        c.execute("CREATE FUNCTION public.bench_bare() RETURNS jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$")
        c.execute(SEED_HEARTBEAT)
        # one statement per call from a client, each its own transaction (commit included)
        lat = []
        for _ in range(500):
            t = time.perf_counter()
            c.execute("SELECT run_job('bench-noop')")
            lat.append((time.perf_counter() - t) * 1000)
        r["client_commit_ms"] = statistics.median(lat)
    # the in-server loop: per-call time without client round trips
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("CREATE TEMP TABLE _t (ms float8); CREATE TEMP TABLE _b (ms float8)")
        c.execute(f"""DO $$ DECLARE t timestamptz; i int; BEGIN
              FOR i IN 1..{calls} LOOP
                t := clock_timestamp(); PERFORM run_job('bench-noop');
                INSERT INTO _t VALUES (extract(epoch FROM clock_timestamp() - t) * 1000);
              END LOOP;
              FOR i IN 1..{calls} LOOP
                t := clock_timestamp(); PERFORM bench_bare();
                INSERT INTO _b VALUES (extract(epoch FROM clock_timestamp() - t) * 1000);
              END LOOP; END $$""")
        med, p95, bare = c.execute(
            "SELECT (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM _t), "
            "(SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY ms) FROM _t), "
            "(SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM _b)").fetchone()
        r["run_job_median_ms"], r["run_job_p95_ms"], r["bare_median_ms"] = med, p95, bare
        # the same, each call committed, as every pg_cron tick and client call is (the loop
        # above runs all its calls in one transaction)
        c.execute("CREATE TEMP TABLE _c (ms float8)")
        c.execute(f"""DO $$ DECLARE t timestamptz; i int; BEGIN
              FOR i IN 1..{calls} LOOP
                t := clock_timestamp(); PERFORM run_job('bench-noop');
                INSERT INTO _c VALUES (extract(epoch FROM clock_timestamp() - t) * 1000);
                COMMIT;
              END LOOP; END $$""")
        r["run_job_commit_median_ms"], r["run_job_commit_p95_ms"] = c.execute(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms), percentile_cont(0.95) WITHIN GROUP (ORDER BY ms) "
            "FROM _c").fetchone()
        c.execute("TRUNCATE job_heartbeats")
        # the job API: an idle tick of a job in a fixed zone (95 of its 96 ticks a day): the
        # pause check, the latest slot of its schedule in its zone, the handled-slot lookup
        if c.execute("SELECT to_regproc('bgjobs.register_job')").fetchone()[0]:
            c.execute("SELECT bgjobs.register_job('bench-zoned', 'public.bench_bare', '0 8 * * *', 'Europe/Berlin')")
            c.execute("CREATE TEMP TABLE _z (ms float8)")
            c.execute(f"""DO $$ DECLARE t timestamptz; i int; BEGIN
                  FOR i IN 1..{calls} LOOP
                    t := clock_timestamp(); CALL bgjobs.run_scheduled_job('bench-zoned');
                    INSERT INTO _z VALUES (extract(epoch FROM clock_timestamp() - t) * 1000);
                  END LOOP; END $$""")
            r["zoned_idle_ms"] = c.execute("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM _z").fetchone()[0]
            assert c.execute("SELECT count(*) FROM jobs_log WHERE job_name = 'bench-zoned'").fetchone()[0] == 0

    script_ours = "\\set j random(1, 100)\nSELECT update_job_heartbeat('job-' || :j);\n"
    script_seed = "\\set j random(1, 100)\nSELECT seed_update_job_heartbeat('job-' || :j);\n"
    ours, seed = [], []
    for _ in range(2):
        seed.append(pgbench(dsn, script_seed, 8, 10))
        ours.append(pgbench(dsn, script_ours, 8, 10))
    r["hb_ours_tps"], r["hb_seed_tps"] = statistics.mean(ours), statistics.mean(seed)
    with psycopg.connect(base, autocommit=True) as c:
        with psycopg.connect(make_conninfo(base, dbname=c.execute("SELECT current_setting('cron.database_name')").fetchone()[0]),
                             autocommit=True) as cc:
            for (jobid,) in cc.execute("SELECT jobid FROM cron.job WHERE database = 'bench_runtime'").fetchall():
                cc.execute("SELECT cron.unschedule(%s::bigint)", (jobid,))
        c.execute("DROP DATABASE bench_runtime WITH (FORCE)")
    return r


def write(r: dict, out: str) -> None:
    ratio = r["hb_ours_tps"] / r["hb_seed_tps"]
    rows = [
        ("run_job overhead, no-op job (median, in-server loop)", f"{r['run_job_median_ms']:.3f} ms",
         "≤ 1 ms", "pass" if r["run_job_median_ms"] <= 1 else "MISS"),
        ("run_job, no-op job (p95, in-server loop)", f"{r['run_job_p95_ms']:.3f} ms", "", ""),
        ("run_job, no-op job, each call committed (median / p95, in-server loop with COMMIT)",
         f"{r['run_job_commit_median_ms']:.3f} / {r['run_job_commit_p95_ms']:.3f} ms", "", ""),
        ("bare function call (median, same loop)", f"{r['bare_median_ms']:.3f} ms", "", ""),
        ("run_job from a client, own transaction incl. commit (median)", f"{r['client_commit_ms']:.3f} ms", "", ""),
        ("idle tick of a zoned job (run_scheduled_job, nothing due; median)",
         f"{r['zoned_idle_ms']:.3f} ms" if "zoned_idle_ms" in r else "n/a", "", ""),
        ("update_job_heartbeat, pgbench 8 clients", f"{r['hb_ours_tps']:,.0f} calls/s", "", ""),
        ("the runbook's own function, same run", f"{r['hb_seed_tps']:,.0f} calls/s", "", ""),
        ("ours / runbook's", f"{ratio:.0%}", "≥ 90 %", "pass" if ratio >= 0.9 else "MISS"),
        ("install into an empty database (with pg_cron schedules)", f"{r['install_s']:.2f} s", "≤ 10 s",
         "pass" if r["install_s"] <= 10 else "MISS"),
        ("no-op re-install (median of 3)", f"{r['reinstall_s']:.2f} s", "≤ 3 s", "pass" if r["reinstall_s"] <= 3 else "MISS"),
    ]
    lines = [
        "# Runtime benchmark results",
        "",
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by `benchmarks/bench_runtime.py` on "
        f"{os.cpu_count()} cores, {platform.system()} {platform.release()}, PostgreSQL {r['server']} "
        f"(fsync {r['fsync']}), sandbox cluster.",
        "",
        "| measure | result | target | |",
        "| --- | --- | --- | --- |",
    ] + [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows] + [
        "",
        "run_job per call does: open-run check (reaps only when a run is open), registry lookup, advisory",
        "lock, one jobs_log insert with the outcome, manual_job_trigger and background_job_execution audit",
        "rows, heartbeat upsert (with the success and watch-check-in triggers), response JSON.",
        "",
    ]
    # this run replaces the table at the top; the dated sections below it (written by hand
    # or appended by bench_ticks.py) stay
    kept = ""
    if Path(out).exists():
        old = Path(out).read_text()
        at = old.find("\n## ")
        kept = old[at + 1:] if at >= 0 else ""
    Path(out).write_text("\n".join(lines) + kept)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
