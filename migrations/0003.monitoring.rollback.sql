-- Rollback of 0003.monitoring.
DROP INDEX IF EXISTS public.jobs_log_job_effective_idx, public.jobs_log_effective_idx;
DROP TABLE IF EXISTS bgjobs.silences, bgjobs.alert_state;
