-- bgjobs.job_paused(paused_from, paused_until, at): whether a job's pause covers the instant
-- at: [paused_from, paused_until), open-ended while paused_until is NULL.  The one place
-- that says what a pause is (the tick, the missed-run rule and next_expected_run ask it).
CREATE OR REPLACE FUNCTION bgjobs.job_paused(p_paused_from timestamptz, p_paused_until timestamptz, p_at timestamptz)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
SET search_path TO pg_catalog, pg_temp
AS $$
  SELECT p_paused_from IS NOT NULL AND p_paused_from <= p_at AND (p_paused_until IS NULL OR p_at < p_paused_until)
$$;
COMMENT ON FUNCTION bgjobs.job_paused(timestamptz, timestamptz, timestamptz) IS
  'Whether a pause [paused_from, paused_until) covers an instant.';
REVOKE ALL ON FUNCTION bgjobs.job_paused(timestamptz, timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.job_paused(timestamptz, timestamptz, timestamptz)
  TO bgjobs_runner, bgjobs_admin, bgjobs_viewer;
