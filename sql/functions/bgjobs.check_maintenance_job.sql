-- bgjobs.check_maintenance_job(job): raises, naming it, when job is neither NULL (every
-- job) nor a registered job.
CREATE OR REPLACE FUNCTION bgjobs.check_maintenance_job(p_job_name text)
RETURNS void
LANGUAGE plpgsql
STABLE
SET search_path TO pg_catalog, pg_temp
AS $$
BEGIN
  IF p_job_name IS NOT NULL AND NOT EXISTS (SELECT 1 FROM bgjobs.job_registry r WHERE r.job_name = p_job_name) THEN
    RAISE EXCEPTION 'maintenance window: unknown job "%"', p_job_name
      USING ERRCODE = 'undefined_object',
            HINT = 'registered jobs: ' || coalesce((SELECT string_agg(r.job_name, ', ' ORDER BY r.job_name)
                                                    FROM bgjobs.job_registry r), '(none)');
  END IF;
END;
$$;
COMMENT ON FUNCTION bgjobs.check_maintenance_job(text) IS 'Refuses an unknown job name for a maintenance window.';
REVOKE ALL ON FUNCTION bgjobs.check_maintenance_job(text) FROM PUBLIC;
