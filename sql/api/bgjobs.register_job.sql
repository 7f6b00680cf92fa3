-- bgjobs.register_job(job_name, body, schedule, timezone, timeout, expected_duration, grace,
-- description): registers a job, or updates a registered one, and its pg_cron schedule
-- (CONTRACT §4).  A registered job gets what the shipped jobs get: runs recorded, no
-- overlap, timeout, heartbeat, alerts, missed-run detection, status, metrics, retention.
--  * body: a function, schema-qualified or in schema public, taking (), (as_of timestamptz)
--    or (as_of timestamptz, tenants uuid[]) and returning jsonb (the run's results; a
--    recordsUpdated key fills jobs_log.records_updated), an integer (records updated) or
--    void.  It runs as bgjobs_runner: the DBA grants that role what the body needs.  The
--    registering login role must itself be allowed to execute it.
--  * schedule: a 5-field cron expression (pg_cron 1.4's grammar) read in timezone: an IANA
--    zone (UTC by default) or 'tenant', each tenant's own zone (then a single minute and
--    hour: 'M H * * *' daily, '0 9 * * mon' on Mondays, '0 2 1 * *' monthly).
--    A UTC job is pg_cron's own schedule; any other zone is driven by a frequent tick
--    (bgjobs.zone_tick) that handles each slot once, on the first tick at or after it.
--  * timeout (> 0), expected_duration (> 0; NULL: the job's own p95), grace (>= 0; NULL: a
--    quarter of the longest interval between fires, 5 minutes to 1 hour).
-- Anything wrong raises one error that names it, and nothing changes.  Re-registering an
-- existing job keeps its history, pause, pg_cron job and enabled flag; a changed schedule
-- or zone counts slots from now (the old schedule's slots are not caught up).
-- The pg_cron job is created or altered at once when pg_cron lives in this database;
-- otherwise (or with SET bgjobs.defer_schedule = on, as `bgjobs install` does) the wanted
-- schedule is recorded and `bgjobs install` / `bgjobs jobs add` apply it in pg_cron's
-- database.  Returns the registered job as JSON.
-- SECURITY DEFINER (owned by the installing role, which owns the registry): bgjobs_admin
-- registers jobs without write rights on bgjobs.job_registry; every input is checked here,
-- the body by catalog lookup (no dynamic SQL), and the body only ever runs as bgjobs_runner.
CREATE OR REPLACE FUNCTION bgjobs.register_job(
  job_name text, body text, schedule text, timezone text DEFAULT 'UTC',
  timeout interval DEFAULT '30 minutes', expected_duration interval DEFAULT NULL,
  grace interval DEFAULT NULL, description text DEFAULT '')
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  v_job      text := register_job.job_name;
  v_sched    text := btrim(regexp_replace(coalesce(register_job.schedule, ''), '\s+', ' ', 'g'));
  v_tz       text := coalesce(register_job.timezone, 'UTC');
  v_parts    text[];
  v_schema   text;
  v_fname    text;
  v_fn       oid;
  v_args     smallint;
  v_returns  text;
  v_found    text;
  v_err      text;
  v_m        text[];
  v_tenant   boolean := false;
  v_local    time;
  v_tick     text;
  v_interval interval;
  v_grace    interval;
  v_old      bgjobs.job_registry%ROWTYPE;
  v_new      boolean;
  v_resched  boolean;
  v_changed  boolean;
  v_cron     text;
BEGIN
  -- the name
  IF v_job IS NULL OR v_job !~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$' THEN
    RAISE EXCEPTION 'register_job: job name % is not valid: 1 to 63 letters, digits, ".", "_" or "-", starting with a letter or digit',
                    coalesce(quote_literal(v_job), 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- a monitor-only job (bgjobs.watch_job) keeps its name
  IF EXISTS (SELECT 1 FROM bgjobs.watched_jobs w WHERE w.job_name = v_job) THEN
    RAISE EXCEPTION 'register_job: job name % is a monitor-only job (bgjobs.unwatch_job it first)', quote_literal(v_job)
      USING ERRCODE = 'duplicate_object';
  END IF;

  -- the body: a function of one of the three forms, returning jsonb, an integer or void
  BEGIN
    v_parts := parse_ident(coalesce(register_job.body, ''));
  EXCEPTION WHEN OTHERS THEN
    v_parts := NULL;
  END;
  IF v_parts IS NULL OR cardinality(v_parts) NOT IN (1, 2) THEN
    RAISE EXCEPTION 'register_job: body % is not a function name (function or schema.function)',
                    coalesce(quote_literal(register_job.body), 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  v_schema := CASE WHEN cardinality(v_parts) = 2 THEN v_parts[1] ELSE 'public' END;
  v_fname := v_parts[cardinality(v_parts)];
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
                  WHERE n.nspname = v_schema AND p.proname = v_fname) THEN
    RAISE EXCEPTION 'register_job: body function %.% does not exist', quote_ident(v_schema), quote_ident(v_fname)
      USING ERRCODE = 'undefined_function';
  END IF;
  SELECT p.oid, p.pronargs,
         CASE WHEN p.prorettype = 'jsonb'::regtype THEN 'jsonb'
              WHEN p.prorettype IN ('integer'::regtype, 'bigint'::regtype, 'smallint'::regtype) THEN 'integer'
              WHEN p.prorettype = 'void'::regtype THEN 'void' END
    INTO v_fn, v_args, v_returns
    FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname = v_schema AND p.proname = v_fname AND p.prokind = 'f' AND NOT p.proretset
     AND pg_catalog.oidvectortypes(p.proargtypes)
         IN ('', 'timestamp with time zone', 'timestamp with time zone, uuid[]')
   ORDER BY (p.prorettype IN ('jsonb'::regtype, 'integer'::regtype, 'bigint'::regtype, 'smallint'::regtype,
                              'void'::regtype)) DESC, p.pronargs DESC
   LIMIT 1;
  IF v_fn IS NULL THEN
    SELECT string_agg(p.oid::regprocedure::text, ', ' ORDER BY p.oid) INTO v_found
      FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = v_schema AND p.proname = v_fname;
    RAISE EXCEPTION 'register_job: body %.% must be a function taking (), (as_of timestamptz) or (as_of timestamptz, tenants uuid[]); found %',
                    quote_ident(v_schema), quote_ident(v_fname), v_found
      USING ERRCODE = 'invalid_function_definition';
  END IF;
  IF v_returns IS NULL THEN
    RAISE EXCEPTION 'register_job: body % must return jsonb, integer or void, not %',
                    v_fn::regprocedure, (SELECT format_type(p.prorettype, NULL) FROM pg_catalog.pg_proc p WHERE p.oid = v_fn)
      USING ERRCODE = 'invalid_function_definition';
  END IF;
  IF NOT has_function_privilege(session_user, v_fn, 'EXECUTE') THEN
    RAISE EXCEPTION 'register_job: role % may not execute body %', session_user, v_fn::regprocedure
      USING ERRCODE = 'insufficient_privilege';
  END IF;

  -- the schedule and its zone
  v_err := bgjobs.cron_check(v_sched, v_tz);
  IF v_err IS NOT NULL THEN
    RAISE EXCEPTION 'register_job: schedule % in zone %: %', quote_literal(v_sched), quote_literal(v_tz), v_err
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF v_tz = 'tenant' THEN
    -- one local time of day; the day fields as cron reads them ('0 9 * * mon': Mondays)
    v_m := regexp_match(v_sched, '^([0-9]{1,2}) ([0-9]{1,2}) \S+ \S+ \S+$');
    IF v_m IS NULL THEN
      RAISE EXCEPTION 'register_job: timezone tenant takes ''M H day-of-month month day-of-week'' with a single minute and hour (the local time in each tenant''s zone), not %',
                      quote_literal(v_sched)
        USING ERRCODE = 'invalid_parameter_value', HINT = 'e.g. ''0 8 * * *'' daily at 08:00, ''0 9 * * mon'' Mondays at 09:00';
    END IF;
    v_tenant := true;
    v_local := make_time(v_m[2]::integer, v_m[1]::integer, 0);
    v_tick := bgjobs.zone_tick(v_sched);
    v_interval := coalesce(bgjobs.cron_max_gap(v_sched, 'UTC'), interval '1 day');
  ELSE
    IF v_tz <> 'UTC' THEN
      v_tick := bgjobs.zone_tick(v_sched);
    END IF;
    v_interval := coalesce(bgjobs.cron_max_gap(v_sched, v_tz), interval '1 day');
  END IF;

  -- the expectations
  IF register_job.timeout IS NULL OR register_job.timeout <= interval '0' THEN
    RAISE EXCEPTION 'register_job: timeout must be positive, not %', coalesce(register_job.timeout::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF register_job.expected_duration <= interval '0' THEN
    RAISE EXCEPTION 'register_job: expected_duration must be positive (or NULL), not %', register_job.expected_duration
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF register_job.grace < interval '0' THEN
    RAISE EXCEPTION 'register_job: grace must not be negative, not %', register_job.grace
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  v_grace := coalesce(register_job.grace,
                      least(interval '1 hour', greatest(interval '5 minutes', v_interval / 4)));

  -- the row: inserted, or updated only where it differs
  SELECT * INTO v_old FROM bgjobs.job_registry r WHERE r.job_name = v_job FOR UPDATE;
  v_new := NOT FOUND;
  v_resched := v_new OR (v_old.schedule, v_old.timezone, v_old.tick)
                        IS DISTINCT FROM (v_sched, CASE WHEN v_tenant THEN 'tenant' ELSE v_tz END, v_tick);
  IF v_new THEN
    INSERT INTO bgjobs.job_registry AS r
      (job_name, description, schedule, tick, function_schema, function_name, body_args, body_returns,
       tenant_local, local_time, timezone, expected_interval, expected_duration, timeout, grace,
       slots_from, registered_by)
    VALUES (v_job, coalesce(register_job.description, ''), v_sched, v_tick, v_schema, v_fname, v_args, v_returns,
            v_tenant, v_local, CASE WHEN v_tenant THEN 'tenant' ELSE v_tz END, v_interval,
            register_job.expected_duration, register_job.timeout, v_grace, now(), session_user);
    v_changed := true;
    DELETE FROM bgjobs.unregistered_jobs u WHERE u.job_name = v_job;   -- registered again
  ELSE
    UPDATE bgjobs.job_registry AS r
       SET description = coalesce(register_job.description, ''), schedule = v_sched, tick = v_tick,
           function_schema = v_schema, function_name = v_fname, body_args = v_args, body_returns = v_returns,
           tenant_local = v_tenant, local_time = v_local,
           timezone = CASE WHEN v_tenant THEN 'tenant' ELSE v_tz END,
           expected_interval = v_interval, expected_duration = register_job.expected_duration,
           timeout = register_job.timeout, grace = v_grace,
           slots_from = CASE WHEN v_resched THEN now() ELSE r.slots_from END,
           updated_at = now()
     WHERE r.job_name = v_job
       AND (r.description, r.schedule, r.tick, r.function_schema, r.function_name, r.body_args, r.body_returns,
            r.tenant_local, r.local_time, r.timezone, r.expected_interval, r.expected_duration, r.timeout, r.grace)
           IS DISTINCT FROM
           (coalesce(register_job.description, ''), v_sched, v_tick, v_schema, v_fname, v_args, v_returns,
            v_tenant, v_local, CASE WHEN v_tenant THEN 'tenant' ELSE v_tz END, v_interval,
            register_job.expected_duration, register_job.timeout, v_grace);
    v_changed := FOUND;
  END IF;

  IF NOT has_function_privilege('bgjobs_runner', v_fn, 'EXECUTE') THEN
    RAISE WARNING 'register_job: bgjobs_runner, which runs job "%", may not execute %: its runs will fail until you GRANT EXECUTE ON FUNCTION % TO bgjobs_runner',
                  v_job, v_fn::regprocedure, v_fn::regprocedure;
  END IF;

  -- pg_cron
  IF coalesce(current_setting('bgjobs.defer_schedule', true), '') NOT IN ('on', 'true', '1') THEN
    v_cron := bgjobs.cron_apply(v_job);
    IF v_cron IS NULL THEN
      RAISE NOTICE 'register_job: pg_cron does not live in database % (or bgjobs_runner may not schedule here): run `bgjobs jobs add` or `bgjobs install` to apply the schedule of "%"',
                   current_database(), v_job;
    ELSE
      UPDATE bgjobs.job_registry r SET cron_jobname = v_cron
       WHERE r.job_name = v_job AND r.cron_jobname IS DISTINCT FROM v_cron;
    END IF;
  END IF;

  IF v_changed THEN
    INSERT INTO public.audit_log (action_type, entity_type, details)
    VALUES (CASE WHEN v_new THEN 'job_registered' ELSE 'job_updated' END, 'background_job',
            jsonb_build_object('job_name', v_job, 'body', v_fn::regprocedure::text, 'schedule', v_sched,
                               'timezone', CASE WHEN v_tenant THEN 'tenant' ELSE v_tz END, 'by', session_user));
  END IF;

  RETURN (SELECT jsonb_build_object('job', r.job_name, 'body', v_fn::regprocedure::text, 'schedule', r.schedule,
                                    'timezone', r.timezone, 'tick', coalesce(r.tick, r.schedule),
                                    'pg_cron_job', coalesce(r.cron_jobname, r.job_name),
                                    'scheduled', v_cron IS NOT NULL, 'created', v_new, 'changed', v_changed,
                                    'expected_interval', r.expected_interval::text, 'grace', r.grace::text)
            FROM bgjobs.job_registry r WHERE r.job_name = v_job);
END;
$$;
COMMENT ON FUNCTION bgjobs.register_job(text, text, text, text, interval, interval, interval, text) IS
  'Registers or updates a job (body function, cron schedule in a zone or per tenant, expectations) and its pg_cron schedule.';
REVOKE ALL ON FUNCTION bgjobs.register_job(text, text, text, text, interval, interval, interval, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.register_job(text, text, text, text, interval, interval, interval, text) TO bgjobs_admin;
