-- Rollback of 0006.dba.
DROP TABLE IF EXISTS bgjobs.archive_runs;
