-- run_job(job_name, as_of): runs one registered job now, as of as_of, in the caller's
-- transaction; audited as a manual trigger.  Returns the seeds' standard response and
-- does not raise when the job fails (the failure is recorded and announced); an unknown
-- job name raises, naming it.  A tenant-local job run this way handles every tenant at
-- its local date of as_of (its per-day schedule marks are left to the pg_cron ticks).
-- SECURITY DEFINER, owned by bgjobs_runner: bgjobs_admin triggers jobs without rights on the
-- tables they change, and the job runs with bgjobs_runner's rights, as a pg_cron run does.
CREATE OR REPLACE FUNCTION public.run_job(job_name text, as_of timestamptz DEFAULT now())
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  v_job   text := run_job.job_name;
  v_as_of timestamptz := coalesce(run_job.as_of, now());
  v_begun record;
  v_run   uuid;
BEGIN
  -- an expression, not a FROM item: no table-function scan and tuplestore per call
  v_begun := bgjobs.begin_run(v_job, v_as_of, 'manual', false);
  v_run := v_begun.run_id;

  INSERT INTO public.audit_log (action_type, entity_type, entity_id, details)
  VALUES ('manual_job_trigger', 'background_job', v_run,
          jsonb_build_object('job_name', v_job, 'timestamp', now(), 'as_of', v_as_of,
                             'triggered_by', session_user, 'run_id', v_run));

  IF v_begun.skipped THEN
    RETURN bgjobs.skipped_response(v_run);
  END IF;
  RETURN bgjobs.execute_run(v_run, v_job, v_as_of, NULL, false);
END;
$$;
COMMENT ON FUNCTION public.run_job(text, timestamptz) IS
  'Runs a registered job now as of as_of; records the run (even when it fails) and returns the standard JSON response.';
ALTER FUNCTION public.run_job(text, timestamptz) OWNER TO bgjobs_runner;
REVOKE ALL ON FUNCTION public.run_job(text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.run_job(text, timestamptz) TO bgjobs_admin;
