"""`bgjobs check`: the watchdog outside pg_cron, for cron, systemd timers and Kubernetes
probes.  One line per problem; exit 0 (ok), 1 (warning) or 2 (critical).

What it checks is bgjobs.watchdog(): pg_cron's launcher gone (a launcher terminated with
pg_terminate_backend never comes back until a restart, pg_cron #99), bgjobs' own
every-minute deliver-notifications and hourly check-job-health not run for two of their
intervals, and alerts firing at CRITICAL.  `bgjobs worker` runs the same check at every
poll and alerts through the outbox (bgjobs.watchdog_alert).  A database that cannot be
reached, or has no bgjobs, is critical too: nothing is watching the jobs then.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from .db import connect, first_line
from .errors import BgjobsError

OK, WARNING, CRITICAL = 0, 1, 2
LEVEL = {"WARNING": WARNING, "CRITICAL": CRITICAL}


@dataclass
class Problem:
    severity: str
    subject: str
    kind: str
    problem: str

    def line(self) -> str:
        return f"{self.severity} {self.subject}: {self.problem}"


def problems(conn: psycopg.Connection) -> list[Problem]:
    """bgjobs.watchdog() as of the server's now()."""
    if conn.execute("SELECT to_regprocedure('bgjobs.watchdog(timestamptz)')").fetchone()[0] is None:
        raise BgjobsError(f"bgjobs (with its watchdog) is not installed in database {conn.info.dbname} "
                          "(run bgjobs install)")
    rows = conn.execute("SELECT severity, subject, kind, problem FROM bgjobs.watchdog(now())").fetchall()
    return [Problem(*r) for r in rows]


def run(dsn: str, report: Callable[[str], None] = print) -> int:
    """Print one line per problem (or one 'ok' line); return the exit status."""
    try:
        with connect(dsn, autocommit=True) as conn:
            found = problems(conn)
            db = conn.info.dbname
    except BgjobsError as exc:
        report(f"CRITICAL bgjobs: {exc}")
        return CRITICAL
    except psycopg.Error as exc:
        report(f"CRITICAL bgjobs: database error: {first_line(exc)}")
        return CRITICAL
    if not found:
        report(f"OK bgjobs: pg_cron launcher running, ticks on time, no critical alert ({db})")
        return OK
    for p in found:
        report(p.line())
    return max(LEVEL.get(p.severity, WARNING) for p in found)
