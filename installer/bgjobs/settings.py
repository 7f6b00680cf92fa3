"""app_settings defaults and the optional TOML settings file.

A settings file has app_settings keys at top level and one table per job to override
its registry entry::

    alert_email_to = "ops@example.com"
    smtp_port = 1025

    [jobs."check-sla-and-overdue"]
    schedule = "*/10 * * * *"

A file with a syntax error, an unknown key, an invalid cron expression, an unknown time
zone or a malformed value is refused as a whole, with one line naming the key.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path

from . import pymodules
from .errors import BgjobsError
from .registry import BY_NAME

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# key -> (default, description).  Secrets are never settings: see set_secret().
DEFAULTS: dict[str, tuple[str, str]] = {
    # alert routing and email transport
    "alert_email_to": ("", "comma-separated addresses for operational alerts"),
    "alert_email_from": ("bgjobs@localhost", "From: of alert and notification emails (SMTP)"),
    "email_transport": ("smtp", "smtp or resend"),
    "smtp_host": ("localhost", "SMTP relay host"),
    "smtp_port": ("25", "SMTP relay port"),
    "smtp_starttls": ("false", "STARTTLS on the SMTP connection"),
    "smtp_ssl": ("false", "implicit TLS (SMTPS)"),
    "resend_base_url": ("https://api.resend.com", "Resend API base URL"),
    "webhook_url": ("", "generic webhook for channel 'webhook' rows without a recipient URL"),
    "whatsapp_webhook_url": ("", "WhatsApp gateway webhook (JSON {to, text})"),
    "app_base_url": ("", "link base for notification emails"),
    "edge_base_url": ("", "kept for the seeds' runbooks; unused by bgjobs"),
    # delivery
    "notification_batch_size": ("100", "rows claimed per delivery batch (the seeds' 100 emails per run)"),
    "notification_max_attempts": ("8", "attempts before a notification is dead"),
    "notification_backoff_base_seconds": ("30", "first retry delay; doubles per attempt"),
    "notification_backoff_cap_seconds": ("3600", "largest retry delay"),
    "delivery_timeout_seconds": ("10", "total deadline of one send: connect, request and answer (at most 10)"),
    "delivery_run_budget_seconds": ("40", "a delivery run stops starting sends after this long (1 to 50: under a tick)"),
    # business rules
    "sla_hours_critical": ("4", "SLA: hours after due date for Critical tasks"),
    "sla_hours_high": ("24", "SLA: hours after due date for High tasks"),
    "sla_hours_medium": ("72", "SLA: hours after due date for Medium tasks"),
    "sla_hours_low": ("168", "SLA: hours after due date for Low tasks"),
    "anomaly_threshold_pct": ("30", "analytics: deviation from the 7-day average that is an anomaly"),
    "automation_degraded_failure_pct": ("20", "automation: failure rate above which a rule is degraded"),
    "automation_critical_success_pct": ("80", "automation: success rate below which a rule is CRITICAL"),
    "automation_inactive_hours": ("48", "automation: hours without execution that make an active rule inactive"),
    "automation_info_success_pct": ("95", "automation: overall success rate below which INFO is raised"),
    # monitoring
    "alert_suppression_hours": ("6", "no repeat alert within this window (runbook anti-spam)"),
    "heartbeat_stale_hours": ("24", "a heartbeat older than this is stale"),
    "consecutive_failures_critical": ("3", "consecutive failures that make a job CRITICAL"),
    "slow_run_warning_factor": ("1.5", "duration / expected above which a run is slow (WARNING)"),
    "slow_run_critical_factor": ("2", "duration / expected above which 3 consecutive runs are CRITICAL"),
    "success_rate_warning_pct": ("90", "24h success rate below which WARNING is raised"),
    "delivery_rate_info_pct": ("99", "24h notification delivery rate below which INFO is raised"),
    "rule_storm_per_hour": ("10", "an automation rule triggered more often than this in an hour raises INFO"),
    "send_resolved": ("true", "send a resolved notice when an alert clears"),
    # retention
    "retention_days_jobs_log": ("90", "days of jobs_log kept"),
    "retention_days_audit_log": ("90", "days of audit_log kept"),
    "retention_days_automation_logs": ("180", "days of automation_logs kept"),
    "retention_days_notifications": ("90", "days of sent/dead notifications kept"),
    "retention_days_cron_run_details": ("30", "days of cron.job_run_details kept"),
}

INTEGER_KEYS = {k for k, (v, _) in DEFAULTS.items() if re.fullmatch(r"\d+", v)}
BOOL_KEYS = {"smtp_starttls", "smtp_ssl", "send_resolved"}
JOB_KEYS = {"schedule", "enabled", "timeout", "expected_duration", "grace", "stale_after", "local_time", "timezone"}

_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?|d|days?)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(text) -> timedelta:
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return timedelta(seconds=float(text))
    m = _INTERVAL.match(str(text))
    if not m:
        raise ValueError(f"not a duration: {text!r} (use e.g. \"30 seconds\", \"10 minutes\", \"2 hours\")")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)[0]])


@dataclass
class Settings:
    values: dict[str, str] = field(default_factory=dict)       # app_settings overrides
    jobs: dict[str, dict] = field(default_factory=dict)        # job -> Job field overrides
    source: str | None = None


def load(path: str | Path | None) -> Settings:
    if path is None:
        return Settings()
    p = Path(path)
    where = f"settings file {p}"
    try:
        raw = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise BgjobsError(f"{where}: not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise BgjobsError(f"{where}: invalid TOML: {exc}") from None
    return parse(raw, where)


def parse(raw: dict, where: str = "settings") -> Settings:
    out = Settings(source=where)
    sched = pymodules.schedule()
    for key, value in raw.items():
        if key == "jobs":
            if not isinstance(value, dict):
                raise BgjobsError(f"{where}: 'jobs' must be a table of [jobs.\"<job-name>\"] tables")
            for job, table in value.items():
                out.jobs[job] = _parse_job(job, table, where, sched)
            continue
        if key not in DEFAULTS:
            raise BgjobsError(f"{where}: unknown key '{key}' (known keys: {', '.join(sorted(DEFAULTS))}, [jobs.\"<name>\"])")
        if isinstance(value, (dict, list)):
            raise BgjobsError(f"{where}: key '{key}' must be a string, number or boolean")
        if isinstance(value, bool):
            if key not in BOOL_KEYS:
                raise BgjobsError(f"{where}: key '{key}' must not be a boolean")
            value = "true" if value else "false"
        text = str(value)
        if key in INTEGER_KEYS and not re.fullmatch(r"\d+", text):
            raise BgjobsError(f"{where}: key '{key}' must be a whole number, not {value!r}")
        if key in BOOL_KEYS and text not in ("true", "false"):
            raise BgjobsError(f"{where}: key '{key}' must be true or false, not {value!r}")
        if key == "email_transport" and text not in ("smtp", "resend"):
            raise BgjobsError(f"{where}: key 'email_transport' must be \"smtp\" or \"resend\", not {value!r}")
        out.values[key] = text
    return out


def _parse_job(job: str, table, where: str, sched) -> dict:
    prefix = f"{where}: jobs.\"{job}\""
    if job not in BY_NAME:
        raise BgjobsError(f"{where}: unknown job '{job}' (known jobs: {', '.join(BY_NAME)})")
    if not isinstance(table, dict):
        raise BgjobsError(f"{prefix} must be a table")
    res: dict = {}
    for key, value in table.items():
        if key not in JOB_KEYS:
            raise BgjobsError(f"{prefix}: unknown key '{key}' (known: {', '.join(sorted(JOB_KEYS))})")
        if key == "schedule":
            err = sched.validate_cron(str(value))
            if err:
                raise BgjobsError(f"{prefix}.schedule: {err}")
            res["schedule"] = str(value)
        elif key == "enabled":
            if not isinstance(value, bool):
                raise BgjobsError(f"{prefix}.enabled must be true or false")
            res["enabled"] = value
        elif key == "timezone":
            err = sched.validate_timezone(str(value))
            if err:
                raise BgjobsError(f"{prefix}.timezone: {err}")
            res["extra"] = {"timezone": str(value)}
        elif key == "local_time":
            if not BY_NAME[job].tenant_local:
                raise BgjobsError(f"{prefix}.local_time: job '{job}' is not tenant-local; set schedule instead")
            m = re.fullmatch(r"(\d{1,2}):(\d{2})", str(value))
            if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
                raise BgjobsError(f"{prefix}.local_time: not a time of day HH:MM: {value!r}")
            res["local_time"] = time(int(m.group(1)), int(m.group(2)))
        else:
            try:
                d = parse_interval(value)
            except ValueError as exc:
                raise BgjobsError(f"{prefix}.{key}: {exc}") from None
            if d <= timedelta(0):
                raise BgjobsError(f"{prefix}.{key}: must be positive")
            res[key] = d
    return res
