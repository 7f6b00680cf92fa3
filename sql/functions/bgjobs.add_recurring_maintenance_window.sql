-- bgjobs.add_recurring_maintenance_window(job_name, recurrence, duration, reason, timezone):
-- a recurring maintenance window, e.g. the seeds' monthly one, the first Sunday 02:00-04:00 UTC:
--   SELECT bgjobs.add_recurring_maintenance_window(NULL, '0 2 1-7 * sun', '2 hours', 'monthly maintenance');
-- The start is "minute hour day-of-month month day-of-week" (a single minute and hour) read in
-- the zone, and the day of month AND the day of week must match, unlike cron's OR rule.
-- The fields are read by bgjobs.cron_parse, the schedule math's parser, in pg_cron's grammar.
-- job_name NULL (or '*') covers every job.  A bad job name, recurrence, zone or duration
-- raises one error naming it and changes nothing.  Returns the window's id.
-- SECURITY DEFINER: bgjobs_admin manages windows without write rights on bgjobs' tables.
CREATE OR REPLACE FUNCTION bgjobs.add_recurring_maintenance_window(job_name text, recurrence text, duration interval,
                                                         reason text, timezone text DEFAULT 'UTC')
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  v_job text := nullif(nullif(btrim(add_recurring_maintenance_window.job_name), ''), '*');
  v_f text[] := regexp_split_to_array(btrim(coalesce(add_recurring_maintenance_window.recurrence, '')), '\s+');
  v_p record;
  v_id bigint;
BEGIN
  PERFORM bgjobs.check_maintenance_job(v_job);
  IF cardinality(v_f) <> 5 OR v_f[1] !~ '^\d{1,2}$' OR v_f[2] !~ '^\d{1,2}$'
     OR v_f[1]::integer > 59 OR v_f[2]::integer > 23 THEN
    RAISE EXCEPTION 'maintenance window: recurrence % is not "minute hour day-of-month month day-of-week" with a single minute and hour',
                    quote_literal(add_recurring_maintenance_window.recurrence)
      USING ERRCODE = 'invalid_parameter_value', HINT = 'e.g. ''0 2 1-7 * sun'': the first Sunday of each month at 02:00';
  END IF;
  BEGIN
    v_p := bgjobs.cron_parse(array_to_string(v_f, ' '));
  EXCEPTION WHEN invalid_parameter_value THEN
    RAISE EXCEPTION 'maintenance window: recurrence %: %', quote_literal(add_recurring_maintenance_window.recurrence),
                    regexp_replace(SQLERRM, '^invalid cron expression .*?: ', '')
      USING ERRCODE = 'invalid_parameter_value', HINT = 'e.g. ''0 2 1-7 * sun'': the first Sunday of each month at 02:00';
  END;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_timezone_names z WHERE z.name = add_recurring_maintenance_window.timezone) THEN
    RAISE EXCEPTION 'maintenance window: unknown time zone %', quote_literal(add_recurring_maintenance_window.timezone)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF add_recurring_maintenance_window.duration IS NULL OR add_recurring_maintenance_window.duration <= interval '0'
     OR add_recurring_maintenance_window.duration > interval '7 days' THEN
    RAISE EXCEPTION 'maintenance window: duration must be more than 0 and at most 7 days'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM generate_series(current_date, current_date + 1461, interval '1 day') d(day)
                  WHERE (v_p.doms >> extract(day FROM d.day)::integer) & 1 = 1
                    AND (v_p.months >> extract(month FROM d.day)::integer) & 1 = 1
                    AND (v_p.dows >> extract(dow FROM d.day)::integer) & 1 = 1) THEN
    RAISE EXCEPTION 'maintenance window: recurrence % never falls on a date (its day of month, month and day of week must all match)',
                    quote_literal(add_recurring_maintenance_window.recurrence)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF coalesce(btrim(add_recurring_maintenance_window.reason), '') = '' THEN
    RAISE EXCEPTION 'maintenance window: a reason is required' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  INSERT INTO bgjobs.maintenance_windows (job_name, recurrence, duration, timezone, reason)
  VALUES (v_job, array_to_string(v_f, ' '), add_recurring_maintenance_window.duration, add_recurring_maintenance_window.timezone,
          btrim(add_recurring_maintenance_window.reason))
  RETURNING id INTO v_id;
  RETURN v_id;
END;
$$;
COMMENT ON FUNCTION bgjobs.add_recurring_maintenance_window(text, text, interval, text, text) IS
  'A recurring maintenance window (start by a calendar expression in a zone, plus a duration).';
REVOKE ALL ON FUNCTION bgjobs.add_recurring_maintenance_window(text, text, interval, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.add_recurring_maintenance_window(text, text, interval, text, text) TO bgjobs_admin;
