-- bgjobs.cron_prev(schedule, zone, at), PL/Python version (replaces the SQL fallback where
-- plpython3u is available): latest fire at or before at, by croniter, in the zone.  The
-- missed-run rule calls it once per distinct (schedule, zone, grace), not once per job.
CREATE OR REPLACE FUNCTION bgjobs.cron_prev(p_schedule text, p_timezone text, p_at timestamptz)
RETURNS timestamptz
LANGUAGE plpython3u
STABLE
SET search_path TO pg_catalog, pg_temp
AS $py$
#bgjobs:import bgjobs_schedule
fire = bgjobs_schedule.prev_fire(p_schedule, p_timezone, p_at)
return None if fire is None else fire.isoformat()
$py$;
COMMENT ON FUNCTION bgjobs.cron_prev(text, text, timestamptz) IS
  'Latest fire of a cron expression in a zone at or before p_at (croniter).';
REVOKE ALL ON FUNCTION bgjobs.cron_prev(text, text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.cron_prev(text, text, timestamptz) TO bgjobs_runner;
