-- bgjobs.resume_job(job_name): ends a job's pause now.  The slots that passed while it was
-- paused are not caught up: the next run is the next slot.  Resuming a job that is not
-- paused changes nothing.
-- SECURITY DEFINER (owned by the installing role, which owns the registry): bgjobs_admin
-- resumes jobs without write rights on bgjobs.job_registry.
CREATE OR REPLACE FUNCTION bgjobs.resume_job(job_name text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  v_job text := resume_job.job_name;
  r     bgjobs.job_registry%ROWTYPE;
BEGIN
  SELECT * INTO r FROM bgjobs.job_registry j WHERE j.job_name = v_job FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'resume_job: unknown job "%"', v_job USING ERRCODE = 'undefined_object';
  END IF;
  IF NOT bgjobs.job_paused(r.paused_from, r.paused_until, now()) THEN
    RAISE NOTICE 'resume_job: job "%" is not paused', v_job;
    RETURN;
  END IF;
  -- the pause ends now; slots_floor() keeps the slots it covered from being caught up
  UPDATE bgjobs.job_registry j SET paused_until = now(), updated_at = now() WHERE j.job_name = v_job;
  INSERT INTO public.audit_log (action_type, entity_type, details)
  VALUES ('job_resumed', 'background_job', jsonb_build_object('job_name', v_job, 'by', session_user));
END;
$$;
COMMENT ON FUNCTION bgjobs.resume_job(text) IS 'Ends a job''s pause now; the slots it covered are not caught up.';
REVOKE ALL ON FUNCTION bgjobs.resume_job(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.resume_job(text) TO bgjobs_admin;
