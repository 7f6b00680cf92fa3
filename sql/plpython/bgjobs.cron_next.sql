-- bgjobs.cron_next(schedule, zone, after), PL/Python version (replaces the SQL fallback
-- where plpython3u is available): next fire time by croniter, in the zone.
CREATE OR REPLACE FUNCTION bgjobs.cron_next(p_schedule text, p_timezone text, p_after timestamptz)
RETURNS timestamptz
LANGUAGE plpython3u
STABLE
SET search_path TO pg_catalog, pg_temp
AS $py$
#bgjobs:import bgjobs_schedule
return bgjobs_schedule.next_fire(p_schedule, p_timezone, p_after).isoformat()
$py$;
REVOKE ALL ON FUNCTION bgjobs.cron_next(text, text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.cron_next(text, text, timestamptz) TO bgjobs_runner;
-- read-only; called by the job_status view, whose readers need EXECUTE
GRANT EXECUTE ON FUNCTION bgjobs.cron_next(text, text, timestamptz) TO bgjobs_admin, bgjobs_viewer;
