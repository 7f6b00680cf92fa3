-- Rollback of 0007.maintenance.
DROP TABLE IF EXISTS bgjobs.maintenance_windows;
