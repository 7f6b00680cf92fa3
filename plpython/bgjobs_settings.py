"""bgjobs' settings: every app_settings key, its type, default, range and meaning, in one
place.  Its readers: the TOML settings reader (installer/bgjobs/settings.py), `bgjobs
install`, which copies it into bgjobs.setting_spec (where a trigger checks a DBA's own
INSERT/UPDATE of app_settings and bgjobs.get_setting() takes its defaults), and the plain
delivery modules (bgjobs_channels, bgjobs_delivery) for a key their caller left out.
Standard library only; no I/O at import (the installer embeds this source in PL/Python).
"""

from dataclasses import dataclass

__all__ = ["SPEC", "Spec", "default", "maximum"]


@dataclass(frozen=True)
class Spec:
    """One app_settings key: its type, default, range and meaning."""
    type: str                      # integer number boolean choice email email_list url host port text
    default: str
    description: str
    min: object = None
    max: object = None
    choices: tuple | None = None
    optional: bool = False         # an empty value means "not set"


def _int(default, lo, hi, desc):
    return Spec("integer", str(default), desc, lo, hi)


def _num(default, lo, hi, desc):
    return Spec("number", str(default), desc, lo, hi)


def _pct(default, desc):
    return Spec("number", str(default), desc, 0, 100)


def _bool(default, desc):
    return Spec("boolean", "true" if default else "false", desc)


def _url(default, desc, optional=True):
    return Spec("url", default, desc, optional=optional)


# Secrets are never settings: see set_secret().
SPEC: dict[str, Spec] = {
    # alert routing and email transport
    "alert_email_to": Spec("email_list", "", "comma-separated addresses for operational alerts", optional=True),
    "alert_email_from": Spec("email", "bgjobs@localhost", "From: of alert and notification emails (SMTP)"),
    "email_transport": Spec("choice", "smtp", "smtp or resend", choices=("smtp", "resend")),
    "smtp_host": Spec("host", "localhost", "SMTP relay host"),
    "smtp_port": Spec("port", "25", "SMTP relay port", 1, 65535),
    "smtp_starttls": _bool(False, "STARTTLS on the SMTP connection"),
    "smtp_ssl": _bool(False, "implicit TLS (SMTPS)"),
    "resend_base_url": _url("https://api.resend.com", "Resend API base URL", optional=False),
    "webhook_url": _url("", "generic webhook for channel 'webhook' rows without a recipient URL"),
    "whatsapp_webhook_url": _url("", "WhatsApp gateway webhook (JSON {to, text})"),
    "app_base_url": _url("", "link base for notification emails"),
    "edge_base_url": _url("", "kept for the seeds' runbooks; unused by bgjobs"),
    # delivery
    "notification_batch_size": _int(100, 1, 10000, "rows claimed per delivery batch (the seeds' 100 emails per run)"),
    "notification_max_attempts": _int(8, 1, 100, "attempts before a notification is dead"),
    "notification_backoff_base_seconds": _int(30, 1, 86400, "first retry delay; doubles per attempt"),
    "notification_backoff_cap_seconds": _int(3600, 1, 604800, "largest retry delay"),
    "delivery_timeout_seconds": _num(10, 0.1, 10, "total deadline of one send, in seconds (at most 10)"),
    "delivery_run_budget_seconds": _num(40, 1, 50, "a delivery run starts no send after this many seconds (under pg_cron's one-minute tick)"),
    # business rules
    "sla_hours_critical": _int(4, 1, 8760, "SLA: hours after due date for Critical tasks"),
    "sla_hours_high": _int(24, 1, 8760, "SLA: hours after due date for High tasks"),
    "sla_hours_medium": _int(72, 1, 8760, "SLA: hours after due date for Medium tasks"),
    "sla_hours_low": _int(168, 1, 8760, "SLA: hours after due date for Low tasks"),
    "anomaly_threshold_pct": _num(30, 0.1, 1000, "analytics: deviation from the 7-day average that is an anomaly"),
    "automation_degraded_failure_pct": _pct(20, "automation: failure rate above which a rule is degraded"),
    "automation_critical_success_pct": _pct(80, "automation: success rate below which a rule is CRITICAL"),
    "automation_inactive_hours": _int(48, 1, 8760, "automation: hours without execution that make an active rule inactive"),
    "automation_info_success_pct": _pct(95, "automation: overall success rate below which INFO is raised"),
    # monitoring
    "alert_suppression_hours": _int(6, 0, 168, "no repeat alert within this window (runbook anti-spam)"),
    "heartbeat_stale_hours": _int(24, 1, 8760, "a heartbeat older than this is stale"),
    "consecutive_failures_critical": _int(3, 1, 1000, "consecutive failures that make a job CRITICAL"),
    "slow_run_warning_factor": _num(1.5, 1, 100, "duration / expected above which a run is slow (WARNING)"),
    "slow_run_critical_factor": _num(2, 1, 100, "duration / expected above which 3 consecutive runs are CRITICAL"),
    "success_rate_warning_pct": _pct(90, "24h success rate below which WARNING is raised"),
    "delivery_rate_info_pct": _pct(99, "24h notification delivery rate below which INFO is raised"),
    "rule_storm_per_hour": _int(10, 1, 1000000, "an automation rule triggered more often than this in an hour raises INFO"),
    "send_resolved": _bool(True, "send a resolved notice when an alert clears"),
    # watching jobs bgjobs did not create
    "watch_cron_jobs": _bool(True, "watch every pg_cron job of the cluster (failed, missed, stuck runs) unless opted out"),
    "watch_cron_grace_minutes": _int(10, 0, 10080, "minutes a pg_cron job's run may be late before it counts as missed"),
    "watch_timeout_minutes": _int(60, 1, 525600, "a watched run open this long, with too little history to judge, is stuck"),
    "short_run_factor": _num(10, 1, 1000, "a watched run this many times shorter than its usual (median) is suspiciously short"),
    # retention
    "retention_days_jobs_log": _int(90, 0, 36500, "days of jobs_log kept (0 keeps them forever)"),
    "retention_days_audit_log": _int(90, 0, 36500, "days of audit_log kept (0 keeps them forever)"),
    "retention_days_automation_logs": _int(180, 0, 36500, "days of automation_logs kept (0 keeps them forever)"),
    "retention_days_notifications": _int(90, 0, 36500, "days of sent/dead notifications kept (0 keeps them forever)"),
    "retention_days_cron_run_details": _int(30, 0, 36500, "days of cron.job_run_details kept (0 keeps them forever)"),
    "retention_cron_all_users": _bool(False, "retention also deletes other roles' cron.job_run_details rows "
                                             "(other applications' pg_cron history); off: only bgjobs_runner's"),
}



def default(key, cast=str):
    """The default of a setting, as ``cast`` (str, int, float)."""
    return cast(SPEC[key].default)


def maximum(key):
    """The largest value a setting may take (None: no bound)."""
    return SPEC[key].max
