-- bgjobs_app.job_check_sla_and_overdue(as_of, tenants): body of check-sla-and-overdue (every 15
-- minutes).  Among the open tasks ('Open', 'In Progress') of the tenants (NULL: all):
--   overdue        due_date < as_of (a task due exactly at as_of is not yet overdue);
--   SLA violation  due_date + sla_hours_<priority> (app_settings) < as_of.
-- Each is detected once per overdue episode: bgjobs_app.task_flags holds the tasks in an episode
-- (overdue_since, sla_violated_at: the as_of of the tick that found each), so a later tick
-- does not repeat it, and the application's task rows are never written.  An episode ends
-- when a tick finds its task closed ('Completed', 'Cancelled'), deleted, or no longer due
-- before the moment the episode began (its due date moved, or removed); if the task is past
-- due again at that tick, a new episode begins at once.  (A task closed and reopened between
-- two ticks stays in its episode.)  For each detection the tenant's active rules for
-- task_overdue / sla_violation run (bgjobs_app.fire_automation_events: one automation_logs row
-- per rule execution) and each SLA violation is logged to audit_log (action_type
-- 'sla_violation').
-- Set-based: one pass pairs the open past-due tasks with the flags (a full pass: a full
-- join; an incremental tick: each candidate task with its flag, by key), tasks without a
-- flag are new, flags without such a task end; then one insert, one update and one delete.
-- Incremental: a tick reads only the tasks that can change anything since the last tick
-- (bgjobs_app.sla_tick_state, as_of L): the open tasks that became past due (due_date in
-- [L, as_of)) or past their priority's SLA (due_date in [L - hours, as_of - hours)), found
-- by range scans of tasks_open_due_date_idx, and the tasks in the change feed
-- (bgjobs_app.task_changes: inserted, deleted, closed, reopened, re-dated, re-prioritised;
-- sql/app/bgjobs_app.tasks_sla_feed.sql).  Any other task is as the last tick left it, so a
-- full pass would change nothing for it either.  A full pass (every open past-due task,
-- every flag) instead when that cannot be trusted: no tick recorded yet; no feed (the
-- triggers are missing or disabled: an application's own tasks table, or one distributed
-- by Citus); a TRUNCATE of tasks; a replay (as_of not after the last tick's, or the last
-- tick was itself a replay: a flag may then be newer than it); other tenants than the
-- last tick's; other SLA hours; and at least once a day of as_of (a safety net for
-- changes the feed cannot see: triggers disabled for a while, flags edited by hand).
-- bgjobs_app.sla_tick_state records which pass the tick made and why.
-- Results: overdueTasks (newly overdue), slaViolations (newly violating), rulesTriggered,
-- recordsUpdated (tasks flagged).
CREATE OR REPLACE FUNCTION bgjobs_app.job_check_sla_and_overdue(p_as_of timestamptz, p_tenants uuid[])
RETURNS jsonb
LANGUAGE plpgsql
SET search_path TO pg_catalog, pg_temp
SET plan_cache_mode TO force_custom_plan      -- plan with the actual as_of and SLA cut-offs
SET jit TO off                                -- compiling costs more than these scans save
AS $$
DECLARE
  v_hours_critical numeric := bgjobs.get_setting('sla_hours_critical')::numeric;
  v_hours_high     numeric := bgjobs.get_setting('sla_hours_high')::numeric;
  v_hours_medium   numeric := bgjobs.get_setting('sla_hours_medium')::numeric;
  v_hours_low      numeric := bgjobs.get_setting('sla_hours_low')::numeric;
  v_cut_critical timestamptz := p_as_of - v_hours_critical * interval '1 hour';
  v_cut_high     timestamptz := p_as_of - v_hours_high * interval '1 hour';
  v_cut_medium   timestamptz := p_as_of - v_hours_medium * interval '1 hour';
  v_cut_low      timestamptz := p_as_of - v_hours_low * interval '1 hour';
  v_overdue  integer;
  v_sla      integer;
  v_updated  integer;
  v_rules    integer := 0;
  v_tenant   uuid[];
  v_event    text[];
  v_entity   uuid[];
  v_key      text[];
  v_data     jsonb[];
  v_cases    uuid[];                  -- each event's task facts, for its rules' actions
  v_assignee uuid[];
  v_title    text[];
  v_hours    numeric[] := ARRAY[v_hours_critical, v_hours_high, v_hours_medium, v_hours_low];
  v_tenants  uuid[] := CASE WHEN p_tenants IS NOT NULL
                            THEN ARRAY(SELECT DISTINCT x FROM unnest(p_tenants) x ORDER BY x) END;
  v_state    bgjobs_app.sla_tick_state;
  v_reason   text;
  v_full     boolean;
  v_fed_t    uuid[];                  -- the change feed this tick consumed
  v_fed_i    uuid[];
  v_cand     integer;                 -- the tasks an incremental tick read
BEGIN
  -- one tick at a time (the state row stays locked to the end of the transaction)
  SELECT * INTO v_state FROM bgjobs_app.sla_tick_state FOR UPDATE;
  -- The feed is consumed whichever pass follows (a full pass covers it).  Its own
  -- statement: a change committed while this DELETE waited for its feed row is seen by the
  -- statements below (each takes a new snapshot); one committed later keeps its row.
  WITH fed AS (DELETE FROM bgjobs_app.task_changes RETURNING tenant_id, task_id)
  SELECT array_agg(fed.tenant_id), array_agg(fed.task_id) INTO v_fed_t, v_fed_i FROM fed;

  v_reason := CASE
    WHEN v_state.as_of IS NULL THEN 'no tick recorded'
    WHEN (SELECT count(*) FROM pg_catalog.pg_trigger tg
           WHERE tg.tgrelid = pg_catalog.to_regclass('public.tasks') AND tg.tgenabled <> 'D'
             AND tg.tgname IN ('tasks_sla_feed_insert', 'tasks_sla_feed_update',
                               'tasks_sla_feed_delete', 'tasks_sla_feed_truncate')) < 4 THEN 'no change feed'
    WHEN '00000000-0000-0000-0000-000000000000'::uuid = ANY (v_fed_t) THEN 'tasks truncated'
    WHEN p_as_of <= v_state.as_of THEN 'replay'
    WHEN v_state.max_as_of > v_state.as_of THEN 'after a replay'
    WHEN v_state.tenants IS DISTINCT FROM v_tenants THEN 'other tenants'
    WHEN v_state.sla_hours IS DISTINCT FROM v_hours THEN 'other SLA hours'
    WHEN p_as_of >= v_state.full_as_of + interval '1 day' THEN 'daily full pass'
  END;
  v_full := v_reason IS NOT NULL;

  -- v_full is a constant in each (custom) plan: the branches not taken are never run.
  -- cand (incremental): the open tasks that became past due or past their SLA since the
  -- last tick (same priority and hours as then: a change of either is in the feed or
  -- forces a full pass), read once by range scans, and the feed's tasks (deleted ones
  -- too: their flags end).
  WITH cand AS MATERIALIZED (
    SELECT t.tenant_id, t.id, t.case_id, t.priority, t.due_date, t.status, t.assigned_to, t.title
      FROM public.tasks t
     WHERE NOT v_full AND t.status IN ('Open', 'In Progress')
       AND ((t.due_date >= v_state.as_of AND t.due_date < p_as_of)
            OR (t.priority = 'Critical' AND t.due_date >= v_state.as_of - v_hours_critical * interval '1 hour'
                AND t.due_date < v_cut_critical)
            OR (t.priority = 'High' AND t.due_date >= v_state.as_of - v_hours_high * interval '1 hour'
                AND t.due_date < v_cut_high)
            OR (t.priority = 'Medium' AND t.due_date >= v_state.as_of - v_hours_medium * interval '1 hour'
                AND t.due_date < v_cut_medium)
            OR ((t.priority IS NULL OR t.priority NOT IN ('Critical', 'High', 'Medium'))
                AND t.due_date >= v_state.as_of - v_hours_low * interval '1 hour'
                AND t.due_date < v_cut_low))
    UNION
    SELECT u.tenant_id, u.task_id, t.case_id, t.priority, t.due_date, t.status, t.assigned_to, t.title
      FROM ROWS FROM (unnest(v_fed_t), unnest(v_fed_i)) u(tenant_id, task_id)
      LEFT JOIN public.tasks t ON t.tenant_id = u.tenant_id AND t.id = u.task_id
     WHERE NOT v_full
  ),
  -- pairs: each open past-due task with its flag, and each flag without such a task.
  -- A full pass joins all of them (a full join); an incremental tick only its candidates,
  -- each with its flag found by its key (OFFSET 0 keeps that a probe per candidate: joined
  -- as a whole, the flags table was read and hashed, a cost that grows with every flag kept).
  pairs AS (
    SELECT coalesce(o.tenant_id, f.tenant_id) AS tenant_id, coalesce(o.id, f.task_id) AS task_id,
           o.id IS NOT NULL AS past_due, o.case_id, o.priority, o.due_date, o.assigned_to, o.title,
           f.task_id AS flag_task_id, f.overdue_since AS flag_overdue_since, f.sla_violated_at AS flag_sla_violated_at
      FROM (SELECT t.tenant_id, t.id, t.case_id, t.priority, t.due_date, t.assigned_to, t.title
              FROM public.tasks t
             WHERE v_full AND t.status IN ('Open', 'In Progress') AND t.due_date < p_as_of
               AND (p_tenants IS NULL OR t.tenant_id = ANY (p_tenants))) o
      FULL JOIN (SELECT f.tenant_id, f.task_id, f.overdue_since, f.sla_violated_at
                   FROM bgjobs_app.task_flags f
                  WHERE v_full AND (p_tenants IS NULL OR f.tenant_id = ANY (p_tenants))) f
        ON f.tenant_id = o.tenant_id AND f.task_id = o.id
    UNION ALL
    SELECT c.tenant_id, c.id, c.past_due, c.case_id, c.priority, c.due_date, c.assigned_to, c.title,
           f.task_id, f.overdue_since, f.sla_violated_at
      FROM (SELECT c.*, coalesce(c.status IN ('Open', 'In Progress') AND c.due_date < p_as_of
                                 AND (p_tenants IS NULL OR c.tenant_id = ANY (p_tenants)), false) AS past_due
              FROM cand c) c
      LEFT JOIN LATERAL (SELECT f.task_id, f.overdue_since, f.sla_violated_at
                           FROM bgjobs_app.task_flags f
                          WHERE f.tenant_id = c.tenant_id AND f.task_id = c.id
                            AND (p_tenants IS NULL OR f.tenant_id = ANY (p_tenants))
                         OFFSET 0) f ON true
     WHERE NOT v_full AND (c.past_due OR f.task_id IS NOT NULL)
  ),
  joined AS (
    SELECT p.tenant_id, p.task_id, p.past_due, p.case_id, p.priority, p.due_date, p.assigned_to, p.title,
           -- the flag's episode goes on only while the task is still due before it began
           CASE WHEN p.past_due AND p.due_date < p.flag_overdue_since THEN p.flag_overdue_since END AS overdue_since,
           CASE WHEN p.past_due AND p.due_date < p.flag_overdue_since THEN p.flag_sla_violated_at END AS sla_violated_at,
           -- a replay as of an earlier moment ends no episode that began after it
           p.flag_task_id IS NOT NULL AS had_flag,
           p.flag_task_id IS NOT NULL AND p.flag_overdue_since <= p_as_of AS may_end,
           CASE p.priority WHEN 'Critical' THEN v_hours_critical WHEN 'High' THEN v_hours_high
                           WHEN 'Medium' THEN v_hours_medium ELSE v_hours_low END AS sla_hours
      FROM pairs p
     -- only what this tick changes: a flag without its open past-due task, a task without a
     -- flag or due since its episode began, a flagged task now past its SLA
     WHERE NOT p.past_due OR p.flag_task_id IS NULL OR p.due_date >= p.flag_overdue_since
        OR (p.flag_sla_violated_at IS NULL
            AND p.due_date < CASE p.priority WHEN 'Critical' THEN v_cut_critical WHEN 'High' THEN v_cut_high
                                             WHEN 'Medium' THEN v_cut_medium ELSE v_cut_low END)
  ),
  found AS (
    SELECT j.tenant_id, j.task_id AS id, j.case_id, j.priority, j.due_date, j.assigned_to, j.title,
           j.sla_hours, j.had_flag,
           j.overdue_since IS NULL AS new_overdue,
           j.sla_violated_at IS NULL
             AND j.due_date < CASE j.priority WHEN 'Critical' THEN v_cut_critical WHEN 'High' THEN v_cut_high
                                              WHEN 'Medium' THEN v_cut_medium ELSE v_cut_low END AS new_sla,
           coalesce(j.overdue_since, p_as_of) AS overdue_since,
           j.sla_violated_at
      FROM joined j
     WHERE j.past_due AND (j.overdue_since IS NULL OR j.sla_violated_at IS NULL)
  ),
  -- plain INSERT and UPDATE rather than ON CONFLICT: which flags exist is known from the join
  inserted AS (
    INSERT INTO bgjobs_app.task_flags (tenant_id, task_id, overdue_since, sla_violated_at)
    SELECT f.tenant_id, f.id, f.overdue_since, CASE WHEN f.new_sla THEN p_as_of END
      FROM found f
     WHERE NOT f.had_flag
    RETURNING 1
  ),
  updated AS (
    UPDATE bgjobs_app.task_flags tf
       SET overdue_since = f.overdue_since,
           sla_violated_at = CASE WHEN f.new_sla THEN p_as_of ELSE f.sla_violated_at END
      FROM found f
     WHERE f.had_flag AND (f.new_overdue OR f.new_sla) AND tf.tenant_id = f.tenant_id AND tf.task_id = f.id
    RETURNING 1
  ),
  ended AS (
    DELETE FROM bgjobs_app.task_flags tf
     USING joined j
     WHERE j.may_end AND NOT j.past_due AND tf.tenant_id = j.tenant_id AND tf.task_id = j.task_id
    RETURNING 1
  ),
  flagged AS (
    SELECT f.* FROM found f WHERE f.new_overdue OR f.new_sla
  ),
  audited AS (
    INSERT INTO public.audit_log (tenant_id, action_type, entity_type, entity_id, details, "timestamp")
    SELECT fl.tenant_id, 'sla_violation', 'task', fl.id,
           jsonb_build_object('job_name', 'check-sla-and-overdue', 'task_id', fl.id, 'case_id', fl.case_id,
                              'priority', fl.priority, 'due_date', fl.due_date, 'sla_hours', fl.sla_hours,
                              'sla_threshold', fl.due_date + fl.sla_hours * interval '1 hour',
                              'actual_time', p_as_of,
                              'hours_past_due', round(extract(epoch FROM p_as_of - fl.due_date) / 3600, 2)),
           p_as_of
      FROM flagged fl
     WHERE fl.new_sla
  ),
  events AS (
    -- two plain branches (not LATERAL VALUES) and an uncorrelated IN: forms Citus plans
    SELECT ev.*
      FROM (SELECT fl.tenant_id, 'task_overdue' AS event, fl.id, fl.case_id, fl.assigned_to, fl.title,
                   fl.overdue_since,
                   jsonb_build_object('task_id', fl.id, 'case_id', fl.case_id, 'priority', fl.priority,
                                      'days_overdue', floor(extract(epoch FROM p_as_of - fl.due_date) / 86400)::integer) AS data
              FROM flagged fl
             WHERE fl.new_overdue
            UNION ALL
            SELECT fl.tenant_id, 'sla_violation', fl.id, fl.case_id, fl.assigned_to, fl.title,
                   fl.overdue_since,
                   jsonb_build_object('task_id', fl.id, 'case_id', fl.case_id, 'priority', fl.priority,
                                      'sla_threshold', fl.due_date + fl.sla_hours * interval '1 hour',
                                      'actual_time', p_as_of)
              FROM flagged fl
             WHERE fl.new_sla) ev
     -- an event only matters to a tenant with an active rule for it
     WHERE (ev.tenant_id, ev.event) IN (SELECT r.tenant_id, r.trigger_event FROM public.automation_rules r
                                         WHERE r.is_active)
  )
  SELECT (SELECT count(*) FROM flagged WHERE new_overdue),
         (SELECT count(*) FROM flagged WHERE new_sla),
         (SELECT count(*) FROM inserted) + (SELECT count(*) FROM updated),
         (SELECT count(*) FROM cand),
         array_agg(ev.tenant_id), array_agg(ev.event), array_agg(ev.id),
         array_agg(ev.event || ':' || ev.id || ':' || extract(epoch FROM ev.overdue_since)::bigint), array_agg(ev.data),
         array_agg(ev.case_id), array_agg(ev.assigned_to), array_agg(ev.title)
    INTO v_overdue, v_sla, v_updated, v_cand, v_tenant, v_event, v_entity, v_key, v_data,
         v_cases, v_assignee, v_title
    FROM events ev;

  UPDATE bgjobs_app.sla_tick_state
     SET as_of = p_as_of, max_as_of = greatest(max_as_of, p_as_of), tenants = v_tenants, sla_hours = v_hours,
         full_as_of = CASE WHEN v_full THEN p_as_of ELSE full_as_of END,
         last_pass = CASE WHEN v_full THEN 'full' ELSE 'incremental' END,
         last_reason = v_reason, candidates = CASE WHEN NOT v_full THEN v_cand END;

  IF cardinality(v_tenant) > 0 THEN
    v_rules := bgjobs_app.fire_automation_events(
      p_as_of, v_tenant, v_event, array_fill('task'::text, ARRAY[cardinality(v_tenant)]), v_entity, v_key, v_data,
      v_cases, v_assignee, v_title);
  END IF;

  RETURN jsonb_build_object(
    'overdueTasks', v_overdue,
    'slaViolations', v_sla,
    'rulesTriggered', v_rules,
    'recordsUpdated', v_updated);
END;
$$;
COMMENT ON FUNCTION bgjobs_app.job_check_sla_and_overdue(timestamptz, uuid[]) IS
  'check-sla-and-overdue: flags newly overdue tasks and SLA violations once per episode, runs automation rules, audits violations.';
REVOKE ALL ON FUNCTION bgjobs_app.job_check_sla_and_overdue(timestamptz, uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs_app.job_check_sla_and_overdue(timestamptz, uuid[]) TO bgjobs_runner;
