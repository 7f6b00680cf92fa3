"""Delivery runs of the bgjobs outbox: batches of rows in, outcomes out.

Both deliverers use this: the PL/Python body of ``deliver-notifications`` (the installer
embeds this source) and ``bgjobs worker``.  The host gives two callables:

    claim(limit)     -> rows     SELECT * FROM bgjobs.claim_notifications(as_of, limit, deliverer)
    record(results)  -> counts   SELECT bgjobs.record_deliveries(results::jsonb, started, deliverer)

and ``drain`` runs batches (claim, send, record) until nothing is due, the run's time
budget is spent, or a batch leaves rows untried.  The in-database job claims and records
in its run's transaction; the worker commits each batch.  Claimed rows stay locked
(FOR UPDATE SKIP LOCKED) only until then.

Time: the run has a budget (delivery_run_budget_seconds, 40 s by default, at most 50 s:
always less than pg_cron's one-minute tick).  Each send has its own total deadline
(timeout_seconds, at most 10 s) and never outlasts the budget; no send starts with less
than MIN_SEND_SECONDS of it left.  ``tick`` (PostgreSQL: a cheap query) runs between
sends and while a send waits, so a cancel or terminate request, or the job's timeout,
takes effect within a fraction of a second: the host's exception propagates.

Outcomes per row: ``sent``; ``failed`` with ``retry_in`` seconds (transient: 5xx, 408/429,
timeouts, refused connections; capped exponential backoff); ``dead`` (permanent: other
4xx such as 404/410, a rejected recipient, nothing configured; or the last attempt failed);
``deferred`` (not tried: its destination already timed out or refused a connection in this
run, so the rest wait ``retry_in`` instead of each costing a timeout and an attempt).
Each outcome carries ``at``: seconds from the run's start to the end of its send, so that
record_deliveries counts the backoff from the send, not from the run's start.
Rows left over when the budget runs out get no outcome: they stay due as they were.
Every HTTP request carries ``Idempotency-Key: bgjobs-<notification id>``, the same on
every retry.  Error texts come from the Sender, which never shows a URL path, key,
password or recipient.  Standard library, bgjobs_channels and bgjobs_settings only; no I/O
at import.
"""

import json
import math
import time
import urllib.parse

import bgjobs_channels
import bgjobs_settings

__all__ = [
    "MAX_RUN_BUDGET_SECONDS",
    "MIN_SEND_SECONDS",
    "RUN_BUDGET_SECONDS",
    "deliver",
    "destination",
    "drain",
    "idempotency_key",
    "run_budget",
]

RUN_BUDGET_SECONDS = bgjobs_settings.default("delivery_run_budget_seconds", float)
# a run always ends before pg_cron's next one-minute tick
MAX_RUN_BUDGET_SECONDS = float(bgjobs_settings.maximum("delivery_run_budget_seconds"))
MIN_SEND_SECONDS = 1.0            # no send starts with less of the budget left
ZERO = {"sent": 0, "failed": 0, "dead": 0, "deferred": 0}


def _int(value, default):
    try:
        return int(float(value))
    except (TypeError, ValueError, OverflowError):
        return default


def _seconds(value, default):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def run_budget(config, job_timeout_seconds=None):
    """Seconds a delivery run may take: delivery_run_budget_seconds (config key
    run_budget_seconds) within [1, 50], and 5 s less than the job's timeout if that is
    shorter, so the run stops by itself before the timeout cancels it."""
    budget = _seconds((config or {}).get("run_budget_seconds"), RUN_BUDGET_SECONDS)
    budget = min(max(budget, 1.0), MAX_RUN_BUDGET_SECONDS)
    timeout = _seconds(job_timeout_seconds, None)
    if timeout is not None:
        budget = min(budget, max(timeout - 5.0, 1.0))
    return budget


def idempotency_key(row):
    """The stable key of one notification: the same on every try."""
    return f"bgjobs-{row['id']}"


def _url_host(url):
    try:
        parts = urllib.parse.urlsplit(url or "")
        return f"{parts.scheme}://{parts.hostname}:{parts.port or ''}" if parts.hostname else ""
    except ValueError:
        return ""


def destination(row, config):
    """The endpoint a row goes to (for the per-run circuit breaker): a webhook's
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
        if str(config.get("email_transport", bgjobs_settings.default("email_transport"))).strip().lower() == "resend":
            return "email resend " + _url_host(config.get("resend_base_url"))
        return (f"email smtp {config.get('smtp_host', bgjobs_settings.default('smtp_host'))}:"
                f"{config.get('smtp_port', bgjobs_settings.default('smtp_port'))}")
    return f"other {channel}"


def _config(config):
    if isinstance(config, (str, bytes)):
        config = json.loads(config)
    return dict(config or {})


def deliver(rows, config, sender=None, budget_seconds=None, clock=time.monotonic, tick=None,
            started=None, deadline=None, down=None):
    """Send claimed outbox rows; return one outcome dict per row tried or deferred:
    {tenant_id, id, status, error, retry_in, at}.  ``rows`` are mappings with the columns
    of bgjobs.claim_notifications; ``config`` is bgjobs.delivery_config() (dict or JSON
    text).  ``started``/``deadline``: the run's start and end (clock() values; default:
    now and now + the budget); ``down``: the run's circuit breaker (destination -> error).
    Never raises for a row: a bug while sending one row fails that row only.  Raises
    what ``tick`` raised (an interrupt), after closing its own sender."""
    config = _config(config)
    max_attempts = max(_int(config.get("max_attempts"), bgjobs_channels.MAX_ATTEMPTS), 1)
    base = _int(config.get("backoff_base_seconds"), bgjobs_settings.default("notification_backoff_base_seconds", int))
    cap = _int(config.get("backoff_cap_seconds"), bgjobs_settings.default("notification_backoff_cap_seconds", int))
    started = clock() if started is None else started
    if deadline is None:
        deadline = started + (run_budget(config) if budget_seconds is None else budget_seconds)
    down = {} if down is None else down
    results = []
    own = sender is None
    if own:
        sender = bgjobs_channels.Sender(config, tick=tick, clock=clock)
    try:
        for row in rows:
            if deadline - clock() < MIN_SEND_SECONDS:
                break   # the rest stay due, untouched
            sender.check()          # a pending cancel or terminate takes effect here
            key = {"tenant_id": str(row["tenant_id"]), "id": str(row["id"])}
            attempts = _int(row.get("attempts"), 0) + 1
            dest = destination(row, config)
            if dest in down:
                results.append(dict(key, status="deferred", error=f"deferred: {down[dest]}",
                                    retry_in=bgjobs_channels.backoff_seconds(1, base, cap),
                                    at=round(clock() - started, 3)))
                continue
            try:
                message = bgjobs_channels.render(row.get("template"), row.get("payload"), row.get("timezone"))
                outcome = sender.send(row.get("channel"), row.get("recipient"), message,
                                      idempotency_key=idempotency_key(row), deadline=deadline)
            except Exception as exc:  # pragma: no cover - Sender.send does not raise
                outcome = bgjobs_channels.Outcome(False, False, f"unexpected {type(exc).__name__}")
            at = round(clock() - started, 3)
            if outcome.ok:
                results.append(dict(key, status="sent", error=outcome.error, retry_in=None, at=at))
            elif outcome.permanent:
                results.append(dict(key, status="dead", error=outcome.error, retry_in=None, at=at))
            else:
                if outcome.status is None:
                    down[dest] = outcome.error or "unreachable"
                if attempts >= max_attempts:
                    results.append(dict(key, status="dead", retry_in=None, at=at,
                                        error=f"{outcome.error} (gave up after {attempts} attempts)"))
                else:
                    results.append(dict(key, status="failed", error=outcome.error, at=at,
                                        retry_in=bgjobs_channels.backoff_seconds(attempts, base, cap)))
    except bgjobs_channels.Interrupted as exc:
        raise exc.cause from None
    finally:
        if own:
            sender.close()
    return results


def drain(claim, record, config, budget_seconds=None, tick=None, clock=time.monotonic,
          stop=None, batch_size=None):
    """A delivery run: batches of claim(limit) -> deliver -> record(results) until
    nothing more is due, the budget is spent, ``stop()`` says so, or a batch leaves rows
    untried.  Returns {claimed, sent, failed, dead, deferred, batches, left, ended}:
    ``left`` rows were claimed but not tried (they stay due); ``ended`` is 'drained',
    'budget', 'stopped' or 'stalled'.  Raises what ``tick`` raised (an interrupt)."""
    config = _config(config)
    budget = run_budget(config) if budget_seconds is None else budget_seconds
    limit = max(_int(batch_size or config.get("batch_size"), bgjobs_settings.default("notification_batch_size", int)), 1)
    started = clock()
    deadline = started + budget
    totals = dict(ZERO, claimed=0, batches=0, left=0, ended="drained")
    down = {}
    sender = bgjobs_channels.Sender(config, tick=tick, clock=clock)
    try:
        while True:
            if stop is not None and stop():
                totals["ended"] = "stopped"
                break
            if deadline - clock() < MIN_SEND_SECONDS:
                totals["ended"] = "budget"
                break
            rows = claim(limit)
            if not rows:
                break
            results = deliver(rows, config, sender=sender, clock=clock, started=started,
                              deadline=deadline, down=down)
            counts = dict(ZERO, **(record(results) if results else {}))
            totals["batches"] += 1
            totals["claimed"] += len(rows)
            for k in ZERO:
                totals[k] += counts.get(k, 0)
            done = sum(counts.get(k, 0) for k in ZERO)
            if done < len(rows):
                totals["left"] += len(rows) - done
                totals["ended"] = "budget" if deadline - clock() < MIN_SEND_SECONDS else "stalled"
                break
            if len(rows) < limit:
                break       # that was all that is due
    except bgjobs_channels.Interrupted as exc:
        raise exc.cause from None
    finally:
        sender.close()
    return totals


def summarize(results):
    """{'sent': n, 'failed': n, 'dead': n, 'deferred': n} of deliver()'s outcomes."""
    counts = dict(ZERO)
    for r in results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return counts
