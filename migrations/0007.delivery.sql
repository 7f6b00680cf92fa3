-- Delivery: deliver-notifications (SECURITY DEFINER, owned by bgjobs_deliverer) keeps its
-- run's time budget 5 s under the job's own timeout, so that it stops by itself before the
-- timeout cancels it; it reads that timeout from the registry (these columns only).
-- depends: 0006.maintenance

GRANT SELECT (job_name, function_schema, function_name, timeout) ON bgjobs.job_registry TO bgjobs_deliverer;
