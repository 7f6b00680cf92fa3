-- bgjobs.cron_jobs(): bgjobs' own pg_cron jobs in this database (empty when pg_cron lives in
-- another database of the cluster, or when bgjobs_runner may not see its schema).
-- SECURITY DEFINER, owned by bgjobs_runner: pg_cron's row security shows a role only its
-- own jobs, so this shows the jobs pg_cron runs as bgjobs_runner, and no other
-- application's jobs or commands, to bgjobs_viewer (job_status) and bgjobs_admin.
CREATE OR REPLACE FUNCTION bgjobs.cron_jobs()
RETURNS TABLE (jobid bigint, jobname text, schedule text, command text, database text, username text, active boolean)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = 'cron' AND c.relname = 'job')
     OR NOT has_schema_privilege('cron', 'USAGE') THEN
    RETURN;
  END IF;
  RETURN QUERY EXECUTE
    'SELECT j.jobid, j.jobname::text, j.schedule::text, j.command::text, j.database::text, j.username::text, j.active
       FROM cron.job j
      WHERE j.database = current_database() AND j.username = current_user';
END;
$$;
COMMENT ON FUNCTION bgjobs.cron_jobs() IS 'bgjobs'' own pg_cron jobs in this database (empty if pg_cron lives elsewhere).';
ALTER FUNCTION bgjobs.cron_jobs() OWNER TO bgjobs_runner;
REVOKE ALL ON FUNCTION bgjobs.cron_jobs() FROM PUBLIC;
-- read-only; called by the job_status view, whose readers need EXECUTE
GRANT EXECUTE ON FUNCTION bgjobs.cron_jobs() TO bgjobs_admin, bgjobs_viewer, bgjobs_runner;
