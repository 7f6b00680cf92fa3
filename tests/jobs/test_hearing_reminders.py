"""send-hearing-reminders: today's and tomorrow's scheduled hearings in the tenant's dates,
one email per owner and advocate, WhatsApp when enabled, dedupe per hearing, recipient
and day, no cap, the seed's subject and body."""

from datetime import datetime, timedelta, timezone

from bgjobs import pymodules

JOB = "send-hearing-reminders"
IST = timezone(timedelta(hours=5, minutes=30))
AS_OF = datetime(2026, 3, 8, 8, 0, tzinfo=IST)          # 08:00 in Kolkata


def rendered(sql, **where):
    ch = pymodules.channels()
    rows = sql("SELECT channel, recipient, template, payload FROM notifications WHERE template = 'hearing_reminder' "
               "ORDER BY channel, recipient, payload->>'hearing_at'")
    return [(c, r, ch.render(t, p)) for c, r, t, p in rows]


def setup(mk, whatsapp=True):
    t = mk.tenant("Kolkata chambers", tz="Asia/Kolkata", whatsapp=whatsapp)
    owner = mk.user(t, email="owner@example.com", phone="+919800000001", name="Asha Owner")
    adv = mk.user(t, email="advocate@example.com", name="Ravi Advocate")
    court = mk.court("GSTAT Ahmedabad", "Ahmedabad")
    case = mk.case(t, owner=owner, assigned=adv, number="GST-2024-0123", title="Appeal against ASMT-10")
    return t, owner, adv, court, case


def test_today_and_tomorrow_in_the_tenant_zone(sql, mk, run):
    t, owner, adv, court, case = setup(mk)
    today = mk.hearing(t, case, datetime(2026, 3, 8, 10, 30, tzinfo=IST), court)
    first_minute = mk.hearing(t, case, datetime(2026, 3, 8, 0, 0, tzinfo=IST), court)       # today 00:00
    last_second = mk.hearing(t, case, datetime(2026, 3, 9, 23, 59, 59, tzinfo=IST), court)  # tomorrow 23:59:59
    mk.hearing(t, case, datetime(2026, 3, 10, 0, 0, tzinfo=IST), court)                     # day after: no
    mk.hearing(t, case, datetime(2026, 3, 7, 23, 59, 59, tzinfo=IST), court)                # yesterday: no
    mk.hearing(t, case, datetime(2026, 3, 8, 11, 0, tzinfo=IST), court, status="Adjourned")  # not Scheduled
    res = run(JOB, AS_OF)["results"]
    # 3 hearings x (owner email, advocate email, owner WhatsApp; the advocate has no phone)
    assert res == {"hearingsFound": 3, "emailsQueued": 6, "whatsappQueued": 3, "recordsUpdated": 9}
    got = sql("SELECT payload->>'hearing_id', channel, recipient FROM notifications ORDER BY 1, 2, 3")
    for h in (today, first_minute, last_second):
        assert [(c, r) for hid, c, r in got if hid == str(h)] == \
            [("email", "advocate@example.com"), ("email", "owner@example.com"), ("whatsapp", "+919800000001")]


def test_subject_and_body_follow_the_seed_template(sql, mk, run):
    t, owner, adv, court, case = setup(mk, whatsapp=False)
    mk.hearing(t, case, datetime(2026, 3, 9, 10, 30, tzinfo=IST), court)
    run(JOB, AS_OF)
    msgs = rendered(sql)
    assert [(c, r) for c, r, _ in msgs] == [("email", "advocate@example.com"), ("email", "owner@example.com")]
    for _, _, m in msgs:
        assert m["subject"] == "Hearing Reminder: GST-2024-0123 - GSTAT Ahmedabad"
        assert "Case: GST-2024-0123 - Appeal against ASMT-10" in m["text"]
        assert "Court: GSTAT Ahmedabad, Ahmedabad" in m["text"]
        assert "Date: Monday, 9 March 2026" in m["text"]
        assert "Time: 10:30 AM IST (Asia/Kolkata)" in m["text"]
        assert "Preparation checklist:" in m["text"]
    assert "Dear Asha Owner," in msgs[1][2]["text"]


def test_never_twice_for_the_same_hearing_recipient_and_day(sql, mk, run):
    t, owner, adv, court, case = setup(mk)
    h = mk.hearing(t, case, datetime(2026, 3, 9, 10, 30, tzinfo=IST), court)
    assert run(JOB, AS_OF)["results"]["recordsUpdated"] == 3
    assert run(JOB, AS_OF)["results"]["recordsUpdated"] == 0
    assert run(JOB, AS_OF + timedelta(hours=6))["results"]["recordsUpdated"] == 0   # later the same day
    assert sql("SELECT count(*) FROM notifications") == [(3,)]
    # the next day the hearing is today's: reminded again, once
    assert run(JOB, AS_OF + timedelta(days=1))["results"]["recordsUpdated"] == 3
    assert sql("SELECT count(*), count(DISTINCT dedupe_key) FROM notifications WHERE payload->>'hearing_id' = %s",
               str(h)) == [(6, 6)]


def test_owner_who_is_also_the_advocate_gets_one_email_and_inactive_users_none(sql, mk, run):
    t = mk.tenant(tz="UTC")
    solo = mk.user(t, email="solo@example.com")
    gone = mk.user(t, email="gone@example.com", active=False)
    c1 = mk.case(t, owner=solo, assigned=solo)
    c2 = mk.case(t, owner=gone, assigned=solo)
    c3 = mk.case(t, owner=None, assigned=None)
    for c in (c1, c2, c3):
        mk.hearing(t, c, datetime(2026, 3, 8, 15, 0, tzinfo=timezone.utc))
    res = run(JOB, datetime(2026, 3, 8, 8, 0, tzinfo=timezone.utc))["results"]
    assert res["hearingsFound"] == 3 and res["emailsQueued"] == 2
    assert sql("SELECT DISTINCT recipient FROM notifications") == [("solo@example.com",)]
    subj = pymodules.channels().render("hearing_reminder", sql("SELECT payload FROM notifications LIMIT 1")[0][0])
    assert subj["subject"].endswith(" - court to be confirmed")


def test_no_cap_every_due_hearing_is_reminded(sql, mk, run):
    t, owner, adv, court, case = setup(mk, whatsapp=False)
    sql("""INSERT INTO hearings (tenant_id, case_id, court_id, hearing_date)
           SELECT %s, %s, %s, %s::timestamptz + g * interval '1 minute' FROM generate_series(1, 250) g""",
        t, case, court, AS_OF)
    assert run(JOB, AS_OF)["results"] == {"hearingsFound": 250, "emailsQueued": 500, "whatsappQueued": 0,
                                          "recordsUpdated": 500}


def test_tick_handles_each_tenant_at_its_own_0800(sql, mk, tick):
    t1, o1, a1, court, c1 = setup(mk)
    t2 = mk.tenant("New York office", tz="America/New_York")
    o2 = mk.user(t2, email="ny@example.com")
    c2 = mk.case(t2, owner=o2, assigned=o2)
    mk.hearing(t1, c1, datetime(2026, 3, 8, 15, 0, tzinfo=IST), court)
    mk.hearing(t2, c2, datetime(2026, 3, 8, 15, 0, tzinfo=timezone.utc), court)
    # 02:30 UTC: 08:00 in Kolkata, 21:30 the day before in New York (the 8:00 slots of the
    # 7th are already marked handled, as by yesterday's ticks)
    for t in (t1, t2):
        sql("INSERT INTO bgjobs.tenant_job_runs (job_name, tenant_id, local_date) VALUES (%s, %s, '2026-03-07')", JOB, t)
    assert tick(JOB, "2026-03-08 02:15+00") == []
    [(_, n, res, _)] = tick(JOB, "2026-03-08 02:30+00")
    assert n == 3 and res["hearingsFound"] == 1
    assert sql("SELECT DISTINCT tenant_id FROM notifications") == [(t1,)]
    # New York's 08:00 EDT on the 8th (spring forward day) is 12:00 UTC
    assert tick(JOB, "2026-03-08 11:45+00") == []
    [(_, n, res, _)] = tick(JOB, "2026-03-08 12:00+00")
    assert n == 1 and sql("SELECT recipient FROM notifications WHERE tenant_id = %s", t2) == [("ny@example.com",)]
