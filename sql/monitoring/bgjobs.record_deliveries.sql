-- bgjobs.record_deliveries(results, as_of, deliverer): records one batch's outcomes, in the
-- transaction that claimed the rows.  results is a jsonb array of
-- {tenant_id, id, status, error, retry_in, at} as bgjobs_delivery.deliver() returns them;
-- as_of is the run's start and `at` the end of that row's send in seconds after it, so a
-- backoff counts from the send, not from the run's start (`at` is capped at an hour):
--   sent      -> status sent, sent_at, attempts + 1
--   failed    -> status failed, attempts + 1, next_attempt_at = as_of + at + retry_in
--                (capped exponential backoff; the caller turns the last attempt into dead)
--   dead      -> status dead, attempts + 1 (permanent failure or attempts exhausted)
--   deferred  -> not attempted (its destination failed earlier in the run):
--                next_attempt_at = as_of + at + retry_in, attempts unchanged
-- last_error holds the sender's redacted message (never a URL path, key or password).
-- Returns {sent, failed, dead, deferred}.
-- SECURITY DEFINER: as for bgjobs.claim_notifications.
CREATE OR REPLACE FUNCTION bgjobs.record_deliveries(p_results jsonb, p_as_of timestamptz, p_deliverer text)
RETURNS jsonb
LANGUAGE sql
VOLATILE
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
  WITH r AS (
    SELECT DISTINCT ON (x.tenant_id, x.id) x.*
      FROM jsonb_to_recordset(coalesce(p_results, '[]'::jsonb))
           AS x(tenant_id uuid, id uuid, status text, error text, retry_in numeric, at numeric)
     WHERE x.status IN ('sent', 'failed', 'dead', 'deferred')
  ),
  u AS (
    UPDATE public.notifications n
       SET status = CASE r.status WHEN 'deferred' THEN n.status ELSE r.status END,
           attempts = n.attempts + CASE r.status WHEN 'deferred' THEN 0 ELSE 1 END,
           sent_at = CASE r.status WHEN 'sent' THEN clock_timestamp() ELSE n.sent_at END,
           next_attempt_at = CASE WHEN r.status IN ('failed', 'deferred')
                                  THEN p_as_of + make_interval(secs => least(greatest(coalesce(r.at, 0), 0), 3600)
                                                                        + greatest(coalesce(r.retry_in, 30), 1))
                                  ELSE n.next_attempt_at END,
           last_error = CASE WHEN r.status = 'sent' THEN left(r.error, 1000)
                             ELSE left(coalesce(r.error, 'unknown error'), 1000) END,
           delivered_by = p_deliverer
      FROM r
     WHERE n.tenant_id = r.tenant_id AND n.id = r.id
       AND n.status IN ('pending', 'failed')
    RETURNING r.status
  )
  SELECT jsonb_build_object(
           'sent', count(*) FILTER (WHERE u.status = 'sent'),
           'failed', count(*) FILTER (WHERE u.status = 'failed'),
           'dead', count(*) FILTER (WHERE u.status = 'dead'),
           'deferred', count(*) FILTER (WHERE u.status = 'deferred'))
    FROM u
$$;
COMMENT ON FUNCTION bgjobs.record_deliveries(jsonb, timestamptz, text) IS
  'Records a delivery batch''s outcomes (sent / failed with backoff / dead / deferred).';
REVOKE ALL ON FUNCTION bgjobs.record_deliveries(jsonb, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.record_deliveries(jsonb, timestamptz, text) TO bgjobs_deliverer;
