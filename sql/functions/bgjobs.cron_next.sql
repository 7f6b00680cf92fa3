-- bgjobs.cron_next(schedule, zone, after): the next fire time of a cron expression read in
-- a zone.  This SQL version is the fallback for servers without plpython3u and answers
-- NULL (callers then fall back to last run + expected interval); where plpython3u is
-- available bgjobs install replaces it with the PL/Python one (plpython/bgjobs_schedule.py).
CREATE OR REPLACE FUNCTION bgjobs.cron_next(p_schedule text, p_timezone text, p_after timestamptz)
RETURNS timestamptz
LANGUAGE sql
STABLE
SET search_path TO pg_catalog, pg_temp
AS $$ SELECT NULL::timestamptz $$;
REVOKE ALL ON FUNCTION bgjobs.cron_next(text, text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.cron_next(text, text, timestamptz) TO bgjobs_runner;
-- read-only; called by the job_status view, whose readers need EXECUTE
GRANT EXECUTE ON FUNCTION bgjobs.cron_next(text, text, timestamptz) TO bgjobs_admin, bgjobs_viewer;
