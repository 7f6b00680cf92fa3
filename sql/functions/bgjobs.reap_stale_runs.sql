-- bgjobs.reap_stale_runs(p_cancel_overdue): the runtime's janitor.
--  1. A committed 'running' jobs_log row whose backend no longer holds the job's run lock
--     (terminated, crashed, server restarted) is marked failed: never left running forever.
--     It is recorded like any failed run: one audit_log 'background_job_execution' row, the
--     job's heartbeat (status 'failed'), and the failure alert (the jobs_log trigger).
--  2. With p_cancel_overdue, a live run past its job's timeout is cancelled
--     (pg_cancel_backend); the run's own handler then records it failed.
-- SECURITY DEFINER: reaping and cancelling act on other sessions' runs, whoever calls.
CREATE OR REPLACE FUNCTION bgjobs.reap_stale_runs(p_cancel_overdue boolean DEFAULT false)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  v_reaped integer := 0;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM public.jobs_log WHERE status = 'running') AND NOT p_cancel_overdue THEN
    RETURN 0;
  END IF;

  WITH reaped AS (
    UPDATE public.jobs_log j
       SET status = 'failed',
           completed_at = clock_timestamp(),
           error_message = format('run abandoned: its backend (pid %s) ended before the run finished '
                                  '(terminated, crashed or server restarted)', j.pid)
     WHERE j.status = 'running'
       AND j.pid IS DISTINCT FROM pg_backend_pid()
       AND bgjobs.lock_held(j.job_name, j.pid) IS NULL
    RETURNING j.id, j.job_name, j.as_of, j.started_at, j.completed_at, j.error_message
  ),
  audited AS (
    INSERT INTO public.audit_log (action_type, entity_type, entity_id, details)
    SELECT 'background_job_execution', 'background_job', r.id,
           jsonb_build_object('job_name', r.job_name, 'status', 'failed',
                              'execution_time_ms', round(extract(epoch FROM r.completed_at - r.started_at) * 1000)::bigint,
                              'records_updated', 0, 'run_id', r.id, 'as_of', r.as_of,
                              'error', r.error_message, 'reaped', true)
      FROM reaped r
    RETURNING 1
  ),
  beat AS (
    SELECT public.update_job_heartbeat(
             r.job_name, 'failed',
             jsonb_build_object('run_id', r.id, 'last_status', 'failed', 'records_updated', 0, 'as_of', r.as_of,
                                'reaped', true))
      FROM reaped r
  )
  SELECT count(*) + 0 * (SELECT count(*) FROM audited) + 0 * (SELECT count(*) FROM beat)
    INTO v_reaped FROM reaped;

  IF p_cancel_overdue THEN
    -- one pass over the run locks held in this database (not one lookup per job)
    PERFORM pg_cancel_backend(l.pid)
      FROM pg_locks l
      JOIN bgjobs.job_registry r ON hashtext(r.job_name)::oid = l.objid
      JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE l.locktype = 'advisory'
       AND l.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
       AND l.classid = 1650944610::oid
       AND l.objsubid = 2
       AND l.granted
       AND l.pid <> pg_backend_pid()
       AND a.xact_start < clock_timestamp() - r.timeout;
  END IF;
  RETURN v_reaped;
END;
$$;
COMMENT ON FUNCTION bgjobs.reap_stale_runs(boolean) IS
  'Marks abandoned running runs failed; optionally cancels runs past their timeout. Returns runs reaped.';
REVOKE ALL ON FUNCTION bgjobs.reap_stale_runs(boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.reap_stale_runs(boolean) TO bgjobs_runner;
