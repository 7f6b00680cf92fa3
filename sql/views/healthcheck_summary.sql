-- healthcheck_summary: the cron-healthcheck runbook's monitoring view, column for column.
CREATE OR REPLACE VIEW public.healthcheck_summary AS
SELECT
  COUNT(*) as total_jobs,
  COUNT(*) FILTER (WHERE last_run_at > now() - interval '24 hours') as healthy_jobs,
  COUNT(*) FILTER (WHERE last_run_at <= now() - interval '24 hours') as stale_jobs,
  COUNT(*) FILTER (WHERE last_alert_at > now() - interval '24 hours') as alerted_jobs,
  MAX(last_run_at) as most_recent_heartbeat,
  MIN(last_run_at) as oldest_heartbeat
FROM public.job_heartbeats;
COMMENT ON VIEW public.healthcheck_summary IS 'Heartbeat summary for external alerting (cron-healthcheck runbook).';
REVOKE ALL ON public.healthcheck_summary FROM PUBLIC;
GRANT SELECT ON public.healthcheck_summary TO bgjobs_admin, bgjobs_viewer;
