-- bgjobs_app.job_check_upcoming_deadlines(as_of, tenants): body of check-upcoming-deadlines
-- (09:00 in each tenant's zone).  Items: open tasks ('Open', 'In Progress') and scheduled
-- hearings of the tenants (NULL: all) due between as_of and as_of + 24 hours (both ends
-- included).  A task goes to its assignee (its case owner when unassigned); a hearing to
-- the case owner and the assigned advocate.  Each user gets ONE consolidated email
-- (template deadline_digest) listing every item with its due time in the tenant's zone,
-- high priority first (Critical and High tasks, and hearings), then normal, each section by
-- due time; dedupe_key user + local date: once per user and day.  Each item also emits one
-- deadline_approaching event to the tenant's automation rules
-- ({entity_type, entity_id, hours_until_due}), once per item and local date.
-- Results: itemsFound, usersNotified, rulesTriggered, recordsUpdated (digests queued).
CREATE OR REPLACE FUNCTION bgjobs_app.job_check_upcoming_deadlines(p_as_of timestamptz, p_tenants uuid[])
RETURNS jsonb
LANGUAGE plpgsql
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  v_items    integer;
  v_digests  integer;
  v_rules    integer := 0;
  v_tenant   uuid[];
  v_etype    text[];
  v_entity   uuid[];
  v_key      text[];
  v_data     jsonb[];
BEGIN
  WITH scope AS (
    SELECT t.id AS tenant_id, t.timezone, (p_as_of AT TIME ZONE t.timezone)::date AS local_date
      FROM public.tenants t
     WHERE p_tenants IS NULL OR t.id = ANY (p_tenants)
  ),
  items AS (
    SELECT s.tenant_id, s.timezone, s.local_date, 'task' AS entity_type, t.id AS entity_id, 'Task' AS kind,
           t.title, t.due_date AS due_at, t.priority, t.priority IN ('Critical', 'High') AS high,
           t.case_id, ARRAY[coalesce(t.assigned_to, c.owner_id)] AS user_ids
      FROM scope s
      JOIN public.tasks t
        ON t.tenant_id = s.tenant_id AND t.status IN ('Open', 'In Progress')
       AND t.due_date >= p_as_of AND t.due_date <= p_as_of + interval '24 hours'
      LEFT JOIN public.cases c ON c.tenant_id = t.tenant_id AND c.id = t.case_id
    UNION ALL
    SELECT s.tenant_id, s.timezone, s.local_date, 'hearing', h.id, 'Hearing',
           c.case_number || coalesce(' ' || nullif(c.title, ''), '') || ' at ' || coalesce(co.name, 'court to be confirmed'),
           h.hearing_date, NULL, true, h.case_id, ARRAY[c.owner_id, c.assigned_to]
      FROM scope s
      JOIN public.hearings h
        ON h.tenant_id = s.tenant_id AND h.status = 'Scheduled'
       AND h.hearing_date >= p_as_of AND h.hearing_date <= p_as_of + interval '24 hours'
      JOIN public.cases c ON c.tenant_id = h.tenant_id AND c.id = h.case_id
      LEFT JOIN public.courts co ON co.id = h.court_id
  ),
  user_items AS (
    SELECT DISTINCT i.*, u.id AS user_id, u.email, u.full_name
      FROM items i
     CROSS JOIN LATERAL unnest(i.user_ids) AS r(user_id)
      JOIN public.users u ON u.tenant_id = i.tenant_id AND u.id = r.user_id
     WHERE nullif(btrim(u.email), '') IS NOT NULL
       -- is_active: a column the seeds' users have and the contract does not require
       AND coalesce((to_jsonb(u) ->> 'is_active')::boolean, true)
  ),
  digests AS (
    SELECT ui.tenant_id, ui.user_id, ui.email, ui.full_name, ui.timezone, ui.local_date,
           jsonb_agg(jsonb_build_object(
                       'kind', ui.kind, 'title', ui.title,
                       'due_at', to_char(ui.due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                       'high', ui.high, 'priority', ui.priority,
                       'entity_type', ui.entity_type, 'entity_id', ui.entity_id)
                     ORDER BY ui.high DESC, ui.due_at, ui.title) AS items,
           count(*) FILTER (WHERE ui.high) AS high_count
      FROM user_items ui
     GROUP BY ui.tenant_id, ui.user_id, ui.email, ui.full_name, ui.timezone, ui.local_date
  ),
  queued AS (
    INSERT INTO public.notifications (tenant_id, channel, recipient, template, payload, dedupe_key, category)
    SELECT d.tenant_id, 'email', btrim(d.email), 'deadline_digest',
           jsonb_build_object('timezone', d.timezone,
                              'as_of', to_char(p_as_of AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                              'local_date', d.local_date, 'user_id', d.user_id,
                              'recipient_name', d.full_name, 'high_count', d.high_count,
                              'items', d.items),
           format('deadline_digest:%s:%s', d.user_id, d.local_date),
           'business'
      FROM digests d
    ON CONFLICT ON CONSTRAINT notifications_dedupe_key_key DO NOTHING
    RETURNING 1
  )
  SELECT count(*),
         (SELECT count(*) FROM queued),
         array_agg(i.tenant_id), array_agg(i.entity_type), array_agg(i.entity_id),
         array_agg(format('deadline_approaching:%s:%s:%s', i.entity_type, i.entity_id, i.local_date)),
         array_agg(jsonb_build_object('entity_type', i.entity_type, 'entity_id', i.entity_id,
                                      'case_id', i.case_id,
                                      'hours_until_due', round(extract(epoch FROM i.due_at - p_as_of) / 3600, 2)))
    INTO v_items, v_digests, v_tenant, v_etype, v_entity, v_key, v_data
    FROM items i;

  IF v_items > 0 THEN
    v_rules := bgjobs_app.fire_automation_events(
      p_as_of, v_tenant, array_fill('deadline_approaching'::text, ARRAY[v_items]), v_etype, v_entity, v_key, v_data);
  END IF;

  RETURN jsonb_build_object(
    'itemsFound', v_items,
    'usersNotified', v_digests,
    'rulesTriggered', v_rules,
    'recordsUpdated', v_digests);
END;
$$;
COMMENT ON FUNCTION bgjobs_app.job_check_upcoming_deadlines(timestamptz, uuid[]) IS
  'check-upcoming-deadlines: one digest per user of tasks and hearings due in the next 24 hours, and a deadline_approaching event per item.';
REVOKE ALL ON FUNCTION bgjobs_app.job_check_upcoming_deadlines(timestamptz, uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs_app.job_check_upcoming_deadlines(timestamptz, uuid[]) TO bgjobs_runner;
