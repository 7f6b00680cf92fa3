JOBS = ["check-sla-and-overdue", "send-hearing-reminders", "check-upcoming-deadlines",
        "automation-health-check", "analytics-snapshot", "update-installment-statuses"]


def test_every_job_runs_on_an_empty_database(run):
    for job in JOBS:
        resp = run(job, "2026-03-08 12:00+00")
        assert resp["results"]["recordsUpdated"] == 0
