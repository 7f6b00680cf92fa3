"""app_settings defaults and the optional TOML settings file.

A settings file has app_settings keys at top level and one table per job to override
a shipped job's registry entry or to declare a job of your own (registered through
bgjobs.register_job, like every job)::

    alert_email_to = "ops@example.com"
    smtp_port = 1025

    [jobs."check-sla-and-overdue"]
    schedule = "*/10 * * * *"

    [jobs."refresh-report"]
    body = "reports.refresh_daily"          # the function the job runs
    schedule = "0 8 * * *"
    timezone = "Europe/Berlin"              # an IANA zone, UTC (default) or tenant

A job the file names is (re-)registered on every install; the others keep what they
have in the database (pauses and overrides made through the job API included).

A file with a syntax error, an unknown key, an invalid cron expression, an unknown time
zone or a malformed value is refused as a whole, with one line naming the key.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path

from . import pymodules
from .errors import BgjobsError
from .output import did_you_mean
from .registry import BY_NAME

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# The spec itself (Spec, SPEC) is the plain module plpython/bgjobs_settings.py, so that the
# delivery code in PL/Python reads the same defaults.
_spec = pymodules.load("bgjobs_settings")
Spec = _spec.Spec
SPEC: dict = _spec.SPEC

# key -> (default, description), for callers that only need those two.
DEFAULTS: dict[str, tuple[str, str]] = {k: (s.default, s.description) for k, s in SPEC.items()}

_BARE_EMAIL = re.compile(r"[^\s@<>,;:\"()\[\]\\]+@[^\s@<>,;:\"()\[\]\\]+")
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:]+:[0-9A-Fa-f:.]*")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


def check_value(key: str, value: str) -> str | None:
    """Why `value` is not acceptable for setting `key`, or None.  The same rules as the
    SQL trigger bgjobs.check_setting() (a test runs one vector table through both)."""
    spec = SPEC.get(key)
    if spec is None:
        return f"unknown setting '{key}'" + did_you_mean(key, SPEC)
    if any(c in value for c in "\r\n\x00"):
        return "must be one line (no CR, LF or NUL)"
    if value == "" and (spec.optional or spec.type == "text"):
        return None
    t = spec.type
    if t in ("integer", "number", "port"):
        if not (re.fullmatch(r"[+-]?\d+", value) if t in ("integer", "port") else _NUMBER.fullmatch(value)):
            kind = "a whole number" if t in ("integer", "port") else "a number"
            return f"must be {kind}, not {value!r}"
        n = float(value)
        if (spec.min is not None and n < spec.min) or (spec.max is not None and n > spec.max):
            return f"must be between {_fmt(spec.min)} and {_fmt(spec.max)}, not {value}"
    elif t == "boolean":
        if value not in ("true", "false"):
            return f"must be true or false, not {value!r}"
    elif t == "choice":
        if value not in spec.choices:
            return f"must be one of {', '.join(spec.choices)}, not {value!r}"
    elif t == "email":
        m = re.fullmatch(r"[^<>]*<([^<>]*)>", value)
        if not _BARE_EMAIL.fullmatch(m.group(1) if m else value):
            return f"must be an e-mail address (name@domain or Name <name@domain>), not {value!r}"
    elif t == "email_list":
        parts = [p.strip() for p in value.split(",")]
        if not all(_BARE_EMAIL.fullmatch(p) for p in parts):
            return f"must be e-mail addresses (name@domain) separated by commas, not {value!r}"
    elif t == "url":
        if not re.fullmatch(r"https?://[^\s/?#@]+(/[^\s]*)?", value):
            return f"must be an http:// or https:// URL, not {value!r}"
    elif t == "host":
        if not _HOST.fullmatch(value):
            return f"must be a host name or IP address, not {value!r}"
    return None


def _fmt(n: float | None) -> str:
    return "" if n is None else (str(int(n)) if float(n).is_integer() else str(n))


JOB_KEYS = {"schedule", "enabled", "timeout", "expected_duration", "grace", "stale_after", "local_time", "timezone",
            "body", "description"}
_JOB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
_BODY = re.compile(r'(("[^"]+"|[A-Za-z_][A-Za-z0-9_$]*)\.)?("[^"]+"|[A-Za-z_][A-Za-z0-9_$]*)')

_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?|d|days?)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _short(name: str) -> str:
    return name if len(name) <= 60 else name[:57] + "..."


def parse_interval(text) -> timedelta:
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        m = _INTERVAL.match(str(text))
        if not m:
            raise ValueError(f"not a duration: {text!r} (use e.g. \"30 seconds\", \"10 minutes\", \"2 hours\")")
        seconds = float(m.group(1)) * _UNITS[m.group(2)[0]]
    if not math.isfinite(seconds) or seconds > 366 * 86400:
        raise ValueError(f"not a duration of at most a year: {text!r}")
    return timedelta(seconds=seconds)


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
        raw = tomllib.loads(p.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise BgjobsError(f"{where}: not found") from None
    except IsADirectoryError:
        raise BgjobsError(f"{where}: is a directory, not a file") from None
    except PermissionError:
        raise BgjobsError(f"{where}: permission denied") from None
    except UnicodeDecodeError as exc:
        raise BgjobsError(f"{where}: not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise BgjobsError(f"{where}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise BgjobsError(f"{where}: cannot read it: {exc.strerror}") from None
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
        if key not in SPEC:
            raise BgjobsError(f"{where}: unknown key '{_short(key)}'{did_you_mean(key, SPEC)} "
                              f"(bgjobs settings show lists the keys; job overrides go in [jobs.\"<name>\"])")
        if isinstance(value, (dict, list)):
            raise BgjobsError(f"{where}: key '{key}' must be a string, number or boolean")
        if isinstance(value, bool):
            if SPEC[key].type != "boolean":
                raise BgjobsError(f"{where}: key '{key}' must not be a boolean")
            value = "true" if value else "false"
        if isinstance(value, float) and not math.isfinite(value):
            raise BgjobsError(f"{where}: key '{key}' must be a finite number, not {value}")
        text = str(value)
        err = check_value(key, text)
        if err:
            raise BgjobsError(f"{where}: key '{key}' {err}")
        out.values[key] = text
    return out


def _parse_job(job: str, table, where: str, sched) -> dict:
    prefix = f"{where}: jobs.\"{job}\""
    if not isinstance(table, dict):
        raise BgjobsError(f"{prefix} must be a table")
    if job not in BY_NAME:
        if "body" not in table:
            raise BgjobsError(f"{where}: unknown job '{_short(job)}'{did_you_mean(job, BY_NAME)} (known jobs: "
                              f"{', '.join(BY_NAME)}); a job of your own needs body and schedule")
        if not _JOB_NAME.fullmatch(job):
            raise BgjobsError(f"{prefix}: job name must be 1 to 63 letters, digits, '.', '_' or '-', "
                              f"starting with a letter or digit")
        if "schedule" not in table:
            raise BgjobsError(f"{prefix}: a job of your own needs a schedule (a 5-field cron expression)")
        if "local_time" in table:
            raise BgjobsError(f"{prefix}.local_time: use schedule = \"M H * * *\" with timezone = \"tenant\"")
    res: dict = {}
    for key, value in table.items():
        if key not in JOB_KEYS:
            raise BgjobsError(f"{prefix}: unknown key '{key}'{did_you_mean(key, JOB_KEYS)} (known: {', '.join(sorted(JOB_KEYS))})")
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
            err = None if value == "tenant" else sched.validate_timezone(str(value))
            if err:
                raise BgjobsError(f"{prefix}.timezone: {err}")
            res["timezone"] = str(value)
        elif key == "body":
            if not isinstance(value, str) or not _BODY.fullmatch(value):
                raise BgjobsError(f"{prefix}.body: not a function name (function or schema.function): {value!r}")
            res["body"] = value
        elif key == "description":
            if not isinstance(value, str) or any(c in value for c in "\r\n\x00"):
                raise BgjobsError(f"{prefix}.description must be one line of text")
            res["description"] = value
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
