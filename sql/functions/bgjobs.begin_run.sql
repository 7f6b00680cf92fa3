-- bgjobs.begin_run(job, as_of, trigger, session_lock): opens a run.  Reaps abandoned runs,
-- checks the job exists (an unknown name raises, naming it), takes the job's run lock
-- (session-level for the pg_cron procedure, which commits between steps; transaction-level
-- for run_job()), and returns the run's id.  A run that another run of the same job blocks
-- gets its 'skipped' row here.  A session-locked run (pg_cron's) gets its 'running' row
-- here, which the procedure commits before the body starts.  A transaction-locked run
-- (run_job's) gets no row here: no other session could see it before the transaction
-- ends, and by then bgjobs.execute_run has written the run's one row with its outcome.
-- That saves a row version and its index entries per call; in a transaction that runs
-- many jobs, those left-behind 'running' entries made each later reap check slower.
-- Runs with its caller's rights: bgjobs_runner's (pg_cron's user, and run_job()'s owner),
-- so a job body never runs with more than bgjobs_runner holds.
CREATE OR REPLACE FUNCTION bgjobs.begin_run(
  p_job_name text, p_as_of timestamptz, p_trigger text, p_session_lock boolean,
  OUT run_id uuid, OUT skipped boolean)
LANGUAGE plpgsql
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  v_got boolean;
  v_holder integer;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM bgjobs.job_registry r WHERE r.job_name = p_job_name) THEN
    RAISE EXCEPTION 'unknown job "%"', p_job_name
      USING ERRCODE = 'undefined_object',
            HINT = 'registered jobs: ' || coalesce((SELECT string_agg(r.job_name, ', ' ORDER BY r.job_name)
                                                    FROM bgjobs.job_registry r), '(none)');
  END IF;
  IF p_as_of IS NULL OR NOT isfinite(p_as_of) THEN
    RAISE EXCEPTION 'as_of must be a finite timestamp, not %', coalesce(p_as_of::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- A manual run as of the future would change business data for good (tasks flagged
  -- overdue, snapshots dated ahead): refused beyond a day unless the session opts in.
  IF p_trigger = 'manual' AND p_as_of > now() + interval '1 day'
     AND coalesce(current_setting('bgjobs.allow_future_as_of', true), '') NOT IN ('on', 'true', '1') THEN
    RAISE EXCEPTION 'as_of % is more than a day ahead of now: a run as of the future changes business data for good', p_as_of
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'to run it anyway: SET bgjobs.allow_future_as_of = on';
  END IF;
  -- the reaper's own first test, done here: no definer call when no run is open
  IF EXISTS (SELECT 1 FROM public.jobs_log j WHERE j.status = 'running') THEN
    PERFORM bgjobs.reap_stale_runs(false);
  END IF;

  IF p_session_lock THEN
    v_got := pg_try_advisory_lock(1650944610, hashtext(p_job_name));
  ELSE
    v_got := pg_try_advisory_xact_lock(1650944610, hashtext(p_job_name));
  END IF;

  IF v_got AND NOT p_session_lock THEN
    run_id := gen_random_uuid();                    -- its row: bgjobs.execute_run
    skipped := false;
  ELSIF v_got THEN
    INSERT INTO public.jobs_log (job_name, started_at, status, as_of, trigger, pid)
    VALUES (p_job_name, clock_timestamp(), 'running', p_as_of, p_trigger, pg_backend_pid())
    RETURNING id INTO run_id;
    skipped := false;
  ELSE
    v_holder := bgjobs.lock_held(p_job_name);
    INSERT INTO public.jobs_log (job_name, started_at, completed_at, status, as_of, trigger, pid, error_message)
    VALUES (p_job_name, clock_timestamp(), clock_timestamp(), 'skipped', p_as_of, p_trigger, pg_backend_pid(),
            format('skipped: job "%s" is already running (pid %s)', p_job_name, coalesce(v_holder::text, '?')))
    RETURNING id INTO run_id;
    skipped := true;
  END IF;
END;
$$;
COMMENT ON FUNCTION bgjobs.begin_run(text, timestamptz, text, boolean) IS
  'Opens a run: unknown job -> error; lock busy -> skipped row; else its id (and, under a session lock, its running row). Internal.';
REVOKE ALL ON FUNCTION bgjobs.begin_run(text, timestamptz, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.begin_run(text, timestamptz, text, boolean) TO bgjobs_runner;
