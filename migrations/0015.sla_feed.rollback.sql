-- Rollback of 0015.sla_feed.  The feed's triggers and index are only on a tasks table
-- bgjobs created (an application's own tasks never got them: leave its objects alone).
DO $$
BEGIN
  IF pg_catalog.to_regclass('public.tasks') IS NOT NULL
     AND EXISTS (SELECT 1 FROM bgjobs.app_tables WHERE table_name = 'tasks' AND origin = 'created') THEN
    DROP TRIGGER IF EXISTS tasks_sla_feed_insert ON public.tasks;
    DROP TRIGGER IF EXISTS tasks_sla_feed_update ON public.tasks;
    DROP TRIGGER IF EXISTS tasks_sla_feed_delete ON public.tasks;
    DROP TRIGGER IF EXISTS tasks_sla_feed_truncate ON public.tasks;
    DROP INDEX IF EXISTS public.tasks_open_due_date_idx;
  END IF;
END
$$;
DROP FUNCTION IF EXISTS bgjobs_app.tasks_sla_feed();
DROP TABLE IF EXISTS bgjobs_app.task_changes, bgjobs_app.sla_tick_state;
