-- bgjobs.job_check_sla_and_overdue(as_of, tenants): body of check-sla-and-overdue (every 15
-- minutes).  Among the open tasks ('Open', 'In Progress') of the tenants (NULL: all):
--   overdue        due_date < as_of (a task due exactly at as_of is not yet overdue);
--   SLA violation  due_date + sla_hours_<priority> (app_settings) < as_of.
-- Each is detected once per overdue episode: the task is flagged (is_overdue/overdue_since,
-- sla_violated/sla_violated_at) and only unflagged tasks are candidates, so a later tick
-- does not repeat it; the flags are cleared (bgjobs.tasks_reset_overdue) when the task is
-- completed, cancelled or reopened or its due date moves into the future, which starts a
-- new episode.  For each detection the tenant's active rules for task_overdue /
-- sla_violation run (bgjobs.fire_automation_events: one automation_logs row per rule
-- execution) and each SLA violation is logged to audit_log (action_type 'sla_violation').
-- Set-based: the candidates are range scans of expression indexes whose key is NULL once a
-- task is flagged, so the cost of a tick follows what is new, not the size of the table;
-- the flagging UPDATE then visits exactly those rows by ctid.
-- Results: overdueTasks (newly overdue), slaViolations (newly violating), rulesTriggered,
-- recordsUpdated (tasks flagged).
CREATE OR REPLACE FUNCTION bgjobs.job_check_sla_and_overdue(p_as_of timestamptz, p_tenants uuid[])
RETURNS jsonb
LANGUAGE plpgsql
SET search_path TO pg_catalog, pg_temp
SET plan_cache_mode TO force_custom_plan      -- plan with the actual as_of and SLA cut-offs
SET jit TO off                                -- compiling costs more than these index scans
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
BEGIN
  WITH candidates AS (
    -- each branch is a range scan of tasks_overdue_pending_idx / tasks_sla_pending_idx
    SELECT t.ctid AS tid, true AS new_overdue, false AS new_sla, NULL::numeric AS sla_hours
      FROM public.tasks t
     WHERE (CASE WHEN t.status IN ('Open', 'In Progress') AND NOT t.is_overdue THEN t.due_date END) < p_as_of
       AND (p_tenants IS NULL OR t.tenant_id = ANY (p_tenants))
    UNION ALL
    SELECT t.ctid, false, true,
           CASE t.priority WHEN 'Critical' THEN v_hours_critical WHEN 'High' THEN v_hours_high
                           WHEN 'Medium' THEN v_hours_medium ELSE v_hours_low END
      FROM public.tasks t
     WHERE ((t.priority = 'Critical'
             AND (CASE WHEN t.status IN ('Open', 'In Progress') AND NOT t.sla_violated THEN t.due_date END) < v_cut_critical)
         OR (t.priority = 'High'
             AND (CASE WHEN t.status IN ('Open', 'In Progress') AND NOT t.sla_violated THEN t.due_date END) < v_cut_high)
         OR (t.priority = 'Medium'
             AND (CASE WHEN t.status IN ('Open', 'In Progress') AND NOT t.sla_violated THEN t.due_date END) < v_cut_medium)
         OR (t.priority = 'Low'
             AND (CASE WHEN t.status IN ('Open', 'In Progress') AND NOT t.sla_violated THEN t.due_date END) < v_cut_low))
       AND (p_tenants IS NULL OR t.tenant_id = ANY (p_tenants))
  ),
  found AS (
    SELECT c.tid, bool_or(c.new_overdue) AS new_overdue, bool_or(c.new_sla) AS new_sla,
           max(c.sla_hours) AS sla_hours
      FROM candidates c
     GROUP BY c.tid
     ORDER BY c.tid                                    -- visit the heap in physical order
  ),
  flagged AS (
    UPDATE public.tasks t
       SET is_overdue      = true,
           overdue_since   = CASE WHEN f.new_overdue THEN p_as_of ELSE t.overdue_since END,
           sla_violated    = t.sla_violated OR f.new_sla,
           sla_violated_at = CASE WHEN f.new_sla THEN p_as_of ELSE t.sla_violated_at END
      FROM found f
     WHERE t.ctid = f.tid
       AND t.status IN ('Open', 'In Progress')       -- rechecked if a concurrent change moved the row
       AND (NOT t.is_overdue OR NOT t.sla_violated)
    RETURNING t.tenant_id, t.id, t.case_id, t.priority, t.due_date, t.overdue_since, t.assigned_to,
              f.new_overdue, f.new_sla, f.sla_hours
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
    SELECT fl.tenant_id, e.event, fl.id,
           e.event || ':' || fl.id || ':' || extract(epoch FROM fl.overdue_since)::bigint AS event_key,
           e.data
      FROM flagged fl
     CROSS JOIN LATERAL (
       VALUES ('task_overdue', fl.new_overdue,
               jsonb_build_object('task_id', fl.id, 'case_id', fl.case_id, 'priority', fl.priority,
                                  'days_overdue', floor(extract(epoch FROM p_as_of - fl.due_date) / 86400)::integer)),
              ('sla_violation', fl.new_sla,
               jsonb_build_object('task_id', fl.id, 'case_id', fl.case_id, 'priority', fl.priority,
                                  'sla_threshold', fl.due_date + fl.sla_hours * interval '1 hour',
                                  'actual_time', p_as_of))
     ) AS e(event, happened, data)
     WHERE e.happened
       -- an event only matters to a tenant with an active rule for it
       AND EXISTS (SELECT 1 FROM public.automation_rules r
                    WHERE r.tenant_id = fl.tenant_id AND r.trigger_event = e.event AND r.is_active)
  )
  SELECT (SELECT count(*) FROM flagged WHERE new_overdue),
         (SELECT count(*) FROM flagged WHERE new_sla),
         (SELECT count(*) FROM flagged),
         array_agg(ev.tenant_id), array_agg(ev.event), array_agg(ev.id), array_agg(ev.event_key), array_agg(ev.data)
    INTO v_overdue, v_sla, v_updated, v_tenant, v_event, v_entity, v_key, v_data
    FROM events ev;

  IF cardinality(v_tenant) > 0 THEN
    v_rules := bgjobs.fire_automation_events(
      p_as_of, v_tenant, v_event, array_fill('task'::text, ARRAY[cardinality(v_tenant)]), v_entity, v_key, v_data);
  END IF;

  RETURN jsonb_build_object(
    'overdueTasks', v_overdue,
    'slaViolations', v_sla,
    'rulesTriggered', v_rules,
    'recordsUpdated', v_updated);
END;
$$;
COMMENT ON FUNCTION bgjobs.job_check_sla_and_overdue(timestamptz, uuid[]) IS
  'check-sla-and-overdue: flags newly overdue tasks and SLA violations once per episode, runs automation rules, audits violations.';
REVOKE ALL ON FUNCTION bgjobs.job_check_sla_and_overdue(timestamptz, uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.job_check_sla_and_overdue(timestamptz, uuid[]) TO bgjobs_runner;
