-- bgjobs.cron_fire_epoch(schedule, zone, at, forward): the cron math of
-- plpython/bgjobs_schedule.py (fire_epoch) in epoch seconds.  bgjobs.cron_next and
-- bgjobs.cron_prev call it with extract(epoch ...) and turn its answer back with
-- to_timestamp(), so that no session setting (DateStyle, IntervalStyle, TimeZone) changes
-- what PL/Python reads: a timestamptz argument would reach Python as text in the session's
-- DateStyle.  forward: the first fire strictly after at; else the latest at or before it.
-- NULL when at is NULL or infinite or nothing fires within datetime's range (years 1-9999);
-- an expression or zone the module refuses raises an error that names it.
CREATE OR REPLACE FUNCTION bgjobs.cron_fire_epoch(p_schedule text, p_timezone text, p_at numeric, p_forward boolean)
RETURNS double precision
LANGUAGE plpython3u
STABLE
SET search_path TO pg_catalog, pg_temp
AS $py$
#bgjobs:import bgjobs_schedule
return bgjobs_schedule.fire_epoch(p_schedule, p_timezone, p_at, p_forward is not False)
$py$;
COMMENT ON FUNCTION bgjobs.cron_fire_epoch(text, text, numeric, boolean) IS
  'Next (forward) or previous fire of a cron expression in a zone, in epoch seconds (bgjobs.cron_next and bgjobs.cron_prev call it).';
REVOKE ALL ON FUNCTION bgjobs.cron_fire_epoch(text, text, numeric, boolean) FROM PUBLIC;
-- read-only; reached through bgjobs.cron_next from the job_status view, whose readers need EXECUTE
GRANT EXECUTE ON FUNCTION bgjobs.cron_fire_epoch(text, text, numeric, boolean) TO bgjobs_admin, bgjobs_viewer, bgjobs_runner;
