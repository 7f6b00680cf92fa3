-- Rollback of 0005.dba.
DROP TABLE IF EXISTS bgjobs.archive_runs;
