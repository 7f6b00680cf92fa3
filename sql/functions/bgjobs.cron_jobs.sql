-- bgjobs.cron_jobs(): pg_cron's jobs as seen from this database (empty when pg_cron lives
-- in another database of the cluster: its cron schema is not here).
-- SECURITY DEFINER: cron.job shows each user only their own jobs; bgjobs' jobs belong to
-- the installing user, who owns this function.
CREATE OR REPLACE FUNCTION bgjobs.cron_jobs()
RETURNS TABLE (jobid bigint, jobname text, schedule text, command text, database text, username text, active boolean)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
BEGIN
  IF to_regclass('cron.job') IS NULL THEN
    RETURN;
  END IF;
  RETURN QUERY EXECUTE
    'SELECT j.jobid, j.jobname::text, j.schedule::text, j.command::text, j.database::text, j.username::text, j.active FROM cron.job j';
END;
$$;
COMMENT ON FUNCTION bgjobs.cron_jobs() IS 'pg_cron jobs visible from this database (empty if pg_cron lives elsewhere).';
REVOKE ALL ON FUNCTION bgjobs.cron_jobs() FROM PUBLIC;
-- read-only; called by the job_status view, whose readers need EXECUTE
GRANT EXECUTE ON FUNCTION bgjobs.cron_jobs() TO bgjobs_admin, bgjobs_viewer;
