#!/usr/bin/env python3
"""Tick benchmark (issue 9, "Speed"): the scheduling model's two tick figures.

1. Replay: 12 tenants in 12 zones (DST zones both hemispheres, +05:30, +05:45, -03:30,
   +12:45, +13, +14) and the tenant-local job update-installment-statuses (02:00 in each
   tenant's zone).  Every tick of its pg_cron expression (bgjobs.job_registry.tick) over
   2024, plus one day either side so that every zone's local dates of 2024 are whole, is
   replayed in order with ``CALL bgjobs.run_scheduled_job(job, tick)``, one statement per
   tick as pg_cron sends it (the first tick also catches up the slot of the day before of
   the tenants whose local 02:00 has not come yet, as of that slot).  Counted: tenant-days of 2024 handled (bgjobs.tenant_job_runs),
   tenants handed to the body summed over the runs (its tenantsProcessed: a tenant-day
   handled twice would count twice), and whether each tenant-day ran on the first tick at
   which the tenant's local clock (Python zoneinfo, not PostgreSQL) reads that date at or
   after 02:00.  Target: 4,392 of 4,392 (366 x 12), all on their tick.
2. Registry: 9,000 UTC jobs and 1,000 jobs in 12 other zones registered through
   bgjobs.register_job (SET bgjobs.defer_schedule = on: no pg_cron entries), each with
   history (10 jobs_log rows, a heartbeat; the zoned ones 10 handled slots).  Then one tick
   of one zoned and one UTC job, 20 times each, with something due (the no-op body runs and
   is recorded) and with nothing due (zoned: its latest slot already handled; UTC: pg_cron
   only ticks a UTC job when it is due, so the idle case is a paused job).  Timed three ways:
   in the server (clock_timestamp around the CALL in a DO loop), from a client on a warm
   session (round trip included), and as pg_cron's libpq mode does it, a new connection per
   tick (connect as bgjobs_runner, CALL, close).  Target: < 50 ms.

3. With --ab REV (only this part): part 2's new-connection ticks for the code at REV
   (installed from `git archive REV` in a subprocess) and for this checkout, each in a
   database of its own with the same registry, ticked alternately so that both see the same
   load; plus a bare new connection and one whose only statement is one bgjobs.cron_prev.

    .venv/bin/python benchmarks/bench_ticks.py [--dsn SUPERUSER_DSN] [--only replay|registry] [--ab REV]
        [--out benchmarks/RESULTS-runtime.md]

Without --dsn it starts its own sandbox cluster in /tmp.  A dated section is appended to
--out (never overwritten) and printed.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
from bgjobs import install as inst
from bgjobs import pymodules, sandbox
from bgjobs.settings import Settings
from psycopg.conninfo import make_conninfo

JOB = "update-installment-statuses"
ZONES = [
    "America/New_York",      # -05/-04, spring gap 02:00-03:00 (02:00 does not exist)
    "Europe/Berlin",         # +01/+02, spring gap 02:00-03:00
    "America/St_Johns",      # -03:30/-02:30
    "Asia/Kolkata",          # +05:30
    "Asia/Kathmandu",        # +05:45
    "Australia/Adelaide",    # +09:30/+10:30, southern DST
    "Australia/Lord_Howe",   # +10:30/+11, half-hour DST ending at 02:00
    "Pacific/Chatham",       # +12:45/+13:45
    "Pacific/Tongatapu",     # +13
    "Pacific/Kiritimati",    # +14
    "America/Santiago",      # -04/-03, DST changes at midnight
    "Pacific/Honolulu",      # -10
]
UTC = timezone.utc


def load() -> str:
    return "%.2f %.2f %.2f" % os.getloadavg()


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def new_db(base: str, name: str) -> str:
    with psycopg.connect(base, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{name}"')
    dsn = make_conninfo(base, dbname=name)
    inst.install(dsn, Settings(), schedule=False, report=lambda s: None)
    return dsn


def drop_db(base: str, name: str) -> None:
    with psycopg.connect(base, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ----------------------------------------------------------------------------- 1. replay

def replay(base: str) -> dict:
    r: dict = {"load_before": load()}
    dsn = new_db(base, "bench_ticks_replay")
    sched = pymodules.schedule()
    with psycopg.connect(dsn, autocommit=True) as c:
        tick, local_time = c.execute("SELECT tick, local_time FROM bgjobs.job_registry WHERE job_name = %s",
                                     (JOB,)).fetchone()
        r["tick"], r["local_time"] = tick, local_time
        c.execute("DELETE FROM public.tenants")
        for i, z in enumerate(ZONES):
            c.execute("INSERT INTO public.tenants (name, timezone) VALUES (%s, %s)", (f"tenant {i:02d} {z}", z))
        tenants = dict(c.execute("SELECT id, timezone FROM public.tenants").fetchall())

    start = datetime(2023, 12, 31, tzinfo=UTC)
    end = datetime(2025, 1, 2, tzinfo=UTC)                 # exclusive
    ticks = []
    for t in sched.iter_fires(tick, "UTC", start - timedelta(seconds=1)):
        if t >= end:
            break
        ticks.append(t.astimezone(UTC))
    r["ticks"], r["tick_first"], r["tick_last"] = len(ticks), ticks[0], ticks[-1]
    r["ticks_2024"] = sum(1 for t in ticks if t.year == 2024)

    # the oracle: the first tick at which the tenant's local clock shows date D at or after
    # local_time; and on the first tick, a tenant whose local time has not come yet that day
    # has its slot of the day before (before the replay, never handled) caught up, as of it
    expected: dict[tuple, datetime] = {}
    zinfo = {tid: ZoneInfo(z) for tid, z in tenants.items()}
    for tid, zi in zinfo.items():
        loc = ticks[0].astimezone(zi)
        if loc.time() < local_time:
            day = loc.date() - timedelta(days=1)
            expected[(tid, day)] = datetime.combine(day, local_time, tzinfo=zi).astimezone(UTC)
    for t in ticks:
        for tid, zi in zinfo.items():
            loc = t.astimezone(zi)
            if loc.time() >= local_time and (tid, loc.date()) not in expected:
                expected[(tid, loc.date())] = t

    lat, lat_idle, lat_run = [], [], []
    wall = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True, options="-c role=bgjobs_runner") as c:
        assert c.execute("SELECT current_user").fetchone()[0] == "bgjobs_runner"
        for t in ticks:
            n0 = time.perf_counter()
            c.execute("CALL bgjobs.run_scheduled_job(%s, %s)", (JOB, t))
            lat.append((t, (time.perf_counter() - n0) * 1000))
    r["replay_s"] = time.perf_counter() - wall
    r["load_after"] = load()

    with psycopg.connect(dsn, autocommit=True) as c:
        runs = c.execute("SELECT id, as_of, status, (results ->> 'tenantsProcessed')::int FROM public.jobs_log "
                         "WHERE job_name = %s", (JOB,)).fetchall()
        handled = c.execute("""SELECT r.tenant_id, r.local_date, j.as_of
                                 FROM bgjobs.tenant_job_runs r JOIN public.jobs_log j ON j.id = r.run_id
                                WHERE r.job_name = %s""", (JOB,)).fetchall()
    run_ticks = {as_of for _, as_of, _, _ in runs}
    for t, ms in lat:
        (lat_run if t in run_ticks else lat_idle).append(ms)
    r["runs"] = len(runs)
    r["runs_failed"] = sum(1 for x in runs if x[2] != "success")
    r["tenants_processed"] = sum(x[3] or 0 for x in runs)
    r["handled_rows"] = len(handled)
    per_day = Counter((tid, d) for tid, d, _ in handled)
    in_2024 = {k: v for k, v in per_day.items() if k[1].year == 2024}
    r["days_2024"] = len(in_2024)
    r["days_2024_once"] = sum(1 for v in in_2024.values() if v == 1)
    per_tenant = Counter(tid for tid, d in in_2024)
    r["per_tenant_min"], r["per_tenant_max"] = min(per_tenant.values()), max(per_tenant.values())
    on_tick = [(tid, d) for tid, d, as_of in handled if expected.get((tid, d)) == as_of]
    r["days_2024_on_tick"] = sum(1 for tid, d in on_tick if d.year == 2024)
    r["handled_other_days"] = sorted({d for tid, d, _ in handled if d.year != 2024})
    r["handled_all_on_tick"] = len(on_tick) == len(handled)
    exp_2024 = {k for k in expected if k[1].year == 2024}
    r["expected_2024"] = len(exp_2024)
    r["missing_2024"] = sorted(exp_2024 - set(in_2024))[:5]
    wrong = [(tenants[tid], d, as_of, expected.get((tid, d))) for tid, d, as_of in handled
             if expected.get((tid, d)) != as_of]
    r["wrong"] = wrong[:5]
    r["nwrong"] = len(wrong)
    # the DST days: where the handling tick's local time is not 02:00 sharp (gaps, repeats,
    # offsets off the quarter hour), shown for the record
    r["late"] = sorted({(tenants[tid], d.isoformat(), as_of.astimezone(zinfo[tid]).strftime("%H:%M"))
                        for tid, d, as_of in handled
                        if d.year == 2024 and as_of.astimezone(zinfo[tid]).time() != local_time
                        and not (d == date(2024, 1, 1) and as_of == ticks[0])})
    r["idle_ms"] = statistics.median(lat_idle)
    r["run_ms"] = statistics.median(lat_run)
    r["run_p95_ms"] = pct(lat_run, 0.95)
    drop_db(base, "bench_ticks_replay")
    return r


# ----------------------------------------------------------------------------- 2. registry

REG_ZONES = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns",
             "Pacific/Chatham", "Pacific/Kiritimati", "Australia/Adelaide", "America/Santiago", "Asia/Tokyo",
             "Europe/London", "America/Los_Angeles"]


def populate(dsn: str, n_utc: int, n_zoned: int) -> dict:
    """The registry the tick figures are taken in: n_utc + n_zoned jobs with history."""
    r: dict = {}
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("CREATE FUNCTION public.bench_noop() RETURNS jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$")
        c.execute("GRANT EXECUTE ON FUNCTION public.bench_noop() TO bgjobs_runner")
        c.execute("SET bgjobs.defer_schedule = on")
        t = time.perf_counter()
        # UTC: daily at 9,000 distinct-ish minutes, every 5/10/15/30 minutes, hourly
        c.execute("""
            SELECT bgjobs.register_job(format('bench-utc-%%s', lpad(i::text, 5, '0')), 'public.bench_noop',
                     CASE i %% 5 WHEN 0 THEN format('%%s */%%s * * *', i %% 60, 1 + i %% 6)
                                 WHEN 1 THEN format('*/%%s * * * *', (ARRAY[5, 10, 15, 30])[1 + i %% 4])
                                 ELSE format('%%s %%s * * *', i %% 60, (i / 60) %% 24) END, 'UTC')
              FROM generate_series(0, %s - 1) i""", (n_utc,))
        c.execute("""
            SELECT bgjobs.register_job(format('bench-zoned-%%s', lpad(i::text, 5, '0')), 'public.bench_noop',
                     CASE i %% 4 WHEN 0 THEN format('%%s * * * *', (i * 7) %% 60)
                                 ELSE format('%%s %%s * * *', (ARRAY[0, 15, 30, 45, 59, 5])[1 + i %% 6], (i / 6) %% 24) END,
                     (%s::text[])[1 + i %% %s])
              FROM generate_series(0, %s - 1) i""", (REG_ZONES, len(REG_ZONES), n_zoned))
        r["register_s"] = time.perf_counter() - t
        # a fixed zoned job and a fixed UTC job to tick: daily 08:00 Asia/Kolkata, daily 02:30 UTC
        c.execute("SELECT bgjobs.register_job('bench-zoned-00000', 'public.bench_noop', '0 8 * * *', 'Asia/Kolkata')")
        c.execute("SELECT bgjobs.register_job('bench-utc-00000', 'public.bench_noop', '30 2 * * *', 'UTC')")
        c.execute("SELECT bgjobs.register_job('bench-utc-00001', 'public.bench_noop', '30 2 * * *', 'UTC')")
        r["registered"] = c.execute("SELECT count(*) FROM bgjobs.job_registry").fetchone()[0]
        r["zoned"] = c.execute("SELECT count(*) FROM bgjobs.job_registry WHERE tick IS NOT NULL").fetchone()[0]
        r["zones"] = c.execute("SELECT count(DISTINCT timezone) FROM bgjobs.job_registry "
                               "WHERE job_name LIKE 'bench-zoned-%'").fetchone()[0]
        r["cron_entries"] = c.execute("SELECT count(*) FROM cron.job").fetchone()[0] \
            if c.execute("SELECT to_regclass('cron.job')").fetchone()[0] else 0
        # history: 10 runs per job (ten days back from 2026-11-01), a heartbeat each, and
        # for the zoned jobs their last ten slots handled
        c.execute("ALTER TABLE public.jobs_log DISABLE TRIGGER USER")
        c.execute("""INSERT INTO public.jobs_log (job_name, started_at, completed_at, status, as_of, trigger, records_updated)
                     SELECT r.job_name, a.at, a.at + interval '0.3 s', 'success', a.at, 'cron', 0
                       FROM bgjobs.job_registry r
                      CROSS JOIN generate_series(1, 10) k
                      CROSS JOIN LATERAL (SELECT timestamptz '2026-11-01 00:00Z' - make_interval(days => k) AS at) a
                      WHERE r.job_name LIKE 'bench-%'""")
        c.execute("ALTER TABLE public.jobs_log ENABLE TRIGGER USER")
        c.execute("""INSERT INTO public.job_heartbeats (job_name, last_run_at, status, metadata, updated_at)
                     SELECT job_name, timestamptz '2026-10-31 00:00Z', 'healthy', '{}', timestamptz '2026-10-31 00:00Z'
                       FROM bgjobs.job_registry WHERE job_name LIKE 'bench-%' ON CONFLICT DO NOTHING""")
        c.execute("""INSERT INTO bgjobs.job_slots (job_name, slot, run_id)
                     SELECT j.job_name, j.as_of, j.id FROM public.jobs_log j
                       JOIN bgjobs.job_registry r USING (job_name) WHERE r.tick IS NOT NULL
                     ON CONFLICT DO NOTHING""")
        c.execute("VACUUM ANALYZE public.jobs_log")
        c.execute("VACUUM ANALYZE bgjobs.job_slots")
        c.execute("VACUUM ANALYZE bgjobs.job_registry")
        c.execute("VACUUM ANALYZE public.job_heartbeats")
        r["jobs_log"] = c.execute("SELECT count(*) FROM public.jobs_log").fetchone()[0]
        r["job_slots"] = c.execute("SELECT count(*) FROM bgjobs.job_slots").fetchone()[0]
        c.execute("SELECT bgjobs.pause_job('bench-utc-00001')")
    return r


def registry(base: str, n_utc: int, n_zoned: int, repeats: int) -> dict:
    r: dict = {"load_before": load()}
    dsn = new_db(base, "bench_ticks_registry")
    r.update(populate(dsn, n_utc, n_zoned))

    zj, uj, pj = "bench-zoned-00000", "bench-utc-00000", "bench-utc-00001"
    # 08:00 Asia/Kolkata = 02:30 UTC: a due tick at 02:30 of a new day, idle ticks later that day
    day0 = datetime(2026, 6, 1, 2, 30, tzinfo=UTC)
    cases = {}
    k = 0

    def slots(n):
        nonlocal k
        out = [day0 + timedelta(days=k + i) for i in range(n)]
        k += n
        return out

    runner = dict(autocommit=True, options="-c role=bgjobs_runner")
    # (a) in the server
    with psycopg.connect(dsn, **runner) as c:
        c.execute("SELECT 1 FROM bgjobs.job_registry LIMIT 1")
        c.execute("CREATE TEMP TABLE _t (case_name text, ms float8)")

        def inserver(name, job, as_ofs):
            c.execute("""DO $$ DECLARE t timestamptz; a timestamptz[] := %s; i int; BEGIN
                  FOR i IN 1..cardinality(a) LOOP
                    t := clock_timestamp(); CALL bgjobs.run_scheduled_job(%s, a[i]);
                    INSERT INTO _t VALUES (%s, extract(epoch FROM clock_timestamp() - t) * 1000);
                  END LOOP; END $$""".replace("%s", "{}").format(
                "'{" + ",".join(x.isoformat() if x else "NULL" for x in as_ofs) + "}'",
                "'" + job + "'", "'" + name + "'"))
            return statistics.median(x for (x,) in c.execute("SELECT ms FROM _t WHERE case_name = %s", (name,)))

        # warm the backend once (the first call compiles the schedule math), as the other two ways do not
        c.execute("SELECT bgjobs.cron_prev('* * * * *', 'UTC', now())")
        s = slots(repeats)
        cases[("zoned, due", "server")] = inserver("zd", zj, s)
        cases[("zoned, nothing due", "server")] = inserver("zi", zj, [s[0] + timedelta(minutes=15 * (i + 1))
                                                                       for i in range(repeats)])
        cases[("UTC, due", "server")] = inserver("ud", uj, slots(repeats))
        cases[("UTC, paused", "server")] = inserver("up", pj, [None] * repeats)

    def client(job, as_ofs, fresh):
        lat, first = [], None
        c = None if fresh else psycopg.connect(dsn, **runner)
        if c is not None:
            c.execute("SELECT bgjobs.cron_prev('* * * * *', 'UTC', now())")
        for a in as_ofs:
            t = time.perf_counter()
            if fresh:
                with psycopg.connect(dsn, **runner) as cc:
                    cc.execute("CALL bgjobs.run_scheduled_job(%s, %s)", (job, a))
            else:
                c.execute("CALL bgjobs.run_scheduled_job(%s, %s)", (job, a))
            lat.append((time.perf_counter() - t) * 1000)
        if c is not None:
            c.close()
        return statistics.median(lat), max(lat)

    for way, fresh in (("client", False), ("new connection", True)):
        s = slots(repeats)
        cases[("zoned, due", way)] = client(zj, s, fresh)
        cases[("zoned, nothing due", way)] = client(zj, [s[0] + timedelta(minutes=15 * (i + 1))
                                                         for i in range(repeats)], fresh)
        cases[("UTC, due", way)] = client(uj, slots(repeats), fresh)
        cases[("UTC, paused", way)] = client(pj, [None] * repeats, fresh)
    # a bare new connection (connect, SELECT 1, close): what pg_cron's libpq mode pays anyway
    lat = []
    for _ in range(repeats):
        t = time.perf_counter()
        with psycopg.connect(dsn, **runner) as cc:
            cc.execute("SELECT 1")
        lat.append((time.perf_counter() - t) * 1000)
    r["bare_connect_ms"] = statistics.median(lat)
    # and one whose only statement is the zoned tick's schedule math (the first PL/Python
    # call of a backend loads plpython3u and the schedule module)
    lat = []
    for _ in range(repeats):
        t = time.perf_counter()
        with psycopg.connect(dsn, **runner) as cc:
            cc.execute("SELECT bgjobs.cron_prev('0 8 * * *', 'Asia/Kolkata', now())")
        lat.append((time.perf_counter() - t) * 1000)
    r["plpy_connect_ms"] = statistics.median(lat)

    with psycopg.connect(dsn, autocommit=True) as c:
        r["runs_zoned"] = c.execute("SELECT count(*) FROM public.jobs_log WHERE job_name = %s AND as_of >= '2026-06-01' AND as_of < '2026-10-01'",
                                    (zj,)).fetchone()[0]
        r["runs_utc"] = c.execute("SELECT count(*) FROM public.jobs_log WHERE job_name = %s AND as_of >= '2026-06-01' AND as_of < '2026-10-01'",
                                  (uj,)).fetchone()[0]
        r["runs_paused"] = c.execute("SELECT count(*) FROM public.jobs_log WHERE job_name = %s AND as_of >= '2026-06-01' AND as_of < '2026-10-01'",
                                     (pj,)).fetchone()[0]
        r["failed"] = c.execute("SELECT count(*) FROM public.jobs_log WHERE status <> 'success'").fetchone()[0]
    r["cases"] = cases
    r["load_after"] = load()
    drop_db(base, "bench_ticks_registry")
    return r


# ------------------------------------------------------------------ 3. before / after

AB_CASES = ("zoned, due", "zoned, nothing due", "UTC, due", "UTC, paused", "bare connection", "one cron_prev")


def ab(base: str, rev: str, n_utc: int, n_zoned: int, repeats: int) -> dict:
    """The new-connection ticks of part 2 with the code at `rev` (before) and this checkout
    (after), each in a database of its own with the same registry, interleaved tick by tick
    (the order swapped every round), so that both see the same load."""
    r: dict = {"rev": rev, "load_before": load()}
    code = tempfile.mkdtemp(prefix="bench-ticks-rev-")
    try:
        top = subprocess.run(["git", "-C", str(Path(__file__).resolve().parent), "rev-parse", "--show-toplevel"],
                             capture_output=True, text=True, check=True).stdout.strip()
        archive = subprocess.run(["git", "-C", top, "archive", rev], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", code], input=archive, check=True)
        if not Path(code, "installer", "bgjobs", "install.py").is_file():
            raise SystemExit(f"no installer in {rev}")
        dsns = {}
        for side in ("before", "after"):
            name = f"bench_ticks_ab_{side}"
            if side == "after":
                dsns[side] = new_db(base, name)
            else:
                with psycopg.connect(base, autocommit=True) as c:
                    c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    c.execute(f'CREATE DATABASE "{name}"')
                dsns[side] = make_conninfo(base, dbname=name)
                subprocess.run([sys.executable, "-c",
                                "import sys\nfrom bgjobs import install\nfrom bgjobs.settings import Settings\n"
                                "install.install(sys.argv[1], Settings(), schedule=False, report=lambda s: None)",
                                dsns[side]], env={**os.environ, "PYTHONPATH": f"{code}/installer"}, check=True)
            r[side] = populate(dsns[side], n_utc, n_zoned)
    finally:
        shutil.rmtree(code, ignore_errors=True)

    zj, uj, pj = "bench-zoned-00000", "bench-utc-00000", "bench-utc-00001"
    day0 = datetime(2026, 6, 1, 2, 30, tzinfo=UTC)
    runner = dict(autocommit=True, options="-c role=bgjobs_runner")
    lat = {(case, side): [] for case in AB_CASES for side in dsns}

    def once(side, case, job=None, at=None):
        t = time.perf_counter()
        with psycopg.connect(dsns[side], **runner) as cc:
            if case == "bare connection":
                cc.execute("SELECT 1")
            elif case == "one cron_prev":
                cc.execute("SELECT bgjobs.cron_prev('0 8 * * *', 'Asia/Kolkata', now())")
            else:
                cc.execute("CALL bgjobs.run_scheduled_job(%s, %s)", (job, at))
        lat[(case, side)].append((time.perf_counter() - t) * 1000)

    for i in range(repeats):
        day = day0 + timedelta(days=i)
        for side in (("before", "after") if i % 2 == 0 else ("after", "before")):
            once(side, "zoned, due", zj, day)
            once(side, "zoned, nothing due", zj, day + timedelta(minutes=15))
            once(side, "UTC, due", uj, day)
            once(side, "UTC, paused", pj, None)
            once(side, "bare connection")
            once(side, "one cron_prev")
    r["cases"] = {k: (statistics.median(v), max(v)) for k, v in lat.items()}
    for side, dsn in dsns.items():
        with psycopg.connect(dsn, autocommit=True) as c:
            r[side]["runs"] = c.execute("SELECT count(*) FROM public.jobs_log WHERE as_of >= '2026-06-01' "
                                        "AND as_of < '2026-10-01'").fetchone()[0]
            r[side]["failed"] = c.execute("SELECT count(*) FROM public.jobs_log WHERE status <> 'success'").fetchone()[0]
            r[side]["plpython_math"] = c.execute(
                "SELECT count(*) FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang "
                "WHERE p.pronamespace = 'bgjobs'::regnamespace AND p.proname LIKE 'cron%%' "
                "AND l.lanname = 'plpython3u'").fetchone()[0]
        drop_db(base, f"bench_ticks_ab_{side}")
    r["load_after"] = load()
    return r


def ab_report(meta: dict, r: dict, repeats: int) -> str:
    L = [f"## A zoned tick on a new connection, before and after the SQL cron math "
         f"({meta['when']:%Y-%m-%d %H:%M} UTC, `benchmarks/bench_ticks.py --ab {r['rev']}`)", "",
         f"{os.cpu_count()} cores shared with other sessions, PostgreSQL {meta['server']}, sandbox cluster. "
         f"Before: the code at `{r['rev']}` (schedule math in PL/Python: {r['before']['plpython_math']} "
         f"PL/Python cron functions); after: checkout {meta['rev']} (its last change outside benchmarks/: "
         f"{meta['code_rev']}; {r['after']['plpython_math']} PL/Python cron functions). Each in a database "
         f"of its own with part 2's registry ({r['after']['registered']:,} jobs, {r['after']['zoned']:,} zoned; "
         f"registered in {r['before']['register_s']:.1f} s before, {r['after']['register_s']:.1f} s after), "
         f"ticked alternately, the order swapped every round: {repeats} rounds, each a new connection as "
         f"bgjobs_runner per tick, as pg_cron's libpq mode. Median (max in brackets). Load average "
         f"{r['load_before']} before, {r['load_after']} after. Runs recorded: before {r['before']['runs']}, "
         f"after {r['after']['runs']} (2 x {repeats} due ticks each); failed runs "
         f"{r['before']['failed']} / {r['after']['failed']}.", "",
         f"| new connection, then | before (`{r['rev']}`) | after | target |", "| --- | --- | --- | --- |"]
    for case in AB_CASES:
        b, a = r["cases"][(case, "before")], r["cases"][(case, "after")]
        target = "< 50 ms" if case not in ("bare connection", "one cron_prev") else ""
        L.append(f"| {case} | {b[0]:.2f} ms ({b[1]:.1f}) | {a[0]:.2f} ms ({a[1]:.1f}) | {target} |")
    return "\n".join(L) + "\n"


# ----------------------------------------------------------------------------- report

def report(meta: dict, rp: dict | None, rg: dict | None, repeats: int) -> str:
    L = [f"## Issue 9's tick figures ({meta['rev']}, {meta['when']:%Y-%m-%d %H:%M} UTC, `benchmarks/bench_ticks.py`)", "",
         f"{os.cpu_count()} cores shared with other sessions, {platform.system()} {platform.release()}, "
         f"PostgreSQL {meta['server']}, sandbox cluster, checkout at {meta['rev']} (its last change outside benchmarks/: {meta['code_rev']}). Load average (1, 5, 15 min) "
         "given with each figure.", ""]
    if rp:
        ok = (rp["days_2024"] == rp["days_2024_once"] == rp["days_2024_on_tick"] == 4392
              and rp["tenants_processed"] == rp["handled_rows"] and rp["runs_failed"] == 0 and rp["handled_all_on_tick"])
        L += ["### Replaying a year of ticks for 12 zones", "",
              f"Tenants in {', '.join(ZONES)}; job `{JOB}` ({rp['local_time']:%H:%M} in each tenant's zone, "
              f"tick `{rp['tick']}`). {rp['ticks']:,} ticks replayed in order, "
              f"{rp['tick_first']:%Y-%m-%d %H:%M} to {rp['tick_last']:%Y-%m-%d %H:%M} UTC ({rp['ticks_2024']:,} of them in "
              f"2024), one `CALL bgjobs.run_scheduled_job` each as bgjobs_runner, in {rp['replay_s']:.1f} s. "
              f"Load average {rp['load_before']} before, {rp['load_after']} after.", "",
              "| measure | result | target | |", "| --- | --- | --- | --- |",
              f"| tenant-days of 2024 handled | {rp['days_2024']:,} of {rp['expected_2024']:,} (per tenant "
              f"{rp['per_tenant_min']}-{rp['per_tenant_max']}) | 4,392 of 4,392 | {'pass' if rp['days_2024'] == 4392 else 'MISS'} |",
              f"| ... handled exactly once | {rp['days_2024_once']:,} | 4,392 | {'pass' if rp['days_2024_once'] == 4392 else 'MISS'} |",
              f"| ... on the first tick at or after the local 02:00 (Python zoneinfo oracle) | {rp['days_2024_on_tick']:,} | 4,392 "
              f"| {'pass' if rp['days_2024_on_tick'] == 4392 else 'MISS'} |",
              f"| tenants handed to the body, summed over runs / tenant-days recorded (whole replay) | "
              f"{rp['tenants_processed']:,} / {rp['handled_rows']:,} | equal | "
              f"{'pass' if rp['tenants_processed'] == rp['handled_rows'] else 'MISS'} |",
              f"| runs / failed runs | {rp['runs']:,} / {rp['runs_failed']} | - / 0 | {'pass' if rp['runs_failed'] == 0 else 'MISS'} |",
              f"| idle tick (nothing due), median, client wall time | {rp['idle_ms']:.3f} ms | | |",
              f"| tick that runs the job, median / p95, client wall time | {rp['run_ms']:.2f} / {rp['run_p95_ms']:.2f} ms | | |",
              "",
              f"Overall: **{'exact' if ok else 'NOT exact'}**. Tenant-days outside 2024 also handled by the replay "
              f"(the edge days), each on its tick: {', '.join(d.isoformat() for d in rp['handled_other_days'])} "
              f"({'all' if rp['handled_all_on_tick'] else 'NOT all'} tenant-days of the replay on the oracle's tick"
              + (f"; {rp['nwrong']} off, e.g. {rp['wrong']}" if rp['nwrong'] else "") + ").",
              ""]
        if rp["missing_2024"]:
            L += [f"Missing (first 5): {rp['missing_2024']}", ""]
        L += ["Tenant-days of 2024 handled at a local time other than 02:00 (DST gaps and repeats): "
              + ("; ".join(f"{z} {d} at {hm}" for z, d, hm in rp["late"]) or "none") + ".", ""]
    if rg:
        L += ["### A tick with 10,000 registered jobs, 1,000 of them zoned", "",
              f"{rg['registered']:,} jobs in bgjobs.job_registry ({rg['zoned']:,} driven by a zone tick, "
              f"{rg['zones']} zones; the rest UTC or shipped), registered through `bgjobs.register_job` with "
              f"`bgjobs.defer_schedule = on` in {rg['register_s']:.1f} s ({rg['cron_entries']} pg_cron entries); "
              f"history {rg['jobs_log']:,} jobs_log rows, {rg['job_slots']:,} handled slots, a heartbeat per job. "
              f"Ticked: `bench-zoned-00000` ('0 8 * * *' Asia/Kolkata, tick */15) and `bench-utc-00000` "
              f"('30 2 * * *' UTC); the UTC idle case is a paused job (`bench-utc-00001`), since pg_cron "
              f"ticks a UTC job only when it is due. Median of {repeats} ticks each (max in brackets); "
              f"load average {rg['load_before']} before, {rg['load_after']} after.", "",
              "| tick | in the server (CALL, warm backend) | from a client, warm session | new connection per tick "
              "(connect as bgjobs_runner, CALL, close), as pg_cron's libpq mode | target | |",
              "| --- | --- | --- | --- | --- | --- |"]
        for name in ("zoned, due", "zoned, nothing due", "UTC, due", "UTC, paused"):
            s = rg["cases"][(name, "server")]
            cm, cx = rg["cases"][(name, "client")]
            fm, fx = rg["cases"][(name, "new connection")]
            verdict = "pass" if cm < 50 else "MISS"
            fverdict = "pass" if fm < 50 else "MISS"
            L.append(f"| {name} | {s:.2f} ms | {cm:.2f} ms ({cx:.1f}) | {fm:.2f} ms ({fx:.1f}) | < 50 ms "
                     f"| {verdict} (warm); {fverdict} (new connection) |")
        L += ["", f"A bare new connection (connect, SELECT 1, close) takes {rg['bare_connect_ms']:.2f} ms median here; "
              f"a new connection whose only statement is one `bgjobs.cron_prev` call (the zoned tick's schedule "
              f"math, PL/pgSQL since the sqlcron branch: the backend compiles bgjobs.cron_fire and cron_parse on "
              f"first use; before it, PL/Python, whose first call loaded plpython3u and the schedule module) "
              f"{rg['plpy_connect_ms']:.2f} ms. "
              f"Runs recorded by the timed ticks: zoned {rg['runs_zoned']} (3 x {repeats} due ticks), UTC "
              f"{rg['runs_utc']} (3 x {repeats}), paused {rg['runs_paused']}; failed runs {rg['failed']}.", ""]
    return "\n".join(L)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dsn")
    ap.add_argument("--only", choices=["replay", "registry"])
    ap.add_argument("--utc-jobs", type=int, default=9000)
    ap.add_argument("--zoned-jobs", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--out", default=str(Path(__file__).with_name("RESULTS-runtime.md")))
    ap.add_argument("--ab", metavar="REV", help="only part 3: the new-connection ticks of the code at REV "
                    "and of this checkout, interleaved")
    args = ap.parse_args()

    def go(base):
        with psycopg.connect(base, autocommit=True) as c:
            server = c.execute("SHOW server_version").fetchone()[0]
        rev = os.popen(f"git -C {Path(__file__).resolve().parent} rev-parse --short HEAD").read().strip()
        code_rev = os.popen(f"git -C {Path(__file__).resolve().parent} log -1 --format=%h -- ':(top)' ':(top,exclude)benchmarks'").read().strip()
        meta = {"server": server, "rev": rev, "code_rev": code_rev, "when": datetime.now(UTC)}
        if args.ab:
            return ab_report(meta, ab(base, args.ab, args.utc_jobs, args.zoned_jobs, args.repeats), args.repeats)
        rp = replay(base) if args.only in (None, "replay") else None
        rg = registry(base, args.utc_jobs, args.zoned_jobs, args.repeats) if args.only in (None, "registry") else None
        return report(meta, rp, rg, args.repeats)

    if args.dsn:
        text = go(args.dsn)
    else:
        with sandbox.temporary("bgjobs-bench-") as sb:
            text = go(sb.dsn_for("postgres"))
    print(text)
    with open(args.out, "a") as f:
        f.write("\n" + text)


if __name__ == "__main__":
    sys.exit(main())
