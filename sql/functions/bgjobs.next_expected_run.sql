-- bgjobs.next_expected_run(job, as_of): when the job is next expected to run.
-- Tenant-local jobs: the earliest tenant's next local slot (now, if one is due and not yet
-- handled).  Others: the next fire of the pg_cron schedule, else last run + interval.
CREATE OR REPLACE FUNCTION bgjobs.next_expected_run(p_job_name text, p_as_of timestamptz DEFAULT now())
RETURNS timestamptz
LANGUAGE plpgsql
STABLE
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  r bgjobs.job_registry%ROWTYPE;
  v_next timestamptz;
BEGIN
  SELECT * INTO r FROM bgjobs.job_registry WHERE job_name = p_job_name;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  IF r.tenant_local THEN
    SELECT min(CASE
                 WHEN h.local_date IS NULL
                   THEN greatest(((l.local_now::date + r.local_time) AT TIME ZONE t.timezone), p_as_of)
                 ELSE ((l.local_now::date + 1 + r.local_time) AT TIME ZONE t.timezone)
               END)
      INTO v_next
      FROM public.tenants t
      CROSS JOIN LATERAL (SELECT p_as_of AT TIME ZONE t.timezone AS local_now) l
      LEFT JOIN bgjobs.tenant_job_runs h
        ON h.tenant_id = t.id AND h.job_name = r.job_name AND h.local_date = l.local_now::date;
    RETURN v_next;
  END IF;
  v_next := bgjobs.cron_next(r.schedule, r.timezone, p_as_of);
  IF v_next IS NULL THEN
    SELECT max(j.started_at) + r.expected_interval INTO v_next
      FROM public.jobs_log j WHERE j.job_name = r.job_name AND j.status <> 'skipped';
  END IF;
  RETURN v_next;
END;
$$;
COMMENT ON FUNCTION bgjobs.next_expected_run(text, timestamptz) IS 'When a job is next expected to run.';
REVOKE ALL ON FUNCTION bgjobs.next_expected_run(text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.next_expected_run(text, timestamptz) TO bgjobs_runner;
-- read-only; called by the job_status view, whose readers need EXECUTE
GRANT EXECUTE ON FUNCTION bgjobs.next_expected_run(text, timestamptz) TO bgjobs_admin, bgjobs_viewer;
