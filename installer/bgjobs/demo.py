"""`bgjobs demo`: the whole system on the embedded database in well under a minute.

sandbox (started, or reused) -> bgjobs install -> demo data (bgjobs.demodata; loaded once:
a second demo reuses it) -> every business job through run_job -> a per-job summary, the
job status table and the notifications the jobs queued in the outbox (rendered with the
same template code that delivers them).
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from . import demodata, install, pymodules, sandbox, status
from .db import connect
from .settings import Settings

JOBS = ("update-installment-statuses", "check-sla-and-overdue", "send-hearing-reminders",
        "check-upcoming-deadlines", "analytics-snapshot", "automation-health-check")
SEED = 2026
TENANTS = 6
TASKS_PER_TENANT = 60
SHOWN_NOTIFICATIONS = 30


def _compact(results: dict | None) -> str:
    if not results:
        return ""
    parts = []
    for key, value in results.items():
        if key == "recordsUpdated":
            continue
        if isinstance(value, list):
            names = [v["rule_name"] if isinstance(v, dict) else str(v) for v in value]
            value = f"[{', '.join(names[:3])}{', ...' if len(names) > 3 else ''}]" if names else "[]"
        parts.append(f"{key}={value}")
    return ", ".join(parts)


def main(directory: Path | None, port: int | None, report: Callable[[str], None] = print) -> None:
    started = time.monotonic()
    sb = sandbox.start(directory, port)
    report(f"sandbox: {sb.dir} on port {sb.port}")
    install.install(sb.dsn, Settings(), report=lambda line: report(f"install: {line}"))

    with connect(sb.dsn, autocommit=True) as conn:
        now = conn.execute("SELECT now()").fetchone()[0]
        counts = demodata.load(conn, tenants=TENANTS, tasks_per_tenant=TASKS_PER_TENANT, seed=SEED, as_of=now)
        if counts.pop("loaded"):
            report("demo data: " + ", ".join(f"{n} {table}" for table, n in counts.items()))
        else:
            report("demo data: already loaded (reused)")
        for name, tz in conn.execute("SELECT name, timezone FROM tenants ORDER BY name").fetchall():
            local = conn.execute("SELECT to_char(now() AT TIME ZONE %s, 'YYYY-MM-DD HH24:MI')", (tz,)).fetchone()[0]
            report(f"  tenant {name}: local time {local}")

        mark = conn.execute("SELECT clock_timestamp()").fetchone()[0]
        report("")
        report("jobs (run_job, as of now):")
        for job in JOBS:
            resp = conn.execute("SELECT run_job(%s)", (job,)).fetchone()[0]
            if resp.get("success"):
                res = resp.get("results") or {}
                report(f"  {job:<28} ok    {resp.get('executionTime', ''):>7}  "
                       f"records={res.get('recordsUpdated', 0)}  {_compact(res)}")
            else:
                report(f"  {job:<28} FAILED {resp.get('error')}")

        report("")
        report(status.render(status.fetch(sb.dsn)))

        rows = conn.execute(
            """SELECT n.channel, coalesce(n.recipient, '(ops channel)'), n.template, n.payload, t.timezone
                 FROM notifications n LEFT JOIN tenants t ON t.id = n.tenant_id
                WHERE n.created_at >= %s
                ORDER BY n.template, n.channel, n.recipient""", (mark,)).fetchall()
        total = conn.execute("SELECT count(*) FROM notifications").fetchone()[0]
        report("")
        if rows:
            by_template: dict[str, int] = {}
            for _, _, template, _, _ in rows:
                by_template[template] = by_template.get(template, 0) + 1
            report(f"notifications queued by this run: {len(rows)} "
                   f"({', '.join(f'{n} {t}' for t, n in sorted(by_template.items()))})")
            channels = pymodules.channels()
            shown = _sample(rows, SHOWN_NOTIFICATIONS)
            for channel, recipient, template, payload, tz in shown:
                payload = payload if isinstance(payload, dict) else json.loads(payload)
                subject = channels.render(template, payload, tz)["subject"]
                report(f"  {channel:<8} {recipient:<38} {template:<24} {subject}")
            if len(rows) > len(shown):
                report(f"  ... and {len(rows) - len(shown)} more")
        else:
            report(f"notifications queued by this run: none new (the outbox already holds {total}: "
                   "a repeated run queues nothing twice)")
    report("")
    report(f"demo finished in {time.monotonic() - started:.1f}s; DSN: {sb.dsn}")


def _sample(rows: list, limit: int) -> list:
    """Up to limit rows, every template represented."""
    if len(rows) <= limit:
        return rows
    per: dict[str, list] = {}
    for row in rows:
        per.setdefault(row[2], []).append(row)
    out: list = []
    while len(out) < limit and any(per.values()):
        for template in sorted(per):
            if per[template] and len(out) < limit:
                out.append(per[template].pop(0))
    return sorted(out, key=lambda r: (r[2], r[0], r[1]))
