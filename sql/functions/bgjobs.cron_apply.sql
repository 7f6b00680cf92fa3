-- bgjobs.cron_apply(job): makes pg_cron's job for a registered job match the registry
-- (created, or its schedule, command and database altered; made inactive when the job is
-- disabled; a job paused in pg_cron by hand stays paused) and returns the pg_cron job name
-- used.  NULL when pg_cron does not live in this database (or the runner may not schedule
-- here): `bgjobs install` and `bgjobs jobs add` then apply it from pg_cron's database.
-- The name is the job's pg_cron name unless that name belongs to bgjobs' install in another
-- database of the cluster (pg_cron keys jobs by name and user): then name@database.
-- SECURITY DEFINER, owned by bgjobs_runner: pg_cron runs a job as the role that scheduled
-- it, and bgjobs' jobs must run as bgjobs_runner (install grants it USAGE on schema cron
-- and EXECUTE on cron.schedule_in_database and cron.alter_job).  It only ever schedules
-- the command CALL bgjobs.run_scheduled_job('<registered job>') in this database.
CREATE OR REPLACE FUNCTION bgjobs.cron_apply(p_job_name text)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  r      bgjobs.job_registry%ROWTYPE;
  v_name text;
  v_id   bigint;
  v_db   text;
  v_cmd  text;
BEGIN
  SELECT * INTO r FROM bgjobs.job_registry j WHERE j.job_name = p_job_name;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown job "%"', p_job_name USING ERRCODE = 'undefined_object';
  END IF;
  IF to_regclass('cron.job') IS NULL OR NOT has_schema_privilege('cron', 'USAGE')
     OR to_regprocedure('cron.schedule_in_database(text,text,text,text,text,boolean)') IS NULL
     OR to_regprocedure('cron.alter_job(bigint,text,text,text,text,boolean)') IS NULL
     OR NOT has_function_privilege('cron.schedule_in_database(text,text,text,text,text,boolean)', 'EXECUTE')
     OR NOT has_function_privilege('cron.alter_job(bigint,text,text,text,text,boolean)', 'EXECUTE') THEN
    RETURN NULL;
  END IF;
  v_name := coalesce(r.cron_jobname, r.job_name);
  EXECUTE 'SELECT j.jobid, j.database::text FROM cron.job j WHERE j.jobname = $1 AND j.username = current_user'
     INTO v_id, v_db USING v_name;
  IF v_id IS NOT NULL AND v_db <> current_database() THEN
    v_name := v_name || '@' || current_database();
    v_id := NULL;
    EXECUTE 'SELECT j.jobid FROM cron.job j WHERE j.jobname = $1 AND j.username = current_user'
       INTO v_id USING v_name;
  END IF;
  v_cmd := format('CALL bgjobs.run_scheduled_job(%L)', r.job_name);
  IF v_id IS NULL THEN
    EXECUTE 'SELECT cron.schedule_in_database($1, $2, $3, $4, NULL, $5)'
      USING v_name, coalesce(r.tick, r.schedule), v_cmd, current_database(), r.enabled;
  ELSE
    EXECUTE 'SELECT cron.alter_job($1, $2, $3, $4, NULL, $5)'
      USING v_id, coalesce(r.tick, r.schedule), v_cmd, current_database(), CASE WHEN r.enabled THEN NULL ELSE false END;
  END IF;
  RETURN v_name;
END;
$$;
COMMENT ON FUNCTION bgjobs.cron_apply(text) IS
  'Creates or alters the pg_cron job of a registered job (as bgjobs_runner); NULL if pg_cron is elsewhere.';
ALTER FUNCTION bgjobs.cron_apply(text) OWNER TO bgjobs_runner;
REVOKE ALL ON FUNCTION bgjobs.cron_apply(text) FROM PUBLIC;
