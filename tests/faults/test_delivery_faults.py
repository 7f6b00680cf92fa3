"""Delivery faults as regression tests (issue 8): a real PostgreSQL, real receivers on
127.0.0.1.  A receiver that hangs or drips its answer never holds a run past its send
deadline or its budget; a cancelled or terminated run lets go mid-send; an SMTP relay
that is down, then up, gets each message exactly once; the in-database job and workers
racing over 2,000 rows send each row exactly once.

No wall-clock asserts: what shows a send was cut short is the receiver's own record (it
saw the client hang up before its answer was complete)."""

from __future__ import annotations

import collections
import threading
import time

import psycopg
import pytest
from bgjobs import worker


def rows(sql):
    return sql("SELECT id::text, status, attempts, last_error FROM notifications ORDER BY next_attempt_at, id")


def later(sql, minutes=30):
    return sql("SELECT now() + make_interval(mins => %s)", minutes)[0][0]


# ------------------------------------------------------------------ hanging and dripping

def test_hanging_webhook_costs_one_timeout_and_is_retried_later(sql, run, setting, queue, sink_factory):
    hung, good = sink_factory("hang"), sink_factory("ok")
    setting(delivery_timeout_seconds=1)
    stuck = queue("webhook", hung.url(), n=3)
    fine = queue("webhook", good.url())
    resp = run("deliver-notifications")
    assert resp["success"], resp
    r = resp["results"]
    assert (r["sent"], r["retrying"], r["deferred"], r["leftForNextRun"]) == (1, 1, 2, 0)
    state = {i: (s, a, e) for i, s, a, e in rows(sql)}
    assert state[fine[0]][:2] == ("sent", 1)
    assert state[stuck[0]][:2] == ("failed", 1) and "timed out" in state[stuck[0]][2]
    assert [state[i][:2] for i in stuck[1:]] == [("pending", 0), ("pending", 0)]   # deferred: no attempt spent
    hung.wait_settled()
    assert len(hung.requests) == 1 and hung.requests[0]["hung_up"]           # the client let go
    hung.mode = "ok"                                                          # the receiver recovers
    again = run("deliver-notifications", later(sql))["results"]
    assert again["sent"] == 3
    assert [s for _, s, _, _ in rows(sql)] == ["sent"] * 4
    assert len(good.requests) == 1 and [r["completed"] for r in hung.requests] == [False, True, True, True]


@pytest.mark.parametrize("limit", ["send deadline", "run budget", "job timeout"])
def test_dripping_webhook_is_cut_at_the_deadline_and_retried_later(sql, run, setting, queue, sink_factory, limit):
    # The receiver answers 200, one byte every 0.1 s: about 8 s for the whole answer.  Each
    # byte comes well within any per-read timeout, so only a total deadline stops it:
    # the send's own (2 s), the run's budget (2 s), or the budget under a 7 s job timeout (2 s).
    drip = sink_factory("drip", drip_every=0.1)
    if limit == "send deadline":
        setting(delivery_timeout_seconds=2)
    elif limit == "run budget":
        setting(delivery_run_budget_seconds=2)
    else:
        sql("UPDATE bgjobs.job_registry SET timeout = interval '7 seconds' WHERE job_name = 'deliver-notifications'")
    [row] = queue("webhook", drip.url())
    resp = run("deliver-notifications")
    assert resp["success"], resp                           # the run ended by itself, not cancelled
    assert resp["results"]["retrying"] == 1
    [(_, st, att, err)] = rows(sql)
    assert (st, att) == ("failed", 1) and "timed out" in err
    drip.wait_settled()
    [first] = drip.requests
    assert first["hung_up"] and not first["completed"]     # cut before the answer was complete
    drip.mode = "ok"
    assert run("deliver-notifications", later(sql))["results"]["sent"] == 1
    assert [(s, a) for _, s, a, _ in rows(sql)] == [("sent", 2)]
    keys = [r["headers"]["idempotency-key"] for r in drip.requests]
    assert keys == [f"bgjobs-{row}", f"bgjobs-{row}"]      # the retry carries the same key


# ------------------------------------------------------------------ cancel and terminate mid-send

def _run_in_background(db):
    """Starts run_job('deliver-notifications') on its own connection; returns (pid, thread, outcome)."""
    conn = psycopg.connect(db, autocommit=True)
    pid = conn.info.backend_pid
    outcome = {}

    def go():
        try:
            outcome["response"] = conn.execute("SELECT run_job('deliver-notifications')").fetchone()[0]
        except psycopg.Error as exc:
            outcome["error"] = exc
        finally:
            conn.close()
    thread = threading.Thread(target=go)
    thread.start()
    return pid, thread, outcome


@pytest.mark.parametrize("how", ["pg_cancel_backend", "pg_terminate_backend"])
def test_cancel_or_terminate_takes_effect_mid_send(sql, db, run, queue, sink_factory, how):
    # Default 10 s send deadline; the dripping answer would be complete in about 8 s, so
    # only the interrupt can make the client hang up before it is.
    drip = sink_factory("drip", drip_every=0.1)
    [row] = queue("webhook", drip.url())
    pid, thread, outcome = _run_in_background(db)
    assert drip.received.wait(15)
    time.sleep(0.3)                                        # mid-answer
    assert sql(f"SELECT {how}(%s)", pid) == [(True,)]
    thread.join(30)
    drip.wait_settled()
    [first] = drip.requests
    assert first["hung_up"] and not first["completed"]
    if how == "pg_cancel_backend":                         # recorded as a failed run
        assert outcome["response"]["success"] is False
        assert "canceling statement due to user request" in outcome["response"]["error"]
    else:                                                  # the backend is gone
        assert isinstance(outcome.get("error"), psycopg.OperationalError)
    # the run was rolled back: the row is due again, no attempt spent; a later run sends it
    assert [(s, a) for _, s, a, _ in rows(sql)] == [("pending", 0)]
    drip.mode = "ok"
    assert run("deliver-notifications")["results"]["sent"] == 1
    assert [(s, a) for _, s, a, _ in rows(sql)] == [("sent", 1)]
    # at-least-once: the receiver saw the request twice, with the same idempotency key
    assert [r["headers"]["idempotency-key"] for r in drip.requests] == [f"bgjobs-{row}"] * 2


# ------------------------------------------------------------------ SMTP down, then up

def test_smtp_down_then_up_each_message_exactly_once(sql, run, setting, queue, smtp_factory):
    relay = smtp_factory(start=False)
    setting(smtp_host="127.0.0.1", smtp_port=relay.port, email_transport="smtp")
    ids = queue("email", "ops@example.com", n=5)
    first = run("deliver-notifications")["results"]
    assert (first["retrying"], first["deferred"], first["sent"]) == (1, 4, 0)   # one try, the rest wait
    assert all("connection refused" in e for _, _, _, e in rows(sql))
    relay.start()
    second = run("deliver-notifications", sql("SELECT max(next_attempt_at) FROM notifications")[0][0])["results"]
    assert second["sent"] == 5
    assert run("deliver-notifications", later(sql, 120))["results"]["claimed"] == 0
    message_ids = collections.Counter(m.message["Message-ID"] for m in relay.messages)
    assert message_ids == collections.Counter({f"<bgjobs-{i}@localhost>": 1 for i in ids})
    assert all(m.rcpt_tos == ["ops@example.com"] for m in relay.messages)
    assert all(max(m.raw) < 128 for m in relay.messages)          # 7-bit clean bodies


# ------------------------------------------------------------------ two deliverers racing

def test_in_database_job_and_workers_racing_over_2000_rows_send_each_once(sql, db, setting, sink_factory):
    sink = sink_factory("ok")
    setting(notification_batch_size=50)
    n = 2000
    sql("INSERT INTO notifications (channel, recipient, template, payload, dedupe_key) "
        "SELECT 'webhook', %s, 'note', jsonb_build_object('n', g), 'race:' || g FROM generate_series(1, %s) g",
        sink.url(), n)
    errors = []

    def in_db():
        try:
            with psycopg.connect(db, autocommit=True) as c:
                while True:
                    resp = c.execute("SELECT run_job('deliver-notifications')").fetchone()[0]
                    if resp.get("skipped"):          # the job never runs twice at once
                        continue
                    if not resp["results"]["claimed"]:
                        break
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    def outside(name):
        try:
            with psycopg.connect(db, autocommit=True) as c:
                worker.drain(c, name, batch_size=50)
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=in_db), threading.Thread(target=outside, args=("worker:a",)),
               threading.Thread(target=in_db), threading.Thread(target=outside, args=("worker:b",))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    received = collections.Counter(b["text"] for b in sink.bodies())
    assert len(received) == n and set(received.values()) == {1}          # each row once, none twice
    keys = collections.Counter(r["headers"]["idempotency-key"] for r in sink.requests)
    assert len(keys) == n and set(keys.values()) == {1}
    by = dict(sql("SELECT delivered_by, count(*) FROM notifications WHERE status = 'sent' GROUP BY 1"))
    assert sum(by.values()) == n
    assert by.get("in-database", 0) > 0 and by.get("worker:a", 0) + by.get("worker:b", 0) > 0
