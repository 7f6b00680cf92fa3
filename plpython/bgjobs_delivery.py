"""One delivery batch of the bgjobs outbox: rows in, outcomes out.

Both deliverers use this: the PL/Python body of ``deliver-notifications`` (the installer
embeds this source) and ``bgjobs worker``.  Each of them, in one transaction:

    rows = SELECT * FROM bgjobs.claim_notifications(as_of, batch_size, deliverer)
    results = bgjobs_delivery.deliver(rows, config)      # config = bgjobs.delivery_config()
    SELECT bgjobs.record_deliveries(results::jsonb, as_of, deliverer)

so the rows stay locked (FOR UPDATE SKIP LOCKED) only while this batch sends them.

Outcomes per row: ``sent``; ``failed`` with ``retry_in`` seconds (transient: 5xx, 408/429,
timeouts, refused connections; capped exponential backoff); ``dead`` (permanent: other
4xx such as 404/410, a rejected recipient, nothing configured; or the last attempt failed);
``deferred`` (not tried: its destination already timed out or refused a connection in this
batch, so the rest wait ``retry_in`` instead of each costing a timeout and an attempt).
Rows left over when the time budget runs out get no outcome: they stay due as they were.
Error texts come from the Sender, which never shows a URL path, key or password.
Standard library and bgjobs_channels only; no I/O at import.
"""

import time
import urllib.parse

import bgjobs_channels

__all__ = ["deliver", "destination", "TIME_BUDGET_SECONDS"]

# A batch stops sending after this long, so its transaction (and its row locks) stay short.
TIME_BUDGET_SECONDS = 30.0


def _int(value, default):
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return default


def _url_host(url):
    try:
        parts = urllib.parse.urlsplit(url or "")
        return f"{parts.scheme}://{parts.hostname}:{parts.port or ''}" if parts.hostname else ""
    except ValueError:
        return ""


def destination(row, config):
    """The endpoint a row goes to (for the per-batch circuit breaker): a webhook's
    scheme://host:port, the SMTP relay, or Resend."""
    channel = row.get("channel")
    recipient = (row.get("recipient") or "").strip()
    if channel == "slack":
        return "slack " + _url_host(recipient if recipient.startswith("http") else config.get("slack_webhook_url"))
    if channel == "webhook":
        return "webhook " + _url_host(recipient if recipient.startswith("http") else config.get("webhook_url"))
    if channel == "whatsapp":
        return "whatsapp " + _url_host(config.get("whatsapp_webhook_url"))
    if channel == "email":
        if str(config.get("email_transport", "smtp")).strip().lower() == "resend":
            return "email resend " + _url_host(config.get("resend_base_url"))
        return f"email smtp {config.get('smtp_host', 'localhost')}:{config.get('smtp_port', '')}"
    return f"other {channel}"


def deliver(rows, config, sender=None, budget_seconds=TIME_BUDGET_SECONDS, clock=time.monotonic):
    """Send claimed outbox rows; return one outcome dict per row tried or deferred:
    {tenant_id, id, status, error, retry_in}.  ``rows`` are mappings with the columns of
    bgjobs.claim_notifications; ``config`` is bgjobs.delivery_config() (dict or JSON
    text).  Never raises for a row: a bug while sending one row fails that row only."""
    if isinstance(config, (str, bytes)):
        import json
        config = json.loads(config)
    config = dict(config or {})
    max_attempts = max(_int(config.get("max_attempts"), bgjobs_channels.MAX_ATTEMPTS), 1)
    base = _int(config.get("backoff_base_seconds"), 30)
    cap = _int(config.get("backoff_cap_seconds"), 3600)
    started = clock()
    down = {}          # destination -> error of its first transient network failure
    results = []
    own = sender is None
    if own:
        sender = bgjobs_channels.Sender(config)
    try:
        for row in rows:
            if clock() - started > budget_seconds:
                break   # the rest stay due, untouched
            key = {"tenant_id": str(row["tenant_id"]), "id": str(row["id"])}
            attempts = _int(row.get("attempts"), 0) + 1
            dest = destination(row, config)
            if dest in down:
                results.append(dict(key, status="deferred", retry_in=bgjobs_channels.backoff_seconds(1, base, cap),
                                    error=f"deferred: {down[dest]}"))
                continue
            try:
                message = bgjobs_channels.render(row.get("template"), row.get("payload"), row.get("timezone"))
                outcome = sender.send(row.get("channel"), row.get("recipient"), message)
            except Exception as exc:  # pragma: no cover - Sender.send does not raise
                outcome = bgjobs_channels.Outcome(False, False, f"unexpected {type(exc).__name__}")
            if outcome.ok:
                results.append(dict(key, status="sent", error=outcome.error, retry_in=None))
            elif outcome.permanent:
                results.append(dict(key, status="dead", error=outcome.error, retry_in=None))
            else:
                if outcome.status is None:
                    down[dest] = outcome.error or "unreachable"
                if attempts >= max_attempts:
                    results.append(dict(key, status="dead", retry_in=None,
                                        error=f"{outcome.error} (gave up after {attempts} attempts)"))
                else:
                    results.append(dict(key, status="failed", error=outcome.error,
                                        retry_in=bgjobs_channels.backoff_seconds(attempts, base, cap)))
    finally:
        if own:
            sender.close()
    return results


def summarize(results):
    """{'sent': n, 'failed': n, 'dead': n, 'deferred': n} of deliver()'s outcomes."""
    counts = {"sent": 0, "failed": 0, "dead": 0, "deferred": 0}
    for r in results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return counts
