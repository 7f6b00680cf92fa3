"""Maintenance windows (the seeds' "first Sunday of month, 02:00-04:00 UTC: jobs may be
paused"): inside one the named jobs (or all) do not run from pg_cron, raise no missed-run
alert, and hold their alerts; after it they resume."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[1]

FIRST_SUNDAY = "0 2 1-7 * sun"


@pytest.fixture
def run(sql):
    sql("SET bgjobs.allow_future_as_of = on")          # replays moments ahead of the clock
    return lambda job, at: sql("SELECT run_job(%s, %s::timestamptz)", job, at)[0][0]


def until(sql, job, at):
    return sql("SELECT bgjobs.maintenance_until(%s, %s::timestamptz)", job, at)[0][0]


def test_first_sunday_of_the_month_window_keeps_to_the_calendar(sql):
    wid = sql("SELECT bgjobs.add_recurring_maintenance_window(NULL, %s, '2 hours', 'monthly maintenance')", FIRST_SUNDAY)[0][0]
    assert wid is not None
    # December 2026: the 6th is the first Sunday; the 1st is a Tuesday; the 13th a Sunday
    assert str(until(sql, "check-sla-and-overdue", "2026-12-06 02:00+00")) == "2026-12-06 04:00:00+00:00"
    assert str(until(sql, "check-sla-and-overdue", "2026-12-06 03:59+00")) == "2026-12-06 04:00:00+00:00"
    assert until(sql, "check-sla-and-overdue", "2026-12-06 04:00+00") is None
    assert until(sql, "check-sla-and-overdue", "2026-12-06 01:59+00") is None
    assert until(sql, "check-sla-and-overdue", "2026-12-01 03:00+00") is None       # day 1, not a Sunday
    assert until(sql, "check-sla-and-overdue", "2026-12-13 03:00+00") is None       # a Sunday, not days 1-7
    assert str(until(sql, "analytics-snapshot", "2027-01-03 02:30+00")) == "2027-01-03 04:00:00+00:00"


def test_a_zoned_window_across_midnight(sql):
    sql("SELECT bgjobs.add_recurring_maintenance_window('analytics-snapshot', '30 23 * * fri', '1 hour', 'backup', "
        "'Asia/Kolkata')")
    # Friday 2026-12-04 23:30 IST = 18:00 UTC, until 19:00 UTC (Saturday 00:30 IST)
    assert until(sql, "analytics-snapshot", "2026-12-04 18:30+00") is not None
    assert until(sql, "analytics-snapshot", "2026-12-04 19:00+00") is None
    assert until(sql, "check-sla-and-overdue", "2026-12-04 18:30+00") is None        # another job


@pytest.mark.parametrize("args, message", [
    (("no-such-job", FIRST_SUNDAY, "2 hours", "x"), 'unknown job "no-such-job"'),
    ((None, "0 2 1-7 *", "2 hours", "x"), "is not \"minute hour"),
    ((None, "*/5 2 * * *", "2 hours", "x"), "is not \"minute hour"),
    ((None, "0 2 31 2 *", "2 hours", "x"), "'0 2 31 2 *': day-of-month and month never coincide"),
    ((None, "0 2 30 2 mon", "2 hours", "x"), "'0 2 30 2 mon' never falls on a date"),
    # the day fields are read as pg_cron reads them (bgjobs.cron_parse): no 'n/step', no 'sunday'
    ((None, "0 2 1/7 * sun", "2 hours", "x"), "day-of-month field: step needs a range or '*' in '1/7'"),
    ((None, "0 2 1-7 * sunday", "2 hours", "x"), "day-of-week field: 'sunday' is not a number or name"),
    ((None, FIRST_SUNDAY, "0 hours", "x"), "duration must be"),
    ((None, FIRST_SUNDAY, "2 hours", " "), "a reason is required"),
])
def test_a_bad_window_names_what_is_wrong_and_changes_nothing(sql, args, message):
    with pytest.raises(psycopg.Error) as err:
        sql("SELECT bgjobs.add_recurring_maintenance_window(%s, %s, %s::interval, %s)", *args)
    assert message in str(err.value).splitlines()[0]
    with pytest.raises(psycopg.Error, match="unknown time zone"):
        sql("SELECT bgjobs.add_recurring_maintenance_window(NULL, %s, '1 hour', 'x', 'Mars/Olympus')", FIRST_SUNDAY)
    assert sql("SELECT count(*) FROM bgjobs.maintenance_windows") == [(0,)]


def test_migration_0016_rewrites_a_window_stored_with_the_old_step_form(sql):
    """Before 0016 a window's day fields had their own parser, which read 'n/step' as
    'n-last/step'; 0016 rewrites such a window to that range, which bgjobs.cron_parse takes."""
    for recurrence in ("0 2 1/7 * sun,wed/3", "0 2 1-7 * sun", "30 1 * jan/6 *"):
        sql("INSERT INTO bgjobs.maintenance_windows (recurrence, duration, reason) VALUES (%s, '2 hours', 'x')",
            recurrence)
    migration = (ROOT / "migrations" / "0016.window_recurrence.sql").read_text()
    sql(migration)
    assert sql("SELECT recurrence FROM bgjobs.maintenance_windows ORDER BY id") == [
        ("0 2 1-31/7 * sun,wed-6/3",), ("0 2 1-7 * sun",), ("30 1 * jan-12/6 *",)]
    sql(migration)                                                   # a second run changes nothing
    assert [r for (r,) in sql("SELECT recurrence FROM bgjobs.maintenance_windows ORDER BY id")] == [
        "0 2 1-31/7 * sun,wed-6/3", "0 2 1-7 * sun", "30 1 * jan-12/6 *"]
    # days 1, 8, 15, 22, 29 that are a Sunday, Wednesday or Saturday: Sunday 2026-11-08 is one,
    # Sunday 2026-12-13 is not (nor is it in the first week); 01:30 in January and July
    assert str(until(sql, "check-sla-and-overdue", "2026-11-08 02:30+00")) == "2026-11-08 04:00:00+00:00"
    assert until(sql, "check-sla-and-overdue", "2026-12-13 02:30+00") is None
    assert str(until(sql, "check-sla-and-overdue", "2027-07-14 01:45+00")) == "2027-07-14 03:30:00+00:00"
    assert until(sql, "check-sla-and-overdue", "2027-06-14 01:45+00") is None


def test_inside_a_window_pg_crons_tick_runs_nothing_and_after_it_the_job_resumes(sql, conn):
    sql("SELECT bgjobs.add_maintenance_window('check-sla-and-overdue', '2026-12-06 02:00+00', "
        "'2026-12-06 04:00+00', 'index rebuild')")
    conn.execute("CALL bgjobs.run_scheduled_job('check-sla-and-overdue', '2026-12-06 02:15+00')")
    conn.execute("CALL bgjobs.run_scheduled_job('check-sla-and-overdue', '2026-12-06 03:45+00')")
    assert sql("SELECT count(*) FROM jobs_log WHERE job_name = 'check-sla-and-overdue'") == [(0,)]
    conn.execute("CALL bgjobs.run_scheduled_job('cron-healthcheck', '2026-12-06 03:00+00')")   # not in the window
    conn.execute("CALL bgjobs.run_scheduled_job('check-sla-and-overdue', '2026-12-06 04:00+00')")
    assert sql("SELECT job_name, status FROM jobs_log ORDER BY job_name") == [
        ("check-sla-and-overdue", "success"), ("cron-healthcheck", "success")]


def test_no_missed_run_inside_a_window_and_alerts_are_held_until_it_ends(sql, conn, run):
    # automation-health-check runs daily at 07:00 UTC; it last ran two days before
    sql("INSERT INTO jobs_log (job_name, started_at, completed_at, status, as_of) VALUES "
        "('automation-health-check', '2026-12-04 07:00+00', '2026-12-04 07:00:01+00', 'success', '2026-12-04 07:00+00')")
    sql("SELECT bgjobs.add_maintenance_window('automation-health-check', '2026-12-06 06:00+00', "
        "'2026-12-06 10:00+00', 'upgrade')")
    findings = lambda at: sql("SELECT rule FROM bgjobs.detect_job_issues(%s::timestamptz) "
                              "WHERE subject = 'automation-health-check'", at)
    assert findings("2026-12-06 09:00+00") == []                  # in the window (slot 07:00 in it too)
    assert findings("2026-12-06 11:30+00") == []                  # the 07:00 slot fell in the window
    assert findings("2026-12-07 08:30+00") == [("missed_run",)]   # the next day's slot was missed
    # a failure during the window is held, and sent after the window if still true
    sql("SELECT set_secret('SLACK_WEBHOOK_URL', 'http://127.0.0.1:9/hook')")
    sql("INSERT INTO jobs_log (job_name, started_at, completed_at, status, error_message, as_of) VALUES "
        "('automation-health-check', '2026-12-06 07:00+00', '2026-12-06 07:00:01+00', 'failed', 'boom', "
        "'2026-12-06 07:00+00')")
    run("check-job-health", "2026-12-06 08:00+00")
    assert sql("SELECT state, silenced, count FROM bgjobs.alert_state WHERE subject = 'automation-health-check' "
               "AND rule = 'consecutive_failures'") == [("firing", True, 0)]
    run("check-job-health", "2026-12-06 10:05+00")
    assert sql("SELECT silenced, count FROM bgjobs.alert_state WHERE subject = 'automation-health-check' "
               "AND rule = 'consecutive_failures'") == [(False, 1)]


def test_the_cli_adds_lists_shows_verifies_and_removes_windows(db, sql):
    from bgjobs.cli import main
    from click.testing import CliRunner

    r = CliRunner().invoke(main, ["maintenance", "add", "--every", FIRST_SUNDAY, "--for", "2h",
                                  "--reason", "monthly maintenance", "--dsn", db])
    assert r.exit_code == 0 and "maintenance window #" in r.output, r.output
    r = CliRunner().invoke(main, ["maintenance", "add", "check-sla-and-overdue", "--from", "tomorrowish",
                                  "--for", "1h", "--reason", "x", "--dsn", db])
    assert r.exit_code == 1 and r.output.count("\n") == 1                # not a timestamp
    r = CliRunner().invoke(main, ["maintenance", "add", "check-sla-and-overdu", "--from", "2026-12-06 02:00+00",
                                  "--until", "2026-12-06 04:00+00", "--reason", "x", "--dsn", db])
    assert r.exit_code == 1 and 'unknown job "check-sla-and-overdu"' in r.output
    start = sql("SELECT to_char(now() - interval '5 minutes', 'YYYY-MM-DD HH24:MI:SSOF')")[0][0]
    r = CliRunner().invoke(main, ["maintenance", "add", "check-sla-and-overdue", "--from", start,
                                  "--for", "1h", "--reason", "index rebuild", "--dsn", db])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["maintenance", "list", "--json", "--dsn", db])
    listed = __import__("json").loads(r.output)
    assert [(w["job"], w["active_now"]) for w in listed] == [("*", False), ("check-sla-and-overdue", True)]
    r = CliRunner().invoke(main, ["status", "--dsn", db])
    assert "maintenance window open for check-sla-and-overdue" in r.output, r.output
    r = CliRunner().invoke(main, ["maintenance", "verify", "--dsn", db])
    assert "WARN maintenance windows: 1 job(s) still inside a window" in r.output, r.output
    wid = listed[1]["id"]
    assert CliRunner().invoke(main, ["maintenance", "remove", str(wid), "--dsn", db]).exit_code == 0
    r = CliRunner().invoke(main, ["maintenance", "remove", str(wid), "--dsn", db])
    assert r.exit_code == 1 and f"no maintenance window #{wid}" in r.output
