-- bgjobs.jobs_log_on_success(): trigger on jobs_log.  A successful run of a job whose
-- failure alert is firing resolves it at once (one resolved notice), rather than at the
-- next hourly check-job-health.  Costs one index lookup when nothing is firing.
-- SECURITY DEFINER: the inserting role need not have rights on the alert state or outbox.
CREATE OR REPLACE FUNCTION bgjobs.jobs_log_on_success()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM bgjobs.alert_state a
              WHERE a.subject = NEW.job_name AND a.rule = 'consecutive_failures' AND a.state = 'firing') THEN
    PERFORM bgjobs.apply_run_alert(NEW.job_name, greatest(coalesce(NEW.as_of, NEW.started_at), now()));
  END IF;
  RETURN NULL;
END;
$$;
COMMENT ON FUNCTION bgjobs.jobs_log_on_success() IS
  'Resolves a job''s firing failure alert at its first successful run.';
REVOKE ALL ON FUNCTION bgjobs.jobs_log_on_success() FROM PUBLIC;

CREATE OR REPLACE TRIGGER jobs_log_success_insert
  AFTER INSERT ON public.jobs_log
  FOR EACH ROW WHEN (NEW.status = 'success')
  EXECUTE FUNCTION bgjobs.jobs_log_on_success();

CREATE OR REPLACE TRIGGER jobs_log_success_update
  AFTER UPDATE OF status ON public.jobs_log
  FOR EACH ROW WHEN (NEW.status = 'success' AND OLD.status IS DISTINCT FROM 'success')
  EXECUTE FUNCTION bgjobs.jobs_log_on_success();
