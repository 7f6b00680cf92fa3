-- Rollback of 0014.unregistered_jobs.
DROP TABLE IF EXISTS bgjobs.unregistered_jobs;
