-- bgjobs.job_deliver_notifications(as_of, tenants): body of `deliver-notifications` (every
-- minute).  One bounded batch per run (notification_batch_size, the seeds' 100): claim the
-- rows due by as_of (bgjobs.claim_notifications, FOR UPDATE SKIP LOCKED), send them with
-- plpython/bgjobs_delivery.py + bgjobs_channels.py (the same code `bgjobs worker` runs),
-- record the outcomes (bgjobs.record_deliveries).  The rest waits for the next run.
-- Every send has a timeout of at most 10 s and the batch a time budget, so the run's
-- transaction, which holds only the claimed rows' locks, stays short.  run_job() with an
-- as_of treats rows due by as_of as due, so tests replay a backoff schedule at once.
-- The config (with secrets) lives only in this function's memory: never in the result.
-- SECURITY DEFINER, owned by bgjobs_deliverer: the secrets it sends with are readable by
-- that role only; bgjobs_runner (pg_cron's user) may run the delivery, never read them.
CREATE OR REPLACE FUNCTION bgjobs.job_deliver_notifications(p_as_of timestamptz, p_tenants uuid[] DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpython3u
VOLATILE
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $py$
#bgjobs:import bgjobs_channels
#bgjobs:import bgjobs_delivery
import json

deliverer = "in-database"
config = json.loads(plpy.execute("SELECT bgjobs.delivery_config()::text AS c")[0]["c"])
if "bgjobs_claim_plan" not in SD:
    SD["bgjobs_claim_plan"] = plpy.prepare(
        "SELECT tenant_id::text, id::text, channel, recipient, template, payload::text AS payload, "
        "attempts, timezone FROM bgjobs.claim_notifications($1, $2, $3)",
        ["timestamptz", "integer", "text"])
    SD["bgjobs_record_plan"] = plpy.prepare(
        "SELECT bgjobs.record_deliveries($1::jsonb, $2, $3)::text AS r",
        ["text", "timestamptz", "text"])
rows = plpy.execute(SD["bgjobs_claim_plan"], [p_as_of, int(config.get("batch_size", 100)), deliverer])
claimed = rows.nrows()
results = bgjobs_delivery.deliver([dict(r) for r in rows], config) if claimed else []
recorded = {"sent": 0, "failed": 0, "dead": 0, "deferred": 0}
if results:
    recorded = json.loads(plpy.execute(SD["bgjobs_record_plan"], [json.dumps(results), p_as_of, deliverer])[0]["r"])
left = claimed - sum(recorded.values())
return json.dumps({
    "claimed": claimed,
    "sent": recorded["sent"],
    "retrying": recorded["failed"],
    "dead": recorded["dead"],
    "deferred": recorded["deferred"],
    "leftForNextRun": left,
    "recordsUpdated": recorded["sent"] + recorded["failed"] + recorded["dead"],
})
$py$;
COMMENT ON FUNCTION bgjobs.job_deliver_notifications(timestamptz, uuid[]) IS
  'deliver-notifications: one batch of due outbox rows (SKIP LOCKED), sent by bgjobs_channels; retries with backoff.';
ALTER FUNCTION bgjobs.job_deliver_notifications(timestamptz, uuid[]) OWNER TO bgjobs_deliverer;
REVOKE ALL ON FUNCTION bgjobs.job_deliver_notifications(timestamptz, uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.job_deliver_notifications(timestamptz, uuid[]) TO bgjobs_runner;
