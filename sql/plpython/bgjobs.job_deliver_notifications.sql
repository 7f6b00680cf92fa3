-- bgjobs.job_deliver_notifications(as_of, tenants): body of `deliver-notifications` (every
-- minute).  One delivery run: batches of notification_batch_size (the seeds' 100) until
-- nothing is due or the run's budget (delivery_run_budget_seconds, 40 s, at most 50 s and
-- 5 s under the job's timeout) is spent.  Each batch claims the rows due by as_of
-- (bgjobs.claim_notifications, FOR UPDATE SKIP LOCKED), sends them with
-- plpython/bgjobs_delivery.py + bgjobs_channels.py, with the application's templates
-- (bgjobs_app_templates.py; the same code `bgjobs worker` runs)
-- and records the outcomes (bgjobs.record_deliveries); what is left waits for the next run.
-- Every send has a total deadline (delivery_timeout_seconds, at most 10 s) and waits in
-- steps of 0.25 s; between steps and between sends a cheap query lets PostgreSQL process
-- interrupts, so pg_cancel_backend, pg_terminate_backend and the job's timeout take
-- effect mid-send (a cancelled run is rolled back: its rows are due again).
-- Backoff counts from each send: outcomes carry their offset from the run's start, which
-- is greatest(as_of, clock_timestamp()) (so run_job() with a future as_of replays a
-- backoff schedule at once).  The config (with secrets) lives only in this function's
-- memory: never in the result.
-- SECURITY DEFINER, owned by bgjobs_deliverer: the secrets it sends with are readable by
-- that role only; bgjobs_runner (pg_cron's user) may run the delivery, never read them.
CREATE OR REPLACE FUNCTION bgjobs.job_deliver_notifications(p_as_of timestamptz, p_tenants uuid[] DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpython3u
VOLATILE
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $py$
#bgjobs:import bgjobs_settings
#bgjobs:import bgjobs_channels
#bgjobs:import bgjobs_delivery
#bgjobs:import bgjobs_app_templates
import json

bgjobs_app_templates.register()       # the seeds' application's templates (hearing reminders, ...)

deliverer = "in-database"
config = json.loads(plpy.execute("SELECT bgjobs.delivery_config()::text AS c")[0]["c"])
if "bgjobs_claim_plan" not in SD:
    SD["bgjobs_claim_plan"] = plpy.prepare(
        "SELECT tenant_id::text, id::text, channel, recipient, template, payload::text AS payload, "
        "attempts, timezone FROM bgjobs.claim_notifications($1, $2, $3)",
        ["timestamptz", "integer", "text"])
    SD["bgjobs_record_plan"] = plpy.prepare(
        "SELECT bgjobs.record_deliveries($1::jsonb, pg_catalog.to_timestamp($2), $3)::text AS r",
        ["text", "float8", "text"])
    SD["bgjobs_start_plan"] = plpy.prepare(
        "SELECT pg_catalog.date_part('epoch', greatest($1, pg_catalog.clock_timestamp())) AS started, "
        "pg_catalog.has_column_privilege('bgjobs.job_registry', 'timeout', 'SELECT') AS can_read_timeout",
        ["timestamptz"])
    SD["bgjobs_timeout_plan"] = plpy.prepare(
        "SELECT pg_catalog.min(pg_catalog.date_part('epoch', r.timeout)) AS timeout FROM bgjobs.job_registry r "
        "WHERE r.function_schema = 'bgjobs' AND r.function_name = 'job_deliver_notifications'")
    SD["bgjobs_tick_plan"] = plpy.prepare("SELECT 1")
start = plpy.execute(SD["bgjobs_start_plan"], [p_as_of])[0]
job_timeout = plpy.execute(SD["bgjobs_timeout_plan"])[0]["timeout"] if start["can_read_timeout"] else None
claim_plan, record_plan, tick_plan = SD["bgjobs_claim_plan"], SD["bgjobs_record_plan"], SD["bgjobs_tick_plan"]


def claim(limit):
    return [dict(r) for r in plpy.execute(claim_plan, [p_as_of, limit, deliverer])]


def record(results):
    return json.loads(plpy.execute(record_plan, [json.dumps(results), start["started"], deliverer])[0]["r"])


def tick():                      # CHECK_FOR_INTERRUPTS: a pending cancel or terminate acts here
    plpy.execute(tick_plan)


totals = bgjobs_delivery.drain(claim, record, config, tick=tick,
                               budget_seconds=bgjobs_delivery.run_budget(config, job_timeout))
return json.dumps({
    "claimed": totals["claimed"],
    "sent": totals["sent"],
    "retrying": totals["failed"],
    "dead": totals["dead"],
    "deferred": totals["deferred"],
    "batches": totals["batches"],
    "leftForNextRun": totals["left"],
    "ended": totals["ended"],
    "recordsUpdated": totals["sent"] + totals["failed"] + totals["dead"],
})
$py$;
COMMENT ON FUNCTION bgjobs.job_deliver_notifications(timestamptz, uuid[]) IS
  'deliver-notifications: batches of due outbox rows (SKIP LOCKED) within a time budget, sent by bgjobs_channels; retries with backoff.';
ALTER FUNCTION bgjobs.job_deliver_notifications(timestamptz, uuid[]) OWNER TO bgjobs_deliverer;
REVOKE ALL ON FUNCTION bgjobs.job_deliver_notifications(timestamptz, uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.job_deliver_notifications(timestamptz, uuid[]) TO bgjobs_runner;
