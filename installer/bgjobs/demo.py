"""`bgjobs demo`: the whole system on the embedded database in well under a minute.

sandbox (started, or reused) -> bgjobs install -> demo data (bgjobs.demodata; loaded once:
a second demo reuses it) -> every registered job through run_job: the business jobs, then
deliver-notifications, then the monitoring jobs (and deliver-notifications once more for
the operational alerts they queued) -> a per-job summary, the job status table, the
notifications the jobs queued (rendered with the same template code that delivers them),
what the delivery sent and the outbox's state.

Delivery is real but stays on this machine: for the length of the demo two loopback sinks
run inside this process, with the standard library only: an HTTP server (127.0.0.1, a free
port) that accepts the POSTs of the Slack webhook and of the WhatsApp gateway, and an SMTP
sink (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) that keeps each message's subject.
The installed database is pointed at them (app_settings smtp_host, smtp_port,
whatsapp_webhook_url, alert_email_to; the SLACK_WEBHOOK_URL secret) and, at the end, set
back to what it had, so the sandbox's pg_cron delivery never calls the demo's closed ports.
"""

from __future__ import annotations

import email.parser
import email.policy
import http.server
import json
import socketserver
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from . import demodata, install, output, pymodules, sandbox, status
from .db import connect
from .settings import DEFAULTS, Settings

# Run order: business jobs, delivery, monitoring (check-job-health last: it judges the
# runs of all the others).  A registered job not named here runs with the business jobs.
BUSINESS_JOBS = ("update-installment-statuses", "check-sla-and-overdue", "send-hearing-reminders",
                 "check-upcoming-deadlines", "analytics-snapshot", "automation-health-check")
DELIVERY_JOB = "deliver-notifications"
MONITORING_JOBS = ("cron-healthcheck", "purge-old-logs", "check-job-health")
SEED = 2026
TENANTS = 6
TASKS_PER_TENANT = 60
SHOWN_NOTIFICATIONS = 14
SHOWN_SUBJECTS = 10
MAX_DELIVERY_RUNS = 12          # one run sends at most notification_batch_size (100)
OPS_ADDRESS = "ops@bgjobs-demo.example"
MARK = "/bgjobs-demo/"          # in the sinks' URLs: a leftover of an interrupted demo is recognised
SINK_SETTINGS = ("smtp_host", "smtp_port", "whatsapp_webhook_url", "alert_email_to")

Report = Callable[[str], None]


# ------------------------------------------------------------------------ loopback sinks

class HttpSink:
    """HTTP server on 127.0.0.1 (a free port, in a daemon thread) that answers every POST
    with 200 and keeps (path, JSON body): the Slack webhook and the WhatsApp gateway."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict]] = []
        self.lock = threading.Lock()
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                try:
                    length = min(int(self.headers.get("Content-Length") or 0), 10 * 1024 * 1024)
                except ValueError:
                    length = 0
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw.decode("utf-8")) if raw else {}
                except ValueError:
                    body = {"raw": raw.decode("utf-8", "replace")}
                with sink.lock:
                    sink.posts.append((self.path, body if isinstance(body, dict) else {"body": body}))
                reply = b"ok"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format, *args) -> None:  # quiet
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       name="bgjobs-demo-http", daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{MARK}{path}"

    def received(self, kind: str) -> list[dict]:
        with self.lock:
            return [body for path, body in self.posts if path.startswith(f"{MARK}{kind}")]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SmtpSink:
    """Just enough SMTP (RFC 5321: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) on
    127.0.0.1 (a free port, a thread per session) to accept mail and keep, per message,
    the envelope and the decoded Subject."""

    MAX_MESSAGE = 10 * 1024 * 1024

    def __init__(self) -> None:
        self.messages: list[dict] = []      # {"from", "to": [...], "subject"}
        self.lock = threading.Lock()
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            timeout = 30

            def reply(self, line: str) -> None:
                self.wfile.write(line.encode("ascii") + b"\r\n")

            def handle(self) -> None:
                try:
                    self.session()
                except (OSError, ValueError):
                    pass                    # the client went away or timed out

            def session(self) -> None:
                self.reply("220 bgjobs-demo ESMTP sink")
                sender, recipients = None, []
                while True:
                    line = self.rfile.readline(4096)
                    if not line:
                        return
                    command = line.decode("utf-8", "replace").strip()
                    verb, _, arg = command.partition(" ")
                    verb = verb.upper()
                    if verb == "EHLO":
                        self.wfile.write(b"250-bgjobs-demo\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
                                         b"250 SIZE %d\r\n" % sink.MAX_MESSAGE)
                    elif verb == "HELO":
                        self.reply("250 bgjobs-demo")
                    elif verb == "MAIL":
                        sender, recipients = _smtp_path(arg), []
                        self.reply("250 OK")
                    elif verb == "RCPT":
                        if sender is None:
                            self.reply("503 5.5.1 MAIL first")
                        else:
                            recipients.append(_smtp_path(arg))
                            self.reply("250 OK")
                    elif verb == "DATA":
                        if not recipients:
                            self.reply("503 5.5.1 RCPT first")
                            continue
                        self.reply("354 End data with <CR><LF>.<CR><LF>")
                        data = self.read_data()
                        if data is None:
                            return
                        sink.add(sender, recipients, data)
                        self.reply("250 OK queued")
                        sender, recipients = None, []
                    elif verb == "RSET":
                        sender, recipients = None, []
                        self.reply("250 OK")
                    elif verb == "NOOP":
                        self.reply("250 OK")
                    elif verb == "QUIT":
                        self.reply("221 Bye")
                        return
                    else:
                        self.reply("502 5.5.2 Command not implemented")

            def read_data(self) -> bytes | None:
                lines, size = [], 0
                while True:
                    line = self.rfile.readline(65536)
                    if not line:
                        return None
                    if line in (b".\r\n", b".\n"):
                        return b"".join(lines)
                    if line.startswith(b".."):
                        line = line[1:]     # dot-stuffing
                    size += len(line)
                    if size <= sink.MAX_MESSAGE:
                        lines.append(line)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       name="bgjobs-demo-smtp", daemon=True)
        self.thread.start()

    def add(self, sender: str | None, recipients: list[str], data: bytes) -> None:
        try:
            subject = str(email.parser.BytesParser(policy=email.policy.default)
                          .parsebytes(data, headersonly=True).get("Subject") or "")
        except (ValueError, TypeError, LookupError):  # a malformed message is still a message
            subject = ""
        with self.lock:
            self.messages.append({"from": sender, "to": list(recipients), "subject": " ".join(subject.split())})

    def received(self) -> list[dict]:
        with self.lock:
            return list(self.messages)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _slack_plain(text) -> str:
    """Slack's escaped text, for the terminal."""
    return str(text or "").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _smtp_path(arg: str) -> str:
    """'FROM:<a@b> SIZE=1' -> 'a@b'."""
    _, _, rest = arg.partition(":")
    rest = rest.strip()
    if rest.startswith("<"):
        return rest[1:].split(">", 1)[0]
    return rest.split(" ", 1)[0]


class Sinks:
    """Both sinks, and the installed database pointed at them; close() sets the database
    back (settings to their previous values, the Slack secret removed if the demo set it)
    and stops the sinks.  Returns the line that says so."""

    def __init__(self, conn) -> None:
        self.conn = conn
        self.http = HttpSink()
        self.smtp = SmtpSink()
        self.previous: dict[str, str | None] = {}
        self.previous_slack: str | None = None
        self.changed: dict[str, str] = {}
        self.applied = False

    def apply(self) -> None:
        conn = self.conn
        self.previous = dict(conn.execute("SELECT key, value FROM public.app_settings WHERE key = ANY(%s)",
                                          (list(SINK_SETTINGS),)).fetchall())
        self.previous_slack = conn.execute("SELECT bgjobs.get_secret('SLACK_WEBHOOK_URL')").fetchone()[0]
        # an interrupted demo (killed before it could restore) left its own values: the
        # values to go back to are then the defaults, and no Slack webhook
        if any(MARK in (v or "") for v in (*self.previous.values(), self.previous_slack)):
            self.previous = {k: DEFAULTS[k][0] for k in SINK_SETTINGS}
            if MARK in (self.previous_slack or ""):
                self.previous_slack = None
        self.changed = {"smtp_host": "127.0.0.1", "smtp_port": str(self.smtp.port),
                        "whatsapp_webhook_url": self.http.url("whatsapp")}
        if not (self.previous.get("alert_email_to") or "").strip():
            self.changed["alert_email_to"] = OPS_ADDRESS
        with conn.transaction():
            for key, value in self.changed.items():
                _set_setting(conn, key, value)
            conn.execute("SELECT public.set_secret('SLACK_WEBHOOK_URL', %s)", (self.http.url("slack/T000/B000/demo"),))
        self.applied = True

    def restore(self) -> str:
        if not self.applied:
            return ""
        conn = self.conn
        with conn.transaction():
            for key in self.changed:
                _set_setting(conn, key, self.previous.get(key))
            conn.execute("SELECT public.set_secret('SLACK_WEBHOOK_URL', %s)", (self.previous_slack,))
        self.applied = False
        host = self.previous.get("smtp_host") or DEFAULTS["smtp_host"][0]
        port = self.previous.get("smtp_port") or DEFAULTS["smtp_port"][0]
        others = " and ".join(k for k in self.changed if k not in ("smtp_host", "smtp_port"))
        slack = ("SLACK_WEBHOOK_URL removed" if self.previous_slack is None
                 else "SLACK_WEBHOOK_URL set back to its previous value")
        return (f"delivery settings restored: smtp_host={host}, smtp_port={port}, {others} as before, {slack} "
                "(the sandbox's pg_cron delivery will not call the demo's closed sink ports)")

    def close(self) -> str:
        try:
            return self.restore()
        finally:
            self.http.close()
            self.smtp.close()


def _set_setting(conn, key: str, value: str | None) -> None:
    if value is None:
        conn.execute("DELETE FROM public.app_settings WHERE key = %s", (key,))
        return
    conn.execute("INSERT INTO public.app_settings (key, value, description) VALUES (%s, %s, %s) "
                 "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now() "
                 "WHERE app_settings.value IS DISTINCT FROM EXCLUDED.value",
                 (key, value, DEFAULTS.get(key, ("", ""))[1]))


# ------------------------------------------------------------------------------- output

def _names(values: list) -> str:
    """'[a ×3, b, ...]' of a list of names or of objects naming a rule or a job."""
    names = []
    for v in values:
        if isinstance(v, dict):
            v = v.get("rule_name") or v.get("job_name") or v.get("rule") or v.get("job") or "?"
        names.append(str(v))
    counted = list(Counter(names).items())
    shown = [f"{n} ×{c}" if c > 1 else n for n, c in counted[:3]]
    return f"[{', '.join(shown)}{', ...' if len(counted) > 3 else ''}]"


def _compact(results: dict | None) -> str:
    if not results:
        return ""
    parts = []
    for key, value in results.items():
        if key == "recordsUpdated":
            continue
        if isinstance(value, list):
            value = _names(value)
        elif isinstance(value, dict):
            items = list(value.items())
            value = "{" + ", ".join(f"{k} {v}" for k, v in items[:3]) + (", ...}" if len(items) > 3 else "}")
        parts.append(f"{key}={value}")
    return ", ".join(parts)


def _line(job: str, resp: dict) -> str:
    if resp.get("success"):
        res = resp.get("results") or {}
        return (f"  {job:<28} ok    {resp.get('executionTime', ''):>7}  "
                f"records={res.get('recordsUpdated', 0)}  {_compact(res)}")
    if resp.get("skipped"):
        return f"  {job:<28} skipped (already running: a pg_cron tick of the sandbox)"
    return f"  {job:<28} FAILED {resp.get('error')}"


def _run(conn, job: str, report: Report, runs: dict) -> dict:
    resp = conn.execute("SELECT public.run_job(%s)", (job,)).fetchone()[0]
    runs.setdefault(job, []).append(resp)
    report(_line(job, resp))
    return resp


def _due(conn) -> int:
    return conn.execute("SELECT count(*) FROM public.notifications "
                        "WHERE status IN ('pending', 'failed') AND next_attempt_at <= now()").fetchone()[0]


def _deliver(conn, report: Report, runs: dict) -> None:
    """deliver-notifications until nothing is due (a run sends batches until its time budget), bounded."""
    for _ in range(MAX_DELIVERY_RUNS):
        resp = _run(conn, DELIVERY_JOB, report, runs)
        res = resp.get("results") or {}
        if resp.get("skipped"):             # pg_cron's tick is delivering (to the sinks too)
            time.sleep(0.5)
            continue
        if not resp.get("success") or not res.get("claimed"):
            return
        if not (res.get("sent", 0) + res.get("dead", 0) + res.get("retrying", 0)):
            return                          # nothing could be sent: do not spin
        if not _due(conn):
            return


def _job_order(conn) -> tuple[list[str], list[str]]:
    """(business and other jobs, monitoring jobs) among the enabled registered jobs."""
    registered = [r[0] for r in conn.execute(
        "SELECT job_name FROM bgjobs.job_registry WHERE enabled ORDER BY job_name").fetchall()]
    first = [j for j in BUSINESS_JOBS if j in registered]
    first += [j for j in registered if j not in BUSINESS_JOBS and j not in MONITORING_JOBS and j != DELIVERY_JOB]
    return first, [j for j in MONITORING_JOBS if j in registered]


def _report_sinks(sinks: Sinks, report: Report) -> dict:
    mails = sinks.smtp.received()
    slack = sinks.http.received("slack")
    whatsapp = sinks.http.received("whatsapp")
    ops = sum(1 for m in mails if OPS_ADDRESS in m["to"])
    rcpts = {a for m in mails for a in m["to"]}
    report("")
    report("delivered to the demo's loopback sinks (no external service):")
    report(f"  email     SMTP sink 127.0.0.1:{sinks.smtp.port:<6}   {len(mails):>4} message(s) to {len(rcpts)} "
           f"recipient(s)" + (f", {ops} of them operational alerts to {OPS_ADDRESS}" if ops else ""))
    report(f"  slack     HTTP sink 127.0.0.1:{sinks.http.port:<6}   {len(slack):>4} webhook post(s)")
    report(f"  whatsapp  HTTP sink 127.0.0.1:{sinks.http.port:<6}   {len(whatsapp):>4} gateway post(s)")
    # a few of them, one per kind of message (the subject up to its first ':')
    received = ([("email", m["subject"]) for m in mails]
                + [("slack", _slack_plain(b.get("text"))) for b in slack]
                + [("whatsapp", f"{b.get('to')}: {str(b.get('text') or '').splitlines()[0] if b.get('text') else ''}")
                   for b in whatsapp])
    seen, shown = set(), []
    for channel, subject in received:
        kind = (channel, subject.split(":")[0] if channel != "whatsapp" else "")
        if kind not in seen:
            seen.add(kind)
            shown.append((channel, subject))
    for channel, subject in shown[:SHOWN_SUBJECTS]:
        report(f"    {channel:<9} {subject if len(subject) <= 110 else subject[:109] + '…'}")
    if not received:
        report("  nothing was due: everything queued earlier had been delivered already (nothing is sent twice)")
    return {"smtp": len(mails), "slack": len(slack), "whatsapp": len(whatsapp),
            "subjects": [m["subject"] for m in mails]}


# --------------------------------------------------------------------------------- main

def main(directory: Path | None, port: int | None, report: Report = print) -> dict:
    """Runs the demo; returns what a caller may check: dsn, runs (job -> run_job
    responses), received (sink counts: smtp, slack, whatsapp; subjects), outbox
    (status -> count), queued (notifications queued by this demo)."""
    started = time.monotonic()
    sb = sandbox.start(directory, port)
    report(f"sandbox: {sb.dir} on port {sb.port}")
    install.install(sb.dsn, Settings(), report=lambda line: report(f"install: {line}"))
    runs: dict[str, list[dict]] = {}
    outcome: dict = {"dsn": sb.dsn, "runs": runs}

    with connect(sb.dsn, autocommit=True) as conn:
        now = conn.execute("SELECT now()").fetchone()[0]
        counts = demodata.load(conn, tenants=TENANTS, tasks_per_tenant=TASKS_PER_TENANT, seed=SEED, as_of=now)
        if counts.pop("loaded"):
            report("demo data: " + ", ".join(f"{n} {table}" for table, n in counts.items()))
        else:
            report("demo data: already loaded (reused)")
        for name, tz in conn.execute("SELECT name, timezone FROM public.tenants ORDER BY name").fetchall():
            local = conn.execute("SELECT to_char(now() AT TIME ZONE %s, 'YYYY-MM-DD HH24:MI')", (tz,)).fetchone()[0]
            report(f"  tenant {name}: local time {local}")

        first, monitoring = _job_order(conn)
        mark = conn.execute("SELECT clock_timestamp()").fetchone()[0]
        sinks = Sinks(conn)
        restored = ""
        try:
            sinks.apply()
            report("")
            report(f"delivery sinks (in this process): SMTP 127.0.0.1:{sinks.smtp.port}, "
                   f"HTTP 127.0.0.1:{sinks.http.port} as the Slack webhook and the WhatsApp gateway; "
                   f"operational alerts to {sinks.changed.get('alert_email_to') or sinks.previous.get('alert_email_to')}")
            waiting = conn.execute(
                "UPDATE public.notifications SET next_attempt_at = now() "
                "WHERE status IN ('pending', 'failed') AND next_attempt_at > now()").rowcount
            if waiting:
                report(f"  {waiting} earlier notification(s) waiting for a retry made due now (the sinks are up)")
            report("")
            report("jobs (run_job, as of now):")
            for job in first:
                _run(conn, job, report, runs)
            _deliver(conn, report, runs)
            for job in monitoring:
                _run(conn, job, report, runs)
            if _due(conn):              # the operational alerts the monitoring jobs queued
                _deliver(conn, report, runs)
        finally:
            restored = sinks.close()    # what the sinks received stays readable

        report("")
        report(status.render(status.fetch(sb.dsn), width=output.width_for()))

        rows = conn.execute(
            """SELECT n.channel, coalesce(n.recipient, '(ops channel)'), n.template, n.payload, t.timezone, n.status
                 FROM public.notifications n LEFT JOIN public.tenants t ON t.id = n.tenant_id
                WHERE n.created_at >= %s
                ORDER BY n.template, n.channel, n.recipient""", (mark,)).fetchall()
        total = conn.execute("SELECT count(*) FROM public.notifications").fetchone()[0]
        outcome["queued"] = len(rows)
        report("")
        if rows:
            by_template = Counter(row[2] for row in rows)
            report(f"notifications queued by this run: {len(rows)} "
                   f"({', '.join(f'{n} {t}' for t, n in sorted(by_template.items()))})")
            channels = pymodules.channels()
            shown = _sample(rows, SHOWN_NOTIFICATIONS)
            for channel, recipient, template, payload, tz, state in shown:
                payload = payload if isinstance(payload, dict) else json.loads(payload)
                subject = channels.render(template, payload, tz)["subject"]
                report(f"  {state:<7} {channel:<8} {recipient:<34} {template:<23} {subject}")
            if len(rows) > len(shown):
                report(f"  ... and {len(rows) - len(shown)} more")
        else:
            report(f"notifications queued by this run: none new (the outbox already holds {total}: "
                   "a repeated run queues nothing twice)")

        outcome["received"] = _report_sinks(sinks, report)
        by_status = dict(conn.execute("SELECT status, count(*) FROM public.notifications GROUP BY 1 ORDER BY 2 DESC").fetchall())
        by_channel = conn.execute("SELECT channel, status, count(*) FROM public.notifications "
                                  "GROUP BY 1, 2 ORDER BY 1, 3 DESC").fetchall()
        outcome["outbox"] = by_status
        report("")
        report("outbox: " + (", ".join(f"{n} {s}" for s, n in by_status.items()) or "empty")
               + ("  (" + "; ".join(f"{c} {n} {s}" for c, s, n in by_channel) + ")" if by_channel else ""))
        if restored:
            report(restored)
    report("")
    report(f"demo finished in {time.monotonic() - started:.1f}s")
    for line in still_running(sb, conn_jobs(sb)):
        report(line)
    return outcome


def conn_jobs(sb) -> list[str]:
    """The sandbox's active pg_cron jobs, 'name (schedule)'."""
    try:
        with connect(sb.dsn, autocommit=True) as conn:
            return [f"{n} ({s})" for n, s in conn.execute(
                "SELECT jobname, schedule FROM cron.job WHERE active AND database = current_database() "
                "ORDER BY jobname").fetchall()]
    except Exception:   # noqa: BLE001 - only a hint in the closing lines
        return []


def still_running(sb, jobs: list[str]) -> list[str]:
    """The demo's closing lines: what keeps running, how to reach it, how to stop it; never
    the password (it stays in the sandbox's state file, readable only by its owner)."""
    d = str(sb.dir)
    quoted = f"'{d}'" if any(c.isspace() for c in d) else d
    lines = ["", f"still running: the sandbox PostgreSQL in {d}, on 127.0.0.1:{sb.port}"]
    if jobs:
        every_minute = [j.split(" (")[0] for j in jobs if j.endswith("(* * * * *)")]
        lines.append(f"  with pg_cron ticking {len(jobs)} job(s) on their schedules"
                     + (f" ({', '.join(every_minute)} every minute)" if every_minute else "")
                     + "; bgjobs status shows when each runs next")
        lines.append("  (the demo's loopback sinks are closed: what the jobs queue from now on waits in the outbox "
                     "until delivery settings are real)")
    lines += [(f"  connect: psql 'postgresql://{sandbox.SUPERUSER}@127.0.0.1:{sb.port}/{sandbox.DATABASE}' "
               f"(the password is in {sandbox._state_file(sb.dir)}, readable only by you; "
               f"bgjobs sandbox status --dir {quoted} prints the full DSN)"),
              f"  look:    bgjobs status --dsn \"$(bgjobs sandbox status --dir {quoted} | tail -1)\"",
              f"  stop it: bgjobs sandbox stop --dir {quoted}"]
    return lines


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
