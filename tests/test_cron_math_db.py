"""Cron math in the database: the reference vectors of tests/cron_vectors.json through
bgjobs.cron_next and bgjobs.cron_prev (the PL/Python versions), whatever the session's
DateStyle, IntervalStyle or TimeZone; NULL, never an error, where there is no answer; and
next_expected_run agreeing with the runs (due_tenants) on DST days.

Timestamps go in and come out as integer microseconds since the epoch, so that neither
the driver nor the session settings under test take part in the comparison."""

import datetime as dt
import json
import uuid
from pathlib import Path

import psycopg
import pytest

UTC = dt.timezone.utc
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
VECTORS = json.loads((Path(__file__).parent / "cron_vectors.json").read_text())["vectors"]
CALL = ("SELECT (extract(epoch FROM bgjobs.{fn}(%s, %s, timestamptz 'epoch' + %s * interval "
        "'1 microsecond')) * 1000000)::bigint")


def micros(text):
    return (dt.datetime.fromisoformat(text) - EPOCH) // dt.timedelta(microseconds=1)


@pytest.fixture(scope="module")
def cron_db(pg_server, template_db):
    """One database (bgjobs installed, with PL/Python) for the whole module: the vectors
    only read."""
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
        assert c.execute("SELECT bgjobs.cron_next('* * * * *', 'UTC', now()) IS NOT NULL").fetchone()[0], \
            "the PL/Python cron math is not installed (the SQL fallback answers NULL)"
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


def test_the_server_needs_no_croniter(cron_db):
    """A session whose Python cannot import croniter (as on a server without
    python3-croniter) gets the same answers: the module is loaded after the block."""
    with psycopg.connect(cron_db, autocommit=True) as c:
        c.execute("DO $py$\nimport sys\nsys.modules['croniter'] = None\n$py$ LANGUAGE plpython3u")
        with pytest.raises(psycopg.Error, match="croniter"):
            c.execute("DO $py$\nimport croniter\n$py$ LANGUAGE plpython3u")
        v = next(v for v in VECTORS if v["id"] == "issue8-dom-step-10")
        assert walk(c, v) == expected(v)


def test_an_expression_refused_at_install_names_itself(cconn):
    with pytest.raises(psycopg.Error, match=r"invalid cron expression '0 0 30 2 \*'.*never fires"):
        cconn.execute("SELECT bgjobs.cron_next('0 0 30 2 *', 'UTC', now())")
    with pytest.raises(psycopg.Error, match="unknown time zone 'Mars/Olympus'"):
        cconn.execute("SELECT bgjobs.cron_prev('* * * * *', 'Mars/Olympus', now())")


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
