-- bgjobs.apply_run_alert(job_name, as_of): the alert state of one job's failure streak,
-- evaluated at once when a run of it fails or succeeds (the jobs_log triggers), so that a
-- failed run alerts within the minute and not once per failed row: the consecutive_failures
-- rule of bgjobs.detect_job_issues for this job only, through the alert state machine
-- (one alert on the state change, an escalation when it turns CRITICAL, reminders after
-- alert_suppression_hours, one resolved notice).  check-job-health evaluates the same
-- rule hourly over every job; both write the same alert_state row, so neither repeats
-- the other.  A job name that is not registered (or disabled) has no alert state.
-- Returns apply_alerts' counts (NULL when nothing was evaluated).
CREATE OR REPLACE FUNCTION bgjobs.apply_run_alert(p_job_name text, p_as_of timestamptz)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  v_findings jsonb;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM bgjobs.job_registry r WHERE r.job_name = p_job_name AND r.enabled) THEN
    RETURN NULL;
  END IF;
  SELECT coalesce(jsonb_agg(to_jsonb(f)), '[]'::jsonb)
    INTO v_findings
    FROM bgjobs.detect_job_issues(p_as_of, p_job_name) f       -- this job's rules only
   WHERE f.rule = 'consecutive_failures';
  RETURN bgjobs.apply_alerts(p_as_of, ARRAY['consecutive_failures'], v_findings, ARRAY[p_job_name]);
END;
$$;
COMMENT ON FUNCTION bgjobs.apply_run_alert(text, timestamptz) IS
  'Applies the alert state of one job''s failure streak at once (called by the jobs_log triggers).';
REVOKE ALL ON FUNCTION bgjobs.apply_run_alert(text, timestamptz) FROM PUBLIC;
-- no grant: only the jobs_log triggers (definer functions) call it
