-- bgjobs.cron_prev(schedule, zone, at): the latest fire at or before `at` of a cron
-- expression read in a zone (bgjobs.cron_fire backward: DST gaps and repeats as Vixie
-- cron).  The zoned tick (bgjobs.due_work) asks it for the slot due; the missed-run rule
-- calls it once per distinct (schedule, zone, grace), not once per job.  NULL for a NULL
-- schedule or `at`, an infinite `at`, or no fire since year 1; an invalid expression or
-- unknown zone raises an error that names it.
CREATE OR REPLACE FUNCTION bgjobs.cron_prev(p_schedule text, p_timezone text, p_at timestamptz)
RETURNS timestamptz
LANGUAGE sql
STABLE
SET search_path TO pg_catalog, pg_temp
AS $$ SELECT bgjobs.cron_fire(p_schedule, p_timezone, p_at, false) $$;
COMMENT ON FUNCTION bgjobs.cron_prev(text, text, timestamptz) IS
  'Latest fire of a cron expression in a zone at or before p_at (bgjobs.cron_fire).';
REVOKE ALL ON FUNCTION bgjobs.cron_prev(text, text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.cron_prev(text, text, timestamptz) TO bgjobs_runner;
-- read-only; called by the job_status view (through next_expected_run), whose readers need EXECUTE
GRANT EXECUTE ON FUNCTION bgjobs.cron_prev(text, text, timestamptz) TO bgjobs_admin, bgjobs_viewer;
