-- Rollback of 0006.app_tables.  The flags and event records go with their tables (0002's
-- own columns, where 0002 ran, were left as they were when 0006 was applied).
DROP TABLE IF EXISTS bgjobs.app_tables, bgjobs.task_flags, bgjobs.automation_events;
