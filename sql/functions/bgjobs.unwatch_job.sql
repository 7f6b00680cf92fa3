-- bgjobs.unwatch_job(job_name): stops watching a monitor-only job.  Its check-ins
-- (bgjobs.watch_runs) and heartbeat stay; its firing alerts end without a resolved notice.
-- Returns false when no such job was watched.  Admin only; SECURITY DEFINER: bgjobs_admin
-- has no write rights on the bgjobs tables it changes.
CREATE OR REPLACE FUNCTION bgjobs.unwatch_job(job_name text)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
BEGIN
  DELETE FROM bgjobs.watched_jobs w WHERE w.job_name = unwatch_job.job_name;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  UPDATE bgjobs.alert_state a SET state = 'ok', resolved_at = now(), since = now(), silenced = false
   WHERE a.subject = unwatch_job.job_name AND a.state = 'firing';
  RETURN true;
END;
$$;
COMMENT ON FUNCTION bgjobs.unwatch_job(text) IS 'Stops watching a monitor-only job (its history stays).';
REVOKE ALL ON FUNCTION bgjobs.unwatch_job(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.unwatch_job(text) TO bgjobs_admin;
