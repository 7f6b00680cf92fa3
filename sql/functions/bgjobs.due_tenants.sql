-- bgjobs.due_tenants(job, as_of): for a tenant-local job, the tenants a tick at as_of
-- hands to the job, over all its runs (bgjobs.due_tenant_runs: each tenant's latest slot
-- not yet handled: today's once its local time is reached, else yesterday's).
-- NULL for a job that is not tenant-local; an empty array when no tenant is due.
CREATE OR REPLACE FUNCTION bgjobs.due_tenants(p_job_name text, p_as_of timestamptz)
RETURNS uuid[]
LANGUAGE sql
STABLE
SET search_path TO pg_catalog, pg_temp
AS $$
  SELECT CASE WHEN r.tenant_local THEN
           (SELECT coalesce(array_agg(u ORDER BY u), '{}')
              FROM bgjobs.due_tenant_runs(p_job_name, p_as_of) g CROSS JOIN LATERAL unnest(g.run_tenants) u)
         END
    FROM bgjobs.job_registry r WHERE r.job_name = p_job_name
$$;
COMMENT ON FUNCTION bgjobs.due_tenants(text, timestamptz) IS
  'Tenants due for a tenant-local job at as_of (their latest slot not yet handled), over all the tick''s runs.';
REVOKE ALL ON FUNCTION bgjobs.due_tenants(text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.due_tenants(text, timestamptz) TO bgjobs_runner;
