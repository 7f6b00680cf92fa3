"""`bgjobs status`: the job_status view, as a table or JSON."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg
from psycopg.rows import dict_row

from . import output
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
    try:
        cron_db = conn.execute("SELECT current_setting('cron.database_name', true)").fetchone()[0]
    except psycopg.Error:   # a login without pg_read_all_settings (bgjobs_viewer): active stays unknown
        return
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


def _alert(r: dict, rules: bool = True) -> str:
    if r.get("alert_severity"):
        text = f"{r['alert_severity']} {','.join(r.get('alerts') or [])}" if rules else r["alert_severity"]
    else:
        text = "-"
    if r.get("silenced_until"):
        text += " (silenced)"
    return text


def _ts(ts: datetime | None) -> str:
    return "-" if ts is None else ts.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


STATE_STYLE = {"Success": "green", "Failed": "bold red", "Running": "cyan", "Abandoned": "yellow",
               "Timeout": "red", "Pending": "dim"}
HEALTH_STYLE = {"Healthy": "green", "Degraded": "yellow", "Unhealthy": "red", "No runs": "dim"}
SEVERITY_STYLE = {"CRITICAL": "bold red", "WARNING": "yellow", "INFO": "cyan"}

# Columns of the table, most important first.  priority: which go first when the terminal
# is narrow (0: never); wide_only: shown with --wide.
COLUMNS_TABLE = (
    output.Column("JOB"),
    output.Column("STATE"),
    output.Column("LAST RUN", priority=3),
    output.Column("NEXT", priority=4),
    output.Column("HEALTH", priority=5),
    output.Column("WHEN", priority=6),
    output.Column("TOOK", priority=7, justify="right"),
    output.Column("ACTIVE", priority=8),
    output.Column("RECORDS", priority=9, justify="right"),
    output.Column("PG_CRON JOB", priority=10),
    output.Column("LAST RUN AT", wide_only=True),
    output.Column("NEXT AT", wide_only=True),
    output.Column("24H OK %", wide_only=True, justify="right"),
    output.Column("P95", wide_only=True, justify="right"),
    output.Column("SILENCED UNTIL", wide_only=True),
)
ALERT_COLUMN = output.Column("ALERT", priority=2)


def render(rows: list[dict], width: int | None = None, wide: bool = False, color: bool = False) -> str:
    """The status table: fits `width` (None: no limit) unless `wide`; ANSI colour if `color`."""
    now = datetime.now(timezone.utc)
    other = [a for r in rows if r.get("job_name") is None for a in r.get("other_alerts", [])]
    rows = [r for r in rows if r.get("job_name") is not None]
    monitoring = any("alert_severity" in r for r in rows)
    columns = COLUMNS_TABLE[:2] + ((ALERT_COLUMN,) if monitoring else ()) + COLUMNS_TABLE[2:]
    fitted = None if wide else width
    table = []
    for r in rows:
        when = r["schedule"]
        if r["local_time"]:       # tenant-local: the local time, or the schedule when on some days only
            daily = not when or when.split()[2:] == ["*", "*", "*"]
            when = f"{r['local_time'].strftime('%H:%M') if daily else when} tenant-local"
        health = "-" if r["health_score"] is None else f"{r['health_score']:.0f} {r['health_label']}"
        rate = r.get("success_rate_24h")
        p95 = r.get("p95_duration_seconds")
        cells = [r["job_name"], output.styled(r["state"], STATE_STYLE.get(r["state"]) if color else None)]
        if monitoring:
            # fitted to a terminal, the cell holds the severity and a line under the table the rules
            cells.append(output.styled(_alert(r, rules=fitted is None), SEVERITY_STYLE.get(r.get("alert_severity"))
                                       if color else None))
        cells += [_ago(r["last_run_at"], now), _ago(r["next_expected_run"], now),
                  output.styled(health, HEALTH_STYLE.get(r["health_label"]) if color and r["health_score"] is not None
                                else None),
                  when, _dur(r["last_duration"]), {True: "yes", False: "no"}.get(r["active"], "?"),
                  "-" if r["last_records_updated"] is None else str(r["last_records_updated"]),
                  r["pg_cron_job"], _ts(r["last_run_at"]), _ts(r["next_expected_run"]),
                  "-" if rate is None else f"{float(rate):.1f}",
                  "-" if p95 is None else f"{float(p95):.2f}s",
                  _ts(r.get("silenced_until"))]
        table.append(cells)
    text = output.render_table(columns, table, width=width, wide=wide, color=color)
    lines = [text]
    cut = None if wide or width is None else max(20, width)

    def note(line: str) -> None:
        lines.append(line if cut is None or len(line) <= cut else line[:cut - 1] + "…")

    for r in rows:
        if fitted is not None and r.get("alert_severity"):
            note(f"  {r['job_name']}: {_alert(r)}")
        if r["state"] == "Failed" and r["last_error"]:
            note(f"  {r['job_name']}: {r['last_error'][:200]}")
    problems = sorted({r["scheduler_problem"] for r in rows if r.get("scheduler_problem")})
    for p in problems:
        note(f"  scheduler: {p}")
    for a in other:
        note(f"  {a['severity']} {a['display_name']} ({a['rule']}, since {_ago(a['since'], now)})"
             f"{' (silenced)' if a['silenced'] else ''}: {(a['summary'] or '')[:200]}")
    return "\n".join(lines)
