"""Does a long pg_cron run delay another job's tick?  pg_cron 1.4.2, both modes.

For each mode (pg_cron's background workers, and libpq mode as the sandbox configures it),
a throw-away sandbox gets two every-minute jobs owned by bgjobs_runner (the role bgjobs'
jobs run as; in libpq mode pg_cron reaches it through the peer map): `long` sleeps
LONG_SECONDS, `tick` does nothing.  After WINDOW minutes, every minute boundary at which
`tick` was due is matched with the first `tick` run that started at or after it.  Printed
per mode: ticks due, ticks that ran, the median and largest start delay, and the runs
that pg_cron never started (it leaves no row for them).

Both clusters run at once (the wait is pg_cron's real clock: about WINDOW + 1 minutes).
Run:  .venv/bin/python benchmarks/bench_scheduler.py  (as root or as a normal user)
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import psycopg

sys.path.insert(0, "installer")
from bgjobs import sandbox

LONG_SECONDS = 150
WINDOW = 4          # minutes observed after the first full minute


def measure(mode: str, out: dict) -> None:
    with sandbox.temporary(f"bgjobs-bench-{mode}-", cron_mode=mode) as sb:
        with psycopg.connect(sb.dsn_for(sandbox.DATABASE), autocommit=True) as c:
            c.execute("CREATE EXTENSION IF NOT EXISTS pg_cron")
            c.execute("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bgjobs_runner') "
                      "THEN CREATE ROLE bgjobs_runner LOGIN; END IF; END $$")
            # start just after a minute boundary so both jobs are due at the same next minute
            now = datetime.now(timezone.utc)
            first = (now + timedelta(minutes=1)).replace(second=0, microsecond=0)
            if (first - now).total_seconds() < 15:
                first += timedelta(minutes=1)
            c.execute("SELECT cron.schedule_in_database('long', '* * * * *', %s, %s, 'bgjobs_runner', true)",
                      (f"SELECT pg_sleep({LONG_SECONDS})", sandbox.DATABASE))
            c.execute("SELECT cron.schedule_in_database('tick', '* * * * *', 'SELECT 1', %s, 'bgjobs_runner', true)",
                      (sandbox.DATABASE,))
            end = first + timedelta(minutes=WINDOW)
            time.sleep(max(0.0, (end - datetime.now(timezone.utc)).total_seconds() + 20))
            rows = c.execute(
                "SELECT j.jobname, d.start_time, d.status, d.return_message FROM cron.job_run_details d "
                "JOIN cron.job j USING (jobid) ORDER BY d.start_time").fetchall()
    ticks = sorted(r[1] for r in rows if r[0] == "tick" and r[1] is not None and r[1] >= first)
    failed = [r for r in rows if r[2] == "failed"]
    due = [first + timedelta(minutes=i) for i in range(WINDOW)]
    delays, missing = [], 0
    for m in due:
        after = [t for t in ticks if t >= m and t < m + timedelta(minutes=1, seconds=LONG_SECONDS)]
        if not after:
            missing += 1
            continue
        delays.append((after[0] - m).total_seconds())
        ticks.remove(after[0])
    out[mode] = {"due": len(due), "ran": len(delays), "never_started": missing,
                 "median_delay_s": statistics.median(delays) if delays else None,
                 "max_delay_s": max(delays) if delays else None, "failed_runs": len(failed),
                 "failures": sorted({(r[3] or "")[:120] for r in failed})}


def main() -> None:
    out: dict = {}
    threads = [threading.Thread(target=measure, args=(m, out)) for m in ("bgworker", "libpq")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"pg_cron 1.4.2; job 'long' sleeps {LONG_SECONDS}s every minute, job 'tick' every minute; "
          f"{WINDOW} minutes observed")
    print(f"{'mode':<10} {'tick due':>8} {'ran':>4} {'never started':>13} {'median delay':>12} {'max delay':>9} failed runs")
    for mode in ("bgworker", "libpq"):
        r = out.get(mode)
        if r is None:
            print(f"{mode:<10} (no result)")
            continue
        fmt = lambda v: "-" if v is None else f"{v:.1f}s"
        print(f"{mode:<10} {r['due']:>8} {r['ran']:>4} {r['never_started']:>13} {fmt(r['median_delay_s']):>12} "
              f"{fmt(r['max_delay_s']):>9} {r['failed_runs']} {'; '.join(r['failures'])}")


if __name__ == "__main__":
    main()
