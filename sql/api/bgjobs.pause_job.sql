-- bgjobs.pause_job(job_name, until, reason): pauses a job from now until `until` (NULL:
-- until resume_job).  A paused job does not run (its ticks return at once and record
-- nothing), raises no missed-run alert, and the slots that pass while it is paused are
-- never caught up.  A pause with `until` ends by itself.  Pausing a paused job changes its
-- end and reason.  The pause lives in the registry row and survives re-install.
-- Manual runs (run_job) still run.
-- SECURITY DEFINER (owned by the installing role, which owns the registry): bgjobs_admin
-- pauses jobs without write rights on bgjobs.job_registry.
CREATE OR REPLACE FUNCTION bgjobs.pause_job(job_name text, until timestamptz DEFAULT NULL, reason text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  v_job text := pause_job.job_name;
  r     bgjobs.job_registry%ROWTYPE;
BEGIN
  SELECT * INTO r FROM bgjobs.job_registry j WHERE j.job_name = v_job FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'pause_job: unknown job "%"', v_job USING ERRCODE = 'undefined_object';
  END IF;
  IF pause_job.until IS NOT NULL AND (pause_job.until <= now() OR NOT isfinite(pause_job.until)) THEN
    RAISE EXCEPTION 'pause_job: until (%) must be a finite time in the future (or NULL: until resume_job)', pause_job.until
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  UPDATE bgjobs.job_registry j
     SET paused_from = CASE WHEN bgjobs.job_paused(j.paused_from, j.paused_until, now()) THEN j.paused_from ELSE now() END,
         paused_until = pause_job.until,
         pause_reason = nullif(btrim(pause_job.reason), ''),
         updated_at = now()
   WHERE j.job_name = v_job;
  INSERT INTO public.audit_log (action_type, entity_type, details)
  VALUES ('job_paused', 'background_job',
          jsonb_build_object('job_name', v_job, 'until', pause_job.until, 'reason', pause_job.reason, 'by', session_user));
END;
$$;
COMMENT ON FUNCTION bgjobs.pause_job(text, timestamptz, text) IS
  'Pauses a job until a time (NULL: until resume_job): no runs, no missed-run alerts, no catch-up of the slots it covers.';
REVOKE ALL ON FUNCTION bgjobs.pause_job(text, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.pause_job(text, timestamptz, text) TO bgjobs_admin;
