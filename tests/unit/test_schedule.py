"""bgjobs_schedule: pg_cron 1.4 grammar, fire times in zones across DST, missed runs."""

import datetime as dt
import json
import shutil
import subprocess
import sys
import types
from pathlib import Path

import bgjobs_schedule as sched
import pytest
from bgjobs_schedule import (
    get_zone,
    is_missed,
    iter_fires,
    max_gap,
    next_fire,
    parse_interval,
    parse_timestamp,
    prev_fire,
    validate_cron,
    validate_timezone,
)

UTC = dt.timezone.utc
NY = "America/New_York"


def utc(text):
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def fires(expr, tz, after, count):
    it = iter_fires(expr, tz, after)
    return [next(it) for _ in range(count)]


# ----------------------------------------------------------------------------- grammar

@pytest.mark.parametrize("expr", [
    "* * * * *", "*/15 * * * *", "0 */6 * * *", "0 2 * * *", "59 23 * * *", "0 9 * * 1-5",
    "0 0 1,15 * *", "0-30/10 8-18 * * mon-FRI", "0 0 * JAN-mar 7", "0 0 1-31 * 1",
    "  0   8 * * *  ", "*/100 * * * *", "@yearly", "@annually", "@monthly", "@weekly",
    "@daily", "@midnight", "@hourly", "0 0 29 2 *"])
def test_valid_cron(expr):
    assert validate_cron(expr) is None


@pytest.mark.parametrize("expr,words", [
    ("", "empty"), ("   ", "empty"), (None, "empty"),
    ("0 0 * * * *", "6 fields"), ("* * * *", "4 fields"),
    ("@reboot", "server start"), ("@every_minute", "unknown macro"),
    ("30 seconds", "pg_cron 1.5"),
    ("60 * * * *", "outside 0-59"), ("* 24 * * *", "outside 0-23"), ("0 0 0 * *", "outside 1-31"),
    ("0 0 * 13 *", "outside 1-12"), ("0 0 * * 8", "outside 0-7"),
    ("1/20 * * * *", "step needs a range"), ("*/0 * * * *", "bad step"),
    ("5-1 * * * *", "backwards"), ("0 0 L * *", "not a number"), ("0 0 ? * *", "not a number"),
    ("0 0 * * 1#2", "not a number"), ("0 0 15W * *", "not a number"),
    ("1,,2 * * * *", "not a number"),
    ("0 0 30 2 *", "never fires"), ("0 0 31 4,6,9,11 *", "never fires"),
])
def test_invalid_cron_names_the_expression(expr, words):
    reason = validate_cron(expr)
    assert reason is not None and words in reason
    assert repr(expr) in reason and "\n" not in reason


def test_invalid_cron_raises_in_the_math_functions():
    with pytest.raises(ValueError, match="'0 0 \\* \\* \\* \\*'"):
        next_fire("0 0 * * * *", "UTC", "2026-01-01T00:00Z")


def test_timezones():
    assert validate_timezone("Asia/Kolkata") is None
    assert validate_timezone("UTC") is None
    assert "Mars/Olympus" in validate_timezone("Mars/Olympus")
    assert validate_timezone("") and validate_timezone(None)
    assert validate_timezone("../../etc/passwd")
    # PostgreSQL accepts any case, and so does get_zone; validation asks for the canonical
    # spelling, which every host (zoneinfo on a case-sensitive file system) can load.
    assert validate_timezone("america/new_york") == (
        "time zone 'america/new_york' is spelled 'America/New_York'")
    assert str(get_zone("america/new_york")) == NY
    assert str(get_zone(None)) == "UTC"


# ---------------------------------------------------------------------- simple zones

def test_utc_every_15_minutes():
    assert next_fire("*/15 * * * *", "UTC", "2026-05-01T10:07:30Z") == utc("2026-05-01T10:15")
    assert next_fire("*/15 * * * *", "UTC", "2026-05-01T10:15:00Z") == utc("2026-05-01T10:30")
    assert prev_fire("*/15 * * * *", "UTC", "2026-05-01T10:15:00Z") == utc("2026-05-01T10:15")
    assert prev_fire("*/15 * * * *", "UTC", "2026-05-01T10:14:59Z") == utc("2026-05-01T10:00")


def test_kolkata_half_hour_offset():
    assert next_fire("0 8 * * *", "Asia/Kolkata", "2026-03-09T00:00Z") == utc("2026-03-09T02:30")
    assert prev_fire("0 8 * * *", "Asia/Kolkata", "2026-03-09T02:29Z") == utc("2026-03-08T02:30")
    assert prev_fire("59 23 * * *", "Asia/Kolkata", "2026-03-09T00:00Z") == utc("2026-03-08T18:29")
    assert max_gap("0 8 * * *", "Asia/Kolkata", "2026-01-01T00:00Z") == dt.timedelta(days=1)


def test_kiritimati_utc_plus_14():
    # 08:00 on the 9th at UTC+14 is 18:00 UTC on the 8th.
    kiritimati = "Pacific/Kiritimati"
    assert next_fire("0 8 * * *", kiritimati, "2026-03-08T00:00Z") == utc("2026-03-08T18:00")
    assert prev_fire("0 8 * * *", kiritimati, "2026-03-08T17:59Z") == utc("2026-03-07T18:00")
    # Mondays only: Monday 9 March local is still Sunday 8 March in UTC.
    assert next_fire("0 8 * * 1", kiritimati, "2026-03-04T00:00Z") == utc("2026-03-08T18:00")


def test_results_are_utc_and_accept_datetimes_and_postgres_text():
    at = dt.datetime(2026, 3, 8, 1, 0, tzinfo=get_zone(NY))
    result = next_fire("0 3 * * *", NY, at)
    assert result.tzinfo is UTC and result == utc("2026-03-08T07:00")
    assert next_fire("0 3 * * *", NY, "2026-03-08 01:00:00-05") == result
    assert next_fire("0 3 * * *", NY, "2026-03-08T07:00:00.5+00:00") == utc("2026-03-09T07:00")
    assert next_fire("0 3 * * *", NY, dt.datetime(2026, 3, 8, 7, 0)) == utc("2026-03-09T07:00")


# ------------------------------------------------------------------ DST, New York 2026

def test_spring_forward_fixed_time_moves_to_the_end_of_the_gap():
    # 2026-03-08: 02:00 EST becomes 03:00 EDT; 02:00 does not exist that day.
    assert fires("0 2 * * *", NY, "2026-03-06T12:00Z", 3) == [
        utc("2026-03-07T07:00"),   # 02:00 EST
        utc("2026-03-08T07:00"),   # 03:00 EDT, once
        utc("2026-03-09T06:00"),   # 02:00 EDT
    ]
    assert next_fire("30 2 * * *", NY, "2026-03-08T00:00Z") == utc("2026-03-08T07:00")
    assert prev_fire("0 2 * * *", NY, "2026-03-08T12:00Z") == utc("2026-03-08T07:00")
    assert prev_fire("0 2 * * *", NY, "2026-03-08T06:59Z") == utc("2026-03-07T07:00")
    # Two fixed times in the gap fire once, at 03:00 EDT.
    assert fires("0,30 2 * * *", NY, "2026-03-07T12:00Z", 2) == [
        utc("2026-03-08T07:00"), utc("2026-03-09T06:00")]


def test_spring_forward_wildcard_jobs_follow_the_clock():
    assert fires("0 * * * *", NY, "2026-03-08T05:30Z", 3) == [
        utc("2026-03-08T06:00"), utc("2026-03-08T07:00"), utc("2026-03-08T08:00")]
    # minute field starts with '*': Vixie skips the nonexistent 02:xx entirely
    assert next_fire("*/30 2 * * *", NY, "2026-03-07T07:45Z") == utc("2026-03-09T06:00")


def test_fall_back_fixed_time_fires_once():
    # 2026-11-01: 02:00 EDT becomes 01:00 EST; 01:00-01:59 happens twice.
    assert fires("0 2 * * *", NY, "2026-10-30T12:00Z", 3) == [
        utc("2026-10-31T06:00"), utc("2026-11-01T07:00"), utc("2026-11-02T07:00")]
    assert fires("30 1 * * *", NY, "2026-10-30T12:00Z", 3) == [
        utc("2026-10-31T05:30"), utc("2026-11-01T05:30"), utc("2026-11-02T06:30")]
    assert prev_fire("30 1 * * *", NY, "2026-11-01T07:00Z") == utc("2026-11-01T05:30")


def test_fall_back_wildcard_jobs_fire_in_both_hours():
    assert fires("0 * * * *", NY, "2026-11-01T04:30Z", 3) == [
        utc("2026-11-01T05:00"),   # 01:00 EDT
        utc("2026-11-01T06:00"),   # 01:00 EST
        utc("2026-11-01T07:00"),   # 02:00 EST
    ]
    assert prev_fire("0 * * * *", NY, "2026-11-01T06:30Z") == utc("2026-11-01T06:00")
    assert prev_fire("0 * * * *", NY, "2026-11-01T05:59Z") == utc("2026-11-01T05:00")
    assert prev_fire("*/20 1 * * *", NY, "2026-11-01T06:59Z") == utc("2026-11-01T06:40")


def test_max_gap():
    start = "2026-01-01T00:00Z"
    assert max_gap("* * * * *", "UTC") == dt.timedelta(minutes=1)
    assert max_gap("* * * * *", NY, start) == dt.timedelta(minutes=1)
    assert max_gap("*/15 * * * *", NY, start) == dt.timedelta(minutes=15)
    assert max_gap("0 */6 * * *", "UTC", start) == dt.timedelta(hours=6)
    assert max_gap("0 2 * * *", NY, start) == dt.timedelta(hours=25)       # fall-back day
    assert max_gap("0 2 * * *", "UTC", start) == dt.timedelta(hours=24)
    assert max_gap("0 9 * * 1-5", NY, start) == dt.timedelta(days=3, hours=1)
    assert max_gap("0 0 1 * *", "UTC", start) == dt.timedelta(days=31)
    assert max_gap("@yearly", "UTC", start) == dt.timedelta(days=365)
    assert max_gap("0 0 29 2 *", "UTC", start) == dt.timedelta(days=4 * 365 + 1)
    assert max_gap("*/30 2 * * *", NY, start) == dt.timedelta(days=1, hours=22, minutes=30)


def test_max_gap_is_quick():
    import time
    started = time.perf_counter()
    for expr in ("* * * * *", "*/5 * * * *", "0 8 * * *", "*/5 * * * 1-5"):
        max_gap(expr, "Europe/London", "2026-01-01T00:00Z")
    assert time.perf_counter() - started < 3


# ------------------------------------------------------------------------ missed runs

def test_is_missed():
    expr, tz = "0 2 * * *", NY
    # The 03:00 EDT run on spring-forward day is due; grace 10 minutes.
    assert is_missed(expr, tz, "2026-03-07T07:00:05Z", "2026-03-08T07:10Z", 600) == (
        True, utc("2026-03-08T07:00"))
    assert is_missed(expr, tz, "2026-03-07T07:00:05Z", "2026-03-08T07:09:59Z", "00:10:00") == (
        False, utc("2026-03-07T07:00"))
    assert is_missed(expr, tz, "2026-03-08T07:00:01Z", "2026-03-08T12:00Z",
                     dt.timedelta(minutes=10)) == (False, utc("2026-03-08T07:00"))
    # Never ran: missed only when monitoring started before the due fire.
    assert is_missed(expr, tz, None, "2026-03-08T12:00Z", 600) == (False, utc("2026-03-08T07:00"))
    assert is_missed(expr, tz, None, "2026-03-08T12:00Z", 600, since="2026-03-08T06:00Z")[0]
    assert not is_missed(expr, tz, None, "2026-03-08T12:00Z", 600, since="2026-03-08T08:00Z")[0]


def test_parse_helpers():
    assert parse_interval("00:05:00") == dt.timedelta(minutes=5)
    assert parse_interval("1 day 02:00:00") == dt.timedelta(days=1, hours=2)
    assert parse_interval("2 days") == dt.timedelta(days=2)
    assert parse_interval("-1 days +02:00:00") == dt.timedelta(days=-1, hours=2)
    assert parse_interval(90) == parse_interval("90") == dt.timedelta(seconds=90)
    for bad in ("1 mon", "soon", "", None, True):
        with pytest.raises(ValueError):
            parse_interval(bad)
    assert parse_timestamp("2026-03-08T07:00:00Z") == utc("2026-03-08T07:00")
    assert parse_timestamp("2026-03-08 02:00:00-05") == utc("2026-03-08T07:00")
    assert parse_timestamp("2026-03-08 07:00:00.25+00") == utc("2026-03-08T07:00:00.250000")
    with pytest.raises(ValueError):
        parse_timestamp("yesterday")


# ------------------------------------------------------------------------- two hosts

def test_module_runs_when_exec_d_from_its_source():
    source = Path(sched.__file__).read_text(encoding="utf-8")
    module = types.ModuleType("bgjobs_schedule_embedded")
    exec(compile(source, "<bgjobs_schedule>", "exec"), module.__dict__)
    assert module.next_fire("0 2 * * *", NY, "2026-03-08T00:00Z") == utc("2026-03-08T07:00")


SYSTEM_PYTHON = "/usr/bin/python3"
PROBE = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import bgjobs_channels, bgjobs_schedule as s
out = []
for expr, after in [("0 2 * * *", "2026-03-06T12:00Z"), ("0 2 * * *", "2026-10-30T12:00Z"),
                    ("30 1 * * *", "2026-10-30T12:00Z"), ("0 * * * *", "2026-11-01T04:30Z"),
                    ("0,30 2 * * *", "2026-03-07T12:00Z"), ("0 0 1-31 * 1", "2026-03-01T00:00Z"),
                    ("0 0 */2 * 1", "2026-03-01T00:00Z"), ("0 0 1,15 * 1", "2026-03-01T00:00Z"),
                    ("*/20 1 * * *", "2026-11-01T04:30Z")]:
    it = s.iter_fires(expr, "America/New_York", after)
    out.append([next(it).isoformat() for _ in range(4)])
out.append(str(s.max_gap("0 2 * * *", "America/New_York", "2026-01-01T00:00Z")))
out.append(bgjobs_channels.render("job_failure", {"job_name": "j"})["subject"])
print(json.dumps(out))
"""


@pytest.mark.skipif(shutil.which(SYSTEM_PYTHON) is None, reason="no system python3")
def test_system_interpreter_and_its_croniter_agree_with_this_one():
    """PL/Python runs Debian's python3 with python3-croniter (1.3): same answers."""
    plpython = str(Path(sched.__file__).parent)
    system = subprocess.run([SYSTEM_PYTHON, "-c", PROBE, plpython], capture_output=True,
                            text=True, timeout=60, cwd="/")
    if "No module named 'croniter'" in system.stderr:
        pytest.skip("system python3 has no croniter")
    assert system.returncode == 0, system.stderr
    here = subprocess.run([sys.executable, "-c", PROBE, plpython], capture_output=True,
                          text=True, timeout=60, cwd="/")
    assert here.returncode == 0, here.stderr
    assert json.loads(system.stdout) == json.loads(here.stdout)


ALL_DAYS, ALL_DOWS, ALL_MONTHS = range(1, 32), range(7), range(1, 13)


@pytest.mark.parametrize("expr,minute,hours,doms,dows,months,and_days", [
    # dom starts with '*': AND (odd days that are Mondays)
    ("0 0 */2 * 1", 0, [0], range(1, 32, 2), {1}, ALL_MONTHS, True),
    # both restricted: OR (the 1st, the 15th and every Monday)
    ("0 0 1,15 * 1", 0, [0], {1, 15}, {1}, ALL_MONTHS, False),
    # OR with a full (but not '*') day-of-month: every day
    ("0 0 1-31 * 1", 0, [0], ALL_DAYS, {1}, ALL_MONTHS, False),
    ("30 6 * * 0,7", 30, [6], ALL_DAYS, {0}, ALL_MONTHS, True),
    ("15 */5 10-20 feb-apr *", 15, [0, 5, 10, 15, 20], range(10, 21), ALL_DOWS, range(2, 5), True),
    ("0 12 31 * *", 0, [12], {31}, ALL_DOWS, ALL_MONTHS, True),
    ("@weekly", 0, [0], ALL_DAYS, {0}, ALL_MONTHS, True),
])
def test_day_rules_match_vixie_cron(expr, minute, hours, doms, dows, months, and_days):
    """Fires in UTC against a direct reading of Vixie cron's day rule."""
    expected = []
    day = dt.date(2026, 1, 1)
    while len(expected) < 40:
        dom_ok, dow_ok = day.day in doms, day.isoweekday() % 7 in dows
        if day.month in months and ((dom_ok and dow_ok) if and_days else (dom_ok or dow_ok)):
            expected += [dt.datetime(day.year, day.month, day.day, h, minute, tzinfo=UTC)
                         for h in hours]
        day += dt.timedelta(days=1)
    assert fires(expr, "UTC", "2025-12-31T23:59:59Z", 40) == expected[:40]
