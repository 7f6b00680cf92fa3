"""`bgjobs status`: the job_status view, as a table or JSON."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg
from psycopg.rows import dict_row

from .db import connect
from .errors import BgjobsError

COLUMNS = ("job_name", "pg_cron_job", "schedule", "local_time", "active", "state", "last_run_at", "last_status",
           "last_duration", "last_records_updated", "health_score", "health_label", "next_expected_run", "last_error",
           "success_rate_24h", "p95_duration_seconds", "alert_severity", "alerts", "silenced_until",
           "scheduler_problem")
# Firing alerts that are not about one job (system rules, automation rules, analytics).
OTHER_ALERTS = ("SELECT display_name, rule, severity, since, summary, silenced FROM public.job_alerts "
                "WHERE state = 'firing' AND subject NOT IN (SELECT job_name FROM public.job_status)")


def fetch(dsn: str) -> list[dict]:
    with connect(dsn, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('public.job_status')").fetchone()[0] is None:
            raise BgjobsError(f"bgjobs is not installed in database {conn.info.dbname} (run bgjobs install)")
        cur = conn.cursor(row_factory=dict_row)
        rows = cur.execute(f"SELECT {', '.join(COLUMNS)} FROM public.job_status ORDER BY job_name").fetchall()
        if any(r["active"] is None for r in rows):
            _fill_active_from_cron_database(conn, rows)
        other = cur.execute(OTHER_ALERTS + " ORDER BY since, display_name, rule").fetchall()
        if other:
            rows.append({"job_name": None, "other_alerts": other})
        return rows


def _fill_active_from_cron_database(conn, rows: list[dict]) -> None:
    """pg_cron lives in another database: read its cron.job there (same credentials)."""
    cron_db = conn.execute("SELECT current_setting('cron.database_name', true)").fetchone()[0]
    if not cron_db:
        return
    try:
        with connect(conn.info.dsn, dbname=cron_db, autocommit=True, password=conn.info.password or None) as c:
            state = {r[0]: r[1] for r in c.execute(
                "SELECT jobname, active FROM cron.job WHERE database = %s", (conn.info.dbname,)).fetchall()}
    except (BgjobsError, psycopg.Error):
        return
    for r in rows:
        if r["active"] is None and r["pg_cron_job"] in state:
            r["active"] = state[r["pg_cron_job"]]


def _ago(ts: datetime | None, now: datetime) -> str:
    if ts is None:
        return "never"
    secs = (now - ts).total_seconds()
    future = secs < 0
    secs = abs(secs)
    if secs < 90:
        text = f"{secs:.0f}s"
    elif secs < 5400:
        text = f"{secs / 60:.0f}m"
    elif secs < 172800:
        text = f"{secs / 3600:.1f}h"
    else:
        text = f"{secs / 86400:.1f}d"
    return f"in {text}" if future else f"{text} ago"


def _dur(d: timedelta | None) -> str:
    if d is None:
        return "-"
    s = d.total_seconds()
    return f"{s * 1000:.0f}ms" if s < 1 else f"{s:.1f}s"


def _alert(r: dict) -> str:
    if r.get("alert_severity"):
        text = f"{r['alert_severity']} {','.join(r.get('alerts') or [])}"
    else:
        text = "-"
    if r.get("silenced_until"):
        text += " (silenced)"
    return text


def render(rows: list[dict]) -> str:
    now = datetime.now(timezone.utc)
    other = [a for r in rows if r.get("job_name") is None for a in r.get("other_alerts", [])]
    rows = [r for r in rows if r.get("job_name") is not None]
    monitoring = any("alert_severity" in r for r in rows)
    head = ("JOB", "PG_CRON JOB", "WHEN", "ACTIVE", "STATE", "LAST RUN", "TOOK", "RECORDS", "HEALTH", "NEXT")
    table = [head + (("ALERT",) if monitoring else ())]
    for r in rows:
        when = f"{r['local_time'].strftime('%H:%M')} tenant-local" if r["local_time"] else r["schedule"]
        health = "-" if r["health_score"] is None else f"{r['health_score']:.0f} {r['health_label']}"
        table.append((r["job_name"], r["pg_cron_job"], when, {True: "yes", False: "no"}.get(r["active"], "?"), r["state"],
                      _ago(r["last_run_at"], now), _dur(r["last_duration"]),
                      "-" if r["last_records_updated"] is None else str(r["last_records_updated"]),
                      health, _ago(r["next_expected_run"], now)) + ((_alert(r),) if monitoring else ()))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in table]
    for r in rows:
        if r["state"] == "Failed" and r["last_error"]:
            lines.append(f"  {r['job_name']}: {r['last_error'][:200]}")
    problems = sorted({r["scheduler_problem"] for r in rows if r.get("scheduler_problem")})
    for p in problems:
        lines.append(f"  scheduler: {p}")
    for a in other:
        lines.append(f"  {a['severity']} {a['display_name']} ({a['rule']}, since {_ago(a['since'], now)})"
                     f"{' (silenced)' if a['silenced'] else ''}: {(a['summary'] or '')[:200]}")
    return "\n".join(lines)
