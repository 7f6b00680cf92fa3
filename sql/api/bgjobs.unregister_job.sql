-- bgjobs.unregister_job(job_name): removes a job and its pg_cron schedule.  Its history
-- (jobs_log, audit_log) stays; its scheduling marks, heartbeat and alert state go, so
-- nothing keeps alerting about a job that no longer exists.  The name is recorded in
-- bgjobs.unregistered_jobs, so that a later install does not register a shipped job again.  When pg_cron lives in another
-- database the pg_cron job is left for `bgjobs jobs remove` (which calls this) to
-- unschedule there, and a NOTICE says so.  An unknown name raises, naming it.
-- SECURITY DEFINER (owned by the installing role, which owns the registry): bgjobs_admin
-- unregisters jobs without write rights on bgjobs' tables.
CREATE OR REPLACE FUNCTION bgjobs.unregister_job(job_name text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  v_job  text := unregister_job.job_name;
  v_cron text;
  v_gone boolean;
BEGIN
  SELECT coalesce(r.cron_jobname, r.job_name) INTO v_cron
    FROM bgjobs.job_registry r WHERE r.job_name = v_job FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unregister_job: unknown job "%"', v_job USING ERRCODE = 'undefined_object';
  END IF;
  v_gone := bgjobs.cron_remove(v_cron);
  IF v_gone IS NULL THEN
    RAISE NOTICE 'unregister_job: pg_cron does not live in database %: `bgjobs jobs remove` unschedules pg_cron job "%" there',
                 current_database(), v_cron;
  END IF;
  DELETE FROM bgjobs.job_registry r WHERE r.job_name = v_job;
  DELETE FROM bgjobs.job_slots s WHERE s.job_name = v_job;
  DELETE FROM bgjobs.tenant_job_runs t WHERE t.job_name = v_job;
  DELETE FROM bgjobs.alert_state a WHERE a.subject = v_job;
  DELETE FROM public.job_heartbeats h WHERE h.job_name = v_job;
  INSERT INTO bgjobs.unregistered_jobs AS u (job_name) VALUES (v_job)
  ON CONFLICT ON CONSTRAINT unregistered_jobs_pkey DO UPDATE SET unregistered_at = now(), by_role = session_user;
  INSERT INTO public.audit_log (action_type, entity_type, details)
  VALUES ('job_unregistered', 'background_job',
          jsonb_build_object('job_name', v_job, 'pg_cron_job', v_cron, 'by', session_user));
END;
$$;
COMMENT ON FUNCTION bgjobs.unregister_job(text) IS
  'Removes a registered job and its pg_cron schedule; its run history stays.';
REVOKE ALL ON FUNCTION bgjobs.unregister_job(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.unregister_job(text) TO bgjobs_admin;
