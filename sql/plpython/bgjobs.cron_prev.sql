-- bgjobs.cron_prev(schedule, zone, at), PL/Python version (replaces the SQL fallback where
-- plpython3u is available): the latest fire at or before `at` of a cron expression read in
-- a zone, by plpython/bgjobs_schedule.py through bgjobs.cron_fire_epoch (epoch seconds both
-- ways: the answer does not depend on DateStyle, IntervalStyle or TimeZone).  NULL for a
-- NULL schedule or `at`, an infinite `at`, or no fire since year 1.  The missed-run rule
-- calls it once per distinct (schedule, zone, grace), not once per job.
CREATE OR REPLACE FUNCTION bgjobs.cron_prev(p_schedule text, p_timezone text, p_at timestamptz)
RETURNS timestamptz
LANGUAGE sql
STABLE
SET search_path TO pg_catalog, pg_temp
AS $$
SELECT to_timestamp(bgjobs.cron_fire_epoch(p_schedule, p_timezone, extract(epoch FROM p_at), false))
$$;
COMMENT ON FUNCTION bgjobs.cron_prev(text, text, timestamptz) IS
  'Latest fire of a cron expression in a zone at or before p_at (PL/Python, plpython/bgjobs_schedule.py).';
REVOKE ALL ON FUNCTION bgjobs.cron_prev(text, text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.cron_prev(text, text, timestamptz) TO bgjobs_runner;
