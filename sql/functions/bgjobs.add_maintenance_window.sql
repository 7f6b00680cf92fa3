-- bgjobs.add_maintenance_window(job_name, starts_at, ends_at, reason): a one-off window.
-- job_name NULL (or '*') covers every job.  A bad job name or period raises one error naming
-- it and changes nothing.  Returns the window's id.  (Recurring windows:
-- bgjobs.add_recurring_maintenance_window.)
-- SECURITY DEFINER: bgjobs_admin manages windows without write rights on bgjobs' tables.
CREATE OR REPLACE FUNCTION bgjobs.add_maintenance_window(job_name text, starts_at timestamptz,
                                                         ends_at timestamptz, reason text)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  v_job text := nullif(nullif(btrim(add_maintenance_window.job_name), ''), '*');
  v_id bigint;
BEGIN
  PERFORM bgjobs.check_maintenance_job(v_job);
  IF add_maintenance_window.starts_at IS NULL OR add_maintenance_window.ends_at IS NULL
     OR NOT isfinite(add_maintenance_window.starts_at) OR NOT isfinite(add_maintenance_window.ends_at)
     OR add_maintenance_window.ends_at <= add_maintenance_window.starts_at THEN
    RAISE EXCEPTION 'maintenance window: ends_at must be a finite time after starts_at'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF coalesce(btrim(add_maintenance_window.reason), '') = '' THEN
    RAISE EXCEPTION 'maintenance window: a reason is required' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  INSERT INTO bgjobs.maintenance_windows (job_name, starts_at, ends_at, reason)
  VALUES (v_job, add_maintenance_window.starts_at, add_maintenance_window.ends_at, btrim(add_maintenance_window.reason))
  RETURNING id INTO v_id;
  RETURN v_id;
END;
$$;
COMMENT ON FUNCTION bgjobs.add_maintenance_window(text, timestamptz, timestamptz, text) IS
  'A one-off maintenance window for a job (or all, NULL): no runs, no missed-run alerts, alerts held.';
REVOKE ALL ON FUNCTION bgjobs.add_maintenance_window(text, timestamptz, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.add_maintenance_window(text, timestamptz, timestamptz, text) TO bgjobs_admin;
