-- bgjobs.zone_offset_spread(day): how far the session zone's UTC offset moves around a local
-- day: the largest minus the smallest offset at the local midnights from 3 days before `day`
-- to 3 days after (0 except near an offset change).  The schedule math (bgjobs.cron_fire,
-- bgjobs.cron_max_gap) calls it under its own TimeZone setting, which this function reads;
-- `day` must lie within 0001-01-04 .. 9999-12-28 (the callers check).
CREATE OR REPLACE FUNCTION bgjobs.zone_offset_spread(p_day timestamp)
RETURNS interval
LANGUAGE plpgsql
STABLE
SET search_path TO pg_catalog, pg_temp
AS $$
BEGIN
  RETURN greatest(p_day - interval '3 days' - ((p_day - interval '3 days')::timestamptz AT TIME ZONE 'UTC'),
                  p_day - interval '2 days' - ((p_day - interval '2 days')::timestamptz AT TIME ZONE 'UTC'),
                  p_day - interval '1 day' - ((p_day - interval '1 day')::timestamptz AT TIME ZONE 'UTC'),
                  p_day - (p_day::timestamptz AT TIME ZONE 'UTC'),
                  p_day + interval '1 day' - ((p_day + interval '1 day')::timestamptz AT TIME ZONE 'UTC'),
                  p_day + interval '2 days' - ((p_day + interval '2 days')::timestamptz AT TIME ZONE 'UTC'),
                  p_day + interval '3 days' - ((p_day + interval '3 days')::timestamptz AT TIME ZONE 'UTC'))
       - least(p_day - interval '3 days' - ((p_day - interval '3 days')::timestamptz AT TIME ZONE 'UTC'),
               p_day - interval '2 days' - ((p_day - interval '2 days')::timestamptz AT TIME ZONE 'UTC'),
               p_day - interval '1 day' - ((p_day - interval '1 day')::timestamptz AT TIME ZONE 'UTC'),
               p_day - (p_day::timestamptz AT TIME ZONE 'UTC'),
               p_day + interval '1 day' - ((p_day + interval '1 day')::timestamptz AT TIME ZONE 'UTC'),
               p_day + interval '2 days' - ((p_day + interval '2 days')::timestamptz AT TIME ZONE 'UTC'),
               p_day + interval '3 days' - ((p_day + interval '3 days')::timestamptz AT TIME ZONE 'UTC'));
END;
$$;
COMMENT ON FUNCTION bgjobs.zone_offset_spread(timestamp) IS
  'The session zone''s UTC offset spread over the 7 local midnights around a day (schedule math).';
REVOKE ALL ON FUNCTION bgjobs.zone_offset_spread(timestamp) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.zone_offset_spread(timestamp) TO bgjobs_admin, bgjobs_viewer, bgjobs_runner;
