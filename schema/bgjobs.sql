CREATE SCHEMA bgjobs;

CREATE EXTENSION IF NOT EXISTS plpython3u WITH SCHEMA pg_catalog;

CREATE FUNCTION bgjobs.begin_run(p_job_name text, p_as_of timestamp with time zone, p_trigger text, p_session_lock boolean, OUT run_id uuid, OUT skipped boolean) RETURNS record
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
DECLARE
  v_got boolean;
  v_holder integer;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM bgjobs.job_registry r WHERE r.job_name = p_job_name) THEN
    RAISE EXCEPTION 'unknown job "%"', p_job_name
      USING ERRCODE = 'undefined_object',
            HINT = 'registered jobs: ' || coalesce((SELECT string_agg(r.job_name, ', ' ORDER BY r.job_name)
                                                    FROM bgjobs.job_registry r), '(none)');
  END IF;
  PERFORM bgjobs.reap_stale_runs(false);

  IF p_session_lock THEN
    v_got := pg_try_advisory_lock(1650944610, hashtext(p_job_name));
  ELSE
    v_got := pg_try_advisory_xact_lock(1650944610, hashtext(p_job_name));
  END IF;

  IF v_got THEN
    INSERT INTO public.jobs_log (job_name, started_at, status, as_of, trigger, pid)
    VALUES (p_job_name, clock_timestamp(), 'running', p_as_of, p_trigger, pg_backend_pid())
    RETURNING id INTO run_id;
    skipped := false;
  ELSE
    v_holder := bgjobs.lock_held(p_job_name);
    INSERT INTO public.jobs_log (job_name, started_at, completed_at, status, as_of, trigger, pid, error_message)
    VALUES (p_job_name, clock_timestamp(), clock_timestamp(), 'skipped', p_as_of, p_trigger, pg_backend_pid(),
            format('skipped: job "%s" is already running (pid %s)', p_job_name, coalesce(v_holder::text, '?')))
    RETURNING id INTO run_id;
    skipped := true;
  END IF;
END;
$$;

CREATE FUNCTION bgjobs.cron_jobs() RETURNS TABLE(jobid bigint, jobname text, schedule text, command text, database text, username text, active boolean)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
  IF to_regclass('cron.job') IS NULL THEN
    RETURN;
  END IF;
  RETURN QUERY EXECUTE
    'SELECT j.jobid, j.jobname::text, j.schedule::text, j.command::text, j.database::text, j.username::text, j.active FROM cron.job j';
END;
$$;

CREATE FUNCTION bgjobs.cron_next(p_schedule text, p_timezone text, p_after timestamp with time zone) RETURNS timestamp with time zone
    LANGUAGE plpython3u STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
if 'bgjobs_mod:bgjobs_schedule:6b01df588deb0afb' not in GD:
    import sys as _sys, types as _types
    _src = plpy.execute("SELECT source FROM bgjobs.plpython_modules WHERE name = 'bgjobs_schedule'")[0]['source']
    _mod = _types.ModuleType('bgjobs_schedule')
    _mod.__file__ = 'plpython/bgjobs_schedule.py'
    exec(compile(_src, 'plpython/bgjobs_schedule.py', 'exec'), _mod.__dict__)
    _sys.modules['bgjobs_schedule'] = _mod
    GD['bgjobs_mod:bgjobs_schedule:6b01df588deb0afb'] = _mod
bgjobs_schedule = GD['bgjobs_mod:bgjobs_schedule:6b01df588deb0afb']
return bgjobs_schedule.next_fire(p_schedule, p_timezone, p_after).isoformat()
$$;

CREATE FUNCTION bgjobs.due_tenants(p_job_name text, p_as_of timestamp with time zone) RETURNS uuid[]
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
DECLARE
  v_local_time time;
  v_tenant_local boolean;
  v_due uuid[];
BEGIN
  SELECT r.tenant_local, r.local_time INTO v_tenant_local, v_local_time
    FROM bgjobs.job_registry r WHERE r.job_name = p_job_name;
  IF NOT coalesce(v_tenant_local, false) THEN
    RETURN NULL;
  END IF;
  SELECT coalesce(array_agg(t.id ORDER BY t.id), '{}')
    INTO v_due
    FROM public.tenants t
    CROSS JOIN LATERAL (SELECT p_as_of AT TIME ZONE t.timezone AS local_now) l
   WHERE l.local_now >= l.local_now::date + v_local_time
     AND NOT EXISTS (SELECT 1 FROM bgjobs.tenant_job_runs r
                      WHERE r.tenant_id = t.id AND r.job_name = p_job_name
                        AND r.local_date = l.local_now::date);
  RETURN v_due;
END;
$$;

CREATE FUNCTION bgjobs.enqueue_alert(p_template text, p_payload jsonb, p_dedupe_key text) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
DECLARE
  v_n integer := 0;
  v_rows integer;
  v_email text := bgjobs.get_setting('alert_email_to');
BEGIN
  IF EXISTS (SELECT 1 FROM bgjobs.secrets WHERE name = 'SLACK_WEBHOOK_URL') THEN
    INSERT INTO public.notifications (channel, recipient, template, payload, dedupe_key, category)
    VALUES ('slack', NULL, p_template, p_payload, p_dedupe_key || ':slack', 'alert')
    ON CONFLICT ON CONSTRAINT notifications_dedupe_key_key DO NOTHING;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    v_n := v_n + v_rows;
  END IF;
  IF v_email IS NOT NULL THEN
    INSERT INTO public.notifications (channel, recipient, template, payload, dedupe_key, category)
    SELECT 'email', trim(addr), p_template, p_payload, p_dedupe_key || ':email:' || trim(addr), 'alert'
      FROM unnest(string_to_array(v_email, ',')) AS addr
     WHERE trim(addr) <> ''
    ON CONFLICT ON CONSTRAINT notifications_dedupe_key_key DO NOTHING;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    v_n := v_n + v_rows;
  END IF;
  RETURN v_n;
END;
$$;

CREATE FUNCTION bgjobs.execute_run(p_run_id uuid, p_job_name text, p_as_of timestamp with time zone, p_tenants uuid[] DEFAULT NULL::uuid[], p_mark_tenants boolean DEFAULT false) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $_$
DECLARE
  v_job      bgjobs.job_registry%ROWTYPE;
  v_started  timestamptz := clock_timestamp();
  v_results  jsonb;
  v_status   text;
  v_err      text;
  v_detail   text;
  v_hint     text;
  v_context  text;
  v_ms       integer;
  v_records  integer := 0;
  v_response jsonb;
BEGIN
  SELECT * INTO v_job FROM bgjobs.job_registry WHERE job_name = p_job_name;

  BEGIN
    IF to_regproc(format('%I.%I', v_job.function_schema, v_job.function_name)) IS NULL THEN
      RAISE EXCEPTION 'job "%" is not implemented yet', p_job_name
        USING ERRCODE = 'feature_not_supported',
              DETAIL = format('function %I.%I(timestamptz, uuid[]) does not exist',
                              v_job.function_schema, v_job.function_name);
    END IF;
    EXECUTE format('SELECT %I.%I($1, $2)', v_job.function_schema, v_job.function_name)
       INTO v_results USING p_as_of, p_tenants;
    v_results := coalesce(v_results, '{}'::jsonb);
    IF p_mark_tenants AND p_tenants IS NOT NULL THEN
      INSERT INTO bgjobs.tenant_job_runs (job_name, tenant_id, local_date, run_id)
      SELECT p_job_name, t.id, (p_as_of AT TIME ZONE t.timezone)::date, p_run_id
        FROM public.tenants t
       WHERE t.id = ANY (p_tenants)
      ON CONFLICT DO NOTHING;
    END IF;
    v_status := 'success';
  EXCEPTION WHEN query_canceled OR OTHERS THEN
    GET STACKED DIAGNOSTICS v_err = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL,
                            v_hint = PG_EXCEPTION_HINT, v_context = PG_EXCEPTION_CONTEXT;
    v_status := 'failed';
    v_results := NULL;
    IF clock_timestamp() - v_started >= v_job.timeout THEN
      v_err := format('cancelled: exceeded its timeout of %s (%s)', v_job.timeout, v_err);
    END IF;
  END;

  v_ms := round(extract(epoch FROM clock_timestamp() - v_started) * 1000)::integer;
  IF jsonb_typeof(v_results -> 'recordsUpdated') = 'number' THEN
    v_records := (v_results ->> 'recordsUpdated')::numeric::integer;
  END IF;

  UPDATE public.jobs_log
     SET status = v_status,
         completed_at = clock_timestamp(),
         records_updated = v_records,
         error_message = v_err,
         error_details = nullif(concat_ws(E'\n', v_detail, v_hint, v_context), ''),
         results = v_results
   WHERE id = p_run_id;

  INSERT INTO public.audit_log (action_type, entity_type, entity_id, details)
  VALUES ('background_job_execution', 'background_job', p_run_id,
          coalesce(v_results, '{}'::jsonb)
          || jsonb_build_object('job_name', p_job_name, 'status', v_status,
                                'execution_time_ms', v_ms, 'records_updated', v_records,
                                'run_id', p_run_id, 'as_of', p_as_of)
          || CASE WHEN v_err IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('error', v_err) END);

  PERFORM public.update_job_heartbeat(
    p_job_name,
    CASE v_status WHEN 'success' THEN 'healthy' ELSE 'failed' END,
    jsonb_build_object('run_id', p_run_id, 'last_status', v_status, 'records_updated', v_records,
                       'execution_time_ms', v_ms, 'as_of', p_as_of));

  v_response := jsonb_build_object(
    'success', v_status = 'success',
    'job', p_job_name,
    'executedAt', to_char(v_started AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'asOf', to_char(p_as_of AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
    'runId', p_run_id,
    'executionTime', trim_scale(round(v_ms / 1000.0, 3))::text || 's');
  IF v_status = 'success' THEN
    v_response := v_response || jsonb_build_object('results', v_results);
  ELSE
    v_response := v_response || jsonb_build_object('error', v_err, 'errorDetails',
                                                   coalesce(nullif(v_detail, ''), v_context));
  END IF;
  RETURN v_response;
END;
$_$;

CREATE FUNCTION bgjobs.fire_automation_events(p_as_of timestamp with time zone, p_tenant_ids uuid[], p_events text[], p_entity_types text[], p_entity_ids uuid[], p_event_keys text[], p_data jsonb[]) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
DECLARE
  v_logged integer;
BEGIN
  IF coalesce(cardinality(p_tenant_ids), 0) = 0 THEN
    RETURN 0;
  END IF;

  WITH ev AS (
    SELECT *
      FROM unnest(p_tenant_ids, p_events, p_entity_types, p_entity_ids, p_event_keys, p_data)
           AS e(tenant_id, event, entity_type, entity_id, event_key, data)
  ),
  fired AS (
    SELECT e.*, r.id AS rule_id, r.rule_name, x.executed, x.error
      FROM ev e
      JOIN public.automation_rules r
        ON r.tenant_id = e.tenant_id AND r.trigger_event = e.event AND r.is_active
     CROSS JOIN LATERAL (
       SELECT coalesce(jsonb_agg(a.action || jsonb_build_object(
                         'status', CASE WHEN a.action ->> 'type' IN ('notify', 'escalate') THEN 'success' ELSE 'failed' END,
                         'duration_ms', 0) ORDER BY a.ord), '[]'::jsonb) AS executed,
              string_agg(format('unsupported action type "%s"', coalesce(a.action ->> 'type', '(none)')), '; ' ORDER BY a.ord)
                FILTER (WHERE coalesce(a.action ->> 'type', '') NOT IN ('notify', 'escalate')) AS error
         FROM jsonb_array_elements(CASE jsonb_typeof(r.actions) WHEN 'array' THEN r.actions ELSE '[]'::jsonb END)
              WITH ORDINALITY AS a(action, ord)
     ) x
  ),
  logged AS (
    INSERT INTO public.automation_logs AS l
           (tenant_id, rule_id, rule_name, trigger_event, status, actions_executed, error_message,
            executed_at, entity_type, entity_id, event_data, event_key)
    SELECT f.tenant_id, f.rule_id, f.rule_name, f.event,
           CASE WHEN f.error IS NULL THEN 'success' ELSE 'failed' END,
           f.executed, f.error, p_as_of, f.entity_type, f.entity_id, f.data, f.event_key
      FROM fired f
    ON CONFLICT (tenant_id, rule_id, event_key) WHERE event_key IS NOT NULL DO NOTHING
    RETURNING l.id, l.tenant_id, l.rule_id, l.rule_name, l.trigger_event, l.entity_type, l.entity_id,
              l.event_data, l.event_key, l.actions_executed
  ),
  actions AS (
    SELECT lg.*, a.action
      FROM logged lg
     CROSS JOIN LATERAL jsonb_array_elements(lg.actions_executed) AS a(action)
     WHERE a.action ->> 'type' IN ('notify', 'escalate')
  ),
  targets AS (
    SELECT ac.*, coalesce(tk.case_id, h.case_id) AS case_id, tk.assigned_to AS task_assignee,
           coalesce(tk.title, cs.case_number) AS entity_title
      FROM actions ac
      LEFT JOIN public.tasks tk
        ON ac.entity_type = 'task' AND tk.tenant_id = ac.tenant_id AND tk.id = ac.entity_id
      LEFT JOIN public.hearings h
        ON ac.entity_type = 'hearing' AND h.tenant_id = ac.tenant_id AND h.id = ac.entity_id
      LEFT JOIN public.cases cs
        ON cs.tenant_id = h.tenant_id AND cs.id = h.case_id
  ),
  notified AS (
    INSERT INTO public.notifications (tenant_id, channel, recipient, template, payload, dedupe_key, category)
    SELECT tg.tenant_id, 'email', u.email, 'automation_notification',
           jsonb_build_object('rule_name', tg.rule_name, 'event', tg.trigger_event,
                              'entity_type', tg.entity_type, 'entity_id', tg.entity_id,
                              'title', tg.entity_title, 'details', tg.event_data,
                              'recipient_name', u.full_name, 'automation_log_id', tg.id),
           format('automation:%s:%s:%s', tg.rule_id,
                  coalesce(tg.event_key, tg.id::text), u.id),
           'business'
      FROM targets tg
      LEFT JOIN public.cases c ON c.tenant_id = tg.tenant_id AND c.id = tg.case_id
      JOIN public.users u
        ON u.tenant_id = tg.tenant_id AND u.is_active
       AND ((tg.action ->> 'to' = 'assignee' AND u.id = coalesce(tg.task_assignee, c.assigned_to))
         OR (tg.action ->> 'to' = 'case_owner' AND u.id = c.owner_id)
         OR (tg.action ->> 'to' = 'admins' AND u.role = 'admin'))
     WHERE tg.action ->> 'type' = 'notify'
    ON CONFLICT ON CONSTRAINT notifications_dedupe_key_key DO NOTHING
    RETURNING 1
  ),
  escalated AS (
    UPDATE public.tasks t
       SET priority = CASE t.priority WHEN 'Low' THEN 'Medium' WHEN 'Medium' THEN 'High' ELSE 'Critical' END,
           updated_at = now()
      FROM (SELECT DISTINCT tg.tenant_id, tg.entity_id
              FROM targets tg
             WHERE tg.action ->> 'type' = 'escalate' AND tg.entity_type = 'task') x
     WHERE t.tenant_id = x.tenant_id AND t.id = x.entity_id AND t.priority <> 'Critical'
    RETURNING 1
  )
  SELECT count(*) INTO v_logged FROM logged;

  RETURN v_logged;
END;
$$;

CREATE FUNCTION bgjobs.get_secret(p_name text) RETURNS text
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$ SELECT s.value FROM bgjobs.secrets s WHERE s.name = p_name $$;

CREATE FUNCTION bgjobs.get_setting(p_key text, p_default text DEFAULT NULL::text) RETURNS text
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$ SELECT coalesce((SELECT nullif(s.value, '') FROM public.app_settings s WHERE s.key = p_key), p_default) $$;

CREATE FUNCTION bgjobs.installments_set_tenant() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
BEGIN
  IF NEW.tenant_id IS NULL THEN
    SELECT p.tenant_id INTO NEW.tenant_id FROM public.payment_plans p WHERE p.id = NEW.payment_plan_id;
    IF NEW.tenant_id IS NULL THEN
      RAISE EXCEPTION 'payment plan % does not exist', NEW.payment_plan_id USING ERRCODE = 'foreign_key_violation';
    END IF;
  END IF;
  RETURN NEW;
END;
$$;

CREATE FUNCTION bgjobs.job_check_sla_and_overdue(p_as_of timestamp with time zone, p_tenants uuid[]) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
DECLARE
  v_hours_critical numeric := bgjobs.get_setting('sla_hours_critical', '4')::numeric;
  v_hours_high     numeric := bgjobs.get_setting('sla_hours_high', '24')::numeric;
  v_hours_medium   numeric := bgjobs.get_setting('sla_hours_medium', '72')::numeric;
  v_hours_low      numeric := bgjobs.get_setting('sla_hours_low', '168')::numeric;
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
  WITH sla (priority, hours) AS (
    VALUES ('Critical', v_hours_critical), ('High', v_hours_high),
           ('Medium', v_hours_medium), ('Low', v_hours_low)
  ),
  candidates AS (
    SELECT t.tenant_id, t.id, true AS new_overdue, false AS new_sla, NULL::numeric AS sla_hours
      FROM public.tasks t
     WHERE t.status IN ('Open', 'In Progress') AND NOT t.is_overdue
       AND t.due_date < p_as_of
       AND (p_tenants IS NULL OR t.tenant_id = ANY (p_tenants))
    UNION ALL
    SELECT t.tenant_id, t.id, false, true, s.hours
      FROM sla s
      JOIN public.tasks t
        ON t.priority = s.priority
       AND t.status IN ('Open', 'In Progress') AND NOT t.sla_violated
       AND t.due_date < p_as_of - s.hours * interval '1 hour'
     WHERE (p_tenants IS NULL OR t.tenant_id = ANY (p_tenants))
  ),
  found AS (
    SELECT c.tenant_id, c.id, bool_or(c.new_overdue) AS new_overdue, bool_or(c.new_sla) AS new_sla,
           max(c.sla_hours) AS sla_hours
      FROM candidates c
     GROUP BY c.tenant_id, c.id
  ),
  flagged AS (
    UPDATE public.tasks t
       SET is_overdue      = true,
           overdue_since   = CASE WHEN f.new_overdue THEN p_as_of ELSE t.overdue_since END,
           sla_violated    = t.sla_violated OR f.new_sla,
           sla_violated_at = CASE WHEN f.new_sla THEN p_as_of ELSE t.sla_violated_at END
      FROM found f
     WHERE t.tenant_id = f.tenant_id AND t.id = f.id
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
  )
  SELECT (SELECT count(*) FROM flagged WHERE new_overdue),
         (SELECT count(*) FROM flagged WHERE new_sla),
         (SELECT count(*) FROM flagged),
         array_agg(ev.tenant_id), array_agg(ev.event), array_agg(ev.id), array_agg(ev.event_key), array_agg(ev.data)
    INTO v_overdue, v_sla, v_updated, v_tenant, v_event, v_entity, v_key, v_data
    FROM events ev;

  IF v_updated > 0 THEN
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

CREATE FUNCTION bgjobs.job_send_hearing_reminders(p_as_of timestamp with time zone, p_tenants uuid[]) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
DECLARE
  v_hearings integer;
  v_email    integer;
  v_whatsapp integer;
BEGIN
  WITH scope AS (
    SELECT t.id AS tenant_id, t.timezone, t.whatsapp_enabled,
           (p_as_of AT TIME ZONE t.timezone)::date AS local_date
      FROM public.tenants t
     WHERE p_tenants IS NULL OR t.id = ANY (p_tenants)
  ),
  due AS (
    SELECT s.tenant_id, s.timezone, s.whatsapp_enabled, s.local_date,
           h.id AS hearing_id, h.hearing_date, c.id AS case_id, c.case_number, c.title AS case_title,
           c.owner_id, c.assigned_to,
           coalesce(co.name, 'court to be confirmed') AS court_name, co.city AS court_city
      FROM scope s
      JOIN public.hearings h
        ON h.tenant_id = s.tenant_id AND h.status = 'Scheduled'
       AND h.hearing_date >= (s.local_date::timestamp AT TIME ZONE s.timezone)
       AND h.hearing_date < ((s.local_date + 2)::timestamp AT TIME ZONE s.timezone)
      JOIN public.cases c ON c.tenant_id = h.tenant_id AND c.id = h.case_id
      LEFT JOIN public.courts co ON co.id = h.court_id
  ),
  recipients AS (
    SELECT DISTINCT ON (d.hearing_id, u.id)
           d.*, r.role, u.id AS user_id, u.email, u.phone, u.full_name
      FROM due d
     CROSS JOIN LATERAL (VALUES ('owner', d.owner_id), ('advocate', d.assigned_to)) AS r(role, user_id)
      JOIN public.users u ON u.tenant_id = d.tenant_id AND u.id = r.user_id AND u.is_active
     ORDER BY d.hearing_id, u.id, r.role DESC
  ),
  messages AS (
    SELECT r.*, m.channel, m.recipient
      FROM recipients r
     CROSS JOIN LATERAL (VALUES ('email', nullif(btrim(r.email), '')),
                                ('whatsapp', CASE WHEN r.whatsapp_enabled THEN nullif(btrim(r.phone), '') END))
           AS m(channel, recipient)
     WHERE m.recipient IS NOT NULL
  ),
  queued AS (
    INSERT INTO public.notifications (tenant_id, channel, recipient, template, payload, dedupe_key, category)
    SELECT m.tenant_id, m.channel, m.recipient, 'hearing_reminder',
           jsonb_build_object(
             'case_number', m.case_number, 'case_title', m.case_title,
             'court_name', m.court_name, 'court_city', m.court_city,
             'hearing_at', to_char(m.hearing_date AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
             'tenant_timezone', m.timezone, 'recipient_name', m.full_name, 'recipient_role', m.role,
             'hearing_id', m.hearing_id, 'case_id', m.case_id, 'user_id', m.user_id,
             'reminder_date', m.local_date,
             'day', CASE WHEN (m.hearing_date AT TIME ZONE m.timezone)::date = m.local_date
                         THEN 'today' ELSE 'tomorrow' END),
           format('hearing_reminder:%s:%s:%s:%s', m.hearing_id, m.channel, lower(m.recipient), m.local_date),
           'business'
      FROM messages m
    ON CONFLICT ON CONSTRAINT notifications_dedupe_key_key DO NOTHING
    RETURNING channel
  )
  SELECT (SELECT count(*) FROM due),
         count(*) FILTER (WHERE q.channel = 'email'),
         count(*) FILTER (WHERE q.channel = 'whatsapp')
    INTO v_hearings, v_email, v_whatsapp
    FROM queued q;

  RETURN jsonb_build_object(
    'hearingsFound', v_hearings,
    'emailsQueued', v_email,
    'whatsappQueued', v_whatsapp,
    'recordsUpdated', v_email + v_whatsapp);
END;
$$;

CREATE FUNCTION bgjobs.job_update_installment_statuses(p_as_of timestamp with time zone, p_tenants uuid[]) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
DECLARE
  v_updated integer;
  v_tenants integer;
BEGIN
  SELECT count(*) INTO v_tenants
    FROM public.tenants t
   WHERE p_tenants IS NULL OR t.id = ANY (p_tenants);

  UPDATE public.installments i
     SET status = 'overdue',
         updated_at = now()
    FROM public.tenants t
   WHERE i.tenant_id = t.id
     AND (p_tenants IS NULL OR t.id = ANY (p_tenants))
     AND i.status = 'pending'
     AND i.student_due_date < (p_as_of AT TIME ZONE t.timezone)::date;
  GET DIAGNOSTICS v_updated = ROW_COUNT;

  RETURN jsonb_build_object(
    'installmentsUpdated', v_updated,
    'tenantsProcessed', v_tenants,
    'recordsUpdated', v_updated);
END;
$$;

CREATE FUNCTION bgjobs.jobs_log_on_failure() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
DECLARE
  v_payload jsonb := jsonb_build_object(
    'job_name', NEW.job_name,
    'error_message', left(NEW.error_message, 2000),
    'alert_time', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
    'run_id', NEW.id);
BEGIN
  PERFORM pg_notify('job_failure', v_payload::text);
  PERFORM bgjobs.enqueue_alert('job_failure', v_payload, 'job_failure:' || NEW.id::text);
  RETURN NULL;
END;
$$;

CREATE FUNCTION bgjobs.lock_held(p_job_name text, p_pid integer DEFAULT NULL::integer) RETURNS integer
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  SELECT l.pid
  FROM pg_catalog.pg_locks l
  WHERE l.locktype = 'advisory'
    AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
    AND l.classid = 1650944610::oid
    AND l.objid = pg_catalog.hashtext(p_job_name)::oid
    AND l.objsubid = 2
    AND l.granted
    AND (p_pid IS NULL OR l.pid = p_pid)
  LIMIT 1
$$;

CREATE FUNCTION bgjobs.next_expected_run(p_job_name text, p_as_of timestamp with time zone DEFAULT now()) RETURNS timestamp with time zone
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
DECLARE
  r bgjobs.job_registry%ROWTYPE;
  v_next timestamptz;
BEGIN
  SELECT * INTO r FROM bgjobs.job_registry WHERE job_name = p_job_name;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  IF r.tenant_local THEN
    SELECT min(CASE
                 WHEN h.local_date IS NULL
                   THEN greatest(((l.local_now::date + r.local_time) AT TIME ZONE t.timezone), p_as_of)
                 ELSE ((l.local_now::date + 1 + r.local_time) AT TIME ZONE t.timezone)
               END)
      INTO v_next
      FROM public.tenants t
      CROSS JOIN LATERAL (SELECT p_as_of AT TIME ZONE t.timezone AS local_now) l
      LEFT JOIN bgjobs.tenant_job_runs h
        ON h.tenant_id = t.id AND h.job_name = r.job_name AND h.local_date = l.local_now::date;
    RETURN v_next;
  END IF;
  v_next := bgjobs.cron_next(r.schedule, r.timezone, p_as_of);
  IF v_next IS NULL THEN
    SELECT max(j.started_at) + r.expected_interval INTO v_next
      FROM public.jobs_log j WHERE j.job_name = r.job_name AND j.status <> 'skipped';
  END IF;
  RETURN v_next;
END;
$$;

CREATE FUNCTION bgjobs.reap_stale_runs(p_cancel_overdue boolean DEFAULT false) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
DECLARE
  v_reaped integer := 0;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM public.jobs_log WHERE status = 'running') AND NOT p_cancel_overdue THEN
    RETURN 0;
  END IF;

  UPDATE public.jobs_log j
     SET status = 'failed',
         completed_at = clock_timestamp(),
         error_message = format('run abandoned: its backend (pid %s) ended before the run finished '
                                '(terminated, crashed or server restarted)', j.pid)
   WHERE j.status = 'running'
     AND j.pid IS DISTINCT FROM pg_backend_pid()
     AND bgjobs.lock_held(j.job_name, j.pid) IS NULL;
  GET DIAGNOSTICS v_reaped = ROW_COUNT;

  IF p_cancel_overdue THEN
    PERFORM pg_cancel_backend(h.pid)
      FROM bgjobs.job_registry r
      CROSS JOIN LATERAL (SELECT bgjobs.lock_held(r.job_name) AS pid) h
      JOIN pg_stat_activity a ON a.pid = h.pid
     WHERE h.pid IS NOT NULL
       AND h.pid <> pg_backend_pid()
       AND a.xact_start < clock_timestamp() - r.timeout;
  END IF;
  RETURN v_reaped;
END;
$$;

CREATE FUNCTION bgjobs.release_run_lock(p_job_name text) RETURNS boolean
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$ SELECT pg_catalog.pg_advisory_unlock(1650944610, pg_catalog.hashtext(p_job_name)) $$;

CREATE PROCEDURE bgjobs.run_scheduled_job(IN p_job_name text, IN p_as_of timestamp with time zone DEFAULT NULL::timestamp with time zone)
    LANGUAGE plpgsql
    AS $$
DECLARE
  v_as_of   timestamptz := coalesce(p_as_of, pg_catalog.now());
  v_tenants uuid[];
  v_run     uuid;
  v_skip    boolean;
  v_resp    jsonb;
BEGIN
  PERFORM bgjobs.reap_stale_runs(true);
  v_tenants := bgjobs.due_tenants(p_job_name, v_as_of);
  IF v_tenants IS NOT NULL AND pg_catalog.cardinality(v_tenants) = 0 THEN
    RETURN;
  END IF;
  SELECT b.run_id, b.skipped INTO v_run, v_skip FROM bgjobs.begin_run(p_job_name, v_as_of, 'cron', true) b;
  IF v_skip THEN
    COMMIT;
    RETURN;
  END IF;
  COMMIT;
  v_resp := bgjobs.execute_run(v_run, p_job_name, v_as_of, v_tenants, true);
  PERFORM bgjobs.release_run_lock(p_job_name);
  COMMIT;
END;
$$;

CREATE FUNCTION bgjobs.skipped_response(p_run_id uuid) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  SELECT jsonb_build_object(
    'success', false,
    'skipped', true,
    'job', j.job_name,
    'executedAt', to_char(j.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'runId', j.id,
    'error', j.error_message,
    'errorDetails', 'the same job never runs twice at once; this run was recorded as skipped')
  FROM public.jobs_log j WHERE j.id = p_run_id
$$;

CREATE FUNCTION bgjobs.tasks_reset_overdue() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
  IF NEW.status IN ('Completed', 'Cancelled')
     OR OLD.status IN ('Completed', 'Cancelled')
     OR (NEW.due_date IS DISTINCT FROM OLD.due_date
         AND (NEW.due_date IS NULL OR NEW.due_date >= pg_catalog.now())) THEN
    NEW.is_overdue := false;
    NEW.overdue_since := NULL;
    NEW.sla_violated := false;
    NEW.sla_violated_at := NULL;
  END IF;
  RETURN NEW;
END;
$$;

CREATE FUNCTION bgjobs.tenants_check_timezone() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_timezone_names WHERE name = NEW.timezone) THEN
    RAISE EXCEPTION 'unknown time zone "%" for tenant "%"', NEW.timezone, NEW.name
      USING ERRCODE = 'invalid_parameter_value', HINT = 'use an IANA zone name such as Asia/Kolkata or America/New_York';
  END IF;
  RETURN NEW;
END;
$$;

CREATE FUNCTION public.run_job(job_name text, as_of timestamp with time zone DEFAULT now()) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
DECLARE
  v_job   text := run_job.job_name;
  v_as_of timestamptz := coalesce(run_job.as_of, now());
  v_run   uuid;
  v_skip  boolean;
BEGIN
  SELECT b.run_id, b.skipped INTO v_run, v_skip
    FROM bgjobs.begin_run(v_job, v_as_of, 'manual', false) b;

  INSERT INTO public.audit_log (action_type, entity_type, entity_id, details)
  VALUES ('manual_job_trigger', 'background_job', v_run,
          jsonb_build_object('job_name', v_job, 'timestamp', now(), 'as_of', v_as_of,
                             'triggered_by', session_user, 'run_id', v_run));

  IF v_skip THEN
    RETURN bgjobs.skipped_response(v_run);
  END IF;
  RETURN bgjobs.execute_run(v_run, v_job, v_as_of, NULL, false);
END;
$$;

CREATE FUNCTION public.set_secret(name text, value text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
BEGIN
  IF set_secret.name IS NULL OR set_secret.name !~ '^[A-Z][A-Z0-9_]*$' THEN
    RAISE EXCEPTION 'invalid secret name "%": use upper-case letters, digits and _ (e.g. SLACK_WEBHOOK_URL)', set_secret.name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF set_secret.value IS NULL THEN
    DELETE FROM bgjobs.secrets s WHERE s.name = set_secret.name;
  ELSE
    INSERT INTO bgjobs.secrets AS s (name, value, updated_at)
    VALUES (set_secret.name, set_secret.value, now())
    ON CONFLICT ON CONSTRAINT secrets_pkey DO UPDATE SET value = EXCLUDED.value, updated_at = now();
  END IF;
END;
$_$;

CREATE FUNCTION public.update_job_heartbeat(p_job_name text, p_status text DEFAULT 'healthy'::text, p_metadata jsonb DEFAULT '{}'::jsonb) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
  INSERT INTO public.job_heartbeats(job_name, last_run_at, status, metadata, updated_at)
  VALUES (p_job_name, now(), p_status, p_metadata, now())
  ON CONFLICT (job_name)
  DO UPDATE SET
    last_run_at = now(),
    status = EXCLUDED.status,
    metadata = EXCLUDED.metadata,
    updated_at = now();
END;
$$;

CREATE TABLE bgjobs.alert_state (
    subject text NOT NULL,
    rule text NOT NULL,
    display_name text NOT NULL,
    state text DEFAULT 'ok'::text NOT NULL,
    severity text NOT NULL,
    since timestamp with time zone NOT NULL,
    last_evaluated_at timestamp with time zone NOT NULL,
    last_notified_at timestamp with time zone,
    notified_severity text,
    count integer DEFAULT 0 NOT NULL,
    silenced boolean DEFAULT false NOT NULL,
    suppressed integer DEFAULT 0 NOT NULL,
    summary text,
    details jsonb DEFAULT '{}'::jsonb NOT NULL,
    resolved_at timestamp with time zone,
    episodes integer DEFAULT 1 NOT NULL,
    CONSTRAINT alert_state_notified_severity_check CHECK ((notified_severity = ANY (ARRAY['INFO'::text, 'WARNING'::text, 'CRITICAL'::text]))),
    CONSTRAINT alert_state_rule_check CHECK ((rule = ANY (ARRAY['missed_run'::text, 'stale_heartbeat'::text, 'consecutive_failures'::text, 'slow_run'::text, 'no_jobs_24h'::text, 'low_success_rate'::text, 'delivery_rate'::text, 'rule_storm'::text, 'analytics_anomaly'::text]))),
    CONSTRAINT alert_state_severity_check CHECK ((severity = ANY (ARRAY['INFO'::text, 'WARNING'::text, 'CRITICAL'::text]))),
    CONSTRAINT alert_state_state_check CHECK ((state = ANY (ARRAY['ok'::text, 'firing'::text])))
);

CREATE TABLE bgjobs.job_registry (
    job_name text NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    schedule text NOT NULL,
    cron_jobname text,
    function_schema text DEFAULT 'bgjobs'::text NOT NULL,
    function_name text NOT NULL,
    tenant_local boolean DEFAULT false NOT NULL,
    local_time time without time zone,
    timezone text DEFAULT 'UTC'::text NOT NULL,
    expected_interval interval DEFAULT '1 day'::interval NOT NULL,
    expected_duration interval,
    timeout interval DEFAULT '00:30:00'::interval NOT NULL,
    grace interval DEFAULT '01:00:00'::interval NOT NULL,
    stale_after interval DEFAULT '24:00:00'::interval NOT NULL,
    enabled boolean DEFAULT true NOT NULL,
    registered_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT job_registry_local_time_ck CHECK (((NOT tenant_local) OR (local_time IS NOT NULL))),
    CONSTRAINT job_registry_timeout_ck CHECK ((timeout > '00:00:00'::interval))
);

CREATE TABLE bgjobs.plpython_modules (
    name text NOT NULL,
    source text NOT NULL,
    sha256 text NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE bgjobs.secrets (
    name text NOT NULL,
    value text NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT secrets_name_check CHECK ((name ~ '^[A-Z][A-Z0-9_]*$'::text))
);

CREATE TABLE bgjobs.silences (
    id bigint NOT NULL,
    job_name text,
    starts_at timestamp with time zone DEFAULT now() NOT NULL,
    until timestamp with time zone NOT NULL,
    reason text NOT NULL,
    created_by text DEFAULT SESSION_USER NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT silences_period_ck CHECK ((until > starts_at)),
    CONSTRAINT silences_reason_check CHECK ((btrim(reason) <> ''::text))
);

ALTER TABLE bgjobs.silences ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME bgjobs.silences_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE bgjobs.tenant_job_runs (
    job_name text NOT NULL,
    tenant_id uuid NOT NULL,
    local_date date NOT NULL,
    run_id uuid,
    handled_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.analytics_snapshots (
    tenant_id uuid NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    metric_type character varying NOT NULL,
    snapshot_date date NOT NULL,
    metric_value jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now()
);

CREATE TABLE public.app_settings (
    key text NOT NULL,
    value text,
    description text,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.audit_log (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    tenant_id uuid DEFAULT '00000000-0000-0000-0000-000000000000'::uuid NOT NULL,
    action_type character varying NOT NULL,
    entity_type character varying,
    entity_id uuid,
    user_id uuid,
    details jsonb,
    "timestamp" timestamp with time zone DEFAULT now()
);

CREATE TABLE public.automation_logs (
    tenant_id uuid NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    rule_id uuid,
    rule_name text,
    trigger_event text,
    status text,
    actions_executed jsonb,
    error_message text,
    executed_at timestamp with time zone DEFAULT now(),
    entity_type text,
    entity_id uuid,
    event_data jsonb,
    event_key text
);

CREATE TABLE public.automation_rules (
    tenant_id uuid NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    rule_name text NOT NULL,
    trigger_event text NOT NULL,
    is_active boolean DEFAULT true NOT NULL,
    actions jsonb DEFAULT '[]'::jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.cases (
    tenant_id uuid NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    case_number text NOT NULL,
    title text,
    status text DEFAULT 'Active'::text NOT NULL,
    owner_id uuid,
    assigned_to uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT cases_status_check CHECK ((status = ANY (ARRAY['Active'::text, 'Closed'::text])))
);

CREATE TABLE public.courts (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name text NOT NULL,
    city text
);

CREATE TABLE public.documents (
    tenant_id uuid NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    case_id uuid,
    title text,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.job_heartbeats (
    job_name text NOT NULL,
    last_run_at timestamp with time zone DEFAULT now() NOT NULL,
    status text DEFAULT 'healthy'::text,
    metadata jsonb DEFAULT '{}'::jsonb,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    last_alert_at timestamp with time zone
);

CREATE VIEW public.healthcheck_summary AS
 SELECT count(*) AS total_jobs,
    count(*) FILTER (WHERE (job_heartbeats.last_run_at > (now() - '24:00:00'::interval))) AS healthy_jobs,
    count(*) FILTER (WHERE (job_heartbeats.last_run_at <= (now() - '24:00:00'::interval))) AS stale_jobs,
    count(*) FILTER (WHERE (job_heartbeats.last_alert_at > (now() - '24:00:00'::interval))) AS alerted_jobs,
    max(job_heartbeats.last_run_at) AS most_recent_heartbeat,
    min(job_heartbeats.last_run_at) AS oldest_heartbeat
   FROM public.job_heartbeats;

CREATE TABLE public.hearings (
    tenant_id uuid NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    case_id uuid NOT NULL,
    court_id uuid,
    hearing_date timestamp with time zone NOT NULL,
    status text DEFAULT 'Scheduled'::text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT hearings_status_check CHECK ((status = ANY (ARRAY['Scheduled'::text, 'Attended'::text, 'Adjourned'::text, 'Cancelled'::text])))
);

CREATE TABLE public.installments (
    tenant_id uuid NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    payment_plan_id uuid NOT NULL,
    amount numeric(12,2) NOT NULL,
    student_due_date date NOT NULL,
    status text DEFAULT 'pending'::text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT installments_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'overdue'::text, 'paid'::text, 'cancelled'::text])))
);

CREATE TABLE public.jobs_log (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    job_name text NOT NULL,
    started_at timestamp with time zone DEFAULT now() NOT NULL,
    completed_at timestamp with time zone,
    records_updated integer DEFAULT 0 NOT NULL,
    status text DEFAULT 'running'::text NOT NULL,
    error_message text,
    as_of timestamp with time zone,
    trigger text DEFAULT 'manual'::text NOT NULL,
    results jsonb,
    error_details text,
    pid integer,
    triggered_by text DEFAULT SESSION_USER,
    CONSTRAINT jobs_log_status_check CHECK ((status = ANY (ARRAY['running'::text, 'success'::text, 'failed'::text, 'skipped'::text]))),
    CONSTRAINT jobs_log_trigger_check CHECK ((trigger = ANY (ARRAY['cron'::text, 'manual'::text, 'system'::text])))
);

CREATE VIEW public.job_status AS
 SELECT r.job_name,
    COALESCE(r.cron_jobname, r.job_name) AS pg_cron_job,
    r.schedule,
    r.local_time,
    r.enabled,
        CASE
            WHEN (to_regclass('cron.job'::text) IS NULL) THEN NULL::boolean
            ELSE (COALESCE(c.active, false) AND r.enabled)
        END AS active,
        CASE
            WHEN (h.pid IS NOT NULL) THEN 'Running'::text
            WHEN (last.status IS NULL) THEN 'Pending'::text
            WHEN (last.status = 'running'::text) THEN 'Abandoned'::text
            ELSE initcap(last.status)
        END AS state,
    h.pid AS running_pid,
    last.started_at AS last_run_at,
    last.status AS last_status,
    (last.completed_at - last.started_at) AS last_duration,
    last.records_updated AS last_records_updated,
    last.error_message AS last_error,
    w.runs AS runs_7d,
    w.successes AS successes_7d,
        CASE
            WHEN (w.runs > 0) THEN round(((100.0 * (w.successes)::numeric) / (w.runs)::numeric), 1)
            ELSE NULL::numeric
        END AS health_score,
        CASE
            WHEN (w.runs = 0) THEN 'No runs'::text
            WHEN (((100.0 * (w.successes)::numeric) / (w.runs)::numeric) >= (95)::numeric) THEN 'Healthy'::text
            WHEN (((100.0 * (w.successes)::numeric) / (w.runs)::numeric) >= (80)::numeric) THEN 'Degraded'::text
            ELSE 'Unhealthy'::text
        END AS health_label,
    bgjobs.next_expected_run(r.job_name, now()) AS next_expected_run
   FROM ((((bgjobs.job_registry r
     LEFT JOIN bgjobs.cron_jobs() c(jobid, jobname, schedule, command, database, username, active) ON (((c.jobname = COALESCE(r.cron_jobname, r.job_name)) AND (c.database = current_database()))))
     CROSS JOIN LATERAL ( SELECT bgjobs.lock_held(r.job_name) AS pid) h)
     LEFT JOIN LATERAL ( SELECT j.started_at,
            j.completed_at,
            j.status,
            j.records_updated,
            j.error_message
           FROM public.jobs_log j
          WHERE ((j.job_name = r.job_name) AND (j.status <> 'skipped'::text))
          ORDER BY j.started_at DESC
         LIMIT 1) last ON (true))
     CROSS JOIN LATERAL ( SELECT count(*) FILTER (WHERE (j.status = ANY (ARRAY['success'::text, 'failed'::text]))) AS runs,
            count(*) FILTER (WHERE (j.status = 'success'::text)) AS successes
           FROM public.jobs_log j
          WHERE ((j.job_name = r.job_name) AND (j.started_at > (now() - '7 days'::interval)))) w);

CREATE TABLE public.notifications (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    tenant_id uuid DEFAULT '00000000-0000-0000-0000-000000000000'::uuid NOT NULL,
    channel text NOT NULL,
    recipient text,
    template text NOT NULL,
    payload jsonb DEFAULT '{}'::jsonb NOT NULL,
    dedupe_key text NOT NULL,
    category text DEFAULT 'business'::text NOT NULL,
    status text DEFAULT 'pending'::text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    next_attempt_at timestamp with time zone DEFAULT now() NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    sent_at timestamp with time zone,
    last_error text,
    delivered_by text,
    CONSTRAINT notifications_category_check CHECK ((category = ANY (ARRAY['business'::text, 'alert'::text]))),
    CONSTRAINT notifications_channel_check CHECK ((channel = ANY (ARRAY['email'::text, 'slack'::text, 'webhook'::text, 'whatsapp'::text]))),
    CONSTRAINT notifications_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'sending'::text, 'sent'::text, 'failed'::text, 'dead'::text, 'cancelled'::text])))
);

CREATE TABLE public.payment_plans (
    tenant_id uuid NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name text,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.tasks (
    tenant_id uuid NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    case_id uuid,
    title text NOT NULL,
    due_date timestamp with time zone,
    status text DEFAULT 'Open'::text NOT NULL,
    priority text DEFAULT 'Medium'::text NOT NULL,
    assigned_to uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    completed_at timestamp with time zone,
    is_overdue boolean DEFAULT false NOT NULL,
    overdue_since timestamp with time zone,
    sla_violated boolean DEFAULT false NOT NULL,
    sla_violated_at timestamp with time zone,
    CONSTRAINT tasks_priority_check CHECK ((priority = ANY (ARRAY['Critical'::text, 'High'::text, 'Medium'::text, 'Low'::text]))),
    CONSTRAINT tasks_status_check CHECK ((status = ANY (ARRAY['Open'::text, 'In Progress'::text, 'Completed'::text, 'Cancelled'::text])))
);

CREATE TABLE public.tenants (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name text NOT NULL,
    timezone text DEFAULT 'UTC'::text NOT NULL,
    whatsapp_enabled boolean DEFAULT false NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.users (
    tenant_id uuid NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    email text NOT NULL,
    full_name text,
    role text DEFAULT 'member'::text NOT NULL,
    phone text,
    is_active boolean DEFAULT true NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT users_role_check CHECK ((role = ANY (ARRAY['admin'::text, 'partner'::text, 'manager'::text, 'member'::text])))
);

ALTER TABLE ONLY bgjobs.alert_state
    ADD CONSTRAINT alert_state_pkey PRIMARY KEY (subject, rule);

ALTER TABLE ONLY bgjobs.job_registry
    ADD CONSTRAINT job_registry_pkey PRIMARY KEY (job_name);

ALTER TABLE ONLY bgjobs.plpython_modules
    ADD CONSTRAINT plpython_modules_pkey PRIMARY KEY (name);

ALTER TABLE ONLY bgjobs.secrets
    ADD CONSTRAINT secrets_pkey PRIMARY KEY (name);

ALTER TABLE ONLY bgjobs.silences
    ADD CONSTRAINT silences_pkey PRIMARY KEY (id);

ALTER TABLE ONLY bgjobs.tenant_job_runs
    ADD CONSTRAINT tenant_job_runs_pkey PRIMARY KEY (tenant_id, job_name, local_date);

ALTER TABLE ONLY public.analytics_snapshots
    ADD CONSTRAINT analytics_snapshots_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY public.analytics_snapshots
    ADD CONSTRAINT analytics_snapshots_tenant_id_metric_type_snapshot_date_key UNIQUE (tenant_id, metric_type, snapshot_date);

ALTER TABLE ONLY public.app_settings
    ADD CONSTRAINT app_settings_pkey PRIMARY KEY (key);

ALTER TABLE ONLY public.audit_log
    ADD CONSTRAINT audit_log_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY public.automation_logs
    ADD CONSTRAINT automation_logs_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY public.automation_rules
    ADD CONSTRAINT automation_rules_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY public.cases
    ADD CONSTRAINT cases_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY public.cases
    ADD CONSTRAINT cases_tenant_id_case_number_key UNIQUE (tenant_id, case_number);

ALTER TABLE ONLY public.courts
    ADD CONSTRAINT courts_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.documents
    ADD CONSTRAINT documents_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY public.hearings
    ADD CONSTRAINT hearings_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY public.installments
    ADD CONSTRAINT installments_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY public.job_heartbeats
    ADD CONSTRAINT job_heartbeats_pkey PRIMARY KEY (job_name);

ALTER TABLE ONLY public.jobs_log
    ADD CONSTRAINT jobs_log_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.notifications
    ADD CONSTRAINT notifications_dedupe_key_key UNIQUE (tenant_id, dedupe_key);

ALTER TABLE ONLY public.notifications
    ADD CONSTRAINT notifications_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY public.payment_plans
    ADD CONSTRAINT payment_plans_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY public.tasks
    ADD CONSTRAINT tasks_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY public.tenants
    ADD CONSTRAINT tenants_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_tenant_id_email_key UNIQUE (tenant_id, email);

CREATE INDEX alert_state_firing_idx ON bgjobs.alert_state USING btree (rule) WHERE (state = 'firing'::text);

CREATE INDEX silences_until_idx ON bgjobs.silences USING btree (until);

CREATE INDEX audit_log_action_time_idx ON public.audit_log USING btree (action_type, "timestamp" DESC);

CREATE UNIQUE INDEX automation_logs_event_key_idx ON public.automation_logs USING btree (tenant_id, rule_id, event_key) WHERE (event_key IS NOT NULL);

CREATE INDEX automation_logs_executed_idx ON public.automation_logs USING btree (executed_at);

CREATE INDEX automation_logs_rule_idx ON public.automation_logs USING btree (tenant_id, rule_id, executed_at);

CREATE INDEX automation_rules_event_idx ON public.automation_rules USING btree (tenant_id, trigger_event) WHERE is_active;

CREATE INDEX cases_id_idx ON public.cases USING btree (id);

CREATE INDEX documents_created_idx ON public.documents USING btree (tenant_id, created_at);

CREATE INDEX hearings_scheduled_date_idx ON public.hearings USING btree (tenant_id, hearing_date) WHERE (status = 'Scheduled'::text);

CREATE INDEX installments_id_idx ON public.installments USING btree (id);

CREATE INDEX installments_pending_due_idx ON public.installments USING btree (tenant_id, student_due_date) WHERE (status = 'pending'::text);

CREATE INDEX job_heartbeats_last_alert_at_idx ON public.job_heartbeats USING btree (last_alert_at);

CREATE INDEX job_heartbeats_last_run_at_idx ON public.job_heartbeats USING btree (last_run_at);

CREATE INDEX jobs_log_job_effective_idx ON public.jobs_log USING btree (job_name, COALESCE(as_of, started_at) DESC) WHERE (status <> 'skipped'::text);

CREATE INDEX jobs_log_job_started_idx ON public.jobs_log USING btree (job_name, started_at DESC);

CREATE INDEX jobs_log_running_idx ON public.jobs_log USING btree (job_name) WHERE (status = 'running'::text);

CREATE INDEX jobs_log_started_idx ON public.jobs_log USING btree (started_at);

CREATE INDEX notifications_created_idx ON public.notifications USING btree (created_at);

CREATE INDEX notifications_due_idx ON public.notifications USING btree (next_attempt_at) WHERE (status = ANY (ARRAY['pending'::text, 'failed'::text]));

CREATE INDEX payment_plans_id_idx ON public.payment_plans USING btree (id);

CREATE INDEX tasks_open_due_idx ON public.tasks USING btree (tenant_id, due_date) WHERE (status = ANY (ARRAY['Open'::text, 'In Progress'::text]));

CREATE INDEX tasks_overdue_pending_idx ON public.tasks USING btree (due_date) WHERE ((status = ANY (ARRAY['Open'::text, 'In Progress'::text])) AND (NOT is_overdue));

CREATE INDEX tasks_sla_pending_idx ON public.tasks USING btree (priority, due_date) WHERE ((status = ANY (ARRAY['Open'::text, 'In Progress'::text])) AND (NOT sla_violated));

CREATE INDEX users_id_idx ON public.users USING btree (id);

CREATE TRIGGER installments_set_tenant BEFORE INSERT ON public.installments FOR EACH ROW EXECUTE FUNCTION bgjobs.installments_set_tenant();

CREATE TRIGGER jobs_log_failed_insert AFTER INSERT ON public.jobs_log FOR EACH ROW WHEN ((new.status = 'failed'::text)) EXECUTE FUNCTION bgjobs.jobs_log_on_failure();

CREATE TRIGGER jobs_log_failed_update AFTER UPDATE OF status ON public.jobs_log FOR EACH ROW WHEN (((new.status = 'failed'::text) AND (old.status IS DISTINCT FROM 'failed'::text))) EXECUTE FUNCTION bgjobs.jobs_log_on_failure();

CREATE TRIGGER tasks_reset_overdue BEFORE UPDATE OF status, due_date ON public.tasks FOR EACH ROW WHEN (((old.is_overdue OR old.sla_violated) AND ((new.status IS DISTINCT FROM old.status) OR (new.due_date IS DISTINCT FROM old.due_date)))) EXECUTE FUNCTION bgjobs.tasks_reset_overdue();

CREATE TRIGGER tenants_check_timezone BEFORE INSERT OR UPDATE OF timezone ON public.tenants FOR EACH ROW EXECUTE FUNCTION bgjobs.tenants_check_timezone();

ALTER TABLE ONLY public.automation_logs
    ADD CONSTRAINT automation_logs_tenant_id_rule_id_fkey FOREIGN KEY (tenant_id, rule_id) REFERENCES public.automation_rules(tenant_id, id) ON DELETE SET NULL (rule_id);

ALTER TABLE ONLY public.automation_rules
    ADD CONSTRAINT automation_rules_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.cases
    ADD CONSTRAINT cases_tenant_id_assigned_to_fkey FOREIGN KEY (tenant_id, assigned_to) REFERENCES public.users(tenant_id, id);

ALTER TABLE ONLY public.cases
    ADD CONSTRAINT cases_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.cases
    ADD CONSTRAINT cases_tenant_id_owner_id_fkey FOREIGN KEY (tenant_id, owner_id) REFERENCES public.users(tenant_id, id);

ALTER TABLE ONLY public.documents
    ADD CONSTRAINT documents_tenant_id_case_id_fkey FOREIGN KEY (tenant_id, case_id) REFERENCES public.cases(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY public.hearings
    ADD CONSTRAINT hearings_court_id_fkey FOREIGN KEY (court_id) REFERENCES public.courts(id);

ALTER TABLE ONLY public.hearings
    ADD CONSTRAINT hearings_tenant_id_case_id_fkey FOREIGN KEY (tenant_id, case_id) REFERENCES public.cases(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY public.installments
    ADD CONSTRAINT installments_tenant_id_payment_plan_id_fkey FOREIGN KEY (tenant_id, payment_plan_id) REFERENCES public.payment_plans(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY public.payment_plans
    ADD CONSTRAINT payment_plans_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.tasks
    ADD CONSTRAINT tasks_tenant_id_assigned_to_fkey FOREIGN KEY (tenant_id, assigned_to) REFERENCES public.users(tenant_id, id);

ALTER TABLE ONLY public.tasks
    ADD CONSTRAINT tasks_tenant_id_case_id_fkey FOREIGN KEY (tenant_id, case_id) REFERENCES public.cases(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;

GRANT USAGE ON SCHEMA bgjobs TO bgjobs_admin;
GRANT USAGE ON SCHEMA bgjobs TO bgjobs_viewer;

REVOKE ALL ON FUNCTION bgjobs.begin_run(p_job_name text, p_as_of timestamp with time zone, p_trigger text, p_session_lock boolean, OUT run_id uuid, OUT skipped boolean) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.cron_jobs() FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.cron_jobs() TO bgjobs_admin;
GRANT ALL ON FUNCTION bgjobs.cron_jobs() TO bgjobs_viewer;

REVOKE ALL ON FUNCTION bgjobs.cron_next(p_schedule text, p_timezone text, p_after timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.cron_next(p_schedule text, p_timezone text, p_after timestamp with time zone) TO bgjobs_admin;
GRANT ALL ON FUNCTION bgjobs.cron_next(p_schedule text, p_timezone text, p_after timestamp with time zone) TO bgjobs_viewer;

REVOKE ALL ON FUNCTION bgjobs.due_tenants(p_job_name text, p_as_of timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.enqueue_alert(p_template text, p_payload jsonb, p_dedupe_key text) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.execute_run(p_run_id uuid, p_job_name text, p_as_of timestamp with time zone, p_tenants uuid[], p_mark_tenants boolean) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.fire_automation_events(p_as_of timestamp with time zone, p_tenant_ids uuid[], p_events text[], p_entity_types text[], p_entity_ids uuid[], p_event_keys text[], p_data jsonb[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.get_secret(p_name text) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.get_secret(p_name text) TO bgjobs_admin;

REVOKE ALL ON FUNCTION bgjobs.get_setting(p_key text, p_default text) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.get_setting(p_key text, p_default text) TO bgjobs_admin;

REVOKE ALL ON FUNCTION bgjobs.installments_set_tenant() FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.job_check_sla_and_overdue(p_as_of timestamp with time zone, p_tenants uuid[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.job_send_hearing_reminders(p_as_of timestamp with time zone, p_tenants uuid[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.job_update_installment_statuses(p_as_of timestamp with time zone, p_tenants uuid[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.jobs_log_on_failure() FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.lock_held(p_job_name text, p_pid integer) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.lock_held(p_job_name text, p_pid integer) TO bgjobs_admin;
GRANT ALL ON FUNCTION bgjobs.lock_held(p_job_name text, p_pid integer) TO bgjobs_viewer;

REVOKE ALL ON FUNCTION bgjobs.next_expected_run(p_job_name text, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.next_expected_run(p_job_name text, p_as_of timestamp with time zone) TO bgjobs_admin;
GRANT ALL ON FUNCTION bgjobs.next_expected_run(p_job_name text, p_as_of timestamp with time zone) TO bgjobs_viewer;

REVOKE ALL ON FUNCTION bgjobs.reap_stale_runs(p_cancel_overdue boolean) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.release_run_lock(p_job_name text) FROM PUBLIC;

REVOKE ALL ON PROCEDURE bgjobs.run_scheduled_job(IN p_job_name text, IN p_as_of timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.skipped_response(p_run_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.tasks_reset_overdue() FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.tenants_check_timezone() FROM PUBLIC;

REVOKE ALL ON FUNCTION public.run_job(job_name text, as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION public.run_job(job_name text, as_of timestamp with time zone) TO bgjobs_admin;

REVOKE ALL ON FUNCTION public.set_secret(name text, value text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.set_secret(name text, value text) TO bgjobs_admin;

REVOKE ALL ON FUNCTION public.update_job_heartbeat(p_job_name text, p_status text, p_metadata jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION public.update_job_heartbeat(p_job_name text, p_status text, p_metadata jsonb) TO bgjobs_admin;

GRANT SELECT ON TABLE bgjobs.alert_state TO bgjobs_admin;

GRANT SELECT ON TABLE bgjobs.job_registry TO bgjobs_admin;

GRANT UPDATE(description) ON TABLE bgjobs.job_registry TO bgjobs_admin;

GRANT UPDATE(expected_duration) ON TABLE bgjobs.job_registry TO bgjobs_admin;

GRANT UPDATE(timeout) ON TABLE bgjobs.job_registry TO bgjobs_admin;

GRANT UPDATE(grace) ON TABLE bgjobs.job_registry TO bgjobs_admin;

GRANT UPDATE(stale_after) ON TABLE bgjobs.job_registry TO bgjobs_admin;

GRANT UPDATE(enabled) ON TABLE bgjobs.job_registry TO bgjobs_admin;

GRANT SELECT ON TABLE bgjobs.silences TO bgjobs_admin;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.app_settings TO bgjobs_admin;

GRANT SELECT ON TABLE public.audit_log TO bgjobs_admin;
GRANT SELECT ON TABLE public.audit_log TO bgjobs_viewer;

GRANT SELECT,DELETE ON TABLE public.job_heartbeats TO bgjobs_admin;
GRANT SELECT ON TABLE public.job_heartbeats TO bgjobs_viewer;

GRANT UPDATE(last_run_at) ON TABLE public.job_heartbeats TO bgjobs_admin;

GRANT UPDATE(status) ON TABLE public.job_heartbeats TO bgjobs_admin;

GRANT UPDATE(metadata) ON TABLE public.job_heartbeats TO bgjobs_admin;

GRANT UPDATE(last_alert_at) ON TABLE public.job_heartbeats TO bgjobs_admin;

GRANT SELECT ON TABLE public.healthcheck_summary TO bgjobs_admin;
GRANT SELECT ON TABLE public.healthcheck_summary TO bgjobs_viewer;

GRANT SELECT,INSERT,DELETE ON TABLE public.jobs_log TO bgjobs_admin;
GRANT SELECT ON TABLE public.jobs_log TO bgjobs_viewer;

GRANT SELECT ON TABLE public.job_status TO bgjobs_admin;
GRANT SELECT ON TABLE public.job_status TO bgjobs_viewer;

GRANT SELECT ON TABLE public.notifications TO bgjobs_admin;

GRANT SELECT(id) ON TABLE public.notifications TO bgjobs_viewer;

GRANT SELECT(tenant_id) ON TABLE public.notifications TO bgjobs_viewer;

GRANT SELECT(channel) ON TABLE public.notifications TO bgjobs_viewer;

GRANT SELECT(template) ON TABLE public.notifications TO bgjobs_viewer;

GRANT SELECT(dedupe_key) ON TABLE public.notifications TO bgjobs_viewer;

GRANT SELECT(category) ON TABLE public.notifications TO bgjobs_viewer;

GRANT UPDATE(status) ON TABLE public.notifications TO bgjobs_admin;
GRANT SELECT(status) ON TABLE public.notifications TO bgjobs_viewer;

GRANT SELECT(attempts) ON TABLE public.notifications TO bgjobs_viewer;

GRANT UPDATE(next_attempt_at) ON TABLE public.notifications TO bgjobs_admin;
GRANT SELECT(next_attempt_at) ON TABLE public.notifications TO bgjobs_viewer;

GRANT SELECT(created_at) ON TABLE public.notifications TO bgjobs_viewer;

GRANT SELECT(sent_at) ON TABLE public.notifications TO bgjobs_viewer;

GRANT SELECT(last_error) ON TABLE public.notifications TO bgjobs_viewer;
