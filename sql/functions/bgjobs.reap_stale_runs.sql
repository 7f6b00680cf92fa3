-- bgjobs.reap_stale_runs(p_cancel_overdue): the runtime's janitor.
--  1. A committed 'running' jobs_log row whose backend no longer holds the job's run lock
--     (terminated, crashed, server restarted) is marked failed: never left running forever.
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

  UPDATE public.jobs_log j
     SET status = 'failed',
         completed_at = clock_timestamp(),
         error_message = format('run abandoned: its backend (pid %s) ended before the run finished '
                                '(terminated, crashed or server restarted)', j.pid)
   WHERE j.status = 'running'
     AND j.pid IS DISTINCT FROM pg_backend_pid()
     AND bgjobs.lock_held(j.job_name, j.pid) IS NULL;
  GET DIAGNOSTICS v_reaped = ROW_COUNT;

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
