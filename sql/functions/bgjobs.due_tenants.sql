-- bgjobs.due_tenants(job, as_of): for a tenant-local job, the tenants whose local time of
-- day for the job has been reached at as_of (in the tenant's zone) and that this job has
-- not yet handled for that local date: the first tick at or after the local time handles
-- a tenant, once per local date; a tick missed while the server was down is caught up by
-- the next one.  DST: a local time that does not exist (spring forward) is reached at the
-- first tick after it; on a fall-back day the date is still handled once.
-- A tenant's slot before the job's floor (bgjobs.slots_floor: registration, schedule
-- change, end of a pause) is not caught up.
-- NULL for a job that is not tenant-local; an empty array when no tenant is due.
CREATE OR REPLACE FUNCTION bgjobs.due_tenants(p_job_name text, p_as_of timestamptz)
RETURNS uuid[]
LANGUAGE plpgsql
STABLE
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  v_local_time time;
  v_tenant_local boolean;
  v_due uuid[];
  v_floor timestamptz;
BEGIN
  SELECT r.tenant_local, r.local_time, bgjobs.slots_floor(r.slots_from, r.paused_from, r.paused_until, p_as_of)
    INTO v_tenant_local, v_local_time, v_floor
    FROM bgjobs.job_registry r WHERE r.job_name = p_job_name;
  IF NOT coalesce(v_tenant_local, false) THEN
    RETURN NULL;
  END IF;
  SELECT coalesce(array_agg(t.id ORDER BY t.id), '{}')
    INTO v_due
    FROM public.tenants t
    CROSS JOIN LATERAL (SELECT p_as_of AT TIME ZONE t.timezone AS local_now) l
   WHERE l.local_now >= l.local_now::date + v_local_time
     AND (v_floor = '-infinity' OR (l.local_now::date + v_local_time) AT TIME ZONE t.timezone >= v_floor)
     AND NOT EXISTS (SELECT 1 FROM bgjobs.tenant_job_runs r
                      WHERE r.tenant_id = t.id AND r.job_name = p_job_name
                        AND r.local_date = l.local_now::date);
  RETURN v_due;
END;
$$;
COMMENT ON FUNCTION bgjobs.due_tenants(text, timestamptz) IS
  'Tenants due for a tenant-local job at as_of (local time reached, local date not yet handled).';
REVOKE ALL ON FUNCTION bgjobs.due_tenants(text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.due_tenants(text, timestamptz) TO bgjobs_runner;
