"""The job runtime: run_job, the pg_cron procedure, recording, failure announcement,
overlap, reaping and timeouts, against a real PostgreSQL."""

from __future__ import annotations

import json
import threading
import time

import psycopg
import pytest


@pytest.fixture
def register(sql):
    """register(name, body_sql, **registry columns): a test job whose body is body_sql
    (PL/pgSQL statements ending in RETURN <jsonb>)."""
    def make(name, body, **cols):
        fn = "job_" + name.replace("-", "_")
        sql(f"""CREATE FUNCTION bgjobs.{fn}(p_as_of timestamptz, p_tenants uuid[]) RETURNS jsonb
                LANGUAGE plpgsql SET search_path TO pg_catalog, public, pg_temp AS $$ BEGIN {body} END $$""")
        cols = {"schedule": "* * * * *", "function_name": fn, **cols}
        keys = ", ".join(cols)
        sql(f"INSERT INTO bgjobs.job_registry (job_name, {keys}) VALUES (%s, {', '.join(['%s'] * len(cols))})",
            name, *cols.values())
        return name
    return make


def wait_for(predicate, timeout=10.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not met in time")


def test_successful_run_is_recorded_everywhere(sql, register):
    register("noop", "RETURN jsonb_build_object('recordsUpdated', 3, 'things', 7);")
    resp = sql("SELECT run_job('noop', '2026-01-15 10:30:00+00')")[0][0]
    assert resp["success"] is True and resp["job"] == "noop"
    assert resp["results"] == {"recordsUpdated": 3, "things": 7}
    assert resp["asOf"] == "2026-01-15T10:30:00Z"
    assert resp["executionTime"].endswith("s") and "executedAt" in resp

    [(status, records, err, trigger, completed)] = sql(
        "SELECT status, records_updated, error_message, trigger, completed_at IS NOT NULL FROM jobs_log WHERE job_name = 'noop'")
    assert (status, records, err, trigger, completed) == ("success", 3, None, "manual", True)

    [(details,)] = sql("SELECT details FROM audit_log WHERE action_type = 'background_job_execution'")
    assert details["job_name"] == "noop" and details["status"] == "success" and details["things"] == 7
    assert isinstance(details["execution_time_ms"], int)
    # the seeds' runbook casts execution_time_ms to int: it must work verbatim
    assert sql("SELECT AVG((details->>'execution_time_ms')::int) FROM audit_log "
               "WHERE action_type = 'background_job_execution'")[0][0] is not None
    [(trig,)] = sql("SELECT details->>'job_name' FROM audit_log WHERE action_type = 'manual_job_trigger'")
    assert trig == "noop"
    [(hb_status, meta)] = sql("SELECT status, metadata FROM job_heartbeats WHERE job_name = 'noop'")
    assert hb_status == "healthy" and meta["records_updated"] == 3


def test_failing_body_is_rolled_back_recorded_and_announced(db, sql, register):
    sql("CREATE TABLE public.side_effects (x int)")
    sql("GRANT INSERT, SELECT ON public.side_effects TO bgjobs_runner")   # a job runs as bgjobs_runner
    register("boom", "INSERT INTO public.side_effects VALUES (1); "
                     "RAISE EXCEPTION 'Database connection failed' USING DETAIL = 'Connection timeout after 10000ms';")
    sql("SELECT set_secret('SLACK_WEBHOOK_URL', 'http://127.0.0.1:9/hook')")
    with psycopg.connect(db, autocommit=True) as listener:
        listener.execute("LISTEN job_failure")
        resp = sql("SELECT run_job('boom')")[0][0]
        notes = list(listener.notifies(timeout=5, stop_after=1))
    assert resp["success"] is False
    assert resp["error"] == "Database connection failed"
    assert resp["errorDetails"] == "Connection timeout after 10000ms"
    assert sql("SELECT count(*) FROM public.side_effects")[0][0] == 0          # rolled back
    [(status, err)] = sql("SELECT status, error_message FROM jobs_log WHERE job_name = 'boom'")
    assert (status, err) == ("failed", "Database connection failed")
    assert sql("SELECT details->>'status' FROM audit_log WHERE action_type = 'background_job_execution'")[0][0] == "failed"
    assert sql("SELECT status FROM job_heartbeats WHERE job_name = 'boom'")[0][0] == "failed"
    payload = json.loads(notes[0].payload)
    assert payload["job_name"] == "boom" and payload["error_message"] == "Database connection failed"
    assert payload["alert_time"]
    # and an operational alert is queued for Slack
    assert sql("SELECT channel, template, category FROM notifications") == [("slack", "job_failure", "alert")]


def test_hand_inserted_failed_row_notifies(db, sql):
    """The seeds' Test 1: a failed row inserted by hand is announced at once."""
    with psycopg.connect(db, autocommit=True) as listener:
        listener.execute("LISTEN job_failure")
        sql("""INSERT INTO jobs_log (job_name, started_at, completed_at, status, error_message)
               VALUES ('update-installment-statuses', now(), now(), 'failed',
                       'TEST ALERT - Please ignore this simulated failure')""")
        notes = list(listener.notifies(timeout=5, stop_after=1))
    payload = json.loads(notes[0].payload)
    assert payload["job_name"] == "update-installment-statuses"
    assert payload["error_message"] == "TEST ALERT - Please ignore this simulated failure"
    sql("DELETE FROM jobs_log WHERE error_message = 'TEST ALERT - Please ignore this simulated failure'")
    assert sql("SELECT count(*) FROM jobs_log")[0][0] == 0


def test_unknown_job_raises_naming_it(sql):
    with pytest.raises(psycopg.errors.UndefinedObject, match='unknown job "no-such-job"'):
        sql("SELECT run_job('no-such-job')")


def test_registered_job_without_body_fails_honestly(sql):
    sql("INSERT INTO bgjobs.job_registry (job_name, schedule, function_name) VALUES ('later', '* * * * *', 'job_later')")
    resp = sql("SELECT run_job('later')")[0][0]
    assert resp["success"] is False and resp["error"] == 'job "later" is not implemented yet'
    assert sql("SELECT status FROM jobs_log WHERE job_name = 'later'") == [("failed",)]


def test_registered_job_without_body_names_the_missing_function(sql):
    sql("INSERT INTO bgjobs.job_registry (job_name, schedule, function_name) VALUES ('later', '* * * * *', 'job_later')")
    resp = sql("SELECT run_job('later')")[0][0]
    assert resp["errorDetails"] == "function bgjobs.job_later(timestamptz, uuid[]) does not exist"
    [(err, details)] = sql("SELECT error_message, error_details FROM jobs_log WHERE job_name = 'later'")
    assert err == 'job "later" is not implemented yet'
    assert details.startswith("function bgjobs.job_later(timestamptz, uuid[]) does not exist")


def test_body_that_calls_a_missing_function_reports_that_function(sql, register):
    """The body exists but fails with undefined_function itself: its own error is recorded,
    not "not implemented yet" (the body is looked up only when its call fails that way)."""
    register("halfdone", "PERFORM bgjobs.no_such_helper(1); RETURN '{}'::jsonb;")
    resp = sql("SELECT run_job('halfdone')")[0][0]
    assert resp["success"] is False
    assert resp["error"] == "function bgjobs.no_such_helper(integer) does not exist"
    assert sql("SELECT status, error_message FROM jobs_log WHERE job_name = 'halfdone'") == \
        [("failed", "function bgjobs.no_such_helper(integer) does not exist")]


def test_runs_in_one_transaction_each_leave_one_finished_row(db, sql, register):
    """run_job writes a run's jobs_log row once, with its outcome: several runs in one
    transaction leave one finished row each (no 'running' row), each with its audit rows."""
    register("ok", "RETURN jsonb_build_object('recordsUpdated', 2);")
    register("bad", "RAISE EXCEPTION 'bad day';")
    with psycopg.connect(db) as c:                                    # one transaction
        pid = c.info.backend_pid
        resps = [c.execute("SELECT run_job(%s)", (j,)).fetchone()[0] for j in ("ok", "bad", "ok")]
        # inside the transaction the finished rows are there already
        assert c.execute("SELECT count(*) FROM jobs_log WHERE status <> 'running'").fetchone()[0] == 3
    assert [r["success"] for r in resps] == [True, False, True]
    rows = sql("SELECT id, job_name, status, trigger, pid, records_updated, error_message, "
               "started_at <= completed_at, as_of IS NOT NULL FROM jobs_log ORDER BY job_name, status")
    assert [r[1:] for r in rows] == [("bad", "failed", "manual", pid, 0, "bad day", True, True),
                                     ("ok", "success", "manual", pid, 2, None, True, True),
                                     ("ok", "success", "manual", pid, 2, None, True, True)]
    assert sorted(str(r[0]) for r in rows) == sorted(r["runId"] for r in resps)
    for action in ("manual_job_trigger", "background_job_execution"):
        assert sorted(x[0] for x in sql("SELECT details->>'run_id' FROM audit_log WHERE action_type = %s", action)) \
            == sorted(r["runId"] for r in resps)
    assert sql("SELECT status, metadata->>'run_id' FROM job_heartbeats WHERE job_name = 'ok'") == \
        [("healthy", resps[2]["runId"])]


def test_abandoned_run_is_reaped_by_the_next_run_job(db, sql, register):
    register("next", "RETURN '{}'::jsonb;")
    # a committed 'running' row whose backend is gone (no session holds the job's run lock)
    [(stale,)] = sql("INSERT INTO jobs_log (job_name, status, trigger, pid, as_of) "
                     "VALUES ('check-sla-and-overdue', 'running', 'cron', 999999, now()) RETURNING id")
    assert sql("SELECT run_job('next')")[0][0]["success"] is True
    [(status, err)] = sql("SELECT status, error_message FROM jobs_log WHERE id = %s", stale)
    assert status == "failed" and "ended before the run finished" in err
    assert sql("SELECT count(*) FROM jobs_log WHERE status = 'running'") == [(0,)]


def _run_in_thread(dsn, query):
    box = {}

    def target():
        try:
            with psycopg.connect(dsn, autocommit=True) as c:
                box["pid"] = c.info.backend_pid
                cur = c.execute(query)
                box["result"] = cur.fetchone() if cur.description else None
        except Exception as exc:  # noqa: BLE001 - reported to the test
            box["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t, box


def test_overlapping_run_is_skipped_and_running_is_visible(db, sql, register):
    register("slow", "PERFORM pg_sleep(2); RETURN '{}'::jsonb;")
    t, box = _run_in_thread(db, "SELECT run_job('slow')")          # one transaction
    state = wait_for(lambda: sql("SELECT state, running_pid FROM job_status WHERE job_name = 'slow'")[0]
                     if sql("SELECT state FROM job_status WHERE job_name = 'slow'")[0][0] == "Running" else None)
    assert state[0] == "Running" and state[1] == box["pid"]
    second = sql("SELECT run_job('slow')")[0][0]
    assert second["success"] is False and second["skipped"] is True
    assert "already running" in second["error"]
    t.join(10)
    assert box["result"][0]["success"] is True
    assert sorted(r[0] for r in sql("SELECT status FROM jobs_log WHERE job_name = 'slow'")) == ["skipped", "success"]


def test_pg_cron_path_commits_running_row_first(db, sql, register):
    register("slow2", "PERFORM pg_sleep(1.5); RETURN jsonb_build_object('recordsUpdated', 1);")
    t, box = _run_in_thread(db, "CALL bgjobs.run_scheduled_job('slow2')")
    wait_for(lambda: sql("SELECT 1 FROM jobs_log WHERE job_name = 'slow2' AND status = 'running'"))
    t.join(10)
    assert "error" not in box
    assert sql("SELECT status, trigger, records_updated FROM jobs_log WHERE job_name = 'slow2'") == [("success", "cron", 1)]
    # the session lock was released: the next run is not skipped
    sql("CALL bgjobs.run_scheduled_job('slow2')")
    assert sql("SELECT count(*) FROM jobs_log WHERE job_name = 'slow2' AND status = 'success'")[0][0] == 2


def test_run_whose_backend_was_terminated_is_reaped(db, sql, register):
    register("victim", "PERFORM pg_sleep(60); RETURN '{}'::jsonb;")
    t, box = _run_in_thread(db, "CALL bgjobs.run_scheduled_job('victim')")
    [(pid,)] = wait_for(lambda: sql("SELECT pid FROM jobs_log WHERE job_name = 'victim' AND status = 'running'"))
    with psycopg.connect(db, autocommit=True) as listener:
        listener.execute("LISTEN job_failure")
        sql("SELECT pg_terminate_backend(%s)", pid)
        t.join(10)
        wait_for(lambda: not sql("SELECT 1 FROM pg_stat_activity WHERE pid = %s", pid))
        reaped = sql("SELECT bgjobs.reap_stale_runs()")[0][0]
        notes = list(listener.notifies(timeout=5, stop_after=1))
    assert reaped == 1
    [(status, err)] = sql("SELECT status, error_message FROM jobs_log WHERE job_name = 'victim'")
    assert status == "failed" and "ended before the run finished" in err
    assert json.loads(notes[0].payload)["job_name"] == "victim"
    # and the job runs again
    sql("UPDATE bgjobs.job_registry SET function_name = 'job_victim_fast' WHERE job_name = 'victim'")
    sql("CREATE FUNCTION bgjobs.job_victim_fast(timestamptz, uuid[]) RETURNS jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$")
    assert sql("SELECT run_job('victim')")[0][0]["success"] is True


def test_run_past_its_timeout_is_cancelled_and_recorded_failed(db, sql, register):
    register("hang", "PERFORM pg_sleep(30); RETURN '{}'::jsonb;", timeout="1 second")
    t, box = _run_in_thread(db, "CALL bgjobs.run_scheduled_job('hang')")
    wait_for(lambda: sql("SELECT 1 FROM jobs_log WHERE job_name = 'hang' AND status = 'running'"))
    time.sleep(1.2)
    sql("SELECT bgjobs.reap_stale_runs(true)")
    t.join(10)
    [(status, err)] = sql("SELECT status, error_message FROM jobs_log WHERE job_name = 'hang'")
    assert status == "failed" and "exceeded its timeout of 00:00:01" in err


def test_tenant_local_tick_handles_each_tenant_once_per_local_date(sql, register):
    register("local", "RETURN jsonb_build_object('tenants', coalesce(cardinality(p_tenants), -1));",
             tenant_local=True, local_time="02:00", schedule="*/15 * * * *")
    sql("INSERT INTO tenants (name, timezone) VALUES ('Kolkata', 'Asia/Kolkata'), ('New York', 'America/New_York')")
    # Neither tenant was ever handled.  20:15 UTC = 15:15 in New York, whose 02:00 slot of
    # 2026-11-22 has passed: a run as of the tick.  It is 01:45 on the 23rd in Kolkata,
    # whose slot of the 22nd (02:00 IST = 20:30 UTC on the 21st) was missed: a run before
    # it, as of that slot.  Only the latest slot of each tenant is caught up.
    sql("CALL bgjobs.run_scheduled_job('local', '2026-11-22 20:15+00')")
    # 20:30 UTC = 02:00 in Kolkata (local date 2026-11-23): Kolkata only
    sql("CALL bgjobs.run_scheduled_job('local', '2026-11-22 20:30+00')")
    # 20:45 UTC: nobody due; an idle tick is not a run and records nothing
    sql("CALL bgjobs.run_scheduled_job('local', '2026-11-22 20:45+00')")
    assert [(str(a), r) for a, r in sql("SELECT as_of, results FROM jobs_log WHERE job_name = 'local' ORDER BY started_at")] == [
        ("2026-11-21 20:30:00+00:00", {"tenants": 1}), ("2026-11-22 20:15:00+00:00", {"tenants": 1}),
        ("2026-11-22 20:30:00+00:00", {"tenants": 1})]
    # 07:00 UTC next day = 02:00 in New York
    sql("CALL bgjobs.run_scheduled_job('local', '2026-11-23 07:00+00')")
    rows = sql("SELECT t.name, r.local_date::text FROM bgjobs.tenant_job_runs r JOIN tenants t ON t.id = r.tenant_id "
               "ORDER BY r.handled_at, t.name")
    assert rows == [("Kolkata", "2026-11-22"), ("New York", "2026-11-22"), ("Kolkata", "2026-11-23"),
                    ("New York", "2026-11-23")]
    assert [r[0] for r in sql("SELECT results->>'tenants' FROM jobs_log WHERE job_name = 'local' "
                              "ORDER BY started_at")] == ["1", "1", "1", "1"]     # one tenant per run


def test_a_tenant_with_a_missed_slot_is_due_now_for_status_too(sql, register):
    """next_expected_run (job_status' next run) agrees with the tick: a tenant whose slot of
    yesterday was missed is due now; once handled, its next slot is today's."""
    register("local", "RETURN '{}'::jsonb;", tenant_local=True, local_time="02:00", schedule="*/15 * * * *")
    [(kolkata,)] = sql("INSERT INTO tenants (name, timezone) VALUES ('Kolkata', 'Asia/Kolkata') RETURNING id")
    at = "2026-11-22 20:15+00"                                   # 01:45 on the 23rd in Kolkata
    nxt = lambda: str(sql("SELECT bgjobs.next_expected_run('local', %s)", at)[0][0])  # noqa: E731
    assert nxt() == "2026-11-22 20:15:00+00:00"
    assert sql("SELECT bgjobs.due_tenants('local', %s)", at) == [([kolkata],)]
    sql("INSERT INTO bgjobs.tenant_job_runs (job_name, tenant_id, local_date) VALUES ('local', %s, '2026-11-22')",
        kolkata)
    assert nxt() == "2026-11-22 20:30:00+00:00"                 # 02:00 IST on the 23rd
    assert sql("SELECT bgjobs.due_tenants('local', %s)", at) == [([],)]


def test_unknown_tenant_time_zone_is_refused(sql):
    with pytest.raises(psycopg.errors.InvalidParameterValue, match='unknown time zone "Mars/Olympus" for tenant "Ares"'):
        sql("INSERT INTO tenants (name, timezone) VALUES ('Ares', 'Mars/Olympus')")


def test_silenced_job_failure_still_notifies_listeners_but_queues_no_alert(db, sql, register):
    register("muted", "RAISE EXCEPTION 'expected during maintenance';")
    sql("SELECT set_secret('SLACK_WEBHOOK_URL', 'http://127.0.0.1:9/hook')")
    sql("SELECT silence_job('muted', now() + interval '1 hour', 'planned maintenance')")
    with psycopg.connect(db, autocommit=True) as listener:
        listener.execute("LISTEN job_failure")
        assert sql("SELECT run_job('muted')")[0][0]["success"] is False
        assert len(list(listener.notifies(timeout=5, stop_after=1))) == 1
    assert sql("SELECT count(*) FROM notifications")[0][0] == 0
    register("loud", "RAISE EXCEPTION 'not silenced';")
    sql("SELECT run_job('loud')")
    assert sql("SELECT count(*) FROM notifications WHERE template = 'job_failure'")[0][0] == 1
