-- bgjobs.cron_prev(schedule, zone, at): the latest fire time of a cron expression read in a
-- zone, at or before at.  This SQL version is the fallback for servers without plpython3u
-- and answers NULL (the missed-run rule then uses last run + expected interval + grace);
-- where plpython3u is available bgjobs install replaces it with the PL/Python one
-- (sql/plpython/bgjobs.cron_prev.sql, plpython/bgjobs_schedule.py); it sits beside bgjobs.cron_next.
CREATE OR REPLACE FUNCTION bgjobs.cron_prev(p_schedule text, p_timezone text, p_at timestamptz)
RETURNS timestamptz
LANGUAGE sql
STABLE
SET search_path TO pg_catalog, pg_temp
AS $$ SELECT NULL::timestamptz $$;
COMMENT ON FUNCTION bgjobs.cron_prev(text, text, timestamptz) IS
  'Latest fire of a cron expression in a zone at or before p_at (NULL without plpython3u).';
REVOKE ALL ON FUNCTION bgjobs.cron_prev(text, text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.cron_prev(text, text, timestamptz) TO bgjobs_runner;
