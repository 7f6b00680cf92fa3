"""Delivery of one bgjobs outbox notification: render a template, send it on a channel.

One sender, two hosts: the PL/Python delivery function (the installer embeds this source)
and ``bgjobs worker`` use the same code. Standard library and bgjobs_settings only; no I/O
at import.

    message = render(row["template"], row["payload"], tz_name)
    with Sender(config, tick=check_interrupts) as sender:
        outcome = sender.send(row["channel"], row["recipient"], message,
                              idempotency_key=f"bgjobs-{row['id']}", deadline=run_ends)
        # outcome.ok / outcome.permanent / outcome.error / outcome.status

Channels: 'slack' (incoming webhook), 'webhook' (JSON POST), 'whatsapp' (JSON POST of
{to, text} to a gateway), 'email' (SMTP over one kept-open connection, or the Resend API).
Outcome classification: HTTP 2xx ok; 408, 425, 429 and 5xx transient; other statuses
permanent (a redirect is not followed); network errors and timeouts transient; SMTP 4xx
transient, 5xx permanent; a channel with nothing configured permanent.

Deadlines: every send has one TOTAL deadline (timeout_seconds, at most 10 s, or less when
the caller's run budget ends sooner) covering connect, TLS, request and answer: each
wait is a step of at most STEP_SECONDS, so a peer that drips a byte every few seconds is
cut off at the deadline, and between steps the host's ``tick`` runs (in PostgreSQL a
cheap query, so that pg_cancel_backend / pg_terminate_backend take effect mid-send).

Errors never carry a URL path, query, key, password, header or recipient: a URL is cut
to scheme://host[:port], an HTTP failure keeps only its status and standard reason (and
a short error code such as Slack's ``invalid_token``), configured secrets and the send's
recipients are masked.  HTTP requests carry an Idempotency-Key (the caller's stable key
per notification); e-mails use it as their Message-ID.  E-mail recipients are parsed as
RFC 5322 address lists; bodies go quoted-printable (7-bit clean).
Retries are the caller's: wait ``backoff_seconds(attempts)``, give up after MAX_ATTEMPTS.
"""

import datetime as _dt
import email.utils
import errno
import html as _html
import http.client
import io
import json
import math
import os
import re
import selectors
import smtplib
import socket
import ssl
import time
import urllib.error
import urllib.parse
from email.message import EmailMessage
from typing import NamedTuple
from zoneinfo import ZoneInfo

import bgjobs_settings

__all__ = [
    "CHANNELS",
    "MAX_ATTEMPTS",
    "STEP_SECONDS",
    "Interrupted",
    "Outcome",
    "Sender",
    "addresses",
    "backoff_seconds",
    "register_templates",
    "render",
]

# Tries before a notification is dead (notification_max_attempts). With the default backoff
# (30 s doubling, capped at 1 h) the 8th try comes about 64 minutes after the first.
MAX_ATTEMPTS = bgjobs_settings.default("notification_max_attempts", int)
CHANNELS = ("email", "slack", "webhook", "whatsapp")
MAX_TIMEOUT = float(bgjobs_settings.maximum("delivery_timeout_seconds"))
_BACKOFF_BASE = bgjobs_settings.default("notification_backoff_base_seconds", int)
_BACKOFF_CAP = bgjobs_settings.default("notification_backoff_cap_seconds", int)
UTC = _dt.timezone.utc


def backoff_seconds(attempts, base=_BACKOFF_BASE, cap=_BACKOFF_CAP):
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


# Slack mrkdwn has no escape for its formatting characters: a value (a job, tenant or rule
# name, an error text) gets look-alikes instead (∗ ˍ ∼ ˋ), so that "*", "_", "~" and "`" can
# never open bold, italics, strike-through or code; "&", "<" and ">" become the entities
# Slack documents (no <!channel> or <@user> from data), and line breaks become spaces (no
# "> " quote or forged "*Field:*" line from data).
# An "_" between two letters or digits (snake_case) cannot open italics and stays as it is.
_MRKDWN_LOOKALIKES = str.maketrans({"*": "\u2217", "~": "\u223c", "`": "\u02cb"})
_LOOSE_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")
_LINE_BREAKS = re.compile(r"[\r\n\v\f\x85\u2028\u2029]+")
SLACK_SECTION_LIMIT = 3000      # characters of one section block's text (Slack's limit)
SLACK_BLOCK_LIMIT = 50          # blocks in one message (Slack's limit)
SLACK_TEXT_LIMIT = 3000         # the fallback text is kept as short as a section


def _slack_escape(value):
    """A value made inert for Slack mrkdwn, on one line."""
    text = _LINE_BREAKS.sub(" ", _str(value)).replace("\t", " ")
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _LOOSE_UNDERSCORE.sub("\u02cd", text.translate(_MRKDWN_LOOKALIKES))


def _slack_escape_lines(text):
    """Multi-line text (bgjobs' own layout) with every line escaped."""
    return "\n".join(_slack_escape(line) for line in _str(text).split("\n"))


def _cut(text, limit, note="…"):
    return text if len(text) <= limit else text[: limit - len(note)] + note


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
    """Slack message: fallback text plus mrkdwn sections (the seed format: one section).
    A body longer than a section holds is split at line ends into several sections; a
    line longer than a section is cut; past Slack's 50 blocks the last one says how many
    lines were left out.  ``text`` and ``body_lines`` are mrkdwn, values already escaped."""
    message = {"text": _cut(text, SLACK_TEXT_LIMIT)}
    lines = []
    for line in body_lines:
        if line is not None:
            lines.extend(_cut(part, SLACK_SECTION_LIMIT) for part in line.split("\n"))
    sections, current = [], None
    for line in lines:
        if current is not None and len(current) + 1 + len(line) <= SLACK_SECTION_LIMIT:
            current += "\n" + line
        else:
            if current is not None:
                sections.append(current)
            current = line
    if current is not None:
        sections.append(current)
    if len(sections) > SLACK_BLOCK_LIMIT:
        left = sum(body.count("\n") + 1 for body in sections[SLACK_BLOCK_LIMIT - 1:])
        sections = sections[: SLACK_BLOCK_LIMIT - 1] + [
            f"… {left} more lines not shown (Slack's limit of {SLACK_BLOCK_LIMIT} blocks)"]
    sections = [body for body in sections if body.strip()]
    if sections:
        message["blocks"] = [{"type": "section", "text": {"type": "mrkdwn", "text": body}}
                             for body in sections]
    return message


def _slack_plain(text):
    """A message that is bgjobs' plain text layout (no mrkdwn intended): escaped, cut."""
    return {"text": _cut(_slack_escape_lines(text), SLACK_TEXT_LIMIT,
                         "\n… (cut to Slack's length limit)")}


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


def _render_generic(template, p):
    title = _str(template) or "bgjobs notification"
    lines = [f"{key}: {value}" for key, value in _pairs(p)]
    text = "\n".join([title, ""] + lines) if lines else title
    return title, text, _slack(_slack_escape(title), [_slack_escape(line) for line in lines])


# The runtime's own templates.  An application adds its own with register_templates()
# (the seeds' application: plpython/bgjobs_app_templates.py).
_TEMPLATES = {
    "job_failure": _render_job_failure,
    "job_alert": _render_job_alert,
    "alert_resolved": _render_alert_resolved,
}


def register_templates(renderers):
    """Add an application's templates: {name: renderer(payload dict, tz_name) -> (subject,
    text, slack blocks)}.  The runtime's own names cannot be replaced."""
    for name in renderers:
        if name in ("job_failure", "job_alert", "alert_resolved"):
            raise ValueError(f"template {name!r} is the runtime's own")
    _TEMPLATES.update(renderers)


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
    error: str | None = None
    status: int | None = None


class Interrupted(BaseException):
    """The host's interrupt check raised while a send waited: in PostgreSQL a pending
    cancel (pg_cancel_backend, a job timeout) or terminate request.  A BaseException, so
    that no handler of network errors swallows it; ``cause`` is what the check raised,
    for the host to raise again (its SQLSTATE then reaches the caller)."""

    def __init__(self, cause):
        super().__init__(cause)
        self.cause = cause


# Every wait of a send (connect, TLS handshake, each read and write) lasts at most this
# long before the host's interrupt check runs and the send's total deadline is looked at.
STEP_SECONDS = 0.25


class _Deadline:
    """The moment a send must be over (time.monotonic()), and the host's interrupt check."""

    def __init__(self, seconds, tick=None, clock=time.monotonic, end=None):
        now = clock()
        self.end = now + seconds if end is None else min(now + seconds, end)
        self.length = max(self.end - now, 0.0)
        self.tick = tick
        self.clock = clock
        self.hit = False

    def slice(self):
        """Seconds the next wait may last; raises TimeoutError once the deadline passed."""
        left = self.end - self.clock()
        if left <= 0:
            self.hit = True
            raise TimeoutError("timed out")
        return min(STEP_SECONDS, left)

    def waited(self):
        """After a wait step that saw nothing: let the host process interrupts."""
        if self.tick is not None:
            try:
                self.tick()
            except Interrupted:
                raise
            except BaseException as exc:
                raise Interrupted(exc) from None


class _StepReader(io.RawIOBase):
    def __init__(self, sock):
        super().__init__()
        self._sock = sock

    def readable(self):
        return True

    def readinto(self, buffer):
        return self._sock.recv_into(buffer)

    def close(self):
        if not self.closed:
            super().close()
            self._sock._release()


class _StepSocket:
    """A connected socket (plain or TLS) whose reads and writes wait in steps of at most
    STEP_SECONDS and never past the owner's current deadline: a peer that drips one byte
    every few seconds cannot hold a send past it.  smtplib and http.client use it as
    their socket."""

    def __init__(self, sock, owner):
        self._sock = sock
        self._owner = owner
        self._files = 0             # open makefile() readers (they keep the socket open)
        self._closed = False

    def _wait(self, operation, *args):
        while True:
            deadline = self._owner._deadline
            self._sock.settimeout(deadline.slice())
            try:
                return operation(*args)
            except (TimeoutError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                deadline.waited()

    def sendall(self, data):
        view = memoryview(data).cast("B")
        sent = 0
        while sent < len(view):
            sent += self._wait(self._sock.send, view[sent:])

    def send(self, data):
        return self._wait(self._sock.send, data)

    def recv(self, size, flags=0):
        return self._wait(self._sock.recv, size)

    def recv_into(self, buffer, size=0, flags=0):
        return self._wait(self._sock.recv_into, buffer, size)

    def makefile(self, mode="r", *args, **kwargs):
        if mode not in ("rb", "br"):
            raise ValueError(f"bgjobs socket: makefile mode {mode!r} not supported")
        self._files += 1
        return io.BufferedReader(_StepReader(self), 8192)

    def settimeout(self, value):
        pass                        # the deadline rules

    def _release(self):
        self._files -= 1
        if self._closed and self._files <= 0:
            self._sock.close()

    def close(self):
        """Like socket.close(): the socket really closes once its readers are closed too."""
        self._closed = True
        if self._files <= 0:
            self._sock.close()

    def __getattr__(self, name):    # fileno, getpeername, shutdown, setsockopt, ...
        return getattr(self._sock, name)


class _StepTLS:
    """What smtplib.starttls() takes as its context: wraps our socket's inner one."""

    def __init__(self, owner):
        self._owner = owner

    def wrap_socket(self, sock, server_hostname=None):
        inner = sock._sock if isinstance(sock, _StepSocket) else sock
        return _StepSocket(self._owner._tls(inner, server_hostname), self._owner)


class _HTTPConnection(http.client.HTTPConnection):
    """http.client over a stepwise-connected _StepSocket (plain or TLS)."""

    def __init__(self, owner, host, port, tls):
        super().__init__(host, port)
        self._owner = owner
        self._use_tls = tls
        self.default_port = 443 if tls else 80

    def connect(self):
        self.sock = self._owner._open(self.host, self.port, tls=self._use_tls)


class _SMTP(smtplib.SMTP):
    """smtplib over a stepwise-connected _StepSocket (SMTPS when use_ssl)."""

    def __init__(self, owner, host, port, use_ssl):
        self._owner = owner
        self._use_ssl = use_ssl
        super().__init__(host, port, timeout=owner.timeout)

    def _get_socket(self, host, port, timeout):
        return self._owner._open(host, port, tls=self._use_ssl)


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")
_CREDENTIAL = re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]+")
_SECRET_KEYS = ("slack_webhook_url", "whatsapp_webhook_url", "webhook_url", "smtp_password",
                "resend_api_key")
# A short machine-readable error code in a response body (Slack: invalid_token,
# no_service, channel_not_found) is kept in an error; any other body is not.
_ERROR_CODE = re.compile(r"[a-z][a-z0-9_]{0,59}")
_ADDRESS = re.compile(r"[^@\s<>()\[\],;:\"\\]+@[^@\s<>()\[\],;:\"\\]+")


def _origin(url):
    """'https://hooks.slack.com': scheme, host and port only, never path, query or userinfo."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
    except ValueError:
        return "<url>"
    return f"{parts.scheme}://{host}"


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


try:
    email.utils.getaddresses([""], strict=True)
    _GETADDRESSES_OPTIONS = {"strict": True}
except TypeError:                   # a Python without the strict parser (CVE-2023-27043)
    _GETADDRESSES_OPTIONS = {}


def addresses(value):
    """[(display name, address)] of an RFC 5322 address list ('"Doe, J" <j@x.test>, k@y.test');
    empty entries are skipped.  Raises ValueError if any entry is not one plain address
    (the whole list is refused: never sent to a part of it)."""
    text = _str(value)
    if "\r" in text or "\n" in text:
        raise ValueError("line break in an address list")
    result, seen = [], set()
    for name, address in email.utils.getaddresses([text], **_GETADDRESSES_OPTIONS):
        if not name and not address:
            continue
        if not _ADDRESS.fullmatch(address or ""):
            raise ValueError("not an e-mail address")
        if address.lower() not in seen:
            seen.add(address.lower())
            result.append((name, address))
    if not result and text.strip(" ,"):
        raise ValueError("not an e-mail address")
    return result


def _network_error(exc, deadline=None):
    """(permanent, description) for a failure below HTTP/SMTP."""
    reason = getattr(exc, "reason", exc) if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, ssl.SSLCertVerificationError):
        return True, "TLS certificate verification failed"
    if isinstance(reason, http.client.InvalidURL):
        return True, "invalid URL"
    if (deadline is not None and deadline.hit) or isinstance(reason, (socket.timeout, TimeoutError)):
        if deadline is not None:
            return False, f"timed out (no complete answer within {deadline.length:.3g} s)"
        return False, "timed out"
    if isinstance(reason, ConnectionRefusedError):
        return False, "connection refused"
    if isinstance(reason, socket.gaierror):
        return False, "DNS lookup failed"
    if isinstance(reason, str):
        return False, reason
    return False, f"{type(reason).__name__}: {reason}"


class Sender:
    """Sends rendered messages; one instance per run (keeps one SMTP connection).

    ``config`` keys (all optional, string values as stored in settings and secrets):
    slack_webhook_url, whatsapp_webhook_url, webhook_url, email_transport ('smtp' or
    'resend'), smtp_host, smtp_port, smtp_username, smtp_password, smtp_starttls,
    smtp_ssl, alert_email_from, alert_email_to (for email rows with no recipient),
    resend_api_key, resend_from, resend_base_url, timeout_seconds (default and cap 10).

    ``timeout_seconds`` is the TOTAL deadline of one send (connect, TLS, request, answer),
    not a per-read timeout.  ``tick`` is the host's interrupt check (PostgreSQL: a cheap
    query, so that a cancel or terminate request takes effect): it runs whenever a send
    has waited STEP_SECONDS without progress; if it raises, the send is abandoned and
    Interrupted (with the original exception as ``cause``) propagates."""

    def __init__(self, config=None, tick=None, clock=time.monotonic):
        self.config = {k: v for k, v in (config or {}).items() if v is not None and v != ""}
        try:
            timeout = float(self.config.get("timeout_seconds", bgjobs_settings.default("delivery_timeout_seconds")))
        except (TypeError, ValueError):
            timeout = MAX_TIMEOUT
        if not math.isfinite(timeout):
            timeout = MAX_TIMEOUT
        self.timeout = min(max(timeout, 0.1), MAX_TIMEOUT)
        self._tick = tick
        self._clock = clock
        self._deadline = _Deadline(self.timeout, tick, clock)
        self._smtp = None
        self._ssl_context = None
        self._secrets = set()
        self._recipients = ()
        for key in _SECRET_KEYS:
            self._remember_secret(self.config.get(key))

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def check(self):
        """The host's interrupt check, between sends (raises Interrupted)."""
        _Deadline(0, self._tick, self._clock).waited()

    def close(self):
        """Ends the SMTP session if one is open (QUIT within 2 s, else just closes)."""
        if self._smtp is not None:
            self._deadline = _Deadline(2.0, None, self._clock)
            try:
                self._smtp.quit()
            except Exception:
                self._drop_smtp()
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
        for recipient in sorted(self._recipients, key=len, reverse=True):
            text = re.sub(re.escape(recipient), "<recipient>", text, flags=re.IGNORECASE)
        text = " ".join(text.split())
        return text if len(text) <= 400 else text[:399] + "…"

    def _fail(self, permanent, error, status=None):
        return Outcome(False, permanent, self._redact(error), status)

    # -- entry point

    def send(self, channel, recipient, message, idempotency_key=None, deadline=None):
        """Deliver ``message`` (render()'s dict) on ``channel`` to ``recipient``
        (an address list, URL or phone number; empty means the configured default).
        ``idempotency_key``: the same for every try of one notification (HTTP header
        Idempotency-Key; the e-mail's Message-ID).  ``deadline``: a time.monotonic()
        moment the send must not outlast (the run's budget), besides timeout_seconds.
        Returns an Outcome; never raises, except Interrupted."""
        if isinstance(message, str):
            message = {"subject": _one_line(message), "text": message}
        message = message or {}
        recipient = _str(recipient).strip()
        key = _str(idempotency_key).strip()[:200] or None
        self._deadline = _Deadline(self.timeout, self._tick, self._clock, deadline)
        self._recipients = ()
        try:
            if channel == "slack":
                url = recipient if _is_http_url(recipient) else self.config.get("slack_webhook_url")
                body = message.get("slack") or {"text": _slack_plain(message.get("text"))["text"]}
                return self._post("slack", url, body, "slack webhook", key)
            if channel == "webhook":
                url = recipient if _is_http_url(recipient) else self.config.get("webhook_url")
                body = {k: v for k, v in message.items() if k != "slack"}
                return self._post("webhook", url, body, "webhook url", key)
            if channel == "whatsapp":
                if not recipient:
                    return self._fail(True, "whatsapp: no recipient phone number")
                self._recipients = (recipient,) if len(recipient) >= 4 else ()
                body = {"to": recipient, "text": _str(message.get("text"))}
                return self._post("whatsapp", self.config.get("whatsapp_webhook_url"), body,
                                  "whatsapp webhook", key)
            if channel == "email":
                return self._send_email(recipient, message, key)
            return self._fail(True, f"unknown channel {_one_line(channel, 40)!r}")
        except Interrupted:
            self._drop_smtp()
            raise
        except Exception as exc:  # a bug here must not lose the batch
            return self._fail(False, f"{channel}: unexpected {type(exc).__name__}: {exc}")

    # -- connections

    def _open(self, host, port, tls=False, server_hostname=None):
        """A _StepSocket connected to host:port within the current deadline (TLS: verified)."""
        deadline = self._deadline
        error = None
        for family, kind, proto, _, address in socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM):
            sock = socket.socket(family, kind, proto)
            try:
                self._connect(sock, address, deadline)
            except TimeoutError:
                sock.close()
                raise
            except OSError as exc:
                sock.close()
                error = exc
                continue
            except BaseException:
                sock.close()
                raise
            break
        else:
            raise error or OSError(f"no address for {host}")
        try:
            sock.setblocking(True)
            if family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if tls:
                sock = self._tls(sock, server_hostname or host)
        except BaseException:
            sock.close()
            raise
        return _StepSocket(sock, self)

    @staticmethod
    def _connect(sock, address, deadline):
        sock.setblocking(False)
        err = sock.connect_ex(address)
        if err in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY, errno.EAGAIN):
            with selectors.DefaultSelector() as selector:
                selector.register(sock, selectors.EVENT_WRITE)
                while not selector.select(deadline.slice()):
                    deadline.waited()
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err not in (0, errno.EISCONN):
            raise OSError(err, os.strerror(err))

    def _tls(self, sock, server_hostname):
        """TLS over a connected socket, the handshake in deadline-bounded steps."""
        deadline = self._deadline
        if self._ssl_context is None:        # loading the CA store costs milliseconds: once
            self._ssl_context = ssl.create_default_context()
        wrapped = self._ssl_context.wrap_socket(
            sock, server_hostname=server_hostname, do_handshake_on_connect=False)
        while True:
            wrapped.settimeout(deadline.slice())
            try:
                wrapped.do_handshake()
                return wrapped
            except (TimeoutError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                deadline.waited()

    # -- HTTP

    def _post(self, channel, url, body, what, key=None, headers=None):
        if not url:
            return self._fail(True, f"{what} not configured")
        if not _is_http_url(url):
            return self._fail(True, f"{what} is not an http(s) URL")
        self._remember_secret(url)
        where = _origin(url)
        try:
            parts = urllib.parse.urlsplit(url)
            host, tls = parts.hostname, parts.scheme == "https"
            port = parts.port or (443 if tls else 80)
        except ValueError:
            return self._fail(True, f"{channel}: invalid URL ({where})")
        if not host or not re.fullmatch(r"[A-Za-z0-9._:-]+", host):
            return self._fail(True, f"{channel}: invalid URL ({where})")
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        data = json.dumps(body, ensure_ascii=False, default=str).encode("utf-8")
        request_headers = {"Content-Type": "application/json", "User-Agent": "bgjobs",
                           "Connection": "close", **(headers or {})}
        if key:
            request_headers["Idempotency-Key"] = key
        connection = _HTTPConnection(self, host, port, tls)
        try:
            connection.request("POST", target, body=data, headers=request_headers)
            response = connection.getresponse()
            status = response.status
            detail = response.read(65536 if 200 <= status <= 299 else 300)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            permanent, description = _network_error(exc, self._deadline)
            return self._fail(permanent, f"{channel}: {description} ({where})")
        finally:
            connection.close()
        if 200 <= status <= 299:
            return Outcome(True, False, None, status)
        reason = http.client.responses.get(status, "")
        error = f"{channel}: HTTP {status}{' ' + reason if reason else ''} from {where}"
        code = detail.decode("utf-8", "replace").strip()
        if _ERROR_CODE.fullmatch(code):
            error += f" ({code})"
        return self._fail(_http_permanent(status), error, status)

    # -- email

    def _send_email(self, recipient, message, key=None):
        raw = recipient or _str(self.config.get("alert_email_to"))
        try:
            to = addresses(raw)
        except ValueError as exc:
            return self._fail(True, f"email: recipient is not a valid address list ({exc})")
        if not to:
            return self._fail(True, "email: no recipient (and alert_email_to not configured)")
        self._recipients = tuple({address for _, address in to} | ({raw} if len(raw) >= 4 else set()))
        subject = _one_line(message.get("subject") or "bgjobs notification")
        text, html = _str(message.get("text")), message.get("html")
        if _str(self.config.get("email_transport", bgjobs_settings.default("email_transport"))).strip().lower() == "resend":
            api_key = self.config.get("resend_api_key")
            if not api_key:
                return self._fail(True, "email: resend api key not configured")
            sender = self.config.get("resend_from") or self.config.get("alert_email_from")
            if not sender:
                return self._fail(True, "email: resend_from not configured")
            self._remember_secret(api_key)
            base = self.config.get("resend_base_url", bgjobs_settings.default("resend_base_url")).rstrip("/")
            body = {"from": sender, "to": [email.utils.formataddr(a) for a in to],
                    "subject": subject, "text": text}
            if html:
                body["html"] = html
            return self._post("resend", base + "/emails", body, "resend base url", key,
                              {"Authorization": f"Bearer {api_key}"})
        return self._send_smtp(to, subject, text, html, key)

    def _smtp_connect(self):
        cfg = self.config
        use_ssl, starttls = _truthy(cfg.get("smtp_ssl")), _truthy(cfg.get("smtp_starttls"))
        host = cfg.get("smtp_host", bgjobs_settings.default("smtp_host"))
        port = int(cfg.get("smtp_port") or (465 if use_ssl else 587 if starttls
                                            else bgjobs_settings.default("smtp_port", int)))
        conn = _SMTP(self, host, port, use_ssl)
        try:
            if starttls and not use_ssl:
                conn.starttls(context=_StepTLS(self))
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

    def _send_smtp(self, to, subject, text, html, key=None):
        # Bodies go quoted-printable (7-bit clean): no server needs 8BITMIME (RFC 6152).
        sender = self.config.get("alert_email_from", bgjobs_settings.default("alert_email_from"))
        try:
            msg = EmailMessage()
            msg["From"] = sender
            msg["To"] = ", ".join(email.utils.formataddr(a) for a in to)
            msg["Subject"] = subject
            msg["Date"] = email.utils.formatdate(usegmt=True)
            domain = sender.rpartition("@")[2].strip("> ") or "localhost"
            if key and re.fullmatch(r"[A-Za-z0-9._-]+", key):
                msg["Message-ID"] = f"<{key}@{domain}>"
            else:
                msg["Message-ID"] = email.utils.make_msgid(domain=domain)
            msg.set_content(text, cte="quoted-printable")
            if html:
                msg.add_alternative(html, subtype="html", cte="quoted-printable")
        except (ValueError, TypeError) as exc:
            return self._fail(True, f"email: cannot build message: {exc}")
        envelope_from = email.utils.parseaddr(sender)[1] or sender
        envelope_to = [address for _, address in to]
        smtp_host = self.config.get("smtp_host", bgjobs_settings.default("smtp_host"))
        for attempt in (1, 2):
            reused = self._smtp is not None
            try:
                if self._smtp is None:
                    self._smtp = self._smtp_connect()
                refused = self._smtp.send_message(msg, from_addr=envelope_from,
                                                  to_addrs=envelope_to)
            except smtplib.SMTPServerDisconnected as exc:
                self._drop_smtp()
                if self._deadline.hit:
                    return self._fail(False, f"email: {_network_error(exc, self._deadline)[1]} "
                                             f"({smtp_host})")
                if reused and attempt == 1:
                    continue  # the server closed our idle connection: reconnect once
                return self._fail(False, f"email: SMTP server disconnected: {exc}")
            except smtplib.SMTPRecipientsRefused as exc:
                self._reset_smtp()
                codes = [code for code, _ in exc.recipients.values()]
                detail = "; ".join(f"{code} {_str(resp)}" for code, resp in exc.recipients.values())
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
                permanent, description = _network_error(exc, self._deadline)
                return self._fail(permanent, f"email: {description} ({smtp_host})")
            if refused:
                codes = sorted({code for code, _ in refused.values()})
                return Outcome(True, False, self._redact(
                    f"email: {len(refused)} of {len(envelope_to)} recipients refused "
                    f"({', '.join(str(c) for c in codes)})"))
            return Outcome(True, False, None, 250)
        return self._fail(False, "email: SMTP server disconnected twice")

    def _reset_smtp(self):
        """After a refused command: RSET to reuse the session, or drop it."""
        try:
            if self._smtp is not None:
                self._smtp.rset()
        except Exception:
            self._drop_smtp()
