-- bgjobs.watch_checkin(): trigger on job_heartbeats.  A heartbeat of a monitor-only job
-- (bgjobs.watched_jobs) is a check-in, recorded in bgjobs.watch_runs:
--  * p_status 'started' (or 'start', 'running'): opens a run at last_run_at; a run the job
--    left open is marked 'abandoned' (a new start supersedes it, as healthchecks' /start);
--  * 'failed' (or 'fail', 'failure', 'error'): the job's open run, else a new one, ends failed;
--  * anything else ('healthy', 'ok', 'success', ...): the open run, else a new one, succeeds.
-- It fires only when last_run_at is written (update_job_heartbeat always writes it), so the
-- runbook's `UPDATE job_heartbeats SET last_alert_at = ...` records no check-in.  Heartbeats
-- of other jobs cost one primary-key probe.
-- SECURITY DEFINER: whoever may beat (update_job_heartbeat, or a role with UPDATE on
-- job_heartbeats) records the check-in without rights on bgjobs.watch_runs.
CREATE OR REPLACE FUNCTION bgjobs.watch_checkin()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  v_kind text;
  v_open bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM bgjobs.watched_jobs w WHERE w.job_name = NEW.job_name) THEN
    RETURN NULL;
  END IF;
  v_kind := CASE WHEN lower(coalesce(NEW.status, '')) IN ('started', 'start', 'running') THEN 'start'
                 WHEN lower(coalesce(NEW.status, '')) IN ('failed', 'fail', 'failure', 'error') THEN 'failed'
                 ELSE 'success' END;
  IF v_kind = 'start' THEN
    UPDATE bgjobs.watch_runs r SET status = 'abandoned'
     WHERE r.job_name = NEW.job_name AND r.status = 'running';
    INSERT INTO bgjobs.watch_runs (job_name, started_at, status, reported, metadata)
    VALUES (NEW.job_name, NEW.last_run_at, 'running', NEW.status, coalesce(NEW.metadata, '{}'));
    RETURN NULL;
  END IF;
  SELECT r.id INTO v_open FROM bgjobs.watch_runs r
   WHERE r.job_name = NEW.job_name AND r.status = 'running'
   ORDER BY r.started_at DESC LIMIT 1;
  IF v_open IS NOT NULL THEN
    UPDATE bgjobs.watch_runs r
       SET finished_at = NEW.last_run_at, status = v_kind, reported = NEW.status,
           metadata = r.metadata || coalesce(NEW.metadata, '{}')
     WHERE r.id = v_open;
  ELSE
    INSERT INTO bgjobs.watch_runs (job_name, finished_at, status, reported, metadata)
    VALUES (NEW.job_name, NEW.last_run_at, v_kind, NEW.status, coalesce(NEW.metadata, '{}'));
  END IF;
  RETURN NULL;
END;
$$;
COMMENT ON FUNCTION bgjobs.watch_checkin() IS 'Records a monitor-only job''s heartbeat as a check-in (bgjobs.watch_runs).';
REVOKE ALL ON FUNCTION bgjobs.watch_checkin() FROM PUBLIC;

CREATE OR REPLACE TRIGGER job_heartbeats_watch_checkin
  AFTER INSERT OR UPDATE OF last_run_at ON public.job_heartbeats
  FOR EACH ROW
  EXECUTE FUNCTION bgjobs.watch_checkin();
