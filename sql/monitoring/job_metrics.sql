-- job_metrics(as_of, job_name): the seeds' job-metrics API as one JSON document, for
-- dashboards (Grafana's JSON API source, scripts):
--   {generatedAt, asOf, summary: {totalJobs, healthy, degraded, unhealthy, noRuns, runs24h,
--    successRate24h, failedRuns24h, alertsFiring {critical, warning, info},
--    notifications {pending, retrying, sent24h, dead24h, deliveryRate24h},
--    heartbeats {the healthcheck_summary columns}},
--    jobs: [{job, schedule, enabled, healthStatus, healthScore, healthLabel,
--            lastRun {startedAt, status, durationSeconds, recordsUpdated, error},
--            successRate {24h, 7d, 30d}, runs {24h, 7d, 30d: {total, successful, failed}},
--            duration {p50, p95, avg, max} (seconds, last 100 successful runs),
--            recordsUpdatedPerDay [{date, total}] (7 days), alerts [firing alerts]}]}
-- job_name NULL: every registered job, monitor-only job and watched pg_cron job.
-- SECURITY DEFINER: bgjobs_viewer reads it without rights on the bgjobs schema; it returns
-- monitoring figures only (no settings, recipients or secrets).
CREATE OR REPLACE FUNCTION public.job_metrics(as_of timestamptz DEFAULT now(), job_name text DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
WITH p AS (SELECT coalesce(job_metrics.as_of, now()) AS as_of, job_metrics.job_name AS job),
s AS (
  SELECT st.* FROM p, bgjobs.job_stats(p.as_of) st WHERE p.job IS NULL OR st.job_name = p.job
),
rd AS (
  SELECT j.job_name, (coalesce(j.as_of, j.started_at) AT TIME ZONE 'UTC')::date AS day, sum(j.records_updated) AS total
    FROM public.jobs_log j, p
   WHERE j.status = 'success'
     AND coalesce(j.as_of, j.started_at) > p.as_of - interval '7 days'
     AND coalesce(j.as_of, j.started_at) <= p.as_of
     AND (p.job IS NULL OR j.job_name = p.job)
   GROUP BY 1, 2
),
jobs AS (
  SELECT jsonb_agg(jsonb_build_object(
           'job', s.job_name,
           'schedule', CASE WHEN r.tenant_local AND bgjobs.cron_daily(r.schedule)
                            THEN to_char(r.local_time, 'HH24:MI') || ' tenant-local'
                            WHEN r.tenant_local THEN r.schedule || ' tenant-local'
                            ELSE coalesce(r.schedule, wt.schedule) END,
           'enabled', coalesce(r.enabled, true),
           'healthStatus', s.health_status,
           'healthScore', s.health_score,
           'healthLabel', s.health_label,
           'lastRun', CASE WHEN s.last_run_at IS NULL THEN NULL ELSE jsonb_build_object(
                        'startedAt', s.last_run_at, 'status', s.last_status,
                        'durationSeconds', s.last_duration_seconds, 'recordsUpdated', s.last_records_updated,
                        'error', s.last_error) END,
           'successRate', jsonb_build_object('24h', s.success_rate_24h, '7d', s.success_rate_7d, '30d', s.success_rate_30d),
           'runs', jsonb_build_object(
             '24h', jsonb_build_object('total', s.runs_24h, 'successful', s.successes_24h, 'failed', s.failures_24h),
             '7d', jsonb_build_object('total', s.runs_7d, 'successful', s.successes_7d, 'failed', s.failures_7d),
             '30d', jsonb_build_object('total', s.runs_30d, 'successful', s.successes_30d, 'failed', s.failures_30d)),
           'duration', jsonb_build_object('p50', s.p50_duration_seconds, 'p95', s.p95_duration_seconds,
                                          'avg', s.avg_duration_seconds, 'max', s.max_duration_seconds),
           'recordsUpdated24h', s.records_updated_24h,
           'recordsUpdatedPerDay', coalesce((SELECT jsonb_agg(jsonb_build_object('date', rd.day, 'total', rd.total)
                                                              ORDER BY rd.day)
                                               FROM rd WHERE rd.job_name = s.job_name), '[]'::jsonb),
           'alerts', coalesce((SELECT jsonb_agg(jsonb_build_object('rule', a.rule, 'severity', a.severity,
                                                                   'since', a.since, 'summary', a.summary)
                                                ORDER BY a.rule)
                                 FROM bgjobs.alert_state a
                                WHERE a.subject = s.job_name AND a.state = 'firing'), '[]'::jsonb))
           ORDER BY s.job_name) AS list
    FROM s LEFT JOIN bgjobs.job_registry r ON r.job_name = s.job_name
    -- monitor-only jobs and watched pg_cron jobs (bgjobs.watch_targets)
    LEFT JOIN (SELECT w.subject, w.schedule FROM p, bgjobs.watch_targets(p.as_of, 0) w) wt ON wt.subject = s.job_name
),
runs AS (
  SELECT count(*) FILTER (WHERE j.status IN ('success', 'failed')) AS total,
         count(*) FILTER (WHERE j.status = 'success') AS ok,
         count(*) FILTER (WHERE j.status = 'failed') AS failed
    FROM public.jobs_log j, p
   WHERE coalesce(j.as_of, j.started_at) > p.as_of - interval '24 hours'
     AND coalesce(j.as_of, j.started_at) <= p.as_of
     AND (p.job IS NULL OR j.job_name = p.job)
),
notif AS (
  SELECT count(*) FILTER (WHERE n.status = 'pending') AS pending,
         count(*) FILTER (WHERE n.status = 'failed') AS retrying,
         count(*) FILTER (WHERE n.status = 'sent' AND n.created_at > p.as_of - interval '24 hours') AS sent24,
         count(*) FILTER (WHERE n.status = 'dead' AND n.created_at > p.as_of - interval '24 hours') AS dead24,
         count(*) FILTER (WHERE n.status = 'failed' AND n.created_at > p.as_of - interval '24 hours') AS failed24
    FROM public.notifications n, p
   WHERE n.status IN ('pending', 'failed') OR n.created_at > p.as_of - interval '24 hours'
)
SELECT jsonb_build_object(
  'generatedAt', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
  'asOf', to_char(p.as_of AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
  'summary', jsonb_build_object(
    'totalJobs', (SELECT count(*) FROM s),
    'healthy', (SELECT count(*) FROM s WHERE s.health_label = 'Healthy'),
    'degraded', (SELECT count(*) FROM s WHERE s.health_label = 'Degraded'),
    'unhealthy', (SELECT count(*) FROM s WHERE s.health_label = 'Unhealthy'),
    'noRuns', (SELECT count(*) FROM s WHERE s.health_label = 'No runs'),
    'runs24h', runs.total,
    'failedRuns24h', runs.failed,
    'successRate24h', CASE WHEN runs.total > 0 THEN round(100.0 * runs.ok / runs.total, 2) END,
    'alertsFiring', (SELECT jsonb_build_object(
                       'critical', count(*) FILTER (WHERE a.severity = 'CRITICAL'),
                       'warning', count(*) FILTER (WHERE a.severity = 'WARNING'),
                       'info', count(*) FILTER (WHERE a.severity = 'INFO'))
                       FROM bgjobs.alert_state a WHERE a.state = 'firing'),
    'notifications', jsonb_build_object(
      'pending', notif.pending, 'retrying', notif.retrying, 'sent24h', notif.sent24, 'dead24h', notif.dead24,
      'deliveryRate24h', CASE WHEN notif.sent24 + notif.dead24 + notif.failed24 > 0
                              THEN round(100.0 * notif.sent24 / (notif.sent24 + notif.dead24 + notif.failed24), 2) END),
    'heartbeats', (SELECT to_jsonb(h) FROM public.healthcheck_summary h)),
  'jobs', coalesce(jobs.list, '[]'::jsonb))
FROM p, jobs, runs, notif
$$;
COMMENT ON FUNCTION public.job_metrics(timestamptz, text) IS
  'The seeds'' job-metrics API as JSON: summary, and per job health, success rates, durations, records per day, alerts.';
REVOKE ALL ON FUNCTION public.job_metrics(timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.job_metrics(timestamptz, text) TO bgjobs_admin, bgjobs_viewer;
