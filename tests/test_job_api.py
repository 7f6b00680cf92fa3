"""The job API (CONTRACT §4, issue 9 items 2 and 6): bgjobs.register_job, unregister_job,
pause_job, resume_job and `bgjobs jobs ...`.

The README's "Add your own job" example runs here exactly as printed (its SQL blocks are
read from README.md), then bad registrations (each changes nothing), pause and resume,
unregister, re-install keeping all of it, and pg_cron itself ticking a registered job.
Ticks are replayed with CALL bgjobs.run_scheduled_job(job, at), as pg_cron calls it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
JOB = "count-orders"


def readme_blocks() -> list[str]:
    text = README.read_text()
    start = text.index("<!-- example: add-your-own-job")
    end = text.index("<!-- end of example -->", start)
    return re.findall(r"```sql\n(.*?)```", text[start:end], flags=re.DOTALL)


def bgjobs(*args, check=False):
    return subprocess.run([sys.executable, "-m", "bgjobs", *args], capture_output=True, text=True, check=check)


def tick(sql, job, at):
    """What pg_cron does at `at`, as the role pg_cron runs bgjobs' jobs as; returns the
    jobs_log rows (status, as_of, trigger) it wrote."""
    before = sql("SELECT count(*) FROM jobs_log WHERE job_name = %s", job)[0][0]
    sql("SET ROLE bgjobs_runner")
    try:
        sql("CALL bgjobs.run_scheduled_job(%s, %s::timestamptz)", job, at)
    finally:
        sql("RESET ROLE")
    return sql("SELECT status, as_of, trigger FROM jobs_log WHERE job_name = %s ORDER BY started_at OFFSET %s",
               job, before)


def snapshot(sql):
    """Everything a registration may change."""
    return (sql("SELECT * FROM bgjobs.job_registry ORDER BY job_name"),
            sql("SELECT count(*) FROM audit_log")[0][0],
            sql("SELECT count(*) FROM bgjobs.job_slots")[0][0])


@pytest.fixture
def example(sql):
    """The README's steps 1-3 (the work, the grants, the registration), as printed."""
    blocks = readme_blocks()
    assert len(blocks) == 4
    sql(blocks[0])
    return blocks


def next_slot(sql, after="now()"):
    """The next 08:00 in Berlin after `after` (computed here independently of bgjobs)."""
    return sql(f"""SELECT min(s) FROM (
                     SELECT ((({after}) AT TIME ZONE 'Europe/Berlin')::date + d + time '08:00')
                            AT TIME ZONE 'Europe/Berlin' AS s FROM generate_series(0, 2) d) x
                   WHERE s > {after}""")[0][0]


# ------------------------------------------------------------------ the README example

def test_readme_example_runs_at_0800_berlin_records_results_and_shows_in_status(example, sql, db):
    [(schedule, tz, tick_expr, body, args, returns)] = sql(
        "SELECT schedule, timezone, tick, function_schema || '.' || function_name, body_args, body_returns "
        "FROM bgjobs.job_registry WHERE job_name = %s", JOB)
    assert (schedule, tz, tick_expr, body, args, returns) == (
        "0 8 * * *", "Europe/Berlin", "*/15 * * * *", "public.count_yesterdays_orders", 1, "jsonb")
    slot = next_slot(sql)
    assert sql("SELECT bgjobs.next_expected_run(%s)", JOB)[0][0] == slot
    # three orders on the Berlin day before the slot, one on the slot's own day
    day_before = sql("SELECT ((%s::timestamptz AT TIME ZONE 'Europe/Berlin')::date - 1)", slot)[0][0]
    sql("INSERT INTO orders (placed_at) SELECT (%s::date + time '12:00') AT TIME ZONE 'Europe/Berlin' "
        "FROM generate_series(1, 3)", day_before)
    sql("INSERT INTO orders (placed_at) VALUES (%s::timestamptz - interval '1 minute')", slot)

    # the ticks of pg_cron around the slot: only the first at or after it runs, as of the slot
    assert tick(sql, JOB, slot - timedelta(minutes=15)) == []
    assert tick(sql, JOB, slot) == [("success", slot, "cron")]
    assert tick(sql, JOB, slot + timedelta(minutes=15)) == []
    [(status, records, results)] = sql("SELECT status, records_updated, results FROM jobs_log WHERE job_name = %s", JOB)
    assert (status, records, results) == ("success", 1, {"day": str(day_before), "orders": 3, "recordsUpdated": 1})
    assert sql("SELECT day, orders FROM daily_order_counts") == [(day_before, 3)]
    [(details,)] = sql("SELECT details FROM audit_log WHERE action_type = 'background_job_execution' "
                       "AND details->>'job_name' = %s", JOB)
    assert details["status"] == "success" and details["orders"] == 3
    assert sql("SELECT status FROM job_heartbeats WHERE job_name = %s", JOB) == [("healthy",)]

    # the server is down over the next slot and comes back 3 hours later: one run, as of it
    slot2 = next_slot(sql, f"'{slot.isoformat()}'::timestamptz")
    assert tick(sql, JOB, slot2 + timedelta(hours=3)) == [("success", slot2, "cron")]
    assert tick(sql, JOB, slot2 + timedelta(hours=3, minutes=15)) == []
    # the missed-run rule agrees: nothing missed once the slot ran
    assert sql("SELECT rule FROM bgjobs.detect_job_issues(%s) WHERE subject = %s",
               slot2 + timedelta(hours=4), JOB) == []

    # bgjobs status shows it, with the next 08:00 in Berlin
    [(state, last_status, nxt, tz_shown)] = sql(
        "SELECT state, last_status, next_expected_run, timezone FROM job_status WHERE job_name = %s", JOB)
    assert (state, last_status, tz_shown) == ("Success", "success", "Europe/Berlin")
    assert nxt == slot      # slots before the registration are not run late; the next one is
    out = bgjobs("status", "--json", "--dsn", db, check=True).stdout
    shown = {r["job_name"]: r for r in json.loads(out)}
    assert shown[JOB]["last_status"] == "success"
    listed = json.loads(bgjobs("jobs", "list", "--json", "--dsn", db, check=True).stdout)
    assert [(r["schedule"], r["timezone"], r["body"]) for r in listed if r["job_name"] == JOB] == [
        ("0 8 * * *", "Europe/Berlin", "public.count_yesterdays_orders")]


def test_readme_example_alerts_on_failure(example, sql, conn):
    sql(example[1])                                       # alert_email_to = ops@example.com
    conn.execute("LISTEN job_failure")
    # a failure: the runner lost its right to write the counts
    sql("REVOKE INSERT, UPDATE ON daily_order_counts FROM bgjobs_runner")
    slot = next_slot(sql)
    assert [r[0] for r in tick(sql, JOB, slot)] == ["failed"]
    [(err,)] = sql("SELECT error_message FROM jobs_log WHERE job_name = %s", JOB)
    assert "permission denied for table daily_order_counts" in err
    notices = [json.loads(n.payload) for n in conn.notifies(timeout=2, stop_after=1)]
    assert [(n["job_name"], "permission denied" in n["error_message"]) for n in notices] == [(JOB, True)]
    mails = sql("SELECT recipient, payload->>'job_name' FROM notifications "
                "WHERE category = 'alert' AND channel = 'email'")
    assert (("ops@example.com", JOB)) in mails
    assert sql("SELECT status FROM job_heartbeats WHERE job_name = %s", JOB) == [("failed",)]


def test_readme_example_maintenance_window(example, sql, db):
    sql(example[2])                                       # paused for 2 hours, with a reason
    [(state, paused, until, reason)] = sql(
        "SELECT state, paused, paused_until, pause_reason FROM job_status WHERE job_name = %s", JOB)
    assert (state, paused, reason) == ("Paused", True, "orders table migration")
    assert sql("SELECT paused_until - paused_from, paused_until = %s FROM bgjobs.job_registry WHERE job_name = %s",
               until, JOB) == [(timedelta(hours=2), True)]
    listed = json.loads(bgjobs("jobs", "list", "--json", "--dsn", db, check=True).stdout)
    assert [r["paused"] for r in listed if r["job_name"] == JOB] == [True]
    # a tick inside the window does nothing and records nothing
    assert tick(sql, JOB, sql("SELECT now() + interval '1 hour'")[0][0]) == []
    sql(example[3])                                       # resumed
    assert sql("SELECT state, paused FROM job_status WHERE job_name = %s", JOB) == [("Pending", False)]
    assert [r[0] for r in sql("SELECT action_type FROM audit_log WHERE details->>'job_name' = %s "
                              "ORDER BY \"timestamp\", action_type", JOB)] == [
        "job_registered", "job_paused", "job_resumed"]
    slot = next_slot(sql)
    assert tick(sql, JOB, slot) == [("success", slot, "cron")]


# ------------------------------------------------------------------ pause semantics

def test_pause_until_ends_by_itself_and_skips_the_slots_it_covered(example, sql):
    slot = next_slot(sql)
    nxt = next_slot(sql, f"'{slot.isoformat()}'::timestamptz")
    sql("SELECT bgjobs.pause_job(%s, until => %s::timestamptz + interval '1 hour', reason => 'window')", JOB, slot)
    assert tick(sql, JOB, slot) == []                                   # paused: nothing
    # no missed-run alert while paused, nor for the slot it covered once it is over
    for at in (slot + timedelta(minutes=45), slot + timedelta(hours=3)):
        assert sql("SELECT rule FROM bgjobs.detect_job_issues(%s) WHERE subject = %s", at, JOB) == []
    # the pause ended by itself at slot + 1 h: the covered slot is not caught up ...
    assert tick(sql, JOB, slot + timedelta(hours=1, minutes=15)) == []
    assert sql("SELECT bgjobs.next_expected_run(%s, %s)", JOB, slot + timedelta(hours=2))[0][0] == nxt
    # ... the next one runs
    assert tick(sql, JOB, nxt) == [("success", nxt, "cron")]
    # and a slot that then passes without a run is missed again
    after = next_slot(sql, f"'{nxt.isoformat()}'::timestamptz")
    rules = sql("SELECT rule FROM bgjobs.detect_job_issues(%s) WHERE subject = %s", after + timedelta(hours=3), JOB)
    assert rules == [("missed_run",)]


def test_paused_job_has_no_next_run_and_manual_runs_still_work(example, sql):
    sql("SELECT bgjobs.pause_job(%s)", JOB)
    assert sql("SELECT state, next_expected_run FROM job_status WHERE job_name = %s", JOB) == [("Paused", None)]
    assert sql("SELECT run_job(%s) ->> 'success'", JOB) == [("true",)]
    sql("SELECT bgjobs.resume_job(%s)", JOB)
    assert sql("SELECT next_expected_run FROM job_status WHERE job_name = %s", JOB) == [(next_slot(sql),)]


def test_pause_refuses_a_past_until_and_unknown_jobs(example, sql):
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="must be a finite time in the future"):
        sql("SELECT bgjobs.pause_job(%s, now() - interval '1 minute')", JOB)
    with pytest.raises(psycopg.errors.UndefinedObject, match='pause_job: unknown job "nope"'):
        sql("SELECT bgjobs.pause_job('nope')")
    with pytest.raises(psycopg.errors.UndefinedObject, match='resume_job: unknown job "nope"'):
        sql("SELECT bgjobs.resume_job('nope')")
    assert sql("SELECT paused_from FROM bgjobs.job_registry WHERE job_name = %s", JOB) == [(None,)]


# ------------------------------------------------------------------ bodies and registrations

def test_each_body_form_runs(sql):
    sql("CREATE TABLE public.hits (n integer, tenants integer)")
    sql("GRANT INSERT ON public.hits TO bgjobs_runner")
    sql("""CREATE FUNCTION public.f_void() RETURNS void LANGUAGE sql AS $$ INSERT INTO public.hits VALUES (0, NULL) $$""")
    sql("""CREATE FUNCTION public.f_int(as_of timestamptz) RETURNS integer LANGUAGE sql
           AS $$ INSERT INTO public.hits VALUES (1, NULL); SELECT 7 $$""")
    sql("""CREATE FUNCTION public.f_json(as_of timestamptz, tenants uuid[]) RETURNS jsonb LANGUAGE sql
           AS $$ INSERT INTO public.hits VALUES (2, cardinality(tenants));
                 SELECT jsonb_build_object('recordsUpdated', 4, 'tenants', cardinality(tenants)) $$""")
    sql("INSERT INTO tenants (name, timezone) VALUES ('A', 'Europe/Berlin'), ('B', 'Asia/Tokyo')")
    sql("SELECT bgjobs.register_job('j-void', 'f_void', '* * * * *')")
    sql("SELECT bgjobs.register_job('j-int', 'public.f_int', '*/5 * * * *')")
    sql("SELECT bgjobs.register_job('j-json', 'public.f_json', '30 6 * * *', 'tenant')")
    assert sql("SELECT job_name, body_args, body_returns, tick, tenant_local, local_time::text FROM bgjobs.job_registry "
               "WHERE job_name LIKE 'j-%' ORDER BY 1") == [
        ("j-int", 1, "integer", None, False, None), ("j-json", 2, "jsonb", "*/15 * * * *", True, "06:30:00"),
        ("j-void", 0, "void", None, False, None)]
    for job in ("j-void", "j-int"):
        assert sql("SELECT run_job(%s) ->> 'success'", job) == [("true",)]
    # the tenant job on pg_cron's ticks: 05:15 UTC is 06:15 in Berlin (winter), 14:15 in Tokyo:
    # Tokyo only; 05:30 UTC is 06:30 in Berlin: Berlin (the day before was handled, as by
    # its own ticks: else the first tick would catch up Berlin's missed slot of 1 December)
    sql("INSERT INTO bgjobs.tenant_job_runs (job_name, tenant_id, local_date) "
        "SELECT 'j-json', id, '2026-12-01' FROM tenants")
    tick(sql, "j-json", "2026-12-02 05:15+00")
    tick(sql, "j-json", "2026-12-02 05:30+00")
    assert sql("SELECT job_name, records_updated, results FROM jobs_log ORDER BY started_at") == [
        ("j-void", 0, {}), ("j-int", 7, {"recordsUpdated": 7}),
        ("j-json", 4, {"recordsUpdated": 4, "tenants": 1}), ("j-json", 4, {"recordsUpdated": 4, "tenants": 1})]
    assert sql("SELECT n, tenants FROM hits ORDER BY n") == [(0, None), (1, None), (2, 1), (2, 1)]



def test_a_weekly_job_in_each_tenants_zone(sql):
    """timezone 'tenant' with a schedule on some days: Mondays at 09:00 in each tenant's
    zone.  Each tenant runs once per Monday, as of its own 09:00; Mondays missed while the
    server was down are caught up on the first tick after, each as of itself."""
    sql("CREATE TABLE public.weekly_hits (tenant text, local_day date)")
    sql("GRANT INSERT ON public.weekly_hits TO bgjobs_runner")
    sql("""CREATE FUNCTION public.weekly_digest(as_of timestamptz, tenants uuid[]) RETURNS integer LANGUAGE sql
           AS $$ INSERT INTO public.weekly_hits SELECT t.name, (as_of AT TIME ZONE t.timezone)::date
                   FROM public.tenants t WHERE t.id = ANY (tenants);
                 SELECT cardinality(tenants) $$""")
    sql("INSERT INTO tenants (name, timezone) VALUES ('Tokyo', 'Asia/Tokyo'), ('New York', 'America/New_York')")
    sql("SELECT bgjobs.register_job('weekly-digest', 'public.weekly_digest', '0 9 * * mon', 'tenant')")
    assert sql("SELECT tenant_local, local_time::text, tick, expected_interval::text, timezone FROM bgjobs.job_registry "
               "WHERE job_name = 'weekly-digest'") == [(True, "09:00:00", "*/15 * * * *", "168:00:00", "tenant")]
    # as if registered on 1 December: its slots count from then (Monday 30 November is not caught up)
    sql("UPDATE bgjobs.job_registry SET slots_from = '2026-12-01 00:00+00' WHERE job_name = 'weekly-digest'")
    when = lambda rows: [(s, str(a)) for s, a, _ in rows]  # noqa: E731
    # Monday 7 December: 09:00 in Tokyo is 00:00 UTC; in New York (Sunday evening then) 14:00 UTC
    assert when(tick(sql, "weekly-digest", "2026-12-07 00:00+00")) == [("success", "2026-12-07 00:00:00+00:00")]
    assert tick(sql, "weekly-digest", "2026-12-07 00:15+00") == []
    assert tick(sql, "weekly-digest", "2026-12-07 13:45+00") == []
    assert when(tick(sql, "weekly-digest", "2026-12-07 14:00+00")) == [("success", "2026-12-07 14:00:00+00:00")]
    assert tick(sql, "weekly-digest", "2026-12-08 00:00+00") == []                 # Tuesday 09:00 in Tokyo
    nxt = lambda at: str(sql("SELECT bgjobs.next_expected_run('weekly-digest', %s)", at)[0][0])  # noqa: E731
    assert nxt("2026-12-08 00:00+00") == "2026-12-14 00:00:00+00:00"                # Tokyo's next Monday
    # down from Sunday 13 December 12:00 UTC to Tuesday 15 December 03:00 UTC: both Mondays
    # missed.  Tokyo's (now Tuesday noon there) runs as of its slot; in New York it is still
    # Monday evening, so its Monday runs as of the tick, as an on-time one would
    assert nxt("2026-12-15 03:00+00") == "2026-12-15 03:00:00+00:00"                # due now
    assert when(tick(sql, "weekly-digest", "2026-12-15 03:00+00")) == [
        ("success", "2026-12-14 00:00:00+00:00"), ("success", "2026-12-15 03:00:00+00:00")]
    assert tick(sql, "weekly-digest", "2026-12-15 03:15+00") == []
    assert nxt("2026-12-15 03:15+00") == "2026-12-21 00:00:00+00:00"
    assert sql("SELECT tenant, local_day::text FROM weekly_hits ORDER BY local_day, tenant") == [
        ("New York", "2026-12-07"), ("Tokyo", "2026-12-07"), ("New York", "2026-12-14"), ("Tokyo", "2026-12-14")]
    assert sql("SELECT schedule, timezone FROM job_status WHERE job_name = 'weekly-digest'") == [("0 9 * * mon", "tenant")]

BAD = [
    ("SELECT bgjobs.register_job('bad name!', 'public.ok_body', '0 8 * * *')", "job name 'bad name!' is not valid"),
    ("SELECT bgjobs.register_job('', 'public.ok_body', '0 8 * * *')", "job name '' is not valid"),
    ("SELECT bgjobs.register_job('x', 'public.no_such_fn', '0 8 * * *')", "body function public.no_such_fn does not exist"),
    ("SELECT bgjobs.register_job('x', 'a.b.c', '0 8 * * *')", "body 'a.b.c' is not a function name"),
    ("SELECT bgjobs.register_job('x', 'public.wrong_args', '0 8 * * *')",
     "must be a function taking (), (as_of timestamptz) or (as_of timestamptz, tenants uuid[]); found public.wrong_args(text)"),
    ("SELECT bgjobs.register_job('x', 'public.wrong_return', '0 8 * * *')", "must return jsonb, integer or void, not text"),
    ("SELECT bgjobs.register_job('x', 'public.ok_body', '61 8 * * *')", "schedule '61 8 * * *'"),
    ("SELECT bgjobs.register_job('x', 'public.ok_body', '0 8 * *')", "schedule '0 8 * *'"),
    ("SELECT bgjobs.register_job('x', 'public.ok_body', '0 0 31 2 *')", "schedule '0 0 31 2 *'"),
    ("SELECT bgjobs.register_job('x', 'public.ok_body', '0 8 * * *', 'Mars/Olympus')", "Mars/Olympus"),
    ("SELECT bgjobs.register_job('x', 'public.ok_body', '*/5 * * * *', 'tenant')",
     "timezone tenant takes 'M H day-of-month month day-of-week' with a single minute and hour"),
    ("SELECT bgjobs.register_job('x', 'public.ok_body', '0 9 * * monday', 'tenant')", "schedule '0 9 * * monday'"),
    ("SELECT bgjobs.register_job('x', 'public.ok_body', '0 8 * * *', timeout => '0 seconds')", "timeout must be positive"),
    ("SELECT bgjobs.register_job('x', 'public.ok_body', '0 8 * * *', grace => '-1 hour')", "grace must not be negative"),
]


@pytest.mark.parametrize("call,message", BAD, ids=[m[:40] for _, m in BAD])
def test_bad_registration_names_what_is_wrong_and_changes_nothing(sql, call, message):
    sql("CREATE FUNCTION public.ok_body() RETURNS void LANGUAGE sql AS $$ SELECT $$")
    sql("CREATE FUNCTION public.wrong_args(x text) RETURNS jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$")
    sql("CREATE FUNCTION public.wrong_return() RETURNS text LANGUAGE sql AS $$ SELECT 'x' $$")
    before = snapshot(sql)
    with pytest.raises(psycopg.Error) as exc:
        sql(call)
    primary = exc.value.diag.message_primary
    assert message in primary and "\n" not in primary, primary
    assert snapshot(sql) == before


def test_a_re_registration_with_a_bad_input_keeps_the_job_as_it_was(example, sql):
    before = snapshot(sql)
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        sql("SELECT bgjobs.register_job(%s, 'public.count_yesterdays_orders', '0 25 * * *', 'Europe/Berlin')", JOB)
    assert snapshot(sql) == before


def test_admin_may_register_only_bodies_it_may_execute(example, sql, db, pg_server):
    sql("CREATE ROLE jobapi_dba LOGIN PASSWORD 'pw' IN ROLE bgjobs_admin")
    try:
        sql("CREATE FUNCTION public.secret_body() RETURNS void LANGUAGE sql AS $$ SELECT $$")
        sql("REVOKE ALL ON FUNCTION public.secret_body() FROM PUBLIC")
        dsn = psycopg.conninfo.make_conninfo(db, user="jobapi_dba", password="pw")
        with psycopg.connect(dsn, autocommit=True) as dba:
            before = snapshot(sql)
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="role jobapi_dba may not execute body"):
                dba.execute("SELECT bgjobs.register_job('sneaky', 'public.secret_body', '0 8 * * *')")
            assert snapshot(sql) == before
            with pytest.raises(psycopg.errors.InsufficientPrivilege):       # the registry is not writable directly
                dba.execute("UPDATE bgjobs.job_registry SET function_name = 'secret_body'")
            # what it may execute, it registers, pauses and removes
            sql("GRANT EXECUTE ON FUNCTION public.secret_body() TO jobapi_dba, bgjobs_runner")
            dba.execute("SELECT bgjobs.register_job('sneaky', 'public.secret_body', '0 8 * * *')")
            dba.execute("SELECT bgjobs.pause_job('sneaky', reason => 'test')")
            dba.execute("SELECT bgjobs.unregister_job('sneaky')")
        assert sql("SELECT registered_by FROM bgjobs.job_registry WHERE job_name = 'sneaky'") == []
        assert sql("SELECT count(*) FROM audit_log WHERE details->>'job_name' = 'sneaky' "
                   "AND details->>'by' = 'jobapi_dba'")[0][0] == 3
    finally:
        sql("DROP OWNED BY jobapi_dba")
        sql("DROP ROLE jobapi_dba")


def test_unregister_keeps_history(example, sql):
    slot = next_slot(sql)
    tick(sql, JOB, slot)
    sql("SELECT bgjobs.unregister_job(%s)", JOB)
    assert sql("SELECT count(*) FROM bgjobs.job_registry WHERE job_name = %s", JOB) == [(0,)]
    assert sql("SELECT count(*) FROM job_status WHERE job_name = %s", JOB) == [(0,)]
    assert sql("SELECT status FROM jobs_log WHERE job_name = %s", JOB) == [("success",)]
    assert sql("SELECT count(*) FROM job_heartbeats WHERE job_name = %s", JOB) == [(0,)]
    with pytest.raises(psycopg.errors.UndefinedObject, match=f'unknown job "{JOB}"'):
        sql("CALL bgjobs.run_scheduled_job(%s)", JOB)
    with pytest.raises(psycopg.errors.UndefinedObject, match='unregister_job: unknown job "count-orders"'):
        sql("SELECT bgjobs.unregister_job(%s)", JOB)


def test_cli_errors_are_one_line(example, db):
    for args, msg in [
        (("jobs", "add", "x", "--body", "public.nope", "--schedule", "0 8 * * *"), "body function public.nope does not exist"),
        (("jobs", "add", "x", "--body", "public.count_yesterdays_orders", "--schedule", "0 8 * * *",
          "--timeout", "forever"), "--timeout: not a duration"),
        (("jobs", "remove", "nope"), 'unknown job "nope"'),
        (("jobs", "pause", "nope"), 'unknown job "nope"'),
        (("jobs", "pause", JOB, "--until", "yesterday-ish"), "invalid input syntax for type timestamp"),
    ]:
        r = bgjobs(*args, "--dsn", db)
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        assert r.stderr.count("\n") == 1 and msg in r.stderr and "Traceback" not in r.stderr, r.stderr


# ------------------------------------------------------------------ install and pg_cron

def cron_rows(cron_conn, dbname):
    return {r[0]: r[1:] for r in cron_conn.execute(
        "SELECT jobname, schedule, command, username, active FROM cron.job WHERE database = %s", (dbname,)).fetchall()}


def test_reinstall_keeps_api_jobs_pauses_and_overrides(new_db, pg_server, cron_conn, tmp_path):
    name = new_db()
    dsn = pg_server.dsn(name)
    bgjobs("install", "--dsn", dsn, check=True)
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute(readme_blocks()[0])
        # pg_cron lives in another database here: the CLI applies the schedule there
        out = bgjobs("jobs", "add", JOB, "--body", "public.count_yesterdays_orders", "--schedule", "0 8 * * *",
                     "--timezone", "Europe/Berlin", "--timeout", "5 minutes",
                     "--description", "Yesterday's orders, counted at 08:00 Berlin time", "--dsn", dsn, check=True).stdout
        assert f"unchanged {JOB}" in out and "ticks '*/15 * * * *'" in out
        c.execute("SELECT bgjobs.pause_job(%s, reason => 'migration')", (JOB,))
        # an override of a shipped job through the API
        c.execute("SELECT bgjobs.register_job('check-sla-and-overdue', 'bgjobs_app.job_check_sla_and_overdue', "
                  "'*/5 * * * *', timeout => '10 minutes', expected_duration => '5 seconds', "
                  "description => 'Flags overdue tasks and SLA violations, runs automation rules')")
        before = c.execute("SELECT * FROM bgjobs.job_registry ORDER BY job_name").fetchall()
    bgjobs("jobs", "add", "check-sla-and-overdue", "--body", "bgjobs_app.job_check_sla_and_overdue",
           "--schedule", "*/5 * * * *", "--timeout", "10 minutes", "--expected-duration", "5 seconds",
           "--description", "Flags overdue tasks and SLA violations, runs automation rules", "--dsn", dsn, check=True)
    jobs = cron_rows(cron_conn, name)
    sla = next(n for n in jobs if n.startswith("check-sla-and-overdue"))
    mine = next(n for n in jobs if n.startswith(JOB))
    assert jobs[sla][0] == "*/5 * * * *"
    assert jobs[mine] == ("*/15 * * * *", f"CALL bgjobs.run_scheduled_job('{JOB}')", "bgjobs_runner", True)
    out = bgjobs("install", "--dsn", dsn, check=True).stdout
    assert "0 change(s)" in out.splitlines()[-1], out
    with psycopg.connect(dsn, autocommit=True) as c:
        assert c.execute("SELECT * FROM bgjobs.job_registry ORDER BY job_name").fetchall() == before
        assert c.execute("SELECT state FROM job_status WHERE job_name = %s", (JOB,)).fetchone() == ("Paused",)
    assert cron_rows(cron_conn, name) == jobs
    # removing it from the shell unschedules it in pg_cron's database; its history stays
    bgjobs("jobs", "remove", JOB, "--dsn", dsn, check=True)
    assert not any(n.startswith(JOB) for n in cron_rows(cron_conn, name))


def test_an_unregistered_shipped_job_stays_unregistered_until_named_again(new_db, pg_server, cron_conn, tmp_path):
    name = new_db()
    dsn = pg_server.dsn(name)
    bgjobs("install", "--dsn", dsn, check=True)
    bgjobs("jobs", "remove", "analytics-snapshot", "--dsn", dsn, check=True)
    assert not any(n.startswith("analytics-snapshot") for n in cron_rows(cron_conn, name))
    out = bgjobs("install", "--dsn", dsn, check=True).stdout
    assert "0 change(s)" in out.splitlines()[-1], out
    assert not any(n.startswith("analytics-snapshot") for n in cron_rows(cron_conn, name))
    with psycopg.connect(dsn, autocommit=True) as c:
        assert c.execute("SELECT count(*) FROM bgjobs.job_registry WHERE job_name = 'analytics-snapshot'").fetchone() == (0,)
        assert c.execute("SELECT count(*) FROM bgjobs.unregistered_jobs").fetchone() == (1,)
    # the settings file names it: it is registered again, with its pg_cron schedule
    settings = tmp_path / "s.toml"
    settings.write_text('[jobs."analytics-snapshot"]\nenabled = true\n')
    out = bgjobs("install", "--dsn", dsn, "--settings", str(settings), check=True).stdout
    assert "1 registry change(s)" in out and "pg_cron create: analytics-snapshot" in out, out
    assert any(n.startswith("analytics-snapshot") for n in cron_rows(cron_conn, name))
    with psycopg.connect(dsn, autocommit=True) as c:
        assert c.execute("SELECT count(*) FROM bgjobs.unregistered_jobs").fetchone() == (0,)


def test_settings_file_declares_a_job_of_your_own(new_db, pg_server, cron_conn, tmp_path):
    name = new_db()
    dsn = pg_server.dsn(name)
    bgjobs("install", "--dsn", dsn, "--no-schedule", check=True)
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute(readme_blocks()[0].split("-- 3. register")[0])          # the work and the grants only
    f = tmp_path / "settings.toml"
    f.write_text('[jobs."count-orders"]\nbody = "public.count_yesterdays_orders"\nschedule = "0 8 * * *"\n'
                 'timezone = "Europe/Berlin"\ntimeout = "5 minutes"\n')
    out = bgjobs("install", "--dsn", dsn, "--settings", str(f), check=True).stdout
    assert f"registry: add {JOB}" not in out                           # (that is --dry-run's wording)
    assert any(n.startswith(JOB) for n in cron_rows(cron_conn, name)), out
    with psycopg.connect(dsn, autocommit=True) as c:
        assert c.execute("SELECT schedule, timezone, tick, timeout FROM bgjobs.job_registry WHERE job_name = %s",
                         (JOB,)).fetchone() == ("0 8 * * *", "Europe/Berlin", "*/15 * * * *", timedelta(minutes=5))
    again = bgjobs("install", "--dsn", dsn, "--settings", str(f), check=True).stdout
    assert "0 change(s)" in again.splitlines()[-1], again
    bad = tmp_path / "bad.toml"
    bad.write_text('[jobs."mine"]\nschedule = "0 8 * * *"\n')
    r = bgjobs("install", "--dsn", dsn, "--settings", str(bad))
    assert r.returncode == 1 and "unknown job 'mine'" in r.stderr and "needs body and schedule" in r.stderr


@pytest.mark.slow
def test_pg_cron_ticks_a_job_registered_from_sql():
    """A cluster of its own whose pg_cron lives in the database bgjobs is installed in:
    register_job schedules at once (as bgjobs_runner), and pg_cron's real tick runs the
    job's slot; unregister_job unschedules it."""
    from bgjobs import install as inst
    from bgjobs import sandbox
    from bgjobs.settings import Settings

    with sandbox.temporary("bgjobs-jobapi-") as sb:
        inst.install(sb.dsn, Settings(), report=lambda s: None)
        with psycopg.connect(sb.dsn, autocommit=True) as su:
            su.execute("CREATE ROLE jobapi_admin LOGIN PASSWORD 'pw' IN ROLE bgjobs_admin")
            su.execute("CREATE TABLE public.ticks (slot timestamptz)")
            su.execute("GRANT INSERT ON public.ticks TO bgjobs_runner")
            su.execute("""CREATE FUNCTION public.record_tick(as_of timestamptz) RETURNS void LANGUAGE sql
                          AS $$ INSERT INTO public.ticks VALUES (as_of) $$""")
            su.execute("GRANT EXECUTE ON FUNCTION public.record_tick(timestamptz) TO jobapi_admin")
        admin_dsn = psycopg.conninfo.make_conninfo(sb.dsn, user="jobapi_admin", password="pw")
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            res = admin.execute("SELECT bgjobs.register_job('every-minute', 'public.record_tick', '* * * * *', "
                                "'Europe/Berlin')").fetchone()[0]
        assert res["scheduled"] is True and res["tick"] == "* * * * *"
        with psycopg.connect(sb.dsn, autocommit=True) as su:
            assert su.execute("SELECT schedule, command, username, database FROM cron.job WHERE jobname = 'every-minute'"
                              ).fetchall() == [("* * * * *", "CALL bgjobs.run_scheduled_job('every-minute')",
                                                "bgjobs_runner", sandbox.DATABASE)]
            deadline = time.monotonic() + 75
            row = None
            while time.monotonic() < deadline and row is None:
                row = su.execute("SELECT status, trigger, as_of FROM jobs_log WHERE job_name = 'every-minute' "
                                 "AND status <> 'running'").fetchone()
                time.sleep(1)
            assert row is not None, "pg_cron did not run every-minute within 75 s"
            status, trigger, as_of = row
            assert (status, trigger, as_of.second, as_of.microsecond) == ("success", "cron", 0, 0)
            assert su.execute("SELECT slot FROM public.ticks").fetchall()[:1] == [(as_of,)]
            assert su.execute("SELECT count(*) FROM bgjobs.job_slots WHERE job_name = 'every-minute' "
                              "AND slot = %s", (as_of,)).fetchone() == (1,)
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute("SELECT bgjobs.unregister_job('every-minute')")
        with psycopg.connect(sb.dsn, autocommit=True) as su:
            assert su.execute("SELECT count(*) FROM cron.job WHERE jobname = 'every-minute'").fetchone() == (0,)
            assert su.execute("SELECT count(*) FROM jobs_log WHERE job_name = 'every-minute'").fetchone()[0] >= 1


def test_reinstall_without_settings_keeps_a_schedule_override(new_db, pg_server, cron_conn, tmp_path):
    """Issue 9: re-running install without --settings silently reset schedule overrides."""
    name = new_db()
    dsn = pg_server.dsn(name)
    f = tmp_path / "settings.toml"
    f.write_text('[jobs."check-sla-and-overdue"]\nschedule = "*/10 * * * *"\n')
    bgjobs("install", "--dsn", dsn, "--settings", str(f), check=True)
    bgjobs("install", "--dsn", dsn, check=True)
    jobs = cron_rows(cron_conn, name)
    assert [v[0] for n, v in jobs.items() if n.startswith("check-sla-and-overdue")] == ["*/10 * * * *"]
    with psycopg.connect(dsn) as c:
        assert c.execute("SELECT schedule FROM bgjobs.job_registry WHERE job_name = 'check-sla-and-overdue'"
                         ).fetchone() == ("*/10 * * * *",)


@pytest.mark.parametrize("day,slots", [
    # (the first tick, the evening before, catches up the day before's slot, as of that slot:
    # a replay starts as a server that was down)
    # spring forward: 02:30 does not exist in Berlin; the slot is the end of the gap, 03:00 CEST
    ("2026-03-29", ["2026-03-28 01:30+00", "2026-03-29 01:00+00"]),
    # fall back: 02:30 happens twice; the slot is its first occurrence, 02:30 CEST
    ("2026-10-25", ["2026-10-24 00:30+00", "2026-10-25 00:30+00"]),
    # an ordinary day
    ("2026-11-10", ["2026-11-09 01:30+00", "2026-11-10 01:30+00"]),
])
def test_zoned_job_handles_each_slot_once_across_dst(sql, day, slots):
    sql("CREATE FUNCTION public.noop() RETURNS void LANGUAGE sql AS $$ SELECT $$")
    sql("SELECT bgjobs.register_job('berlin-0230', 'public.noop', '30 2 * * *', 'Europe/Berlin')")
    [(tick_expr,)] = sql("SELECT tick FROM bgjobs.job_registry WHERE job_name = 'berlin-0230'")
    assert tick_expr == "*/15 * * * *"
    # every tick pg_cron makes from the evening before to the next morning (UTC)
    for (at,) in sql("SELECT generate_series(%s::date - interval '4 hours', %s::date + interval '10 hours', "
                     "interval '15 minutes')", day, day):
        tick(sql, "berlin-0230", at)
    want = [s[0] for s in sql("SELECT unnest(%s::timestamptz[])", slots)]
    assert [r[0] for r in sql("SELECT as_of FROM jobs_log WHERE job_name = 'berlin-0230' ORDER BY as_of")] == want
    # next_expected_run agrees with the tick: the slot itself just before it, the next day's after it
    assert sql("SELECT bgjobs.next_expected_run('berlin-0230', %s::timestamptz - interval '1 minute')",
               want[1]) == [(want[1],)]
    assert sql("SELECT bgjobs.next_expected_run('berlin-0230', %s::timestamptz + interval '1 minute') "
               "= (%s::date + 1 + time '02:30') AT TIME ZONE 'Europe/Berlin'", want[1], day) == [(True,)]
