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
sys.modules["croniter"] = None   # the module must not need it, whatever version is installed
sys.path.insert(0, sys.argv[1])
import bgjobs_channels, bgjobs_schedule as s
out = []
for expr, after in [("0 2 * * *", "2026-03-06T12:00Z"), ("0 2 * * *", "2026-10-30T12:00Z"),
                    ("30 1 * * *", "2026-10-30T12:00Z"), ("0 * * * *", "2026-11-01T04:30Z"),
                    ("0,30 2 * * *", "2026-03-07T12:00Z"), ("0 0 1-31 * 1", "2026-03-01T00:00Z"),
                    ("0 0 */2 * 1", "2026-03-01T00:00Z"), ("0 0 1,15 * 1", "2026-03-01T00:00Z"),
                    ("*/20 1 * * *", "2026-11-01T04:30Z"), ("0 0 */10 * *", "2025-02-22T00:00Z"),
                    ("0 0 31 2 0", "2025-02-22T00:00Z"), ("15 22 29 2 *", "2024-02-29T00:00Z")]:
    it = s.iter_fires(expr, "America/New_York", after)
    out.append([next(it).isoformat() for _ in range(4)])
out.append(s.prev_fire("15 22 29 2 *", "UTC", "2024-02-29T00:00Z").isoformat())
out.append(str(s.max_gap("0 2 * * *", "America/New_York", "2026-01-01T00:00Z")))
out.append(bgjobs_channels.render("job_failure", {"job_name": "j"})["subject"])
print(json.dumps(out))
"""


@pytest.mark.skipif(shutil.which(SYSTEM_PYTHON) is None, reason="no system python3")
def test_system_interpreter_agrees_with_this_one_without_croniter():
    """PL/Python runs Debian's python3: same answers, and croniter is never imported."""
    plpython = str(Path(sched.__file__).parent)
    system = subprocess.run([SYSTEM_PYTHON, "-c", PROBE, plpython], capture_output=True,
                            text=True, timeout=60, cwd="/")
    assert system.returncode == 0, system.stderr
    here = subprocess.run([sys.executable, "-c", PROBE, plpython], capture_output=True,
                          text=True, timeout=60, cwd="/")
    assert here.returncode == 0, here.stderr
    assert json.loads(system.stdout) == json.loads(here.stdout)


def test_module_imports_nothing_outside_the_standard_library():
    source = Path(sched.__file__).read_text(encoding="utf-8")
    imported = {line.split()[1].split(".")[0] for line in source.splitlines()
                if line.startswith(("import ", "from "))}
    assert imported <= {"bisect", "datetime", "decimal", "functools", "heapq", "re", "zoneinfo"}


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


# ------------------------------------------------- reference vectors (cronsim, croniter)

VECTORS = json.loads((Path(__file__).parent.parent / "cron_vectors.json").read_text())["vectors"]
_MICRO = dt.timedelta(microseconds=1)


def instant(text):
    return dt.datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize("v", VECTORS, ids=[v["id"] for v in VECTORS])
def test_reference_vectors(v):
    assert validate_cron(v["expr"]) is None
    if "next" in v:
        assert fires(v["expr"], v["tz"], v["at"], len(v["next"])) == [instant(t) for t in v["next"]]
        assert next_fire(v["expr"], v["tz"], v["at"]) == instant(v["next"][0])
    if "prev" in v:
        got, at = [], parse_timestamp(v["at"])
        for _ in v["prev"]:
            fire = prev_fire(v["expr"], v["tz"], at)
            got.append(fire)
            at = fire - _MICRO
        assert got == [instant(t) for t in v["prev"]]


@pytest.mark.parametrize("v", VECTORS, ids=[v["id"] for v in VECTORS])
def test_reference_vectors_in_epoch_seconds(v):
    """fire_epoch, the form the SQL functions call, answers the same from epoch seconds."""
    from decimal import Decimal
    at = parse_timestamp(v["at"])
    epoch = Decimal((at - dt.datetime(1970, 1, 1, tzinfo=UTC)) // _MICRO) / 1000000
    for key, forward in (("next", True), ("prev", False)):
        if key in v:
            want = instant(v[key][0]).timestamp()
            assert sched.fire_epoch(v["expr"], v["tz"], epoch, forward) == want
            assert sched.fire_epoch(v["expr"], v["tz"], str(epoch), forward) == want


def test_fire_epoch_edges():
    fe = sched.fire_epoch
    assert fe("0 0 * * *", "UTC", 0) == 86400.0
    assert fe("0 0 * * *", "UTC", 0, False) == 0.0
    assert fe("0 0 * * *", "UTC", -0.5, False) == -86400.0
    assert fe("0 0 * * *", "UTC", 1.5) == 86400.0
    assert fe("* * * * *", "UTC", "1740182399.999999") == 1740182400.0
    for nothing in (None, "Infinity", "-Infinity", "NaN", 1e300, -1e300):
        assert fe("* * * * *", "UTC", nothing) is None
        assert fe("* * * * *", "UTC", nothing, False) is None
    assert fe(None, "UTC", 0) is None
    # at datetime's limits there is nothing to find, and nothing raises
    assert fe("* * * * *", "UTC", 253402300799) is None                 # 9999-12-31 23:59:59
    assert fe("* * * * *", "Pacific/Kiritimati", 253402300000) is None
    assert fe("* * * * *", "UTC", -62135337600, False) == -62135337600.0   # 0001-01-04 00:00
    assert fe("* * * * *", "UTC", -62135596801, False) is None             # before year 1
    with pytest.raises(ValueError, match="invalid cron expression '0 0 30 2 \\*'"):
        fe("0 0 30 2 *", "UTC", 0)
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        fe("* * * * *", "Mars/Olympus", 0)
    with pytest.raises(ValueError, match="not epoch seconds"):
        fe("* * * * *", "UTC", "22/02/2025")


@pytest.mark.parametrize("expr", ["* * 30 2 *", "* * 31 4 *", "* * 5-1 * *", "*/0 * * * *",
                                  "1-1_0 * * * *", "-1 * * * *", "61 * * * *", "* * * * 1#2",
                                  "* * L * *", "* * * * 5L", "2/ * * * *", "/2 * * * *",
                                  "1//2 * * * *", "* * * janu-jun *", "0-10/error * * * *"])
def test_reference_refusals(expr):
    """cronsim's and croniter's invalid expressions (those within pg_cron's grammar too)."""
    assert validate_cron(expr) is not None


REVERSE_SAMPLES = [  # cronsim's TestReverse samples that pg_cron 1.4's grammar allows
    "* * * * *", "0 * * * *", "*/30 * * * *", "*/15 * * * *", "0 */2 * * *", "30 */2 * * *",
    "0 */3 * * *", "0 1,2,3,4,5 * * *", "30 1,2,3,4,5 * * *", "0 2 * * *", "0 3 * * *",
    "0 4 * * *", "0 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23 * * *",
    "0 1,3,5,7,9,11,13,15,17,19,21,23 * * *", "0 1-5 * * *", "15 3 * * *", "* 1-6 * * *",
    "1 1 1-7 * */7", "1 1 */100,1-7 * MON", "1 1 * * */3",
]


@pytest.mark.parametrize("tz,start", [("UTC", "2020-01-01T00:00Z"),
                                      ("Europe/Riga", "2021-03-28T01:30+02:00"),
                                      ("Europe/Riga", "2021-10-31T01:30+03:00"),
                                      ("Australia/Lord_Howe", "2026-04-05T00:30+11:00"),
                                      ("America/Santiago", "2026-04-04T22:30-03:00")])
def test_prev_walks_back_over_what_next_walked_forward(tz, start):
    """cronsim's TestReverse: five fires forward, then back from the last, same instants."""
    for expr in REVERSE_SAMPLES:
        forward = fires(expr, tz, start, 5)
        back, at = [], forward[-1]
        for _ in range(5):
            back.append(prev_fire(expr, tz, at))
            at = back[-1] - _MICRO
        assert back[::-1] == forward, expr


# ------------------------------------------- against a brute-force reading of the rules

def _random_expr(rng):
    def field(low, high, names=None):
        kind = rng.random()
        if kind < 0.3:
            return "*"
        if kind < 0.45:
            return f"*/{rng.randint(1, high - low + 1)}"
        if kind < 0.6:
            a = rng.randint(low, high)
            b = rng.randint(a, high)
            return f"{a}-{b}" + (f"/{rng.randint(1, 5)}" if rng.random() < 0.4 else "")
        return ",".join(str(rng.randint(low, high)) for _ in range(rng.randint(1, 3)))
    return " ".join((field(0, 59), field(0, 23), field(1, 31), field(1, 12), field(0, 7)))


def _brute_matches(expr):
    """The expression's fields read independently of the module: value sets + Vixie flags."""
    def values(text, low, high):
        out = set()
        for item in text.split(","):
            rng_, _, step = item.partition("/")
            a, b = (low, high) if rng_ == "*" else (
                (int(rng_.split("-")[0]), int(rng_.split("-")[-1])))
            out.update(range(a, b + 1, int(step or 1)))
        return out
    f = expr.split()
    mins, hours, doms, months = (values(f[i], lo, hi) for i, (lo, hi) in
                                 enumerate([(0, 59), (0, 23), (1, 31), (1, 12)]))
    dows = {d % 7 for d in values(f[4], 0, 7)}
    and_days = f[2].startswith("*") or f[4].startswith("*")

    def matches(w):
        if w.minute not in mins or w.hour not in hours or w.month not in months:
            return False
        dom_ok, dow_ok = w.day in doms, w.isoweekday() % 7 in dows
        return (dom_ok and dow_ok) if and_days else (dom_ok or dow_ok)
    wildcard = f[0].startswith("*") or f[1].startswith("*")
    return matches, wildcard


def _clock(zone, minutes):
    """For each UTC minute: the local wall time, whether it is that wall time's first
    occurrence, and the local times a gap ending at it skipped (independent of the module)."""
    out, previous_wall = [], None
    for t in minutes:
        wall = t.astimezone(zone).replace(tzinfo=None)
        first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC) == t
        skipped = []
        if previous_wall is not None:
            w = previous_wall + _MINUTE
            while w < wall:
                skipped.append(w)
                w += _MINUTE
        out.append((t, wall, first, skipped))
        previous_wall = wall
    return out


def _brute_fires(expr, clock):
    """Fires over consecutive UTC minutes by the module docstring's DST rules, read directly:
    a wildcard job fires whenever the local clock shows a matching time; a fixed-time job
    at the first occurrence of a matching local time, and at the end of a gap for matching
    times the gap skipped."""
    matches, wildcard = _brute_matches(expr)
    return [t for t, wall, first, skipped in clock
            if (matches(wall) and (wildcard or first))
            or (not wildcard and any(matches(w) for w in skipped))]


_MINUTE = dt.timedelta(minutes=1)


@pytest.mark.parametrize("tz,day", [("UTC", "2028-02-27"), ("America/New_York", "2026-03-07"),
                                    ("America/New_York", "2026-10-31"),
                                    ("Africa/Casablanca", "2026-02-14"),
                                    ("America/Santiago", "2026-04-03"),
                                    ("America/Santiago", "2026-09-05"),
                                    ("Australia/Lord_Howe", "2026-10-03"),
                                    ("Australia/Lord_Howe", "2026-04-04")])
def test_random_expressions_agree_with_brute_force(tz, day):
    import random
    rng = random.Random(f"{tz}{day}")
    zone = get_zone(tz)
    start = dt.datetime.fromisoformat(day).replace(tzinfo=UTC)
    minutes = [start + k * _MINUTE for k in range(3 * 1440)]
    clock = _clock(zone, minutes[1:])
    checked = 0
    while checked < 40:
        expr = _random_expr(rng)
        if validate_cron(expr) is not None:
            continue
        want = _brute_fires(expr, clock)
        got = []
        for fire in iter_fires(expr, tz, minutes[0]):
            if fire > minutes[-1]:
                break
            got.append(fire)
        assert got == want, expr
        # backwards: at a sample of the fires and just before them
        for i in sorted(rng.sample(range(len(want)), min(len(want), 25))):
            assert prev_fire(expr, tz, want[i]) == want[i], expr
            before = prev_fire(expr, tz, want[i] - _MICRO)
            assert (before == want[i - 1]) if i else (before is None or before <= minutes[0]), expr
        checked += 1


def test_accepted_expressions_never_raise_and_always_fire():
    """Whatever validate_cron accepts has a next and a previous fire from any moment of
    the next centuries, in any zone, and the other functions answer without raising."""
    import random
    rng = random.Random(8)
    zones = ["UTC", "America/New_York", "Africa/Casablanca", "America/Santiago",
             "Australia/Lord_Howe", "Pacific/Kiritimati", "Pacific/Chatham", "Antarctica/Troll"]
    odd = ["@yearly", "@monthly", "@weekly", "@daily", "@hourly", "0 0 29 2 */7", "0 0 31 2 0",
           "15 22 29 2 *", "59 23 31 12 6", "0 0 29 2 sun", "*/7 */5 */3 */2 */3", "0 0 1-31 feb 7"]
    checked = 0
    while checked < 300:
        expr = odd[checked % len(odd)] if checked % 4 == 0 else _random_expr(rng)
        if validate_cron(expr) is not None:
            continue
        tz = rng.choice(zones)
        at = dt.datetime(rng.randint(1950, 2150), rng.randint(1, 12), rng.randint(1, 28),
                         rng.randint(0, 23), rng.randint(0, 59), tzinfo=UTC)
        nxt, prv = next_fire(expr, tz, at), prev_fire(expr, tz, at)
        assert prv <= at < nxt, expr
        is_missed(expr, tz, None, at, 600, since=at - dt.timedelta(days=1))
        if checked % 20 == 0:
            max_gap(expr, tz, at)
        checked += 1
    # at datetime's limits: None, not an error
    assert next_fire("0 0 1 1 *", "UTC", "9999-06-01T00:00Z") is None
    assert prev_fire("0 0 2 1 *", "UTC", "0001-01-01T12:00Z") is None
    assert max_gap("0 0 1 1 *", "UTC", "9999-06-01T00:00Z") is None


def test_max_gap_of_a_leap_day_that_is_a_sunday():
    # 2088 -> 2128: 2100 is not a leap year (the walk used to give up after 30 years: None)
    assert max_gap("0 0 29 2 */7", "UTC", "2089-01-01T00:00Z") == (
        dt.datetime(2128, 2, 29) - dt.datetime(2088, 2, 29))
    assert max_gap("0 0 29 2 */7", "UTC", "2026-01-01T00:00Z") == dt.timedelta(days=28 * 365 + 7)
