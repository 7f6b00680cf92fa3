"""check-upcoming-deadlines: items due in the next 24 hours (both edges), one digest per
user with high priority first and times in the tenant's zone, a deadline_approaching event
per item, idempotency."""

from datetime import datetime, timedelta, timezone

from bgjobs import pymodules

JOB = "check-upcoming-deadlines"
IST = timezone(timedelta(hours=5, minutes=30))
AS_OF = datetime(2026, 3, 8, 9, 0, tzinfo=IST)          # 09:00 in Kolkata
H = timedelta(hours=1)


def digests(sql):
    ch = pymodules.channels()
    rows = sql("SELECT recipient, payload FROM notifications WHERE template = 'deadline_digest' ORDER BY recipient")
    return {r: (p, ch.render("deadline_digest", p)) for r, p in rows}


def test_one_digest_per_user_high_first_in_the_tenant_zone(sql, mk, run):
    t = mk.tenant(tz="Asia/Kolkata")
    a = mk.user(t, email="a@example.com")
    b = mk.user(t, email="b@example.com")
    court = mk.court("GSTAT Ahmedabad")
    case = mk.case(t, owner=a, assigned=b, number="GST-2024-0123", title="Appeal")
    mk.task(t, AS_OF + 8 * H, priority="Critical", assigned=a, title="Submit Reply to ASMT-10 Notice")
    mk.task(t, AS_OF + 29 * H, priority="Low", assigned=a, title="Far")                       # > 24 h
    mk.task(t, AS_OF + 24 * H, priority="Medium", assigned=a, title="Edge 24h")               # exactly 24 h
    mk.task(t, AS_OF + 24 * H + timedelta(seconds=1), assigned=a, title="Just past the edge")
    mk.task(t, AS_OF, priority="Low", assigned=a, title="Due now")                              # exactly now
    mk.task(t, AS_OF - timedelta(seconds=1), assigned=a, title="Already overdue")
    mk.task(t, AS_OF + H, status="Completed", assigned=a, title="Done")
    mk.task(t, AS_OF + H, status="Cancelled", assigned=a, title="Dropped")
    mk.task(t, AS_OF + 5 * H, priority="Medium", status="In Progress", case=case, title="Unassigned")  # -> owner a
    mk.task(t, AS_OF + 2 * H, priority="High", assigned=b, title="Prepare hearing documents")
    mk.hearing(t, case, AS_OF + 25 * H / 10, court)                                            # 11:30 IST
    mk.hearing(t, case, AS_OF + 30 * H, court)                                                 # too far
    res = run(JOB, AS_OF)["results"]
    assert res == {"itemsFound": 6, "usersNotified": 2, "rulesTriggered": 0, "recordsUpdated": 2}
    got = digests(sql)
    assert set(got) == {"a@example.com", "b@example.com"}
    pa, ma = got["a@example.com"]
    assert [(i["kind"], i["title"], i["high"]) for i in pa["items"]] == [
        ("Hearing", "GST-2024-0123 Appeal at GSTAT Ahmedabad", True), ("Task", "Submit Reply to ASMT-10 Notice", True),
        ("Task", "Due now", False), ("Task", "Unassigned", False), ("Task", "Edge 24h", False)]
    # hearings are high priority; each section is sorted by due time
    assert ma["text"].splitlines()[:4] == ["📋 Your Upcoming Deadlines (Next 24 Hours)", "", "HIGH PRIORITY:",
                                          "• [Hearing] GST-2024-0123 Appeal at GSTAT Ahmedabad - Today 11:30 AM"]
    assert "• [Task] Submit Reply to ASMT-10 Notice - Due: Today 5:00 PM" in ma["text"]
    assert "• [Task] Edge 24h - Due: Tomorrow 9:00 AM" in ma["text"]
    assert ma["text"].index("NORMAL PRIORITY:") > ma["text"].index("Submit Reply")
    assert "Times are in Asia/Kolkata." in ma["text"]
    pb, mb = got["b@example.com"]
    assert [(i["kind"], i["high"]) for i in pb["items"]] == [("Task", True), ("Hearing", True)]
    assert "NORMAL PRIORITY:" not in mb["text"]


def test_deadline_approaching_event_per_item_and_idempotency(sql, mk, run):
    t = mk.tenant(tz="UTC")
    a = mk.user(t)
    case = mk.case(t, owner=a, assigned=a)
    rule = mk.rule(t, "deadline_approaching", "Ping", actions=[{"type": "notify", "to": "assignee"}])
    task = mk.task(t, AS_OF + 3 * H, assigned=a)
    hearing = mk.hearing(t, case, AS_OF + 6 * H)
    res = run(JOB, AS_OF)["results"]
    assert res == {"itemsFound": 2, "usersNotified": 1, "rulesTriggered": 2, "recordsUpdated": 1}
    logs = sql("SELECT e.entity_type, e.entity_id, e.event_data->>'hours_until_due', l.status FROM automation_logs l "
               "JOIN bgjobs_app.automation_events e ON e.log_id = l.id WHERE l.rule_id = %s ORDER BY 1", rule)
    assert logs == [("hearing", hearing, "6.00", "success"), ("task", task, "3.00", "success")]
    before = sql("SELECT count(*) FROM notifications"), sql("SELECT count(*) FROM automation_logs")
    assert run(JOB, AS_OF)["results"] == {"itemsFound": 2, "usersNotified": 0, "rulesTriggered": 0,
                                          "recordsUpdated": 0}
    assert (sql("SELECT count(*) FROM notifications"), sql("SELECT count(*) FROM automation_logs")) == before


def test_tenants_in_different_zones_get_their_own_dates_and_times(sql, mk, run):
    t1, t2 = mk.tenant(tz="Asia/Kolkata"), mk.tenant(tz="America/Los_Angeles")
    u1, u2 = mk.user(t1, email="in@example.com"), mk.user(t2, email="la@example.com")
    at = datetime(2026, 3, 8, 3, 30, tzinfo=timezone.utc)
    mk.task(t1, at + 4 * H, assigned=u1, title="Kolkata task")
    mk.task(t2, at + 8 * H, assigned=u2, title="LA task")
    run(JOB, at)
    got = digests(sql)
    assert got["in@example.com"][0]["local_date"] == "2026-03-08"
    assert got["la@example.com"][0]["local_date"] == "2026-03-07"
    assert "• [Task] Kolkata task - Due: Today 1:00 PM" in got["in@example.com"][1]["text"]
    # as_of is 19:30 PST on the 7th; 11:30 UTC on the 8th is 04:30 PDT (DST began at 02:00; PST would say 3:30)
    assert "• [Task] LA task - Due: Tomorrow 4:30 AM" in got["la@example.com"][1]["text"]
    assert sql("SELECT count(DISTINCT dedupe_key) FROM notifications") == [(2,)]
