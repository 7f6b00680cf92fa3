-- Rollback of 0010.app_tables.  Where 0002 created tasks, the flags go back into its
-- columns and its two indexes over them are made again (a release before 0010 reads them).
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_attribute
              WHERE attrelid = pg_catalog.to_regclass('public.tasks') AND attname = 'is_overdue' AND NOT attisdropped)
     AND NOT EXISTS (SELECT 1 FROM bgjobs.app_tables WHERE table_name = 'tasks' AND origin = 'adopted') THEN
    UPDATE public.tasks t
       SET is_overdue = f.overdue_since IS NOT NULL, overdue_since = f.overdue_since,
           sla_violated = f.sla_violated_at IS NOT NULL, sla_violated_at = f.sla_violated_at
      FROM bgjobs.task_flags f
     WHERE f.tenant_id = t.tenant_id AND f.task_id = t.id;
    CREATE INDEX IF NOT EXISTS tasks_overdue_pending_idx ON public.tasks
        ((CASE WHEN status IN ('Open', 'In Progress') AND NOT is_overdue THEN due_date END));
    CREATE INDEX IF NOT EXISTS tasks_sla_pending_idx ON public.tasks
        (priority, (CASE WHEN status IN ('Open', 'In Progress') AND NOT sla_violated THEN due_date END));
  END IF;
END
$$;
DROP TABLE IF EXISTS bgjobs.app_tables, bgjobs.task_flags, bgjobs.automation_events;
