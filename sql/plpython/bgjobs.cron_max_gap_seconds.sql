-- bgjobs.cron_max_gap_seconds(schedule, zone): plpython/bgjobs_schedule.py max_gap in
-- seconds (NULL when the expression fires only once); bgjobs.cron_max_gap wraps it.
CREATE OR REPLACE FUNCTION bgjobs.cron_max_gap_seconds(p_schedule text, p_timezone text)
RETURNS double precision
LANGUAGE plpython3u
STABLE
SET search_path TO pg_catalog, pg_temp
AS $py$
#bgjobs:import bgjobs_schedule
gap = bgjobs_schedule.max_gap(p_schedule, p_timezone or "UTC")
return None if gap is None else gap.total_seconds()
$py$;
COMMENT ON FUNCTION bgjobs.cron_max_gap_seconds(text, text) IS
  'Longest interval between fires of a cron expression in a zone, in seconds (bgjobs.cron_max_gap calls it).';
REVOKE ALL ON FUNCTION bgjobs.cron_max_gap_seconds(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.cron_max_gap_seconds(text, text) TO bgjobs_admin;
