-- bgjobs.claim_notifications(as_of, limit, deliverer): claims up to `limit` outbox rows due
-- by as_of (status pending or failed, next_attempt_at <= as_of), oldest due first, with
-- FOR UPDATE SKIP LOCKED: the caller's transaction holds these rows' locks (and no other)
-- while it sends, so a concurrent deliverer (the in-database job or `bgjobs worker`)
-- skips them, and once the caller commits their new status takes them out of the due set:
-- no row is ever sent by two deliverers.  If the caller dies before committing, the rows
-- are due again (at-least-once).  Both deliverers call this same function, then
-- bgjobs.record_deliveries in the same transaction.
-- PL/pgSQL, not SQL: Citus cannot plan a parameterised SQL-language function's statement
-- that reads a distributed table (tenants).
-- SECURITY DEFINER: `bgjobs worker` runs as a login role granted bgjobs_deliverer, which
-- has no rights on the outbox itself; EXECUTE for bgjobs_deliverer only.
CREATE OR REPLACE FUNCTION bgjobs.claim_notifications(p_as_of timestamptz, p_limit integer, p_deliverer text)
RETURNS TABLE (tenant_id uuid, id uuid, channel text, recipient text, template text, payload jsonb,
               category text, attempts integer, dedupe_key text, created_at timestamptz, timezone text)
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH c AS (
    SELECT n.tenant_id, n.id
      FROM public.notifications n
     WHERE n.status IN ('pending', 'failed')
       AND n.next_attempt_at <= p_as_of
     ORDER BY n.next_attempt_at
     LIMIT greatest(coalesce(p_limit, 100), 1)
       FOR UPDATE SKIP LOCKED
  )
  , claimed AS (
    UPDATE public.notifications n
       SET delivered_by = p_deliverer
      FROM c
     WHERE n.tenant_id = c.tenant_id AND n.id = c.id
    RETURNING n.tenant_id, n.id, n.channel, n.recipient, n.template, n.payload, n.category, n.attempts,
              n.dedupe_key, n.created_at
  )
  -- a join, not a correlated subquery: tenants may be distributed (Citus)
  SELECT cl.tenant_id, cl.id, cl.channel, cl.recipient, cl.template, cl.payload, cl.category, cl.attempts,
         cl.dedupe_key, cl.created_at, coalesce(z.timezone, 'UTC')
    FROM claimed cl
    LEFT JOIN (SELECT t.id, t.timezone FROM public.tenants t) z ON z.id = cl.tenant_id;
END;
$$;
COMMENT ON FUNCTION bgjobs.claim_notifications(timestamptz, integer, text) IS
  'Claims due outbox rows (FOR UPDATE SKIP LOCKED) for one delivery batch; record results with bgjobs.record_deliveries in the same transaction.';
REVOKE ALL ON FUNCTION bgjobs.claim_notifications(timestamptz, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.claim_notifications(timestamptz, integer, text) TO bgjobs_deliverer;
