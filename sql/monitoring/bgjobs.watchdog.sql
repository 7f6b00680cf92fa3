-- bgjobs.watchdog(as_of): what a watcher outside pg_cron checks (`bgjobs check`, and
-- `bgjobs worker` at every poll), one row per problem:
--  * scheduler / launcher: pg_cron's launcher is gone (CRITICAL), or cannot be seen
--    (WARNING), or pg_cron is not preloaded (CRITICAL);
--  * <job> / ticks: bgjobs' own every-minute deliver-notifications or hourly
--    check-job-health has not started a run for 2 of its intervals (+ 30 s), counted from
--    its last run of any outcome (a 'skipped' run is a tick too).  Judged only for jobs
--    pg_cron runs: active in pg_cron here, or (pg_cron in another database) with at least
--    one run pg_cron started.  CRITICAL;
--  * <subject> / alert: an alert firing at CRITICAL and not silenced (the scheduler's own
--    alert aside: its cause is listed above).
-- SECURITY DEFINER: the watcher's login (bgjobs_viewer, bgjobs_admin or bgjobs_deliverer)
-- reads bgjobs' runs and alert state without rights on the bgjobs schema; it returns
-- problem lines only.
CREATE OR REPLACE FUNCTION bgjobs.watchdog(p_as_of timestamptz DEFAULT now())
RETURNS TABLE (severity text, subject text, kind text, problem text)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  v_state  text;
  v_detail text;
  v_cron_here boolean := EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n WHERE n.nspname = 'cron');
BEGIN
  SELECT s.state, s.detail INTO v_state, v_detail FROM bgjobs.scheduler_state() s;
  IF v_state IN ('down', 'absent') THEN
    RETURN QUERY SELECT 'CRITICAL'::text, 'scheduler'::text, 'launcher'::text, v_detail;
  ELSIF v_state = 'unknown' THEN
    RETURN QUERY SELECT 'WARNING'::text, 'scheduler'::text, 'launcher'::text, v_detail;
  END IF;

  RETURN QUERY
  SELECT 'CRITICAL'::text, r.job_name, 'ticks'::text,
         format('%s has not run for %s (every %s; last run %s): pg_cron is not firing bgjobs'' ticks',
                r.job_name, date_trunc('second', p_as_of - coalesce(l.last, r.registered_at)), r.expected_interval,
                coalesce(to_char(l.last AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'), 'never'))
    FROM bgjobs.job_registry r
    LEFT JOIN LATERAL (
      SELECT max(coalesce(j.as_of, j.started_at)) AS last, bool_or(j.trigger = 'cron') AS by_cron
        FROM public.jobs_log j
       WHERE j.job_name = r.job_name AND coalesce(j.as_of, j.started_at) <= p_as_of) l ON true
   WHERE r.job_name IN ('deliver-notifications', 'check-job-health')
     AND r.enabled
     AND CASE WHEN v_cron_here
              THEN EXISTS (SELECT 1 FROM bgjobs.cron_jobs() c
                            WHERE c.jobname = coalesce(r.cron_jobname, r.job_name) AND c.active)
              ELSE coalesce(l.by_cron, false) END
     AND coalesce(l.last, r.registered_at) < p_as_of - 2 * r.expected_interval - interval '30 seconds';

  RETURN QUERY
  SELECT 'CRITICAL'::text, a.subject, 'alert'::text,
         format('%s: %s firing since %s: %s', a.display_name, a.rule,
                to_char(a.since AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"'), left(a.summary, 300))
    FROM bgjobs.alert_state a
   WHERE a.state = 'firing' AND a.severity = 'CRITICAL' AND a.rule <> 'scheduler_down'
     AND NOT EXISTS (SELECT 1 FROM bgjobs.silences s
                      WHERE (s.job_name IS NULL OR s.job_name = a.subject)
                        AND s.starts_at <= p_as_of AND s.until > p_as_of)
   ORDER BY a.since, a.subject, a.rule;
END;
$$;
COMMENT ON FUNCTION bgjobs.watchdog(timestamptz) IS
  'The outside watchdog''s problems: pg_cron launcher gone, bgjobs'' ticks stale, CRITICAL alerts firing.';
REVOKE ALL ON FUNCTION bgjobs.watchdog(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.watchdog(timestamptz) TO bgjobs_admin, bgjobs_viewer, bgjobs_deliverer;
