-- bgjobs.due_tenant_runs(job, as_of): the runs a pg_cron tick at as_of makes for a
-- tenant-local job, each with its as_of and its tenants.  A tenant is due for its latest
-- slot, once per local date (a schedule on some days only, '0 9 * * mon', has its latest
-- slot from bgjobs.cron_prev in the tenant's zone; the rules below are the same):
--  * its local time of day for the job has been reached today (in its zone) and today is
--    not handled yet: in the run as of the tick itself;
--  * it has not been reached yet today (or today is not one of the schedule's days), and
--    the latest slot before today (yesterday's, for a daily job) was never handled (ticks
--    missed while the server was down, across the tenant's midnight): in a run as of that
--    slot, so the 23:59 snapshot of day D is taken for day D even when the server came
--    back after midnight.  Tenants whose slot is the same instant share that run.
-- Only the latest slot is caught up, as for a fixed-zone job; a slot before the job's
-- floor (bgjobs.slots_floor: registration, schedule change, end of a pause) is not.  DST:
-- a local time that does not exist (spring forward) is reached at the first tick after it;
-- on a fall-back day the date is still handled once.  The runs come earliest first, the
-- tick's own last.  None for a job that is not tenant-local.
CREATE OR REPLACE FUNCTION bgjobs.due_tenant_runs(p_job_name text, p_as_of timestamptz)
RETURNS TABLE (run_as_of timestamptz, run_tenants uuid[])
LANGUAGE plpgsql
STABLE
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  v_local_time time;
  v_tenant_local boolean;
  v_floor timestamptz;
  v_schedule text;
  v_daily boolean;
BEGIN
  SELECT r.tenant_local, r.local_time, r.schedule,
         bgjobs.slots_floor(r.slots_from, r.paused_from, r.paused_until, p_as_of)
    INTO v_tenant_local, v_local_time, v_schedule, v_floor
    FROM bgjobs.job_registry r WHERE r.job_name = p_job_name;
  IF NOT coalesce(v_tenant_local, false) THEN
    RETURN;
  END IF;
  v_daily := bgjobs.cron_daily(v_schedule);
  RETURN QUERY
  WITH z AS (             -- on some days only ('0 9 * * mon'): each zone's latest fire, once per zone
    SELECT y.timezone, bgjobs.cron_prev(v_schedule, y.timezone, p_as_of) AS slot
      FROM (SELECT DISTINCT t.timezone FROM public.tenants t) y
     WHERE NOT v_daily
  )
  SELECT s.at, array_agg(t.id ORDER BY t.id)
    FROM public.tenants t
   CROSS JOIN LATERAL (SELECT p_as_of AT TIME ZONE t.timezone AS local_now) l
    LEFT JOIN z ON z.timezone = t.timezone
   -- the local date of the tenant's latest slot (daily: today once its time has come, else yesterday)
   CROSS JOIN LATERAL (SELECT CASE WHEN NOT v_daily THEN (z.slot AT TIME ZONE t.timezone)::date
                                   WHEN l.local_now >= l.local_now::date + v_local_time THEN l.local_now::date
                                   ELSE l.local_now::date - 1 END AS day) d
   CROSS JOIN LATERAL (SELECT CASE WHEN v_daily THEN (d.day + v_local_time) AT TIME ZONE t.timezone
                                   ELSE z.slot END AS slot) x
   CROSS JOIN LATERAL (SELECT CASE WHEN d.day = l.local_now::date THEN p_as_of ELSE x.slot END AS at) s
   WHERE x.slot IS NOT NULL
     AND (v_floor = '-infinity' OR x.slot >= v_floor)
     AND NOT EXISTS (SELECT 1 FROM bgjobs.tenant_job_runs r
                      WHERE r.tenant_id = t.id AND r.job_name = p_job_name AND r.local_date = d.day)
   GROUP BY s.at
   ORDER BY s.at;
END;
$$;
COMMENT ON FUNCTION bgjobs.due_tenant_runs(text, timestamptz) IS
  'The runs a tick at as_of makes for a tenant-local job: each tenant''s latest slot not yet handled, as of the tick (today''s) or of the missed slot itself.';
REVOKE ALL ON FUNCTION bgjobs.due_tenant_runs(text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.due_tenant_runs(text, timestamptz) TO bgjobs_runner;
