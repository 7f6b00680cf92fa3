-- Rollback of 0013.watch_retention.
REVOKE DELETE ON bgjobs.watch_runs FROM bgjobs_runner;
