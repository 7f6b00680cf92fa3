"""`bgjobs report --month YYYY-MM`: the seeds' monthly report (operations guide, "Monthly
Reporting"): total job executions, success and failure rates per job, average and maximum
execution times, automation rules triggered, notifications sent, anomalies detected.

The month is a calendar month in UTC, [first day 00:00, next month's first day 00:00),
as in the guide's query (``date_trunc('month', ...)`` on a UTC server).  The per-job figures
are the guide's query over audit_log's background_job_execution rows; rules triggered come
from automation_logs (executed_at), notifications sent from the outbox (sent_at), anomalies
from the analytics snapshots of the month's days (anomaly_detected).
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timezone

from psycopg.rows import dict_row

from . import output
from .db import connect
from .errors import BgjobsError

FORMATS = ("text", "markdown", "json", "csv")

JOBS = """
WITH job_stats AS (
  SELECT details->>'job_name' AS job,
         count(*) AS total_runs,
         count(*) FILTER (WHERE details->>'status' = 'success') AS successful,
         count(*) FILTER (WHERE details->>'status' = 'failed') AS failed,
         avg((details->>'execution_time_ms')::numeric) AS avg_time_ms,
         max((details->>'execution_time_ms')::numeric) AS max_time_ms
    FROM public.audit_log
   WHERE action_type = 'background_job_execution'
     AND "timestamp" >= %(start)s AND "timestamp" < %(end)s
   GROUP BY details->>'job_name'
)
SELECT job, total_runs, successful, failed,
       round(successful::numeric / total_runs * 100, 2) AS success_rate_pct,
       round(avg_time_ms, 1) AS avg_time_ms, max_time_ms
  FROM job_stats
 ORDER BY job
"""

RULES = """
SELECT rule_name, count(*) AS triggered,
       count(*) FILTER (WHERE status = 'success') AS succeeded,
       count(*) FILTER (WHERE status = 'failed') AS failed
  FROM public.automation_logs
 WHERE executed_at >= %(start)s AND executed_at < %(end)s
 GROUP BY rule_name
 ORDER BY triggered DESC, rule_name
"""

NOTIFICATIONS = """
SELECT channel,
       count(*) FILTER (WHERE status = 'sent' AND sent_at >= %(start)s AND sent_at < %(end)s) AS sent,
       count(*) FILTER (WHERE status = 'dead' AND created_at >= %(start)s AND created_at < %(end)s) AS dead
  FROM public.notifications
 WHERE (sent_at >= %(start)s AND sent_at < %(end)s) OR (created_at >= %(start)s AND created_at < %(end)s)
 GROUP BY channel
HAVING count(*) FILTER (WHERE status = 'sent' AND sent_at >= %(start)s AND sent_at < %(end)s) > 0
    OR count(*) FILTER (WHERE status = 'dead' AND created_at >= %(start)s AND created_at < %(end)s) > 0
 ORDER BY channel
"""

ANOMALIES = """
SELECT t.name AS tenant, a.snapshot_date, a.metric_type,
       coalesce((SELECT string_agg(x->>'metric', ', ' ORDER BY x->>'metric')
                   FROM jsonb_array_elements(CASE WHEN jsonb_typeof(a.metric_value->'anomalies') = 'array'
                                                  THEN a.metric_value->'anomalies' ELSE '[]' END) x), '') AS metrics
  FROM public.analytics_snapshots a
  LEFT JOIN public.tenants t ON t.id = a.tenant_id
 WHERE a.snapshot_date >= %(start)s::date AND a.snapshot_date < %(end)s::date
   AND a.metric_value->>'anomaly_detected' = 'true'
 ORDER BY a.snapshot_date, t.name
"""


def month_bounds(month: str) -> tuple[datetime, datetime]:
    m = re.fullmatch(r"(\d{4})-(\d{2})", month or "")
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise BgjobsError(f"--month: expected YYYY-MM (e.g. 2026-10), not {month!r}")
    y, mo = int(m.group(1)), int(m.group(2))
    start = datetime(y, mo, 1, tzinfo=timezone.utc)
    end = datetime(y + (mo == 12), 1 if mo == 12 else mo + 1, 1, tzinfo=timezone.utc)
    return start, end


def previous_month(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    y, m = (now.year - 1, 12) if now.month == 1 else (now.year, now.month - 1)
    return f"{y:04d}-{m:02d}"


def build(dsn: str, month: str) -> dict:
    start, end = month_bounds(month)
    p = {"start": start, "end": end}
    with connect(dsn, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('public.audit_log')").fetchone()[0] is None:
            raise BgjobsError(f"bgjobs is not installed in database {conn.info.dbname} (run bgjobs install)")
        cur = conn.cursor(row_factory=dict_row)
        jobs = cur.execute(JOBS, p).fetchall()
        rules = cur.execute(RULES, p).fetchall() if _exists(conn, "automation_logs") else []
        notes = cur.execute(NOTIFICATIONS, p).fetchall()
        anomalies = cur.execute(ANOMALIES, p).fetchall() if _exists(conn, "analytics_snapshots") else []
    total = sum(j["total_runs"] for j in jobs)
    ok = sum(j["successful"] for j in jobs)
    failed = sum(j["failed"] for j in jobs)
    return output.jsonable({
        "month": month, "start": start, "end": end,
        "totals": {"job_executions": total, "successful": ok, "failed": failed,
                   "success_rate_pct": round(ok * 100 / total, 2) if total else None,
                   "rules_triggered": sum(r["triggered"] for r in rules),
                   "notifications_sent": sum(n["sent"] for n in notes),
                   "notifications_dead": sum(n["dead"] for n in notes),
                   "anomalies": len(anomalies)},
        "jobs": jobs, "automation_rules": rules, "notifications": notes, "anomalies": anomalies,
    })


def _exists(conn, table: str) -> bool:
    return conn.execute("SELECT to_regclass(%s)", (f"public.{table}",)).fetchone()[0] is not None


# ------------------------------------------------------------------------ formats

JOB_COLS = (("job", "JOB"), ("total_runs", "RUNS"), ("successful", "OK"), ("failed", "FAILED"),
            ("success_rate_pct", "SUCCESS %"), ("avg_time_ms", "AVG MS"), ("max_time_ms", "MAX MS"))
RULE_COLS = (("rule_name", "RULE"), ("triggered", "TRIGGERED"), ("succeeded", "OK"), ("failed", "FAILED"))
NOTE_COLS = (("channel", "CHANNEL"), ("sent", "SENT"), ("dead", "DEAD"))
ANOM_COLS = (("snapshot_date", "DATE"), ("tenant", "TENANT"), ("metric_type", "SNAPSHOT"), ("metrics", "METRICS"))


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:g}" if abs(v) >= 1e-4 or v == 0 else f"{v:.6f}"
    return str(v)


def _sections(r: dict):
    t = r["totals"]
    yield ("Jobs", JOB_COLS, r["jobs"],
           f"{t['job_executions']} executions, {t['successful']} successful, {t['failed']} failed"
           + (f" ({_fmt(t['success_rate_pct'])}% success)" if t["success_rate_pct"] is not None else ""))
    yield "Automation rules triggered", RULE_COLS, r["automation_rules"], f"{t['rules_triggered']} triggered"
    yield ("Notifications sent", NOTE_COLS, r["notifications"],
           f"{t['notifications_sent']} sent, {t['notifications_dead']} given up (dead)")
    yield "Anomalies detected", ANOM_COLS, r["anomalies"], f"{t['anomalies']} analytics snapshot(s) with anomalies"


def render(r: dict, fmt: str, width: int | None = None, color: bool = False) -> str:
    if fmt == "json":
        return output.dumps(r)
    if fmt == "csv":
        return _csv(r)
    head = f"bgjobs monthly report {r['month']} ({r['start'][:10]} to {r['end'][:10]}, UTC)"
    lines = [f"# {head}" if fmt == "markdown" else head]
    for title, cols, rows, summary in _sections(r):
        lines.append("")
        lines.append(f"## {title}" if fmt == "markdown" else title.upper())
        lines.append("")
        lines.append(summary)
        if not rows:
            continue
        lines.append("")
        if fmt == "markdown":
            lines.append("| " + " | ".join(h for _, h in cols) + " |")
            lines.append("|" + "|".join(" --- " if k in ("job", "rule_name", "channel", "tenant", "metrics",
                                                          "snapshot_date", "metric_type") else " ---: "
                                        for k, _ in cols) + "|")
            for row in rows:
                lines.append("| " + " | ".join(_fmt(row[k]).replace("|", "\\|") for k, _ in cols) + " |")
        else:
            columns = [output.Column(h, justify="left" if i == 0 or k in ("tenant", "metrics", "metric_type")
                                     else "right", priority=0 if i < 2 else i) for i, (k, h) in enumerate(cols)]
            lines.append(output.render_table(columns, [[_fmt(row[k]) for k, _ in cols] for row in rows],
                                             width=width, color=color))
    return "\n".join(lines)


def _csv(r: dict) -> str:
    """Long format, one value per line: section,item,metric,value."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("month", "section", "item", "metric", "value"))
    for k, v in r["totals"].items():
        w.writerow((r["month"], "totals", "", k, "" if v is None else v))
    for section, key, rows, cols in (("jobs", "job", r["jobs"], JOB_COLS[1:]),
                                     ("automation_rules", "rule_name", r["automation_rules"], RULE_COLS[1:]),
                                     ("notifications", "channel", r["notifications"], NOTE_COLS[1:])):
        for row in rows:
            for k, _ in cols:
                w.writerow((r["month"], section, row[key], k, "" if row[k] is None else row[k]))
    for a in r["anomalies"]:
        w.writerow((r["month"], "anomalies", f"{a['tenant']} {a['snapshot_date']}", a["metric_type"], a["metrics"]))
    return buf.getvalue().rstrip("\n")
