-- bgjobs.jobs_log_on_failure(): trigger on jobs_log.  Every failed run, whether recorded by
-- the runtime, reaped, or inserted by hand (the seeds' Test 1), is announced at once:
-- pg_notify on channel job_failure with {job_name, error_message, alert_time} (as in the
-- monitoring guide), for every failed row.  The operational alert (Slack and email) goes
-- through the alert state machine (bgjobs.apply_run_alert): the first failure of a streak
-- alerts at once in the seeds' "Job Failed" format, later failures of the same streak do
-- not (until it turns CRITICAL, or alert_suppression_hours pass), and the first success
-- resolves it.  A silenced job queues nothing; its alert is sent when the silence ends if
-- it is still failing.
-- SECURITY DEFINER: the inserting role need not have rights on the alert state or outbox.
CREATE OR REPLACE FUNCTION bgjobs.jobs_log_on_failure()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM pg_notify('job_failure', jsonb_build_object(
    'job_name', NEW.job_name,
    'error_message', left(NEW.error_message, 2000),
    'alert_time', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
    'run_id', NEW.id)::text);
  PERFORM bgjobs.apply_run_alert(NEW.job_name, greatest(coalesce(NEW.as_of, NEW.started_at), now()));
  RETURN NULL;
END;
$$;
COMMENT ON FUNCTION bgjobs.jobs_log_on_failure() IS
  'Announces a failed jobs_log row: NOTIFY job_failure, and the job''s failure alert state applied at once.';
REVOKE ALL ON FUNCTION bgjobs.jobs_log_on_failure() FROM PUBLIC;

CREATE OR REPLACE TRIGGER jobs_log_failed_insert
  AFTER INSERT ON public.jobs_log
  FOR EACH ROW WHEN (NEW.status = 'failed')
  EXECUTE FUNCTION bgjobs.jobs_log_on_failure();

CREATE OR REPLACE TRIGGER jobs_log_failed_update
  AFTER UPDATE OF status ON public.jobs_log
  FOR EACH ROW WHEN (NEW.status = 'failed' AND OLD.status IS DISTINCT FROM 'failed')
  EXECUTE FUNCTION bgjobs.jobs_log_on_failure();
