-- bgjobs.watch_job(job_name, schedule, timezone, grace): registers or updates a monitor-only
-- job: work that runs elsewhere (an external cron, ETL, another server) and checks in with
-- update_job_heartbeat(job_name, status, metadata).  check-job-health then alerts, through
-- the alert state like any job, on a missed check-in (none since the latest fire of the
-- schedule in its zone that is more than grace ago), a failed check-in, a run started
-- ('started') and never finished, and runs far too long or too short against the job's own
-- history.  grace NULL: half the schedule's interval, at least 1 minute, at most 1 hour.
-- A bad name, expression, zone or grace raises
-- one error naming it and changes nothing.  Returns the job's row as jsonb.
-- Admin only (EXECUTE granted to bgjobs_admin).  SECURITY DEFINER: bgjobs_admin has no
-- write rights on bgjobs.watched_jobs; this checks every value before writing.
CREATE OR REPLACE FUNCTION bgjobs.watch_job(job_name text, schedule text, timezone text DEFAULT 'UTC',
                                            grace interval DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  v_name  text := btrim(coalesce(watch_job.job_name, ''));
  v_sched text := btrim(regexp_replace(coalesce(watch_job.schedule, ''), '\s+', ' ', 'g'));
  v_zone  text := coalesce(nullif(btrim(watch_job.timezone), ''), 'UTC');
  v_grace interval := watch_job.grace;
  v_prev  timestamptz;
  v_next  timestamptz;
  v_row   jsonb;
BEGIN
  IF v_name = '' OR length(v_name) > 200 OR v_name ~ '[[:cntrl:]]' THEN
    RAISE EXCEPTION 'invalid job name "%": 1 to 200 printable characters', coalesce(watch_job.job_name, '')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF v_name LIKE 'pg_cron:%' THEN
    RAISE EXCEPTION 'invalid job name "%": names starting with pg_cron: are the watched pg_cron jobs''', v_name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF EXISTS (SELECT 1 FROM bgjobs.job_registry r WHERE r.job_name = v_name) THEN
    RAISE EXCEPTION 'job "%" is a job bgjobs runs; a monitor-only job needs another name', v_name
      USING ERRCODE = 'duplicate_object';
  END IF;
  IF v_zone = 'tenant' OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_timezone_names z WHERE z.name = v_zone) THEN
    RAISE EXCEPTION 'unknown time zone "%" for job "%"', v_zone, v_name
      USING ERRCODE = 'invalid_parameter_value', HINT = 'use an IANA zone name such as UTC or Europe/Berlin';
  END IF;
  IF v_grace IS NOT NULL AND v_grace < interval '0' THEN
    RAISE EXCEPTION 'invalid grace "%" for job "%": must not be negative', v_grace, v_name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF v_sched !~ '^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|\S+ \S+ \S+ \S+ \S+)$' THEN
    RAISE EXCEPTION 'invalid cron expression "%" for job "%": 5 fields (minute hour day month weekday) or @daily, @hourly, ...',
      coalesce(watch_job.schedule, ''), v_name USING ERRCODE = 'invalid_parameter_value';
  END IF;
  BEGIN
    v_prev := bgjobs.cron_prev(v_sched, v_zone, now());
    v_next := bgjobs.cron_next(v_sched, v_zone, now());
  EXCEPTION WHEN others THEN
    RAISE EXCEPTION 'invalid cron expression "%" for job "%": %', v_sched, v_name,
      regexp_replace(SQLERRM, '^.*invalid cron expression ''[^'']*'': ', '')
      USING ERRCODE = 'invalid_parameter_value';
  END;
  IF v_next IS NULL THEN
    RAISE EXCEPTION 'invalid cron expression "%" for job "%": it never fires', v_sched, v_name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF v_grace IS NULL THEN
    v_grace := CASE WHEN v_prev IS NULL OR v_next IS NULL THEN interval '1 hour'
                    ELSE least(interval '1 hour', greatest(interval '1 minute',
                               date_trunc('second', (v_next - v_prev) / 2))) END;
  END IF;

  INSERT INTO bgjobs.watched_jobs AS w (job_name, schedule, timezone, grace)
  VALUES (v_name, v_sched, v_zone, v_grace)
  ON CONFLICT ON CONSTRAINT watched_jobs_pkey DO UPDATE
     SET schedule = EXCLUDED.schedule, timezone = EXCLUDED.timezone, grace = EXCLUDED.grace, updated_at = now()
  RETURNING jsonb_build_object('job_name', w.job_name, 'schedule', w.schedule, 'timezone', w.timezone,
                               'grace', w.grace::text, 'registered_at', w.registered_at,
                               'next_expected_run', v_next)
    INTO v_row;
  RETURN v_row;
END;
$$;
COMMENT ON FUNCTION bgjobs.watch_job(text, text, text, interval) IS
  'Registers or updates a monitor-only job that checks in with update_job_heartbeat (admin).';
REVOKE ALL ON FUNCTION bgjobs.watch_job(text, text, text, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.watch_job(text, text, text, interval) TO bgjobs_admin;
