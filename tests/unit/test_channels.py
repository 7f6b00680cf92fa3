"""bgjobs_channels against real loopback sinks: pytest-httpserver and aiosmtpd."""

import json
import re
import select
import socket
import threading
import time
import types
from pathlib import Path

import bgjobs_app_templates
import bgjobs_channels as channels
import pytest
from bgjobs_channels import MAX_ATTEMPTS, Outcome, Sender, backoff_seconds, render
from pytest_httpserver import HTTPServer
from werkzeug.wrappers import Response

FAILURE = {"job_name": "update-installment-statuses",
           "error_message": "Connection timeout after 3 retries",
           "alert_time": "2025-11-13T02:05:00Z"}


def smtp_config(server, **extra):
    return {"smtp_host": "127.0.0.1", "smtp_port": str(server.port),
            "alert_email_from": "alerts@bgjobs.test", **extra}


# ------------------------------------------------------------------------- rendering

def test_job_failure_renders_the_seed_formats():
    message = render("job_failure", FAILURE)
    assert message["subject"] == "ALERT: Job Failed - update-installment-statuses"
    assert message["slack"] == {
        "text": "🚨 Job Failed: update-installment-statuses",
        "blocks": [{"type": "section", "text": {
            "type": "mrkdwn",
            "text": "*Error:* Connection timeout after 3 retries\n*Time:* 2025-11-13T02:05:00Z"}}],
    }
    assert message["text"].splitlines() == [
        "🚨 Job Failed: update-installment-statuses",
        "Job Name: update-installment-statuses",
        "Error: Connection timeout after 3 retries",
        "Time: 2025-11-13T02:05:00Z",
    ]
    assert "<h2>🚨 Job Failed: update-installment-statuses</h2>" in message["html"]


def test_slack_text_is_escaped_and_html_is_escaped():
    message = render("job_failure", dict(FAILURE, error_message="x < 1 & <@U123>"))
    section = message["slack"]["blocks"][0]["text"]["text"]
    assert section.startswith("*Error:* x &lt; 1 &amp; &lt;@U123&gt;\n")
    assert "x &lt; 1 &amp; &lt;@U123&gt;" in message["html"]
    assert "<@U123>" not in message["html"]


def test_job_alert_subject_text_and_slack():
    message = render("job_alert", {
        "job_name": "send-hearing-reminders", "severity": "CRITICAL", "rule": "missed_run",
        "summary": "No run since 08:00 IST", "details": {"expected_at": "2026-03-09T02:30:00Z",
                                                         "last_run": None},
        "alert_time": "2026-03-09T03:00:00Z", "repeat": False})
    assert message["subject"] == "[CRITICAL] bgjobs: send-hearing-reminders — missed run"
    text = message["text"]
    assert text.startswith("🚨 [CRITICAL] bgjobs: send-hearing-reminders — missed run\n")
    assert "No run since 08:00 IST" in text
    assert "  expected_at: 2026-03-09T02:30:00Z" in text and "  last_run: -" in text
    assert message["slack"]["text"] == "🚨 [CRITICAL] bgjobs: send-hearing-reminders — missed run"
    section = message["slack"]["blocks"][0]["text"]["text"]
    assert "*Summary:* No run since 08:00 IST" in section
    assert "*expected_at:* 2026-03-09T02:30:00Z" in section   # snake_case stays as it is


@pytest.mark.parametrize("rule,label", [
    ("stale_heartbeat", "stale heartbeat"), ("consecutive_failures", "consecutive failures"),
    ("slow_run", "slow run"), ("no_jobs_24h", "no jobs in 24 hours"),
    ("low_success_rate", "low success rate"), ("delivery_rate", "notification delivery rate"),
    ("rule_storm", "automation rule storm"), ("analytics_anomaly", "analytics anomaly"),
    ("brand_new_rule", "brand new rule")])
def test_job_alert_rule_labels(rule, label):
    message = render("job_alert", {"job_name": "j", "severity": "WARNING", "rule": rule,
                                   "summary": "s", "details": {}, "repeat": True})
    assert message["subject"] == f"[WARNING] bgjobs: j — {label} (repeat)"
    assert message["text"].startswith("⚠️ [WARNING]")


def test_job_alert_time_in_requested_zone():
    message = render("job_alert", {"job_name": "j", "severity": "INFO", "rule": "slow_run",
                                   "summary": "s", "alert_time": "2026-03-09T03:00:00Z"},
                     tz_name="America/New_York")
    assert "Time: 2026-03-08 23:00 EDT" in message["text"]


def test_alert_resolved():
    message = render("alert_resolved", {"job_name": "check-job-health", "rule": "stale_heartbeat",
                                        "summary": "Heartbeat is back",
                                        "resolved_at": "2026-03-09T03:00:00Z"})
    assert message["subject"] == "[RESOLVED] bgjobs: check-job-health — stale heartbeat"
    assert "Heartbeat is back" in message["text"]
    assert "Resolved at: 2026-03-09T03:00:00Z" in message["text"]
    assert message["slack"]["text"].startswith("✅ [RESOLVED]")


def test_hearing_reminder_in_tenant_time_zone():
    message = render("hearing_reminder", {
        "case_number": "GST-2024-0123", "case_title": "ABC Traders v. State",
        "court_name": "GSTAT Ahmedabad", "court_city": "Ahmedabad",
        "hearing_at": "2026-03-09T05:00:00+00:00", "tenant_timezone": "Asia/Kolkata",
        "recipient_name": "Asha Mehta"})
    assert message["subject"] == "Hearing Reminder: GST-2024-0123 - GSTAT Ahmedabad"
    lines = message["text"].splitlines()
    assert "Dear Asha Mehta," in lines
    assert "Case: GST-2024-0123 - ABC Traders v. State" in lines
    assert "Court: GSTAT Ahmedabad, Ahmedabad" in lines
    assert "Date: Monday, 9 March 2026" in lines
    assert "Time: 10:30 AM IST (Asia/Kolkata)" in lines
    checklist = lines[lines.index("Preparation checklist:") + 1:]
    assert len(checklist) >= 3 and all(line.startswith("• ") for line in checklist)
    assert "<li>" in message["html"]


def test_unknown_zone_falls_back_to_labelled_utc():
    message = render("hearing_reminder", {"case_number": "C-1", "court_name": "HC",
                                          "hearing_at": "2026-03-09T05:00:00Z",
                                          "tenant_timezone": "Mars/Olympus"})
    assert "Time: 5:00 AM UTC (UTC)" in message["text"]


def test_hearing_reminder_crossing_midnight_in_a_far_zone():
    message = render("hearing_reminder", {
        "case_number": "C-1", "case_title": "t", "court_name": "High Court", "court_city": "X",
        "hearing_at": "2026-03-08T20:00:00Z", "tenant_timezone": "Pacific/Kiritimati"})
    assert "Date: Monday, 9 March 2026" in message["text"]
    assert "Time: 10:00 AM +14 (Pacific/Kiritimati)" in message["text"]


DIGEST = {
    "user_name": "Asha", "timezone": "Asia/Kolkata", "as_of": "2026-03-09T03:30:00Z",
    "items": [
        {"kind": "Task", "title": "Prepare hearing documents for Case #456",
         "due_at": "2026-03-10T08:30:00Z", "priority": "Medium", "high": False},
        {"kind": "Hearing", "title": "GST Appeal #2024-0123 at GSTAT Ahmedabad",
         "due_at": "2026-03-10T05:00:00Z", "priority": None, "high": True},
        {"kind": "Task", "title": "Submit Reply to ASMT-10 Notice",
         "due_at": "2026-03-09T11:30:00Z", "priority": "Critical", "high": True},
    ],
}


def test_deadline_digest_matches_the_seed_format():
    message = render("deadline_digest", DIGEST)
    assert message["text"].splitlines()[:8] == [
        "📋 Your Upcoming Deadlines (Next 24 Hours)",
        "",
        "HIGH PRIORITY:",
        "• [Task] Submit Reply to ASMT-10 Notice - Due: Today 5:00 PM",
        "• [Hearing] GST Appeal #2024-0123 at GSTAT Ahmedabad - Tomorrow 10:30 AM",
        "",
        "NORMAL PRIORITY:",
        "• [Task] Prepare hearing documents for Case #456 - Due: Tomorrow 2:00 PM",
    ]
    assert message["subject"] == ("Your Upcoming Deadlines (Next 24 Hours): 3 items, "
                                  "2 high priority")
    assert message["slack"] == {"text": message["text"]}


def test_deadline_digest_relative_days_follow_the_users_zone():
    # 23:30 UTC on the 8th is already the 9th in Kolkata (05:00 IST).
    payload = {"user_name": "A", "timezone": "Asia/Kolkata", "as_of": "2026-03-08T23:30:00Z",
               "items": [{"kind": "Task", "title": "late", "due_at": "2026-03-09T18:29:00Z",
                          "priority": "Low", "high": False},
                         {"kind": "Task", "title": "early", "due_at": "2026-03-09T01:00:00Z",
                          "priority": "Low", "high": False}]}
    lines = render("deadline_digest", payload)["text"].splitlines()
    assert "HIGH PRIORITY:" not in lines
    normal = lines[lines.index("NORMAL PRIORITY:") + 1:][:2]
    assert normal == ["• [Task] early - Due: Today 6:30 AM",
                      "• [Task] late - Due: Today 11:59 PM"]
    # The same instants seen from UTC: still the 8th, so both are "Tomorrow".
    payload["timezone"] = "UTC"
    lines = render("deadline_digest", payload)["text"].splitlines()
    assert "• [Task] early - Due: Tomorrow 1:00 AM" in lines
    assert "• [Task] late - Due: Tomorrow 6:29 PM" in lines


def test_deadline_digest_only_high_and_empty():
    payload = dict(DIGEST, items=[DIGEST["items"][1]])
    lines = render("deadline_digest", payload)["text"].splitlines()
    assert "HIGH PRIORITY:" in lines and "NORMAL PRIORITY:" not in lines
    empty = render("deadline_digest", dict(DIGEST, items=[]))
    assert "HIGH PRIORITY:" not in empty["text"] and "NORMAL PRIORITY:" not in empty["text"]
    assert empty["subject"].endswith(": 0 items")


def test_automation_health():
    message = render("automation_health", {
        "severity": "CRITICAL",
        "findings": [{"level": "critical", "message": "Rule Auto-assign fails 35% of runs"},
                     {"level": "warning", "message": "Rule Escalate inactive for 72 h"}],
        "metrics": {"total_executions": 120, "success_rate": 0.91}})
    assert message["subject"] == "[CRITICAL] bgjobs: automation health check"
    assert "• [CRITICAL] Rule Auto-assign fails 35% of runs" in message["text"]
    assert "• [WARNING] Rule Escalate inactive for 72 h" in message["text"]
    assert "  success_rate: 0.91" in message["text"]
    assert "Rule Auto-assign" in message["slack"]["blocks"][0]["text"]["text"]


def test_automation_notification_from_fire_automation_events_payload():
    # the payload bgjobs_app.fire_automation_events queues for a rule's notify action
    payload = {"rule_name": "Notify assignee of overdue task", "event": "task_overdue",
               "entity_type": "task", "entity_id": "015f8fa9-b2a3-4da6-840d-fa4054f4117d",
               "title": "Draft written submissions #24", "recipient_name": "Neha Joshi",
               "automation_log_id": "5fbbe5a1-035a-4921-b1d0-3abf5f366bec",
               "details": {"task_id": "015f8fa9-b2a3-4da6-840d-fa4054f4117d", "case_id": "e945",
                           "priority": "High", "days_overdue": 7}}
    message = render("automation_notification", json.dumps(payload), "Asia/Kolkata")
    assert message["subject"] == "Task overdue: Draft written submissions #24 (7 days overdue)"
    text = message["text"]
    assert "Dear Neha Joshi," in text
    assert 'automation rule "Notify assignee of overdue task"' in text
    assert "• Priority: High" in text and "• Overdue by: 7 days" in text
    assert "Event: task_overdue" in text and "Reference: 5fbbe5a1-" in text
    assert "e945" not in text                       # ids stay out of the body
    assert "<li>Priority: High</li>" in message["html"]
    assert message["slack"]["text"] == message["subject"]

    sla = render("automation_notification", dict(
        payload, event="sla_violation", rule_name="Escalate SLA breach",
        details={"priority": "Critical", "sla_threshold": "2026-03-08T02:00:00+00:00",
                 "actual_time": "2026-03-08T06:00:00Z"}), "Asia/Kolkata")
    assert sla["subject"] == "SLA breached: Draft written submissions #24"
    assert "• SLA deadline: 2026-03-08 07:30 IST" in sla["text"]

    hearing = render("automation_notification", {
        "rule_name": "Deadline reminder to assignee", "event": "deadline_approaching",
        "entity_type": "hearing", "title": "GST/2024/0004-0003",
        "details": {"entity_type": "hearing", "hours_until_due": 2.58}})
    assert hearing["subject"] == "Deadline approaching: hearing in GST/2024/0004-0003 (due in 2.6 hours)"
    assert "• Case: GST/2024/0004-0003" in hearing["text"]
    soon = render("automation_notification", {"event": "deadline_approaching", "title": "T",
                                               "details": {"hours_until_due": "0.5"}})
    assert soon["subject"] == "Deadline approaching: T (due in 30 minutes)"


@pytest.mark.parametrize("payload", [
    {}, None, "not json", {"details": "x"}, {"details": [1, 2]}, {"details": None},
    {"event": 5, "title": None, "rule_name": ["r"], "entity_type": {"a": 1}},
    {"details": {"days_overdue": "many", "hours_until_due": "soon", "sla_threshold": "later"}},
    {"event": "case_review_due", "rule_name": "Weekly case review", "title": "a\nb"},
])
def test_automation_notification_never_raises_on_missing_or_odd_keys(payload):
    message = render("automation_notification", payload, "Nowhere/X")
    assert set(message) == {"subject", "text", "html", "slack"}
    assert message["subject"] and "\n" not in message["subject"]
    assert "rendered generically" not in message["text"]


def test_unknown_template_and_bad_payloads_never_raise():
    message = render("brand_new", {"a": 1, "b": {"c": [1, 2]}})
    assert message["subject"] == "brand_new"
    assert "a: 1" in message["text"] and 'b: {"c": [1, 2]}' in message["text"]
    # jsonb reaches PL/Python as text
    assert render("job_failure", json.dumps(FAILURE)) == render("job_failure", FAILURE)
    for template, payload in [("job_alert", {"details": 5}), ("deadline_digest", "not json"),
                              ("hearing_reminder", {"hearing_at": "soon",
                                                    "tenant_timezone": "Nowhere/X"}),
                              ("automation_health", {"findings": "x"}), (None, None),
                              ("job_failure", {"job_name": "a\nb"})]:
        message = render(template, payload)
        assert set(message) == {"subject", "text", "html", "slack"}
        assert "\n" not in message["subject"]


def test_backoff_is_capped_and_safe():
    assert [backoff_seconds(n) for n in range(1, 9)] == [30, 60, 120, 240, 480, 960, 1920, 3600]
    assert backoff_seconds(0) == 30
    assert backoff_seconds(10 ** 6) == 3600
    assert backoff_seconds(3, base=10, cap=25) == 25
    assert MAX_ATTEMPTS == 8


# -------------------------------------------------------------------------- HTTP sends

def test_slack_message_arrives_in_the_seed_format(httpserver):
    httpserver.expect_oneshot_request("/services/T0/B0/xyz", method="POST").respond_with_data("ok")
    message = render("job_failure", FAILURE)
    with Sender({"slack_webhook_url": httpserver.url_for("/services/T0/B0/xyz")}) as sender:
        outcome = sender.send("slack", "", message)
    assert outcome == Outcome(True, False, None, 200)
    (request, _), = httpserver.log
    assert request.headers["Content-Type"] == "application/json"
    assert request.get_json() == {
        "text": "🚨 Job Failed: update-installment-statuses",
        "blocks": [{"type": "section", "text": {
            "type": "mrkdwn",
            "text": "*Error:* Connection timeout after 3 retries\n*Time:* 2025-11-13T02:05:00Z"}}]}


def test_slack_recipient_url_overrides_the_default(httpserver):
    httpserver.expect_oneshot_request("/other", method="POST").respond_with_data("ok")
    with Sender({"slack_webhook_url": httpserver.url_for("/default")}) as sender:
        assert sender.send("slack", httpserver.url_for("/other"), render("x", {})).ok
    httpserver.check_assertions()


def test_webhook_500_then_200(httpserver):
    httpserver.expect_ordered_request("/hook", method="POST").respond_with_data("boom", status=500)
    httpserver.expect_ordered_request("/hook", method="POST").respond_with_data("ok", status=200)
    message = render("job_alert", {"job_name": "j", "severity": "WARNING", "rule": "slow_run",
                                   "summary": "slow"})
    with Sender({"webhook_url": httpserver.url_for("/hook")}) as sender:
        first = sender.send("webhook", "", message)
        second = sender.send("webhook", "", message)
    assert (first.ok, first.permanent, first.status) == (False, False, 500)
    assert "HTTP 500" in first.error
    assert second == Outcome(True, False, None, 200)
    httpserver.check_assertions()
    body = httpserver.log[-1][0].get_json()
    assert body["subject"] == message["subject"] and body["text"] == message["text"]


@pytest.mark.parametrize("status,permanent", [(404, True), (410, True), (400, True), (401, True),
                                              (403, True), (408, False), (425, False),
                                              (429, False), (502, False), (503, False)])
def test_http_status_classification(httpserver, status, permanent):
    httpserver.expect_oneshot_request("/hook").respond_with_data("no", status=status)
    with Sender({"webhook_url": httpserver.url_for("/hook")}) as sender:
        outcome = sender.send("webhook", "", render("x", {}))
    assert (outcome.ok, outcome.permanent, outcome.status) == (False, permanent, status)


def test_redirect_is_not_followed(httpserver):
    httpserver.expect_request("/hook").respond_with_data(
        "", status=302, headers={"Location": httpserver.url_for("/elsewhere")})
    with Sender({"webhook_url": httpserver.url_for("/hook")}) as sender:
        outcome = sender.send("webhook", "", render("x", {}))
    assert (outcome.ok, outcome.permanent, outcome.status) == (False, True, 302)
    assert [req.path for req, _ in httpserver.log] == ["/hook"]


def test_timeout_is_transient():
    server = HTTPServer(host="127.0.0.1", threaded=True)
    server.expect_request("/slow").respond_with_handler(
        lambda request: (time.sleep(2), Response("late"))[1])
    server.start()
    try:
        with Sender({"webhook_url": server.url_for("/slow"), "timeout_seconds": "1"}) as sender:
            outcome = sender.send("webhook", "", render("x", {}))
    finally:
        server.clear()
        server.stop()
    assert (outcome.ok, outcome.permanent) == (False, False)
    assert "timed out (no complete answer within 1 s)" in outcome.error


def test_timeout_is_capped_at_ten_seconds():
    assert Sender({"timeout_seconds": "3600"}).timeout == 10
    assert Sender({}).timeout == 10
    assert Sender({"timeout_seconds": "nonsense"}).timeout == 10


def test_refused_connection_is_transient(closed_port):
    with Sender({"webhook_url": f"http://127.0.0.1:{closed_port}/hook"}) as sender:
        outcome = sender.send("webhook", "", render("x", {}))
    assert (outcome.ok, outcome.permanent) == (False, False)
    assert "connection refused" in outcome.error


def test_dns_failure_is_transient():
    with Sender({"webhook_url": "http://no-such-host.invalid/hook"}) as sender:
        outcome = sender.send("webhook", "", render("x", {}))
    assert (outcome.ok, outcome.permanent) == (False, False)


@pytest.mark.parametrize("channel,error", [
    ("slack", "slack webhook not configured"), ("webhook", "webhook url not configured"),
    ("whatsapp", "whatsapp webhook not configured")])
def test_unconfigured_channel_is_permanent(channel, error):
    outcome = Sender({}).send(channel, "+919800000000" if channel == "whatsapp" else "",
                              render("x", {}))
    assert outcome == Outcome(False, True, error, None)


def test_unknown_channel_and_non_http_destination_are_permanent():
    assert Sender({}).send("pigeon", "x", render("x", {})).permanent
    sender = Sender({"slack_webhook_url": "ftp://example.com/x"})
    outcome = sender.send("slack", "", render("x", {}))
    assert outcome.permanent and "not an http(s) URL" in outcome.error


def test_whatsapp_posts_to_and_text(httpserver):
    httpserver.expect_oneshot_request("/wa", method="POST").respond_with_json({"id": 1}, status=201)
    message = render("hearing_reminder", {"case_number": "C-1", "court_name": "HC",
                                          "hearing_at": "2026-03-09T05:00:00Z"})
    with Sender({"whatsapp_webhook_url": httpserver.url_for("/wa")}) as sender:
        outcome = sender.send("whatsapp", "+919800000000", message)
    assert outcome == Outcome(True, False, None, 201)
    assert httpserver.log[0][0].get_json() == {"to": "+919800000000", "text": message["text"]}


SECRET_PATH = "/services/T0SECRET/B0SECRET/hunter2-webhook-token"
SECRET_KEY = "re_SuperSecretKey_1234567890"


def echo_everything(request):
    """A hostile server that echoes the URL and the Authorization header back.
    The first path segment picks the status: /s404/... answers 404."""
    status = int(request.path.split("/")[1][1:])
    return Response(f"bad request to {request.url} with {request.headers.get('Authorization')} "
                    f"path {request.path}", status=status)


@pytest.mark.parametrize("status", [500, 404])
def test_errors_never_leak_secrets(httpserver, closed_port, status):
    httpserver.expect_request(re.compile("/s[0-9]+/.*")).respond_with_handler(echo_everything)
    url = httpserver.url_for(f"/s{status}{SECRET_PATH}") + "?token=qs-secret-value"
    outcomes = []
    with Sender({"slack_webhook_url": url}) as sender:
        outcomes.append(sender.send("slack", "", render("job_failure", FAILURE)))
    with Sender({}) as sender:  # the URL given as the recipient is a secret too
        outcomes.append(sender.send("webhook", url, render("x", {})))
    with Sender({"slack_webhook_url": f"http://127.0.0.1:{closed_port}{SECRET_PATH}"}) as sender:
        outcomes.append(sender.send("slack", "", render("x", {})))
    with Sender({"email_transport": "resend", "resend_api_key": SECRET_KEY,
                 "resend_from": "a@b.test",
                 "resend_base_url": httpserver.url_for(f"/s{status}")}) as sender:
        outcomes.append(sender.send("email", "x@y.test", render("x", {})))
    assert len(httpserver.log) == 3  # the refused one never arrived
    assert SECRET_KEY in httpserver.log[2][0].headers["Authorization"]
    for outcome in outcomes:
        assert not outcome.ok and outcome.error
        assert outcome.permanent is (status == 404 and outcome is not outcomes[2])
        for secret in ("T0SECRET", "B0SECRET", "hunter2", "qs-secret-value", "pa55word",
                       SECRET_KEY, "SuperSecret"):
            assert secret not in outcome.error, outcome.error
    # scheme://host:port and the status with its standard reason: nothing the receiver echoed
    origin = f"http://{httpserver.host}:{httpserver.port}"
    reason = {500: "Internal Server Error", 404: "Not Found"}[status]
    assert outcomes[0].error == f"slack: HTTP {status} {reason} from {origin}"
    assert outcomes[1].error == f"webhook: HTTP {status} {reason} from {origin}"
    assert outcomes[2].error == f"slack: connection refused (http://127.0.0.1:{closed_port})"
    assert outcomes[3].error == f"resend: HTTP {status} {reason} from {origin}"
    with Sender({"webhook_url": f"https://user:pa55word@bad host{SECRET_PATH}"}) as sender:
        odd = sender.send("webhook", "", render("x", {}))
    assert not odd.ok and "pa55word" not in odd.error and "hunter2" not in odd.error


def test_resend_api(httpserver):
    httpserver.expect_oneshot_request(
        "/emails", method="POST", headers={"Authorization": "Bearer re_test_key"},
    ).respond_with_json({"id": "4ef9a417"})
    message = render("hearing_reminder", {"case_number": "C-7", "court_name": "District Court",
                                          "hearing_at": "2026-03-09T05:00:00Z",
                                          "tenant_timezone": "Asia/Kolkata"})
    config = {"email_transport": "resend", "resend_api_key": "re_test_key",
              "resend_from": "Reminders <reminders@bgjobs.test>",
              "resend_base_url": httpserver.url_for("/")}
    with Sender(config) as sender:
        outcome = sender.send("email", "advocate@firm.test", message)
    assert outcome == Outcome(True, False, None, 200)
    httpserver.check_assertions()
    body = httpserver.log[0][0].get_json()
    assert body == {"from": "Reminders <reminders@bgjobs.test>", "to": ["advocate@firm.test"],
                    "subject": "Hearing Reminder: C-7 - District Court",
                    "text": message["text"], "html": message["html"]}


def test_resend_without_key_is_permanent():
    outcome = Sender({"email_transport": "resend"}).send("email", "a@b.test", render("x", {}))
    assert outcome.permanent and "resend api key not configured" in outcome.error


# -------------------------------------------------------------------------- SMTP sends

def test_smtp_mail_arrives(smtp_server):
    message = render("job_failure", FAILURE)
    with Sender(smtp_config(smtp_server)) as sender:
        outcome = sender.send("email", "oncall@firm.test", message)
    assert outcome.ok and not outcome.error
    (peer, mail_from, rcpt_tos, mail, _, _), = smtp_server.messages
    assert mail_from == "alerts@bgjobs.test" and rcpt_tos == ["oncall@firm.test"]
    assert mail["Subject"] == "ALERT: Job Failed - update-installment-statuses"
    assert mail["From"] == "alerts@bgjobs.test" and mail["To"] == "oncall@firm.test"
    assert mail["Date"] and mail["Message-ID"].endswith("@bgjobs.test>")
    assert mail.get_body(("plain",)).get_content().startswith("🚨 Job Failed:")
    assert "<h2>" in mail.get_body(("html",)).get_content()


def test_smtp_several_mails_over_one_connection(smtp_server):
    with Sender(smtp_config(smtp_server)) as sender:
        outcomes = [sender.send("email", f"user{i}@firm.test", render("x", {"i": i}))
                    for i in range(5)]
    assert all(o.ok for o in outcomes)
    messages = smtp_server.messages
    assert [m[2] for m in messages] == [[f"user{i}@firm.test"] for i in range(5)]
    assert len({m[0] for m in messages}) == 1  # one client address:port, one session


def test_smtp_reconnects_once_when_the_server_dropped_the_connection(smtp_server):
    with Sender(smtp_config(smtp_server)) as sender:
        assert sender.send("email", "a@firm.test", render("x", {})).ok
        smtp_server.restart()
        assert sender.send("email", "b@firm.test", render("x", {})).ok
    peers = [m[0] for m in smtp_server.messages]
    assert len(peers) == 2 and peers[0] != peers[1]


def test_smtp_default_recipient_and_multiple_recipients(smtp_server):
    config = smtp_config(smtp_server, alert_email_to="ops@firm.test, dba@firm.test")
    with Sender(config) as sender:
        assert sender.send("email", "", render("x", {})).ok
    assert smtp_server.messages[0][2] == ["ops@firm.test", "dba@firm.test"]


def test_smtp_550_recipient_is_permanent_and_session_survives(smtp_server):
    smtp_server.refuse["gone@firm.test"] = "550 5.1.1 No such user"
    smtp_server.refuse["busy@firm.test"] = "451 4.3.0 Try again later"
    with Sender(smtp_config(smtp_server)) as sender:
        gone = sender.send("email", "gone@firm.test", render("x", {}))
        busy = sender.send("email", "busy@firm.test", render("x", {}))
        fine = sender.send("email", "fine@firm.test", render("x", {}))
    assert (gone.ok, gone.permanent, gone.status) == (False, True, 550)
    assert "No such user" in gone.error
    assert (busy.ok, busy.permanent, busy.status) == (False, False, 451)
    assert fine.ok
    assert [m[2] for m in smtp_server.messages] == [["fine@firm.test"]]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtp_login_only_when_configured(make_smtp_server):
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and (auth_data.login, auth_data.password) == (b"bgjobs", b"s3cret-pass"))
        return AuthResult(success=ok, handled=False)  # unhandled failure: aiosmtpd sends 535

    # Plain-text AUTH, on loopback and only for the test.
    server = make_smtp_server(authenticator=authenticator, auth_require_tls=False,
                              auth_required=True)
    base = smtp_config(server, smtp_username="bgjobs", timeout_seconds="3")
    with Sender(dict(base, smtp_password="s3cret-pass")) as sender:
        good = sender.send("email", "a@firm.test", render("x", {}))
    with Sender(dict(base, smtp_password="wrong-pass")) as sender:
        wrong = sender.send("email", "a@firm.test", render("x", {}))
    with Sender({k: v for k, v in base.items() if k != "smtp_username"}) as sender:
        anonymous = sender.send("email", "a@firm.test", render("x", {}))
    assert good.ok
    assert (wrong.ok, wrong.permanent, wrong.status) == (False, True, 535)
    assert "wrong-pass" not in wrong.error
    assert (anonymous.ok, anonymous.permanent) == (False, True)  # 530 authentication required
    assert len(server.messages) == 1


def test_smtp_server_down_is_transient(closed_port):
    with Sender({"smtp_host": "127.0.0.1", "smtp_port": str(closed_port)}) as sender:
        outcome = sender.send("email", "a@firm.test", render("x", {}))
    assert (outcome.ok, outcome.permanent) == (False, False)
    assert "connection refused" in outcome.error


def test_email_without_recipient_is_permanent():
    outcome = Sender({}).send("email", "", render("x", {}))
    assert outcome.permanent and "no recipient" in outcome.error


# ---------------------------------------------------------------------- two hosts

def test_module_runs_when_exec_d_from_its_source():
    """The installer embeds the source in a CREATE FUNCTION body and exec()s it."""
    source = Path(channels.__file__).read_text(encoding="utf-8")
    module = types.ModuleType("bgjobs_channels_embedded")
    exec(compile(source, "<bgjobs_channels>", "exec"), module.__dict__)
    assert module.render("job_failure", FAILURE) == render("job_failure", FAILURE)
    assert module.backoff_seconds(2) == 60


def test_application_templates_are_registered_not_built_in():
    """The runtime's channels know only the runtime's templates; the seeds' application adds
    its own (as any application would), and cannot replace the runtime's."""
    source = Path(channels.__file__).read_text(encoding="utf-8")
    bare = types.ModuleType("bgjobs_channels_bare")
    exec(compile(source, "<bgjobs_channels>", "exec"), bare.__dict__)
    payload = {"case_number": "C-1", "court_name": "HC", "hearing_at": "2026-03-02T04:30:00Z"}
    assert bare.render("hearing_reminder", payload)["subject"] == "hearing_reminder"    # generic
    bare.register_templates(bgjobs_app_templates.TEMPLATES)
    assert bare.render("hearing_reminder", payload)["subject"] == "Hearing Reminder: C-1 - HC"
    with pytest.raises(ValueError, match="'job_failure' is the runtime's own"):
        bare.register_templates({"job_failure": lambda p, tz: ("x", "x", [])})


# ------------------------------------------------------------- deadlines and interrupts

class _RawReceiver:
    """A loopback TCP receiver that reads one HTTP request, then hangs ('hang') or
    answers 200 one byte every 0.1 s ('drip', about 8 s in all).  Records whether the
    client hung up before the answer was complete."""

    ANSWER = (b"HTTP/1.1 200 OK\r\nX-Drip: " + b"." * 40
              + b"\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    def __init__(self, mode):
        self.mode, self.hung_up, self.completed = mode, threading.Event(), threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/hook"
        threading.Thread(target=self._serve, daemon=True).start()

    def _gone(self, conn):
        if not select.select([conn], [], [], 0)[0]:
            return False
        try:
            return conn.recv(65536) == b""     # unread request bytes are read and dropped
        except OSError:
            return True

    def _serve(self):
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            for i in range(len(self.ANSWER) if self.mode == "drip" else 600):
                time.sleep(0.1)
                if self._gone(conn):
                    self.hung_up.set()
                    return
                if self.mode == "drip":
                    try:
                        conn.send(self.ANSWER[i:i + 1])
                    except OSError:
                        self.hung_up.set()
                        return
            self.completed.set()

    def close(self):
        self.listener.close()


@pytest.fixture
def receiver():
    made = []

    def make(mode):
        made.append(_RawReceiver(mode))
        return made[-1]
    yield make
    for r in made:
        r.close()


def test_a_dripping_answer_is_cut_at_the_total_deadline(receiver):
    # every byte arrives well within any per-read timeout; only a total deadline stops it
    drip = receiver("drip")
    with Sender({"webhook_url": drip.url, "timeout_seconds": "1.5"}) as sender:
        outcome = sender.send("webhook", "", render("x", {}))
    assert (outcome.ok, outcome.permanent, outcome.status) == (False, False, None)
    assert "timed out (no complete answer within 1.5 s)" in outcome.error
    assert drip.hung_up.wait(10) and not drip.completed.is_set()


def test_a_send_is_cut_at_the_callers_deadline(receiver):
    drip = receiver("drip")
    with Sender({"webhook_url": drip.url}) as sender:       # 10 s of its own
        outcome = sender.send("webhook", "", render("x", {}), deadline=time.monotonic() + 1)
    assert not outcome.ok and "timed out" in outcome.error
    assert drip.hung_up.wait(10) and not drip.completed.is_set()


def test_the_interrupt_check_runs_while_a_send_waits_and_abandons_it(receiver):
    hang = receiver("hang")
    calls = []

    def tick():
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt("cancel requested")     # what the host raises
    with Sender({"webhook_url": hang.url}, tick=tick) as sender:
        with pytest.raises(channels.Interrupted) as caught:
            sender.send("webhook", "", render("x", {}))
    assert isinstance(caught.value.cause, KeyboardInterrupt) and len(calls) == 3
    assert hang.hung_up.wait(10) and not hang.completed.is_set()


def test_smtp_waits_are_interruptible_too():
    listener = socket.create_server(("127.0.0.1", 0))      # accepts, never greets
    calls = []

    def tick():
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("terminate requested")
    try:
        with Sender({"smtp_host": "127.0.0.1", "smtp_port": str(listener.getsockname()[1])},
                    tick=tick) as sender:
            with pytest.raises(channels.Interrupted) as caught:
                sender.send("email", "a@firm.test", render("x", {}))
    finally:
        listener.close()
    assert str(caught.value.cause) == "terminate requested"


# ------------------------------------------------------------- idempotency

def test_http_requests_carry_the_same_idempotency_key_on_every_try(httpserver):
    httpserver.expect_ordered_request("/hook").respond_with_data("busy", status=503)
    httpserver.expect_ordered_request("/hook").respond_with_data("ok")
    httpserver.expect_ordered_request("/emails").respond_with_json({"id": "x"})
    with Sender({"webhook_url": httpserver.url_for("/hook"), "email_transport": "resend",
                 "resend_api_key": "re_key_123", "resend_from": "a@firm.test",
                 "resend_base_url": httpserver.url_for("/")}) as sender:
        assert not sender.send("webhook", "", render("x", {}), idempotency_key="bgjobs-42").ok
        assert sender.send("webhook", "", render("x", {}), idempotency_key="bgjobs-42").ok
        assert sender.send("email", "b@firm.test", render("x", {}), idempotency_key="bgjobs-43").ok
    assert [r.headers.get("Idempotency-Key") for r, _ in httpserver.log] == \
        ["bgjobs-42", "bgjobs-42", "bgjobs-43"]


def test_the_email_message_id_is_the_idempotency_key(smtp_server):
    with Sender(smtp_config(smtp_server)) as sender:
        assert sender.send("email", "a@firm.test", render("x", {}), idempotency_key="bgjobs-7f3e").ok
    assert smtp_server.messages[0][3]["Message-ID"] == "<bgjobs-7f3e@bgjobs.test>"


# ------------------------------------------------------------- Slack limits and escaping

def test_slack_sections_stay_within_3000_characters():
    findings = [{"level": "warning", "message": f"Rule {i:02d} " + "x" * 90} for i in range(40)]
    slack = render("automation_health", {"severity": "WARNING", "findings": findings})["slack"]
    sections = [b["text"]["text"] for b in slack["blocks"]]
    assert len(sections) > 1 and all(len(s) <= 3000 for s in sections)
    shown = "\n".join(sections)
    assert all(f"Rule {i:02d} " in shown for i in range(40))     # split, nothing lost


def test_slack_message_keeps_to_50_blocks_and_says_what_was_left_out():
    findings = [{"level": "warning", "message": "y" * 2900} for i in range(80)]
    slack = render("automation_health", {"severity": "WARNING", "findings": findings})["slack"]
    blocks = slack["blocks"]
    assert len(blocks) == 50 and all(len(b["text"]["text"]) <= 3000 for b in blocks)
    # 81 lines ("*Findings:*" shares the first block): 49 blocks shown, 31 lines left out
    assert blocks[-1]["text"]["text"] == "… 31 more lines not shown (Slack's limit of 50 blocks)"
    huge = render("job_failure", dict(FAILURE, error_message="z" * 10000))["slack"]
    assert all(len(b["text"]["text"]) <= 3000 for b in huge["blocks"]) and len(huge["text"]) <= 3000


def test_slack_mrkdwn_from_names_is_inert():
    name = "*urgent* _all_ ~gone~ `rm` <!channel> & co\n> *Error:* forged"
    message = render("job_alert", {"job_name": name, "severity": "CRITICAL", "rule": "missed_run",
                                   "summary": name, "details": {"rule_name": name}})
    slack = message["slack"]
    section = slack["blocks"][0]["text"]["text"]
    for text in (slack["text"], section):
        assert "<!channel>" not in text and "&lt;!channel&gt; &amp; co" in text
        assert "`" not in text and "~" not in text and "\n>" not in text
    # the only asterisks left are bgjobs' own field labels
    assert section.count("*") == 2 * len(section.splitlines())
    assert "∗urgent∗ ˍallˍ ∼gone∼ ˋrmˋ" in section
    assert "*rule_name:*" in section                                  # snake_case untouched
    assert message["subject"].startswith("[CRITICAL] bgjobs: *urgent*")  # e-mail keeps the name


# ------------------------------------------------------------- SMTP bodies and recipients

def test_smtp_bodies_are_7bit_clean_and_decode_back(smtp_server):
    # short lines: the email package would otherwise send these as 8-bit
    message = render("job_failure", dict(FAILURE, error_message="Zeitüberschreitung — 🚨"))
    with Sender(smtp_config(smtp_server)) as sender:
        assert sender.send("email", "a@firm.test", message).ok
    [sent] = smtp_server.messages
    assert max(sent.raw) < 128                                 # no 8-bit byte on the wire
    assert not any(o.upper().startswith("BODY=8BITMIME") for o in sent.mail_options)
    mail = sent.message
    assert mail.get_body(("plain",)).get_content().replace("\r\n", "\n").rstrip("\n") == message["text"]
    assert "Zeitüberschreitung" in mail.get_body(("html",)).get_content()


@pytest.mark.parametrize("recipient,envelope,to_header", [
    ('"Doe, Jane" <jane@firm.test>', ["jane@firm.test"], '"Doe, Jane" <jane@firm.test>'),
    ("a@firm.test, b@firm.test", ["a@firm.test", "b@firm.test"], "a@firm.test, b@firm.test"),
    ('"a,b" <x@firm.test>, c@firm.test,', ["x@firm.test", "c@firm.test"], '"a,b" <x@firm.test>, c@firm.test'),
])
def test_recipients_are_rfc5322_address_lists(smtp_server, recipient, envelope, to_header):
    with Sender(smtp_config(smtp_server)) as sender:
        assert sender.send("email", recipient, render("x", {})).ok
    [(_, _, rcpt_tos, mail, _, _)] = smtp_server.messages
    assert rcpt_tos == envelope and mail["To"] == to_header


@pytest.mark.parametrize("recipient", ["a@firm.test, not an address", "jane", "a@b@firm.test",
                                       "x@firm.test\r\nBcc: evil@else.test"])
def test_a_malformed_recipient_list_is_refused_whole(smtp_server, recipient):
    with Sender(smtp_config(smtp_server)) as sender:
        outcome = sender.send("email", recipient, render("x", {}))
    assert (outcome.ok, outcome.permanent) == (False, True)
    assert outcome.error.startswith("email: recipient is not a valid address list")
    assert "firm.test" not in outcome.error
    assert smtp_server.messages == []


def test_smtp_errors_never_name_the_recipient(smtp_server):
    smtp_server.refuse["gone@firm.test"] = "550 5.1.1 <gone@firm.test>: No such user"
    with Sender(smtp_config(smtp_server)) as sender:
        outcome = sender.send("email", "Gone Person <gone@firm.test>", render("x", {}))
    assert outcome.permanent and outcome.status == 550
    assert outcome.error == "email: recipient refused: 550 5.1.1 <<recipient>>: No such user"


# ------------------------------------------------------------- TLS

@pytest.fixture
def https_receiver(tmp_path):
    """An HTTPS receiver on 127.0.0.1 with a fresh self-signed certificate (openssl CLI)."""
    import http.server
    import shutil
    import ssl
    import subprocess
    if not shutil.which("openssl"):
        pytest.skip("openssl CLI not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            seen.append((self.path, dict(self.headers), self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}/hook?token=SECRET-Q", cert, seen
    server.shutdown()
    server.server_close()


def test_https_with_a_certificate_nobody_trusts_is_permanent(https_receiver):
    url, _, seen = https_receiver
    with Sender({"webhook_url": url}) as sender:
        outcome = sender.send("webhook", "", render("x", {}))
    assert (outcome.ok, outcome.permanent) == (False, True)
    assert outcome.error == f"webhook: TLS certificate verification failed ({url.split('/hook')[0]})"
    assert seen == []


def test_https_to_a_trusted_receiver(https_receiver, monkeypatch):
    url, cert, seen = https_receiver
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))       # trust it, as a CA bundle would
    with Sender({"webhook_url": url}) as sender:
        outcomes = [sender.send("webhook", "", render("x", {"i": i}), idempotency_key=f"k{i}")
                    for i in range(2)]
    assert [o.ok for o in outcomes] == [True, True]
    assert [(path, headers["Idempotency-Key"]) for path, headers, _ in seen] == \
        [("/hook?token=SECRET-Q", "k0"), ("/hook?token=SECRET-Q", "k1")]
