-- bgjobs.cron_remove(cron_jobname): unschedules bgjobs_runner's pg_cron job of that name in
-- this database; true if there was one, NULL when pg_cron does not live in this database.
-- SECURITY DEFINER, owned by bgjobs_runner: pg_cron lets a role unschedule only its own
-- jobs, and bgjobs' jobs belong to bgjobs_runner.
CREATE OR REPLACE FUNCTION bgjobs.cron_remove(p_cron_jobname text)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  v_id bigint;
BEGIN
  IF to_regclass('cron.job') IS NULL OR NOT has_schema_privilege('cron', 'USAGE') THEN
    RETURN NULL;
  END IF;
  EXECUTE 'SELECT j.jobid FROM cron.job j WHERE j.jobname = $1 AND j.username = current_user '
          'AND j.database = current_database()'
     INTO v_id USING p_cron_jobname;
  IF v_id IS NULL THEN
    RETURN false;
  END IF;
  EXECUTE 'SELECT cron.unschedule($1::bigint)' USING v_id;
  RETURN true;
END;
$$;
COMMENT ON FUNCTION bgjobs.cron_remove(text) IS
  'Unschedules bgjobs_runner''s pg_cron job of that name in this database (NULL if pg_cron is elsewhere).';
ALTER FUNCTION bgjobs.cron_remove(text) OWNER TO bgjobs_runner;
REVOKE ALL ON FUNCTION bgjobs.cron_remove(text) FROM PUBLIC;
