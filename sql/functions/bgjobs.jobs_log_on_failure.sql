-- bgjobs.jobs_log_on_failure(): trigger on jobs_log.  Every failed run, whether recorded by
-- the runtime, reaped, or inserted by hand (the seeds' Test 1), is announced at once:
-- pg_notify on channel job_failure with {job_name, error_message, alert_time} (as in the
-- monitoring guide), and a job_failure alert queued for Slack and email unless the job (or
-- everything) is silenced: then check-job-health's failure rule sends it when the silence
-- ends, if the job is still failing.
-- SECURITY DEFINER: the inserting role need not have rights on the outbox.
CREATE OR REPLACE FUNCTION bgjobs.jobs_log_on_failure()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  v_payload jsonb := jsonb_build_object(
    'job_name', NEW.job_name,
    'error_message', left(NEW.error_message, 2000),
    'alert_time', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
    'run_id', NEW.id);
BEGIN
  PERFORM pg_notify('job_failure', v_payload::text);
  IF NOT EXISTS (SELECT 1 FROM bgjobs.silences s
                  WHERE (s.job_name IS NULL OR s.job_name = NEW.job_name)
                    AND s.starts_at <= now() AND s.until > now())
     AND bgjobs.maintenance_until(NEW.job_name, now()) IS NULL THEN
    PERFORM bgjobs.enqueue_alert('job_failure', v_payload, 'job_failure:' || NEW.id::text);
  END IF;
  RETURN NULL;
END;
$$;
COMMENT ON FUNCTION bgjobs.jobs_log_on_failure() IS 'Announces a failed jobs_log row: NOTIFY job_failure and a queued alert.';
REVOKE ALL ON FUNCTION bgjobs.jobs_log_on_failure() FROM PUBLIC;

CREATE OR REPLACE TRIGGER jobs_log_failed_insert
  AFTER INSERT ON public.jobs_log
  FOR EACH ROW WHEN (NEW.status = 'failed')
  EXECUTE FUNCTION bgjobs.jobs_log_on_failure();

CREATE OR REPLACE TRIGGER jobs_log_failed_update
  AFTER UPDATE OF status ON public.jobs_log
  FOR EACH ROW WHEN (NEW.status = 'failed' AND OLD.status IS DISTINCT FROM 'failed')
  EXECUTE FUNCTION bgjobs.jobs_log_on_failure();
