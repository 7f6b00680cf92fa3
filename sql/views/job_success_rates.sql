-- job_success_rates: per registered job, success rates over 24 hours, 7 days and 30 days,
-- p50/p95/average/maximum duration of the last 100 successful runs, records updated in 24
-- hours, and the health score (successes / runs x 100 over 7 days) with the operations
-- guide's label (Healthy >= 95, Degraded 80-94, Unhealthy < 80).  As of now(); use
-- bgjobs.job_stats(as_of) or job_metrics(as_of) for another moment.
CREATE OR REPLACE VIEW public.job_success_rates AS
SELECT s.job_name,
       s.runs_24h, s.successes_24h, s.failures_24h, s.success_rate_24h,
       s.runs_7d, s.successes_7d, s.failures_7d, s.success_rate_7d,
       s.runs_30d, s.successes_30d, s.failures_30d, s.success_rate_30d,
       s.p50_duration_seconds, s.p95_duration_seconds, s.avg_duration_seconds, s.max_duration_seconds,
       s.records_updated_24h, s.health_score, s.health_label, s.health_status,
       s.last_run_at, s.last_status
  FROM bgjobs.job_stats(now()) s;
COMMENT ON VIEW public.job_success_rates IS
  'Per job: success rate 24h/7d/30d, p50/p95 duration, health score and label (Healthy >= 95, Degraded 80-94, Unhealthy < 80).';
REVOKE ALL ON public.job_success_rates FROM PUBLIC;
GRANT SELECT ON public.job_success_rates TO bgjobs_admin, bgjobs_viewer;
