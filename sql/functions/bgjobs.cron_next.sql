-- bgjobs.cron_next(schedule, zone, after): the first fire strictly after `after` of a cron
-- expression read in a zone (bgjobs.cron_fire forward: DST gaps and repeats as Vixie cron).
-- NULL for a NULL schedule or `after`, an infinite `after`, or no fire before year 10000;
-- an invalid expression or unknown zone raises an error that names it.
CREATE OR REPLACE FUNCTION bgjobs.cron_next(p_schedule text, p_timezone text, p_after timestamptz)
RETURNS timestamptz
LANGUAGE sql
STABLE
SET search_path TO pg_catalog, pg_temp
AS $$ SELECT bgjobs.cron_fire(p_schedule, p_timezone, p_after, true) $$;
COMMENT ON FUNCTION bgjobs.cron_next(text, text, timestamptz) IS
  'First fire of a cron expression in a zone strictly after p_after (bgjobs.cron_fire).';
REVOKE ALL ON FUNCTION bgjobs.cron_next(text, text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.cron_next(text, text, timestamptz) TO bgjobs_runner;
-- read-only; called by the job_status view, whose readers need EXECUTE
GRANT EXECUTE ON FUNCTION bgjobs.cron_next(text, text, timestamptz) TO bgjobs_admin, bgjobs_viewer;
