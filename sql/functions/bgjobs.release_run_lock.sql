-- bgjobs.release_run_lock(job): releases the session-level run lock taken by begin_run
-- for a pg_cron run.
CREATE OR REPLACE FUNCTION bgjobs.release_run_lock(p_job_name text)
RETURNS boolean
LANGUAGE sql
SET search_path TO pg_catalog, pg_temp
AS $$ SELECT pg_catalog.pg_advisory_unlock(1650944610, pg_catalog.hashtext(p_job_name)) $$;
REVOKE ALL ON FUNCTION bgjobs.release_run_lock(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.release_run_lock(text) TO bgjobs_runner;
