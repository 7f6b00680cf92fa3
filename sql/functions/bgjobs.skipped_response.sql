-- bgjobs.skipped_response(run_id): the response for a run skipped because the job was
-- already running (the seeds' error shape).
CREATE OR REPLACE FUNCTION bgjobs.skipped_response(p_run_id uuid)
RETURNS jsonb
LANGUAGE sql
STABLE
SET search_path TO pg_catalog, pg_temp
AS $$
  SELECT jsonb_build_object(
    'success', false,
    'skipped', true,
    'job', j.job_name,
    'executedAt', to_char(j.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'runId', j.id,
    'error', j.error_message,
    'errorDetails', 'the same job never runs twice at once; this run was recorded as skipped')
  FROM public.jobs_log j WHERE j.id = p_run_id
$$;
REVOKE ALL ON FUNCTION bgjobs.skipped_response(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.skipped_response(uuid) TO bgjobs_runner;
