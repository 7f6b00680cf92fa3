"""update-installment-statuses: the rule, the agency's local date, pg_cron's tenant-local
ticks across time zones and DST days, idempotency, and the seeds' Test 3 as written."""

from datetime import date, datetime, timedelta, timezone

import pytest

JOB = "update-installment-statuses"


def status(sql, inst):
    return sql("SELECT status FROM installments WHERE id = %s", inst)[0][0]


def test_seed_test3_end_to_end_as_written(conn, sql, mk):
    # "Use existing test agency or create one"
    plan = mk.plan(mk.tenant("Test agency"))
    # 1. Create test data (pending installment past due), as in the seed
    sql(f"""
        INSERT INTO installments (payment_plan_id, amount, student_due_date, status)
        VALUES (
          '{plan}',
          100.00,
          CURRENT_DATE - INTERVAL '2 days',  -- Past due
          'pending'
        );""")
    test_installment_id = sql("SELECT id FROM installments WHERE payment_plan_id = %s", plan)[0][0]
    # 2. Manually trigger job
    sql("SELECT run_job('update-installment-statuses')")
    # 3. Verify results
    cur = conn.execute("""
        SELECT * FROM jobs_log
        WHERE job_name = 'update-installment-statuses'
        ORDER BY started_at DESC
        LIMIT 1;""")
    row = dict(zip([c.name for c in cur.description], cur.fetchone()))
    assert row["status"] == "success"                       # Job completes successfully
    assert row["records_updated"] >= 1                      # Job log shows records_updated >= 1
    inst = sql(f"SELECT * FROM installments WHERE id = '{test_installment_id}';")
    assert inst and status(sql, test_installment_id) == "overdue"   # Installment status updated to 'overdue'
    # 4. Clean up test data
    sql(f"DELETE FROM installments WHERE id = '{test_installment_id}'")


def test_only_pending_installments_before_the_local_date_change(sql, mk, run):
    plan = mk.plan(mk.tenant(tz="UTC"))
    as_of = "2026-03-08 12:00+00"
    past_pending = mk.installment(plan, "2026-03-07")
    long_past = mk.installment(plan, "2025-01-01")
    due_today = mk.installment(plan, "2026-03-08")
    future = mk.installment(plan, "2026-03-09")
    paid = mk.installment(plan, "2026-03-01", status="paid")
    cancelled = mk.installment(plan, "2026-03-01", status="cancelled")
    already = mk.installment(plan, "2026-03-01", status="overdue")
    resp = run(JOB, as_of)
    assert resp["results"]["installmentsUpdated"] == 2
    assert resp["results"]["recordsUpdated"] == 2
    assert [status(sql, i) for i in (past_pending, long_past, due_today, future, paid, cancelled, already)] == \
        ["overdue", "overdue", "pending", "pending", "paid", "cancelled", "overdue"]
    assert sql("SELECT records_updated FROM jobs_log WHERE job_name = %s ORDER BY started_at DESC LIMIT 1", JOB) == [(2,)]


def test_second_run_changes_nothing(sql, mk, run):
    plan = mk.plan(mk.tenant())
    for d in ("2026-03-01", "2026-03-02", "2026-03-20"):
        mk.installment(plan, d)
    assert run(JOB, "2026-03-08 12:00+00")["results"]["recordsUpdated"] == 2
    before = sql("SELECT id, status, updated_at FROM installments ORDER BY id")
    assert run(JOB, "2026-03-08 12:00+00")["results"]["recordsUpdated"] == 0
    assert sql("SELECT id, status, updated_at FROM installments ORDER BY id") == before
    assert sql("SELECT records_updated FROM jobs_log WHERE job_name = %s ORDER BY started_at", JOB) == [(2,), (0,)]


def test_local_midnight_boundary(sql, mk, run):
    plan = mk.plan(mk.tenant(tz="Asia/Kolkata"))
    inst = mk.installment(plan, "2026-03-08")
    run(JOB, "2026-03-08 23:59:59+05:30")          # still the due date, locally
    assert status(sql, inst) == "pending"
    run(JOB, "2026-03-09 00:00:00+05:30")          # the local date after it
    assert status(sql, inst) == "overdue"


def test_each_agency_uses_its_own_local_date_in_one_run(sql, mk, run):
    # 2026-03-08 12:00 UTC is 2026-03-09 02:00 in Kiritimati (UTC+14), 17:30 on the 8th in
    # Kolkata and 04:00 on the 8th in Los Angeles.
    zones = {"Pacific/Kiritimati": "overdue", "Asia/Kolkata": "pending", "America/Los_Angeles": "pending",
             "UTC": "pending"}
    insts = {}
    for tz in zones:
        plan = mk.plan(mk.tenant(tz=tz))
        insts[tz] = (mk.installment(plan, "2026-03-08"), mk.installment(plan, "2026-03-07"))
    resp = run(JOB, "2026-03-08 12:00+00")
    assert resp["results"]["recordsUpdated"] == 5
    for tz, expected in zones.items():
        assert status(sql, insts[tz][0]) == expected, tz
        assert status(sql, insts[tz][1]) == "overdue", tz


def test_replay_as_of_an_earlier_moment(sql, mk, run):
    plan = mk.plan(mk.tenant(tz="America/New_York"))
    a, b = mk.installment(plan, "2026-03-05"), mk.installment(plan, "2026-03-10")
    run(JOB, "2026-03-06 07:00+00")                 # 02:00 EST on the 6th
    assert (status(sql, a), status(sql, b)) == ("overdue", "pending")
    run(JOB, "2026-03-11 06:00+00")                 # 02:00 EDT on the 11th
    assert (status(sql, a), status(sql, b)) == ("overdue", "overdue")


def _simulate(sql, mk, zones, start, end):
    """Every 15-minute pg_cron tick from start to end; after each, an installment due on D
    of a tenant is overdue exactly when the tenant was handled for a local date after D."""
    tenants = {}
    days = [start.date() + timedelta(days=i) for i in range(-1, (end - start).days + 2)]
    for tz in zones:
        t = mk.tenant(tz=tz, name=tz)
        plan = mk.plan(t)
        tenants[tz] = (t, {d: mk.installment(plan, d) for d in days})
    moment = start
    while moment < end:
        sql("CALL bgjobs.run_scheduled_job('update-installment-statuses', %s)", moment)
        handled = {}
        for tid, local_date in sql("SELECT tenant_id, local_date FROM bgjobs.tenant_job_runs WHERE job_name = %s", JOB):
            handled[tid] = max(handled.get(tid, date.min), local_date)
        for tz, (t, insts) in tenants.items():
            for d, inst in insts.items():
                want = "overdue" if t in handled and handled[t] > d else "pending"
                assert status(sql, inst) == want, (tz, moment, d)
        moment += timedelta(minutes=15)
    runs = sql("""SELECT t.name, r.local_date, j.as_of FROM bgjobs.tenant_job_runs r
                  JOIN tenants t ON t.id = r.tenant_id JOIN jobs_log j ON j.id = r.run_id
                  WHERE r.job_name = %s""", JOB)
    return {(name, local_date): as_of.astimezone(timezone.utc) for name, local_date, as_of in runs}


def utc(s):
    return datetime.fromisoformat(s).replace(tzinfo=timezone.utc)


def test_ticks_around_spring_forward(sql, mk):
    zones = ["Asia/Kolkata", "America/New_York", "America/Los_Angeles", "Pacific/Kiritimati"]
    got = _simulate(sql, mk, zones, utc("2026-03-07 00:00"), utc("2026-03-10 00:00"))
    expected = {
        # the first tick catches up a tenant whose 02:00 had already passed that local day
        ("Asia/Kolkata", date(2026, 3, 7)): utc("2026-03-07 00:00"),
        ("Asia/Kolkata", date(2026, 3, 8)): utc("2026-03-07 20:30"),       # 02:00 IST
        ("Asia/Kolkata", date(2026, 3, 9)): utc("2026-03-08 20:30"),
        ("Asia/Kolkata", date(2026, 3, 10)): utc("2026-03-09 20:30"),
        ("America/New_York", date(2026, 3, 6)): utc("2026-03-07 00:00"),   # catch-up (19:00 EST on the 6th)
        ("America/New_York", date(2026, 3, 7)): utc("2026-03-07 07:00"),   # 02:00 EST
        ("America/New_York", date(2026, 3, 8)): utc("2026-03-08 07:00"),   # 02:00 does not exist: 03:00 EDT
        ("America/New_York", date(2026, 3, 9)): utc("2026-03-09 06:00"),   # 02:00 EDT
        ("America/Los_Angeles", date(2026, 3, 6)): utc("2026-03-07 00:00"),
        ("America/Los_Angeles", date(2026, 3, 7)): utc("2026-03-07 10:00"),  # 02:00 PST
        ("America/Los_Angeles", date(2026, 3, 8)): utc("2026-03-08 10:00"),  # 03:00 PDT, first tick after
        ("America/Los_Angeles", date(2026, 3, 9)): utc("2026-03-09 09:00"),  # 02:00 PDT
        ("Pacific/Kiritimati", date(2026, 3, 7)): utc("2026-03-07 00:00"),   # 14:00 local: catch-up
        ("Pacific/Kiritimati", date(2026, 3, 8)): utc("2026-03-07 12:00"),   # 02:00 +14
        ("Pacific/Kiritimati", date(2026, 3, 9)): utc("2026-03-08 12:00"),
        ("Pacific/Kiritimati", date(2026, 3, 10)): utc("2026-03-09 12:00"),
    }
    assert got == expected
    # idle ticks record nothing: one jobs_log row per tick that handled someone
    assert sql("SELECT count(*) FROM jobs_log WHERE job_name = %s", JOB) == [(len(set(expected.values())),)]


def test_ticks_around_fall_back(sql, mk):
    zones = ["America/New_York", "America/Los_Angeles"]
    got = _simulate(sql, mk, zones, utc("2026-10-31 12:00"), utc("2026-11-02 12:00"))
    assert got == {
        ("America/New_York", date(2026, 10, 31)): utc("2026-10-31 12:00"),    # catch-up
        ("America/New_York", date(2026, 11, 1)): utc("2026-11-01 07:00"),     # 02:00 EST, once
        ("America/New_York", date(2026, 11, 2)): utc("2026-11-02 07:00"),
        ("America/Los_Angeles", date(2026, 10, 31)): utc("2026-10-31 12:00"),
        ("America/Los_Angeles", date(2026, 11, 1)): utc("2026-11-01 10:00"),  # 02:00 PST, once
        ("America/Los_Angeles", date(2026, 11, 2)): utc("2026-11-02 10:00"),
    }


@pytest.mark.parametrize("tz, before, at", [
    ("Asia/Kolkata", "2026-03-07 20:15+00", "2026-03-07 20:30+00"),
    ("America/New_York", "2026-03-08 06:45+00", "2026-03-08 07:00+00"),
    ("America/Los_Angeles", "2026-03-08 09:45+00", "2026-03-08 10:00+00"),
    ("America/New_York", "2026-11-01 06:45+00", "2026-11-01 07:00+00"),
    ("America/Los_Angeles", "2026-11-01 09:45+00", "2026-11-01 10:00+00"),
    ("Pacific/Kiritimati", "2026-03-08 11:45+00", "2026-03-08 12:00+00"),
])
def test_tick_at_the_slot_and_not_before(sql, mk, tick, tz, before, at):
    t = mk.tenant(tz=tz)
    local_at = sql("SELECT (%s::timestamptz AT TIME ZONE %s)::date", at, tz)[0][0]
    inst = mk.installment(mk.plan(t), local_at - timedelta(days=1))
    # the tenant's previous local date is already handled (as by yesterday's tick)
    sql("INSERT INTO bgjobs.tenant_job_runs (job_name, tenant_id, local_date) VALUES (%s, %s, %s)",
        JOB, t, local_at - timedelta(days=1))
    assert tick(JOB, before) == []                      # idle tick: nothing recorded
    assert status(sql, inst) == "pending"
    rows = tick(JOB, at)
    assert [(s, n) for s, n, _, _ in rows] == [("success", 1)]
    assert status(sql, inst) == "overdue"
    assert sql("SELECT local_date FROM bgjobs.tenant_job_runs WHERE tenant_id = %s ORDER BY local_date DESC LIMIT 1", t) \
        == [(local_at,)]
    assert tick(JOB, at) == []                          # same tick again: already handled
