-- bgjobs.cron_max_gap(schedule, zone): the longest interval between two fires of a cron
-- expression in a zone: a job's expected interval (its default grace is a quarter of it).
-- This SQL version is the fallback for servers without plpython3u and estimates from the
-- fields (every minute, n minutes, hourly, n hours, daily, weekly, else 31 days); where
-- plpython3u is available bgjobs install replaces it with the PL/Python one
-- (plpython/bgjobs_schedule.py max_gap, DST days included).
CREATE OR REPLACE FUNCTION bgjobs.cron_max_gap(p_schedule text, p_timezone text)
RETURNS interval
LANGUAGE sql
IMMUTABLE
SET search_path TO pg_catalog, pg_temp
AS $$
  SELECT CASE
    WHEN f[1] = '*' AND f[2] = '*' THEN interval '1 minute'
    WHEN f[1] ~ '^\*/[0-9]+$' AND f[2] = '*' THEN make_interval(mins => substr(f[1], 3)::integer)
    WHEN f[2] = '*' THEN interval '1 hour'
    WHEN f[2] ~ '^\*/[0-9]+$' THEN make_interval(hours => substr(f[2], 3)::integer)
    WHEN f[3] = '*' AND f[4] = '*' AND f[5] = '*' THEN interval '1 day'
    WHEN f[3] = '*' AND f[4] = '*' THEN interval '7 days'
    ELSE interval '31 days'
  END
  FROM (SELECT CASE lower(btrim(p_schedule))
                 WHEN '@hourly' THEN ARRAY['0', '*', '*', '*', '*']
                 WHEN '@daily' THEN ARRAY['0', '0', '*', '*', '*']
                 WHEN '@midnight' THEN ARRAY['0', '0', '*', '*', '*']
                 WHEN '@weekly' THEN ARRAY['0', '0', '*', '*', '0']
                 ELSE regexp_split_to_array(btrim(p_schedule), '\s+') END AS f) s
$$;
COMMENT ON FUNCTION bgjobs.cron_max_gap(text, text) IS
  'Longest interval between fires of a cron expression in a zone (SQL estimate; PL/Python where available).';
REVOKE ALL ON FUNCTION bgjobs.cron_max_gap(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.cron_max_gap(text, text) TO bgjobs_admin;
