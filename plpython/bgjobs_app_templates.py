"""The seeds' application's message templates: hearing reminders, deadline digests, the
automation health report and automation rules' notify e-mails.  The runtime's channel code
(bgjobs_channels) renders and sends; this module only adds the application's templates to
it (``register()``), as any application would.  Both hosts load it: the PL/Python delivery
function (the installer embeds this source) and ``bgjobs worker``.  Standard library and
bgjobs_channels only; no I/O at import.
"""

import datetime as _dt
import json

import bgjobs_channels

# the rendering helpers bgjobs_channels shares with template modules
from bgjobs_channels import (
    _SEVERITY_ICON,
    UTC,
    _clock,
    _one_line,
    _pairs,
    _relative,
    _slack,
    _slack_escape,
    _slack_plain,
    _str,
    _timestamp,
    _when,
    _zone,
)

__all__ = ["TEMPLATES", "register"]


_HEARING_CHECKLIST = (
    "Review the case file, the pleadings and the last order",
    "Confirm attendance with the client and any witnesses",
    "Keep originals and copies of every document to be relied on",
    "Check the cause list for the item number and courtroom",
    "Plan to reach the court at least 30 minutes early",
)
_DIGEST_HEADER = "📋 Your Upcoming Deadlines (Next 24 Hours)"


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
    return f"Hearing Reminder: {number} - {court}", text, _slack_plain(text)


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
    return subject, text, _slack_plain(text)


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


TEMPLATES = {
    "hearing_reminder": _render_hearing_reminder,
    "deadline_digest": _render_deadline_digest,
    "automation_health": _render_automation_health,
    "automation_notification": _render_automation_notification,
}


def register():
    """Add these templates to bgjobs_channels (idempotent; a host calls it before each
    delivery run, so a channels module reloaded after an upgrade gets them too)."""
    bgjobs_channels.register_templates(TEMPLATES)


register()
