-- check-sla-and-overdue follows what changed, not the size of tasks (issue 9, "Speed").
--  * bgjobs_app.task_changes: the change feed.  Where bgjobs created public.tasks, statement-
--    level triggers (sql/app/bgjobs_app.tasks_sla_feed.sql) write the key of every task
--    inserted or deleted while open, or whose status, due date or priority changed; a
--    TRUNCATE writes the all-zero key, which asks for a full pass.  The tick consumes the
--    rows it reads.  One row per task however often it changes.
--  * bgjobs_app.sla_tick_state: one row, what the last tick did (its as_of, tenants, SLA hours,
--    the last full pass), so that the next tick can read only the tasks that became past
--    due or past their SLA since then, and those in the feed.
-- depends: 0014.unregistered_jobs

CREATE TABLE bgjobs_app.task_changes (
    tenant_id  uuid NOT NULL,
    task_id    uuid NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, task_id)
);
COMMENT ON TABLE bgjobs_app.task_changes IS
  'check-sla-and-overdue''s change feed from public.tasks (triggers where bgjobs created the table); consumed by each tick.';
REVOKE ALL ON bgjobs_app.task_changes FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON bgjobs_app.task_changes TO bgjobs_runner;
GRANT SELECT ON bgjobs_app.task_changes TO bgjobs_admin, bgjobs_viewer;

CREATE TABLE bgjobs_app.sla_tick_state (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),   -- one row
    as_of       timestamptz,        -- the last tick's as_of (NULL: none yet)
    max_as_of   timestamptz,        -- the latest as_of any tick had (a replay goes back)
    tenants     uuid[],             -- the last tick's tenants, sorted (NULL: all)
    sla_hours   numeric[],          -- its sla_hours_critical, _high, _medium, _low
    full_as_of  timestamptz,        -- as_of of the last full pass
    last_pass   text CHECK (last_pass IN ('full', 'incremental')),
    last_reason text,               -- why the last tick made a full pass
    candidates  integer             -- tasks the last incremental tick read
);
INSERT INTO bgjobs_app.sla_tick_state (id) VALUES (true);
COMMENT ON TABLE bgjobs_app.sla_tick_state IS
  'check-sla-and-overdue: what the last tick did; the next one is incremental only when it can trust it.';
REVOKE ALL ON bgjobs_app.sla_tick_state FROM PUBLIC;
GRANT SELECT, UPDATE ON bgjobs_app.sla_tick_state TO bgjobs_runner;
GRANT SELECT ON bgjobs_app.sla_tick_state TO bgjobs_admin, bgjobs_viewer;
