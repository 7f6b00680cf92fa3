#!/usr/bin/env python3
"""Cron math benchmark (issue 8 item 4, issue 9): what a next or previous fire costs.

1. In the server: bgjobs.cron_prev and bgjobs.cron_next (PL/pgSQL, bgjobs.cron_fire) over
   N distinct (schedule, zone) pairs in one statement, as the missed-run rule calls them
   (once per distinct schedule); the same statement again in the same session; N calls
   over 20 schedules; and a new connection whose only statement is one call (what a zoned
   tick on pg_cron's new backend pays for the math).
   Baseline: the PL/Python module as of --baseline (default: the last commit whose server
   ran plpython/bgjobs_schedule.py), loaded the way it was (from a table, once per
   session) into a scratch schema of the same database, so before and after are measured
   on the same server and data.  Needs plpython3u on the server for the baseline only.
2. The plain module in this interpreter (the command line's copy, for settings files):
   next_fire and prev_fire per call, parsed expression cached and not.

    .venv/bin/python benchmarks/bench_cronmath.py [--dsn SUPERUSER_DSN] [--out benchmarks/RESULTS-cronmath.md]

Without --dsn it starts its own sandbox cluster in /tmp and removes it afterwards.
Rerunnable: it works in a database of its own, dropped and recreated each time.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
import timeit
from datetime import datetime, timezone
from pathlib import Path

import psycopg
from bgjobs import install as inst
from bgjobs import pymodules, sandbox
from bgjobs.settings import Settings

DB = "bgjobs_bench_cronmath"
NEW_CONNECTIONS = 20
ROOT = Path(__file__).resolve().parent.parent
BASELINE = "d822953"   # main before issue 9's SQL cron math: the PL/Python module in the server
ZONES = ("UTC", "America/New_York", "Europe/London", "Asia/Kolkata", "Africa/Casablanca",
         "America/Santiago", "Australia/Lord_Howe")
MODULE_CASES = [
    # label, expression, zone, at (UTC)
    ("every 15 minutes, UTC", "*/15 * * * *", "UTC", "2026-05-01T10:07:30Z"),
    ("daily 08:00, New York", "0 8 * * *", "America/New_York", "2026-05-01T10:07:30Z"),
    ("weekdays 09:00, London", "0 9 * * 1-5", "Europe/London", "2026-05-01T10:07:30Z"),
    ("daily 23:59, Santiago, fall-back day", "59 23 * * *", "America/Santiago", "2026-04-04T12:00Z"),
    ("hourly, New York, fall-back day", "0 * * * *", "America/New_York", "2026-11-01T04:30Z"),
    ("every minute, Riga, fall-back hour", "* * * * *", "Europe/Riga", "2021-10-31T00:30Z"),
    ("Feb 29 22:15, UTC", "15 22 29 2 *", "UTC", "2025-02-22T00:00Z"),
    ("Feb 29 that is a Sunday, UTC", "0 0 29 2 */7", "UTC", "2025-02-22T00:00Z"),
]


def schedules(n: int) -> list[tuple[str, str]]:
    """n distinct (expression, zone) pairs of four everyday forms."""
    out = []
    for zone in ZONES:
        for h in range(24):
            for m in range(60):
                form = (h * 60 + m) % 4
                expr = (f"{m} {h} * * *", f"{m} {h} * * 1-5", f"{m} {h} 1,15 * *",
                        f"{m} {h},{(h + 12) % 24} * * *")[form]
                out.append((expr, zone))
    if n > len(out):
        raise SystemExit(f"at most {len(out)} distinct schedules")
    return out[:n]


# ----------------------------------------------------------------------- plain module

def baseline_source(rev: str) -> str | None:
    try:
        return subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:plpython/bgjobs_schedule.py"],
                              capture_output=True, text=True, check=True).stdout
    except (subprocess.CalledProcessError, FileNotFoundError):
        return None


def module_bench() -> list[tuple]:
    mod = pymodules.schedule()
    rows = []
    for label, expr, zone, at in MODULE_CASES:
        row = [label]
        for fn in (mod.next_fire, mod.prev_fire):
            n, secs = timeit.Timer(lambda: fn(expr, zone, at)).autorange()
            best = min([secs / n] + [t / n for t in timeit.Timer(lambda: fn(expr, zone, at)).repeat(3, n)])
            row.append(best * 1e6)
        cache = mod._parse_cached

        def uncached():
            cache.cache_clear()
            mod.next_fire(expr, zone, at)
        n, secs = timeit.Timer(uncached).autorange()
        row.append(min([secs / n] + [t / n for t in timeit.Timer(uncached).repeat(3, n)]) * 1e6)
        rows.append(tuple(row))
    return rows


# ------------------------------------------------------------------------- the server

OLD_FUNCTION = """
CREATE FUNCTION bench_old.{name}(p_schedule text, p_timezone text, p_at timestamptz)
RETURNS timestamptz LANGUAGE plpython3u STABLE AS $py$
if 'bench_old_mod' not in GD:
    import types
    src = plpy.execute("SELECT source FROM bench_old.src")[0]['source']
    m = types.ModuleType('bgjobs_schedule_baseline')
    exec(compile(src, 'baseline', 'exec'), m.__dict__)
    GD['bench_old_mod'] = m
fire = GD['bench_old_mod'].{fn}(p_schedule, p_timezone, p_at)
return None if fire is None else fire.isoformat()
$py$"""


def timed(conn, query, params=()) -> float:
    t = time.perf_counter()
    conn.execute(query, params).fetchall()
    return time.perf_counter() - t


def server_bench(admin_dsn: str, n: int, old_source: str | None) -> dict:
    with psycopg.connect(admin_dsn, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{DB}"')
        version = c.execute("SELECT version()").fetchone()[0].split(" on ")[0]
    dsn = psycopg.conninfo.make_conninfo(admin_dsn, dbname=DB)
    inst.install(dsn, Settings(), schedule=False, report=lambda s: None)
    sched = schedules(n)
    as_of = datetime(2026, 11, 30, 5, 0, tzinfo=timezone.utc)
    result = {"version": version, "n": n}
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("CREATE TABLE public.bench_sched (expr text, tz text)")
        with c.cursor().copy("COPY public.bench_sched (expr, tz) FROM STDIN") as cp:
            for row in sched:
                cp.write_row(row)
        few = [e for e, z in sched if z == "UTC"][:20]
        c.execute("CREATE TABLE public.bench_few AS SELECT e.expr, 'UTC'::text AS tz "
                  "FROM unnest(%s::text[]) e(expr) CROSS JOIN generate_series(1, %s) g", (few, n // len(few)))
        c.execute("ANALYZE")
        has_plpython = c.execute("SELECT count(*) FROM pg_extension WHERE extname = 'plpython3u'").fetchone()[0] > 0
        if old_source and has_plpython:
            c.execute("CREATE SCHEMA bench_old")
            c.execute("CREATE TABLE bench_old.src (source text)")
            c.execute("INSERT INTO bench_old.src VALUES (%s)", (old_source,))
            c.execute(OLD_FUNCTION.format(name="cron_prev", fn="prev_fire"))
            c.execute(OLD_FUNCTION.format(name="cron_next", fn="next_fire"))
    variants = [("now", "bgjobs")] + ([("baseline", "bench_old")] if old_source and has_plpython else [])
    for label, schema in variants:
        for fn in ("cron_prev", "cron_next"):
            q_many = (f"SELECT count({schema}.{fn}(s.expr, s.tz, %s)) FROM public.bench_sched s")
            q_few = (f"SELECT count({schema}.{fn}(s.expr, s.tz, %s)) FROM public.bench_few s")
            with psycopg.connect(dsn, autocommit=True) as c:   # a new session: module loaded on first call
                t0 = time.perf_counter()
                c.execute(f"SELECT {schema}.{fn}('0 0 * * *', 'UTC', %s)", (as_of,)).fetchone()
                first = time.perf_counter() - t0
                distinct = timed(c, q_many, (as_of,))
                again = timed(c, q_many, (as_of,))
                few_n = c.execute("SELECT count(*) FROM public.bench_few").fetchone()[0]
                few = min(timed(c, q_few, (as_of,)) for _ in range(3))
            # a new connection whose only statement is one call, as a zoned tick's backend
            fresh = []
            for i in range(NEW_CONNECTIONS):
                t0 = time.perf_counter()
                with psycopg.connect(dsn, autocommit=True) as c:
                    c.execute(f"SELECT {schema}.{fn}('0 8 * * *', 'Europe/Berlin', %s)", (as_of,)).fetchone()
                fresh.append(time.perf_counter() - t0)
            result[(label, fn)] = {"first": first, "distinct": distinct, "again": again,
                                   "few": few, "few_n": few_n, "fresh": statistics.median(fresh),
                                   "fresh_max": max(fresh)}
    bare = []
    for i in range(NEW_CONNECTIONS):
        t0 = time.perf_counter()
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute("SELECT 1").fetchone()
        bare.append(time.perf_counter() - t0)
    result["bare"] = statistics.median(bare)
    result["has_plpython"] = has_plpython
    with psycopg.connect(admin_dsn, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    return result


# ------------------------------------------------------------------------------ output

def write(mod_rows, srv, path: str, args, wall: float, load_before: str) -> None:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    ms = lambda secs, n: f"{secs / n * 1000:.3f}"
    us = lambda v: "–" if v is None else f"{v:.1f}"
    lines = ["# Cron math benchmark results", "",
             f"Measured {now} by `benchmarks/bench_cronmath.py` on {os.cpu_count()} cores, "
             f"{platform.system()} {platform.release()}, {srv['version']}, sandbox cluster; "
             f"this interpreter Python {platform.python_version()}. Wall time {wall:.0f} s; load average "
             f"{load_before} before, {load()} after (other agents share the cores). "
             f"Baseline: the PL/Python module at `{args.baseline}`. "
             "(Issue 8's figures, croniter against the module, are in this file's history at 0d80f04.)", "",
             "## In the server: per call of the SQL function", "",
             f"One statement calling the function once per row, as the missed-run rule does once per "
             f"distinct (schedule, zone); {srv['n']:,} distinct pairs (four everyday forms x {len(ZONES)} zones, "
             "DST zones included), as_of 2026-11-30 05:00 UTC. Milliseconds per call, client round trip "
             f"included once per statement. New connection: connect, one call ('0 8 * * *' Europe/Berlin), "
             f"close; median of {NEW_CONNECTIONS} (max in brackets); a bare new connection (SELECT 1) "
             f"takes {srv['bare'] * 1000:.2f} ms.", "",
             "| function | code | first call of a session | distinct schedules, first pass | "
             "same statement again | 20 schedules, each repeated | new connection, one call |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for fn in ("cron_prev", "cron_next"):
        for label in ("baseline", "now"):
            r = srv.get((label, fn))
            if r is None:
                continue
            lines.append(f"| bgjobs.{fn} | {'PL/Python module (before)' if label == 'baseline' else 'PL/pgSQL cron_fire (now)'} | "
                         f"{r['first'] * 1000:.1f} ms | {ms(r['distinct'], srv['n'])} | {ms(r['again'], srv['n'])} | "
                         f"{ms(r['few'], r['few_n'])} | {r['fresh'] * 1000:.2f} ms ({r['fresh_max'] * 1000:.1f}) |")
    if not srv["has_plpython"]:
        lines += ["", "The server has no plpython3u: no baseline in the server."]
    lines += ["", "PL/pgSQL keeps nothing between calls, so every call parses its expression "
              "(bgjobs.cron_parse, about 20 us of a call), where the PL/Python module cached parsed "
              "expressions per session; on a warm session the two cost about the same per call. The "
              "difference is the first call of a session: PL/Python loads plpython3u and the module, "
              "PL/pgSQL compiles two functions. A zoned tick pays it every time, since pg_cron starts "
              "a new backend for each run.", "",
              "## The plain module in this interpreter: microseconds per call", "",
              "The command line's copy (plpython/bgjobs_schedule.py checks a settings file before "
              "connecting; the server no longer runs it). Best of repeated runs; the parsed expression "
              "cached except in the last column.", "",
              "| case | next_fire | prev_fire | next_fire, parse each call |",
              "| --- | --- | --- | --- |"]
    for label, nn, pn, unc in mod_rows:
        lines.append(f"| {label} | {us(nn)} | {us(pn)} | {us(unc)} |")
    lines.append("")
    Path(path).write_text("\n".join(lines))
    print("\n".join(lines))


def load() -> str:
    return "%.2f %.2f %.2f" % os.getloadavg()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dsn")
    ap.add_argument("--out", default=str(Path(__file__).with_name("RESULTS-cronmath.md")))
    ap.add_argument("--schedules", type=int, default=10000)
    ap.add_argument("--baseline", default=BASELINE, help="git revision of the 'before' module")
    args = ap.parse_args()
    started = time.perf_counter()
    load_before = load()
    old = baseline_source(args.baseline)
    if old is None:
        print(f"no module at {args.baseline}: no baseline", file=sys.stderr)
    mod_rows = module_bench()
    if args.dsn:
        srv = server_bench(args.dsn, args.schedules, old)
    else:
        with sandbox.temporary("bgjobs-bench-cron-") as sb:
            srv = server_bench(sb.dsn_for("postgres"), args.schedules, old)
    write(mod_rows, srv, args.out, args, time.perf_counter() - started, load_before)


if __name__ == "__main__":
    main()
