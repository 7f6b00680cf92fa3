-- bgjobs.job_stats(as_of): per registered job, the monitoring figures the seeds' dashboards
-- and runbooks read, over runs "for" a moment up to as_of (coalesce(as_of, started_at)):
-- runs / successes / failures and success rate over 24 h, 7 d and 30 d; p50, p95, average
-- and maximum duration of the last 100 successful runs (the KPI table's "last 100 runs");
-- health score = successes / completed runs x 100 over 7 days (the SLO window) with the
-- operations guide's labels (Healthy >= 95, Degraded 80-94, Unhealthy < 80); the seeds'
-- health status of the last run (CRITICAL failed, WARNING older than 25 h, OK success);
-- records updated over 24 hours; when the job is next expected to run.
-- SECURITY DEFINER: bgjobs_viewer reads it (through views and job_metrics()) without rights
-- on the bgjobs schema; it returns monitoring figures only.
CREATE OR REPLACE FUNCTION bgjobs.job_stats(p_as_of timestamptz DEFAULT now())
RETURNS TABLE (
  job_name text, last_run_at timestamptz, last_status text, last_duration_seconds numeric,
  last_records_updated integer, last_error text, health_status text,
  runs_24h bigint, successes_24h bigint, failures_24h bigint, success_rate_24h numeric,
  runs_7d bigint, successes_7d bigint, failures_7d bigint, success_rate_7d numeric,
  runs_30d bigint, successes_30d bigint, failures_30d bigint, success_rate_30d numeric,
  records_updated_24h bigint,
  p50_duration_seconds numeric, p95_duration_seconds numeric, avg_duration_seconds numeric,
  max_duration_seconds numeric, health_score numeric, health_label text, next_expected_run timestamptz)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
SELECT r.job_name,
       last.eff, last.status, round(extract(epoch FROM last.completed_at - last.started_at)::numeric, 3),
       last.records_updated, last.error_message,
       CASE WHEN last.status IS NULL THEN 'UNKNOWN'
            WHEN last.status = 'failed' THEN 'CRITICAL'
            WHEN p_as_of - last.eff > interval '25 hours' THEN 'WARNING'
            WHEN last.status = 'success' THEN 'OK'
            ELSE 'UNKNOWN' END,
       w.runs_24h, w.ok_24h, w.runs_24h - w.ok_24h,
       CASE WHEN w.runs_24h > 0 THEN round(100.0 * w.ok_24h / w.runs_24h, 2) END,
       w.runs_7d, w.ok_7d, w.runs_7d - w.ok_7d,
       CASE WHEN w.runs_7d > 0 THEN round(100.0 * w.ok_7d / w.runs_7d, 2) END,
       w.runs_30d, w.ok_30d, w.runs_30d - w.ok_30d,
       CASE WHEN w.runs_30d > 0 THEN round(100.0 * w.ok_30d / w.runs_30d, 2) END,
       w.records_24h,
       round(d.p50::numeric, 3), round(d.p95::numeric, 3), round(d.avg::numeric, 3), round(d.max::numeric, 3),
       CASE WHEN w.runs_7d > 0 THEN round(100.0 * w.ok_7d / w.runs_7d, 1) END,
       CASE WHEN w.runs_7d = 0 THEN 'No runs'
            WHEN 100.0 * w.ok_7d / w.runs_7d >= 95 THEN 'Healthy'
            WHEN 100.0 * w.ok_7d / w.runs_7d >= 80 THEN 'Degraded'
            ELSE 'Unhealthy' END,
       bgjobs.next_expected_run(r.job_name, p_as_of)
  FROM bgjobs.job_registry r
  LEFT JOIN LATERAL (
    SELECT coalesce(j.as_of, j.started_at) AS eff, j.started_at, j.completed_at, j.status, j.records_updated,
           j.error_message
      FROM public.jobs_log j
     WHERE j.job_name = r.job_name AND j.status <> 'skipped' AND coalesce(j.as_of, j.started_at) <= p_as_of
     ORDER BY coalesce(j.as_of, j.started_at) DESC
     LIMIT 1) last ON true
 CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE x.eff > p_as_of - interval '24 hours') AS runs_24h,
           count(*) FILTER (WHERE x.eff > p_as_of - interval '24 hours' AND x.status = 'success') AS ok_24h,
           count(*) FILTER (WHERE x.eff > p_as_of - interval '7 days') AS runs_7d,
           count(*) FILTER (WHERE x.eff > p_as_of - interval '7 days' AND x.status = 'success') AS ok_7d,
           count(*) AS runs_30d,
           count(*) FILTER (WHERE x.status = 'success') AS ok_30d,
           coalesce(sum(x.records_updated) FILTER (WHERE x.eff > p_as_of - interval '24 hours'), 0) AS records_24h
      FROM (SELECT coalesce(j.as_of, j.started_at) AS eff, j.status, j.records_updated
              FROM public.jobs_log j
             WHERE j.job_name = r.job_name AND j.status IN ('success', 'failed')
               AND coalesce(j.as_of, j.started_at) > p_as_of - interval '30 days'
               AND coalesce(j.as_of, j.started_at) <= p_as_of) x) w
 CROSS JOIN LATERAL (
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY y.s) AS p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY y.s) AS p95,
           avg(y.s) AS avg, max(y.s) AS max
      FROM (SELECT extract(epoch FROM j.completed_at - j.started_at) AS s
              FROM public.jobs_log j
             WHERE j.job_name = r.job_name AND j.status = 'success' AND j.completed_at IS NOT NULL
               AND coalesce(j.as_of, j.started_at) <= p_as_of
             ORDER BY coalesce(j.as_of, j.started_at) DESC
             LIMIT 100) y) d
$$;
COMMENT ON FUNCTION bgjobs.job_stats(timestamptz) IS
  'Per-job success rates (24h/7d/30d), p50/p95 durations, health score and label, as of a moment.';
REVOKE ALL ON FUNCTION bgjobs.job_stats(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.job_stats(timestamptz) TO bgjobs_runner;
GRANT EXECUTE ON FUNCTION bgjobs.job_stats(timestamptz) TO bgjobs_admin, bgjobs_viewer;
