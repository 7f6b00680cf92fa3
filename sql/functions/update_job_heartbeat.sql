-- update_job_heartbeat(p_job_name, p_status, p_metadata): the cron-healthcheck runbook's
-- function, body unchanged.  SECURITY DEFINER so that a job (or a login role granted
-- bgjobs_admin) can beat without write rights on job_heartbeats; search_path pinned to
-- pg_catalog and pg_temp (the runbook's own path would let an operator planted in a
-- writable schema, or pg_temp, shadow what it uses); the table is named with its schema.
CREATE OR REPLACE FUNCTION public.update_job_heartbeat(
  p_job_name text,
  p_status text DEFAULT 'healthy',
  p_metadata jsonb DEFAULT '{}'
)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
BEGIN
  INSERT INTO public.job_heartbeats(job_name, last_run_at, status, metadata, updated_at)
  VALUES (p_job_name, now(), p_status, p_metadata, now())
  ON CONFLICT (job_name)
  DO UPDATE SET
    last_run_at = now(),
    status = EXCLUDED.status,
    metadata = EXCLUDED.metadata,
    updated_at = now();
END;
$$;
COMMENT ON FUNCTION public.update_job_heartbeat(text, text, jsonb) IS
  'Upserts a job''s heartbeat (last_run_at = now()). As in the cron-healthcheck runbook.';
REVOKE ALL ON FUNCTION public.update_job_heartbeat(text, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.update_job_heartbeat(text, text, jsonb) TO bgjobs_runner;
GRANT EXECUTE ON FUNCTION public.update_job_heartbeat(text, text, jsonb) TO bgjobs_admin;
