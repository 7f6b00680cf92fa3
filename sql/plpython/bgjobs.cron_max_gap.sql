-- bgjobs.cron_max_gap(schedule, zone), PL/Python version (replaces the SQL estimate where
-- plpython3u is available): the longest interval between two fires over about 400 days,
-- DST days included (a daily job in Europe/Berlin: 25 hours), by
-- plpython/bgjobs_schedule.py max_gap, the function the installer used to call.  Seconds
-- cross the boundary as a number, so IntervalStyle cannot change what is read.
CREATE OR REPLACE FUNCTION bgjobs.cron_max_gap(p_schedule text, p_timezone text)
RETURNS interval
LANGUAGE sql
STABLE
SET search_path TO pg_catalog, pg_temp
AS $$
  SELECT make_interval(secs => bgjobs.cron_max_gap_seconds(p_schedule, p_timezone))
$$;
COMMENT ON FUNCTION bgjobs.cron_max_gap(text, text) IS
  'Longest interval between fires of a cron expression in a zone (plpython/bgjobs_schedule.py max_gap).';
REVOKE ALL ON FUNCTION bgjobs.cron_max_gap(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.cron_max_gap(text, text) TO bgjobs_admin;
