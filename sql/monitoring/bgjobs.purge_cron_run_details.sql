-- bgjobs.purge_cron_run_details(before): deletes cron.job_run_details rows that started
-- before `before`, when pg_cron's schema is in this database.  Only the runs of
-- bgjobs_runner (the role pg_cron runs bgjobs' jobs as) are deleted, whoever calls: other
-- applications' pg_cron history is theirs.  With the setting retention_cron_all_users
-- (default false) the DBA opts in to deleting every role's old runs (pg_cron never purges
-- its history itself, pg_cron #416).  Returns the rows deleted (NULL without pg_cron here).
-- SECURITY DEFINER: pg_cron's row security shows a role only its own runs, so the opt-in
-- can be honoured only with the installer's rights; the setting (admin-only) decides, not
-- the caller.
CREATE OR REPLACE FUNCTION bgjobs.purge_cron_run_details(p_before timestamptz)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  v_all boolean := bgjobs.get_setting('retention_cron_all_users')::boolean;
  v_n   integer;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = 'cron' AND c.relname = 'job_run_details'
                    AND has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'DELETE')) THEN
    RETURN NULL;
  END IF;
  EXECUTE format('DELETE FROM %I.%I d WHERE d.start_time < $1 AND ($2 OR d.username = $3)',
                 'cron', 'job_run_details')
    USING p_before, v_all, 'bgjobs_runner';
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_n;
END;
$$;
COMMENT ON FUNCTION bgjobs.purge_cron_run_details(timestamptz) IS
  'Retention of cron.job_run_details: bgjobs_runner''s runs only, every role''s with retention_cron_all_users.';
REVOKE ALL ON FUNCTION bgjobs.purge_cron_run_details(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.purge_cron_run_details(timestamptz) TO bgjobs_runner;
