-- The seeds' application gets a database schema of its own, bgjobs_app, beside the runtime's
-- schema bgjobs.  What is in each:
--  * bgjobs (the runtime): registry, runs, scheduling, alert state, settings, secrets,
--    outbox delivery, watching, monitoring; the install's own records (yoyo history,
--    installed_routines, app_tables);
--  * bgjobs_app (the seeds' application, sql/app/): the six business jobs' bodies, the
--    automation-rule runner, the triggers of the tables bgjobs created, and the per-row state
--    bgjobs keeps for the application's tables (task_flags, automation_events: moved here
--    from bgjobs, rows, indexes and grants as they were);
--  * public: the application's business tables and the contract's runbook surface.
-- The jobs' registrations follow their bodies (the registry names a body by schema and name);
-- install then re-creates the bodies in bgjobs_app and drops the bgjobs ones.
-- depends: 0011.watch

CREATE SCHEMA bgjobs_app;
COMMENT ON SCHEMA bgjobs_app IS
  'bgjobs: the seeds'' application (its jobs, automation rules, per-row state); the runtime is schema bgjobs';
REVOKE ALL ON SCHEMA bgjobs_app FROM PUBLIC;
GRANT USAGE ON SCHEMA bgjobs_app TO bgjobs_admin, bgjobs_viewer, bgjobs_runner;

ALTER TABLE bgjobs.task_flags SET SCHEMA bgjobs_app;
ALTER TABLE bgjobs.automation_events SET SCHEMA bgjobs_app;

UPDATE bgjobs.job_registry
   SET function_schema = 'bgjobs_app'
 WHERE function_schema = 'bgjobs'
   AND function_name IN ('job_check_sla_and_overdue', 'job_send_hearing_reminders',
                         'job_check_upcoming_deadlines', 'job_automation_health_check',
                         'job_analytics_snapshot', 'job_update_installment_statuses');
