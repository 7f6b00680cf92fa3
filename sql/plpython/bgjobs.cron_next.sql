-- bgjobs.cron_next(schedule, zone, after), PL/Python version (replaces the SQL fallback
-- where plpython3u is available): the first fire strictly after `after` of a cron expression
-- read in a zone, by plpython/bgjobs_schedule.py through bgjobs.cron_fire_epoch (epoch
-- seconds both ways: the answer does not depend on DateStyle, IntervalStyle or TimeZone).
-- NULL for a NULL schedule or `after`, an infinite `after`, or no fire before year 10000.
CREATE OR REPLACE FUNCTION bgjobs.cron_next(p_schedule text, p_timezone text, p_after timestamptz)
RETURNS timestamptz
LANGUAGE sql
STABLE
SET search_path TO pg_catalog, pg_temp
AS $$
SELECT to_timestamp(bgjobs.cron_fire_epoch(p_schedule, p_timezone, extract(epoch FROM p_after), true))
$$;
REVOKE ALL ON FUNCTION bgjobs.cron_next(text, text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.cron_next(text, text, timestamptz) TO bgjobs_runner;
-- read-only; called by the job_status view, whose readers need EXECUTE
GRANT EXECUTE ON FUNCTION bgjobs.cron_next(text, text, timestamptz) TO bgjobs_admin, bgjobs_viewer;
