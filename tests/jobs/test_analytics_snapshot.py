"""analytics-snapshot: the six metrics, one row per tenant and local date (upsert,
idempotent), the 30 % anomaly edge against the 7-day average, zones, the 23:59 tick."""

from datetime import date, datetime, timedelta, timezone

from psycopg.types.json import Jsonb

JOB = "analytics-snapshot"
IST = timezone(timedelta(hours=5, minutes=30))
AS_OF = datetime(2026, 3, 8, 23, 59, tzinfo=IST)
H = timedelta(hours=1)


def snapshot(sql, tenant):
    return sql("SELECT snapshot_date, metric_value FROM analytics_snapshots WHERE tenant_id = %s "
               "AND metric_type = 'daily_snapshot' ORDER BY snapshot_date DESC LIMIT 1", tenant)[0]


def test_metrics(sql, mk, run):
    t = mk.tenant(tz="Asia/Kolkata")
    u = mk.user(t)
    cases = [mk.case(t, owner=u) for _ in range(3)] + [mk.case(t, status="Closed")]
    mk.task(t, AS_OF - 10 * H, status="Completed", completed_at=AS_OF - 12 * H)             # on time
    mk.task(t, AS_OF - 100 * H, status="Completed", completed_at=AS_OF - 10 * H)            # late past SLA (72 h)
    mk.task(t, AS_OF - 80 * H)                                                              # open past SLA
    mk.task(t, AS_OF - 2 * H)                                                               # overdue, within SLA
    mk.task(t, AS_OF + 2 * H)                                                               # not due yet
    mk.task(t, AS_OF - 500 * H, status="Cancelled")                                         # left out
    for status in ("Attended", "Attended", "Adjourned", "Cancelled"):
        mk.hearing(t, cases[0], AS_OF - 24 * H, status=status)
    mk.hearing(t, cases[0], AS_OF + 24 * H)                                                 # not held yet
    for _ in range(4):
        mk.document(t, cases[1])
    res = run(JOB, AS_OF)["results"]
    assert res == {"tenantsProcessed": 1, "snapshotsWritten": 1, "anomaliesDetected": 0, "recordsUpdated": 1}
    day, value = snapshot(sql, t)
    assert day == date(2026, 3, 8)
    assert value == {"case_count": 3, "task_completion_rate": 0.4, "sla_compliance_rate": 0.6,
                     "hearing_attendance_rate": 0.6667, "document_count": 4, "overdue_tasks": 2,
                     "anomaly_detected": False, "anomalies": []}


def test_one_row_per_tenant_and_local_date_upserted(sql, mk, run):
    t = mk.tenant(tz="America/Los_Angeles")
    mk.document(t)
    at = datetime(2026, 3, 8, 7, 59, tzinfo=timezone.utc)           # 23:59 PST on the 7th
    assert run(JOB, at)["results"]["snapshotsWritten"] == 1
    assert run(JOB, at)["results"]["snapshotsWritten"] == 0         # same figures: nothing changes
    mk.document(t)
    assert run(JOB, at)["results"]["snapshotsWritten"] == 1         # new figures: the row is updated
    rows = sql("SELECT snapshot_date, metric_value->>'document_count' FROM analytics_snapshots")
    assert rows == [(date(2026, 3, 7), "2")]


def test_tenants_in_different_zones_in_one_run(sql, mk, run):
    ts = {tz: mk.tenant(tz=tz) for tz in ("Pacific/Kiritimati", "Asia/Kolkata", "America/New_York")}
    run(JOB, datetime(2026, 3, 8, 12, 0, tzinfo=timezone.utc))
    got = {tz: snapshot(sql, t)[0] for tz, t in ts.items()}
    assert got == {"Pacific/Kiritimati": date(2026, 3, 9), "Asia/Kolkata": date(2026, 3, 8),
                   "America/New_York": date(2026, 3, 8)}


def test_anomaly_edge_at_30_percent_of_the_7_day_average(sql, mk, run):
    t = mk.tenant(tz="UTC")
    at = datetime(2026, 3, 8, 23, 59, tzinfo=timezone.utc)
    base = {"case_count": 0, "overdue_tasks": 0, "task_completion_rate": None}
    for back, docs in [(1, 8), (2, 12), (3, 10), (4, 9), (5, 11), (6, 10), (7, 10), (8, 1000)]:
        sql("INSERT INTO analytics_snapshots (tenant_id, metric_type, snapshot_date, metric_value) "
            "VALUES (%s, 'daily_snapshot', %s, %s)", t, date(2026, 3, 8) - timedelta(days=back),
            Jsonb({**base, "document_count": docs}))
    # the 7 previous days average 10 documents (the 8th day back is not in the window)
    for _ in range(13):
        mk.document(t)
    assert run(JOB, at)["results"]["anomaliesDetected"] == 0        # 13 vs 10: exactly 30 %
    assert snapshot(sql, t)[1]["anomaly_detected"] is False
    mk.document(t)
    assert run(JOB, at)["results"]["anomaliesDetected"] == 1        # 14 vs 10: 40 %
    value = snapshot(sql, t)[1]
    assert value["anomaly_detected"] is True
    assert value["anomalies"] == [{"metric": "document_count", "value": 14, "average": 10,
                                   "deviation_pct": 40}]
    for _ in range(7):
        sql("DELETE FROM documents WHERE id = (SELECT id FROM documents LIMIT 1)")
    run(JOB, at)
    assert snapshot(sql, t)[1]["anomalies"] == [], "7 docs vs 10 is exactly -30 %: no anomaly"
    sql("DELETE FROM documents WHERE id = (SELECT id FROM documents LIMIT 1)")
    run(JOB, at)
    assert [a["metric"] for a in snapshot(sql, t)[1]["anomalies"]] == ["document_count"]


def test_tick_at_2359_local(sql, mk, tick):
    kol, ny = mk.tenant(tz="Asia/Kolkata"), mk.tenant(tz="America/New_York")
    for t in (kol, ny):
        sql("INSERT INTO bgjobs.tenant_job_runs (job_name, tenant_id, local_date) VALUES (%s, %s, '2026-03-07')", JOB, t)
    assert tick(JOB, "2026-03-08 18:14+00") == []
    [(_, n, res, _)] = tick(JOB, "2026-03-08 18:29+00")             # 23:59 IST
    assert res["tenantsProcessed"] == 1 and snapshot(sql, kol)[0] == date(2026, 3, 8)
    assert sql("SELECT count(*) FROM analytics_snapshots WHERE tenant_id = %s", ny) == [(0,)]
    [(_, n, res, _)] = tick(JOB, "2026-03-09 03:59+00")             # 23:59 EDT on the 8th
    assert snapshot(sql, ny)[0] == date(2026, 3, 8)


def test_a_2359_slot_missed_across_midnight_is_taken_for_its_own_day(sql, mk, tick):
    """CONTRACT §3: the 23:59 snapshot of day D is taken for day D even when the server came
    back after midnight.  Down from 18:00 UTC on 7 March (before 23:59 in Kolkata, 18:29
    UTC, and in UTC) until 00:44 UTC on the 8th: the first tick makes one run per slot,
    each as of its own slot, and the next day goes on as usual."""
    kol, utc_t = mk.tenant(tz="Asia/Kolkata"), mk.tenant(tz="UTC")
    for t in (kol, utc_t):
        mk.document(t)
        sql("INSERT INTO bgjobs.tenant_job_runs (job_name, tenant_id, local_date) VALUES (%s, %s, '2026-03-06')", JOB, t)
    runs = tick(JOB, "2026-03-08 00:44+00")
    assert [(r[2]["tenantsProcessed"], r[2]["snapshotsWritten"]) for r in runs] == [(1, 1), (1, 1)]
    assert [str(a) for (a,) in sql("SELECT as_of FROM jobs_log WHERE job_name = %s ORDER BY as_of", JOB)] == [
        "2026-03-07 18:29:00+00:00", "2026-03-07 23:59:00+00:00"]             # 23:59 IST, 23:59 UTC
    assert snapshot(sql, kol)[0] == date(2026, 3, 7) and snapshot(sql, utc_t)[0] == date(2026, 3, 7)
    assert sql("SELECT count(*) FROM analytics_snapshots WHERE snapshot_date = '2026-03-08'") == [(0,)]
    assert tick(JOB, "2026-03-08 00:59+00") == []                             # handled once
    [(_, _, res, _)] = tick(JOB, "2026-03-08 18:29+00")                      # 23:59 IST on the 8th
    assert res["tenantsProcessed"] == 1 and snapshot(sql, kol)[0] == date(2026, 3, 8)
    [(_, _, res, _)] = tick(JOB, "2026-03-08 23:59+00")
    assert res["tenantsProcessed"] == 1 and snapshot(sql, utc_t)[0] == date(2026, 3, 8)
    assert sql("SELECT t.timezone, r.local_date::text FROM bgjobs.tenant_job_runs r JOIN tenants t ON t.id = r.tenant_id "
               "WHERE r.job_name = %s AND r.local_date > '2026-03-06' ORDER BY r.local_date, t.timezone", JOB) == [
        ("Asia/Kolkata", "2026-03-07"), ("UTC", "2026-03-07"), ("Asia/Kolkata", "2026-03-08"), ("UTC", "2026-03-08")]
