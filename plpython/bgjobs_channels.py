"""Delivery of one bgjobs outbox notification: render a template, send it on a channel.

One sender, two hosts: the PL/Python delivery function (the installer embeds this source)
and ``bgjobs worker`` use the same code. Standard library only; no I/O at import.

    message = render(row["template"], row["payload"], tz_name)
    with Sender(config) as sender:
        outcome = sender.send(row["channel"], row["recipient"], message)
        # outcome.ok / outcome.permanent / outcome.error / outcome.status

Channels: 'slack' (incoming webhook), 'webhook' (JSON POST), 'whatsapp' (JSON POST of
{to, text} to a gateway), 'email' (SMTP over one kept-open connection, or the Resend API).
Outcome classification: HTTP 2xx ok; 408, 425, 429 and 5xx transient; other statuses
permanent; network errors and timeouts transient; SMTP 4xx transient, 5xx permanent; a
channel with nothing configured permanent. Errors never carry a URL path, key, password
or header: URLs are cut to scheme and host, configured secrets are masked.
Retries are the caller's: wait ``backoff_seconds(attempts)``, give up after MAX_ATTEMPTS.
"""

import datetime as _dt
import email.utils
import html as _html
import http.client
import json
import re
import smtplib
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from email.message import EmailMessage
from typing import NamedTuple, Optional
from zoneinfo import ZoneInfo

__all__ = ["render", "Sender", "Outcome", "backoff_seconds", "MAX_ATTEMPTS", "CHANNELS"]

# Tries before a notification is dead. With the default backoff (30 s doubling, capped at
# 1 h) the 8th try comes about 64 minutes after the first.
MAX_ATTEMPTS = 8
CHANNELS = ("email", "slack", "webhook", "whatsapp")
MAX_TIMEOUT = 10.0
UTC = _dt.timezone.utc


def backoff_seconds(attempts, base=30, cap=3600):
    """Seconds to wait after ``attempts`` failed tries: base * 2**(attempts-1), capped.
    Safe for any attempts (no huge powers are computed)."""
    if base <= 0:
        return 0
    exponent = max(0, int(attempts) - 1)
    if exponent >= max(int(cap), 1).bit_length():
        return int(cap)
    return int(min(cap, base * 2 ** exponent))


# ---------------------------------------------------------------------------- rendering

_SEVERITY_ICON = {"CRITICAL": "🚨", "WARNING": "⚠️", "INFO": "ℹ️"}
_RULE_LABELS = {
    "missed_run": "missed run",
    "stale_heartbeat": "stale heartbeat",
    "consecutive_failures": "consecutive failures",
    "slow_run": "slow run",
    "no_jobs_24h": "no jobs in 24 hours",
    "low_success_rate": "low success rate",
    "delivery_rate": "notification delivery rate",
    "rule_storm": "automation rule storm",
    "analytics_anomaly": "analytics anomaly",
    "stuck_run": "run not finished",
    "short_run": "suspiciously short run",
}
_HEARING_CHECKLIST = (
    "Review the case file, the pleadings and the last order",
    "Confirm attendance with the client and any witnesses",
    "Keep originals and copies of every document to be relied on",
    "Check the cause list for the item number and courtroom",
    "Plan to reach the court at least 30 minutes early",
)
_DIGEST_HEADER = "📋 Your Upcoming Deadlines (Next 24 Hours)"


def _str(value):
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)


def _one_line(value, limit=250):
    text = " ".join(_str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _slack_escape(value):
    return _str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _zone(name):
    """(zone, its name) for an IANA name, else UTC: times always carry their zone."""
    try:
        return ZoneInfo(name), name
    except Exception:
        return UTC, "UTC"


def _timestamp(value):
    """Aware datetime from an ISO string or datetime; None if it is not one."""
    if isinstance(value, _dt.datetime):
        result = value
    elif isinstance(value, str) and value.strip():
        try:
            result = _dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return result if result.tzinfo else result.replace(tzinfo=UTC)


def _clock(moment):
    """'5:00 PM'."""
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"


def _when(value, tz_name):
    """A timestamp for people: '2026-03-08 02:05 EST' in tz_name; raw text if no zone
    is given or it does not parse."""
    moment = _timestamp(value)
    if moment is None or not tz_name:
        return _str(value)
    local = moment.astimezone(_zone(tz_name)[0])
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def _relative(moment, as_of, zone):
    """'Today 5:00 PM', 'Tomorrow 10:30 AM', 'Yesterday ...' or 'Wed 11 Mar 2:00 PM'."""
    local = moment.astimezone(zone)
    days = (local.date() - as_of.astimezone(zone).date()).days
    day = {0: "Today", 1: "Tomorrow", -1: "Yesterday"}.get(
        days, f"{local:%a} {local.day} {local:%b}")
    return f"{day} {_clock(local)}"


def _pairs(mapping):
    """[(key, value text)] of a details or metrics dict, None shown as '-'."""
    if not isinstance(mapping, dict):
        mapping = {} if mapping is None else {"value": mapping}
    return [(_str(k), "-" if v is None else _str(v)) for k, v in mapping.items()]


def _slack(text, body_lines):
    """Slack message: fallback text plus one mrkdwn section (seed format)."""
    message = {"text": text}
    body = "\n".join(line for line in body_lines if line is not None)
    if body:
        message["blocks"] = [{"type": "section", "text": {"type": "mrkdwn", "text": body}}]
    return message


def _html_from_text(text):
    """A plain HTML version of a text message: first line a heading, paragraphs,
    bullet lines as lists."""
    blocks = text.split("\n\n")
    parts = [f"<h2>{_html.escape(blocks[0].splitlines()[0])}</h2>"] if text else []
    rest = "\n".join(blocks[0].splitlines()[1:])
    for block in ([rest] if rest else []) + blocks[1:]:
        lines = block.splitlines()
        bullets = [ln[2:] for ln in lines if ln.startswith("• ")]
        plain = [ln for ln in lines if not ln.startswith("• ")]
        if plain:
            parts.append("<p>" + "<br>\n".join(_html.escape(ln.strip()) for ln in plain) + "</p>")
        if bullets:
            parts.append("<ul>\n" + "\n".join(f"<li>{_html.escape(b)}</li>" for b in bullets)
                         + "\n</ul>")
    return ('<!DOCTYPE html>\n<html><body style="font-family: sans-serif">\n'
            + "\n".join(parts) + "\n</body></html>\n")


def _rule_label(rule):
    return _RULE_LABELS.get(rule, _str(rule).replace("_", " ") or "alert")


def _render_job_failure(p, tz_name):
    name, error, time = _str(p.get("job_name")), _str(p.get("error_message")), p.get("alert_time")
    headline = f"🚨 Job Failed: {name}"
    text = f"{headline}\nJob Name: {name}\nError: {error}\nTime: {_str(time)}"
    slack = _slack(f"🚨 Job Failed: {_slack_escape(name)}",
                   [f"*Error:* {_slack_escape(error)}\n*Time:* {_slack_escape(time)}"])
    return f"ALERT: Job Failed - {name}", text, slack


def _render_job_alert(p, tz_name):
    name, severity = _str(p.get("job_name")), _str(p.get("severity") or "WARNING").upper()
    label = _rule_label(p.get("rule"))
    repeat = " (repeat)" if p.get("repeat") else ""
    headline = f"{_SEVERITY_ICON.get(severity, '🔔')} [{severity}] bgjobs: {name} — {label}{repeat}"
    when = _when(p.get("alert_time"), tz_name)
    details = _pairs(p.get("details"))
    text = "\n".join([headline, "", _str(p.get("summary"))]
                     + (["", "Details:"] + [f"  {k}: {v}" for k, v in details] if details else [])
                     + ["", f"Time: {when}"])
    slack = _slack(_slack_escape(headline),
                   [f"*Summary:* {_slack_escape(p.get('summary'))}"]
                   + [f"*{_slack_escape(k)}:* {_slack_escape(v)}" for k, v in details]
                   + [f"*Time:* {_slack_escape(when)}"])
    return f"[{severity}] bgjobs: {name} — {label}{repeat}", text, slack


def _render_alert_resolved(p, tz_name):
    name, label = _str(p.get("job_name")), _rule_label(p.get("rule"))
    when = _when(p.get("resolved_at"), tz_name)
    headline = f"✅ [RESOLVED] bgjobs: {name} — {label}"
    text = f"{headline}\n\n{_str(p.get('summary'))}\n\nResolved at: {when}"
    slack = _slack(_slack_escape(headline), [f"*Summary:* {_slack_escape(p.get('summary'))}",
                                             f"*Resolved:* {_slack_escape(when)}"])
    return f"[RESOLVED] bgjobs: {name} — {label}", text, slack


def _render_hearing_reminder(p, tz_name):
    number, court = _str(p.get("case_number")), _str(p.get("court_name"))
    zone, zone_name = _zone(p.get("tenant_timezone") or tz_name or "UTC")
    moment = _timestamp(p.get("hearing_at"))
    if moment is None:
        date_line, time_line = f"Date: {_str(p.get('hearing_at'))}", None
    else:
        local = moment.astimezone(zone)
        date_line = f"Date: {local:%A}, {local.day} {local:%B %Y}"
        time_line = f"Time: {_clock(local)} {local.tzname()} ({zone_name})"
    location = ", ".join(x for x in (court, _str(p.get("court_city"))) if x)
    lines = [f"Hearing Reminder: {number}", ""]
    if p.get("recipient_name"):
        lines += [f"Dear {_str(p.get('recipient_name'))},", ""]
    lines += ["This is a reminder of an upcoming hearing.", "",
              f"Case: {number} - {_str(p.get('case_title'))}", f"Court: {location}", date_line]
    lines += [time_line] if time_line else []
    lines += ["", "Preparation checklist:"] + [f"• {item}" for item in _HEARING_CHECKLIST]
    text = "\n".join(lines)
    return f"Hearing Reminder: {number} - {court}", text, {"text": text}


def _render_deadline_digest(p, tz_name):
    zone, zone_name = _zone(p.get("timezone") or tz_name or "UTC")
    as_of = _timestamp(p.get("as_of")) or _dt.datetime.now(UTC)
    far = _dt.datetime.max.replace(tzinfo=UTC)
    sections = {True: [], False: []}
    for item in p.get("items") or []:
        if not isinstance(item, dict):
            continue
        due = _timestamp(item.get("due_at"))
        kind = _str(item.get("kind") or "Task")
        when = _relative(due, as_of, zone) if due else _str(item.get("due_at"))
        line = f"• [{kind}] {_str(item.get('title'))} - {'Due: ' if kind == 'Task' else ''}{when}"
        sections[bool(item.get("high"))].append((due or far, _str(item.get("title")), line))
    lines = [_DIGEST_HEADER]
    for high, heading in ((True, "HIGH PRIORITY:"), (False, "NORMAL PRIORITY:")):
        if sections[high]:
            lines += ["", heading] + [entry[2] for entry in sorted(sections[high])]
    count, high_count = len(sections[True]) + len(sections[False]), len(sections[True])
    if not count:
        lines += ["", "Nothing is due in the next 24 hours."]
    lines += ["", f"Times are in {zone_name}."]
    text = "\n".join(lines)
    subject = f"Your Upcoming Deadlines (Next 24 Hours): {count} item{'s' if count != 1 else ''}"
    if high_count:
        subject += f", {high_count} high priority"
    return subject, text, {"text": text}


def _render_automation_health(p, tz_name):
    severity = _str(p.get("severity") or "INFO").upper()
    findings = [f"• [{_str(f.get('level')).upper()}] {_str(f.get('message'))}"
                for f in p.get("findings") or [] if isinstance(f, dict)]
    metrics = [f"  {k}: {v}" for k, v in _pairs(p.get("metrics"))]
    headline = f"{_SEVERITY_ICON.get(severity, '🔔')} [{severity}] bgjobs: automation health check"
    text = "\n".join([headline, "", "Findings:"] + (findings or ["• none"])
                     + (["", "Metrics (last 24 hours):"] + metrics if metrics else []))
    slack = _slack(_slack_escape(headline),
                   ["*Findings:*"] + [_slack_escape(f) for f in findings or ["• none"]]
                   + (["*Metrics:*"] + [_slack_escape(m) for m in metrics] if metrics else []))
    return f"[{severity}] bgjobs: automation health check", text, slack


_EVENT_LABELS = {
    "task_overdue": "Task overdue",
    "sla_violation": "SLA breached",
    "deadline_approaching": "Deadline approaching",
    "case_review_due": "Case review due",
    "case_created": "New case",
    "hearing_scheduled": "Hearing scheduled",
}


def _number(value):
    """A float from a number or numeric text; None otherwise."""
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _in_hours(hours):
    """'in 35 minutes', 'in 5.2 hours', '3 hours ago'."""
    minutes = round(hours * 60)
    if abs(minutes) < 60:
        amount = f"{abs(minutes)} minute{'s' if abs(minutes) != 1 else ''}"
    else:
        number = f"{abs(hours):.1f}".rstrip("0").rstrip(".")
        amount = f"{number} hour{'s' if number != '1' else ''}"
    return f"in {amount}" if minutes >= 0 else f"{amount} ago"


def _render_automation_notification(p, tz_name):
    """An email an automation rule's notify action sent (fire_automation_events' payload:
    rule_name, event, entity_type, entity_id, title, details, recipient_name,
    automation_log_id).  Every key is optional."""
    event = _str(p.get("event")).strip()
    event_label = (_EVENT_LABELS.get(event) or event.replace("_", " ").capitalize()
                   or "Automation notification")
    rule = _one_line(p.get("rule_name"), 120)
    kind = _str(p.get("entity_type")).strip().lower()
    title = _one_line(p.get("title"), 150)
    details = p.get("details")
    if isinstance(details, (str, bytes)):
        try:
            details = json.loads(details)
        except ValueError:
            details = {"details": _str(details)}
    if not isinstance(details, dict):
        details = {} if details is None else {"details": details}

    if kind == "hearing":
        what = subject_what = f"hearing in {title}" if title else "hearing"
    elif title:
        what = subject_what = title
    else:
        what, subject_what = kind, rule or kind
    facts = []                                   # (label, value) lines of the body
    note = ""                                    # short qualifier for the subject
    if kind == "hearing":
        facts.append(("Case", title or "-"))
    elif kind:
        facts.append((kind.capitalize(), title or "-"))
    if details.get("priority") not in (None, ""):
        facts.append(("Priority", _str(details.get("priority"))))
    days = _number(details.get("days_overdue"))
    if days is not None:
        days = int(days)
        facts.append(("Overdue by", f"{days} day{'s' if days != 1 else ''}"))
        note = f"{days} day{'s' if days != 1 else ''} overdue" if days > 0 else ""
    hours = _number(details.get("hours_until_due"))
    if hours is not None:
        facts.append(("Due", _in_hours(hours)))
        note = f"due {_in_hours(hours)}"
    if details.get("sla_threshold"):
        facts.append(("SLA deadline", _when(details.get("sla_threshold"), tz_name)))
    if details.get("actual_time"):
        facts.append(("Checked at", _when(details.get("actual_time"), tz_name)))
    shown = {"priority", "days_overdue", "hours_until_due", "sla_threshold", "actual_time",
             "entity_type", "entity_id", "task_id", "case_id", "hearing_id"}
    facts += [(k.replace("_", " ").capitalize(), v) for k, v in _pairs(details) if k not in shown]

    subject = f"{event_label}: {subject_what}" if subject_what else event_label
    if note:
        subject += f" ({note})"
    lines = [subject, ""]
    if p.get("recipient_name"):
        lines += [f"Dear {_one_line(p.get('recipient_name'), 120)},", ""]
    intro = f"{event_label} for {what}." if what else f"{event_label}."
    if rule:
        intro += f" You are receiving this because the automation rule \"{rule}\" notifies you."
    lines.append(intro)
    if facts:
        lines += [""] + [f"• {label}: {value}" for label, value in facts]
    ref = [f"Rule: {rule}" if rule else None, f"Event: {event}" if event else None,
           f"Reference: {_str(p.get('automation_log_id'))}" if p.get("automation_log_id") else None]
    ref = [x for x in ref if x]
    if ref:
        lines += [""] + ref
    text = "\n".join(lines).rstrip()
    slack = _slack(_slack_escape(subject),
                   [_slack_escape(intro)] + [f"*{_slack_escape(label)}:* {_slack_escape(value)}"
                                             for label, value in facts])
    return subject, text, slack


def _render_generic(template, p):
    title = _str(template) or "bgjobs notification"
    lines = [f"{key}: {value}" for key, value in _pairs(p)]
    text = "\n".join([title, ""] + lines) if lines else title
    return title, text, _slack(_slack_escape(title), [_slack_escape("\n".join(lines))])


_TEMPLATES = {
    "job_failure": _render_job_failure,
    "job_alert": _render_job_alert,
    "alert_resolved": _render_alert_resolved,
    "hearing_reminder": _render_hearing_reminder,
    "deadline_digest": _render_deadline_digest,
    "automation_health": _render_automation_health,
    "automation_notification": _render_automation_notification,
}


def render(template, payload, tz_name=None):
    """Render an outbox row: {"subject", "text", "html", "slack"}. ``payload`` may be a
    dict or JSON text (jsonb reaches PL/Python as text). ``tz_name`` is the zone for
    times that carry none of their own. Never raises: an unknown template or a payload
    that does not fit gets a generic rendering of the payload."""
    if isinstance(payload, (str, bytes)):
        try:
            payload = json.loads(payload)
        except ValueError:
            payload = {"payload": payload}
    if not isinstance(payload, dict):
        payload = {} if payload is None else {"payload": payload}
    renderer = _TEMPLATES.get(template)
    try:
        if renderer is None:
            subject, text, slack = _render_generic(template, payload)
        else:
            subject, text, slack = renderer(payload, tz_name)
    except Exception as exc:  # a malformed payload must not stop delivery
        subject, text, slack = _render_generic(template, payload)
        text += f"\n\n(rendered generically: {type(exc).__name__})"
    return {"subject": _one_line(subject), "text": text, "html": _html_from_text(text),
            "slack": slack}


# ------------------------------------------------------------------------------ sending

class Outcome(NamedTuple):
    """Result of one send. ``status`` is the HTTP status or SMTP reply code, if any."""
    ok: bool
    permanent: bool = False
    error: Optional[str] = None
    status: Optional[int] = None


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")
_CREDENTIAL = re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]+")
_SECRET_KEYS = ("slack_webhook_url", "whatsapp_webhook_url", "webhook_url", "smtp_password",
                "resend_api_key")


def _origin(url):
    """'https://hooks.slack.com/…': scheme and host only, never path, query or userinfo."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
    except ValueError:
        return "<url>"
    return f"{parts.scheme}://{host}/…"


def _origin_of_match(match):
    url = match.group(0)
    bare = url.rstrip(".,:;!?)]}")
    return _origin(bare) + url[len(bare):]


def _is_http_url(value):
    try:
        parts = urllib.parse.urlsplit(value or "")
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _truthy(value):
    return _str(value).strip().lower() in ("1", "true", "t", "yes", "y", "on")


def _http_permanent(status):
    return not (status in (408, 425, 429) or 500 <= status <= 599)


def _network_error(exc):
    """(permanent, description) for a failure below HTTP/SMTP."""
    reason = getattr(exc, "reason", exc) if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, ssl.SSLCertVerificationError):
        return True, "TLS certificate verification failed"
    if isinstance(reason, http.client.InvalidURL):
        return True, f"invalid URL: {reason}"
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return False, "timed out"
    if isinstance(reason, ConnectionRefusedError):
        return False, "connection refused"
    if isinstance(reason, socket.gaierror):
        return False, "DNS lookup failed"
    if isinstance(reason, str):
        return False, reason
    return False, f"{type(reason).__name__}: {reason}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A webhook that redirects is misconfigured: report the 3xx instead of following."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class Sender:
    """Sends rendered messages; one instance per batch (keeps one SMTP connection).

    ``config`` keys (all optional, string values as stored in settings and secrets):
    slack_webhook_url, whatsapp_webhook_url, webhook_url, email_transport ('smtp' or
    'resend'), smtp_host, smtp_port, smtp_username, smtp_password, smtp_starttls,
    smtp_ssl, alert_email_from, alert_email_to (for email rows with no recipient),
    resend_api_key, resend_from, resend_base_url, timeout_seconds (default and cap 10)."""

    def __init__(self, config=None):
        self.config = {k: v for k, v in (config or {}).items() if v is not None and v != ""}
        try:
            timeout = float(self.config.get("timeout_seconds", MAX_TIMEOUT))
        except (TypeError, ValueError):
            timeout = MAX_TIMEOUT
        self.timeout = min(max(timeout, 0.1), MAX_TIMEOUT)
        self._smtp = None
        self._opener = urllib.request.build_opener(_NoRedirect)
        self._secrets = set()
        for key in _SECRET_KEYS:
            self._remember_secret(self.config.get(key))

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        """Ends the SMTP session if one is open."""
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except Exception:
                self._smtp.close()
            self._smtp = None

    # -- secrets

    def _remember_secret(self, value):
        value = _str(value)
        if len(value) < 4:
            return
        self._secrets.add(value)
        try:
            parts = urllib.parse.urlsplit(value) if _URL.match(value) else None
        except ValueError:
            parts = None
        if parts is not None:
            for piece in (parts.path, parts.query, parts.password, parts.username):
                if piece and len(piece) >= 4 and piece != "/":
                    self._secrets.add(piece)

    def _redact(self, text):
        text = _URL.sub(_origin_of_match, _str(text))
        text = _CREDENTIAL.sub(lambda m: m.group(1) + " ***", text)
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        text = " ".join(text.split())
        return text if len(text) <= 400 else text[:399] + "…"

    def _fail(self, permanent, error, status=None):
        return Outcome(False, permanent, self._redact(error), status)

    # -- entry point

    def send(self, channel, recipient, message):
        """Deliver ``message`` (render()'s dict) on ``channel`` to ``recipient``
        (an address, URL or phone number; empty means the configured default).
        Returns an Outcome; never raises."""
        if isinstance(message, str):
            message = {"subject": _one_line(message), "text": message}
        message = message or {}
        recipient = _str(recipient).strip()
        try:
            if channel == "slack":
                url = recipient if _is_http_url(recipient) else self.config.get("slack_webhook_url")
                body = message.get("slack") or {"text": _str(message.get("text"))}
                return self._post("slack", url, body, "slack webhook")
            if channel == "webhook":
                url = recipient if _is_http_url(recipient) else self.config.get("webhook_url")
                body = {k: v for k, v in message.items() if k != "slack"}
                return self._post("webhook", url, body, "webhook url")
            if channel == "whatsapp":
                if not recipient:
                    return self._fail(True, "whatsapp: no recipient phone number")
                body = {"to": recipient, "text": _str(message.get("text"))}
                return self._post("whatsapp", self.config.get("whatsapp_webhook_url"), body,
                                  "whatsapp webhook")
            if channel == "email":
                return self._send_email(recipient, message)
            return self._fail(True, f"unknown channel {_one_line(channel, 40)!r}")
        except Exception as exc:  # a bug here must not lose the batch
            return self._fail(False, f"{channel}: unexpected {type(exc).__name__}: {exc}")

    # -- HTTP

    def _post(self, channel, url, body, what, headers=None):
        if not url:
            return self._fail(True, f"{what} not configured")
        if not _is_http_url(url):
            return self._fail(True, f"{what} is not an http(s) URL")
        self._remember_secret(url)
        request = urllib.request.Request(
            url, data=json.dumps(body, ensure_ascii=False, default=str).encode("utf-8"),
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "bgjobs",
                     **(headers or {})})
        where = url  # _fail cuts it to scheme and host
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                status = response.status
                response.read(65536)
        except urllib.error.HTTPError as exc:
            try:
                snippet = exc.read(300).decode("utf-8", "replace")
            except Exception:
                snippet = ""
            finally:
                exc.close()
            error = f"{channel}: HTTP {exc.code} from {where}"
            if snippet.strip():
                error += f": {snippet}"
            return self._fail(_http_permanent(exc.code), error, exc.code)
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            permanent, description = _network_error(exc)
            return self._fail(permanent, f"{channel}: {description} ({where})")
        except ValueError as exc:  # malformed URL that urlsplit accepted
            return self._fail(True, f"{channel}: bad URL {where}: {exc}")
        if 200 <= status <= 299:
            return Outcome(True, False, None, status)
        return self._fail(_http_permanent(status), f"{channel}: HTTP {status} from {where}", status)

    # -- email

    def _send_email(self, recipient, message):
        to = [a.strip() for a in (recipient or _str(self.config.get("alert_email_to"))).split(",")
              if a.strip()]
        if not to:
            return self._fail(True, "email: no recipient (and alert_email_to not configured)")
        subject = _one_line(message.get("subject") or "bgjobs notification")
        text, html = _str(message.get("text")), message.get("html")
        if _str(self.config.get("email_transport", "smtp")).strip().lower() == "resend":
            key = self.config.get("resend_api_key")
            if not key:
                return self._fail(True, "email: resend api key not configured")
            sender = self.config.get("resend_from") or self.config.get("alert_email_from")
            if not sender:
                return self._fail(True, "email: resend_from not configured")
            self._remember_secret(key)
            base = self.config.get("resend_base_url", "https://api.resend.com").rstrip("/")
            body = {"from": sender, "to": to, "subject": subject, "text": text}
            if html:
                body["html"] = html
            return self._post("resend", base + "/emails", body, "resend base url",
                              {"Authorization": f"Bearer {key}"})
        return self._send_smtp(to, subject, text, html)

    def _smtp_connect(self):
        cfg = self.config
        use_ssl, starttls = _truthy(cfg.get("smtp_ssl")), _truthy(cfg.get("smtp_starttls"))
        host = cfg.get("smtp_host", "localhost")
        port = int(cfg.get("smtp_port") or (465 if use_ssl else 587 if starttls else 25))
        if use_ssl:
            conn = smtplib.SMTP_SSL(host, port, timeout=self.timeout,
                                    context=ssl.create_default_context())
        else:
            conn = smtplib.SMTP(host, port, timeout=self.timeout)
        try:
            if starttls and not use_ssl:
                conn.starttls(context=ssl.create_default_context())
            if cfg.get("smtp_username"):
                conn.login(cfg["smtp_username"], cfg.get("smtp_password", ""))
        except BaseException:
            conn.close()
            raise
        return conn

    def _drop_smtp(self):
        if self._smtp is not None:
            try:
                self._smtp.close()
            except Exception:
                pass
            self._smtp = None

    def _send_smtp(self, to, subject, text, html):
        sender = self.config.get("alert_email_from", "bgjobs@localhost")
        try:
            msg = EmailMessage()
            msg["From"] = sender
            msg["To"] = ", ".join(to)
            msg["Subject"] = subject
            msg["Date"] = email.utils.formatdate(usegmt=True)
            msg["Message-ID"] = email.utils.make_msgid(
                domain=sender.rpartition("@")[2].strip("> ") or "localhost")
            msg.set_content(text)
            if html:
                msg.add_alternative(html, subtype="html")
        except (ValueError, TypeError) as exc:
            return self._fail(True, f"email: cannot build message: {exc}")
        envelope_from = email.utils.parseaddr(sender)[1] or sender
        envelope_to = [addr for _, addr in email.utils.getaddresses(to) if addr] or to
        for attempt in (1, 2):
            reused = self._smtp is not None
            try:
                if self._smtp is None:
                    self._smtp = self._smtp_connect()
                refused = self._smtp.send_message(msg, from_addr=envelope_from,
                                                  to_addrs=envelope_to)
            except smtplib.SMTPServerDisconnected as exc:
                self._drop_smtp()
                if reused and attempt == 1:
                    continue  # the server closed our idle connection: reconnect once
                return self._fail(False, f"email: SMTP server disconnected: {exc}")
            except smtplib.SMTPRecipientsRefused as exc:
                self._reset_smtp()
                codes = [code for code, _ in exc.recipients.values()]
                detail = "; ".join(f"{addr}: {code} {_str(resp)}"
                                   for addr, (code, resp) in exc.recipients.items())
                return self._fail(all(c >= 500 for c in codes),
                                  f"email: recipient refused: {detail}", max(codes))
            except smtplib.SMTPResponseException as exc:
                self._reset_smtp()
                return self._fail(exc.smtp_code >= 500,
                                  f"email: SMTP {exc.smtp_code} {_str(exc.smtp_error)}",
                                  exc.smtp_code)
            except smtplib.SMTPNotSupportedError as exc:
                self._drop_smtp()
                return self._fail(True, f"email: SMTP server does not support it: {exc}")
            except (smtplib.SMTPException, OSError) as exc:
                self._drop_smtp()
                permanent, description = _network_error(exc)
                return self._fail(permanent, f"email: {description} "
                                             f"({self.config.get('smtp_host', 'localhost')})")
            if refused:
                detail = "; ".join(f"{a}: {c}" for a, (c, _) in refused.items())
                return Outcome(True, False,
                               self._redact(f"email: some recipients refused: {detail}"))
            return Outcome(True, False, None, 250)
        return self._fail(False, "email: SMTP server disconnected twice")

    def _reset_smtp(self):
        """After a refused command: RSET to reuse the session, or drop it."""
        try:
            if self._smtp is not None:
                self._smtp.rset()
        except Exception:
            self._drop_smtp()
