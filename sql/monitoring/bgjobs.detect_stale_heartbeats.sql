-- bgjobs.detect_stale_heartbeats(as_of): the cron-healthcheck runbook's rule: a heartbeat
-- whose last_run_at is older than 24 hours (the job's stale_after for registered jobs,
-- heartbeat_stale_hours for heartbeats of other jobs) is stale.  Disabled jobs are not
-- judged.  The anti-spam (last_alert_at, 6 hours) is applied by bgjobs.apply_alerts.
CREATE OR REPLACE FUNCTION bgjobs.detect_stale_heartbeats(p_as_of timestamptz)
RETURNS TABLE (subject text, rule text, severity text, display_name text, summary text, details jsonb)
LANGUAGE sql
STABLE
SET search_path TO pg_catalog, pg_temp
AS $$
SELECT h.job_name, 'stale_heartbeat', 'WARNING', h.job_name,
       format('%s has not reported a heartbeat for %s hours (last %s, status %s; stale after %s)',
              h.job_name, round(extract(epoch FROM p_as_of - h.last_run_at) / 3600, 1),
              to_char(h.last_run_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'),
              coalesce(h.status, '-'), s.stale_after),
       jsonb_build_object('last_run_at', h.last_run_at,
                          'hours_since_last_run', round(extract(epoch FROM p_as_of - h.last_run_at) / 3600, 1),
                          'status', h.status, 'stale_after', s.stale_after::text,
                          'last_alert_at', h.last_alert_at)
  FROM public.job_heartbeats h
  LEFT JOIN bgjobs.job_registry r ON r.job_name = h.job_name
 CROSS JOIN LATERAL (
   SELECT coalesce(r.stale_after,
                   make_interval(secs => bgjobs.get_setting('heartbeat_stale_hours')::numeric * 3600)) AS stale_after
 ) s
 WHERE r.enabled IS DISTINCT FROM false
   AND h.last_run_at < p_as_of - s.stale_after
$$;
COMMENT ON FUNCTION bgjobs.detect_stale_heartbeats(timestamptz) IS
  'Stale heartbeats at as_of (runbook: last_run_at older than 24 hours).';
REVOKE ALL ON FUNCTION bgjobs.detect_stale_heartbeats(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.detect_stale_heartbeats(timestamptz) TO bgjobs_runner;
