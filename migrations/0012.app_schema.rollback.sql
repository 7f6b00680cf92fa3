-- Rollback of 0012.app_schema: the application's per-row state back into schema bgjobs.
UPDATE bgjobs.job_registry
   SET function_schema = 'bgjobs'
 WHERE function_schema = 'bgjobs_app';
ALTER TABLE bgjobs_app.task_flags SET SCHEMA bgjobs;
ALTER TABLE bgjobs_app.automation_events SET SCHEMA bgjobs;
DROP SCHEMA bgjobs_app;   -- uninstall dropped its routines first; anything else in it stops the rollback
