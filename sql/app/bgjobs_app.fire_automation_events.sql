-- bgjobs_app.fire_automation_events(as_of, tenant_ids, events, entity_types, entity_ids,
-- event_keys, data): the automation-rule runner the jobs share.  The arrays are parallel:
-- event i happened in tenant_ids[i] to (entity_types[i], entity_ids[i]) with data[i].  Every
-- active rule of that tenant whose trigger_event is the event runs once for it, set-based,
-- and writes one automation_logs row per rule execution (executed_at = as_of; the seeds'
-- columns only, so an application's own automation_logs serves as it is) and one
-- bgjobs_app.automation_events row with what fired it (entity, data, key).  event_keys[i]
-- names the occurrence: a rule never runs twice for the same key (a replayed or repeated
-- run is a no-op), and a NULL key is never deduplicated.
--
-- A rule's actions (automation_rules.actions, a jsonb array; a rules table without that
-- column has rules without actions) are executed and recorded in
-- actions_executed, each with its status:
--   {"type": "notify", "to": "assignee" | "case_owner" | "admins"}
--        queues an email (template automation_notification) to those users in the outbox;
--   {"type": "escalate"}
--        raises a task's priority one step (Low -> Medium -> High -> Critical).
-- Users are notified when active (users.is_active, when the application has it); 'admins'
-- are the users with role 'admin' (users.role, when it has it).
-- Any other type is not executed: the rule's log row is 'failed' with an error naming it.
-- The optional task_cases, task_assignees, task_titles (parallel too) give a task event's
-- task facts as the caller just read them, so its actions need not read the task again
-- (NULL arrays: each task is read here).
-- Returns the number of rule executions logged.
CREATE OR REPLACE FUNCTION bgjobs_app.fire_automation_events(
  p_as_of timestamptz,
  p_tenant_ids uuid[],
  p_events text[],
  p_entity_types text[],
  p_entity_ids uuid[],
  p_event_keys text[],
  p_data jsonb[],
  p_task_cases uuid[] DEFAULT NULL,
  p_task_assignees uuid[] DEFAULT NULL,
  p_task_titles text[] DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SET search_path TO pg_catalog, pg_temp
SET plan_cache_mode TO auto      -- see the EXECUTE below
SET work_mem TO '16MB'            -- a batch's event rows stay in memory between the statement's steps
AS $$
DECLARE
  v_logged integer;
BEGIN
  IF coalesce(cardinality(p_tenant_ids), 0) = 0 THEN
    RETURN 0;
  END IF;

  -- One statement, run by EXECUTE: planned afresh with this batch's arrays (a one-shot
  -- plan) whatever plan_cache_mode says, while the saved plans of the foreign-key checks
  -- its inserts fire (automation_logs -> automation_rules, once per row) stay generic
  -- under this function's plan_cache_mode = auto; a caller's force_custom_plan had each
  -- of them planned again, row by row.  Text constant, parameters by USING: no names built in.
  EXECUTE $sql$
  WITH ev AS (
    -- an event key given twice in one batch is one occurrence (its first): grouped by the
    -- narrow key alone in a hash, not the whole event rows sorted (they spill to disk)
    SELECT e.tenant_id, e.event, e.entity_type, e.entity_id, e.event_key, e.data,
           $10 IS NOT NULL AND e.entity_type = 'task' AS task_given,
           e.task_case, e.task_assignee, e.task_title
      FROM unnest($2, $3, $4, $5, $6, $7,
                  $8, $9, $10)
           WITH ORDINALITY AS e(tenant_id, event, entity_type, entity_id, event_key, data,
                                task_case, task_assignee, task_title, n)
     WHERE e.n IN (SELECT min(k.n)
                     FROM unnest($2, $3, $6) WITH ORDINALITY AS k(tenant_id, event, event_key, n)
                    GROUP BY k.tenant_id, k.event, coalesce(k.event_key, k.n::text))
  ),
  rule_rows AS MATERIALIZED (
    -- actions: a column the seeds' rules have and the contract does not require (read with
    -- to_jsonb here, apart from the LATERAL below: on Citus a table function's argument
    -- must be immutable over distributed rows)
    SELECT r.tenant_id, r.id AS rule_id, r.rule_name, r.trigger_event, to_jsonb(r) -> 'actions' AS actions
      FROM public.automation_rules r
     WHERE r.is_active
       AND (r.tenant_id, r.trigger_event) IN (SELECT e.tenant_id, e.event FROM ev e)
  ),
  rules AS MATERIALIZED (
    -- each rule's actions, worked out once per rule rather than once per event
    SELECT rr.tenant_id, rr.rule_id, rr.rule_name, rr.trigger_event, x.executed, x.error
      FROM rule_rows rr
     CROSS JOIN LATERAL (
       SELECT coalesce(jsonb_agg(a.action || jsonb_build_object(
                         'status', CASE WHEN a.action ->> 'type' IN ('notify', 'escalate') THEN 'success' ELSE 'failed' END,
                         'duration_ms', 0) ORDER BY a.ord), '[]'::jsonb) AS executed,
              string_agg(format('unsupported action type "%s"', coalesce(a.action ->> 'type', '(none)')), '; ' ORDER BY a.ord)
                FILTER (WHERE coalesce(a.action ->> 'type', '') NOT IN ('notify', 'escalate')) AS error
         FROM jsonb_array_elements(CASE WHEN jsonb_typeof(rr.actions) = 'array' THEN rr.actions ELSE '[]'::jsonb END)
              WITH ORDINALITY AS a(action, ord)
     ) x
  ),
  fired AS MATERIALIZED (
    SELECT e.*, r.rule_id, r.rule_name, r.executed, r.error, gen_random_uuid() AS log_id
      FROM ev e
      JOIN rules r ON r.tenant_id = e.tenant_id AND r.trigger_event = e.event
     -- a rule that already ran for this event key is left out (runs of a job never overlap;
     -- the unique index on the keys is the backstop)
     WHERE NOT EXISTS (SELECT 1 FROM bgjobs_app.automation_events ae
                        WHERE ae.tenant_id = e.tenant_id AND ae.rule_id = r.rule_id AND ae.event_key = e.event_key)
  ),
  recorded AS (
    INSERT INTO bgjobs_app.automation_events (log_id, tenant_id, rule_id, event_key, entity_type, entity_id, event_data, fired_at)
    SELECT f.log_id, f.tenant_id, f.rule_id, f.event_key, f.entity_type, f.entity_id, f.data, $1
      FROM fired f
  ),
  logged AS (
    INSERT INTO public.automation_logs
           (id, tenant_id, rule_id, rule_name, trigger_event, status, actions_executed, error_message, executed_at)
    SELECT f.log_id, f.tenant_id, f.rule_id, f.rule_name, f.event,
           CASE WHEN f.error IS NULL THEN 'success' ELSE 'failed' END,
           f.executed, f.error, $1
      FROM fired f
  ),
  rule_acts AS MATERIALIZED (
    -- each rule's executable actions, a row each, with the type and recipient as text:
    -- worked out once per rule, not once per event (materialized: else the planner calls
    -- jsonb_array_elements once per fired row, after the join)
    SELECT r.rule_id, a.action ->> 'type' AS act_type, a.action ->> 'to' AS act_to
      FROM rules r
     CROSS JOIN LATERAL jsonb_array_elements(r.executed) AS a(action)
     WHERE a.action ->> 'type' IN ('notify', 'escalate')
  ),
  actions AS (
    -- only what the actions need (not the logged actions_executed)
    SELECT f.tenant_id, f.event, f.entity_type, f.entity_id, f.event_key, f.data, f.task_given,
           f.task_case, f.task_assignee, f.task_title, f.rule_id, f.rule_name, f.log_id,
           ra.act_type, ra.act_to
      FROM fired f
      JOIN rule_acts ra ON ra.rule_id = f.rule_id
  ),
  targets AS (
    -- a key that is NULL unless the row is read (given task facts, the other entity type)
    -- costs no index probe
    SELECT ac.tenant_id, ac.event, ac.entity_type, ac.entity_id, ac.event_key, ac.data, ac.rule_id,
           ac.rule_name, ac.log_id, ac.act_type, ac.act_to,
           CASE WHEN ac.task_given THEN ac.task_case ELSE coalesce(tk.case_id, h.case_id) END AS case_id,
           CASE WHEN ac.task_given THEN ac.task_assignee ELSE tk.assigned_to END AS assignee,
           CASE WHEN ac.task_given THEN ac.task_title ELSE coalesce(tk.title, cs.case_number) END AS entity_title
      FROM actions ac
      LEFT JOIN public.tasks tk
        ON tk.tenant_id = ac.tenant_id
       AND tk.id = CASE WHEN ac.entity_type = 'task' AND NOT ac.task_given THEN ac.entity_id END
      LEFT JOIN public.hearings h
        ON h.tenant_id = ac.tenant_id AND h.id = CASE WHEN ac.entity_type = 'hearing' THEN ac.entity_id END
      LEFT JOIN public.cases cs
        ON cs.tenant_id = h.tenant_id AND cs.id = h.case_id
  ),
  recipients AS MATERIALIZED (
    -- each notify action's users, each found by its key (three plain branches, not a
    -- LATERAL union of FROM-less selects: Citus plans these)
    SELECT tg.*, coalesce(tg.assignee, c.assigned_to) AS user_id
      FROM targets tg
      -- the case only for a task without an assignee (a NULL key costs no index probe)
      LEFT JOIN public.cases c
        ON c.tenant_id = tg.tenant_id AND c.id = CASE WHEN tg.assignee IS NULL THEN tg.case_id END
     WHERE tg.act_type = 'notify' AND tg.act_to = 'assignee'
    UNION ALL
    SELECT tg.*, c.owner_id
      FROM targets tg
      LEFT JOIN public.cases c ON c.tenant_id = tg.tenant_id AND c.id = tg.case_id
     WHERE tg.act_type = 'notify' AND tg.act_to = 'case_owner'
    UNION ALL
    -- role: a column the seeds' users have and the contract does not require
    SELECT tg.*, a.id
      FROM targets tg
      JOIN public.users a ON a.tenant_id = tg.tenant_id AND to_jsonb(a) ->> 'role' = 'admin'
     WHERE tg.act_type = 'notify' AND tg.act_to = 'admins'
  ),
  notified AS (
    INSERT INTO public.notifications (tenant_id, channel, recipient, template, payload, dedupe_key, category)
    SELECT rc.tenant_id, 'email', u.email, 'automation_notification',
           jsonb_build_object('rule_name', rc.rule_name, 'event', rc.event,
                              'entity_type', rc.entity_type, 'entity_id', rc.entity_id,
                              'title', rc.entity_title, 'details', rc.data,
                              'recipient_name', u.full_name, 'automation_log_id', rc.log_id),
           format('automation:%s:%s:%s', rc.rule_id, coalesce(rc.event_key, rc.log_id::text), u.id),
           'business'
      FROM recipients rc
      JOIN public.users u ON u.tenant_id = rc.tenant_id AND u.id = rc.user_id
     -- is_active: a column the seeds' users have and the contract does not require
     WHERE coalesce((to_jsonb(u) ->> 'is_active')::boolean, true)
    ON CONFLICT ON CONSTRAINT notifications_dedupe_key_key DO NOTHING
    RETURNING 1
  ),
  escalated AS (
    UPDATE public.tasks t
       -- CASE WHEN col = ..., not CASE col WHEN: Citus rewrites the latter wrongly in an
       -- UPDATE of a distributed table (citusdata/citus#2862)
       SET priority = CASE WHEN t.priority = 'Low' THEN 'Medium' WHEN t.priority = 'Medium' THEN 'High' ELSE 'Critical' END
      FROM (SELECT DISTINCT tg.tenant_id, tg.entity_id
              FROM targets tg
             WHERE tg.act_type = 'escalate' AND tg.entity_type = 'task') x
     WHERE t.tenant_id = x.tenant_id AND t.id = x.entity_id AND t.priority <> 'Critical'
    RETURNING 1
  )
  SELECT count(*) FROM fired
  $sql$
  INTO v_logged
  USING p_as_of, p_tenant_ids, p_events, p_entity_types, p_entity_ids, p_event_keys, p_data, p_task_cases, p_task_assignees, p_task_titles;

  RETURN v_logged;
END;
$$;
COMMENT ON FUNCTION bgjobs_app.fire_automation_events(timestamptz, uuid[], text[], text[], uuid[], text[], jsonb[], uuid[], uuid[], text[]) IS
  'Runs each tenant''s active automation rules for a batch of events, set-based; one automation_logs row per rule execution; idempotent per event key.';
REVOKE ALL ON FUNCTION bgjobs_app.fire_automation_events(timestamptz, uuid[], text[], text[], uuid[], text[], jsonb[], uuid[], uuid[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs_app.fire_automation_events(timestamptz, uuid[], text[], text[], uuid[], text[], jsonb[], uuid[], uuid[], text[]) TO bgjobs_runner;
