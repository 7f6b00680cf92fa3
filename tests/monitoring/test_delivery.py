"""Delivery of the outbox to real loopback sinks (pytest-httpserver, aiosmtpd): the seeds'
Testing Procedures 1 and 2, retries with backoff, timeouts, permanent failures, SMTP
outage, two deliverers at once, the worker, and secrets kept out of every log."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import psycopg
import pytest
from bgjobs import worker
from pytest_httpserver import HTTPServer
from werkzeug.wrappers import Response


def slack_bodies(httpserver, path="/slack"):
    return [json.loads(req.get_data(as_text=True)) for req, _ in httpserver.log if req.path == path]


def queue(sql, channel, recipient, template="note", payload=None, key=None, n=1):
    for i in range(n):
        sql("INSERT INTO notifications (channel, recipient, template, payload, dedupe_key) VALUES (%s, %s, %s, %s, %s)",
            channel, recipient, template, json.dumps(payload if payload is not None else {"n": i}),
            key or f"{template}:{channel}:{i}:{time.monotonic_ns()}")


def status(sql):
    return sql("SELECT status, attempts, last_error FROM notifications ORDER BY created_at, dedupe_key")


# ---------------------------------------------------------------- seeds' Testing Procedures

def test_seed_test1_simulated_job_failure_reaches_slack_and_email(sql, run, configure, httpserver, smtp):
    httpserver.expect_request("/slack", method="POST").respond_with_data("ok")
    configure(slack=httpserver.url_for("/slack"), smtp=smtp, email_to="oncall@example.com")
    # 1. Insert a test failed job (verbatim)
    sql("""INSERT INTO jobs_log (job_name, started_at, completed_at, status, error_message)
VALUES (
  'update-installment-statuses',
  now(),
  now(),
  'failed',
  'TEST ALERT - Please ignore this simulated failure'
);""")
    # 2. one delivery run
    resp = run("deliver-notifications")
    assert resp["success"] and resp["results"]["sent"] == 2
    [body] = slack_bodies(httpserver)
    assert body["text"] == "🚨 Job Failed: update-installment-statuses"
    section = body["blocks"][0]["text"]["text"]
    assert "*Error:* TEST ALERT - Please ignore this simulated failure" in section and "*Time:* " in section
    [(_, mail_from, rcpts, msg, _, _)] = smtp.messages
    assert rcpts == ["oncall@example.com"]
    assert msg["Subject"] == "ALERT: Job Failed - update-installment-statuses"
    assert "TEST ALERT - Please ignore this simulated failure" in msg.get_body(("plain",)).get_content()
    # 3. Clean up test data (verbatim)
    sql("""DELETE FROM jobs_log
WHERE error_message = 'TEST ALERT - Please ignore this simulated failure';""")
    assert sql("SELECT count(*) FROM jobs_log WHERE job_name = 'update-installment-statuses'") == [(0,)]
    assert [s for s, _, _ in status(sql)] == ["sent", "sent"]


def test_seed_test2_simulated_missed_execution(sql, run, configure, httpserver, smtp):
    httpserver.expect_request("/slack", method="POST").respond_with_data("ok")
    configure(slack=httpserver.url_for("/slack"), smtp=smtp, email_to="oncall@example.com")
    # the job's last run; `SELECT cron.unschedule(...)` then "wait > 25 hours" is simulated by
    # asking the health check as of 26 hours later (a per-test database has no pg_cron job)
    last = sql("SELECT now() - interval '1 hour'")[0][0]
    sql("INSERT INTO jobs_log (job_name, started_at, completed_at, status, records_updated) "
        "VALUES ('update-installment-statuses', %s, %s + interval '5 seconds', 'success', 3)", last, last)
    resp = run("check-job-health", last + timedelta(hours=26))
    assert resp["results"]["status"] == "critical"                       # Health check returns status: critical
    [hit] = [i for i in resp["results"]["issues"]
             if i["job"] == "update-installment-statuses" and i["rule"] == "missed_run"]
    assert hit["details"]["hours_since_last_run"] == 26.0                # indicates hours since last run
    # Alert sent via configured channels
    deliver = run("deliver-notifications", last + timedelta(hours=26, minutes=1))
    assert deliver["results"]["dead"] == 0 and deliver["results"]["leftForNextRun"] == 0
    texts = [json.dumps(b, ensure_ascii=False) for b in slack_bodies(httpserver)]
    [text] = [t for t in texts if "update-installment-statuses" in t]
    assert "[CRITICAL]" in text and "missed run" in text and "26.0 hours" in text
    mails = [m.message for m in smtp.messages if "update-installment-statuses" in m.message["Subject"]]
    assert len(mails) == 1 and "has not run for 26.0 hours" in mails[0].get_body(("plain",)).get_content()


# ---------------------------------------------------------------- transports

def test_webhook_500_twice_then_200_is_delivered_exactly_once(sql, run, httpserver):
    for code in (500, 500, 200):
        httpserver.expect_ordered_request("/hook", method="POST").respond_with_data("x", status=code)
    queue(sql, "webhook", httpserver.url_for("/hook"), payload={"case": "C-1"})
    run("deliver-notifications")
    [(st, att, err)] = status(sql)
    assert (st, att) == ("failed", 1) and "HTTP 500" in err
    due = sql("SELECT next_attempt_at FROM notifications")[0][0]
    assert run("deliver-notifications", due - timedelta(seconds=1))["results"]["claimed"] == 0   # not yet due
    run("deliver-notifications", due)
    assert status(sql)[0][:2] == ("failed", 2)
    due2 = sql("SELECT next_attempt_at FROM notifications")[0][0]
    # 30 s, then 60 s: exponential, each counted from its send (a few ms after the run's start)
    assert 60 <= (due2 - due).total_seconds() < 61
    run("deliver-notifications", due2)
    assert status(sql)[0] == ("sent", 3, None)
    assert run("deliver-notifications", due2 + timedelta(hours=2))["results"]["claimed"] == 0
    assert [r.status_code for _, r in httpserver.log] == [500, 500, 200]
    httpserver.check_assertions()


def test_webhook_timeout_is_transient(sql, run, configure, httpserver):
    configure(delivery_timeout_seconds=1)

    def slow(request):
        time.sleep(2.5)
        return Response("late")
    httpserver.expect_request("/slow").respond_with_handler(slow)
    queue(sql, "webhook", httpserver.url_for("/slow"))
    resp = run("deliver-notifications")
    assert resp["results"]["retrying"] == 1
    [(st, att, err)] = status(sql)
    assert (st, att) == ("failed", 1) and "timed out" in err
    deadline = time.monotonic() + 5                 # let the sink finish before the next test
    while not httpserver.log and time.monotonic() < deadline:
        time.sleep(0.05)


def test_backoff_counts_from_the_send_not_from_the_runs_start(sql, run, httpserver):
    answered = {}

    def slow_ok(request):
        time.sleep(1.5)
        return Response("ok")

    def fail(request):
        answered["at"] = time.time()
        return Response("busy", status=503)
    httpserver.expect_request("/slow").respond_with_handler(slow_ok)
    httpserver.expect_request("/busy").respond_with_handler(fail)
    queue(sql, "webhook", httpserver.url_for("/slow"))
    queue(sql, "webhook", httpserver.url_for("/busy"))                  # tried 1.5 s into the run
    run("deliver-notifications")
    [(due,)] = sql("SELECT extract(epoch FROM next_attempt_at)::float8 FROM notifications WHERE status = 'failed'")
    assert due >= answered["at"] + 30 - 0.05                            # 30 s after its own send


def test_email_recipient_with_a_comma_in_its_name_gets_one_message(sql, run, configure, smtp):
    configure(smtp=smtp)
    queue(sql, "email", '"Doe, Jane" <jane@example.com>')
    queue(sql, "email", "a@example.com, b@example.com")
    assert run("deliver-notifications")["results"]["sent"] == 2
    assert sorted(r for m in smtp.messages for r in m.rcpt_tos) == \
        ["a@example.com", "b@example.com", "jane@example.com"]


@pytest.mark.parametrize("code", [404, 410])
def test_webhook_404_410_dead_after_one_try(sql, run, httpserver, code):
    httpserver.expect_request("/gone").respond_with_data("no such hook", status=code)
    queue(sql, "slack", httpserver.url_for("/gone"))
    resp = run("deliver-notifications")
    assert resp["results"]["dead"] == 1
    [(st, att, err)] = status(sql)
    assert (st, att) == ("dead", 1) and f"HTTP {code}" in err
    assert run("deliver-notifications", sql("SELECT now() + interval '1 day'")[0][0])["results"]["claimed"] == 0
    assert len([r for r, _ in httpserver.log if r.path == "/gone"]) == 1


def test_dead_after_max_attempts(sql, run, configure, httpserver):
    configure(notification_max_attempts=2)
    httpserver.expect_request("/hook").respond_with_data("down", status=503)
    queue(sql, "webhook", httpserver.url_for("/hook"))
    run("deliver-notifications")
    run("deliver-notifications", sql("SELECT next_attempt_at FROM notifications")[0][0])
    [(st, att, err)] = status(sql)
    assert (st, att) == ("dead", 2) and "gave up after 2 attempts" in err


def test_smtp_down_then_up_loses_nothing(sql, run, configure, smtp_factory):
    relay = smtp_factory(start=False)                                    # nothing listens yet
    configure(smtp=relay)
    queue(sql, "email", "a@example.com", template="note", n=3)
    r1 = run("deliver-notifications")
    assert r1["results"]["retrying"] == 1 and r1["results"]["deferred"] == 2   # one try, the rest wait
    assert {s for s, _, _ in status(sql)} == {"failed", "pending"}
    assert all("connection refused" in e for _, _, e in status(sql))
    relay.start()
    later = sql("SELECT max(next_attempt_at) FROM notifications")[0][0]
    r2 = run("deliver-notifications", later)
    assert r2["results"]["sent"] == 3
    assert len(relay.messages) == 3 and all(m.rcpt_tos == ["a@example.com"] for m in relay.messages)
    assert [(s, a) for s, a, _ in status(sql)] == [("sent", 1), ("sent", 1), ("sent", 2)] or \
        sorted(a for _, a, _ in status(sql)) == [1, 1, 2]


def test_resend_transport(sql, run, configure, httpserver):
    httpserver.expect_request("/emails", method="POST").respond_with_json({"id": "re_1"})
    configure(email_transport="resend", resend_base_url=httpserver.url_for("/").rstrip("/"))
    sql("SELECT set_secret('RESEND_API_KEY', 're_SeCrEt_123456789')")
    sql("SELECT set_secret('RESEND_FROM', 'alerts@example.com')")
    queue(sql, "email", "user@example.com", template="note")
    assert run("deliver-notifications")["results"]["sent"] == 1
    [(req, _)] = httpserver.log
    assert req.headers["Authorization"] == "Bearer re_SeCrEt_123456789"
    body = json.loads(req.get_data())
    assert body["to"] == ["user@example.com"] and body["from"] == "alerts@example.com"


def test_whatsapp_through_configured_webhook(sql, run, configure, httpserver):
    httpserver.expect_request("/wa", method="POST").respond_with_data("ok")
    configure(whatsapp_webhook_url=httpserver.url_for("/wa"))
    queue(sql, "whatsapp", "+919800000000", template="note", payload={"msg": "hearing tomorrow"})
    assert run("deliver-notifications")["results"]["sent"] == 1
    body = json.loads(httpserver.log[0][0].get_data())
    assert body["to"] == "+919800000000" and "hearing tomorrow" in body["text"]


def test_one_run_drains_a_burst_in_several_batches(sql, run, configure, httpserver):
    configure(notification_batch_size=2)
    httpserver.expect_request("/hook").respond_with_data("ok")
    queue(sql, "webhook", httpserver.url_for("/hook"), n=5)
    first = run("deliver-notifications")["results"]
    assert (first["sent"], first["batches"], first["leftForNextRun"], first["ended"]) == (5, 3, 0, "drained")
    assert run("deliver-notifications")["results"]["claimed"] == 0
    assert len(httpserver.log) == 5


# ---------------------------------------------------------------- two deliverers

@pytest.fixture
def threaded_sink():
    seen, lock = [], threading.Lock()
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)

    def handler(request):
        time.sleep(0.003)
        with lock:
            seen.append(json.loads(request.get_data())["text"])
        return Response("ok")
    server.expect_request("/hook").respond_with_handler(handler)
    server.start()
    yield server, seen
    server.stop()


def test_in_database_job_and_worker_at_once_never_double_send(sql, db, configure, threaded_sink):
    server, seen = threaded_sink
    configure(notification_batch_size=25)
    n = 300
    sql("INSERT INTO notifications (channel, recipient, template, payload, dedupe_key) "
        "SELECT 'webhook', %s, 'note', jsonb_build_object('n', g), 'race:' || g FROM generate_series(1, %s) g",
        server.url_for("/hook"), n)
    errors = []

    def in_db():
        try:
            with psycopg.connect(db, autocommit=True) as c:
                while True:
                    resp = c.execute("SELECT run_job('deliver-notifications')").fetchone()[0]
                    if resp.get("skipped"):       # the same job never runs twice at once
                        continue
                    if not resp["results"]["claimed"]:
                        break
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    def outside(name):
        try:
            with psycopg.connect(db, autocommit=True) as c:
                worker.drain(c, name, batch_size=25)
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=in_db), threading.Thread(target=outside, args=("worker:test",)),
               threading.Thread(target=in_db), threading.Thread(target=outside, args=("worker:test2",))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert len(seen) == n and len(set(seen)) == n                       # every row once, none twice
    by = dict(sql("SELECT delivered_by, count(*) FROM notifications WHERE status = 'sent' GROUP BY 1"))
    assert sum(by.values()) == n
    assert by.get("in-database", 0) > 0 and by.get("worker:test", 0) > 0   # both really worked


def test_worker_once_as_a_login_role_granted_bgjobs_deliverer(sql, db, pg_server, configure, httpserver, capsys):
    httpserver.expect_request("/slack").respond_with_data("ok")
    configure(slack=httpserver.url_for("/slack"))
    sql("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mon_worker') THEN "
        "CREATE ROLE mon_worker LOGIN PASSWORD 'w0rker-pw'; END IF; END $$")
    sql("GRANT bgjobs_deliverer TO mon_worker")
    sql("INSERT INTO jobs_log (job_name, status, error_message) VALUES ('check-sla-and-overdue', 'failed', 'x')")
    dsn = psycopg.conninfo.make_conninfo(db, user="mon_worker", password="w0rker-pw")
    totals = worker.main(dsn, once=True, report=print)
    assert totals.counts["sent"] == 1
    assert "1 sent, 0 to retry, 0 dead" in capsys.readouterr().out
    assert len(httpserver.log) == 1
    assert sql("SELECT delivered_by LIKE 'worker:%%' FROM notifications") == [(True,)]


def test_worker_cli_once(db, sql, configure, httpserver):
    from bgjobs.cli import main
    from click.testing import CliRunner
    httpserver.expect_request("/hook").respond_with_data("ok")
    queue(sql, "webhook", httpserver.url_for("/hook"), n=3)
    result = CliRunner().invoke(main, ["worker", "--once", "--dsn", db])
    assert result.exit_code == 0, result.output
    assert "3 sent" in result.output
    bad = CliRunner().invoke(main, ["worker", "--once", "--dsn", "postgresql://nobody@127.0.0.1:1/x"])
    assert bad.exit_code == 1 and "cannot connect" in bad.output and "Traceback" not in bad.output


@pytest.mark.parametrize("interval", ["-1", "0", "nan", "inf"])
def test_worker_refuses_a_bad_interval_in_one_line(db, interval):
    from bgjobs.cli import main
    from click.testing import CliRunner
    result = CliRunner().invoke(main, ["worker", "--dsn", db, "--interval", interval])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip().splitlines() == [
        f"bgjobs: worker: --interval must be a number of seconds above 0 and at most 86400 (got {float(interval):g})"]


def test_worker_prints_no_secret_and_no_recipient(sql, db, configure, httpserver, smtp):
    """`bgjobs worker` polling, as a process: what it prints while it delivers and fails."""
    import os
    import signal
    import subprocess
    import sys
    httpserver.expect_request(f"/services/{SECRET}").respond_with_data("nope", status=500)
    configure(slack=httpserver.url_for(f"/services/{SECRET}") + "?token=SECRETTOKEN", smtp=smtp)
    sql("SELECT set_secret('SMTP_PASSWORD', 'pw-SECRETTOKEN42')")
    queue(sql, "slack", "", n=2)
    queue(sql, "email", "Private Person <private.person@example.com>")
    queue(sql, "whatsapp", "+919812345678")
    proc = subprocess.Popen([sys.executable, "-m", "bgjobs", "worker", "--dsn", db, "--interval", "0.2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if sql("SELECT count(*) FROM notifications WHERE attempts = 0 AND status = 'pending'") == [(0,)]:
                break
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "worker stopped:" in out and "1 sent" in out                 # the e-mail went out
    for piece in ("SECRETTOKEN", "T0SECRET", "B0SECRET", "private.person", "Private Person",
                  "919812345678", "pw-"):
        assert piece not in out + err, piece


# ---------------------------------------------------------------- secrets

SECRET = "T0SECRET/B0SECRET/xoxSECRETTOKEN42"


def test_secrets_never_reach_logs_or_outbox(sql, run, configure, httpserver):
    def echo(request):
        return Response(f"invalid token at {request.url}", status=500)
    httpserver.expect_request(f"/services/{SECRET}").respond_with_handler(echo)
    configure(slack=httpserver.url_for(f"/services/{SECRET}"))
    sql("SELECT set_secret('SMTP_PASSWORD', 'pw-SECRETTOKEN42')")
    sql("INSERT INTO jobs_log (job_name, status, error_message) VALUES ('check-sla-and-overdue', 'failed', 'boom')")
    resp = run("deliver-notifications")
    assert resp["results"]["retrying"] == 1 and len(httpserver.log) == 1
    haystacks = {
        "jobs_log": "SELECT coalesce(string_agg(to_jsonb(j)::text, ' '), '') FROM jobs_log j",
        "audit_log": "SELECT coalesce(string_agg(to_jsonb(a)::text, ' '), '') FROM audit_log a",
        "notifications": "SELECT coalesce(string_agg(to_jsonb(n)::text, ' '), '') FROM notifications n",
        "job_metrics": "SELECT job_metrics()::text",
        "prometheus": "SELECT job_metrics_prometheus()",
    }
    for name, query in haystacks.items():
        text = sql(query)[0][0]
        for piece in ("SECRETTOKEN42", "T0SECRET", "B0SECRET"):
            assert piece not in text, f"{piece} leaked into {name}"
    err = sql("SELECT last_error FROM notifications")[0][0]
    assert err == f"slack: HTTP 500 Internal Server Error from http://{httpserver.host}:{httpserver.port}"


@pytest.fixture
def viewer_conn(sql, db):
    sql("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mon_partner') THEN "
        "CREATE ROLE mon_partner LOGIN PASSWORD 'p4rtner-pw'; END IF; END $$")
    sql("GRANT bgjobs_viewer TO mon_partner")
    with psycopg.connect(psycopg.conninfo.make_conninfo(db, user="mon_partner", password="p4rtner-pw"),
                         autocommit=True) as c:
        yield c


def test_viewer_cannot_read_secrets_but_reads_monitoring(sql, conn, run, viewer_conn):
    sql(f"SELECT set_secret('SLACK_WEBHOOK_URL', 'https://hooks.slack.com/services/{SECRET}')")
    run("check-job-health")
    denied = [
        "SELECT * FROM bgjobs.secrets",
        "SELECT bgjobs.get_secret('SLACK_WEBHOOK_URL')",
        "SELECT bgjobs.delivery_config()",
        "SELECT set_secret('SLACK_WEBHOOK_URL', 'x')",
        "SELECT recipient FROM notifications",
        "SELECT payload FROM notifications",
        "SELECT * FROM bgjobs.claim_notifications(now(), 10, 'x')",
        "SELECT run_job('check-job-health')",
        "SELECT silence_job(NULL, now() + interval '1 hour', 'x')",
    ]
    # as the login role itself, and by SET ROLE from a superuser session
    for c, setup in ((viewer_conn, None), (conn, "SET ROLE mon_partner")):
        if setup:
            c.execute(setup)
        try:
            for q in denied:
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    c.execute(q)
        finally:
            if setup:
                c.execute("RESET ROLE")
    allowed = ["SELECT * FROM job_status", "SELECT * FROM job_success_rates", "SELECT * FROM job_alerts",
               "SELECT * FROM job_silences", "SELECT * FROM healthcheck_summary", "SELECT job_metrics()",
               "SELECT job_metrics_prometheus()", "SELECT status, attempts FROM notifications",
               "SELECT * FROM jobs_log", "SELECT * FROM job_heartbeats"]
    for q in allowed:
        text = json.dumps(viewer_conn.execute(q).fetchall(), default=str)
        assert SECRET not in text and "SECRETTOKEN42" not in text
