-- bgjobs.zone_tick(schedule): the pg_cron expression (UTC; pg_cron 1.4 has no zones) that
-- drives a job whose schedule is read in another zone.  Every zone's UTC offset is a
-- whole number of quarter hours, so a schedule whose minute field is a plain list of
-- minutes has each of its slots on a tick that fires every 15 minutes at those minutes'
-- offsets (08:00 Berlin -> '*/15 * * * *'; 23:59 -> '14,29,44,59 * * * *'); any other
-- minute field ticks every minute.  The tick hands each slot to the run once, on the
-- first tick at or after it (bgjobs.due_work); a slot at the end of a DST gap is taken
-- by the first tick after it.
CREATE OR REPLACE FUNCTION bgjobs.zone_tick(p_schedule text)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path TO pg_catalog, pg_temp
AS $$
  SELECT CASE
    WHEN m IS NULL OR m !~ '^[0-9]{1,2}(,[0-9]{1,2})*$' THEN '* * * * *'
    ELSE (SELECT CASE WHEN array_agg(x ORDER BY x) = ARRAY[0, 15, 30, 45] THEN '*/15 * * * *'
                      ELSE array_to_string(array_agg(x ORDER BY x), ',') || ' * * * *' END
            FROM (SELECT DISTINCT (v::integer % 15) + 15 * k AS x
                    FROM unnest(string_to_array(m, ',')) v, generate_series(0, 3) k) s)
  END
  FROM (SELECT CASE lower(btrim(p_schedule))
                 WHEN '@hourly' THEN '0' WHEN '@daily' THEN '0' WHEN '@midnight' THEN '0'
                 WHEN '@weekly' THEN '0' WHEN '@monthly' THEN '0' WHEN '@yearly' THEN '0' WHEN '@annually' THEN '0'
                 ELSE split_part(regexp_replace(btrim(p_schedule), '\s+', ' ', 'g'), ' ', 1) END AS m) f
$$;
COMMENT ON FUNCTION bgjobs.zone_tick(text) IS
  'pg_cron expression (UTC) that drives a zoned schedule: every 15 minutes at its minute offsets, else every minute.';
REVOKE ALL ON FUNCTION bgjobs.zone_tick(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.zone_tick(text) TO bgjobs_admin;
