"""`bgjobs worker [--once]`: delivers the notification outbox from outside the database,
for servers without plpython3u (RDS, Cloud SQL, Azure, Supabase: no managed service offers
it) or to add delivery capacity next to the in-database `deliver-notifications` job.

It runs exactly what the in-database job runs, from the same code: per batch, in one
transaction, `bgjobs.claim_notifications` (FOR UPDATE SKIP LOCKED) -> the plain modules
plpython/bgjobs_delivery.py + bgjobs_channels.py send -> `bgjobs.record_deliveries`; then
COMMIT.  The claimed rows' locks are the only ones held while sending, and a row one
deliverer claimed is invisible to the other until its outcome is committed: the worker
and the in-database job never send the same row twice.

Each run has the in-database job's time budget and every send its total deadline, so a
slow or dripping receiver holds a batch (and its row locks) for seconds, not minutes.

The login role needs bgjobs_deliverer (EXECUTE on the claim/record/config functions, which
read the secrets); nothing it prints or stores carries a secret or a recipient: it
prints counts only.

Watchdog: before each poll's delivery the worker runs bgjobs.watchdog_alert(), the check of
`bgjobs check` seen from outside pg_cron.  When pg_cron's launcher is gone or bgjobs' own
ticks are stale it raises ONE alert (rule scheduler_down on subject 'scheduler', through
the alert state machine: reminders after alert_suppression_hours, one resolved notice
when the ticks are back), and delivers it in the same poll: the in-database deliverer is
a pg_cron job, so it is down too.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg

from . import pymodules
from .db import connect, first_line
from .errors import BgjobsError

Report = Callable[[str], None]


@dataclass
class Totals:
    batches: int = 0
    claimed: int = 0
    counts: dict = field(default_factory=lambda: {"sent": 0, "failed": 0, "dead": 0, "deferred": 0})

    def add(self, claimed: int, counts: dict) -> None:
        self.batches += 1
        self.claimed += claimed
        for k, v in counts.items():
            self.counts[k] = self.counts.get(k, 0) + v

    def line(self) -> str:
        c = self.counts
        return (f"{c['sent']} sent, {c['failed']} to retry, {c['dead']} dead, {c['deferred']} deferred "
                f"({self.claimed} claimed in {self.batches} batch{'es' if self.batches != 1 else ''})")


def deliverer_name() -> str:
    return f"worker:{socket.gethostname()}:{os.getpid()}"


def _check_installed(conn: psycopg.Connection) -> None:
    if conn.execute("SELECT to_regprocedure('bgjobs.claim_notifications(timestamptz, integer, text)')").fetchone()[0] is None:
        raise BgjobsError(f"bgjobs (with monitoring) is not installed in database {conn.info.dbname} (run bgjobs install)")


def deliver_run(conn: psycopg.Connection, deliverer: str, as_of=None, batch_size: int | None = None,
                budget_seconds: float | None = None, stop: Callable[[], bool] | None = None,
                report: Report | None = None) -> dict:
    """One delivery run (bgjobs_delivery.drain, as the in-database job runs it): batches
    until nothing is due or the run's budget is spent.  Each batch is one transaction:
    claim (FOR UPDATE SKIP LOCKED), send, record, COMMIT.  as_of None: the server's now()
    at each claim.  Returns drain()'s totals."""
    delivery = pymodules.load("bgjobs_delivery")
    pymodules.channels()                 # the application's templates registered with the channels
    config, started = conn.execute(
        "SELECT bgjobs.delivery_config(), "
        "date_part('epoch', greatest(coalesce(%s::timestamptz, clock_timestamp()), clock_timestamp()))",
        (as_of,)).fetchone()
    cur = conn.cursor(row_factory=psycopg.rows.dict_row)

    def claim(limit: int) -> list:
        conn.execute("BEGIN")
        rows = cur.execute(
            "SELECT tenant_id::text, id::text, channel, recipient, template, payload, attempts, timezone "
            "FROM bgjobs.claim_notifications(coalesce(%s::timestamptz, now()), %s, %s)",
            (as_of, limit, deliverer)).fetchall()
        if not rows:
            conn.execute("COMMIT")
        return rows

    def record(results: list) -> dict:
        counts = conn.execute("SELECT bgjobs.record_deliveries(%s::jsonb, to_timestamp(%s), %s)",
                              (json.dumps(results), started, deliverer)).fetchone()[0]
        conn.execute("COMMIT")
        if report:
            report(f"batch: {sum(counts.values())} done: {counts['sent']} sent, {counts['failed']} to retry, "
                   f"{counts['dead']} dead, {counts['deferred']} deferred")
        return counts

    try:
        totals = delivery.drain(claim, record, config, budget_seconds=budget_seconds, stop=stop,
                                batch_size=batch_size)
    finally:
        if not conn.closed and conn.info.transaction_status in (psycopg.pq.TransactionStatus.INTRANS,
                                                                 psycopg.pq.TransactionStatus.INERROR):
            try:
                conn.execute("ROLLBACK")   # a batch that did not finish: its rows are due again
            except psycopg.Error:
                pass
    return totals


def watchdog(conn: psycopg.Connection, state: dict, report: Report | None = None) -> dict | None:
    """One watchdog pass (bgjobs.watchdog_alert at the server's now()); reports the
    scheduler's problems when they change.  None when the database has no watchdog or the
    role may not run it (said once)."""
    if state.get("unavailable"):
        return None
    try:
        if conn.execute("SELECT to_regprocedure('bgjobs.watchdog_alert(timestamptz)')").fetchone()[0] is None:
            raise psycopg.errors.UndefinedFunction("bgjobs.watchdog_alert(timestamptz) is not installed")
        counts = conn.execute("SELECT bgjobs.watchdog_alert(now())").fetchone()[0]
    except (psycopg.errors.UndefinedFunction, psycopg.errors.InsufficientPrivilege) as exc:
        state["unavailable"] = True
        if report:
            report(f"worker: scheduler watchdog off: {first_line(exc)}")
        return None
    problems = counts.get("problems") or []
    if report and problems != state.get("problems", []):
        report("worker: scheduler: " + ("; ".join(problems) if problems else "ok again"))
    state["problems"] = problems
    return counts


def drain(conn: psycopg.Connection, deliverer: str, as_of=None, batch_size: int | None = None,
          report: Report | None = None, stop: Callable[[], bool] = lambda: False) -> Totals:
    """Delivery runs until nothing is due (or a run could not try everything it claimed:
    the rest waits for the next poll)."""
    totals = Totals()
    while not stop():
        run = deliver_run(conn, deliverer, as_of, batch_size, stop=stop, report=report)
        if run["claimed"]:
            totals.batches += run["batches"]
            totals.claimed += run["claimed"]
            for k in totals.counts:
                totals.counts[k] += run[k]
        if run["ended"] != "budget" or not run["claimed"]:
            break
    return totals


def check_interval(interval) -> float:
    """The polling interval: a finite number of seconds, more than 0, at most a day."""
    try:
        value = float(interval)
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= 86400):
        shown = f"{interval:g}" if isinstance(interval, (int, float)) else repr(interval)
        raise BgjobsError(f"worker: --interval must be a number of seconds above 0 and at most 86400 (got {shown})")
    return value


def main(dsn: str, once: bool = False, interval: float = 5.0, report: Report = print,
         batch_size: int | None = None) -> Totals:
    """`bgjobs worker`: with once, drain what is due now and return; else poll every
    `interval` seconds until SIGINT/SIGTERM."""
    check_interval(interval)
    pymodules.channels()                 # fail early if the channel module cannot load
    deliverer = deliverer_name()
    stopping = {"flag": False}

    def _stop(signum, frame):            # finish the batch in hand, then exit
        stopping["flag"] = True

    previous = {}
    if not once:
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                previous[sig] = signal.signal(sig, _stop)
            except ValueError:           # not the main thread
                pass
    grand = Totals()
    conn = None
    dog: dict = {}
    try:
        while True:
            try:
                if conn is None or conn.closed:
                    conn = connect(dsn, autocommit=True)
                    conn.execute("SET application_name = 'bgjobs worker'")
                    _check_installed(conn)
                    if not once:
                        report(f"bgjobs worker {deliverer}: delivering from {conn.info.dbname} every {interval:g}s")
                watchdog(conn, dog, report)
                totals = drain(conn, deliverer, batch_size=batch_size, report=None if once else report,
                               stop=lambda: stopping["flag"])
                grand.batches += totals.batches
                grand.claimed += totals.claimed
                for k, v in totals.counts.items():
                    grand.counts[k] += v
            except psycopg.OperationalError as exc:
                if once:
                    raise BgjobsError(f"worker: lost the database connection: {first_line(exc)}") from None
                report(f"worker: database connection lost ({first_line(exc)}); reconnecting in {interval:g}s")
                if conn is not None:
                    conn.close()
                conn = None
            if once:
                report(f"worker: {grand.line()}")
                return grand
            deadline = time.monotonic() + interval
            while not stopping["flag"] and time.monotonic() < deadline:
                time.sleep(min(0.2, interval))
            if stopping["flag"]:
                report(f"worker stopped: {grand.line()}")
                return grand
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if conn is not None:
            conn.close()
