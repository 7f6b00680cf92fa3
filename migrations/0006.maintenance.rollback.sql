-- Rollback of 0006.maintenance.
DROP TABLE IF EXISTS bgjobs.maintenance_windows;
