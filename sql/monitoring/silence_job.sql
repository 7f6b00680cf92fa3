-- silence_job(job_name, until, reason): no alerts for a job (or for everything, with
-- job_name NULL or '*') from now until `until`, with a reason; returns the silence's id.
-- job_name may be a registered job, 'system' (the system-wide rules) or the subject of an
-- existing alert.  An alert that fires during the silence is sent when it ends if the state
-- still holds.  Ended early with unsilence_job().
-- SECURITY DEFINER: bgjobs_admin manages silences without rights on bgjobs' tables.
CREATE OR REPLACE FUNCTION public.silence_job(job_name text, until timestamptz, reason text)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  v_job text := nullif(nullif(btrim(silence_job.job_name), ''), '*');
  v_id  bigint;
BEGIN
  IF silence_job.until IS NULL OR silence_job.until <= now() THEN
    RAISE EXCEPTION 'silence_job: until (%) must be in the future', silence_job.until
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF coalesce(btrim(silence_job.reason), '') = '' THEN
    RAISE EXCEPTION 'silence_job: a reason is required' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF v_job IS NOT NULL AND v_job <> 'system'
     AND NOT EXISTS (SELECT 1 FROM bgjobs.job_registry r WHERE r.job_name = v_job)
     AND NOT EXISTS (SELECT 1 FROM bgjobs.alert_state a WHERE a.subject = v_job)
     AND NOT EXISTS (SELECT 1 FROM public.job_heartbeats h WHERE h.job_name = v_job) THEN
    RAISE EXCEPTION 'silence_job: unknown job "%"', v_job
      USING ERRCODE = 'undefined_object',
            HINT = 'use a registered job name, ''system'', or NULL for everything';
  END IF;
  INSERT INTO bgjobs.silences (job_name, starts_at, until, reason, created_by)
  VALUES (v_job, now(), silence_job.until, btrim(silence_job.reason), session_user)
  RETURNING id INTO v_id;
  RETURN v_id;
END;
$$;
COMMENT ON FUNCTION public.silence_job(text, timestamptz, text) IS
  'Silences alerts for a job (NULL or ''*'': all) until a time, with a reason. Returns the silence id.';
REVOKE ALL ON FUNCTION public.silence_job(text, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.silence_job(text, timestamptz, text) TO bgjobs_admin;
