-- bgjobs.watch_cron_job(jobid) / bgjobs.watch_cron_job(jobname, database): undoes
-- bgjobs.unwatch_cron_job with the same arguments (pg_cron jobs are watched by default).
-- Returns the number of opt-outs removed.  Admin only; SECURITY DEFINER: bgjobs_admin has
-- no rights on bgjobs.cron_watch_optouts.
CREATE OR REPLACE FUNCTION bgjobs.watch_cron_job(p_jobid bigint)
RETURNS integer
LANGUAGE sql
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
  WITH d AS (DELETE FROM bgjobs.cron_watch_optouts o WHERE o.jobid = p_jobid RETURNING 1)
  SELECT count(*)::integer FROM d
$$;
COMMENT ON FUNCTION bgjobs.watch_cron_job(bigint) IS 'Watches a pg_cron job again after bgjobs.unwatch_cron_job (admin).';
REVOKE ALL ON FUNCTION bgjobs.watch_cron_job(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.watch_cron_job(bigint) TO bgjobs_admin;

CREATE OR REPLACE FUNCTION bgjobs.watch_cron_job(p_jobname text, p_database text DEFAULT NULL)
RETURNS integer
LANGUAGE sql
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
  WITH d AS (DELETE FROM bgjobs.cron_watch_optouts o
              WHERE o.jobname = p_jobname AND o.database IS NOT DISTINCT FROM p_database RETURNING 1)
  SELECT count(*)::integer FROM d
$$;
COMMENT ON FUNCTION bgjobs.watch_cron_job(text, text) IS 'Watches pg_cron jobs of a name again after bgjobs.unwatch_cron_job (admin).';
REVOKE ALL ON FUNCTION bgjobs.watch_cron_job(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.watch_cron_job(text, text) TO bgjobs_admin;
