#!/usr/bin/env python3
"""What check-sla-and-overdue's change feed costs the application's own writes to `tasks`.

Where bgjobs created `tasks`, four statement-level triggers with transition tables
(bgjobs_app.tasks_sla_feed) write the key of each task whose status, due date or priority
changed to bgjobs_app.task_changes, so that the SLA tick reads only what changed.  This
measures the application's statements with the triggers enabled and disabled, interleaved
round by round (the order swapped every round), on the demo data set:

  * one-row UPDATE of a task's status (a change the feed records), one per transaction;
  * one-row UPDATE of a task's title (a change the feed ignores: the trigger still fires);
  * one-row INSERT of an open task, one per transaction;
  * one UPDATE statement moving the due date of 10,000 open tasks.

The change table is emptied before each round, as a tick would have consumed it.

    .venv/bin/python benchmarks/bench_sla_feed.py [--dsn SUPERUSER_DSN] [--tasks-per-tenant N]
        [--rounds N] [--out benchmarks/RESULTS-sla-feed.md]

Without --dsn it starts its own sandbox cluster in /tmp; with one it creates (and leaves)
the database bench_sla_feed.  A dated section is appended to --out and printed.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from contextlib import nullcontext
from datetime import datetime, timezone
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from bgjobs import demodata, sandbox
from bgjobs import install as inst
from bgjobs.settings import Settings

DB = "bench_sla_feed"
TRIGGERS = ("tasks_sla_feed_insert", "tasks_sla_feed_update", "tasks_sla_feed_delete", "tasks_sla_feed_truncate")
SINGLE = 300            # one-row statements per case and round
BULK = 10_000           # tasks per bulk UPDATE


def set_feed(c: psycopg.Connection, on: bool) -> None:
    verb = "ENABLE ALWAYS" if on else "DISABLE"
    c.execute("ALTER TABLE public.tasks " + ", ".join(f"{verb} TRIGGER {t}" for t in TRIGGERS))


def one_round(c: psycopg.Connection, rng: random.Random, open_ids: list, tenant_case: list) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"status": [], "title": [], "insert": [], "bulk": []}
    for case, sql_text in (("status", "UPDATE public.tasks SET status = %s WHERE tenant_id = %s AND id = %s"),
                           ("title", "UPDATE public.tasks SET title = %s WHERE tenant_id = %s AND id = %s")):
        for _ in range(SINGLE):
            tenant, task = rng.choice(open_ids)
            value = rng.choice(("Open", "In Progress")) if case == "status" else f"renamed {rng.random():.6f}"
            t = time.perf_counter()
            c.execute(sql_text, (value, tenant, task))
            out[case].append((time.perf_counter() - t) * 1000)
    for _ in range(SINGLE):
        tenant, case_id = rng.choice(tenant_case)
        t = time.perf_counter()
        c.execute("INSERT INTO public.tasks (tenant_id, case_id, title, due_date) "
                  "VALUES (%s, %s, 'bench task', now() + interval '3 days')", (tenant, case_id))
        out["insert"].append((time.perf_counter() - t) * 1000)
    for _ in range(3):
        t = time.perf_counter()
        c.execute("UPDATE public.tasks SET due_date = due_date + interval '1 minute' WHERE (tenant_id, id) IN "
                  "(SELECT tenant_id, id FROM public.tasks WHERE status IN ('Open', 'In Progress') "
                  " ORDER BY id LIMIT %s)", (BULK,))
        out["bulk"].append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dsn")
    ap.add_argument("--tenants", type=int, default=20)
    ap.add_argument("--tasks-per-tenant", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--out", default=str(Path(__file__).with_name("RESULTS-sla-feed.md")))
    args = ap.parse_args()

    with (nullcontext(None) if args.dsn else sandbox.temporary("bench-sla-feed-")) as sb:
        base = args.dsn or sb.dsn
        with psycopg.connect(base, autocommit=True) as c:
            c.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
            c.execute(f"CREATE DATABASE {DB}")
        dsn = make_conninfo(**{**conninfo_to_dict(base), "dbname": DB})
        inst.install(dsn, Settings(), schedule=False, report=lambda s: None)
        with psycopg.connect(dsn, autocommit=True) as c:
            demodata.load(c, tenants=args.tenants, tasks_per_tenant=args.tasks_per_tenant,
                          installments_per_tenant=10, hearings_per_tenant=10, documents_per_tenant=10)
            c.execute("VACUUM ANALYZE public.tasks")
            n_tasks = c.execute("SELECT count(*) FROM public.tasks").fetchone()[0]
            open_ids = c.execute("SELECT tenant_id, id FROM public.tasks "
                                 "WHERE status IN ('Open', 'In Progress')").fetchall()
            tenant_case = c.execute("SELECT tenant_id, id FROM public.cases").fetchall()
            load0 = os.getloadavg()
            rng = random.Random(7)
            res = {side: {k: [] for k in ("status", "title", "insert", "bulk")} for side in ("on", "off")}
            feed_rows = []
            for r in range(args.rounds):
                for side in (("on", "off") if r % 2 == 0 else ("off", "on")):
                    set_feed(c, side == "on")
                    c.execute("TRUNCATE bgjobs_app.task_changes")
                    got = one_round(c, rng, open_ids, tenant_case)
                    for k, v in got.items():
                        res[side][k].extend(v)
                    if side == "on":
                        feed_rows.append(c.execute("SELECT count(*) FROM bgjobs_app.task_changes").fetchone()[0])
            set_feed(c, True)
            c.execute("TRUNCATE bgjobs_app.task_changes")
            load1 = os.getloadavg()
            version = c.execute("SHOW server_version").fetchone()[0]

    rev = subprocess.run(["git", "-C", str(Path(__file__).resolve().parent), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip() or "?"
    med = {side: {k: statistics.median(v) for k, v in d.items()} for side, d in res.items()}
    names = {"status": f"one-row UPDATE of status (recorded), {SINGLE} x {args.rounds}",
             "title": f"one-row UPDATE of title (ignored), {SINGLE} x {args.rounds}",
             "insert": f"one-row INSERT of an open task, {SINGLE} x {args.rounds}",
             "bulk": f"UPDATE of {BULK:,} open tasks' due date, 3 x {args.rounds}"}
    lines = [
        "",
        f"## The SLA change feed's cost on the application's writes ({rev}, "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, `benchmarks/bench_sla_feed.py`)",
        "",
        f"2 cores shared with other sessions, Linux {platform.release()}, PostgreSQL {version}, "
        f"{'sandbox cluster' if not args.dsn else 'the given server'}, fsync on. {n_tasks:,} tasks "
        f"({args.tenants} tenants, demo data), {len(open_ids):,} of them open. Triggers enabled and disabled "
        f"interleaved round by round, the order swapped every round, `bgjobs_app.task_changes` emptied before each. "
        f"Client wall time per statement (autocommit, a warm session, round trip included). Load average "
        f"{' '.join(f'{x:.2f}' for x in load0)} before, {' '.join(f'{x:.2f}' for x in load1)} after.",
        "",
        "| statement | feed on, median ms | feed off, median ms | on / off |",
        "| --- | --- | --- | --- |",
    ]
    for k in ("status", "title", "insert", "bulk"):
        lines.append(f"| {names[k]} | {med['on'][k]:.3f} | {med['off'][k]:.3f} | {med['on'][k] / med['off'][k]:.2f}x |")
    lines += ["", f"Keys in the change table after a round with the feed on: {min(feed_rows):,}-{max(feed_rows):,} "
              f"(the round's status and due-date changes and inserts; title changes add none).", ""]
    text = "\n".join(lines)
    print(text)
    with open(args.out, "a") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
