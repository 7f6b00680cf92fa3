-- bgjobs_app.tasks_sla_feed(): statement-level triggers on public.tasks, the change feed of
-- check-sla-and-overdue (bgjobs_app.task_changes).  Writes the key of each task that may start
-- or end an overdue episode or an SLA violation other than by time passing: inserted or
-- deleted while open, or its status, due date or priority changed (a key change counts as
-- a delete and an insert).  A TRUNCATE writes the all-zero key: the next tick makes a full
-- pass.  A row already there is touched (ON CONFLICT DO UPDATE, not DO NOTHING): the
-- update waits for a tick consuming that row, so a change is never folded into a row the
-- tick is deleting.
-- SECURITY DEFINER, owned by bgjobs_runner: the application's roles that write tasks have
-- no rights on bgjobs' tables.
CREATE OR REPLACE FUNCTION bgjobs_app.tasks_sla_feed()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO bgjobs_app.task_changes AS c (tenant_id, task_id)
    SELECT DISTINCT n.tenant_id, n.id
      FROM new_rows n
     WHERE n.status IN ('Open', 'In Progress') AND n.due_date IS NOT NULL
    ON CONFLICT (tenant_id, task_id) DO UPDATE SET changed_at = EXCLUDED.changed_at;
  ELSIF TG_OP = 'UPDATE' THEN
    -- Set operations, not joins: PL/pgSQL keeps this statement's plan for the session, made
    -- with the transition tables' sizes of its first call.  Planned for one-row updates, a
    -- join would then compare every old row with every new one of a bulk update (10,000
    -- rows: 15 s); EXCEPT hashes or sorts whatever the estimate.
    INSERT INTO bgjobs_app.task_changes AS c (tenant_id, task_id)
    SELECT x.tenant_id, x.id
      FROM (  -- a row whose key, status, due date or priority is not among the old rows'
              -- (EXCEPT compares NULLs as equal, as IS DISTINCT FROM does)
              (SELECT n.tenant_id, n.id, n.status, n.due_date, n.priority FROM new_rows n
               EXCEPT
               SELECT o.tenant_id, o.id, o.status, o.due_date, o.priority FROM old_rows o)
           ) x
    UNION   -- a key the update took away
    SELECT y.tenant_id, y.id
      FROM (SELECT o.tenant_id, o.id FROM old_rows o
            EXCEPT
            SELECT n.tenant_id, n.id FROM new_rows n) y
    ON CONFLICT (tenant_id, task_id) DO UPDATE SET changed_at = EXCLUDED.changed_at;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO bgjobs_app.task_changes AS c (tenant_id, task_id)
    SELECT DISTINCT o.tenant_id, o.id
      FROM old_rows o
     WHERE o.status IN ('Open', 'In Progress')
    ON CONFLICT (tenant_id, task_id) DO UPDATE SET changed_at = EXCLUDED.changed_at;
  ELSE  -- TRUNCATE
    INSERT INTO bgjobs_app.task_changes AS c (tenant_id, task_id)
    VALUES ('00000000-0000-0000-0000-000000000000', '00000000-0000-0000-0000-000000000000')
    ON CONFLICT (tenant_id, task_id) DO UPDATE SET changed_at = EXCLUDED.changed_at;
  END IF;
  RETURN NULL;
END;
$$;
COMMENT ON FUNCTION bgjobs_app.tasks_sla_feed() IS
  'Trigger on public.tasks (where bgjobs created it): check-sla-and-overdue''s change feed, bgjobs_app.task_changes.';
ALTER FUNCTION bgjobs_app.tasks_sla_feed() OWNER TO bgjobs_runner;
REVOKE ALL ON FUNCTION bgjobs_app.tasks_sla_feed() FROM PUBLIC;

-- Only on a table bgjobs created (an application's own tasks gets no trigger and no index:
-- bgjobs install --dry-run says so, and its tick makes a full pass), and not once bgjobs
-- distribute made it a Citus table (the shards live on the workers, the feed on the
-- coordinator; bgjobs distribute drops these triggers).  ENABLE ALWAYS: the feed must see
-- changes made with session_replication_role = replica (logical replication) too.
-- The index: the tick's range scans of the open tasks that became past due, or past an
-- SLA, since the last tick.
DO $$
DECLARE
  v_citus boolean := false;
BEGIN
  IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
    EXECUTE 'SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition WHERE logicalrelid = ''public.tasks''::regclass)'
       INTO v_citus;
  END IF;
  IF EXISTS (SELECT 1 FROM bgjobs.app_tables WHERE table_name = 'tasks' AND origin = 'created') AND NOT v_citus THEN
    CREATE INDEX IF NOT EXISTS tasks_open_due_date_idx ON public.tasks (due_date)
        WHERE status IN ('Open', 'In Progress');
    CREATE OR REPLACE TRIGGER tasks_sla_feed_insert AFTER INSERT ON public.tasks
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION bgjobs_app.tasks_sla_feed();
    CREATE OR REPLACE TRIGGER tasks_sla_feed_update AFTER UPDATE ON public.tasks
      REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION bgjobs_app.tasks_sla_feed();
    CREATE OR REPLACE TRIGGER tasks_sla_feed_delete AFTER DELETE ON public.tasks
      REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION bgjobs_app.tasks_sla_feed();
    CREATE OR REPLACE TRIGGER tasks_sla_feed_truncate AFTER TRUNCATE ON public.tasks
      FOR EACH STATEMENT EXECUTE FUNCTION bgjobs_app.tasks_sla_feed();
    ALTER TABLE public.tasks ENABLE ALWAYS TRIGGER tasks_sla_feed_insert, ENABLE ALWAYS TRIGGER tasks_sla_feed_update,
      ENABLE ALWAYS TRIGGER tasks_sla_feed_delete, ENABLE ALWAYS TRIGGER tasks_sla_feed_truncate;
  END IF;
END
$$;
