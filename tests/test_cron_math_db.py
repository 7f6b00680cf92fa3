"""Cron math in the database: the reference vectors of tests/cron_vectors.json through
bgjobs.cron_next and bgjobs.cron_prev (PL/pgSQL, bgjobs.cron_fire: no PL/Python), whatever
the session's DateStyle, IntervalStyle or TimeZone; NULL, never an error, where there is no
answer; the same answers, refusals and longest gaps as the plain Python module
(plpython/bgjobs_schedule.py, which the command line keeps for settings files); and
next_expected_run agreeing with the runs (due_tenants) on DST days.

Timestamps go in and come out as integer microseconds since the epoch, so that neither
the driver nor the session settings under test take part in the comparison."""

import datetime as dt
import json
import random
import uuid
from pathlib import Path

import psycopg
import pytest
from bgjobs import pymodules

UTC = dt.timezone.utc
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
VECTORS = json.loads((Path(__file__).parent / "cron_vectors.json").read_text())["vectors"]
CALL = ("SELECT (extract(epoch FROM bgjobs.{fn}(%s, %s, timestamptz 'epoch' + %s * interval "
        "'1 microsecond')) * 1000000)::bigint")


def micros(text):
    return (dt.datetime.fromisoformat(text) - EPOCH) // dt.timedelta(microseconds=1)


@pytest.fixture(scope="module")
def cron_db(pg_server, template_db):
    """One database (bgjobs installed) for the whole module: the vectors only read."""
    name = f"t_cron_{uuid.uuid4().hex[:10]}"
    with pg_server.admin() as c:
        c.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    try:
        yield pg_server.dsn(name)
    finally:
        with pg_server.admin() as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def cconn(cron_db):
    with psycopg.connect(cron_db, autocommit=True) as c:
        yield c


def walk(conn, v):
    """The vector's next and prev lists as the database computes them (None past the end)."""
    got = {}
    if "next" in v:
        at, out = micros(v["at"]), []
        for _ in v["next"]:
            at = conn.execute(CALL.format(fn="cron_next"), (v["expr"], v["tz"], at)).fetchone()[0]
            out.append(at)
            if at is None:
                break
        got["next"] = out
    if "prev" in v:
        at, out = micros(v["at"]), []
        for _ in v["prev"]:
            fire = conn.execute(CALL.format(fn="cron_prev"), (v["expr"], v["tz"], at)).fetchone()[0]
            out.append(fire)
            if fire is None:
                break
            at = fire - 1
        got["prev"] = out
    return got


def expected(v):
    return {k: [micros(t) for t in v[k]] for k in ("next", "prev") if k in v}


@pytest.mark.parametrize("v", VECTORS, ids=[v["id"] for v in VECTORS])
def test_reference_vectors_in_the_database(cconn, v):
    assert walk(cconn, v) == expected(v)


SESSION_STYLES = [
    {"DateStyle": "SQL, DMY", "TimeZone": "UTC", "IntervalStyle": "postgres"},
    {"DateStyle": "German", "TimeZone": "Europe/Berlin", "IntervalStyle": "sql_standard"},
    {"DateStyle": "Postgres, MDY", "TimeZone": "America/Santiago", "IntervalStyle": "iso_8601"},
    {"DateStyle": "ISO, YMD", "TimeZone": "Asia/Kolkata", "IntervalStyle": "postgres_verbose"},
]


def _styled(dsn, style):
    options = " ".join(f"-c {k}={v.replace(' ', '')}" for k, v in style.items())
    return psycopg.connect(dsn, autocommit=True, options=options)


@pytest.mark.parametrize("style", SESSION_STYLES, ids=lambda s: s["DateStyle"].replace(" ", ""))
def test_session_settings_do_not_change_the_answers(cron_db, style):
    with _styled(cron_db, style) as c:
        assert c.execute("SHOW DateStyle").fetchone()[0].replace(" ", "").startswith(style["DateStyle"].replace(" ", ""))
        wrong = [v["id"] for v in VECTORS if walk(c, v) != expected(v)]
    assert wrong == []


def test_issue8_answers(cconn):
    def one(query, *args):
        return cconn.execute(query, args).fetchone()[0]
    assert one("SELECT bgjobs.cron_next('0 0 */10 * *', 'UTC', '2025-02-22 00:00+00') "
               "= '2025-03-01 00:00+00'")
    assert one("SELECT bgjobs.cron_prev('15 22 29 2 *', 'UTC', '2024-02-29 00:00+00') "
               "= '2020-02-29 22:15+00'")
    assert one("SELECT bgjobs.cron_next('0 0 31 2 0', 'UTC', '2025-02-22 00:00+00') "
               "= '2025-02-23 00:00+00'")
    assert one("SELECT bgjobs.cron_prev('0 0 31 2 0', 'UTC', '2025-02-22 00:00+00') "
               "= '2025-02-16 00:00+00'")


def test_no_answer_is_null_not_an_error(cconn):
    rows = cconn.execute("""
        SELECT bgjobs.cron_next(NULL, 'UTC', now()), bgjobs.cron_prev(NULL, 'UTC', now()),
               bgjobs.cron_next('* * * * *', 'UTC', NULL), bgjobs.cron_prev('* * * * *', 'UTC', NULL),
               bgjobs.cron_next('* * * * *', 'UTC', 'infinity'), bgjobs.cron_prev('* * * * *', 'UTC', '-infinity'),
               bgjobs.cron_next('* * * * *', 'UTC', '9999-12-31 23:59:59+00'),
               bgjobs.cron_next('* * * * *', 'UTC', '12000-01-01 00:00+00'),
               bgjobs.cron_prev('* * * * *', 'UTC', '0044-03-15 00:00+00 BC')""").fetchone()
    assert rows == (None,) * 9
    # a NULL zone is UTC, as in the module
    assert cconn.execute("SELECT bgjobs.cron_next('0 0 * * *', NULL, '2026-01-01 12:00+00') "
                         "= '2026-01-02 00:00+00'").fetchone()[0]


def test_the_schedule_math_is_sql_not_pl_python(cconn):
    """No routine of the schedule math is PL/Python, none calls one, and the module is not
    embedded in the database: a zoned tick on a new connection loads no Python."""
    rows = cconn.execute("""
        SELECT p.oid::regprocedure::text, l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
         WHERE p.pronamespace = 'bgjobs'::regnamespace AND p.proname LIKE 'cron\\_%'
         ORDER BY 1""").fetchall()
    assert {name.split("(")[0] for name, _ in rows} >= {
        "bgjobs.cron_parse", "bgjobs.cron_fire", "bgjobs.cron_next", "bgjobs.cron_prev",
        "bgjobs.cron_check", "bgjobs.cron_max_gap"}
    assert [name for name, lang in rows if lang not in ("sql", "plpgsql")] == []
    assert cconn.execute("SELECT to_regprocedure('bgjobs.cron_fire_epoch(text,text,numeric,boolean)')").fetchone()[0] is None
    assert cconn.execute("SELECT count(*) FROM bgjobs.plpython_modules WHERE name = 'bgjobs_schedule'").fetchone()[0] == 0


def test_an_expression_refused_at_install_names_itself(cconn):
    with pytest.raises(psycopg.Error, match=r"invalid cron expression '0 0 30 2 \*'.*never fires"):
        cconn.execute("SELECT bgjobs.cron_next('0 0 30 2 *', 'UTC', now())")
    with pytest.raises(psycopg.Error, match="unknown time zone 'Mars/Olympus'"):
        cconn.execute("SELECT bgjobs.cron_prev('* * * * *', 'Mars/Olympus', now())")


# ------------------------------------------------ the same answers as the Python module

sched = pymodules.schedule()
INVALID = ["", "   ", "0 0 * * * *", "* * * *", "@reboot", "@every_minute", "@DAILY", "30 seconds",
           "60 * * * *", "* 24 * * *", "0 0 0 * *", "0 0 * 13 *", "0 0 * * 8", "1/20 * * * *",
           "*/0 * * * *", "5-1 * * * *", "0 0 L * *", "0 0 ? * *", "0 0 * * 1#2", "0 0 15W * *",
           "1,,2 * * * *", "0 0 30 2 *", "0 0 31 4,6,9,11 *", "* * 5-1 * *", "1-1_0 * * * *",
           "-1 * * * *", "* * * janu-jun *", "0-10/error * * * *", "2/ * * * *", "/2 * * * *",
           "1//2 * * * *", "99999999999 * * * *", "* * * * 5L", "0 0 * foo *", "0 0 * * funday"]
ZONES = ["Europe/Berlin", "europe/berlin", "Mars/Olympus", "UTC+3", "+05", "", "US/Eastern",
         "EST5EDT", "GMT0", "Etc/GMT+3", "America/Argentina/Buenos_Aires", "America/../UTC"]


@pytest.mark.parametrize("expr", INVALID)
def test_refusals_have_the_modules_words(cconn, expr):
    reason = cconn.execute("SELECT bgjobs.cron_check(%s, 'UTC')", (expr,)).fetchone()[0]
    assert reason == (sched.validate_cron(expr) if expr.strip() else "invalid cron expression: it is empty")


@pytest.mark.parametrize("zone", ZONES)
def test_zone_checks_have_the_modules_words(cconn, zone):
    reason = cconn.execute("SELECT bgjobs.cron_check('0 8 * * *', %s)", (zone,)).fetchone()[0]
    want = sched.validate_timezone(zone)
    assert reason == (None if want is None else want + " (an IANA zone such as Europe/Berlin, or tenant)")


MAX_GAP = [("* * * * *", "America/New_York"), ("*/15 * * * *", "Europe/Berlin"), ("0 */6 * * *", "UTC"),
           ("0 2 * * *", "America/New_York"), ("0 8 * * *", "Europe/Berlin"), ("59 23 * * *", "America/Santiago"),
           ("0 9 * * 1-5", "Europe/London"), ("0 0 1 * *", "UTC"), ("@yearly", "UTC"), ("0 0 29 2 *", "UTC"),
           ("*/30 2 * * *", "America/New_York"), ("30 1 * * *", "Australia/Lord_Howe"),
           ("0 0 29 2 */7", "UTC"), ("* 1-6 * * *", "Europe/Riga"), ("15 2 1 * sun", "Africa/Casablanca"),
           ("0 8 * * *", "Asia/Kolkata")]


@pytest.mark.parametrize("expr,zone", MAX_GAP)
def test_longest_gap_is_the_modules(cconn, expr, zone):
    now, gap = cconn.execute("SELECT now(), extract(epoch FROM bgjobs.cron_max_gap(%s, %s))::bigint",
                             (expr, zone)).fetchone()
    assert dt.timedelta(seconds=gap) == sched.max_gap(expr, zone, now)


def test_random_expressions_agree_with_the_module(cconn):
    """A seeded sample of expressions, zones (DST both hemispheres, midnight changes, a
    skipped day) and instants near offset changes: next and previous fire both ways."""
    rnd = random.Random(20261130)
    zones = ["UTC", "Europe/Berlin", "America/New_York", "America/Santiago", "Australia/Lord_Howe",
             "Africa/Casablanca", "Asia/Kolkata", "Pacific/Chatham", "America/St_Johns", "Pacific/Apia", "CET"]
    changes = [dt.datetime(2026, 3, 29, 1, tzinfo=UTC), dt.datetime(2026, 10, 25, 1, tzinfo=UTC),
               dt.datetime(2026, 3, 8, 7, tzinfo=UTC), dt.datetime(2026, 11, 1, 6, tzinfo=UTC),
               dt.datetime(2026, 4, 5, 3, tzinfo=UTC), dt.datetime(2026, 9, 6, 4, tzinfo=UTC),
               dt.datetime(2011, 12, 30, 10, tzinfo=UTC), dt.datetime(2026, 2, 15, 2, tzinfo=UTC)]

    def field(lo, hi):
        r = rnd.random()
        if r < 0.3:
            return "*"
        if r < 0.45:
            return f"*/{rnd.randint(1, hi)}"
        if r < 0.6:
            a = rnd.randint(lo, hi)
            return f"{a}-{rnd.randint(a, hi)}" + (f"/{rnd.randint(1, 5)}" if rnd.random() < 0.3 else "")
        if r < 0.8:
            return ",".join(str(rnd.randint(lo, hi)) for _ in range(rnd.randint(1, 3)))
        return str(rnd.randint(lo, hi))

    cases = []
    while len(cases) < 400:
        if rnd.random() < 0.5:
            expr = " ".join([field(0, 59), field(0, 23), field(1, 31), field(1, 12), field(0, 7)])
        else:
            expr = f"{rnd.choice(['0', '15', '30', '59', field(0, 59)])} {rnd.choice([str(rnd.randint(0, 23)), field(0, 23)])} * * *"
        if sched.validate_cron(expr):
            continue
        at = rnd.choice(changes) + dt.timedelta(minutes=rnd.randint(-1500, 1500), seconds=rnd.choice([0, 0, 17]))
        cases.append((expr, rnd.choice(zones), at))
    wrong = []
    for expr, zone, at in cases:
        got = cconn.execute("SELECT bgjobs.cron_next(%s, %s, %s), bgjobs.cron_prev(%s, %s, %s)",
                            (expr, zone, at, expr, zone, at)).fetchone()
        want = (sched.next_fire(expr, zone, at), sched.prev_fire(expr, zone, at))
        if got != want:
            wrong.append((expr, zone, at, got, want))
    assert wrong == []


# ------------------------------------------------------------------- job_status, NEXT

def test_job_status_with_unusual_schedules_under_any_date_style(db):
    """Schedules that used to break it ('0 0 31 2 0' raised), in sessions whose DateStyle
    used to break it: same next expected runs as in an ISO session."""
    with psycopg.connect(db, autocommit=True) as c:
        c.execute("""INSERT INTO bgjobs.job_registry (job_name, schedule, function_name, timezone)
                     VALUES ('feb-sundays', '0 0 31 2 0', 'job_check_job_health', 'UTC'),
                            ('leap-day', '15 22 29 2 *', 'job_check_job_health', 'America/Santiago'),
                            ('every-tenth', '0 0 */10 * *', 'job_check_job_health', 'Africa/Casablanca')""")
    query = ("SELECT s.job_name, r.tenant_local, (extract(epoch FROM s.next_expected_run) * 1000000)::bigint "
             "FROM public.job_status s JOIN bgjobs.job_registry r USING (job_name) ORDER BY s.job_name")
    with psycopg.connect(db, autocommit=True, options="-c DateStyle=ISO,MDY") as c:
        reference = c.execute(query).fetchall()
    # every job read from a cron schedule has its next fire (tenant-local ones: no tenants here)
    assert [name for name, tenant_local, nxt in reference if nxt is None and not tenant_local] == []
    assert {"feb-sundays", "leap-day", "every-tenth"} <= {name for name, _, _ in reference}
    for style in SESSION_STYLES:
        with _styled(db, style) as c:
            assert c.execute(query).fetchall() == reference, style


# Tenant-local jobs on DST days: NEXT is the tick at which the run handles the tenant
# (due_tenants: the first tick at or after the local time), also when that local time is
# repeated (first occurrence) or skipped (end of the gap).
DST_DAYS = [
    # zone, job, local time, as_of (UTC; before the local time on that local day), why
    ("Africa/Casablanca", "update-installment-statuses", "02:00", "2026-02-15 00:00", "02:00-02:59 repeated"),
    ("America/Santiago", "analytics-snapshot", "23:59", "2026-04-04 15:00", "23:00-23:59 repeated"),
    ("Australia/Lord_Howe", "update-installment-statuses", "01:45", "2026-04-04 13:30", "01:30-01:59 repeated"),
    ("America/New_York", "update-installment-statuses", "01:30", "2026-11-01 04:00", "01:00-01:59 repeated"),
    ("Africa/Casablanca", "update-installment-statuses", "02:30", "2026-03-22 00:00", "02:00-02:59 skipped"),
    ("Australia/Lord_Howe", "update-installment-statuses", "02:15", "2026-10-03 13:30", "02:00-02:29 skipped"),
    # the local day before handled: NEXT is the next local day's slot, which is skipped
    ("America/Santiago", "update-installment-statuses", "00:30", "2026-09-05 12:00", "00:00-00:59 skipped"),
    ("America/New_York", "send-hearing-reminders", "08:00", "2026-03-08 05:00", "ordinary time"),
]


@pytest.mark.parametrize("zone,job,local_time,as_of,why", DST_DAYS, ids=[f"{d[0]}-{d[4]}" for d in DST_DAYS])
def test_next_expected_run_is_the_tick_that_handles_the_tenant(db, zone, job, local_time, as_of, why):
    # a session far from UTC with a day-first DateStyle: neither may matter
    with psycopg.connect(db, autocommit=True,
                         options="-c TimeZone=Pacific/Chatham -c DateStyle=SQL,DMY") as c:
        c.execute("DELETE FROM public.tenants")
        tenant = c.execute("INSERT INTO public.tenants (name, timezone) VALUES ('t', %s) RETURNING id",
                           (zone,)).fetchone()[0]
        c.execute("UPDATE bgjobs.job_registry SET local_time = %s WHERE job_name = %s", (local_time, job))
        args = {"job": job, "tenant": tenant, "as_of": as_of + "+00", "zone": zone, "lt": local_time}
        # the local day before was handled (else its slot would be caught up at once)
        c.execute("""INSERT INTO bgjobs.tenant_job_runs (job_name, tenant_id, local_date)
                     SELECT %(job)s, %(tenant)s, (%(as_of)s::timestamptz AT TIME ZONE %(zone)s)::date - 1""", args)
        # a slot already passed on as_of's local day was handled
        c.execute("""INSERT INTO bgjobs.tenant_job_runs (job_name, tenant_id, local_date)
                     SELECT %(job)s, %(tenant)s, l.local_now::date
                       FROM (SELECT %(as_of)s::timestamptz AT TIME ZONE %(zone)s AS local_now) l
                      WHERE l.local_now::time > %(lt)s::time""", args)
        # The job's pg_cron tick: every 15 minutes at the local time's minute offset.  Both
        # answers as microseconds since the epoch (no DateStyle on the way back).
        first_due, nxt = c.execute("""
            SELECT (extract(epoch FROM min(t.tick)) * 1000000)::bigint,
                   (extract(epoch FROM bgjobs.next_expected_run(%(job)s, %(as_of)s::timestamptz)) * 1000000)::bigint
              FROM generate_series(%(as_of)s::timestamptz + make_interval(mins => extract(minute FROM %(lt)s::time)::int %% 15),
                                   %(as_of)s::timestamptz + interval '2 days', interval '15 minutes') AS t(tick)
             WHERE %(tenant)s = ANY (bgjobs.due_tenants(%(job)s, t.tick))""", args).fetchone()
        assert first_due is not None
        assert nxt == first_due, why
