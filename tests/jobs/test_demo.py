"""`bgjobs demo` end to end on a sandbox of its own: every registered job runs, the outbox
is delivered to the demo's loopback sinks (SMTP and HTTP, standard library only), the
delivery settings are set back afterwards, and a second demo repeats nothing."""

from __future__ import annotations

import json
import shutil
import smtplib
import tempfile
import time
import urllib.request
from email.message import EmailMessage
from pathlib import Path

import psycopg
from bgjobs import demo, sandbox
from bgjobs.registry import JOBS


def test_demo_runs_every_job_and_delivers_to_loopback_sinks():
    d = Path(tempfile.mkdtemp(prefix="bgjobs-demo-", dir="/tmp"))
    lines: list[str] = []
    try:
        started = time.monotonic()
        out = demo.main(d, sandbox.free_port(), report=lines.append)
        took = time.monotonic() - started
        text = "\n".join(lines)
        assert took < 30, text

        with psycopg.connect(out["dsn"], autocommit=True) as c:
            registered = {r[0] for r in c.execute("SELECT job_name FROM bgjobs.job_registry WHERE enabled")}
            assert registered == {j.name for j in JOBS if j.enabled}
            logged = {r[0] for r in c.execute("SELECT job_name FROM jobs_log")}
            assert registered <= logged, registered - logged
            assert c.execute("SELECT job_name, status, error_message FROM jobs_log "
                             "WHERE status NOT IN ('success', 'skipped')").fetchall() == []
            sent = dict(c.execute("SELECT channel, count(*) FROM notifications WHERE status = 'sent' "
                                  "GROUP BY 1").fetchall())
            assert sent.get("email", 0) > 0 and sent.get("slack", 0) > 0 and sent.get("whatsapp", 0) > 0, sent
            assert c.execute("SELECT count(*) FROM notifications WHERE status IN ('pending', 'failed', 'dead')"
                             ).fetchone()[0] == 0
            # the delivery settings are back: nothing points at the sinks' closed ports
            settings = dict(c.execute("SELECT key, value FROM app_settings WHERE key IN "
                                      "('smtp_host', 'smtp_port', 'whatsapp_webhook_url', 'alert_email_to')"))
            assert settings == {"smtp_host": "localhost", "smtp_port": "25", "whatsapp_webhook_url": "",
                                "alert_email_to": ""}
            assert c.execute("SELECT bgjobs.get_secret('SLACK_WEBHOOK_URL')").fetchone()[0] is None
            total = c.execute("SELECT count(*) FROM notifications").fetchone()[0]

        # the order: business jobs, deliver-notifications, monitoring (check-job-health last)
        order = [ln.split()[0] for ln in lines[lines.index("jobs (run_job, as of now):") + 1:] if ln.startswith("  ")
                 and ln.split()[0] in registered]
        first_delivery = order.index("deliver-notifications")
        assert set(order[:first_delivery]) == set(demo.BUSINESS_JOBS)
        assert [j for j in order[first_delivery:] if j != "deliver-notifications"] == list(demo.MONITORING_JOBS)

        # what the sinks received is what the outbox says was sent
        received = out["received"]
        assert received["smtp"] == sent["email"]
        assert received["slack"] == sent["slack"] and received["whatsapp"] == sent["whatsapp"]
        assert any(s.startswith("Task overdue: ") for s in received["subjects"])       # automation_notification
        assert any(s.startswith("Hearing Reminder: ") for s in received["subjects"])
        assert "delivered to the demo's loopback sinks" in text
        assert "delivery settings restored" in text and "SLACK_WEBHOOK_URL removed" in text

        # a second demo reuses sandbox and data, queues and sends nothing twice
        again_lines: list[str] = []
        again = demo.main(d, None, report=again_lines.append)
        assert "demo data: already loaded (reused)" in again_lines
        assert again["queued"] == 0
        assert again["received"]["smtp"] == 0 and again["received"]["slack"] == 0
        with psycopg.connect(again["dsn"], autocommit=True) as c:
            assert c.execute("SELECT count(*) FROM notifications").fetchone()[0] == total
            assert c.execute("SELECT bgjobs.get_secret('SLACK_WEBHOOK_URL')").fetchone()[0] is None
    finally:
        sandbox.stop(d)
        shutil.rmtree(d, ignore_errors=True)


def test_sinks_speak_enough_smtp_and_http():
    smtp, web = demo.SmtpSink(), demo.HttpSink()
    try:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "a@x.example", "b@x.example", "Fällig: Frist ✓"
        msg.set_content("line one\n.starts with a dot\n")
        with smtplib.SMTP("127.0.0.1", smtp.port, timeout=5) as s:
            assert s.noop()[0] == 250
            s.send_message(msg)
            s.mail("c@x.example")
            assert s.rset()[0] == 250
            assert s.docmd("DATA")[0] == 503             # no recipient after RSET
            s.send_message(msg, to_addrs=["d@x.example", "e@x.example"])
        got = smtp.received()
        assert [m["subject"] for m in got] == ["Fällig: Frist ✓"] * 2
        assert got[1]["to"] == ["d@x.example", "e@x.example"] and got[0]["from"] == "a@x.example"

        req = urllib.request.Request(web.url("slack/T/B/x"), data=json.dumps({"text": "hi"}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.status == 200
        assert web.received("slack") == [{"text": "hi"}] and web.received("whatsapp") == []
    finally:
        smtp.close()
        web.close()
