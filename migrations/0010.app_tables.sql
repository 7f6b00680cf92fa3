-- bgjobs in the application's own database (CONTRACT section 5).
--  * bgjobs.app_tables: for each application table the jobs work on, whether bgjobs created
--    it (migration 0002 ran) or adopted the application's own (0002 was marked applied
--    without running).  Written by bgjobs install; uninstall drops only what was created.
--  * bgjobs.task_flags: check-sla-and-overdue's per-task state (one row per task in an
--    overdue episode), so the job never rewrites the application's task rows.  Existing
--    flags move here from tasks.is_overdue/overdue_since/sla_violated/sla_violated_at
--    (0002's columns stay, unused: bgjobs does not drop columns of application tables).
--  * bgjobs.automation_events: one row per automation rule execution, with what fired it
--    (entity, event data, event key); its unique (tenant_id, rule_id, event_key) makes a
--    repeat of the same event a no-op.  automation_logs keeps the seeds' columns only.
-- depends: 0009.job_api

CREATE TABLE bgjobs.app_tables (
    table_name  text PRIMARY KEY,
    origin      text NOT NULL CHECK (origin IN ('created', 'adopted')),
    recorded_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE bgjobs.app_tables IS
  'Application tables the jobs use: created by bgjobs (dropped by uninstall) or adopted from the application (never dropped or altered).';
REVOKE ALL ON bgjobs.app_tables FROM PUBLIC;
GRANT SELECT ON bgjobs.app_tables TO bgjobs_admin, bgjobs_viewer, bgjobs_runner;

CREATE TABLE bgjobs.task_flags (
    tenant_id       uuid NOT NULL,
    task_id         uuid NOT NULL,
    overdue_since   timestamptz,          -- as_of of the tick that found the task overdue
    sla_violated_at timestamptz,          -- as_of of the tick that found its SLA violated
    PRIMARY KEY (tenant_id, task_id)
);
COMMENT ON TABLE bgjobs.task_flags IS
  'check-sla-and-overdue: the tasks in an overdue episode (flagged once per episode); a row goes when its task is closed or no longer past due.';
REVOKE ALL ON bgjobs.task_flags FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON bgjobs.task_flags TO bgjobs_runner;
GRANT SELECT ON bgjobs.task_flags TO bgjobs_admin, bgjobs_viewer;

CREATE TABLE bgjobs.automation_events (
    log_id      uuid PRIMARY KEY,         -- automation_logs.id of the rule execution
    tenant_id   uuid NOT NULL,
    rule_id     uuid,
    event_key   text,                     -- NULL: never deduplicated
    entity_type text,
    entity_id   uuid,
    event_data  jsonb,
    fired_at    timestamptz NOT NULL
);
CREATE UNIQUE INDEX automation_events_key_idx ON bgjobs.automation_events (tenant_id, rule_id, event_key);
CREATE INDEX automation_events_fired_idx ON bgjobs.automation_events (fired_at);
COMMENT ON TABLE bgjobs.automation_events IS
  'What fired each automation rule execution (entity, data, event key); a rule runs once per event key.';
REVOKE ALL ON bgjobs.automation_events FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON bgjobs.automation_events TO bgjobs_runner;
GRANT SELECT ON bgjobs.automation_events TO bgjobs_admin, bgjobs_viewer;

-- A database where 0002 ran (its indexes name it; an application's own tables, adopted,
-- have none of them): carry its state over.  Its trigger on tasks and the two indexes over
-- the old flags go (the job ends episodes itself now, on tables it did not create as well);
-- the columns stay, unused.
DO $$
BEGIN
  IF pg_catalog.to_regclass('public.tasks_overdue_pending_idx') IS NOT NULL THEN
    INSERT INTO bgjobs.task_flags (tenant_id, task_id, overdue_since, sla_violated_at)
    SELECT t.tenant_id, t.id, CASE WHEN t.is_overdue THEN coalesce(t.overdue_since, t.sla_violated_at) END,
           CASE WHEN t.sla_violated THEN coalesce(t.sla_violated_at, t.overdue_since) END
      FROM public.tasks t
     WHERE (t.is_overdue OR t.sla_violated) AND t.status IN ('Open', 'In Progress');
    DROP TRIGGER IF EXISTS tasks_reset_overdue ON public.tasks;
    DROP INDEX public.tasks_overdue_pending_idx;
    DROP INDEX IF EXISTS public.tasks_sla_pending_idx;
  END IF;
  IF pg_catalog.to_regclass('public.automation_logs_event_key_idx') IS NOT NULL THEN
    INSERT INTO bgjobs.automation_events (log_id, tenant_id, rule_id, event_key, entity_type, entity_id, event_data, fired_at)
    SELECT l.id, l.tenant_id, l.rule_id, l.event_key, l.entity_type, l.entity_id, l.event_data, coalesce(l.executed_at, now())
      FROM public.automation_logs l
     WHERE l.event_key IS NOT NULL OR l.entity_id IS NOT NULL OR l.event_data IS NOT NULL;
  END IF;
END
$$;
