-- bgjobs.lock_held(p_job_name, p_pid): is the job's run lock held (by p_pid, or by anyone
-- when p_pid is NULL)?  The run lock is an advisory lock (1650944610, hashtext(job_name))
-- in this database: held while a run is live, released when its backend ends, however
-- it ends.  That makes it the liveness signal for "Running" and for reaping.
CREATE OR REPLACE FUNCTION bgjobs.lock_held(p_job_name text, p_pid integer DEFAULT NULL)
RETURNS integer
LANGUAGE sql
STABLE
SET search_path TO pg_catalog, pg_temp
AS $$
  SELECT l.pid
  FROM pg_catalog.pg_locks l
  WHERE l.locktype = 'advisory'
    AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
    AND l.classid = 1650944610::oid
    AND l.objid = pg_catalog.hashtext(p_job_name)::oid
    AND l.objsubid = 2
    AND l.granted
    AND (p_pid IS NULL OR l.pid = p_pid)
  LIMIT 1
$$;
COMMENT ON FUNCTION bgjobs.lock_held(text, integer) IS 'PID holding the job''s run lock (optionally: only if it is p_pid), else NULL.';
REVOKE ALL ON FUNCTION bgjobs.lock_held(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.lock_held(text, integer) TO bgjobs_runner;
-- read-only; called by the job_status view, whose readers need EXECUTE
GRANT EXECUTE ON FUNCTION bgjobs.lock_held(text, integer) TO bgjobs_admin, bgjobs_viewer;
