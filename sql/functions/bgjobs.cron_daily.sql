-- bgjobs.cron_daily(schedule): whether a cron expression fires every day, its day-of-month,
-- month and day-of-week fields all '*' ('0 8 * * *').  A tenant-local job's daily schedule
-- keeps the local-time-of-day rule (bgjobs.due_tenant_runs, next_expected_run); one on some
-- days only ('0 9 * * mon') asks the schedule math per zone.  NULL counts as daily (a
-- registry row from before schedules were stored for tenant-local jobs).
CREATE OR REPLACE FUNCTION bgjobs.cron_daily(p_schedule text)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
SET search_path TO pg_catalog, pg_temp
AS $$ SELECT p_schedule IS NULL OR p_schedule ~ '^\S+\s+\S+\s+\*\s+\*\s+\*\s*$' $$;
COMMENT ON FUNCTION bgjobs.cron_daily(text) IS
  'Whether a cron expression fires every day (its three day fields all *).';
REVOKE ALL ON FUNCTION bgjobs.cron_daily(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.cron_daily(text) TO bgjobs_runner, bgjobs_admin, bgjobs_viewer;
