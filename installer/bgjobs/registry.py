"""The jobs bgjobs ships: name, body function, schedule and expectations (CONTRACT
section 3).  `bgjobs install` registers each one that is not registered yet through the
job API, bgjobs.register_job (see jobs.py), as a DBA registers their own; from then on the
row in bgjobs.job_registry is the database's, changed only through the API or a settings
file that names the job."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import time, timedelta


@dataclass(frozen=True)
class Job:
    name: str
    function: str                        # schema.function: the job's body
    schedule: str | None = None          # pg_cron expression (UTC); tenant-local: derived
    cron_name: str | None = None         # pg_cron job name when it differs from name
    local_time: time | None = None       # tenant-local jobs: local time of day
    description: str = ""
    expected_duration: timedelta | None = None
    timeout: timedelta = timedelta(minutes=30)
    grace: timedelta | None = None       # None: derived from the interval
    stale_after: timedelta = timedelta(hours=24)
    enabled: bool = True
    needs_plpython: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def tenant_local(self) -> bool:
        return self.local_time is not None

    @property
    def pg_cron_name(self) -> str:
        return self.cron_name or self.name

    @property
    def tick(self) -> str:
        """The pg_cron schedule.  A tenant-local job ticks every 15 minutes at the minute
        offset of its local time: every zone's UTC offset is a multiple of 15 minutes, so
        each tenant's local time falls exactly on a tick (23:59 -> 14,29,44,59 * * * *)."""
        if self.schedule:
            return self.schedule
        m = self.local_time.minute % 15
        return "*/15 * * * *" if m == 0 else f"{m},{m + 15},{m + 30},{m + 45} * * * *"


def _s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


# The seeds' application: its six business jobs (bodies in sql/app/, schema bgjobs_app).
APP_JOBS: tuple[Job, ...] = (
    Job("check-sla-and-overdue", "bgjobs_app.job_check_sla_and_overdue", schedule="*/15 * * * *",
        description="Flags overdue tasks and SLA violations, runs automation rules",
        expected_duration=_s(5), timeout=timedelta(minutes=10)),
    Job("send-hearing-reminders", "bgjobs_app.job_send_hearing_reminders", local_time=time(8, 0),
        description="Reminds case owners and advocates of today's and tomorrow's hearings",
        expected_duration=_s(15)),
    Job("check-upcoming-deadlines", "bgjobs_app.job_check_upcoming_deadlines", local_time=time(9, 0),
        description="One digest per user of tasks and hearings due in the next 24 hours",
        expected_duration=_s(8)),
    Job("automation-health-check", "bgjobs_app.job_automation_health_check", schedule="0 7 * * *",
        description="Automation rules' success rates, degraded and inactive rules",
        expected_duration=_s(5)),
    Job("analytics-snapshot", "bgjobs_app.job_analytics_snapshot", local_time=time(23, 59),
        description="Daily metrics snapshot per tenant with anomaly detection",
        expected_duration=_s(30)),
    Job("update-installment-statuses", "bgjobs_app.job_update_installment_statuses", local_time=time(2, 0),
        cron_name="update-installment-statuses-daily",
        description="Pending installments past their due date become overdue",
        expected_duration=_s(30)),
)

# The runtime's own jobs: monitoring, delivery, retention (bodies in sql/monitoring/ and sql/plpython/,
# schema bgjobs).
RUNTIME_JOBS: tuple[Job, ...] = (
    Job("cron-healthcheck", "bgjobs.job_cron_healthcheck", schedule="0 */6 * * *", cron_name="cron-healthcheck-job",
        description="Stale heartbeats (24h), with the runbook's 6h anti-spam", expected_duration=_s(5)),
    Job("check-job-health", "bgjobs.job_check_job_health", schedule="0 * * * *",
        description="Missed runs, failures, slow runs, system health; alert state", expected_duration=_s(5)),
    Job("deliver-notifications", "bgjobs.job_deliver_notifications", schedule="* * * * *",
        description="Delivers the notification outbox (Slack, webhook, WhatsApp, email)",
        timeout=timedelta(minutes=5), needs_plpython=True),
    Job("purge-old-logs", "bgjobs.job_purge_old_logs", schedule="30 3 * * *",
        description="Retention: jobs_log, audit_log, automation_logs, notifications, cron.job_run_details"),
)

# Both are registered through the same job API (bgjobs.register_job) a DBA uses for their own.
JOBS: tuple[Job, ...] = APP_JOBS + RUNTIME_JOBS
BY_NAME = {j.name: j for j in JOBS}


def with_overrides(job: Job, overrides: dict) -> Job:
    return replace(job, **overrides) if overrides else job


def default_grace(interval: timedelta) -> timedelta:
    """A quarter of the interval, at least 5 minutes, at most 1 hour: a daily job is
    missed after 25 hours (the seeds' threshold)."""
    return min(timedelta(hours=1), max(timedelta(minutes=5), interval / 4))
