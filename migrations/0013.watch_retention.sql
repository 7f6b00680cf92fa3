-- Retention of monitor-only jobs' runs: purge-old-logs (run by bgjobs_runner) deletes
-- bgjobs.watch_runs rows older than retention_days_jobs_log, as it does jobs_log's.
-- depends: 0012.app_schema

GRANT DELETE ON bgjobs.watch_runs TO bgjobs_runner;
