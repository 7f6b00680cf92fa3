CREATE SCHEMA bgjobs;

CREATE SCHEMA bgjobs_app;

CREATE EXTENSION IF NOT EXISTS plpython3u WITH SCHEMA pg_catalog;

CREATE FUNCTION bgjobs.add_maintenance_window(job_name text, starts_at timestamp with time zone, ends_at timestamp with time zone, reason text) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
  v_job text := nullif(nullif(btrim(add_maintenance_window.job_name), ''), '*');
  v_id bigint;
BEGIN
  PERFORM bgjobs.check_maintenance_job(v_job);
  IF add_maintenance_window.starts_at IS NULL OR add_maintenance_window.ends_at IS NULL
     OR NOT isfinite(add_maintenance_window.starts_at) OR NOT isfinite(add_maintenance_window.ends_at)
     OR add_maintenance_window.ends_at <= add_maintenance_window.starts_at THEN
    RAISE EXCEPTION 'maintenance window: ends_at must be a finite time after starts_at'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF coalesce(btrim(add_maintenance_window.reason), '') = '' THEN
    RAISE EXCEPTION 'maintenance window: a reason is required' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  INSERT INTO bgjobs.maintenance_windows (job_name, starts_at, ends_at, reason)
  VALUES (v_job, add_maintenance_window.starts_at, add_maintenance_window.ends_at, btrim(add_maintenance_window.reason))
  RETURNING id INTO v_id;
  RETURN v_id;
END;
$$;

CREATE FUNCTION bgjobs.add_recurring_maintenance_window(job_name text, recurrence text, duration interval, reason text, timezone text DEFAULT 'UTC'::text) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
DECLARE
  v_job text := nullif(nullif(btrim(add_recurring_maintenance_window.job_name), ''), '*');
  v_f text[] := regexp_split_to_array(btrim(coalesce(add_recurring_maintenance_window.recurrence, '')), '\s+');
  v_p record;
  v_id bigint;
BEGIN
  PERFORM bgjobs.check_maintenance_job(v_job);
  IF cardinality(v_f) <> 5 OR v_f[1] !~ '^\d{1,2}$' OR v_f[2] !~ '^\d{1,2}$'
     OR v_f[1]::integer > 59 OR v_f[2]::integer > 23 THEN
    RAISE EXCEPTION 'maintenance window: recurrence % is not "minute hour day-of-month month day-of-week" with a single minute and hour',
                    quote_literal(add_recurring_maintenance_window.recurrence)
      USING ERRCODE = 'invalid_parameter_value', HINT = 'e.g. ''0 2 1-7 * sun'': the first Sunday of each month at 02:00';
  END IF;
  BEGIN
    v_p := bgjobs.cron_parse(array_to_string(v_f, ' '));
  EXCEPTION WHEN invalid_parameter_value THEN
    RAISE EXCEPTION 'maintenance window: recurrence %: %', quote_literal(add_recurring_maintenance_window.recurrence),
                    regexp_replace(SQLERRM, '^invalid cron expression .*?: ', '')
      USING ERRCODE = 'invalid_parameter_value', HINT = 'e.g. ''0 2 1-7 * sun'': the first Sunday of each month at 02:00';
  END;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_timezone_names z WHERE z.name = add_recurring_maintenance_window.timezone) THEN
    RAISE EXCEPTION 'maintenance window: unknown time zone %', quote_literal(add_recurring_maintenance_window.timezone)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF add_recurring_maintenance_window.duration IS NULL OR add_recurring_maintenance_window.duration <= interval '0'
     OR add_recurring_maintenance_window.duration > interval '7 days' THEN
    RAISE EXCEPTION 'maintenance window: duration must be more than 0 and at most 7 days'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM generate_series(current_date, current_date + 1461, interval '1 day') d(day)
                  WHERE (v_p.doms >> extract(day FROM d.day)::integer) & 1 = 1
                    AND (v_p.months >> extract(month FROM d.day)::integer) & 1 = 1
                    AND (v_p.dows >> extract(dow FROM d.day)::integer) & 1 = 1) THEN
    RAISE EXCEPTION 'maintenance window: recurrence % never falls on a date (its day of month, month and day of week must all match)',
                    quote_literal(add_recurring_maintenance_window.recurrence)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF coalesce(btrim(add_recurring_maintenance_window.reason), '') = '' THEN
    RAISE EXCEPTION 'maintenance window: a reason is required' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  INSERT INTO bgjobs.maintenance_windows (job_name, recurrence, duration, timezone, reason)
  VALUES (v_job, array_to_string(v_f, ' '), add_recurring_maintenance_window.duration, add_recurring_maintenance_window.timezone,
          btrim(add_recurring_maintenance_window.reason))
  RETURNING id INTO v_id;
  RETURN v_id;
END;
$_$;

CREATE FUNCTION bgjobs.app_settings_check() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
  v_err text := bgjobs.check_setting(NEW.key, NEW.value);
BEGIN
  IF v_err IS NOT NULL THEN
    RAISE EXCEPTION 'setting %: %', NEW.key, v_err
      USING ERRCODE = 'check_violation',
            HINT = 'bgjobs settings show lists every key with its type and default';
  END IF;
  RETURN NEW;
END;
$$;

CREATE FUNCTION bgjobs.apply_alerts(p_as_of timestamp with time zone, p_rules text[], p_findings jsonb) RETURNS jsonb
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$ SELECT bgjobs.apply_alerts(p_as_of, p_rules, p_findings, NULL::text[]) $$;

CREATE FUNCTION bgjobs.apply_alerts(p_as_of timestamp with time zone, p_rules text[], p_findings jsonb, p_subjects text[]) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
  v_window        interval := make_interval(secs => bgjobs.get_setting('alert_suppression_hours')::numeric * 3600);
  v_send_resolved boolean := bgjobs.get_setting('send_resolved')::boolean;
  v_sev           text[] := ARRAY['INFO', 'WARNING', 'CRITICAL'];
  v_at            text := to_char(p_as_of AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"');
  v_alerts        integer;
  v_repeats       integer;
  v_escalations   integer;
  v_suppressed    integer;
  v_silenced      integer;
  v_queued        integer;
  v_resolved      integer;
  v_rqueued       integer;
BEGIN
  WITH f AS (
    SELECT DISTINCT ON (x.subject, x.rule) x.*
      FROM jsonb_to_recordset(coalesce(p_findings, '[]'::jsonb))
           AS x(subject text, rule text, severity text, display_name text, summary text, details jsonb)
     WHERE x.rule = ANY (p_rules)
       AND (p_subjects IS NULL OR x.subject = ANY (p_subjects))
     ORDER BY x.subject, x.rule, array_position(v_sev, x.severity) DESC
  ),
  d AS (
    SELECT f.*,
           coalesce(a.state, 'ok') <> 'firing' AS is_new,
           a.since AS old_since, a.count AS old_count, a.notified_severity AS old_notified_severity,
           a.last_notified_at AS old_notified_at, a.suppressed AS old_suppressed, a.episodes AS old_episodes,
           hb.last_alert_at,
           wh.job_name IS NOT NULL AS watch_hb, wh.last_alert_at AS watch_alert_at,
           CASE WHEN wh.job_name IS NOT NULL
                THEN (SELECT max(a2.last_notified_at) FROM bgjobs.alert_state a2 WHERE a2.subject = f.subject)
           END AS subject_notified_at,
           (EXISTS (SELECT 1 FROM bgjobs.silences s
                     WHERE (s.job_name IS NULL OR s.job_name = f.subject)
                       AND s.starts_at <= p_as_of AND s.until > p_as_of)
            OR ((SELECT EXISTS (SELECT 1 FROM bgjobs.maintenance_windows))   -- once, not per row
                AND bgjobs.maintenance_until(f.subject, p_as_of) IS NOT NULL)) AS is_silenced   -- held in a window
      FROM f
      LEFT JOIN bgjobs.alert_state a ON a.subject = f.subject AND a.rule = f.rule
      LEFT JOIN public.job_heartbeats hb ON f.rule = 'stale_heartbeat' AND hb.job_name = f.subject
      LEFT JOIN public.job_heartbeats wh ON f.rule <> 'stale_heartbeat' AND wh.job_name = f.subject
                                        AND EXISTS (SELECT 1 FROM bgjobs.watched_jobs w WHERE w.job_name = f.subject)
  ),
  e AS (
    SELECT d.*,
           CASE WHEN d.is_new THEN p_as_of ELSE d.old_since END AS new_since,
           CASE WHEN d.is_new THEN 0 ELSE d.old_count END AS cur_count,
           (NOT d.is_new AND d.old_count > 0
            AND array_position(v_sev, d.severity) > array_position(v_sev, coalesce(d.old_notified_severity, 'INFO')))
             AS escalated
      FROM d
  ),
  g AS MATERIALIZED (
    SELECT e.*,
           (NOT e.is_silenced AND CASE
              WHEN e.rule = 'stale_heartbeat' THEN e.last_alert_at IS NULL OR p_as_of - e.last_alert_at >= v_window
              WHEN e.watch_hb AND e.watch_alert_at IS NULL AND e.subject_notified_at IS NOT NULL THEN true
              WHEN e.watch_hb AND e.watch_alert_at > coalesce(e.subject_notified_at, '-infinity')
                THEN p_as_of - e.watch_alert_at >= v_window
              WHEN e.cur_count = 0 OR e.escalated THEN true
              ELSE p_as_of - e.old_notified_at >= v_window
            END) AS notify
      FROM e
  ),
  up AS (
    INSERT INTO bgjobs.alert_state AS a
           (subject, rule, display_name, state, severity, since, last_evaluated_at, last_notified_at,
            notified_severity, count, silenced, suppressed, summary, details, resolved_at, episodes)
    SELECT g.subject, g.rule, coalesce(g.display_name, g.subject), 'firing', g.severity, g.new_since, p_as_of,
           CASE WHEN g.notify THEN p_as_of WHEN g.is_new THEN NULL ELSE g.old_notified_at END,
           CASE WHEN g.notify THEN g.severity WHEN g.is_new THEN NULL ELSE g.old_notified_severity END,
           g.cur_count + g.notify::integer,
           g.is_silenced,
           CASE WHEN g.is_new THEN 0 ELSE g.old_suppressed END + (NOT g.notify)::integer,
           g.summary, coalesce(g.details, '{}'::jsonb), NULL,
           coalesce(g.old_episodes, 0) + CASE WHEN g.is_new THEN 1 ELSE 0 END
      FROM g
    ON CONFLICT (subject, rule) DO UPDATE
       SET display_name = EXCLUDED.display_name, state = EXCLUDED.state, severity = EXCLUDED.severity,
           since = EXCLUDED.since, last_evaluated_at = EXCLUDED.last_evaluated_at,
           last_notified_at = EXCLUDED.last_notified_at, notified_severity = EXCLUDED.notified_severity,
           count = EXCLUDED.count, silenced = EXCLUDED.silenced, suppressed = EXCLUDED.suppressed,
           summary = EXCLUDED.summary, details = EXCLUDED.details, resolved_at = NULL,
           episodes = EXCLUDED.episodes
    RETURNING 1
  ),
  hb AS (
    UPDATE public.job_heartbeats h
       SET last_alert_at = p_as_of
      FROM g
     WHERE g.notify AND (g.rule = 'stale_heartbeat' OR g.watch_hb) AND h.job_name = g.subject
    RETURNING 1
  ),
  q AS (
    SELECT bgjobs.enqueue_alert(
             CASE WHEN g.rule = 'consecutive_failures' AND g.cur_count = 0 THEN 'job_failure' ELSE 'job_alert' END,
             jsonb_build_object(
               'job_name', coalesce(g.display_name, g.subject), 'subject', g.subject, 'rule', g.rule,
               'error_message', g.details ->> 'last_error',
               'severity', g.severity, 'summary', g.summary, 'details', coalesce(g.details, '{}'::jsonb),
               'alert_time', v_at,
               'since', to_char(g.new_since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
               'repeat', g.cur_count > 0 AND NOT g.escalated,
               'escalated', g.escalated,
               'notification', g.cur_count + 1),
             format('job_alert:%s:%s:%s:%s', g.subject, g.rule,
                    floor(extract(epoch FROM g.new_since))::bigint, g.cur_count + 1)) AS n
      FROM g
     WHERE g.notify
  )
  SELECT count(*) FILTER (WHERE g.notify),
         count(*) FILTER (WHERE g.notify AND g.cur_count > 0 AND NOT g.escalated),
         count(*) FILTER (WHERE g.notify AND g.escalated),
         count(*) FILTER (WHERE NOT g.notify AND NOT g.is_silenced),
         count(*) FILTER (WHERE NOT g.notify AND g.is_silenced),
         (SELECT coalesce(sum(q.n), 0) FROM q) + 0 * (SELECT count(*) FROM up) + 0 * (SELECT count(*) FROM hb)
    INTO v_alerts, v_repeats, v_escalations, v_suppressed, v_silenced, v_queued
    FROM g;

  WITH res AS (
    UPDATE bgjobs.alert_state a
       SET state = 'ok', since = p_as_of, resolved_at = p_as_of, last_evaluated_at = p_as_of, silenced = false
      FROM bgjobs.alert_state o
     WHERE o.subject = a.subject AND o.rule = a.rule
       AND a.state = 'firing'
       AND a.rule = ANY (p_rules)
       AND (p_subjects IS NULL OR a.subject = ANY (p_subjects))
       AND NOT EXISTS (SELECT 1
                         FROM jsonb_to_recordset(coalesce(p_findings, '[]'::jsonb)) AS x(subject text, rule text)
                        WHERE x.subject = a.subject AND x.rule = a.rule)
    RETURNING a.subject, a.rule, a.display_name, o.severity, o.count, o.since AS old_since, o.summary
  ),
  q AS (
    SELECT bgjobs.enqueue_alert(
             'alert_resolved',
             jsonb_build_object(
               'job_name', res.display_name, 'subject', res.subject, 'rule', res.rule, 'severity', res.severity,
               'summary', format('Resolved after %s hours (was %s: %s)',
                                 round(extract(epoch FROM p_as_of - res.old_since) / 3600, 1), res.severity, res.summary),
               'resolved_at', v_at,
               'since', to_char(res.old_since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')),
             format('alert_resolved:%s:%s:%s', res.subject, res.rule, floor(extract(epoch FROM res.old_since))::bigint)) AS n
      FROM res
     WHERE v_send_resolved
       AND res.count > 0
       AND NOT EXISTS (SELECT 1 FROM bgjobs.job_registry r WHERE r.job_name = res.subject AND NOT r.enabled)
  )
  SELECT (SELECT count(*) FROM res), (SELECT coalesce(sum(q.n), 0) FROM q)
    INTO v_resolved, v_rqueued;

  RETURN jsonb_build_object('alerts', v_alerts, 'repeats', v_repeats, 'escalations', v_escalations,
                            'suppressed', v_suppressed, 'silenced', v_silenced, 'resolved', v_resolved,
                            'queued', v_queued + v_rqueued);
END;
$$;

CREATE FUNCTION bgjobs.apply_run_alert(p_job_name text, p_as_of timestamp with time zone) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
  v_findings jsonb;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM bgjobs.job_registry r WHERE r.job_name = p_job_name AND r.enabled) THEN
    RETURN NULL;
  END IF;
  SELECT coalesce(jsonb_agg(to_jsonb(f)), '[]'::jsonb)
    INTO v_findings
    FROM bgjobs.detect_job_issues(p_as_of, p_job_name) f       -- this job's rules only
   WHERE f.rule = 'consecutive_failures';
  RETURN bgjobs.apply_alerts(p_as_of, ARRAY['consecutive_failures'], v_findings, ARRAY[p_job_name]);
END;
$$;

CREATE FUNCTION bgjobs.begin_run(p_job_name text, p_as_of timestamp with time zone, p_trigger text, p_session_lock boolean, OUT run_id uuid, OUT skipped boolean) RETURNS record
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
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
  IF p_as_of IS NULL OR NOT isfinite(p_as_of) THEN
    RAISE EXCEPTION 'as_of must be a finite timestamp, not %', coalesce(p_as_of::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- A manual run as of the future would change business data for good (tasks flagged
  -- overdue, snapshots dated ahead): refused beyond a day unless the session opts in.
  IF p_trigger = 'manual' AND p_as_of > now() + interval '1 day'
     AND coalesce(current_setting('bgjobs.allow_future_as_of', true), '') NOT IN ('on', 'true', '1') THEN
    RAISE EXCEPTION 'as_of % is more than a day ahead of now: a run as of the future changes business data for good', p_as_of
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'to run it anyway: SET bgjobs.allow_future_as_of = on';
  END IF;
  -- the reaper's own first test, done here: no definer call when no run is open
  IF EXISTS (SELECT 1 FROM public.jobs_log j WHERE j.status = 'running') THEN
    PERFORM bgjobs.reap_stale_runs(false);
  END IF;

  IF p_session_lock THEN
    v_got := pg_try_advisory_lock(1650944610, hashtext(p_job_name));
  ELSE
    v_got := pg_try_advisory_xact_lock(1650944610, hashtext(p_job_name));
  END IF;

  IF v_got AND NOT p_session_lock THEN
    run_id := gen_random_uuid();                    -- its row: bgjobs.execute_run
    skipped := false;
  ELSIF v_got THEN
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

CREATE FUNCTION bgjobs.check_maintenance_job(p_job_name text) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
  IF p_job_name IS NOT NULL AND NOT EXISTS (SELECT 1 FROM bgjobs.job_registry r WHERE r.job_name = p_job_name) THEN
    RAISE EXCEPTION 'maintenance window: unknown job "%"', p_job_name
      USING ERRCODE = 'undefined_object',
            HINT = 'registered jobs: ' || coalesce((SELECT string_agg(r.job_name, ', ' ORDER BY r.job_name)
                                                    FROM bgjobs.job_registry r), '(none)');
  END IF;
END;
$$;

CREATE FUNCTION bgjobs.check_setting(p_key text, p_value text) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
DECLARE
  s bgjobs.setting_spec%ROWTYPE;
  v_n numeric;
  v_bare constant text := '^[^][[:space:]@<>,;:"()\\]+@[^][[:space:]@<>,;:"()\\]+$';
  v_addr text;
BEGIN
  SELECT * INTO s FROM bgjobs.setting_spec WHERE key = p_key;
  IF NOT FOUND THEN
    RETURN format('unknown setting %L', p_key);
  END IF;
  IF p_value IS NULL THEN
    RETURN CASE WHEN s.optional THEN NULL ELSE 'must not be NULL' END;
  END IF;
  IF strpos(p_value, chr(13)) > 0 OR strpos(p_value, chr(10)) > 0 THEN
    RETURN 'must be one line (no CR, LF or NUL)';
  END IF;
  IF p_value = '' AND (s.optional OR s.type = 'text') THEN
    RETURN NULL;
  END IF;
  CASE s.type
    WHEN 'integer', 'port', 'number' THEN
      IF s.type <> 'number' AND p_value !~ '^[+-]?[0-9]+$' THEN
        RETURN format('must be a whole number, not %L', p_value);
      ELSIF s.type = 'number' AND p_value !~ '^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$' THEN
        RETURN format('must be a number, not %L', p_value);
      END IF;
      v_n := p_value::numeric;
      IF (s.min_value IS NOT NULL AND v_n < s.min_value) OR (s.max_value IS NOT NULL AND v_n > s.max_value) THEN
        RETURN format('must be between %s and %s, not %s', trim_scale(s.min_value), trim_scale(s.max_value), p_value);
      END IF;
    WHEN 'boolean' THEN
      IF p_value NOT IN ('true', 'false') THEN
        RETURN format('must be true or false, not %L', p_value);
      END IF;
    WHEN 'choice' THEN
      IF NOT p_value = ANY (s.choices) THEN
        RETURN format('must be one of %s, not %L', array_to_string(s.choices, ', '), p_value);
      END IF;
    WHEN 'email' THEN
      v_addr := coalesce(substring(p_value FROM '^[^<>]*<([^<>]*)>$'), p_value);
      IF v_addr !~ v_bare THEN
        RETURN format('must be an e-mail address (name@domain or Name <name@domain>), not %L', p_value);
      END IF;
    WHEN 'email_list' THEN
      IF EXISTS (SELECT 1 FROM unnest(string_to_array(p_value, ',')) a WHERE btrim(a) !~ v_bare) THEN
        RETURN format('must be e-mail addresses (name@domain) separated by commas, not %L', p_value);
      END IF;
    WHEN 'url' THEN
      IF p_value !~ '^https?://[^[:space:]/?#@]+(/[^[:space:]]*)?$' THEN
        RETURN format('must be an http:// or https:// URL, not %L', p_value);
      END IF;
    WHEN 'host' THEN
      IF p_value !~ '^([A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:]+:[0-9A-Fa-f:.]*)$' THEN
        RETURN format('must be a host name or IP address, not %L', p_value);
      END IF;
    ELSE
      NULL;
  END CASE;
  RETURN NULL;
END;
$_$;

CREATE FUNCTION bgjobs.claim_notifications(p_as_of timestamp with time zone, p_limit integer, p_deliverer text) RETURNS TABLE(tenant_id uuid, id uuid, channel text, recipient text, template text, payload jsonb, category text, attempts integer, dedupe_key text, created_at timestamp with time zone, timezone text)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH c AS (
    SELECT n.tenant_id, n.id
      FROM public.notifications n
     WHERE n.status IN ('pending', 'failed')
       AND n.next_attempt_at <= p_as_of
     ORDER BY n.next_attempt_at
     LIMIT greatest(coalesce(p_limit, 100), 1)
       FOR UPDATE SKIP LOCKED
  )
  , claimed AS (
    UPDATE public.notifications n
       SET delivered_by = p_deliverer
      FROM c
     WHERE n.tenant_id = c.tenant_id AND n.id = c.id
    RETURNING n.tenant_id, n.id, n.channel, n.recipient, n.template, n.payload, n.category, n.attempts,
              n.dedupe_key, n.created_at
  )
  -- a join, not a correlated subquery: tenants may be distributed (Citus)
  SELECT cl.tenant_id, cl.id, cl.channel, cl.recipient, cl.template, cl.payload, cl.category, cl.attempts,
         cl.dedupe_key, cl.created_at, coalesce(z.timezone, 'UTC')
    FROM claimed cl
    LEFT JOIN (SELECT t.id, t.timezone FROM public.tenants t) z ON z.id = cl.tenant_id;
END;
$$;

CREATE FUNCTION bgjobs.cron_apply(p_job_name text) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
DECLARE
  r      bgjobs.job_registry%ROWTYPE;
  v_name text;
  v_id   bigint;
  v_db   text;
  v_cmd  text;
BEGIN
  SELECT * INTO r FROM bgjobs.job_registry j WHERE j.job_name = p_job_name;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown job "%"', p_job_name USING ERRCODE = 'undefined_object';
  END IF;
  IF to_regclass('cron.job') IS NULL OR NOT has_schema_privilege('cron', 'USAGE')
     OR to_regprocedure('cron.schedule_in_database(text,text,text,text,text,boolean)') IS NULL
     OR to_regprocedure('cron.alter_job(bigint,text,text,text,text,boolean)') IS NULL
     OR NOT has_function_privilege('cron.schedule_in_database(text,text,text,text,text,boolean)', 'EXECUTE')
     OR NOT has_function_privilege('cron.alter_job(bigint,text,text,text,text,boolean)', 'EXECUTE') THEN
    RETURN NULL;
  END IF;
  v_name := coalesce(r.cron_jobname, r.job_name);
  EXECUTE 'SELECT j.jobid, j.database::text FROM cron.job j WHERE j.jobname = $1 AND j.username = current_user'
     INTO v_id, v_db USING v_name;
  IF v_id IS NOT NULL AND v_db <> current_database() THEN
    v_name := v_name || '@' || current_database();
    v_id := NULL;
    EXECUTE 'SELECT j.jobid FROM cron.job j WHERE j.jobname = $1 AND j.username = current_user'
       INTO v_id USING v_name;
  END IF;
  v_cmd := format('CALL bgjobs.run_scheduled_job(%L)', r.job_name);
  IF v_id IS NULL THEN
    EXECUTE 'SELECT cron.schedule_in_database($1, $2, $3, $4, NULL, $5)'
      USING v_name, coalesce(r.tick, r.schedule), v_cmd, current_database(), r.enabled;
  ELSE
    EXECUTE 'SELECT cron.alter_job($1, $2, $3, $4, NULL, $5)'
      USING v_id, coalesce(r.tick, r.schedule), v_cmd, current_database(), CASE WHEN r.enabled THEN NULL ELSE false END;
  END IF;
  RETURN v_name;
END;
$_$;

CREATE FUNCTION bgjobs.cron_check(p_schedule text, p_timezone text) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET "TimeZone" TO 'UTC'
    AS $_$
DECLARE
  v_err  text;
  v_real text;
BEGIN
  IF p_schedule IS NULL OR btrim(p_schedule) = '' THEN
    RETURN 'invalid cron expression: it is empty';
  END IF;
  BEGIN
    PERFORM bgjobs.cron_parse(p_schedule);
  EXCEPTION WHEN invalid_parameter_value THEN
    RETURN SQLERRM;
  END;
  IF p_timezone IS DISTINCT FROM 'tenant' THEN
    IF p_timezone IS NULL OR btrim(p_timezone) = '' THEN
      v_err := 'time zone name is empty';
    ELSIF p_timezone !~ '^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$'
          OR (p_timezone ~* '^[a-z]{3,}[+-]?[0-9]'
              AND upper(p_timezone) NOT IN ('EST5EDT', 'CST6CDT', 'MST7MDT', 'PST8PDT', 'GMT0', 'GMT+0', 'GMT-0')) THEN
      v_err := format('unknown time zone %s', quote_literal(p_timezone));
    ELSE
      BEGIN
        -- the setting finds the zone's file whatever the case and shows its spelling
        PERFORM pg_catalog.set_config('TimeZone', p_timezone, true);
        v_real := pg_catalog.current_setting('TimeZone');
      EXCEPTION WHEN invalid_parameter_value THEN
        v_err := format('unknown time zone %s', quote_literal(p_timezone));
      END;
      IF v_err IS NULL AND v_real IS DISTINCT FROM p_timezone THEN
        v_err := format('time zone %s is spelled %s', quote_literal(p_timezone), quote_literal(v_real));
      END IF;
    END IF;
    IF v_err IS NOT NULL THEN
      RETURN v_err || ' (an IANA zone such as Europe/Berlin, or tenant)';
    END IF;
  END IF;
  RETURN NULL;
END;
$_$;

CREATE FUNCTION bgjobs.cron_daily(p_schedule text) RETURNS boolean
    LANGUAGE sql IMMUTABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$ SELECT p_schedule IS NULL OR p_schedule ~ '^\S+\s+\S+\s+\*\s+\*\s+\*\s*$' $_$;

CREATE FUNCTION bgjobs.cron_fire(p_schedule text, p_timezone text, p_at timestamp with time zone, p_forward boolean) RETURNS timestamp with time zone
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET "TimeZone" TO 'UTC'
    AS $_$
DECLARE
  c           record;
  v_zone      text := coalesce(nullif(p_timezone, ''), 'UTC');
  v_fwd       boolean := p_forward IS DISTINCT FROM false;
  v_wall      timestamp;
  v_start     timestamp;
  v_base      timestamp;
  v_day       timestamp;            -- local midnight of the day walked
  v_spread    interval;             -- offset spread around v_day (NULL: not computed yet)
  v_first_min integer;
  v_last_min  integer;
  y           integer;
  mo          integer;
  d           integer;
  t           integer;              -- minute of the day of the last wall time (-1/1440: none yet)
  h           integer;
  x           integer;
  v_last      integer;              -- days in month mo
  v_shift     integer;              -- weekday of day d is (v_shift + d) % 7, 0 = Sunday
  v_day_ok    boolean;
  w           timestamp;            -- the wall time
  v_t         timestamptz;
  v_oa        interval;
  v_ob        interval;
  v_t1        timestamptz;
  v_t2        timestamptz;
  v_i1        timestamptz;          -- the wall time's instants (NULL: none)
  v_i2        timestamptz;
  v_inst      timestamptz;
  v_lo        bigint;
  v_hi        bigint;
  v_mid       bigint;
  v_best      timestamptz;
  v_best_src  timestamp;
  v_best_sp   interval;
  n           integer;
BEGIN
  IF p_schedule IS NULL THEN
    RETURN NULL;
  END IF;
  c := bgjobs.cron_parse(p_schedule);
  IF v_zone <> 'UTC' THEN
    -- an IANA name; not a POSIX TZ string or offset, which the TimeZone setting also takes
    IF v_zone !~ '^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$'
       OR (v_zone ~* '^[a-z]{3,}[+-]?[0-9]'
           AND upper(v_zone) NOT IN ('EST5EDT', 'CST6CDT', 'MST7MDT', 'PST8PDT', 'GMT0', 'GMT+0', 'GMT-0')) THEN
      RAISE EXCEPTION 'unknown time zone %', quote_literal(v_zone) USING ERRCODE = 'invalid_parameter_value';
    END IF;
    BEGIN
      PERFORM pg_catalog.set_config('TimeZone', v_zone, true);
    EXCEPTION WHEN invalid_parameter_value THEN
      RAISE EXCEPTION 'unknown time zone %', quote_literal(v_zone) USING ERRCODE = 'invalid_parameter_value';
    END;
  END IF;
  IF p_at IS NULL OR NOT isfinite(p_at) THEN
    RETURN NULL;
  END IF;

  v_wall := date_trunc('minute', p_at::timestamp);
  -- the offset spread needs three days either side within years 1-9999
  IF v_wall < '0001-01-04' OR v_wall >= '9999-12-29' THEN
    RETURN NULL;
  END IF;
  v_day := date_trunc('day', v_wall);
  v_spread := bgjobs.zone_offset_spread(v_day);
  v_start := CASE WHEN v_fwd THEN v_wall - interval '1 minute' - v_spread ELSE v_wall + interval '1 minute' + v_spread END;
  v_base := date_trunc('minute', v_start);
  IF date_trunc('day', v_base) <> v_day THEN
    v_spread := NULL;
  END IF;

  -- first and last minute of the minute set (the first and last times of each hour)
  x := 0;
  WHILE (c.minutes >> x) & 1 = 0 LOOP x := x + 1; END LOOP;
  v_first_min := x;
  x := 59;
  WHILE (c.minutes >> x) & 1 = 0 LOOP x := x - 1; END LOOP;
  v_last_min := x;

  y := extract(year FROM v_base)::integer;
  mo := extract(month FROM v_base)::integer;
  d := extract(day FROM v_base)::integer;
  -- forward: walls strictly after the start's minute; backward: strictly before it, the
  -- start's own minute included when the start is past it (a spread with seconds)
  t := extract(hour FROM v_base)::integer * 60 + extract(minute FROM v_base)::integer
       + CASE WHEN NOT v_fwd AND v_base <> v_start THEN 1 ELSE 0 END;
  v_last := CASE WHEN mo = 2 THEN CASE WHEN y % 4 = 0 AND (y % 100 <> 0 OR y % 400 = 0) THEN 29 ELSE 28 END
                 WHEN mo IN (4, 6, 9, 11) THEN 30 ELSE 31 END;
  v_shift := extract(isodow FROM make_date(y, mo, 1))::integer - 1;
  v_day_ok := (c.months >> mo) & 1 = 1
              AND CASE WHEN c.and_days THEN (c.doms >> d) & 1 = 1 AND (c.dows >> ((v_shift + d) % 7)) & 1 = 1
                       ELSE (c.doms >> d) & 1 = 1 OR (c.dows >> ((v_shift + d) % 7)) & 1 = 1 END;

  LOOP
    -- the next (previous) matching time on this day, -1 if none
    x := -1;
    IF v_day_ok THEN
      IF v_fwd THEN
        h := CASE WHEN t < 0 THEN 0 ELSE t / 60 END;
        IF t >= 0 AND (c.hours >> h) & 1 = 1 THEN
          FOR n IN t % 60 + 1 .. 59 LOOP
            IF (c.minutes >> n) & 1 = 1 THEN x := h * 60 + n; EXIT; END IF;
          END LOOP;
        END IF;
        IF x < 0 THEN
          FOR n IN CASE WHEN t < 0 THEN 0 ELSE h + 1 END .. 23 LOOP
            IF (c.hours >> n) & 1 = 1 THEN x := n * 60 + v_first_min; EXIT; END IF;
          END LOOP;
        END IF;
      ELSE
        h := t / 60;
        IF h <= 23 AND (c.hours >> h) & 1 = 1 THEN
          FOR n IN REVERSE t % 60 - 1 .. 0 LOOP
            IF (c.minutes >> n) & 1 = 1 THEN x := h * 60 + n; EXIT; END IF;
          END LOOP;
        END IF;
        IF x < 0 THEN
          FOR n IN REVERSE h - 1 .. 0 LOOP
            IF (c.hours >> n) & 1 = 1 THEN x := n * 60 + v_last_min; EXIT; END IF;
          END LOOP;
        END IF;
      END IF;
    END IF;
    IF x < 0 THEN
      -- on to the next (previous) matching day; whole months that do not match are skipped
      LOOP
        d := d + CASE WHEN v_fwd THEN 1 ELSE -1 END;
        IF d > v_last OR d < 1 THEN
          LOOP
            mo := mo + CASE WHEN v_fwd THEN 1 ELSE -1 END;
            IF mo = 13 THEN
              mo := 1;
              y := y + 1;
            ELSIF mo = 0 THEN
              mo := 12;
              y := y - 1;
            END IF;
            IF y > 9999 OR y < 1 THEN
              RETURN v_best;
            END IF;
            EXIT WHEN (c.months >> mo) & 1 = 1;
          END LOOP;
          v_last := CASE WHEN mo = 2 THEN CASE WHEN y % 4 = 0 AND (y % 100 <> 0 OR y % 400 = 0) THEN 29 ELSE 28 END
                         WHEN mo IN (4, 6, 9, 11) THEN 30 ELSE 31 END;
          v_shift := extract(isodow FROM make_date(y, mo, 1))::integer - 1;
          d := CASE WHEN v_fwd THEN 1 ELSE v_last END;
        END IF;
        EXIT WHEN (c.months >> mo) & 1 = 1
              AND CASE WHEN c.and_days THEN (c.doms >> d) & 1 = 1 AND (c.dows >> ((v_shift + d) % 7)) & 1 = 1
                       ELSE (c.doms >> d) & 1 = 1 OR (c.dows >> ((v_shift + d) % 7)) & 1 = 1 END;
      END LOOP;
      v_day_ok := true;
      v_spread := NULL;
      t := CASE WHEN v_fwd THEN -1 ELSE 1440 END;
      CONTINUE;
    END IF;
    t := x;

    IF v_spread IS NULL THEN
      v_day := make_timestamp(y, mo, d, 0, 0, 0);
      IF v_day < '0001-01-04' OR v_day >= '9999-12-29' THEN
        RETURN v_best;       -- the spread would leave years 1-9999
      END IF;
      v_spread := bgjobs.zone_offset_spread(v_day);
    END IF;

    -- the wall time's instants
    w := make_timestamp(y, mo, d, t / 60, t % 60, 0);
    v_t := w::timestamptz;
    v_i1 := NULL;
    v_i2 := NULL;
    IF v_spread = interval '0' THEN
      v_i1 := v_t;                 -- no offset change near: the one instant
    ELSE
      v_oa := (v_t - interval '24 hours')::timestamp - ((v_t - interval '24 hours') AT TIME ZONE 'UTC');
      v_ob := (v_t + interval '24 hours')::timestamp - ((v_t + interval '24 hours') AT TIME ZONE 'UTC');
      IF v_oa = v_ob THEN
        v_i1 := v_t;
      ELSE
        v_t1 := (w - v_oa) AT TIME ZONE 'UTC';     -- with the offset before the change
        v_t2 := (w - v_ob) AT TIME ZONE 'UTC';     -- with the offset after it
        IF v_t1::timestamp = w AND v_t2::timestamp = w THEN
          -- repeated: the first occurrence, and for a wildcard job the second too
          v_i1 := least(v_t1, v_t2);
          IF c.wildcard THEN
            v_i2 := greatest(v_t1, v_t2);
          END IF;
        ELSIF v_t1::timestamp = w THEN
          v_i1 := v_t1;
        ELSIF v_t2::timestamp = w THEN
          v_i1 := v_t2;
        ELSIF NOT c.wildcard THEN
          -- skipped: the end of the gap, the first second whose local time is past w
          v_lo := floor(extract(epoch FROM v_t2))::bigint;
          v_hi := floor(extract(epoch FROM v_t1))::bigint;
          WHILE v_lo + 1 < v_hi LOOP
            v_mid := (v_lo + v_hi) / 2;
            IF to_timestamp(v_mid)::timestamp > w THEN v_hi := v_mid; ELSE v_lo := v_mid; END IF;
          END LOOP;
          v_i1 := to_timestamp(v_hi);
        END IF;
      END IF;
    END IF;

    FOR n IN 1 .. 2 LOOP
      v_inst := CASE n WHEN 1 THEN v_i1 ELSE v_i2 END;
      CONTINUE WHEN v_inst IS NULL;
      IF v_inst < '0001-01-01 00:00:00+00' OR v_inst >= '10000-01-01 00:00:00+00' THEN
        RETURN v_best;               -- past the limits of the calendar walked
      END IF;
      IF v_fwd AND v_inst > p_at AND (v_best IS NULL OR v_inst < v_best)
         OR NOT v_fwd AND v_inst <= p_at AND (v_best IS NULL OR v_inst > v_best) THEN
        v_best := v_inst;
        v_best_src := w;
        v_best_sp := v_spread;
      END IF;
    END LOOP;
    IF v_best IS NOT NULL
       AND (CASE WHEN v_fwd THEN w - v_best_src ELSE v_best_src - w END) >= v_best_sp THEN
      RETURN v_best;
    END IF;
  END LOOP;
END;
$_$;

CREATE FUNCTION bgjobs.cron_jobs() RETURNS TABLE(jobid bigint, jobname text, schedule text, command text, database text, username text, active boolean)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = 'cron' AND c.relname = 'job')
     OR NOT has_schema_privilege('cron', 'USAGE') THEN
    RETURN;
  END IF;
  RETURN QUERY EXECUTE
    'SELECT j.jobid, j.jobname::text, j.schedule::text, j.command::text, j.database::text, j.username::text, j.active
       FROM cron.job j
      WHERE j.database = current_database() AND j.username = current_user';
END;
$$;

CREATE FUNCTION bgjobs.cron_max_gap(p_schedule text, p_timezone text) RETURNS interval
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET "TimeZone" TO 'UTC'
    AS $$
DECLARE
  c          record;
  v_zone     text := coalesce(nullif(p_timezone, ''), 'UTC');
  v_start    timestamptz := now();
  v_count    integer := 0;
  v_first    integer;
  v_last     integer;
  v_prev_t   integer;
  v_best     integer;               -- minutes
  v_gap      interval;
  v_day      date;
  v_horizon  date;
  v_limit    date;
  v_prev_day date;
  v_matched  integer := 0;
  v_fire     timestamptz;
  v_every    boolean;
  v_change   timestamptz;
  v_changes  timestamptz[] := '{}';
  v_reach    interval;
  v_local    timestamp;
  v_spread   interval;
  v_prev     timestamptz;
  h          integer;
  m          integer;
  k          integer;
  v_dom_ok   boolean;
  v_dow_ok   boolean;
BEGIN
  IF p_schedule IS NULL THEN
    RETURN NULL;
  END IF;
  c := bgjobs.cron_parse(p_schedule);
  -- the zone is checked, and set for this function's duration, by the first fire asked for
  v_fire := bgjobs.cron_fire(p_schedule, v_zone, v_start, false);
  PERFORM pg_catalog.set_config('TimeZone', v_zone, true);

  -- the times of a day (every matching hour at every matching minute), and the gaps between
  -- them: between two minutes of an hour, and from an hour's last minute to the next's first
  FOR m IN 0 .. 59 LOOP
    CONTINUE WHEN (c.minutes >> m) & 1 = 0;
    IF v_last IS NOT NULL THEN
      v_best := greatest(v_best, m - v_last);
    END IF;
    v_first := coalesce(v_first, m);
    v_last := m;
    v_count := v_count + 1;
  END LOOP;
  v_prev_t := NULL;
  k := 0;
  FOR h IN 0 .. 23 LOOP
    CONTINUE WHEN (c.hours >> h) & 1 = 0;
    IF v_prev_t IS NOT NULL THEN
      v_best := greatest(v_best, (h - v_prev_t) * 60 + v_first - v_last);
    ELSIF k = 0 THEN
      m := h;                         -- the first hour
    END IF;
    v_prev_t := h;
    k := k + 1;
  END LOOP;
  v_count := v_count * k;
  v_first := m * 60 + v_first;        -- the first time of the day
  v_last := v_prev_t * 60 + v_last;   -- the last
  v_every := c.months = 8190
             AND CASE WHEN c.and_days THEN c.doms = 4294967294 AND c.dows = 127
                      ELSE c.doms = 4294967294 OR c.dows = 127 END;
  IF v_every AND v_count = 1440 THEN
    RETURN interval '1 minute';       -- every minute, whatever the clock does
  END IF;

  -- the gaps between matching days (from the fire before now, over 400 days)
  v_day := v_start::date;
  v_horizon := least(v_day, date '9999-12-30' - 400) + 400;
  IF v_fire IS NOT NULL THEN
    v_day := least(v_day, v_fire::date);
  END IF;
  -- within one Gregorian cycle every expression fires twice
  v_limit := least(v_day, date '9999-12-30' - 400 * 366) + 400 * 366;
  IF v_every THEN
    v_best := greatest(v_best, 1440 + v_first - v_last);
  ELSE
    WHILE v_day <= v_limit LOOP
      IF (c.months >> extract(month FROM v_day)::integer) & 1 = 0 THEN
        v_day := (date_trunc('month', v_day) + interval '1 month')::date;   -- next month
        CONTINUE;
      END IF;
      v_dom_ok := (c.doms >> extract(day FROM v_day)::integer) & 1 = 1;
      v_dow_ok := (c.dows >> extract(dow FROM v_day)::integer) & 1 = 1;
      IF (CASE WHEN c.and_days THEN v_dom_ok AND v_dow_ok ELSE v_dom_ok OR v_dow_ok END) THEN
        IF v_prev_day IS NOT NULL THEN
          v_best := greatest(v_best, (v_day - v_prev_day) * 1440 + v_first - v_last);
        END IF;
        v_prev_day := v_day;
        v_matched := v_matched + 1;
      END IF;
      EXIT WHEN v_day >= v_horizon AND v_matched >= 2;
      v_day := v_day + 1;
    END LOOP;
  END IF;
  IF v_best IS NULL THEN
    RETURN NULL;
  END IF;
  v_gap := make_interval(mins => v_best);

  -- around each UTC offset change within 400 days: the real gaps between the fires
  -- (a day's precision: the offset at each 24 hours from now, as the module samples it)
  IF v_zone <> 'UTC' THEN
    SELECT coalesce(array_agg(o.at ORDER BY o.k), '{}') INTO v_changes
      FROM (SELECT a.k, a.at, a.off, lag(a.off) OVER (ORDER BY a.k) AS before
              FROM (SELECT g.k, v_start + make_interval(hours => 24 * g.k) AS at,
                           (v_start + make_interval(hours => 24 * g.k))::timestamp
                           - ((v_start + make_interval(hours => 24 * g.k)) AT TIME ZONE 'UTC') AS off
                      FROM generate_series(0, 400) g(k)) a) o
     WHERE o.before <> o.off;
  END IF;
  FOREACH v_change IN ARRAY v_changes LOOP
    v_local := date_trunc('day', v_change::timestamp);
    v_spread := bgjobs.zone_offset_spread(v_local);
    v_reach := make_interval(secs => extract(epoch FROM v_gap + v_spread) + 60);   -- no days: 24-hour days
    v_prev := NULL;
    v_fire := v_change - interval '24 hours' - v_reach;
    LOOP
      v_fire := bgjobs.cron_fire(p_schedule, v_zone, v_fire, true);
      EXIT WHEN v_fire IS NULL;
      IF v_prev IS NOT NULL AND v_fire - v_prev > v_gap THEN
        v_gap := make_interval(secs => extract(epoch FROM v_fire - v_prev));
      END IF;
      EXIT WHEN v_fire > v_change + v_reach;
      v_prev := v_fire;
    END LOOP;
  END LOOP;
  RETURN make_interval(secs => extract(epoch FROM v_gap));
END;
$$;

CREATE FUNCTION bgjobs.cron_next(p_schedule text, p_timezone text, p_after timestamp with time zone) RETURNS timestamp with time zone
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$ SELECT bgjobs.cron_fire(p_schedule, p_timezone, p_after, true) $$;

CREATE FUNCTION bgjobs.cron_parse(p_schedule text, OUT minutes bigint, OUT hours bigint, OUT doms bigint, OUT months bigint, OUT dows bigint, OUT wildcard boolean, OUT and_days boolean) RETURNS record
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
DECLARE
  v_text   text := regexp_replace(p_schedule, '^\s+|\s+$', '', 'g');
  v_fields text[];
  v_names  text[] := ARRAY['minute', 'hour', 'day-of-month', 'month', 'day-of-week'];
  v_low    integer[] := ARRAY[0, 0, 1, 1, 0];
  v_high   integer[] := ARRAY[59, 23, 31, 12, 7];
  v_months text[] := ARRAY['jan','feb','mar','apr','may','jun','jul','aug','sep','oct','nov','dec'];
  v_dows   text[] := ARRAY['sun','mon','tue','wed','thu','fri','sat'];
  v_err    text;
  v_mask   bigint;
  v_item   text;
  v_rng    text;
  v_first  text;
  v_last   text;
  v_pos    integer;
  v_slash  boolean;
  v_dash   boolean;
  v_step   numeric;
  v_start  numeric;
  v_stop   numeric;
  v_num    numeric;
  v_part   text;
  v_repr   text;
  i        integer;
  k        integer;
  v        integer;
BEGIN
  IF v_text IS NULL OR v_text = '' THEN
    v_err := 'empty cron expression';
  ELSIF left(v_text, 1) = '@' THEN
    IF v_text IN ('@reboot', '@restart') THEN
      v_err := v_text || ' is not a time schedule (it would run only at server start)';
    ELSE
      v_fields := string_to_array(CASE v_text
                    WHEN '@yearly' THEN '0 0 1 1 *' WHEN '@annually' THEN '0 0 1 1 *'
                    WHEN '@monthly' THEN '0 0 1 * *' WHEN '@weekly' THEN '0 0 * * 0'
                    -- Vixie sets no DOM/DOW star flag for @daily: both full, OR -> every day
                    WHEN '@daily' THEN '0 0 1-31 * 0-7' WHEN '@midnight' THEN '0 0 1-31 * 0-7'
                    WHEN '@hourly' THEN '0 * 1-31 * 0-7' END, ' ');
      IF v_fields IS NULL THEN
        v_err := format('unknown macro %s (known: @annually, @daily, @hourly, @midnight, @monthly, @weekly, @yearly)',
                        CASE WHEN strpos(v_text, '''') > 0 AND strpos(v_text, '"') = 0 THEN '"' || v_text || '"'
                             ELSE '''' || replace(v_text, '''', '\''') || '''' END);
      END IF;
    END IF;
  ELSIF v_text ~* '^[0-9]+\s+seconds?$' THEN
    v_err := '''N seconds'' schedules need pg_cron 1.5 or later';
  ELSE
    v_fields := regexp_split_to_array(v_text, '\s+');
    IF cardinality(v_fields) <> 5 THEN
      v_err := format('%s fields; pg_cron 1.4 takes exactly 5 (minute hour day-of-month month day-of-week), no seconds field',
                      cardinality(v_fields));
    END IF;
  END IF;

  i := 0;
  WHILE v_err IS NULL AND i < 5 LOOP
    i := i + 1;
    v_mask := 0;
    -- the common forms without the general walk: '*', '*/n', a number
    IF v_fields[i] = '*' THEN
      v_mask := (1::bigint << (v_high[i] + 1)) - (1::bigint << v_low[i]);
    ELSIF v_fields[i] ~ '^[0-9]{1,2}$' AND v_fields[i]::integer BETWEEN v_low[i] AND v_high[i] THEN
      v_mask := 1::bigint << v_fields[i]::integer;
    END IF;
    FOREACH v_item IN ARRAY CASE WHEN v_mask = 0 THEN string_to_array(v_fields[i], ',') ELSE '{}'::text[] END LOOP
      v_repr := CASE WHEN strpos(v_item, '''') > 0 AND strpos(v_item, '"') = 0 THEN '"' || v_item || '"'
                     ELSE '''' || replace(v_item, '''', '\''') || '''' END;
      v_pos := strpos(v_item, '/');
      v_slash := v_pos > 0;
      v_rng := CASE WHEN v_slash THEN left(v_item, v_pos - 1) ELSE v_item END;
      v_step := 1;
      IF v_slash THEN
        v_part := substr(v_item, v_pos + 1);
        IF v_part !~ '^[0-9]+$' OR v_part::numeric = 0 THEN
          v_err := format('%s field: bad step in %s', v_names[i], v_repr);
          EXIT;
        END IF;
        v_step := least(v_part::numeric, 64);
      END IF;
      IF v_rng = '*' THEN
        v_start := v_low[i];
        v_stop := v_high[i];
      ELSE
        v_pos := strpos(v_rng, '-');
        v_dash := v_pos > 0;
        v_first := CASE WHEN v_dash THEN left(v_rng, v_pos - 1) ELSE v_rng END;
        v_last := CASE WHEN v_dash THEN substr(v_rng, v_pos + 1) END;
        IF v_first = '' OR (v_dash AND v_last = '') THEN
          v_err := format('%s field: %s is not a number, range or ''*''', v_names[i], v_repr);
          EXIT;
        END IF;
        FOR k IN 1 .. CASE WHEN v_dash THEN 2 ELSE 1 END LOOP
          v_part := CASE k WHEN 1 THEN v_first ELSE v_last END;
          v_num := CASE WHEN v_part ~ '^[0-9]+$' THEN v_part::numeric
                        WHEN i = 4 THEN array_position(v_months, lower(v_part))
                        WHEN i = 5 THEN array_position(v_dows, lower(v_part)) - 1 END;
          IF v_num IS NULL THEN
            v_err := format('%s field: %s is not a number%s', v_names[i],
                            CASE WHEN strpos(v_part, '''') > 0 AND strpos(v_part, '"') = 0 THEN '"' || v_part || '"'
                                 ELSE '''' || replace(v_part, '''', '\''') || '''' END,
                            CASE WHEN i >= 4 THEN ' or name' ELSE '' END);
            EXIT;
          END IF;
          IF k = 1 THEN v_start := v_num; ELSE v_stop := v_num; END IF;
        END LOOP;
        EXIT WHEN v_err IS NOT NULL;
        IF NOT v_dash THEN
          v_stop := v_start;
          IF v_slash THEN
            v_err := format('%s field: step needs a range or ''*'' in %s (pg_cron rejects it)', v_names[i], v_repr);
            EXIT;
          END IF;
        END IF;
      END IF;
      IF v_start < v_low[i] OR v_start > v_high[i] THEN
        v_err := format('%s field: %s is outside %s-%s', v_names[i], v_start, v_low[i], v_high[i]);
        EXIT;
      END IF;
      IF v_stop < v_low[i] OR v_stop > v_high[i] THEN
        v_err := format('%s field: %s is outside %s-%s', v_names[i], v_stop, v_low[i], v_high[i]);
        EXIT;
      END IF;
      IF v_start > v_stop THEN
        v_err := format('%s field: range %s runs backwards', v_names[i], v_repr);
        EXIT;
      END IF;
      IF v_step = 1 THEN
        v_mask := v_mask | ((2::bigint << v_stop::integer) - (1::bigint << v_start::integer));
      ELSE
        FOR v IN v_start::integer .. v_stop::integer BY v_step::integer LOOP
          v_mask := v_mask | (1::bigint << v);
        END LOOP;
      END IF;
    END LOOP;
    CASE i
      WHEN 1 THEN minutes := v_mask;
      WHEN 2 THEN hours := v_mask;
      WHEN 3 THEN doms := v_mask;
      WHEN 4 THEN months := v_mask;
      ELSE dows := (v_mask & 127) | ((v_mask >> 7) & 1);   -- weekday 7 is Sunday
    END CASE;
  END LOOP;

  IF v_err IS NULL THEN
    wildcard := left(v_fields[1], 1) = '*' OR left(v_fields[2], 1) = '*';
    and_days := left(v_fields[3], 1) = '*' OR left(v_fields[5], 1) = '*';
    -- AND: some day must exist in some month (Feb 29 does).  Every (month, day) pair that
    -- exists falls on each weekday somewhere in the 400-year Gregorian cycle.
    IF and_days AND doms & ~(CASE WHEN months & 5546 <> 0 THEN 0::bigint             -- 31-day months (1,3,5,7,8,10,12)
                                  WHEN months & 2640 <> 0 THEN (1::bigint << 31)    -- 30-day months (4,6,9,11)
                                  ELSE (3::bigint << 30) END) = 0 THEN               -- February alone: up to 29
      v_err := 'day-of-month and month never coincide, so it never fires';
    END IF;
  END IF;
  IF v_err IS NOT NULL THEN
    RAISE EXCEPTION 'invalid cron expression %: %',
      CASE WHEN p_schedule IS NULL THEN 'None'
           WHEN strpos(p_schedule, '''') > 0 AND strpos(p_schedule, '"') = 0 THEN '"' || p_schedule || '"'
           ELSE '''' || replace(p_schedule, '''', '\''') || '''' END, v_err
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
END;
$_$;

CREATE FUNCTION bgjobs.cron_prev(p_schedule text, p_timezone text, p_at timestamp with time zone) RETURNS timestamp with time zone
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$ SELECT bgjobs.cron_fire(p_schedule, p_timezone, p_at, false) $$;

CREATE FUNCTION bgjobs.cron_remove(p_cron_jobname text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
DECLARE
  v_id bigint;
BEGIN
  IF to_regclass('cron.job') IS NULL OR NOT has_schema_privilege('cron', 'USAGE') THEN
    RETURN NULL;
  END IF;
  EXECUTE 'SELECT j.jobid FROM cron.job j WHERE j.jobname = $1 AND j.username = current_user '
          'AND j.database = current_database()'
     INTO v_id USING p_cron_jobname;
  IF v_id IS NULL THEN
    RETURN false;
  END IF;
  EXECUTE 'SELECT cron.unschedule($1::bigint)' USING v_id;
  RETURN true;
END;
$_$;

CREATE FUNCTION bgjobs.cron_watch_jobs(p_as_of timestamp with time zone DEFAULT now(), p_runs integer DEFAULT 13) RETURNS TABLE(jobid bigint, jobname text, database text, username text, schedule text, active boolean, starts timestamp with time zone[], ends timestamp with time zone[], statuses text[], last_error text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET jit TO 'off'
    AS $_$
BEGIN
  IF to_regclass('cron.job') IS NULL OR to_regclass('cron.job_run_details') IS NULL
     OR NOT has_schema_privilege('cron', 'USAGE') THEN
    RETURN;
  END IF;
  RETURN QUERY EXECUTE $q$
    SELECT j.jobid, j.jobname::text, j.database::text, j.username::text, j.schedule::text, j.active,
           coalesce(r.starts, '{}'), coalesce(r.ends, '{}'), coalesce(r.statuses, '{}'),
           (SELECT left(regexp_replace(regexp_replace(split_part(coalesce(m.return_message, ''), E'\n', 1),
                                                      '"[^"]*"', '"…"', 'g'),
                                       '''[^'']*''', '''…''', 'g'), 200)
              FROM cron.job_run_details m WHERE m.runid = r.failed_runid)
      FROM cron.job j
      LEFT JOIN LATERAL (
        SELECT array_agg(d.start_time ORDER BY d.runid DESC) AS starts,
               array_agg(d.end_time ORDER BY d.runid DESC) AS ends,
               array_agg(CASE WHEN d.status = 'succeeded' THEN 'success'
                              WHEN d.status = 'failed' THEN 'failed' ELSE 'running' END
                         ORDER BY d.runid DESC) AS statuses,
               max(d.runid) FILTER (WHERE d.status = 'failed') AS failed_runid
          FROM (SELECT x.runid, x.start_time, x.end_time, x.status
                  FROM cron.job_run_details x
                 WHERE x.jobid = j.jobid AND (x.start_time IS NULL OR x.start_time <= $1)
                 ORDER BY x.runid DESC
                 LIMIT $2) d
        ) r ON $2 > 0
     WHERE j.command NOT LIKE 'CALL bgjobs.run_scheduled_job(%'
  $q$
    USING p_as_of, greatest(coalesce(p_runs, 0), 0);
END;
$_$;

CREATE FUNCTION bgjobs.delivery_config() RETURNS jsonb
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object(
    'slack_webhook_url', bgjobs.get_secret('SLACK_WEBHOOK_URL'),
    'webhook_url', coalesce(bgjobs.get_secret('WEBHOOK_URL'), bgjobs.get_setting('webhook_url')),
    'whatsapp_webhook_url', coalesce(bgjobs.get_secret('WHATSAPP_WEBHOOK_URL'), bgjobs.get_setting('whatsapp_webhook_url')),
    'email_transport', bgjobs.get_setting('email_transport'),
    'smtp_host', bgjobs.get_setting('smtp_host'),
    'smtp_port', bgjobs.get_setting('smtp_port'),
    'smtp_starttls', bgjobs.get_setting('smtp_starttls'),
    'smtp_ssl', bgjobs.get_setting('smtp_ssl'),
    'smtp_username', bgjobs.get_secret('SMTP_USERNAME'),
    'smtp_password', bgjobs.get_secret('SMTP_PASSWORD'),
    'alert_email_from', bgjobs.get_setting('alert_email_from'),
    'alert_email_to', bgjobs.get_setting('alert_email_to'),
    'resend_api_key', bgjobs.get_secret('RESEND_API_KEY'),
    'resend_from', coalesce(bgjobs.get_secret('RESEND_FROM'), bgjobs.get_setting('alert_email_from')),
    'resend_base_url', bgjobs.get_setting('resend_base_url'),
    -- defaults and ranges: bgjobs.setting_spec (get_setting, the app_settings check)
    'timeout_seconds', bgjobs.get_setting('delivery_timeout_seconds')::numeric,
    'run_budget_seconds', bgjobs.get_setting('delivery_run_budget_seconds')::numeric,
    'batch_size', bgjobs.get_setting('notification_batch_size')::integer,
    'max_attempts', bgjobs.get_setting('notification_max_attempts')::integer,
    'backoff_base_seconds', bgjobs.get_setting('notification_backoff_base_seconds')::integer,
    'backoff_cap_seconds', bgjobs.get_setting('notification_backoff_cap_seconds')::integer))
$$;

CREATE FUNCTION bgjobs.detect_job_issues(p_as_of timestamp with time zone, p_job text DEFAULT NULL::text) RETURNS TABLE(subject text, rule text, severity text, display_name text, summary text, details jsonb)
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET jit TO 'off'
    AS $$
WITH cfg AS (
  SELECT greatest(bgjobs.get_setting('consecutive_failures_critical')::integer, 1) AS fail_crit,
         bgjobs.get_setting('slow_run_warning_factor')::numeric AS slow_warn,
         bgjobs.get_setting('slow_run_critical_factor')::numeric AS slow_crit
),
r AS (
  -- a paused job raises nothing; after a pause its slots count from the pause's end
  SELECT *, bgjobs.slots_floor(slots_from, paused_from, paused_until, p_as_of) AS floor
    FROM bgjobs.job_registry
   WHERE enabled AND NOT bgjobs.job_paused(paused_from, paused_until, p_as_of)
     AND (p_job IS NULL OR job_name = p_job)
),
sched AS (
  -- the latest fire strictly more than grace before as_of
  SELECT s.schedule, s.timezone, s.grace,
         bgjobs.cron_prev(s.schedule, s.timezone, p_as_of - s.grace - interval '1 microsecond') AS expected_at
    FROM (SELECT DISTINCT r.schedule, r.timezone, r.grace FROM r WHERE NOT r.tenant_local) s
),
h AS (
  -- the last runs of each job, newest first: enough for the failure streak and the last 3
  -- successful durations; 13 when the expected duration is the job's own p95 (runs 4..13).
  -- The subquery's order feeds the aggregates (no per-aggregate sort).
  SELECT r.job_name, r.registered_at, r.floor, r.tenant_local, r.schedule, r.timezone, r.grace, r.expected_interval,
         extract(epoch FROM r.expected_duration)::numeric AS expected_s,
         x.last_eff, x.completed, x.sdurs
    FROM r
   CROSS JOIN cfg
   CROSS JOIN LATERAL (
     SELECT max(y.eff) AS last_eff,
            array_agg(y.status) FILTER (WHERE y.status IN ('success', 'failed')) AS completed,
            array_agg(y.dur) FILTER (WHERE y.status = 'success' AND y.dur IS NOT NULL) AS sdurs
       FROM (SELECT j.status, coalesce(j.as_of, j.started_at) AS eff,
                    extract(epoch FROM j.completed_at - j.started_at)::numeric AS dur
               FROM public.jobs_log j
              WHERE j.job_name = r.job_name
                AND j.status <> 'skipped'
                AND coalesce(j.as_of, j.started_at) <= p_as_of
              ORDER BY coalesce(j.as_of, j.started_at) DESC
              LIMIT CASE WHEN r.expected_duration IS NULL THEN greatest(13, cfg.fail_crit + 1)
                         ELSE greatest(5, cfg.fail_crit + 1) END) y
   ) x
),
missed AS (
  SELECT h.job_name,
         coalesce(h.last_eff, h.registered_at) AS ref,
         s.expected_at,
         CASE WHEN s.expected_at IS NOT NULL
              THEN greatest(coalesce(h.last_eff, h.registered_at), h.floor) < s.expected_at - interval '30 seconds'
              ELSE p_as_of - greatest(coalesce(h.last_eff, h.registered_at), h.floor) > h.expected_interval + h.grace
         END AS is_missed,
         h.last_eff, h.schedule, h.grace, h.expected_interval, h.tenant_local
    FROM h
    LEFT JOIN sched s ON NOT h.tenant_local AND s.schedule = h.schedule AND s.timezone = h.timezone
                     AND s.grace = h.grace
),
fails AS (
  SELECT f.job_name, f.n,
         (SELECT j.error_message FROM public.jobs_log j
           WHERE j.job_name = f.job_name AND j.status = 'failed' AND coalesce(j.as_of, j.started_at) <= p_as_of
           ORDER BY coalesce(j.as_of, j.started_at) DESC LIMIT 1) AS last_error
    FROM (SELECT h.job_name, coalesce(array_position(h.completed, 'success') - 1, cardinality(h.completed)) AS n
            FROM h) f
   WHERE f.n >= 1
),
slow AS (
  SELECT h.job_name, h.sdurs,
         coalesce(h.expected_s, CASE WHEN b.n >= 5 THEN b.p95 END) AS expected_s,
         h.expected_s IS NULL AS from_p95
    FROM h
   CROSS JOIN LATERAL (
     SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY d)::numeric AS p95, count(*) AS n
       FROM unnest(CASE WHEN h.expected_s IS NULL THEN h.sdurs[4:13] END) AS d
   ) b
   WHERE cardinality(h.sdurs) >= 1
)
SELECT m.job_name, 'missed_run', 'CRITICAL', m.job_name,
       CASE WHEN m.last_eff IS NULL
            THEN format('%s has never run since it was registered %s hours ago;', m.job_name,
                        round(extract(epoch FROM p_as_of - m.ref) / 3600, 1))
            ELSE format('%s has not run for %s hours (last run %s);', m.job_name,
                        round(extract(epoch FROM p_as_of - m.last_eff) / 3600, 1),
                        to_char(m.last_eff AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'))
       END
       || CASE WHEN m.expected_at IS NOT NULL
               THEN format(' expected a run at %s (schedule %s, grace %s)',
                           to_char(m.expected_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"'), m.schedule, m.grace)
               ELSE format(' expected at least every %s (+ grace %s)', m.expected_interval, m.grace)
          END,
       jsonb_build_object(
         'last_run_at', m.last_eff,
         'hours_since_last_run', round(extract(epoch FROM p_as_of - m.ref) / 3600, 1),
         'expected_at', m.expected_at,
         'schedule', CASE WHEN m.tenant_local THEN m.schedule || ', tenant-local' ELSE m.schedule END,
         'expected_interval', m.expected_interval::text,
         'grace', m.grace::text)
  FROM missed m
 WHERE m.is_missed
   -- no missed run inside a maintenance window, nor for a slot that fell in one
   -- (the uncorrelated EXISTS is evaluated once: no window at all costs nothing per job)
   AND (NOT (SELECT EXISTS (SELECT 1 FROM bgjobs.maintenance_windows))
        OR (bgjobs.maintenance_until(m.job_name, p_as_of) IS NULL
            AND (m.expected_at IS NULL OR bgjobs.maintenance_until(m.job_name, m.expected_at) IS NULL)))
UNION ALL
SELECT f.job_name, 'consecutive_failures',
       CASE WHEN f.n >= c.fail_crit THEN 'CRITICAL' ELSE 'WARNING' END,
       f.job_name,
       CASE WHEN f.n = 1 THEN format('%s failed: %s', f.job_name, left(coalesce(f.last_error, '(no message)'), 300))
            ELSE format('%s failed %s times in a row; last error: %s', f.job_name, f.n,
                        left(coalesce(f.last_error, '(no message)'), 300))
       END,
       jsonb_build_object('consecutive_failures', f.n, 'critical_after', c.fail_crit,
                          'last_error', left(f.last_error, 1000))
  FROM fails f CROSS JOIN cfg c
 WHERE f.n >= 1
UNION ALL
SELECT s.job_name, 'slow_run',
       CASE WHEN cardinality(s.sdurs) >= 3
             AND s.sdurs[1] > c.slow_crit * s.expected_s
             AND s.sdurs[2] > c.slow_crit * s.expected_s
             AND s.sdurs[3] > c.slow_crit * s.expected_s
            THEN 'CRITICAL' ELSE 'WARNING' END,
       s.job_name,
       format('%s took %ss, %sx its expected %ss%s', s.job_name, round(s.sdurs[1], 3),
              round(s.sdurs[1] / s.expected_s, 2), round(s.expected_s, 3),
              CASE WHEN s.from_p95 THEN ' (p95 of its earlier runs)' ELSE '' END),
       jsonb_build_object('last_duration_seconds', round(s.sdurs[1], 3),
                          'recent_durations_seconds', to_jsonb(ARRAY(SELECT round(d, 3) FROM unnest(s.sdurs[1:3]) d)),
                          'expected_seconds', round(s.expected_s, 3),
                          'expected_from', CASE WHEN s.from_p95 THEN 'p95 of earlier runs' ELSE 'expected_duration' END,
                          'warning_factor', c.slow_warn, 'critical_factor', c.slow_crit)
  FROM slow s CROSS JOIN cfg c
 WHERE s.expected_s > 0 AND s.sdurs[1] > c.slow_warn * s.expected_s
$$;

CREATE FUNCTION bgjobs.detect_stale_heartbeats(p_as_of timestamp with time zone) RETURNS TABLE(subject text, rule text, severity text, display_name text, summary text, details jsonb)
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
SELECT h.job_name, 'stale_heartbeat', 'WARNING', h.job_name,
       format('%s has not reported a heartbeat for %s hours (last %s, status %s; stale after %s)',
              h.job_name, round(extract(epoch FROM p_as_of - h.last_run_at) / 3600, 1),
              to_char(h.last_run_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'),
              coalesce(h.status, '-'), s.stale_after),
       jsonb_build_object('last_run_at', h.last_run_at,
                          'hours_since_last_run', round(extract(epoch FROM p_as_of - h.last_run_at) / 3600, 1),
                          'status', h.status, 'stale_after', s.stale_after::text,
                          'last_alert_at', h.last_alert_at)
  FROM public.job_heartbeats h
  LEFT JOIN bgjobs.job_registry r ON r.job_name = h.job_name
 CROSS JOIN LATERAL (
   SELECT coalesce(r.stale_after,
                   make_interval(secs => bgjobs.get_setting('heartbeat_stale_hours')::numeric * 3600)) AS stale_after
 ) s
 WHERE r.enabled IS DISTINCT FROM false
   AND h.last_run_at < p_as_of - s.stale_after
   -- monitor-only jobs have their own missed check-in rule (bgjobs.detect_watch_issues)
   AND NOT EXISTS (SELECT 1 FROM bgjobs.watched_jobs w WHERE w.job_name = h.job_name)
$$;

CREATE FUNCTION bgjobs.detect_system_issues(p_as_of timestamp with time zone) RETURNS TABLE(subject text, rule text, severity text, display_name text, summary text, details jsonb)
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET jit TO 'off'
    AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
WITH cfg AS (
  SELECT bgjobs.get_setting('success_rate_warning_pct')::numeric AS rate_warn,
         bgjobs.get_setting('delivery_rate_info_pct')::numeric AS delivery_info,
         bgjobs.get_setting('rule_storm_per_hour')::integer AS storm
),
runs AS (
  SELECT count(*) FILTER (WHERE j.status IN ('success', 'failed')) AS completed,
         count(*) FILTER (WHERE j.status = 'success') AS successes,
         count(*) FILTER (WHERE j.status = 'failed') AS failures
    FROM public.jobs_log j
   WHERE coalesce(j.as_of, j.started_at) > p_as_of - interval '24 hours'
     AND coalesce(j.as_of, j.started_at) <= p_as_of
),
deliveries AS (
  SELECT count(*) FILTER (WHERE n.status = 'sent') AS sent,
         count(*) FILTER (WHERE n.status = 'dead') AS dead,
         count(*) FILTER (WHERE n.status = 'failed') AS retrying
    FROM public.notifications n
   WHERE n.created_at > p_as_of - interval '24 hours' AND n.created_at <= p_as_of
     AND n.status IN ('sent', 'dead', 'failed')
)
SELECT 'system', 'no_jobs_24h', 'CRITICAL', 'system',
       'No job has executed in the last 24 hours: is pg_cron running?',
       jsonb_build_object('last_run_at', (SELECT max(coalesce(j.as_of, j.started_at)) FROM public.jobs_log j
                                           WHERE coalesce(j.as_of, j.started_at) <= p_as_of AND j.status <> 'skipped'
                                             AND j.job_name NOT IN ('check-job-health', 'cron-healthcheck')))
 WHERE NOT EXISTS (SELECT 1 FROM public.jobs_log j
                    WHERE coalesce(j.as_of, j.started_at) > p_as_of - interval '24 hours'
                      AND coalesce(j.as_of, j.started_at) <= p_as_of
                      AND j.status IN ('running', 'success', 'failed')
                      AND j.job_name NOT IN ('check-job-health', 'cron-healthcheck'))
   AND EXISTS (SELECT 1 FROM bgjobs.job_registry r WHERE r.enabled AND r.registered_at <= p_as_of - interval '24 hours')
UNION ALL
SELECT 'system', 'low_success_rate', 'WARNING', 'system',
       format('Job success rate over the last 24 hours is %s%% (%s of %s runs succeeded; threshold %s%%)',
              round(100.0 * r.successes / r.completed, 1), r.successes, r.completed, c.rate_warn),
       jsonb_build_object('success_rate', round(100.0 * r.successes / r.completed, 2), 'runs', r.completed,
                          'successes', r.successes, 'failures', r.failures, 'threshold_pct', c.rate_warn)
  FROM runs r CROSS JOIN cfg c
 WHERE r.completed > 0 AND 100.0 * r.successes / r.completed < c.rate_warn
UNION ALL
SELECT 'system', 'delivery_rate', 'INFO', 'system',
       format('Notification delivery rate over the last 24 hours is %s%% (%s sent, %s dead, %s retrying; threshold %s%%)',
              round(100.0 * d.sent / (d.sent + d.dead + d.retrying), 1), d.sent, d.dead, d.retrying, c.delivery_info),
       jsonb_build_object('delivery_rate', round(100.0 * d.sent / (d.sent + d.dead + d.retrying), 2),
                          'sent', d.sent, 'dead', d.dead, 'retrying', d.retrying, 'threshold_pct', c.delivery_info)
  FROM deliveries d CROSS JOIN cfg c
 WHERE d.sent + d.dead + d.retrying > 0
   AND 100.0 * d.sent / (d.sent + d.dead + d.retrying) < c.delivery_info
UNION ALL
SELECT format('automation-rule:%s:%s', l.tenant_id, coalesce(l.rule_id::text, l.rule_name)), 'rule_storm', 'INFO',
       format('automation rule "%s" (%s)', coalesce(max(l.rule_name), '?'), coalesce(max(t.name), l.tenant_id::text)),
       format('Automation rule "%s" was triggered %s times in the last hour (threshold %s)',
              coalesce(max(l.rule_name), '?'), count(*), max(c.storm)),
       jsonb_build_object('rule_id', l.rule_id, 'rule_name', max(l.rule_name), 'tenant_id', l.tenant_id,
                          'triggers_last_hour', count(*), 'threshold', max(c.storm))
  FROM public.automation_logs l
  CROSS JOIN cfg c
  LEFT JOIN public.tenants t ON t.id = l.tenant_id
 WHERE l.executed_at > p_as_of - interval '1 hour' AND l.executed_at <= p_as_of
 GROUP BY l.tenant_id, coalesce(l.rule_id::text, l.rule_name), l.rule_id
HAVING count(*) > max(c.storm)
UNION ALL
SELECT format('analytics:%s:%s', a.tenant_id, a.metric_type), 'analytics_anomaly', 'INFO',
       format('analytics %s (%s)', a.metric_type, coalesce(t.name, a.tenant_id::text)),
       format('Anomaly detected in the %s analytics snapshot of %s for %s', a.metric_type, a.snapshot_date,
              coalesce(t.name, a.tenant_id::text)),
       jsonb_build_object('tenant_id', a.tenant_id, 'metric_type', a.metric_type, 'snapshot_date', a.snapshot_date,
                          'metric_value', a.metric_value)
  FROM (SELECT DISTINCT ON (s.tenant_id, s.metric_type) s.tenant_id, s.metric_type, s.snapshot_date, s.metric_value
          FROM public.analytics_snapshots s
         WHERE s.snapshot_date >= (p_as_of AT TIME ZONE 'UTC')::date - 1
           AND s.snapshot_date <= (p_as_of AT TIME ZONE 'UTC')::date + 1
         ORDER BY s.tenant_id, s.metric_type, s.snapshot_date DESC) a
  LEFT JOIN public.tenants t ON t.id = a.tenant_id
 WHERE a.metric_value ->> 'anomaly_detected' = 'true';
END;
$$;

CREATE FUNCTION bgjobs.detect_watch_issues(p_as_of timestamp with time zone) RETURNS TABLE(subject text, rule text, severity text, display_name text, summary text, details jsonb)
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET jit TO 'off'
    AS $_$
WITH cfg AS (
  SELECT greatest(bgjobs.get_setting('consecutive_failures_critical')::integer, 1) AS fail_crit,
         bgjobs.get_setting('slow_run_warning_factor')::numeric AS slow_warn,
         bgjobs.get_setting('slow_run_critical_factor')::numeric AS slow_crit,
         bgjobs.get_setting('short_run_factor')::numeric AS short_factor,
         make_interval(mins => bgjobs.get_setting('watch_timeout_minutes')::integer) AS timeout
),
t AS MATERIALIZED (
  SELECT w.* FROM cfg, bgjobs.watch_targets(p_as_of, greatest(13, cfg.fail_crit + 1)) w
),
a AS (
  SELECT t.subject, t.kind, t.schedule, t.timezone, t.grace, t.active, t.ref_at, t.last_error,
         x.last_eff, coalesce(x.completed, '{}') AS completed, coalesce(x.sdurs, '{}') AS sdurs, x.open_since,
         CASE WHEN t.schedule ~* '^\s*[0-9]+\s+seconds?\s*$'
              THEN make_interval(secs => substring(t.schedule FROM '[0-9]+')::integer) END AS every,
         p_as_of - t.grace - interval '1 microsecond' AS at
    FROM t
   CROSS JOIN LATERAL (
     SELECT max(coalesce(u.s, u.e)) AS last_eff,
            array_agg(u.st ORDER BY u.i) FILTER (WHERE u.st IN ('success', 'failed')) AS completed,
            array_agg(extract(epoch FROM u.e - u.s)::numeric ORDER BY u.i)
              FILTER (WHERE u.st = 'success' AND u.s IS NOT NULL AND u.e IS NOT NULL) AS sdurs,
            max(u.s) FILTER (WHERE u.i = 1 AND u.st = 'running') AS open_since
       FROM unnest(t.starts, t.ends, t.statuses) WITH ORDINALITY AS u(s, e, st, i)
   ) x
),
m AS (
  SELECT a.*,
         CASE WHEN a.every IS NOT NULL THEN p_as_of - a.grace - a.every
              WHEN c.schedule IS NULL OR c.error IS NOT NULL OR c.prev_fire IS NULL THEN NULL
              WHEN c.prev_fire <= a.at AND c.next_fire > a.at THEN c.prev_fire
              ELSE bgjobs.cron_prev(a.schedule, a.timezone, a.at)
         END AS expected_at
    FROM a
    LEFT JOIN bgjobs.schedule_cache c ON c.schedule = a.schedule AND c.timezone = a.timezone
),
b AS (
  SELECT a.subject,
         (SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY d)::numeric FROM unnest(a.sdurs[4:13]) d) AS p95_earlier,
         (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d)::numeric FROM unnest(a.sdurs[4:13]) d) AS p50_earlier,
         (SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY d)::numeric FROM unnest(a.sdurs) d) AS p95_all
    FROM a
   WHERE cardinality(a.sdurs) >= 1 OR a.open_since IS NOT NULL
)
SELECT m.subject, 'missed_run', 'CRITICAL', m.subject,
       format('%s %s%s; expected %s at %s (schedule %s, grace %s)%s', m.subject,
              CASE WHEN m.kind = 'watch' THEN 'has not checked in' ELSE 'has not run' END,
              CASE WHEN m.last_eff IS NULL THEN format(' since it was %s %s hours ago',
                                                       CASE WHEN m.kind = 'watch' THEN 'registered' ELSE 'first seen' END,
                                                       round(extract(epoch FROM p_as_of - m.ref_at) / 3600, 1))
                   ELSE format(' for %s hours (last %s)', round(extract(epoch FROM p_as_of - m.last_eff) / 3600, 1),
                               to_char(m.last_eff AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"')) END,
              CASE WHEN m.kind = 'watch' THEN 'a check-in' ELSE 'a run' END,
              to_char(m.expected_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"'), m.schedule, m.grace,
              CASE WHEN NOT m.active THEN ' - the job is inactive in cron.job' ELSE '' END),
       jsonb_build_object('kind', m.kind, 'last_run_at', m.last_eff, 'expected_at', m.expected_at,
                          'schedule', m.schedule, 'timezone', m.timezone, 'grace', m.grace::text, 'active', m.active,
                          'hours_since_last_run', round(extract(epoch FROM p_as_of - coalesce(m.last_eff, m.ref_at)) / 3600, 1))
  FROM m
 WHERE m.expected_at IS NOT NULL AND coalesce(m.last_eff, m.ref_at) < m.expected_at - interval '30 seconds'
UNION ALL
SELECT f.subject, 'consecutive_failures', CASE WHEN f.n >= c.fail_crit THEN 'CRITICAL' ELSE 'WARNING' END, f.subject,
       CASE WHEN f.n = 1 THEN format('%s failed: %s', f.subject, coalesce(f.last_error, '(no message)'))
            ELSE format('%s failed %s times in a row; last error: %s', f.subject, f.n, coalesce(f.last_error, '(no message)'))
       END,
       jsonb_build_object('kind', f.kind, 'consecutive_failures', f.n, 'critical_after', c.fail_crit,
                          'last_error', f.last_error)
  FROM (SELECT a.subject, a.kind, a.last_error,
               coalesce(array_position(a.completed, 'success') - 1, cardinality(a.completed)) AS n
          FROM a) f
 CROSS JOIN cfg c
 WHERE f.n >= 1
UNION ALL
SELECT a.subject, 'stuck_run', 'CRITICAL', a.subject,
       format('%s started at %s and has not finished after %s (%s)', a.subject,
              to_char(a.open_since AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'),
              date_trunc('second', p_as_of - a.open_since),
              CASE WHEN cardinality(a.sdurs) >= 5 THEN format('its runs usually take up to %ss', round(b.p95_all, 1))
                   ELSE format('timeout %s', c.timeout) END),
       jsonb_build_object('kind', a.kind, 'started_at', a.open_since,
                          'running_seconds', round(extract(epoch FROM p_as_of - a.open_since)::numeric, 1),
                          'usual_seconds', round(b.p95_all, 3))
  FROM a
  JOIN b ON b.subject = a.subject
 CROSS JOIN cfg c
 WHERE a.open_since IS NOT NULL
   AND p_as_of - a.open_since > CASE WHEN cardinality(a.sdurs) >= 5
                                     THEN make_interval(secs => greatest(c.slow_crit * b.p95_all, b.p95_all + 300))
                                     ELSE c.timeout END
UNION ALL
SELECT a.subject, 'slow_run',
       CASE WHEN cardinality(a.sdurs) >= 3 AND a.sdurs[1] > c.slow_crit * b.p95_earlier
             AND a.sdurs[2] > c.slow_crit * b.p95_earlier AND a.sdurs[3] > c.slow_crit * b.p95_earlier
            THEN 'CRITICAL' ELSE 'WARNING' END,
       a.subject,
       format('%s took %ss, %sx its usual %ss (p95 of its earlier runs)', a.subject, round(a.sdurs[1], 3),
              round(a.sdurs[1] / b.p95_earlier, 2), round(b.p95_earlier, 3)),
       jsonb_build_object('kind', a.kind, 'last_duration_seconds', round(a.sdurs[1], 3),
                          'expected_seconds', round(b.p95_earlier, 3), 'expected_from', 'p95 of earlier runs')
  FROM a
  JOIN b ON b.subject = a.subject
 CROSS JOIN cfg c
 WHERE cardinality(a.sdurs[4:13]) >= 5 AND b.p95_earlier > 0 AND a.sdurs[1] > c.slow_warn * b.p95_earlier
UNION ALL
SELECT a.subject, 'short_run', 'WARNING', a.subject,
       format('%s took only %ss, 1/%s of its usual %ss (median of its earlier runs)', a.subject, round(a.sdurs[1], 3),
              round(b.p50_earlier / greatest(a.sdurs[1], 0.001), 1), round(b.p50_earlier, 3)),
       jsonb_build_object('kind', a.kind, 'last_duration_seconds', round(a.sdurs[1], 3),
                          'median_seconds', round(b.p50_earlier, 3), 'short_run_factor', c.short_factor)
  FROM a
  JOIN b ON b.subject = a.subject
 CROSS JOIN cfg c
 WHERE cardinality(a.sdurs[4:13]) >= 5 AND b.p50_earlier >= 1 AND a.sdurs[1] < b.p50_earlier / c.short_factor
$_$;

CREATE FUNCTION bgjobs.due_tenant_runs(p_job_name text, p_as_of timestamp with time zone) RETURNS TABLE(run_as_of timestamp with time zone, run_tenants uuid[])
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
  v_local_time time;
  v_tenant_local boolean;
  v_floor timestamptz;
  v_schedule text;
  v_daily boolean;
BEGIN
  SELECT r.tenant_local, r.local_time, r.schedule,
         bgjobs.slots_floor(r.slots_from, r.paused_from, r.paused_until, p_as_of)
    INTO v_tenant_local, v_local_time, v_schedule, v_floor
    FROM bgjobs.job_registry r WHERE r.job_name = p_job_name;
  IF NOT coalesce(v_tenant_local, false) THEN
    RETURN;
  END IF;
  v_daily := bgjobs.cron_daily(v_schedule);
  RETURN QUERY
  WITH z AS (             -- on some days only ('0 9 * * mon'): each zone's latest fire, once per zone
    SELECT y.timezone, bgjobs.cron_prev(v_schedule, y.timezone, p_as_of) AS slot
      FROM (SELECT DISTINCT t.timezone FROM public.tenants t) y
     WHERE NOT v_daily
  )
  SELECT s.at, array_agg(t.id ORDER BY t.id)
    FROM public.tenants t
   CROSS JOIN LATERAL (SELECT p_as_of AT TIME ZONE t.timezone AS local_now) l
    LEFT JOIN z ON z.timezone = t.timezone
   -- the local date of the tenant's latest slot (daily: today once its time has come, else yesterday)
   CROSS JOIN LATERAL (SELECT CASE WHEN NOT v_daily THEN (z.slot AT TIME ZONE t.timezone)::date
                                   WHEN l.local_now >= l.local_now::date + v_local_time THEN l.local_now::date
                                   ELSE l.local_now::date - 1 END AS day) d
   CROSS JOIN LATERAL (SELECT CASE WHEN v_daily THEN (d.day + v_local_time) AT TIME ZONE t.timezone
                                   ELSE z.slot END AS slot) x
   CROSS JOIN LATERAL (SELECT CASE WHEN d.day = l.local_now::date THEN p_as_of ELSE x.slot END AS at) s
   WHERE x.slot IS NOT NULL
     AND (v_floor = '-infinity' OR x.slot >= v_floor)
     AND NOT EXISTS (SELECT 1 FROM bgjobs.tenant_job_runs r
                      WHERE r.tenant_id = t.id AND r.job_name = p_job_name AND r.local_date = d.day)
   GROUP BY s.at
   ORDER BY s.at;
END;
$$;

CREATE FUNCTION bgjobs.due_tenants(p_job_name text, p_as_of timestamp with time zone) RETURNS uuid[]
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  SELECT CASE WHEN r.tenant_local THEN
           (SELECT coalesce(array_agg(u ORDER BY u), '{}')
              FROM bgjobs.due_tenant_runs(p_job_name, p_as_of) g CROSS JOIN LATERAL unnest(g.run_tenants) u)
         END
    FROM bgjobs.job_registry r WHERE r.job_name = p_job_name
$$;

CREATE FUNCTION bgjobs.due_work(p_job_name text, p_as_of timestamp with time zone, OUT due boolean, OUT tenants uuid[], OUT slot timestamp with time zone) RETURNS record
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
  r bgjobs.job_registry%ROWTYPE;
BEGIN
  SELECT * INTO r FROM bgjobs.job_registry j WHERE j.job_name = p_job_name;
  IF NOT FOUND THEN
    due := true;
    RETURN;
  END IF;
  IF bgjobs.job_paused(r.paused_from, r.paused_until, p_as_of) THEN
    due := false;
    RETURN;
  END IF;
  IF r.tenant_local THEN
    SELECT g.run_as_of, g.run_tenants INTO slot, tenants
      FROM bgjobs.due_tenant_runs(p_job_name, p_as_of) g ORDER BY g.run_as_of LIMIT 1;
    due := tenants IS NOT NULL;
    RETURN;
  END IF;
  IF r.tick IS NOT NULL THEN
    slot := bgjobs.cron_prev(r.schedule, r.timezone, p_as_of);
    IF slot IS NULL
       OR slot < bgjobs.slots_floor(r.slots_from, r.paused_from, r.paused_until, p_as_of)
       OR EXISTS (SELECT 1 FROM bgjobs.job_slots s WHERE s.job_name = p_job_name AND s.slot = due_work.slot) THEN
      slot := NULL;
      due := false;
      RETURN;
    END IF;
  END IF;
  due := true;
END;
$$;

CREATE FUNCTION bgjobs.enqueue_alert(p_template text, p_payload jsonb, p_dedupe_key text) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
  v_n integer := 0;
  v_rows integer;
  v_email text := bgjobs.get_setting('alert_email_to');
BEGIN
  IF bgjobs.secret_is_set('SLACK_WEBHOOK_URL') THEN
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
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
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
  v_state    text;
  v_ms       integer;
  v_records  integer := 0;
  v_response jsonb;
  v_sig      text;
  v_call     text;
BEGIN
  SELECT * INTO v_job FROM bgjobs.job_registry WHERE job_name = p_job_name;

  BEGIN
    v_call := format('%I.%I(%s)', v_job.function_schema, v_job.function_name,
                     (ARRAY['', '$1', '$1, $2'])[v_job.body_args + 1]);
    EXECUTE CASE v_job.body_returns
              WHEN 'jsonb' THEN 'SELECT ' || v_call
              WHEN 'integer' THEN 'SELECT pg_catalog.jsonb_build_object(''recordsUpdated'', ' || v_call || ')'
              ELSE 'SELECT ''{}''::jsonb FROM (SELECT ' || v_call || ' OFFSET 0) s'
            END
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
                            v_hint = PG_EXCEPTION_HINT, v_context = PG_EXCEPTION_CONTEXT,
                            v_state = RETURNED_SQLSTATE;
    v_status := 'failed';
    v_results := NULL;
    IF v_state = '42883' THEN                       -- undefined_function: the body itself?
      v_sig := (ARRAY['', 'timestamptz', 'timestamptz, uuid[]'])[v_job.body_args + 1];
      IF to_regprocedure(format('%I.%I(%s)', v_job.function_schema, v_job.function_name, v_sig)) IS NULL THEN
        v_err := format('job "%s" is not implemented yet', p_job_name);
        v_detail := format('function %I.%I(%s) does not exist', v_job.function_schema, v_job.function_name, v_sig);
        v_hint := NULL;
      END IF;
    END IF;
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
  IF NOT FOUND THEN                                 -- opened by run_job: no row yet
    INSERT INTO public.jobs_log (id, job_name, started_at, completed_at, status, as_of, trigger, pid,
                                 records_updated, error_message, error_details, results)
    VALUES (p_run_id, p_job_name, v_started, clock_timestamp(), v_status, p_as_of, 'manual', pg_backend_pid(),
            v_records, v_err, nullif(concat_ws(E'\n', v_detail, v_hint, v_context), ''), v_results);
  END IF;

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

CREATE FUNCTION bgjobs.get_secret(p_name text) RETURNS text
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$ SELECT s.value FROM bgjobs.secrets s WHERE s.name = p_name $$;

CREATE FUNCTION bgjobs.get_setting(p_key text, p_default text DEFAULT NULL::text) RETURNS text
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  SELECT coalesce((SELECT nullif(s.value, '') FROM public.app_settings s WHERE s.key = p_key),
                  p_default,
                  (SELECT nullif(sp.default_value, '') FROM bgjobs.setting_spec sp WHERE sp.key = p_key))
$$;

CREATE FUNCTION bgjobs.job_check_job_health(p_as_of timestamp with time zone, p_tenants uuid[] DEFAULT NULL::uuid[]) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
  v_reaped   integer;
  v_findings jsonb;
  v_alerts   jsonb;
  v_worst    integer;
  v_jobs     integer;
BEGIN
  -- runs whose backend died are marked failed; runs past their hard timeout are cancelled
  v_reaped := bgjobs.reap_stale_runs(true);
  -- pg_cron jobs first seen, the cron math cache of the watched schedules
  PERFORM bgjobs.watch_refresh(p_as_of);

  SELECT coalesce(jsonb_agg(to_jsonb(f) ORDER BY array_position(ARRAY['CRITICAL', 'WARNING', 'INFO'], f.severity),
                            f.subject, f.rule), '[]'::jsonb)
    INTO v_findings
    FROM (SELECT * FROM bgjobs.detect_job_issues(p_as_of)
          UNION ALL
          SELECT * FROM bgjobs.detect_system_issues(p_as_of)
          UNION ALL
          SELECT * FROM bgjobs.detect_watch_issues(p_as_of)) f;

  v_alerts := bgjobs.apply_alerts(
    p_as_of,
    ARRAY['missed_run', 'consecutive_failures', 'slow_run', 'no_jobs_24h', 'low_success_rate',
          'delivery_rate', 'rule_storm', 'analytics_anomaly', 'stuck_run', 'short_run'],
    v_findings);

  SELECT max(CASE x ->> 'severity' WHEN 'CRITICAL' THEN 2 WHEN 'WARNING' THEN 1 ELSE 0 END)
    INTO v_worst FROM jsonb_array_elements(v_findings) x;
  SELECT count(*) INTO v_jobs FROM bgjobs.job_registry WHERE enabled;

  RETURN jsonb_build_object(
    'status', CASE coalesce(v_worst, 0) WHEN 2 THEN 'critical' WHEN 1 THEN 'warning' ELSE 'ok' END,
    'checkedJobs', v_jobs,
    'critical', (SELECT count(*) FROM jsonb_array_elements(v_findings) x WHERE x ->> 'severity' = 'CRITICAL'),
    'warning', (SELECT count(*) FROM jsonb_array_elements(v_findings) x WHERE x ->> 'severity' = 'WARNING'),
    'info', (SELECT count(*) FROM jsonb_array_elements(v_findings) x WHERE x ->> 'severity' = 'INFO'),
    'issues', (SELECT coalesce(jsonb_agg(jsonb_build_object('job', x ->> 'display_name', 'rule', x ->> 'rule',
                                                            'severity', x ->> 'severity', 'summary', x ->> 'summary',
                                                            'details', x -> 'details')), '[]'::jsonb)
                 FROM (SELECT x FROM jsonb_array_elements(v_findings) x LIMIT 100) s),
    'alertsSent', (v_alerts ->> 'alerts')::integer,
    'alertsRepeated', (v_alerts ->> 'repeats')::integer,
    'alertsEscalated', (v_alerts ->> 'escalations')::integer,
    'suppressedAlerts', (v_alerts ->> 'suppressed')::integer,
    'silencedAlerts', (v_alerts ->> 'silenced')::integer,
    'resolved', (v_alerts ->> 'resolved')::integer,
    'messagesQueued', (v_alerts ->> 'queued')::integer,
    'reapedRuns', v_reaped,
    'recordsUpdated', (v_alerts ->> 'queued')::integer);
END;
$$;

CREATE FUNCTION bgjobs.job_cron_healthcheck(p_as_of timestamp with time zone, p_tenants uuid[] DEFAULT NULL::uuid[]) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
  v_findings jsonb;
  v_alerts   jsonb;
  v_checked  integer;
BEGIN
  SELECT coalesce(jsonb_agg(to_jsonb(f) ORDER BY f.subject), '[]'::jsonb)
    INTO v_findings FROM bgjobs.detect_stale_heartbeats(p_as_of) f;
  v_alerts := bgjobs.apply_alerts(p_as_of, ARRAY['stale_heartbeat'], v_findings);
  SELECT count(*) INTO v_checked FROM public.job_heartbeats;
  RETURN jsonb_build_object(
    'status', CASE WHEN jsonb_array_length(v_findings) > 0 THEN 'warning' ELSE 'ok' END,
    'checked_jobs', v_checked,
    'stale_jobs', jsonb_array_length(v_findings),
    'stale', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'job_name', x ->> 'subject',
                       'last_run_at', x -> 'details' -> 'last_run_at',
                       'hours_overdue', x -> 'details' -> 'hours_since_last_run')), '[]'::jsonb)
                FROM (SELECT x FROM jsonb_array_elements(v_findings) x LIMIT 100) s),
    'alerts_sent', (v_alerts ->> 'alerts')::integer,
    'suppressed_alerts', (v_alerts ->> 'suppressed')::integer + (v_alerts ->> 'silenced')::integer,
    'resolved', (v_alerts ->> 'resolved')::integer,
    'messages_queued', (v_alerts ->> 'queued')::integer,
    'recordsUpdated', (v_alerts ->> 'queued')::integer);
END;
$$;

CREATE FUNCTION bgjobs.job_deliver_notifications(p_as_of timestamp with time zone, p_tenants uuid[] DEFAULT NULL::uuid[]) RETURNS jsonb
    LANGUAGE plpython3u SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
if 'bgjobs_mod:bgjobs_settings:<sha256>' not in GD:
    import sys as _sys, types as _types
    _src = plpy.execute("SELECT source FROM bgjobs.plpython_modules WHERE name = 'bgjobs_settings'")[0]['source']
    _mod = _types.ModuleType('bgjobs_settings')
    _mod.__file__ = 'plpython/bgjobs_settings.py'
    exec(compile(_src, 'plpython/bgjobs_settings.py', 'exec'), _mod.__dict__)
    _sys.modules['bgjobs_settings'] = _mod
    GD['bgjobs_mod:bgjobs_settings:<sha256>'] = _mod
bgjobs_settings = GD['bgjobs_mod:bgjobs_settings:<sha256>']
if 'bgjobs_mod:bgjobs_channels:<sha256>' not in GD:
    import sys as _sys, types as _types
    _src = plpy.execute("SELECT source FROM bgjobs.plpython_modules WHERE name = 'bgjobs_channels'")[0]['source']
    _mod = _types.ModuleType('bgjobs_channels')
    _mod.__file__ = 'plpython/bgjobs_channels.py'
    exec(compile(_src, 'plpython/bgjobs_channels.py', 'exec'), _mod.__dict__)
    _sys.modules['bgjobs_channels'] = _mod
    GD['bgjobs_mod:bgjobs_channels:<sha256>'] = _mod
bgjobs_channels = GD['bgjobs_mod:bgjobs_channels:<sha256>']
if 'bgjobs_mod:bgjobs_delivery:<sha256>' not in GD:
    import sys as _sys, types as _types
    _src = plpy.execute("SELECT source FROM bgjobs.plpython_modules WHERE name = 'bgjobs_delivery'")[0]['source']
    _mod = _types.ModuleType('bgjobs_delivery')
    _mod.__file__ = 'plpython/bgjobs_delivery.py'
    exec(compile(_src, 'plpython/bgjobs_delivery.py', 'exec'), _mod.__dict__)
    _sys.modules['bgjobs_delivery'] = _mod
    GD['bgjobs_mod:bgjobs_delivery:<sha256>'] = _mod
bgjobs_delivery = GD['bgjobs_mod:bgjobs_delivery:<sha256>']
if 'bgjobs_mod:bgjobs_app_templates:<sha256>' not in GD:
    import sys as _sys, types as _types
    _src = plpy.execute("SELECT source FROM bgjobs.plpython_modules WHERE name = 'bgjobs_app_templates'")[0]['source']
    _mod = _types.ModuleType('bgjobs_app_templates')
    _mod.__file__ = 'plpython/bgjobs_app_templates.py'
    exec(compile(_src, 'plpython/bgjobs_app_templates.py', 'exec'), _mod.__dict__)
    _sys.modules['bgjobs_app_templates'] = _mod
    GD['bgjobs_mod:bgjobs_app_templates:<sha256>'] = _mod
bgjobs_app_templates = GD['bgjobs_mod:bgjobs_app_templates:<sha256>']
import json

bgjobs_app_templates.register()       # the seeds' application's templates (hearing reminders, ...)

deliverer = "in-database"
config = json.loads(plpy.execute("SELECT bgjobs.delivery_config()::text AS c")[0]["c"])
if "bgjobs_claim_plan" not in SD:
    SD["bgjobs_claim_plan"] = plpy.prepare(
        "SELECT tenant_id::text, id::text, channel, recipient, template, payload::text AS payload, "
        "attempts, timezone FROM bgjobs.claim_notifications($1, $2, $3)",
        ["timestamptz", "integer", "text"])
    SD["bgjobs_record_plan"] = plpy.prepare(
        "SELECT bgjobs.record_deliveries($1::jsonb, pg_catalog.to_timestamp($2), $3)::text AS r",
        ["text", "float8", "text"])
    SD["bgjobs_start_plan"] = plpy.prepare(
        "SELECT pg_catalog.date_part('epoch', greatest($1, pg_catalog.clock_timestamp())) AS started, "
        "pg_catalog.has_column_privilege('bgjobs.job_registry', 'timeout', 'SELECT') AS can_read_timeout",
        ["timestamptz"])
    SD["bgjobs_timeout_plan"] = plpy.prepare(
        "SELECT pg_catalog.min(pg_catalog.date_part('epoch', r.timeout)) AS timeout FROM bgjobs.job_registry r "
        "WHERE r.function_schema = 'bgjobs' AND r.function_name = 'job_deliver_notifications'")
    SD["bgjobs_tick_plan"] = plpy.prepare("SELECT 1")
start = plpy.execute(SD["bgjobs_start_plan"], [p_as_of])[0]
job_timeout = plpy.execute(SD["bgjobs_timeout_plan"])[0]["timeout"] if start["can_read_timeout"] else None
claim_plan, record_plan, tick_plan = SD["bgjobs_claim_plan"], SD["bgjobs_record_plan"], SD["bgjobs_tick_plan"]

def claim(limit):
    return [dict(r) for r in plpy.execute(claim_plan, [p_as_of, limit, deliverer])]

def record(results):
    return json.loads(plpy.execute(record_plan, [json.dumps(results), start["started"], deliverer])[0]["r"])

def tick():                      # CHECK_FOR_INTERRUPTS: a pending cancel or terminate acts here
    plpy.execute(tick_plan)

totals = bgjobs_delivery.drain(claim, record, config, tick=tick,
                               budget_seconds=bgjobs_delivery.run_budget(config, job_timeout))
return json.dumps({
    "claimed": totals["claimed"],
    "sent": totals["sent"],
    "retrying": totals["failed"],
    "dead": totals["dead"],
    "deferred": totals["deferred"],
    "batches": totals["batches"],
    "leftForNextRun": totals["left"],
    "ended": totals["ended"],
    "recordsUpdated": totals["sent"] + totals["failed"] + totals["dead"],
})
$_$;

CREATE FUNCTION bgjobs.job_paused(p_paused_from timestamp with time zone, p_paused_until timestamp with time zone, p_at timestamp with time zone) RETURNS boolean
    LANGUAGE sql IMMUTABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  SELECT p_paused_from IS NOT NULL AND p_paused_from <= p_at AND (p_paused_until IS NULL OR p_at < p_paused_until)
$$;

CREATE FUNCTION bgjobs.job_purge_old_logs(p_as_of timestamp with time zone, p_tenants uuid[] DEFAULT NULL::uuid[]) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
  v_days_jobs  integer := bgjobs.get_setting('retention_days_jobs_log')::integer;
  v_days_audit integer := bgjobs.get_setting('retention_days_audit_log')::integer;
  v_days_auto  integer := bgjobs.get_setting('retention_days_automation_logs')::integer;
  v_days_notif integer := bgjobs.get_setting('retention_days_notifications')::integer;
  v_days_cron  integer := bgjobs.get_setting('retention_days_cron_run_details')::integer;
  v_jobs   integer := 0;
  v_audit  integer := 0;
  v_auto   integer := 0;
  v_notif  integer := 0;
  v_cron   integer;
  v_other  integer := 0;
  v_watch  integer := 0;
  v_n      integer;
BEGIN
  IF v_days_jobs > 0 THEN
    DELETE FROM public.jobs_log j
     WHERE j.started_at < p_as_of - make_interval(days => v_days_jobs)
       AND j.status <> 'running';
    GET DIAGNOSTICS v_jobs = ROW_COUNT;
    DELETE FROM bgjobs.watch_runs w
     WHERE coalesce(w.started_at, w.finished_at) < p_as_of - make_interval(days => v_days_jobs)
       AND w.status <> 'running';
    GET DIAGNOSTICS v_watch = ROW_COUNT;
    DELETE FROM bgjobs.alert_state a
     WHERE a.state = 'ok' AND a.resolved_at < p_as_of - make_interval(days => v_days_jobs);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_other := v_other + v_n;
    DELETE FROM bgjobs.silences s WHERE s.until < p_as_of - make_interval(days => v_days_jobs);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_other := v_other + v_n;
  END IF;
  IF v_days_audit > 0 THEN
    DELETE FROM public.audit_log a WHERE a."timestamp" < p_as_of - make_interval(days => v_days_audit);
    GET DIAGNOSTICS v_audit = ROW_COUNT;
  END IF;
  IF v_days_auto > 0 THEN
    DELETE FROM public.automation_logs l WHERE l.executed_at < p_as_of - make_interval(days => v_days_auto);
    GET DIAGNOSTICS v_auto = ROW_COUNT;
    DELETE FROM bgjobs_app.automation_events e WHERE e.fired_at < p_as_of - make_interval(days => v_days_auto);
  END IF;
  IF v_days_notif > 0 THEN
    DELETE FROM public.notifications n
     WHERE n.created_at < p_as_of - make_interval(days => v_days_notif)
       AND n.status IN ('sent', 'dead', 'cancelled');
    GET DIAGNOSTICS v_notif = ROW_COUNT;
  END IF;
  -- cron.job_run_details: bgjobs_runner's own runs only, unless the DBA opted in with
  -- retention_cron_all_users (bgjobs.purge_cron_run_details)
  IF v_days_cron > 0 THEN
    v_cron := bgjobs.purge_cron_run_details(p_as_of - make_interval(days => v_days_cron));
  END IF;
  DELETE FROM public.job_heartbeats h
   WHERE h.created_at < p_as_of - interval '90 days'
     AND h.last_run_at < p_as_of - interval '30 days'
     AND NOT EXISTS (SELECT 1 FROM bgjobs.job_registry r WHERE r.job_name = h.job_name)
     AND NOT EXISTS (SELECT 1 FROM bgjobs.watched_jobs w WHERE w.job_name = h.job_name);  -- monitor-only jobs keep theirs
  GET DIAGNOSTICS v_n = ROW_COUNT;
  v_other := v_other + v_n;

  RETURN jsonb_build_object(
    'jobsLog', v_jobs, 'watchRuns', v_watch, 'auditLog', v_audit, 'automationLogs', v_auto, 'notifications', v_notif,
    'cronJobRunDetails', v_cron, 'other', v_other,
    'retentionDays', jsonb_build_object('jobs_log', v_days_jobs, 'audit_log', v_days_audit,
                                        'automation_logs', v_days_auto, 'notifications', v_days_notif,
                                        'cron_job_run_details', v_days_cron),
    'recordsUpdated', v_jobs + v_watch + v_audit + v_auto + v_notif + coalesce(v_cron, 0) + v_other);
END;
$$;

CREATE FUNCTION bgjobs.job_stats(p_as_of timestamp with time zone DEFAULT now()) RETURNS TABLE(job_name text, last_run_at timestamp with time zone, last_status text, last_duration_seconds numeric, last_records_updated integer, last_error text, health_status text, runs_24h bigint, successes_24h bigint, failures_24h bigint, success_rate_24h numeric, runs_7d bigint, successes_7d bigint, failures_7d bigint, success_rate_7d numeric, runs_30d bigint, successes_30d bigint, failures_30d bigint, success_rate_30d numeric, records_updated_24h bigint, p50_duration_seconds numeric, p95_duration_seconds numeric, avg_duration_seconds numeric, max_duration_seconds numeric, health_score numeric, health_label text, next_expected_run timestamp with time zone)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
SELECT r.job_name,
       last.eff, last.status, round(extract(epoch FROM last.completed_at - last.started_at)::numeric, 3),
       last.records_updated, last.error_message,
       CASE WHEN last.status IS NULL THEN 'UNKNOWN'
            WHEN last.status = 'failed' THEN 'CRITICAL'
            WHEN p_as_of - last.eff > interval '25 hours' THEN 'WARNING'
            WHEN last.status = 'success' THEN 'OK'
            ELSE 'UNKNOWN' END,
       w.runs_24h, w.ok_24h, w.runs_24h - w.ok_24h,
       CASE WHEN w.runs_24h > 0 THEN round(100.0 * w.ok_24h / w.runs_24h, 2) END,
       w.runs_7d, w.ok_7d, w.runs_7d - w.ok_7d,
       CASE WHEN w.runs_7d > 0 THEN round(100.0 * w.ok_7d / w.runs_7d, 2) END,
       w.runs_30d, w.ok_30d, w.runs_30d - w.ok_30d,
       CASE WHEN w.runs_30d > 0 THEN round(100.0 * w.ok_30d / w.runs_30d, 2) END,
       w.records_24h,
       round(d.p50::numeric, 3), round(d.p95::numeric, 3), round(d.avg::numeric, 3), round(d.max::numeric, 3),
       CASE WHEN w.runs_7d > 0 THEN round(100.0 * w.ok_7d / w.runs_7d, 1) END,
       CASE WHEN w.runs_7d = 0 THEN 'No runs'
            WHEN 100.0 * w.ok_7d / w.runs_7d >= 95 THEN 'Healthy'
            WHEN 100.0 * w.ok_7d / w.runs_7d >= 80 THEN 'Degraded'
            ELSE 'Unhealthy' END,
       bgjobs.next_expected_run(r.job_name, p_as_of)
  FROM bgjobs.job_registry r
  LEFT JOIN LATERAL (
    SELECT coalesce(j.as_of, j.started_at) AS eff, j.started_at, j.completed_at, j.status, j.records_updated,
           j.error_message
      FROM public.jobs_log j
     WHERE j.job_name = r.job_name AND j.status <> 'skipped' AND coalesce(j.as_of, j.started_at) <= p_as_of
     ORDER BY coalesce(j.as_of, j.started_at) DESC
     LIMIT 1) last ON true
 CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE x.eff > p_as_of - interval '24 hours') AS runs_24h,
           count(*) FILTER (WHERE x.eff > p_as_of - interval '24 hours' AND x.status = 'success') AS ok_24h,
           count(*) FILTER (WHERE x.eff > p_as_of - interval '7 days') AS runs_7d,
           count(*) FILTER (WHERE x.eff > p_as_of - interval '7 days' AND x.status = 'success') AS ok_7d,
           count(*) AS runs_30d,
           count(*) FILTER (WHERE x.status = 'success') AS ok_30d,
           coalesce(sum(x.records_updated) FILTER (WHERE x.eff > p_as_of - interval '24 hours'), 0) AS records_24h
      FROM (SELECT coalesce(j.as_of, j.started_at) AS eff, j.status, j.records_updated
              FROM public.jobs_log j
             WHERE j.job_name = r.job_name AND j.status IN ('success', 'failed')
               AND coalesce(j.as_of, j.started_at) > p_as_of - interval '30 days'
               AND coalesce(j.as_of, j.started_at) <= p_as_of) x) w
 CROSS JOIN LATERAL (
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY y.s) AS p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY y.s) AS p95,
           avg(y.s) AS avg, max(y.s) AS max
      FROM (SELECT extract(epoch FROM j.completed_at - j.started_at) AS s
              FROM public.jobs_log j
             WHERE j.job_name = r.job_name AND j.status = 'success' AND j.completed_at IS NOT NULL
               AND coalesce(j.as_of, j.started_at) <= p_as_of
             ORDER BY coalesce(j.as_of, j.started_at) DESC
             LIMIT 100) y) d
UNION ALL
SELECT w.job_name, w.last_run_at, w.last_status, w.last_duration_seconds, w.last_records_updated, w.last_error,
       w.health_status, w.runs_24h, w.successes_24h, w.failures_24h, w.success_rate_24h,
       w.runs_7d, w.successes_7d, w.failures_7d, w.success_rate_7d,
       w.runs_30d, w.successes_30d, w.failures_30d, w.success_rate_30d, w.records_updated_24h,
       w.p50_duration_seconds, w.p95_duration_seconds, w.avg_duration_seconds, w.max_duration_seconds,
       w.health_score, w.health_label, w.next_expected_run
  FROM bgjobs.watch_stats(p_as_of) w
$$;

CREATE FUNCTION bgjobs.jobs_log_on_failure() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
  PERFORM pg_notify('job_failure', jsonb_build_object(
    'job_name', NEW.job_name,
    'error_message', left(NEW.error_message, 2000),
    'alert_time', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
    'run_id', NEW.id)::text);
  PERFORM bgjobs.apply_run_alert(NEW.job_name, greatest(coalesce(NEW.as_of, NEW.started_at), now()));
  RETURN NULL;
END;
$$;

CREATE FUNCTION bgjobs.jobs_log_on_success() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM bgjobs.alert_state a
              WHERE a.subject = NEW.job_name AND a.rule = 'consecutive_failures' AND a.state = 'firing') THEN
    PERFORM bgjobs.apply_run_alert(NEW.job_name, greatest(coalesce(NEW.as_of, NEW.started_at), now()));
  END IF;
  RETURN NULL;
END;
$$;

CREATE FUNCTION bgjobs.list_secrets() RETURNS TABLE(name text, updated_at timestamp with time zone)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$ SELECT s.name, s.updated_at FROM bgjobs.secrets s ORDER BY s.name $$;

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

CREATE FUNCTION bgjobs.maintenance_until(p_job_name text, p_at timestamp with time zone) RETURNS timestamp with time zone
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  SELECT max(x.ends)
    FROM (
      SELECT w.ends_at AS ends
        FROM bgjobs.maintenance_windows w
       WHERE w.recurrence IS NULL AND (w.job_name IS NULL OR w.job_name = p_job_name)
         AND w.starts_at <= p_at AND p_at < w.ends_at
      UNION ALL
      SELECT s.start + w.duration
        FROM bgjobs.maintenance_windows w
       CROSS JOIN LATERAL (SELECT regexp_split_to_array(btrim(w.recurrence), '\s+') AS f) e
       CROSS JOIN LATERAL bgjobs.cron_parse(w.recurrence) p
       CROSS JOIN LATERAL generate_series(((p_at - w.duration) AT TIME ZONE w.timezone)::date,
                                          (p_at AT TIME ZONE w.timezone)::date, interval '1 day') AS d(day)
       CROSS JOIN LATERAL (SELECT ((d.day::date + make_time(e.f[2]::integer, e.f[1]::integer, 0))
                                   AT TIME ZONE w.timezone) AS start) s
       WHERE w.recurrence IS NOT NULL AND (w.job_name IS NULL OR w.job_name = p_job_name)
         AND s.start <= p_at AND p_at < s.start + w.duration
         AND (p.doms >> extract(day FROM d.day)::integer) & 1 = 1          -- day of month AND
         AND (p.months >> extract(month FROM d.day)::integer) & 1 = 1      -- month AND
         AND (p.dows >> extract(dow FROM d.day)::integer) & 1 = 1          -- day of week
    ) x
$$;

CREATE FUNCTION bgjobs.next_expected_run(p_job_name text, p_as_of timestamp with time zone DEFAULT now()) RETURNS timestamp with time zone
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
  r bgjobs.job_registry%ROWTYPE;
  v_next timestamptz;
  v_prev timestamptz;
  v_floor timestamptz;
BEGIN
  SELECT * INTO r FROM bgjobs.job_registry WHERE job_name = p_job_name;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  IF bgjobs.job_paused(r.paused_from, r.paused_until, p_as_of) THEN
    IF r.paused_until IS NULL THEN
      RETURN NULL;
    END IF;
    p_as_of := r.paused_until;
  END IF;
  v_floor := bgjobs.slots_floor(r.slots_from, r.paused_from, r.paused_until, p_as_of);
  IF r.tenant_local THEN
    -- a tenant due now, for its slot of today or one missed (bgjobs.due_tenant_runs' rule)
    IF EXISTS (SELECT 1 FROM bgjobs.due_tenant_runs(r.job_name, p_as_of)) THEN
      RETURN p_as_of;
    END IF;
    IF NOT bgjobs.cron_daily(r.schedule) THEN        -- on some days only: each zone's next fire
      SELECT min(bgjobs.cron_next(r.schedule, y.timezone, p_as_of)) INTO v_next
        FROM (SELECT DISTINCT t.timezone FROM public.tenants t) y;
      RETURN v_next;
    END IF;
    SELECT min(CASE WHEN NOT d.done THEN greatest(s.slot, p_as_of) ELSE s.slot END)
      INTO v_next
      FROM public.tenants t
      CROSS JOIN LATERAL (SELECT p_as_of AT TIME ZONE t.timezone AS local_now) l
      LEFT JOIN bgjobs.tenant_job_runs h
        ON h.tenant_id = t.id AND h.job_name = r.job_name AND h.local_date = l.local_now::date
      -- today is done when handled, or when today's slot is before the floor (bgjobs.due_tenants' rule)
      CROSS JOIN LATERAL (
        SELECT h.local_date IS NOT NULL
               OR (v_floor <> '-infinity' AND (l.local_now::date + r.local_time) AT TIME ZONE t.timezone < v_floor) AS done) d
      -- the local slot: today's while today is not done, else tomorrow's
      CROSS JOIN LATERAL (SELECT l.local_now::date + d.done::integer + r.local_time AS wall) w
      -- the zone's UTC offsets a day either side (a DST change near the slot lies between)
      CROSS JOIN LATERAL (
        SELECT (a.x AT TIME ZONE t.timezone) - (a.x AT TIME ZONE 'UTC') AS before,
               (b.x AT TIME ZONE t.timezone) - (b.x AT TIME ZONE 'UTC') AS after
          FROM (SELECT (w.wall AT TIME ZONE t.timezone) - interval '1 day' AS x) a,
               (SELECT (w.wall AT TIME ZONE t.timezone) + interval '1 day' AS x) b) o
      CROSS JOIN LATERAL (
        SELECT coalesce(
                 -- the earliest instant whose local time is the slot (two when repeated)
                 (SELECT min(c.t)
                    FROM (VALUES (o.before), (o.after)) v(off)
                   CROSS JOIN LATERAL (SELECT (w.wall - v.off) AT TIME ZONE 'UTC' AS t) c
                   WHERE c.t AT TIME ZONE t.timezone = w.wall),
                 -- none: the slot is skipped; the gap ends on a whole minute between these
                 (SELECT min(g.t)
                    FROM generate_series(date_trunc('minute', (w.wall - o.after) AT TIME ZONE 'UTC', 'UTC'),
                                         (w.wall - o.before) AT TIME ZONE 'UTC', interval '1 minute') g(t)
                   WHERE g.t AT TIME ZONE t.timezone >= w.wall)) AS slot) s;
    RETURN v_next;
  END IF;
  IF r.tick IS NOT NULL THEN
    v_prev := bgjobs.cron_prev(r.schedule, r.timezone, p_as_of);
    IF v_prev >= v_floor
       AND NOT EXISTS (SELECT 1 FROM bgjobs.job_slots s WHERE s.job_name = r.job_name AND s.slot = v_prev) THEN
      RETURN p_as_of;
    END IF;
  END IF;
  v_next := bgjobs.cron_next(r.schedule, r.timezone, p_as_of);
  IF v_next IS NULL THEN
    SELECT max(j.started_at) + r.expected_interval INTO v_next
      FROM public.jobs_log j WHERE j.job_name = r.job_name AND j.status <> 'skipped';
  END IF;
  RETURN v_next;
END;
$$;

CREATE FUNCTION bgjobs.pause_job(job_name text, until timestamp with time zone DEFAULT NULL::timestamp with time zone, reason text DEFAULT NULL::text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
  v_job text := pause_job.job_name;
  r     bgjobs.job_registry%ROWTYPE;
BEGIN
  SELECT * INTO r FROM bgjobs.job_registry j WHERE j.job_name = v_job FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'pause_job: unknown job "%"', v_job USING ERRCODE = 'undefined_object';
  END IF;
  IF pause_job.until IS NOT NULL AND (pause_job.until <= now() OR NOT isfinite(pause_job.until)) THEN
    RAISE EXCEPTION 'pause_job: until (%) must be a finite time in the future (or NULL: until resume_job)', pause_job.until
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  UPDATE bgjobs.job_registry j
     SET paused_from = CASE WHEN bgjobs.job_paused(j.paused_from, j.paused_until, now()) THEN j.paused_from ELSE now() END,
         paused_until = pause_job.until,
         pause_reason = nullif(btrim(pause_job.reason), ''),
         updated_at = now()
   WHERE j.job_name = v_job;
  INSERT INTO public.audit_log (action_type, entity_type, details)
  VALUES ('job_paused', 'background_job',
          jsonb_build_object('job_name', v_job, 'until', pause_job.until, 'reason', pause_job.reason, 'by', session_user));
END;
$$;

CREATE FUNCTION bgjobs.purge_cron_run_details(p_before timestamp with time zone) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
DECLARE
  v_all boolean := bgjobs.get_setting('retention_cron_all_users')::boolean;
  v_n   integer;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = 'cron' AND c.relname = 'job_run_details'
                    AND has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'DELETE')) THEN
    RETURN NULL;
  END IF;
  EXECUTE format('DELETE FROM %I.%I d WHERE d.start_time < $1 AND ($2 OR d.username = $3)',
                 'cron', 'job_run_details')
    USING p_before, v_all, 'bgjobs_runner';
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_n;
END;
$_$;

CREATE FUNCTION bgjobs.reap_stale_runs(p_cancel_overdue boolean DEFAULT false) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
  v_reaped integer := 0;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM public.jobs_log WHERE status = 'running') AND NOT p_cancel_overdue THEN
    RETURN 0;
  END IF;

  WITH reaped AS (
    UPDATE public.jobs_log j
       SET status = 'failed',
           completed_at = clock_timestamp(),
           error_message = format('run abandoned: its backend (pid %s) ended before the run finished '
                                  '(terminated, crashed or server restarted)', j.pid)
     WHERE j.status = 'running'
       AND j.pid IS DISTINCT FROM pg_backend_pid()
       AND bgjobs.lock_held(j.job_name, j.pid) IS NULL
    RETURNING j.id, j.job_name, j.as_of, j.started_at, j.completed_at, j.error_message
  ),
  audited AS (
    INSERT INTO public.audit_log (action_type, entity_type, entity_id, details)
    SELECT 'background_job_execution', 'background_job', r.id,
           jsonb_build_object('job_name', r.job_name, 'status', 'failed',
                              'execution_time_ms', round(extract(epoch FROM r.completed_at - r.started_at) * 1000)::bigint,
                              'records_updated', 0, 'run_id', r.id, 'as_of', r.as_of,
                              'error', r.error_message, 'reaped', true)
      FROM reaped r
    RETURNING 1
  ),
  beat AS (
    SELECT public.update_job_heartbeat(
             r.job_name, 'failed',
             jsonb_build_object('run_id', r.id, 'last_status', 'failed', 'records_updated', 0, 'as_of', r.as_of,
                                'reaped', true))
      FROM reaped r
  )
  SELECT count(*) + 0 * (SELECT count(*) FROM audited) + 0 * (SELECT count(*) FROM beat)
    INTO v_reaped FROM reaped;

  IF p_cancel_overdue THEN
    -- one pass over the run locks held in this database (not one lookup per job)
    PERFORM pg_cancel_backend(l.pid)
      FROM pg_locks l
      JOIN bgjobs.job_registry r ON hashtext(r.job_name)::oid = l.objid
      JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE l.locktype = 'advisory'
       AND l.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
       AND l.classid = 1650944610::oid
       AND l.objsubid = 2
       AND l.granted
       AND l.pid <> pg_backend_pid()
       AND a.xact_start < clock_timestamp() - r.timeout;
  END IF;
  RETURN v_reaped;
END;
$$;

CREATE FUNCTION bgjobs.record_deliveries(p_results jsonb, p_as_of timestamp with time zone, p_deliverer text) RETURNS jsonb
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  WITH r AS (
    SELECT DISTINCT ON (x.tenant_id, x.id) x.*
      FROM jsonb_to_recordset(coalesce(p_results, '[]'::jsonb))
           AS x(tenant_id uuid, id uuid, status text, error text, retry_in numeric, at numeric)
     WHERE x.status IN ('sent', 'failed', 'dead', 'deferred')
  ),
  u AS (
    UPDATE public.notifications n
       SET status = CASE r.status WHEN 'deferred' THEN n.status ELSE r.status END,
           attempts = n.attempts + CASE r.status WHEN 'deferred' THEN 0 ELSE 1 END,
           sent_at = CASE r.status WHEN 'sent' THEN clock_timestamp() ELSE n.sent_at END,
           next_attempt_at = CASE WHEN r.status IN ('failed', 'deferred')
                                  THEN p_as_of + make_interval(secs => least(greatest(coalesce(r.at, 0), 0), 3600)
                                                                        + greatest(coalesce(r.retry_in, 30), 1))
                                  ELSE n.next_attempt_at END,
           last_error = CASE WHEN r.status = 'sent' THEN left(r.error, 1000)
                             ELSE left(coalesce(r.error, 'unknown error'), 1000) END,
           delivered_by = p_deliverer
      FROM r
     WHERE n.tenant_id = r.tenant_id AND n.id = r.id
       AND n.status IN ('pending', 'failed')
    RETURNING r.status
  )
  SELECT jsonb_build_object(
           'sent', count(*) FILTER (WHERE u.status = 'sent'),
           'failed', count(*) FILTER (WHERE u.status = 'failed'),
           'dead', count(*) FILTER (WHERE u.status = 'dead'),
           'deferred', count(*) FILTER (WHERE u.status = 'deferred'))
    FROM u
$$;

CREATE FUNCTION bgjobs.register_job(job_name text, body text, schedule text, timezone text DEFAULT 'UTC'::text, timeout interval DEFAULT '00:30:00'::interval, expected_duration interval DEFAULT NULL::interval, grace interval DEFAULT NULL::interval, description text DEFAULT ''::text) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
DECLARE
  v_job      text := register_job.job_name;
  v_sched    text := btrim(regexp_replace(coalesce(register_job.schedule, ''), '\s+', ' ', 'g'));
  v_tz       text := coalesce(register_job.timezone, 'UTC');
  v_parts    text[];
  v_schema   text;
  v_fname    text;
  v_fn       oid;
  v_args     smallint;
  v_returns  text;
  v_found    text;
  v_err      text;
  v_m        text[];
  v_tenant   boolean := false;
  v_local    time;
  v_tick     text;
  v_interval interval;
  v_grace    interval;
  v_old      bgjobs.job_registry%ROWTYPE;
  v_new      boolean;
  v_resched  boolean;
  v_changed  boolean;
  v_cron     text;
BEGIN
  -- the name
  IF v_job IS NULL OR v_job !~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$' THEN
    RAISE EXCEPTION 'register_job: job name % is not valid: 1 to 63 letters, digits, ".", "_" or "-", starting with a letter or digit',
                    coalesce(quote_literal(v_job), 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- a monitor-only job (bgjobs.watch_job) keeps its name
  IF EXISTS (SELECT 1 FROM bgjobs.watched_jobs w WHERE w.job_name = v_job) THEN
    RAISE EXCEPTION 'register_job: job name % is a monitor-only job (bgjobs.unwatch_job it first)', quote_literal(v_job)
      USING ERRCODE = 'duplicate_object';
  END IF;

  -- the body: a function of one of the three forms, returning jsonb, an integer or void
  BEGIN
    v_parts := parse_ident(coalesce(register_job.body, ''));
  EXCEPTION WHEN OTHERS THEN
    v_parts := NULL;
  END;
  IF v_parts IS NULL OR cardinality(v_parts) NOT IN (1, 2) THEN
    RAISE EXCEPTION 'register_job: body % is not a function name (function or schema.function)',
                    coalesce(quote_literal(register_job.body), 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  v_schema := CASE WHEN cardinality(v_parts) = 2 THEN v_parts[1] ELSE 'public' END;
  v_fname := v_parts[cardinality(v_parts)];
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
                  WHERE n.nspname = v_schema AND p.proname = v_fname) THEN
    RAISE EXCEPTION 'register_job: body function %.% does not exist', quote_ident(v_schema), quote_ident(v_fname)
      USING ERRCODE = 'undefined_function';
  END IF;
  SELECT p.oid, p.pronargs,
         CASE WHEN p.prorettype = 'jsonb'::regtype THEN 'jsonb'
              WHEN p.prorettype IN ('integer'::regtype, 'bigint'::regtype, 'smallint'::regtype) THEN 'integer'
              WHEN p.prorettype = 'void'::regtype THEN 'void' END
    INTO v_fn, v_args, v_returns
    FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname = v_schema AND p.proname = v_fname AND p.prokind = 'f' AND NOT p.proretset
     AND pg_catalog.oidvectortypes(p.proargtypes)
         IN ('', 'timestamp with time zone', 'timestamp with time zone, uuid[]')
   ORDER BY (p.prorettype IN ('jsonb'::regtype, 'integer'::regtype, 'bigint'::regtype, 'smallint'::regtype,
                              'void'::regtype)) DESC, p.pronargs DESC
   LIMIT 1;
  IF v_fn IS NULL THEN
    SELECT string_agg(p.oid::regprocedure::text, ', ' ORDER BY p.oid) INTO v_found
      FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = v_schema AND p.proname = v_fname;
    RAISE EXCEPTION 'register_job: body %.% must be a function taking (), (as_of timestamptz) or (as_of timestamptz, tenants uuid[]); found %',
                    quote_ident(v_schema), quote_ident(v_fname), v_found
      USING ERRCODE = 'invalid_function_definition';
  END IF;
  IF v_returns IS NULL THEN
    RAISE EXCEPTION 'register_job: body % must return jsonb, integer or void, not %',
                    v_fn::regprocedure, (SELECT format_type(p.prorettype, NULL) FROM pg_catalog.pg_proc p WHERE p.oid = v_fn)
      USING ERRCODE = 'invalid_function_definition';
  END IF;
  IF NOT has_function_privilege(session_user, v_fn, 'EXECUTE') THEN
    RAISE EXCEPTION 'register_job: role % may not execute body %', session_user, v_fn::regprocedure
      USING ERRCODE = 'insufficient_privilege';
  END IF;

  -- the schedule and its zone
  v_err := bgjobs.cron_check(v_sched, v_tz);
  IF v_err IS NOT NULL THEN
    RAISE EXCEPTION 'register_job: schedule % in zone %: %', quote_literal(v_sched), quote_literal(v_tz), v_err
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF v_tz = 'tenant' THEN
    -- one local time of day; the day fields as cron reads them ('0 9 * * mon': Mondays)
    v_m := regexp_match(v_sched, '^([0-9]{1,2}) ([0-9]{1,2}) \S+ \S+ \S+$');
    IF v_m IS NULL THEN
      RAISE EXCEPTION 'register_job: timezone tenant takes ''M H day-of-month month day-of-week'' with a single minute and hour (the local time in each tenant''s zone), not %',
                      quote_literal(v_sched)
        USING ERRCODE = 'invalid_parameter_value', HINT = 'e.g. ''0 8 * * *'' daily at 08:00, ''0 9 * * mon'' Mondays at 09:00';
    END IF;
    v_tenant := true;
    v_local := make_time(v_m[2]::integer, v_m[1]::integer, 0);
    v_tick := bgjobs.zone_tick(v_sched);
    v_interval := coalesce(bgjobs.cron_max_gap(v_sched, 'UTC'), interval '1 day');
  ELSE
    IF v_tz <> 'UTC' THEN
      v_tick := bgjobs.zone_tick(v_sched);
    END IF;
    v_interval := coalesce(bgjobs.cron_max_gap(v_sched, v_tz), interval '1 day');
  END IF;

  -- the expectations
  IF register_job.timeout IS NULL OR register_job.timeout <= interval '0' THEN
    RAISE EXCEPTION 'register_job: timeout must be positive, not %', coalesce(register_job.timeout::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF register_job.expected_duration <= interval '0' THEN
    RAISE EXCEPTION 'register_job: expected_duration must be positive (or NULL), not %', register_job.expected_duration
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF register_job.grace < interval '0' THEN
    RAISE EXCEPTION 'register_job: grace must not be negative, not %', register_job.grace
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  v_grace := coalesce(register_job.grace,
                      least(interval '1 hour', greatest(interval '5 minutes', v_interval / 4)));

  -- the row: inserted, or updated only where it differs
  SELECT * INTO v_old FROM bgjobs.job_registry r WHERE r.job_name = v_job FOR UPDATE;
  v_new := NOT FOUND;
  v_resched := v_new OR (v_old.schedule, v_old.timezone, v_old.tick)
                        IS DISTINCT FROM (v_sched, CASE WHEN v_tenant THEN 'tenant' ELSE v_tz END, v_tick);
  IF v_new THEN
    INSERT INTO bgjobs.job_registry AS r
      (job_name, description, schedule, tick, function_schema, function_name, body_args, body_returns,
       tenant_local, local_time, timezone, expected_interval, expected_duration, timeout, grace,
       slots_from, registered_by)
    VALUES (v_job, coalesce(register_job.description, ''), v_sched, v_tick, v_schema, v_fname, v_args, v_returns,
            v_tenant, v_local, CASE WHEN v_tenant THEN 'tenant' ELSE v_tz END, v_interval,
            register_job.expected_duration, register_job.timeout, v_grace, now(), session_user);
    v_changed := true;
    DELETE FROM bgjobs.unregistered_jobs u WHERE u.job_name = v_job;   -- registered again
  ELSE
    UPDATE bgjobs.job_registry AS r
       SET description = coalesce(register_job.description, ''), schedule = v_sched, tick = v_tick,
           function_schema = v_schema, function_name = v_fname, body_args = v_args, body_returns = v_returns,
           tenant_local = v_tenant, local_time = v_local,
           timezone = CASE WHEN v_tenant THEN 'tenant' ELSE v_tz END,
           expected_interval = v_interval, expected_duration = register_job.expected_duration,
           timeout = register_job.timeout, grace = v_grace,
           slots_from = CASE WHEN v_resched THEN now() ELSE r.slots_from END,
           updated_at = now()
     WHERE r.job_name = v_job
       AND (r.description, r.schedule, r.tick, r.function_schema, r.function_name, r.body_args, r.body_returns,
            r.tenant_local, r.local_time, r.timezone, r.expected_interval, r.expected_duration, r.timeout, r.grace)
           IS DISTINCT FROM
           (coalesce(register_job.description, ''), v_sched, v_tick, v_schema, v_fname, v_args, v_returns,
            v_tenant, v_local, CASE WHEN v_tenant THEN 'tenant' ELSE v_tz END, v_interval,
            register_job.expected_duration, register_job.timeout, v_grace);
    v_changed := FOUND;
  END IF;

  IF NOT has_function_privilege('bgjobs_runner', v_fn, 'EXECUTE') THEN
    RAISE WARNING 'register_job: bgjobs_runner, which runs job "%", may not execute %: its runs will fail until you GRANT EXECUTE ON FUNCTION % TO bgjobs_runner',
                  v_job, v_fn::regprocedure, v_fn::regprocedure;
  END IF;

  -- pg_cron
  IF coalesce(current_setting('bgjobs.defer_schedule', true), '') NOT IN ('on', 'true', '1') THEN
    v_cron := bgjobs.cron_apply(v_job);
    IF v_cron IS NULL THEN
      RAISE NOTICE 'register_job: pg_cron does not live in database % (or bgjobs_runner may not schedule here): run `bgjobs jobs add` or `bgjobs install` to apply the schedule of "%"',
                   current_database(), v_job;
    ELSE
      UPDATE bgjobs.job_registry r SET cron_jobname = v_cron
       WHERE r.job_name = v_job AND r.cron_jobname IS DISTINCT FROM v_cron;
    END IF;
  END IF;

  IF v_changed THEN
    INSERT INTO public.audit_log (action_type, entity_type, details)
    VALUES (CASE WHEN v_new THEN 'job_registered' ELSE 'job_updated' END, 'background_job',
            jsonb_build_object('job_name', v_job, 'body', v_fn::regprocedure::text, 'schedule', v_sched,
                               'timezone', CASE WHEN v_tenant THEN 'tenant' ELSE v_tz END, 'by', session_user));
  END IF;

  RETURN (SELECT jsonb_build_object('job', r.job_name, 'body', v_fn::regprocedure::text, 'schedule', r.schedule,
                                    'timezone', r.timezone, 'tick', coalesce(r.tick, r.schedule),
                                    'pg_cron_job', coalesce(r.cron_jobname, r.job_name),
                                    'scheduled', v_cron IS NOT NULL, 'created', v_new, 'changed', v_changed,
                                    'expected_interval', r.expected_interval::text, 'grace', r.grace::text)
            FROM bgjobs.job_registry r WHERE r.job_name = v_job);
END;
$_$;

CREATE FUNCTION bgjobs.release_run_lock(p_job_name text) RETURNS boolean
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$ SELECT pg_catalog.pg_advisory_unlock(1650944610, pg_catalog.hashtext(p_job_name)) $$;

CREATE FUNCTION bgjobs.remove_maintenance_window(p_id bigint) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
  DELETE FROM bgjobs.maintenance_windows w WHERE w.id = p_id;
  RETURN FOUND;
END;
$$;

CREATE FUNCTION bgjobs.resume_job(job_name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
  v_job text := resume_job.job_name;
  r     bgjobs.job_registry%ROWTYPE;
BEGIN
  SELECT * INTO r FROM bgjobs.job_registry j WHERE j.job_name = v_job FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'resume_job: unknown job "%"', v_job USING ERRCODE = 'undefined_object';
  END IF;
  IF NOT bgjobs.job_paused(r.paused_from, r.paused_until, now()) THEN
    RAISE NOTICE 'resume_job: job "%" is not paused', v_job;
    RETURN;
  END IF;
  -- the pause ends now; slots_floor() keeps the slots it covered from being caught up
  UPDATE bgjobs.job_registry j SET paused_until = now(), updated_at = now() WHERE j.job_name = v_job;
  INSERT INTO public.audit_log (action_type, entity_type, details)
  VALUES ('job_resumed', 'background_job', jsonb_build_object('job_name', v_job, 'by', session_user));
END;
$$;

CREATE PROCEDURE bgjobs.run_scheduled_job(IN p_job_name text, IN p_as_of timestamp with time zone DEFAULT NULL::timestamp with time zone)
    LANGUAGE plpgsql
    AS $$
DECLARE
  v_as_of   timestamptz := p_as_of;
  v_tenants uuid[];
  v_run     uuid;
  v_skip    boolean;
  v_resp    jsonb;
  v_due     boolean;
  v_slot    timestamptz;
  v_run_as_of timestamptz;
BEGIN
  PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
  v_as_of := coalesce(v_as_of, pg_catalog.now());
  IF bgjobs.maintenance_until(p_job_name, v_as_of) IS NOT NULL THEN
    RETURN;                                         -- inside a maintenance window: no run
  END IF;
  PERFORM bgjobs.reap_stale_runs(true);
  SELECT d.due, d.tenants, d.slot INTO v_due, v_tenants, v_slot FROM bgjobs.due_work(p_job_name, v_as_of) d;
  IF NOT v_due THEN
    RETURN;
  END IF;
  LOOP
    v_run_as_of := coalesce(v_slot, v_as_of);
    SELECT b.run_id, b.skipped INTO v_run, v_skip FROM bgjobs.begin_run(p_job_name, v_run_as_of, 'cron', true) b;
    IF v_skip THEN
      COMMIT;
      RETURN;
    END IF;
    IF v_slot IS NOT NULL AND v_tenants IS NULL THEN
      INSERT INTO bgjobs.job_slots (job_name, slot, run_id) VALUES (p_job_name, v_slot, v_run)
      ON CONFLICT DO NOTHING;
    END IF;
    COMMIT;
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    v_resp := bgjobs.execute_run(v_run, p_job_name, v_run_as_of, v_tenants, true);
    PERFORM bgjobs.release_run_lock(p_job_name);
    COMMIT;
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    -- a tenant-local job: the tick's next run, if tenants with a later slot are due too (a
    -- failed run's tenants are not marked handled: the next tick tries them again)
    EXIT WHEN v_tenants IS NULL;
    SELECT g.run_as_of, g.run_tenants INTO v_slot, v_tenants
      FROM bgjobs.due_tenant_runs(p_job_name, v_as_of) g
     WHERE g.run_as_of > v_run_as_of
     ORDER BY g.run_as_of LIMIT 1;
    EXIT WHEN v_tenants IS NULL;
  END LOOP;
END;
$$;

CREATE FUNCTION bgjobs.scheduler_state(OUT state text, OUT detail text) RETURNS record
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
  v_pid     integer;
  v_cron_db text;
BEGIN
  IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user)
     AND NOT pg_has_role(current_user, 'pg_read_all_stats', 'MEMBER') THEN
    state := 'unknown';
    detail := format('cannot see the pg_cron launcher: role %s is neither a superuser nor a member of '
                     'pg_read_all_stats', current_user);
    RETURN;
  END IF;
  BEGIN   -- pg_cron's settings are superuser-only (or pg_read_all_settings)
    v_cron_db := current_setting('cron.database_name', true);
    IF v_cron_db IS NULL THEN
      state := 'absent';
      detail := 'pg_cron is not in shared_preload_libraries: no job fires';
      RETURN;
    END IF;
  EXCEPTION WHEN insufficient_privilege THEN
    v_cron_db := '?';
  END;
  SELECT a.pid INTO v_pid FROM pg_catalog.pg_stat_activity a WHERE a.backend_type = 'pg_cron launcher' LIMIT 1;
  IF v_pid IS NOT NULL THEN
    state := 'ok';
    detail := format('pg_cron launcher running (pid %s, database %s)', v_pid, v_cron_db);
  ELSE
    state := 'down';
    detail := 'pg_cron launcher not running: no job fires until the server restarts '
              '(terminated with pg_terminate_backend, or crashed)';
  END IF;
END;
$$;

CREATE FUNCTION bgjobs.secret_is_set(p_name text) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$ SELECT EXISTS (SELECT 1 FROM bgjobs.secrets s WHERE s.name = p_name AND s.value <> '') $$;

CREATE FUNCTION bgjobs.skipped_response(p_run_id uuid) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
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

CREATE FUNCTION bgjobs.slots_floor(p_slots_from timestamp with time zone, p_paused_from timestamp with time zone, p_paused_until timestamp with time zone, p_at timestamp with time zone) RETURNS timestamp with time zone
    LANGUAGE sql IMMUTABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  SELECT coalesce(max(f), '-infinity'::timestamptz)
    FROM (VALUES (p_slots_from),
                 (CASE WHEN p_paused_from IS NOT NULL THEN p_paused_until END)) v(f)
   WHERE f <= p_at
$$;

CREATE FUNCTION bgjobs.unregister_job(job_name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
  v_job  text := unregister_job.job_name;
  v_cron text;
  v_gone boolean;
BEGIN
  SELECT coalesce(r.cron_jobname, r.job_name) INTO v_cron
    FROM bgjobs.job_registry r WHERE r.job_name = v_job FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unregister_job: unknown job "%"', v_job USING ERRCODE = 'undefined_object';
  END IF;
  v_gone := bgjobs.cron_remove(v_cron);
  IF v_gone IS NULL THEN
    RAISE NOTICE 'unregister_job: pg_cron does not live in database %: `bgjobs jobs remove` unschedules pg_cron job "%" there',
                 current_database(), v_cron;
  END IF;
  DELETE FROM bgjobs.job_registry r WHERE r.job_name = v_job;
  DELETE FROM bgjobs.job_slots s WHERE s.job_name = v_job;
  DELETE FROM bgjobs.tenant_job_runs t WHERE t.job_name = v_job;
  DELETE FROM bgjobs.alert_state a WHERE a.subject = v_job;
  DELETE FROM public.job_heartbeats h WHERE h.job_name = v_job;
  INSERT INTO bgjobs.unregistered_jobs AS u (job_name) VALUES (v_job)
  ON CONFLICT ON CONSTRAINT unregistered_jobs_pkey DO UPDATE SET unregistered_at = now(), by_role = session_user;
  INSERT INTO public.audit_log (action_type, entity_type, details)
  VALUES ('job_unregistered', 'background_job',
          jsonb_build_object('job_name', v_job, 'pg_cron_job', v_cron, 'by', session_user));
END;
$$;

CREATE FUNCTION bgjobs.unwatch_cron_job(p_jobid bigint) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
  v_subjects text[];
BEGIN
  IF NOT EXISTS (SELECT 1 FROM bgjobs.cron_watch_jobs(now(), 0) j WHERE j.jobid = p_jobid) THEN
    RAISE EXCEPTION 'no pg_cron job with jobid % (bgjobs'' own jobs are not watched this way)', coalesce(p_jobid::text, 'NULL')
      USING ERRCODE = 'no_data_found';
  END IF;
  v_subjects := ARRAY(SELECT t.subject FROM bgjobs.watch_targets(now(), 0) t WHERE t.jobid = p_jobid);
  INSERT INTO bgjobs.cron_watch_optouts (jobid) VALUES (p_jobid) ON CONFLICT DO NOTHING;
  UPDATE bgjobs.alert_state a SET state = 'ok', resolved_at = now(), since = now(), silenced = false
   WHERE a.subject = ANY (v_subjects) AND a.state = 'firing';
  RETURN 1;
END;
$$;

CREATE FUNCTION bgjobs.unwatch_cron_job(p_jobname text, p_database text DEFAULT NULL::text) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
  v_ids      bigint[];
  v_subjects text[];
BEGIN
  v_ids := ARRAY(SELECT j.jobid FROM bgjobs.cron_watch_jobs(now(), 0) j
                  WHERE j.jobname = p_jobname AND (p_database IS NULL OR j.database = p_database));
  IF cardinality(v_ids) = 0 THEN
    RAISE EXCEPTION 'no pg_cron job named "%"%', coalesce(p_jobname, 'NULL'),
      CASE WHEN p_database IS NULL THEN '' ELSE format(' in database "%s"', p_database) END
      USING ERRCODE = 'no_data_found',
            HINT = 'SELECT jobid, jobname, database FROM cron.job lists them (bgjobs'' own jobs are not watched this way)';
  END IF;
  v_subjects := ARRAY(SELECT t.subject FROM bgjobs.watch_targets(now(), 0) t WHERE t.jobid = ANY (v_ids));
  INSERT INTO bgjobs.cron_watch_optouts (jobname, database) VALUES (p_jobname, p_database) ON CONFLICT DO NOTHING;
  UPDATE bgjobs.alert_state a SET state = 'ok', resolved_at = now(), since = now(), silenced = false
   WHERE a.subject = ANY (v_subjects) AND a.state = 'firing';
  RETURN cardinality(v_ids);
END;
$$;

CREATE FUNCTION bgjobs.unwatch_job(job_name text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
  DELETE FROM bgjobs.watched_jobs w WHERE w.job_name = unwatch_job.job_name;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  UPDATE bgjobs.alert_state a SET state = 'ok', resolved_at = now(), since = now(), silenced = false
   WHERE a.subject = unwatch_job.job_name AND a.state = 'firing';
  RETURN true;
END;
$$;

CREATE FUNCTION bgjobs.watch_checkin() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
  v_kind text;
  v_open bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM bgjobs.watched_jobs w WHERE w.job_name = NEW.job_name) THEN
    RETURN NULL;
  END IF;
  v_kind := CASE WHEN lower(coalesce(NEW.status, '')) IN ('started', 'start', 'running') THEN 'start'
                 WHEN lower(coalesce(NEW.status, '')) IN ('failed', 'fail', 'failure', 'error') THEN 'failed'
                 ELSE 'success' END;
  IF v_kind = 'start' THEN
    UPDATE bgjobs.watch_runs r SET status = 'abandoned'
     WHERE r.job_name = NEW.job_name AND r.status = 'running';
    INSERT INTO bgjobs.watch_runs (job_name, started_at, status, reported, metadata)
    VALUES (NEW.job_name, NEW.last_run_at, 'running', NEW.status, coalesce(NEW.metadata, '{}'));
    RETURN NULL;
  END IF;
  SELECT r.id INTO v_open FROM bgjobs.watch_runs r
   WHERE r.job_name = NEW.job_name AND r.status = 'running'
   ORDER BY r.started_at DESC LIMIT 1;
  IF v_open IS NOT NULL THEN
    UPDATE bgjobs.watch_runs r
       SET finished_at = NEW.last_run_at, status = v_kind, reported = NEW.status,
           metadata = r.metadata || coalesce(NEW.metadata, '{}')
     WHERE r.id = v_open;
  ELSE
    INSERT INTO bgjobs.watch_runs (job_name, finished_at, status, reported, metadata)
    VALUES (NEW.job_name, NEW.last_run_at, v_kind, NEW.status, coalesce(NEW.metadata, '{}'));
  END IF;
  RETURN NULL;
END;
$$;

CREATE FUNCTION bgjobs.watch_cron_job(p_jobid bigint) RETURNS integer
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  WITH d AS (DELETE FROM bgjobs.cron_watch_optouts o WHERE o.jobid = p_jobid RETURNING 1)
  SELECT count(*)::integer FROM d
$$;

CREATE FUNCTION bgjobs.watch_cron_job(p_jobname text, p_database text DEFAULT NULL::text) RETURNS integer
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  WITH d AS (DELETE FROM bgjobs.cron_watch_optouts o
              WHERE o.jobname = p_jobname AND o.database IS NOT DISTINCT FROM p_database RETURNING 1)
  SELECT count(*)::integer FROM d
$$;

CREATE FUNCTION bgjobs.watch_job(job_name text, schedule text, timezone text DEFAULT 'UTC'::text, grace interval DEFAULT NULL::interval) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
DECLARE
  v_name  text := btrim(coalesce(watch_job.job_name, ''));
  v_sched text := btrim(regexp_replace(coalesce(watch_job.schedule, ''), '\s+', ' ', 'g'));
  v_zone  text := coalesce(nullif(btrim(watch_job.timezone), ''), 'UTC');
  v_grace interval := watch_job.grace;
  v_prev  timestamptz;
  v_next  timestamptz;
  v_row   jsonb;
BEGIN
  IF v_name = '' OR length(v_name) > 200 OR v_name ~ '[[:cntrl:]]' THEN
    RAISE EXCEPTION 'invalid job name "%": 1 to 200 printable characters', coalesce(watch_job.job_name, '')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF v_name LIKE 'pg_cron:%' THEN
    RAISE EXCEPTION 'invalid job name "%": names starting with pg_cron: are the watched pg_cron jobs''', v_name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF EXISTS (SELECT 1 FROM bgjobs.job_registry r WHERE r.job_name = v_name) THEN
    RAISE EXCEPTION 'job "%" is a job bgjobs runs; a monitor-only job needs another name', v_name
      USING ERRCODE = 'duplicate_object';
  END IF;
  IF v_zone = 'tenant' OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_timezone_names z WHERE z.name = v_zone) THEN
    RAISE EXCEPTION 'unknown time zone "%" for job "%"', v_zone, v_name
      USING ERRCODE = 'invalid_parameter_value', HINT = 'use an IANA zone name such as UTC or Europe/Berlin';
  END IF;
  IF v_grace IS NOT NULL AND v_grace < interval '0' THEN
    RAISE EXCEPTION 'invalid grace "%" for job "%": must not be negative', v_grace, v_name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF v_sched !~ '^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|\S+ \S+ \S+ \S+ \S+)$' THEN
    RAISE EXCEPTION 'invalid cron expression "%" for job "%": 5 fields (minute hour day month weekday) or @daily, @hourly, ...',
      coalesce(watch_job.schedule, ''), v_name USING ERRCODE = 'invalid_parameter_value';
  END IF;
  BEGIN
    v_prev := bgjobs.cron_prev(v_sched, v_zone, now());
    v_next := bgjobs.cron_next(v_sched, v_zone, now());
  EXCEPTION WHEN others THEN
    RAISE EXCEPTION 'invalid cron expression "%" for job "%": %', v_sched, v_name,
      regexp_replace(SQLERRM, '^.*invalid cron expression ''[^'']*'': ', '')
      USING ERRCODE = 'invalid_parameter_value';
  END;
  IF v_next IS NULL THEN
    RAISE EXCEPTION 'invalid cron expression "%" for job "%": it never fires', v_sched, v_name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF v_grace IS NULL THEN
    v_grace := CASE WHEN v_prev IS NULL OR v_next IS NULL THEN interval '1 hour'
                    ELSE least(interval '1 hour', greatest(interval '1 minute',
                               date_trunc('second', (v_next - v_prev) / 2))) END;
  END IF;

  INSERT INTO bgjobs.watched_jobs AS w (job_name, schedule, timezone, grace)
  VALUES (v_name, v_sched, v_zone, v_grace)
  ON CONFLICT ON CONSTRAINT watched_jobs_pkey DO UPDATE
     SET schedule = EXCLUDED.schedule, timezone = EXCLUDED.timezone, grace = EXCLUDED.grace, updated_at = now()
  RETURNING jsonb_build_object('job_name', w.job_name, 'schedule', w.schedule, 'timezone', w.timezone,
                               'grace', w.grace::text, 'registered_at', w.registered_at,
                               'next_expected_run', v_next)
    INTO v_row;
  RETURN v_row;
END;
$_$;

CREATE FUNCTION bgjobs.watch_refresh(p_as_of timestamp with time zone) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
DECLARE
  r      record;
  v_prev timestamptz;
  v_next timestamptz;
  v_err  text;
  v_n    integer := 0;
  v_ids    bigint[];
  v_scheds text[];
  v_zones  text[];
  v_graces interval[];
BEGIN
  -- one read of what is watched (pg_cron's table is read once)
  SELECT array_agg(t.jobid), array_agg(t.schedule), array_agg(t.timezone), array_agg(t.grace)
    INTO v_ids, v_scheds, v_zones, v_graces
    FROM bgjobs.watch_targets(p_as_of, 0) t;
  v_ids := coalesce(array_remove(v_ids, NULL), '{}');        -- monitor-only jobs have none
  INSERT INTO bgjobs.cron_watch_seen (jobid) SELECT i FROM unnest(v_ids) i ON CONFLICT DO NOTHING;
  DELETE FROM bgjobs.cron_watch_seen s WHERE NOT (s.jobid = ANY (v_ids));
  FOR r IN
    SELECT DISTINCT ON (t.schedule, t.timezone) t.schedule, t.timezone, p_as_of - t.grace - interval '1 microsecond' AS at
      FROM unnest(v_scheds, v_zones, v_graces) AS t(schedule, timezone, grace)
      LEFT JOIN bgjobs.schedule_cache c ON c.schedule = t.schedule AND c.timezone = t.timezone
     WHERE t.schedule !~* '^\s*[0-9]+\s+seconds?\s*$'
       AND (c.schedule IS NULL
            OR (c.error IS NULL AND c.prev_fire IS NOT NULL
                AND NOT (c.prev_fire <= p_as_of - t.grace - interval '1 microsecond'
                         AND c.next_fire > p_as_of - t.grace - interval '1 microsecond')))
     ORDER BY t.schedule, t.timezone, t.grace
  LOOP
    v_err := NULL;
    BEGIN
      v_prev := bgjobs.cron_prev(r.schedule, r.timezone, r.at);
      v_next := CASE WHEN v_prev IS NOT NULL THEN bgjobs.cron_next(r.schedule, r.timezone, v_prev) END;
    EXCEPTION WHEN others THEN
      v_prev := NULL;
      v_next := NULL;
      v_err := left(SQLERRM, 300);
    END;
    INSERT INTO bgjobs.schedule_cache AS c (schedule, timezone, prev_fire, next_fire, error, updated_at)
    VALUES (r.schedule, r.timezone, v_prev, v_next, v_err, now())
    ON CONFLICT (schedule, timezone) DO UPDATE
       SET prev_fire = EXCLUDED.prev_fire, next_fire = EXCLUDED.next_fire, error = EXCLUDED.error,
           updated_at = EXCLUDED.updated_at;
    v_n := v_n + 1;
  END LOOP;
  RETURN v_n;
END;
$_$;

CREATE FUNCTION bgjobs.watch_stats(p_as_of timestamp with time zone DEFAULT now()) RETURNS TABLE(job_name text, last_run_at timestamp with time zone, last_status text, last_duration_seconds numeric, last_records_updated integer, last_error text, health_status text, runs_24h bigint, successes_24h bigint, failures_24h bigint, success_rate_24h numeric, runs_7d bigint, successes_7d bigint, failures_7d bigint, success_rate_7d numeric, runs_30d bigint, successes_30d bigint, failures_30d bigint, success_rate_30d numeric, records_updated_24h bigint, p50_duration_seconds numeric, p95_duration_seconds numeric, avg_duration_seconds numeric, max_duration_seconds numeric, health_score numeric, health_label text, next_expected_run timestamp with time zone, kind text, pg_cron_job text, schedule text, timezone text, active boolean, running_since timestamp with time zone, last_duration interval)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET jit TO 'off'
    AS $_$
SELECT t.subject,
       last.eff, last.st, round(extract(epoch FROM last.e - last.s)::numeric, 3), 0, t.last_error,
       CASE WHEN last.st IS NULL THEN 'UNKNOWN'
            WHEN last.st = 'failed' THEN 'CRITICAL'
            WHEN p_as_of - last.eff > interval '25 hours' THEN 'WARNING'
            WHEN last.st = 'success' THEN 'OK'
            ELSE 'UNKNOWN' END,
       w.runs_24h, w.ok_24h, w.runs_24h - w.ok_24h,
       CASE WHEN w.runs_24h > 0 THEN round(100.0 * w.ok_24h / w.runs_24h, 2) END,
       w.runs_7d, w.ok_7d, w.runs_7d - w.ok_7d,
       CASE WHEN w.runs_7d > 0 THEN round(100.0 * w.ok_7d / w.runs_7d, 2) END,
       w.runs_30d, w.ok_30d, w.runs_30d - w.ok_30d,
       CASE WHEN w.runs_30d > 0 THEN round(100.0 * w.ok_30d / w.runs_30d, 2) END,
       0::bigint,
       round(w.p50::numeric, 3), round(w.p95::numeric, 3), round(w.avg::numeric, 3), round(w.max::numeric, 3),
       CASE WHEN w.runs_7d > 0 THEN round(100.0 * w.ok_7d / w.runs_7d, 1) END,
       CASE WHEN w.runs_7d = 0 THEN 'No runs'
            WHEN 100.0 * w.ok_7d / w.runs_7d >= 95 THEN 'Healthy'
            WHEN 100.0 * w.ok_7d / w.runs_7d >= 80 THEN 'Degraded'
            ELSE 'Unhealthy' END,
       CASE WHEN t.schedule ~* '^\s*[0-9]+\s+seconds?\s*$' THEN NULL
            -- a monitor-only job's schedule was checked by watch_job; a pg_cron job's once the
            -- cache has it without an error (pg_cron accepts expressions the cron math does not)
            -- the cached fires answer when they bracket as_of (a daily schedule: all day)
            WHEN c.prev_fire <= p_as_of AND c.next_fire > p_as_of THEN c.next_fire
            WHEN t.kind = 'watch' OR (c.schedule IS NOT NULL AND c.error IS NULL)
              THEN bgjobs.cron_next(t.schedule, t.timezone, p_as_of)
       END,
       t.kind, t.pg_cron_job, t.schedule, t.timezone, t.active,
       CASE WHEN t.statuses[1] = 'running' THEN t.starts[1] END,
       last.e - last.s
  FROM bgjobs.watch_targets(p_as_of, 100) t
  LEFT JOIN bgjobs.schedule_cache c ON c.schedule = t.schedule AND c.timezone = t.timezone
  LEFT JOIN LATERAL (
    SELECT coalesce(u.s, u.e) AS eff, u.s, u.e, u.st
      FROM unnest(t.starts, t.ends, t.statuses) WITH ORDINALITY AS u(s, e, st, i)
     WHERE u.st IN ('success', 'failed')
     ORDER BY u.i
     LIMIT 1) last ON true
 CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE x.eff > p_as_of - interval '24 hours') AS runs_24h,
           count(*) FILTER (WHERE x.eff > p_as_of - interval '24 hours' AND x.st = 'success') AS ok_24h,
           count(*) FILTER (WHERE x.eff > p_as_of - interval '7 days') AS runs_7d,
           count(*) FILTER (WHERE x.eff > p_as_of - interval '7 days' AND x.st = 'success') AS ok_7d,
           count(*) FILTER (WHERE x.eff > p_as_of - interval '30 days') AS runs_30d,
           count(*) FILTER (WHERE x.eff > p_as_of - interval '30 days' AND x.st = 'success') AS ok_30d,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY x.d) AS p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY x.d) AS p95,
           avg(x.d) AS avg, max(x.d) AS max
      FROM (SELECT coalesce(u.s, u.e) AS eff, u.st,
                   CASE WHEN u.st = 'success' THEN extract(epoch FROM u.e - u.s) END AS d
              FROM unnest(t.starts, t.ends, t.statuses) AS u(s, e, st)
             WHERE u.st IN ('success', 'failed')) x) w
$_$;

CREATE FUNCTION bgjobs.watch_targets(p_as_of timestamp with time zone, p_runs integer) RETURNS TABLE(subject text, kind text, pg_cron_job text, database text, schedule text, timezone text, grace interval, active boolean, ref_at timestamp with time zone, starts timestamp with time zone[], ends timestamp with time zone[], statuses text[], last_error text, jobid bigint)
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET jit TO 'off'
    AS $$
SELECT w.job_name, 'watch', NULL::text, NULL::text, w.schedule, w.timezone, w.grace, true, w.registered_at,
       coalesce(r.starts, '{}'), coalesce(r.ends, '{}'), coalesce(r.statuses, '{}'), r.last_error, NULL::bigint
  FROM bgjobs.watched_jobs w
  LEFT JOIN LATERAL (
    SELECT array_agg(x.started_at ORDER BY x.eff DESC) AS starts,
           array_agg(x.finished_at ORDER BY x.eff DESC) AS ends,
           array_agg(x.status ORDER BY x.eff DESC) AS statuses,
           (array_agg(left(coalesce(x.metadata ->> 'error', x.metadata ->> 'error_message', x.metadata ->> 'message',
                                    'reported ' || x.reported), 300) ORDER BY x.eff DESC)
              FILTER (WHERE x.status = 'failed'))[1] AS last_error
      FROM (SELECT coalesce(v.started_at, v.finished_at) AS eff, v.started_at, v.finished_at, v.status,
                   v.reported, v.metadata
              FROM bgjobs.watch_runs v
             WHERE v.job_name = w.job_name AND v.status <> 'abandoned'
               AND coalesce(v.started_at, v.finished_at) <= p_as_of
             ORDER BY coalesce(v.started_at, v.finished_at) DESC
             LIMIT p_runs) x
  ) r ON p_runs > 0
UNION ALL
SELECT c.name || CASE WHEN count(*) OVER (PARTITION BY c.name) > 1 THEN '#' || c.jobid ELSE '' END,
       'pg_cron', c.jobname, c.database, c.schedule, c.tz, c.grace,
       c.active, coalesce(s.first_seen_at, p_as_of),
       c.starts, c.ends, c.statuses, c.last_error, c.jobid
  FROM (SELECT j.*, cfg.tz, cfg.grace,
               'pg_cron:' || coalesce(j.jobname, '#' || j.jobid)
                 || CASE WHEN j.database <> current_database() THEN '@' || j.database ELSE '' END AS name
          FROM (SELECT bgjobs.get_setting('watch_cron_jobs')::boolean AS enabled,
                       coalesce(nullif(current_setting('cron.timezone', true), ''), 'UTC') AS tz,
                       make_interval(mins => bgjobs.get_setting('watch_cron_grace_minutes')::integer) AS grace) cfg
         CROSS JOIN LATERAL bgjobs.cron_watch_jobs(p_as_of, CASE WHEN cfg.enabled THEN p_runs ELSE 0 END) j
         WHERE cfg.enabled
           AND NOT EXISTS (SELECT 1 FROM bgjobs.cron_watch_optouts o
                            WHERE o.jobid = j.jobid
                               OR (o.jobname = j.jobname AND (o.database IS NULL OR o.database = j.database)))) c
  LEFT JOIN bgjobs.cron_watch_seen s ON s.jobid = c.jobid
$$;

CREATE FUNCTION bgjobs.watchdog(p_as_of timestamp with time zone DEFAULT now()) RETURNS TABLE(severity text, subject text, kind text, problem text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
  v_state  text;
  v_detail text;
  v_cron_here boolean := EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n WHERE n.nspname = 'cron');
BEGIN
  SELECT s.state, s.detail INTO v_state, v_detail FROM bgjobs.scheduler_state() s;
  IF v_state IN ('down', 'absent') THEN
    RETURN QUERY SELECT 'CRITICAL'::text, 'scheduler'::text, 'launcher'::text, v_detail;
  ELSIF v_state = 'unknown' THEN
    RETURN QUERY SELECT 'WARNING'::text, 'scheduler'::text, 'launcher'::text, v_detail;
  END IF;

  RETURN QUERY
  SELECT 'CRITICAL'::text, r.job_name, 'ticks'::text,
         format('%s has not run for %s (every %s; last run %s): pg_cron is not firing bgjobs'' ticks',
                r.job_name, date_trunc('second', p_as_of - coalesce(l.last, r.registered_at)), r.expected_interval,
                coalesce(to_char(l.last AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'), 'never'))
    FROM bgjobs.job_registry r
    LEFT JOIN LATERAL (
      SELECT max(coalesce(j.as_of, j.started_at)) AS last, bool_or(j.trigger = 'cron') AS by_cron
        FROM public.jobs_log j
       WHERE j.job_name = r.job_name AND coalesce(j.as_of, j.started_at) <= p_as_of) l ON true
   WHERE r.job_name IN ('deliver-notifications', 'check-job-health')
     AND r.enabled
     AND CASE WHEN v_cron_here
              THEN EXISTS (SELECT 1 FROM bgjobs.cron_jobs() c
                            WHERE c.jobname = coalesce(r.cron_jobname, r.job_name) AND c.active)
              ELSE coalesce(l.by_cron, false) END
     AND coalesce(l.last, r.registered_at) < p_as_of - 2 * r.expected_interval - interval '30 seconds';

  RETURN QUERY
  SELECT 'CRITICAL'::text, a.subject, 'alert'::text,
         format('%s: %s firing since %s: %s', a.display_name, a.rule,
                to_char(a.since AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"'), left(a.summary, 300))
    FROM bgjobs.alert_state a
   WHERE a.state = 'firing' AND a.severity = 'CRITICAL' AND a.rule <> 'scheduler_down'
     AND NOT EXISTS (SELECT 1 FROM bgjobs.silences s
                      WHERE (s.job_name IS NULL OR s.job_name = a.subject)
                        AND s.starts_at <= p_as_of AND s.until > p_as_of)
   ORDER BY a.since, a.subject, a.rule;
END;
$$;

CREATE FUNCTION bgjobs.watchdog_alert(p_as_of timestamp with time zone DEFAULT now()) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
  v_problems text[];
  v_unknown  boolean;
  v_findings jsonb := '[]'::jsonb;
  v_counts   jsonb;
BEGIN
  SELECT array_agg(w.problem ORDER BY w.kind, w.subject) FILTER (WHERE w.severity = 'CRITICAL'),
         bool_or(w.severity <> 'CRITICAL')
    INTO v_problems, v_unknown
    FROM bgjobs.watchdog(p_as_of) w
   WHERE w.kind IN ('launcher', 'ticks');
  IF coalesce(v_unknown, false) AND v_problems IS NULL THEN
    RETURN jsonb_build_object('problems', '[]'::jsonb, 'skipped', 'cannot see the pg_cron launcher');
  END IF;
  IF v_problems IS NOT NULL THEN
    v_findings := jsonb_build_array(jsonb_build_object(
      'subject', 'scheduler', 'rule', 'scheduler_down', 'severity', 'CRITICAL',
      'display_name', 'pg_cron scheduler',
      'summary', array_to_string(v_problems, '; '),
      'details', jsonb_build_object('problems', to_jsonb(v_problems),
                                    'fix', 'restart PostgreSQL to bring the pg_cron launcher back; '
                                           'run bgjobs doctor')));
  END IF;
  v_counts := bgjobs.apply_alerts(p_as_of, ARRAY['scheduler_down'], v_findings, ARRAY['scheduler']);
  RETURN v_counts || jsonb_build_object('problems', coalesce(to_jsonb(v_problems), '[]'::jsonb));
END;
$$;

CREATE FUNCTION bgjobs.zone_offset_spread(p_day timestamp without time zone) RETURNS interval
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
  RETURN greatest(p_day - interval '3 days' - ((p_day - interval '3 days')::timestamptz AT TIME ZONE 'UTC'),
                  p_day - interval '2 days' - ((p_day - interval '2 days')::timestamptz AT TIME ZONE 'UTC'),
                  p_day - interval '1 day' - ((p_day - interval '1 day')::timestamptz AT TIME ZONE 'UTC'),
                  p_day - (p_day::timestamptz AT TIME ZONE 'UTC'),
                  p_day + interval '1 day' - ((p_day + interval '1 day')::timestamptz AT TIME ZONE 'UTC'),
                  p_day + interval '2 days' - ((p_day + interval '2 days')::timestamptz AT TIME ZONE 'UTC'),
                  p_day + interval '3 days' - ((p_day + interval '3 days')::timestamptz AT TIME ZONE 'UTC'))
       - least(p_day - interval '3 days' - ((p_day - interval '3 days')::timestamptz AT TIME ZONE 'UTC'),
               p_day - interval '2 days' - ((p_day - interval '2 days')::timestamptz AT TIME ZONE 'UTC'),
               p_day - interval '1 day' - ((p_day - interval '1 day')::timestamptz AT TIME ZONE 'UTC'),
               p_day - (p_day::timestamptz AT TIME ZONE 'UTC'),
               p_day + interval '1 day' - ((p_day + interval '1 day')::timestamptz AT TIME ZONE 'UTC'),
               p_day + interval '2 days' - ((p_day + interval '2 days')::timestamptz AT TIME ZONE 'UTC'),
               p_day + interval '3 days' - ((p_day + interval '3 days')::timestamptz AT TIME ZONE 'UTC'));
END;
$$;

CREATE FUNCTION bgjobs.zone_tick(p_schedule text) RETURNS text
    LANGUAGE sql IMMUTABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
  SELECT CASE
    WHEN m IS NULL OR m !~ '^[0-9]{1,2}(,[0-9]{1,2})*$' THEN '* * * * *'
    ELSE (SELECT CASE WHEN array_agg(x ORDER BY x) = ARRAY[0, 15, 30, 45] THEN '*/15 * * * *'
                      ELSE array_to_string(array_agg(x ORDER BY x), ',') || ' * * * *' END
            FROM (SELECT DISTINCT (v::integer % 15) + 15 * k AS x
                    FROM unnest(string_to_array(m, ',')) v, generate_series(0, 3) k) s)
  END
  FROM (SELECT CASE lower(btrim(p_schedule))
                 WHEN '@hourly' THEN '0' WHEN '@daily' THEN '0' WHEN '@midnight' THEN '0'
                 WHEN '@weekly' THEN '0' WHEN '@monthly' THEN '0' WHEN '@yearly' THEN '0' WHEN '@annually' THEN '0'
                 ELSE split_part(regexp_replace(btrim(p_schedule), '\s+', ' ', 'g'), ' ', 1) END AS m) f
$_$;

CREATE FUNCTION bgjobs_app.app_has_column(p_table text, p_column text) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                  WHERE a.attrelid = pg_catalog.to_regclass(pg_catalog.format('public.%I', p_table))
                    AND a.attname = p_column AND a.attnum > 0 AND NOT a.attisdropped)
$$;

CREATE FUNCTION bgjobs_app.fire_automation_events(p_as_of timestamp with time zone, p_tenant_ids uuid[], p_events text[], p_entity_types text[], p_entity_ids uuid[], p_event_keys text[], p_data jsonb[], p_task_cases uuid[] DEFAULT NULL::uuid[], p_task_assignees uuid[] DEFAULT NULL::uuid[], p_task_titles text[] DEFAULT NULL::text[]) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET plan_cache_mode TO 'auto'
    SET work_mem TO '16MB'
    AS $_$
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
$_$;

CREATE FUNCTION bgjobs_app.installments_set_tenant() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
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

CREATE FUNCTION bgjobs_app.job_analytics_snapshot(p_as_of timestamp with time zone, p_tenants uuid[]) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
  v_threshold numeric := bgjobs.get_setting('anomaly_threshold_pct')::numeric;
  v_sla_critical interval := bgjobs.get_setting('sla_hours_critical')::numeric * interval '1 hour';
  v_sla_high     interval := bgjobs.get_setting('sla_hours_high')::numeric * interval '1 hour';
  v_sla_medium   interval := bgjobs.get_setting('sla_hours_medium')::numeric * interval '1 hour';
  v_sla_low      interval := bgjobs.get_setting('sla_hours_low')::numeric * interval '1 hour';
  v_tenants   integer;
  v_written   integer;
  v_anomalies integer;
BEGIN
  WITH scope AS (
    SELECT t.id AS tenant_id, (p_as_of AT TIME ZONE t.timezone)::date AS local_date
      FROM public.tenants t
     WHERE p_tenants IS NULL OR t.id = ANY (p_tenants)
  ),
  -- per-tenant figures as grouped subqueries joined on tenant_id (not LATERAL subqueries
  -- per tenant): on Citus every join stays on the tenant's shard
  figures AS (
    SELECT s.tenant_id, s.local_date,
           jsonb_build_object(
             'case_count', coalesce(c.active, 0),
             'task_completion_rate', CASE WHEN k.total > 0 THEN round(k.completed::numeric / k.total, 4) END,
             'sla_compliance_rate', CASE WHEN k.total > 0 THEN round((k.total - k.breached)::numeric / k.total, 4) END,
             'hearing_attendance_rate', CASE WHEN h.held > 0 THEN round(h.attended::numeric / h.held, 4) END,
             'document_count', coalesce(d.n, 0),
             'overdue_tasks', coalesce(k.overdue, 0)) AS metrics
      FROM scope s
      LEFT JOIN (
       SELECT ca.tenant_id, count(*) FILTER (WHERE ca.status = 'Active') AS active
         FROM public.cases ca
        WHERE p_tenants IS NULL OR ca.tenant_id = ANY (p_tenants)
        GROUP BY ca.tenant_id) c ON c.tenant_id = s.tenant_id
      LEFT JOIN (
       SELECT t.tenant_id,
              count(*) FILTER (WHERE t.status <> 'Cancelled') AS total,
              count(*) FILTER (WHERE t.status = 'Completed') AS completed,
              count(*) FILTER (WHERE t.status IN ('Open', 'In Progress') AND t.due_date < p_as_of) AS overdue,
              count(*) FILTER (WHERE t.due_date IS NOT NULL AND (
                         (t.status IN ('Open', 'In Progress') AND p_as_of > t.due_date + x.sla)
                      -- completed_at: a column the seeds' tasks have and the contract does not
                      -- require (without it a completed task counts as within its SLA)
                      OR (t.status = 'Completed' AND (to_jsonb(t) ->> 'completed_at')::timestamptz > t.due_date + x.sla))) AS breached
         FROM public.tasks t
        CROSS JOIN LATERAL (SELECT CASE WHEN t.priority = 'Critical' THEN v_sla_critical
                                        WHEN t.priority = 'High' THEN v_sla_high
                                        WHEN t.priority = 'Medium' THEN v_sla_medium ELSE v_sla_low END AS sla) x
        WHERE p_tenants IS NULL OR t.tenant_id = ANY (p_tenants)
        GROUP BY t.tenant_id) k ON k.tenant_id = s.tenant_id
      LEFT JOIN (
       SELECT hr.tenant_id,
              count(*) FILTER (WHERE hr.status <> 'Cancelled') AS held,
              count(*) FILTER (WHERE hr.status = 'Attended') AS attended
         FROM public.hearings hr
        WHERE hr.hearing_date <= p_as_of AND (p_tenants IS NULL OR hr.tenant_id = ANY (p_tenants))
        GROUP BY hr.tenant_id) h ON h.tenant_id = s.tenant_id
      LEFT JOIN (
       SELECT dc.tenant_id, count(*) AS n
         FROM public.documents dc
        WHERE p_tenants IS NULL OR dc.tenant_id = ANY (p_tenants)
        GROUP BY dc.tenant_id) d ON d.tenant_id = s.tenant_id
  ),
  -- each tenant's average of each numeric metric over its snapshots of the 7 previous local dates
  history AS (
    SELECT s.tenant_id, k.metric, avg((p.metric_value ->> k.metric)::numeric) AS average
      FROM scope s
      JOIN public.analytics_snapshots p
        ON p.tenant_id = s.tenant_id AND p.metric_type = 'daily_snapshot'
       AND p.snapshot_date >= s.local_date - 7 AND p.snapshot_date < s.local_date
     CROSS JOIN LATERAL jsonb_object_keys(p.metric_value) AS k(metric)
     WHERE jsonb_typeof(p.metric_value -> k.metric) = 'number'
     GROUP BY s.tenant_id, k.metric
  ),
  judged AS (
    SELECT f.tenant_id, f.local_date, f.metrics, coalesce(a.anomalies, '[]'::jsonb) AS anomalies
      FROM figures f
      LEFT JOIN (
       SELECT m.tenant_id,
              jsonb_agg(jsonb_build_object('metric', m.metric, 'value', m.value, 'average', round(m.average, 4),
                                           'deviation_pct', round(abs(m.value - m.average) / abs(m.average) * 100, 2))
                        ORDER BY m.metric) AS anomalies
         FROM (SELECT f2.tenant_id, k.metric, (f2.metrics ->> k.metric)::numeric AS value, hi.average
                 FROM figures f2
                CROSS JOIN LATERAL jsonb_object_keys(f2.metrics) AS k(metric)
                 JOIN history hi ON hi.tenant_id = f2.tenant_id AND hi.metric = k.metric
                WHERE jsonb_typeof(f2.metrics -> k.metric) = 'number') m
        WHERE m.average <> 0
          AND abs(m.value - m.average) / abs(m.average) * 100 > v_threshold
        GROUP BY m.tenant_id) a ON a.tenant_id = f.tenant_id
  ),
  snapshot AS (
    SELECT j.tenant_id, j.local_date,
           j.metrics || jsonb_build_object('anomaly_detected', jsonb_array_length(j.anomalies) > 0,
                                           'anomalies', j.anomalies) AS metric_value
      FROM judged j
  ),
  -- an upsert without ON CONFLICT: an application's own analytics_snapshots need not have a
  -- unique constraint on (tenant_id, metric_type, snapshot_date); runs of a job never overlap
  updated AS (
    UPDATE public.analytics_snapshots a
       SET metric_value = n.metric_value, created_at = now()
      FROM snapshot n
     WHERE a.tenant_id = n.tenant_id AND a.metric_type = 'daily_snapshot' AND a.snapshot_date = n.local_date
       AND a.metric_value IS DISTINCT FROM n.metric_value
    RETURNING 1
  ),
  inserted AS (
    INSERT INTO public.analytics_snapshots (tenant_id, metric_type, snapshot_date, metric_value)
    SELECT n.tenant_id, 'daily_snapshot', n.local_date, n.metric_value
      FROM snapshot n
     -- uncorrelated (Citus plans no correlated subquery over a CTE); a tenant's local date
     -- is within a day of the UTC date
     WHERE (n.tenant_id, n.local_date) NOT IN (
             SELECT a.tenant_id, a.snapshot_date FROM public.analytics_snapshots a
              WHERE a.metric_type = 'daily_snapshot'
                AND a.snapshot_date BETWEEN (p_as_of AT TIME ZONE 'UTC')::date - 1 AND (p_as_of AT TIME ZONE 'UTC')::date + 1)
    RETURNING 1
  ),
  written AS (
    SELECT 1 FROM updated UNION ALL SELECT 1 FROM inserted
  )
  SELECT count(*), (SELECT count(*) FROM written), count(*) FILTER (WHERE jsonb_array_length(j.anomalies) > 0)
    INTO v_tenants, v_written, v_anomalies
    FROM judged j;

  RETURN jsonb_build_object(
    'tenantsProcessed', v_tenants,
    'snapshotsWritten', v_written,
    'anomaliesDetected', v_anomalies,
    'recordsUpdated', v_written);
END;
$$;

CREATE FUNCTION bgjobs_app.job_automation_health_check(p_as_of timestamp with time zone, p_tenants uuid[]) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
  v_degraded_pct numeric := bgjobs.get_setting('automation_degraded_failure_pct')::numeric;
  v_critical_pct numeric := bgjobs.get_setting('automation_critical_success_pct')::numeric;
  v_inactive     interval := bgjobs.get_setting('automation_inactive_hours')::numeric * interval '1 hour';
  v_info_pct     numeric := bgjobs.get_setting('automation_info_success_pct')::numeric;
  v_from         timestamptz := p_as_of - interval '24 hours';
  v_result       jsonb;
BEGIN
  WITH scope AS (
    SELECT t.id AS tenant_id, t.name AS tenant_name
      FROM public.tenants t
     WHERE p_tenants IS NULL OR t.id = ANY (p_tenants)
  ),
  logs AS (
    SELECT l.tenant_id, l.rule_id, count(*) AS n,
           count(*) FILTER (WHERE l.status = 'success') AS ok,
           count(*) FILTER (WHERE l.status = 'failed') AS failed
      FROM public.automation_logs l
      JOIN scope s ON s.tenant_id = l.tenant_id
     WHERE l.executed_at > v_from AND l.executed_at <= p_as_of
     GROUP BY l.tenant_id, l.rule_id
  ),
  rules AS (
    SELECT r.tenant_id, r.id AS rule_id, r.rule_name, r.is_active,
           coalesce(g.n, 0) AS n, coalesce(g.ok, 0) AS ok, coalesce(g.failed, 0) AS failed,
           CASE WHEN g.n > 0 THEN round(100.0 * g.ok / g.n, 2) END AS success_rate,
           CASE WHEN g.n > 0 THEN round(100.0 * g.failed / g.n, 2) END AS failure_rate,
           -- created_at: a column the seeds' rules have and the contract does not require
           -- (a rule without it is judged)
           r.is_active AND coalesce((to_jsonb(r) ->> 'created_at')::timestamptz, '-infinity') <= p_as_of - v_inactive
             AND NOT EXISTS (SELECT 1 FROM public.automation_logs l
                              WHERE l.tenant_id = r.tenant_id AND l.rule_id = r.id
                                AND l.executed_at > p_as_of - v_inactive AND l.executed_at <= p_as_of) AS inactive
      FROM public.automation_rules r
      JOIN scope s ON s.tenant_id = r.tenant_id
      LEFT JOIN logs g ON g.tenant_id = r.tenant_id AND g.rule_id = r.id
  ),
  judged AS (
    SELECT r.*,
           r.n > 0 AND 100.0 * r.ok / r.n < v_critical_pct AS critical,
           r.n > 0 AND 100.0 * r.failed / r.n > v_degraded_pct AS degraded
      FROM rules r
  ),
  totals AS (
    SELECT s.tenant_id, s.tenant_name,
           coalesce(sum(g.n), 0) AS n, coalesce(sum(g.ok), 0) AS ok, coalesce(sum(g.failed), 0) AS failed
      FROM scope s
      LEFT JOIN logs g ON g.tenant_id = s.tenant_id
     GROUP BY s.tenant_id, s.tenant_name
  ),
  findings AS (
    SELECT j.tenant_id, 1 AS rank, 'CRITICAL' AS level,
           format('Rule "%s": success rate %s%% over %s executions in the last 24 hours (below %s%%)',
                  j.rule_name, j.success_rate, j.n, v_critical_pct) AS message
      FROM judged j WHERE j.critical
    UNION ALL
    SELECT j.tenant_id, 2, 'WARNING',
           format('Rule "%s" is degraded: failure rate %s%% over %s executions (above %s%%)',
                  j.rule_name, j.failure_rate, j.n, v_degraded_pct)
      FROM judged j WHERE j.degraded AND NOT j.critical
    UNION ALL
    SELECT j.tenant_id, 2, 'WARNING',
           format('Rule "%s" (%s) is active but has not executed in %s hours',
                  j.rule_name, j.rule_id, extract(epoch FROM v_inactive) / 3600)
      FROM judged j WHERE j.inactive
    UNION ALL
    SELECT t.tenant_id, 3, 'INFO',
           format('Overall automation success rate %s%% over %s executions (below %s%%)',
                  round(100.0 * t.ok / t.n, 2), t.n, v_info_pct)
      FROM totals t WHERE t.n > 0 AND 100.0 * t.ok / t.n < v_info_pct
  ),
  reports AS (
    SELECT t.tenant_id, t.tenant_name,
           (ARRAY['CRITICAL', 'WARNING', 'INFO'])[min(f.rank)] AS severity,
           jsonb_agg(jsonb_build_object('level', f.level, 'message', f.message) ORDER BY f.rank, f.message) AS findings,
           jsonb_build_object(
             'total_executions', t.n, 'successful_executions', t.ok, 'failed_executions', t.failed,
             'success_rate', CASE WHEN t.n > 0 THEN round(100.0 * t.ok / t.n, 2) ELSE 100 END,
             'degraded_rules', (SELECT count(*) FROM judged j WHERE j.tenant_id = t.tenant_id AND j.degraded),
             'inactive_rules', (SELECT count(*) FROM judged j WHERE j.tenant_id = t.tenant_id AND j.inactive)) AS metrics
      FROM totals t
      JOIN findings f ON f.tenant_id = t.tenant_id
     GROUP BY t.tenant_id, t.tenant_name, t.n, t.ok, t.failed
  ),
  queued AS (
    INSERT INTO public.notifications (tenant_id, channel, recipient, template, payload, dedupe_key, category)
    SELECT rp.tenant_id, 'email', btrim(u.email), 'automation_health',
           jsonb_build_object('severity', rp.severity, 'findings', rp.findings, 'metrics', rp.metrics,
                              'tenant_id', rp.tenant_id, 'tenant_name', rp.tenant_name,
                              'recipient_name', u.full_name,
                              'window_start', to_char(v_from AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                              'window_end', to_char(p_as_of AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')),
           format('automation_health:%s:%s:%s', rp.tenant_id, (p_as_of AT TIME ZONE 'UTC')::date, u.id),
           'business'
      FROM reports rp
      JOIN public.users u
        ON u.tenant_id = rp.tenant_id AND nullif(btrim(u.email), '') IS NOT NULL
      -- role and is_active: columns the seeds' users have and the contract does not require
      -- (read through to_jsonb in the WHERE clause: Citus refuses a FROM-less LATERAL
      -- subquery calling it)
     WHERE to_jsonb(u) ->> 'role' = 'admin' AND coalesce((to_jsonb(u) ->> 'is_active')::boolean, true)
    ON CONFLICT ON CONSTRAINT notifications_dedupe_key_key DO NOTHING
    RETURNING 1
  )
  SELECT jsonb_build_object(
           'total_executions', x.n,
           'successful_executions', x.ok,
           'failed_executions', x.failed,
           'success_rate', CASE WHEN x.n > 0 THEN round(100.0 * x.ok / x.n, 2) ELSE 100 END,
           'inactive_rules', coalesce((SELECT jsonb_agg(j.rule_name ORDER BY j.rule_name, j.rule_id)
                                         FROM judged j WHERE j.inactive), '[]'::jsonb),
           'degraded_rules', coalesce((SELECT jsonb_agg(jsonb_build_object(
                                                'rule_id', j.rule_id, 'rule_name', j.rule_name,
                                                'failure_rate', j.failure_rate, 'tenant_id', j.tenant_id)
                                              ORDER BY j.failure_rate DESC, j.rule_name, j.tenant_id, j.rule_id)
                                         FROM judged j WHERE j.degraded), '[]'::jsonb),
           'tenantsChecked', (SELECT count(*) FROM scope),
           'tenantsWithFindings', (SELECT count(*) FROM reports),
           'critical', (SELECT count(*) FROM findings WHERE level = 'CRITICAL'),
           'warning', (SELECT count(*) FROM findings WHERE level = 'WARNING'),
           'info', (SELECT count(*) FROM findings WHERE level = 'INFO'),
           'notificationsQueued', (SELECT count(*) FROM queued),
           'recordsUpdated', (SELECT count(*) FROM queued))
    INTO v_result
    FROM (SELECT coalesce(sum(t.n), 0) AS n, coalesce(sum(t.ok), 0) AS ok, coalesce(sum(t.failed), 0) AS failed
            FROM totals t) x;

  RETURN v_result;
END;
$$;

CREATE FUNCTION bgjobs_app.job_check_sla_and_overdue(p_as_of timestamp with time zone, p_tenants uuid[]) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET plan_cache_mode TO 'force_custom_plan'
    SET jit TO 'off'
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

CREATE FUNCTION bgjobs_app.job_check_upcoming_deadlines(p_as_of timestamp with time zone, p_tenants uuid[]) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
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

CREATE FUNCTION bgjobs_app.job_send_hearing_reminders(p_as_of timestamp with time zone, p_tenants uuid[]) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
  v_hearings integer;
  v_email    integer;
  v_whatsapp integer;
BEGIN
  WITH scope AS (
    -- whatsapp_enabled (tenants) and is_active, phone (users): columns the seeds have and
    -- the contract does not require (without them: no WhatsApp, every user active)
    SELECT t.id AS tenant_id, t.timezone, coalesce((to_jsonb(t) ->> 'whatsapp_enabled')::boolean, false) AS whatsapp_enabled,
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
           d.*, r.role, u.id AS user_id, u.email, to_jsonb(u) ->> 'phone' AS phone, u.full_name
      FROM due d
     CROSS JOIN LATERAL (VALUES ('owner', d.owner_id), ('advocate', d.assigned_to)) AS r(role, user_id)
      JOIN public.users u ON u.tenant_id = d.tenant_id AND u.id = r.user_id
                         AND coalesce((to_jsonb(u) ->> 'is_active')::boolean, true)
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

CREATE FUNCTION bgjobs_app.job_update_installment_statuses(p_as_of timestamp with time zone, p_tenants uuid[]) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
DECLARE
  v_updated integer;
  v_tenants integer;
BEGIN
  SELECT count(*) INTO v_tenants
    FROM public.tenants t
   WHERE p_tenants IS NULL OR t.id = ANY (p_tenants);

  -- An application's own installments may lack tenant_id (the contract's minimum is the
  -- payment plan) and updated_at: the statement follows the columns the table has.
  EXECUTE format(
    'UPDATE public.installments i SET status = %L%s FROM %s '
    'WHERE %s AND ($1 IS NULL OR t.id = ANY ($1)) AND i.status = %L '
    'AND i.student_due_date < ($2 AT TIME ZONE t.timezone)::date',
    'overdue',
    CASE WHEN bgjobs_app.app_has_column('installments', 'updated_at') THEN ', updated_at = pg_catalog.now()' ELSE '' END,
    CASE WHEN bgjobs_app.app_has_column('installments', 'tenant_id') THEN 'public.tenants t'
         ELSE 'public.payment_plans p JOIN public.tenants t ON t.id = p.tenant_id' END,
    CASE WHEN bgjobs_app.app_has_column('installments', 'tenant_id') THEN 'i.tenant_id = t.id'
         ELSE 'p.id = i.payment_plan_id' END,
    'pending')
    USING p_tenants, p_as_of;
  GET DIAGNOSTICS v_updated = ROW_COUNT;

  RETURN jsonb_build_object(
    'installmentsUpdated', v_updated,
    'tenantsProcessed', v_tenants,
    'recordsUpdated', v_updated);
END;
$_$;

CREATE FUNCTION bgjobs_app.tasks_sla_feed() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
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

CREATE FUNCTION bgjobs_app.tenants_check_timezone() RETURNS trigger
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

CREATE FUNCTION public.job_metrics(as_of timestamp with time zone DEFAULT now(), job_name text DEFAULT NULL::text) RETURNS jsonb
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
WITH p AS (SELECT coalesce(job_metrics.as_of, now()) AS as_of, job_metrics.job_name AS job),
s AS (
  SELECT st.* FROM p, bgjobs.job_stats(p.as_of) st WHERE p.job IS NULL OR st.job_name = p.job
),
rd AS (
  SELECT j.job_name, (coalesce(j.as_of, j.started_at) AT TIME ZONE 'UTC')::date AS day, sum(j.records_updated) AS total
    FROM public.jobs_log j, p
   WHERE j.status = 'success'
     AND coalesce(j.as_of, j.started_at) > p.as_of - interval '7 days'
     AND coalesce(j.as_of, j.started_at) <= p.as_of
     AND (p.job IS NULL OR j.job_name = p.job)
   GROUP BY 1, 2
),
jobs AS (
  SELECT jsonb_agg(jsonb_build_object(
           'job', s.job_name,
           'schedule', CASE WHEN r.tenant_local AND bgjobs.cron_daily(r.schedule)
                            THEN to_char(r.local_time, 'HH24:MI') || ' tenant-local'
                            WHEN r.tenant_local THEN r.schedule || ' tenant-local'
                            ELSE coalesce(r.schedule, wt.schedule) END,
           'enabled', coalesce(r.enabled, true),
           'healthStatus', s.health_status,
           'healthScore', s.health_score,
           'healthLabel', s.health_label,
           'lastRun', CASE WHEN s.last_run_at IS NULL THEN NULL ELSE jsonb_build_object(
                        'startedAt', s.last_run_at, 'status', s.last_status,
                        'durationSeconds', s.last_duration_seconds, 'recordsUpdated', s.last_records_updated,
                        'error', s.last_error) END,
           'successRate', jsonb_build_object('24h', s.success_rate_24h, '7d', s.success_rate_7d, '30d', s.success_rate_30d),
           'runs', jsonb_build_object(
             '24h', jsonb_build_object('total', s.runs_24h, 'successful', s.successes_24h, 'failed', s.failures_24h),
             '7d', jsonb_build_object('total', s.runs_7d, 'successful', s.successes_7d, 'failed', s.failures_7d),
             '30d', jsonb_build_object('total', s.runs_30d, 'successful', s.successes_30d, 'failed', s.failures_30d)),
           'duration', jsonb_build_object('p50', s.p50_duration_seconds, 'p95', s.p95_duration_seconds,
                                          'avg', s.avg_duration_seconds, 'max', s.max_duration_seconds),
           'recordsUpdated24h', s.records_updated_24h,
           'recordsUpdatedPerDay', coalesce((SELECT jsonb_agg(jsonb_build_object('date', rd.day, 'total', rd.total)
                                                              ORDER BY rd.day)
                                               FROM rd WHERE rd.job_name = s.job_name), '[]'::jsonb),
           'alerts', coalesce((SELECT jsonb_agg(jsonb_build_object('rule', a.rule, 'severity', a.severity,
                                                                   'since', a.since, 'summary', a.summary)
                                                ORDER BY a.rule)
                                 FROM bgjobs.alert_state a
                                WHERE a.subject = s.job_name AND a.state = 'firing'), '[]'::jsonb))
           ORDER BY s.job_name) AS list
    FROM s LEFT JOIN bgjobs.job_registry r ON r.job_name = s.job_name
    -- monitor-only jobs and watched pg_cron jobs (bgjobs.watch_targets)
    LEFT JOIN (SELECT w.subject, w.schedule FROM p, bgjobs.watch_targets(p.as_of, 0) w) wt ON wt.subject = s.job_name
),
runs AS (
  SELECT count(*) FILTER (WHERE j.status IN ('success', 'failed')) AS total,
         count(*) FILTER (WHERE j.status = 'success') AS ok,
         count(*) FILTER (WHERE j.status = 'failed') AS failed
    FROM public.jobs_log j, p
   WHERE coalesce(j.as_of, j.started_at) > p.as_of - interval '24 hours'
     AND coalesce(j.as_of, j.started_at) <= p.as_of
     AND (p.job IS NULL OR j.job_name = p.job)
),
notif AS (
  SELECT count(*) FILTER (WHERE n.status = 'pending') AS pending,
         count(*) FILTER (WHERE n.status = 'failed') AS retrying,
         count(*) FILTER (WHERE n.status = 'sent' AND n.created_at > p.as_of - interval '24 hours') AS sent24,
         count(*) FILTER (WHERE n.status = 'dead' AND n.created_at > p.as_of - interval '24 hours') AS dead24,
         count(*) FILTER (WHERE n.status = 'failed' AND n.created_at > p.as_of - interval '24 hours') AS failed24
    FROM public.notifications n, p
   WHERE n.status IN ('pending', 'failed') OR n.created_at > p.as_of - interval '24 hours'
)
SELECT jsonb_build_object(
  'generatedAt', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
  'asOf', to_char(p.as_of AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
  'summary', jsonb_build_object(
    'totalJobs', (SELECT count(*) FROM s),
    'healthy', (SELECT count(*) FROM s WHERE s.health_label = 'Healthy'),
    'degraded', (SELECT count(*) FROM s WHERE s.health_label = 'Degraded'),
    'unhealthy', (SELECT count(*) FROM s WHERE s.health_label = 'Unhealthy'),
    'noRuns', (SELECT count(*) FROM s WHERE s.health_label = 'No runs'),
    'runs24h', runs.total,
    'failedRuns24h', runs.failed,
    'successRate24h', CASE WHEN runs.total > 0 THEN round(100.0 * runs.ok / runs.total, 2) END,
    'alertsFiring', (SELECT jsonb_build_object(
                       'critical', count(*) FILTER (WHERE a.severity = 'CRITICAL'),
                       'warning', count(*) FILTER (WHERE a.severity = 'WARNING'),
                       'info', count(*) FILTER (WHERE a.severity = 'INFO'))
                       FROM bgjobs.alert_state a WHERE a.state = 'firing'),
    'notifications', jsonb_build_object(
      'pending', notif.pending, 'retrying', notif.retrying, 'sent24h', notif.sent24, 'dead24h', notif.dead24,
      'deliveryRate24h', CASE WHEN notif.sent24 + notif.dead24 + notif.failed24 > 0
                              THEN round(100.0 * notif.sent24 / (notif.sent24 + notif.dead24 + notif.failed24), 2) END),
    'heartbeats', (SELECT to_jsonb(h) FROM public.healthcheck_summary h)),
  'jobs', coalesce(jobs.list, '[]'::jsonb))
FROM p, jobs, runs, notif
$$;

CREATE FUNCTION public.job_metrics_prometheus(as_of timestamp with time zone DEFAULT now()) RETURNS text
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
  v_as_of timestamptz := coalesce(job_metrics_prometheus.as_of, now());
  v_out   text;
BEGIN
  WITH st AS (SELECT * FROM bgjobs.job_stats(v_as_of)),
  lbl AS (  -- label value escaping: backslash, double quote, newline
    SELECT st.*, replace(replace(replace(st.job_name, E'\\', E'\\\\'), '"', E'\\"'), E'\n', E'\\n') AS j FROM st
  ),
  metric(ord, name, kind, help, lines) AS (
    SELECT 1, 'bgjobs_job_last_run_timestamp_seconds', 'gauge', 'Start of the last run (its as_of), Unix time.',
           string_agg(format('bgjobs_job_last_run_timestamp_seconds{job="%s"} %s', j,
                             extract(epoch FROM last_run_at)::numeric), E'\n' ORDER BY j)
      FROM lbl WHERE last_run_at IS NOT NULL
    UNION ALL
    SELECT 2, 'bgjobs_job_last_success_timestamp_seconds', 'gauge', 'Start of the last successful run, Unix time.',
           string_agg(format('bgjobs_job_last_success_timestamp_seconds{job="%s"} %s', l.j, extract(epoch FROM x.t)::numeric),
                      E'\n' ORDER BY l.j)
      FROM lbl l
     CROSS JOIN LATERAL (SELECT max(coalesce(g.as_of, g.started_at)) AS t FROM public.jobs_log g
                          WHERE g.job_name = l.job_name AND g.status = 'success'
                            AND coalesce(g.as_of, g.started_at) <= v_as_of) x
     WHERE x.t IS NOT NULL
    UNION ALL
    SELECT 3, 'bgjobs_job_last_duration_seconds', 'gauge', 'Duration of the last finished run.',
           string_agg(format('bgjobs_job_last_duration_seconds{job="%s"} %s', j, last_duration_seconds), E'\n' ORDER BY j)
      FROM lbl WHERE last_duration_seconds IS NOT NULL
    UNION ALL
    SELECT 4, 'bgjobs_job_last_status', 'gauge', 'Status of the last run (1 for the current status).',
           string_agg(format('bgjobs_job_last_status{job="%s",status="%s"} 1', j, last_status), E'\n' ORDER BY j)
      FROM lbl WHERE last_status IS NOT NULL
    UNION ALL
    SELECT 5, 'bgjobs_job_running', 'gauge', 'Whether a run of the job is in progress.',
           string_agg(format('bgjobs_job_running{job="%s"} %s', j,
                             CASE WHEN bgjobs.lock_held(job_name) IS NULL THEN 0 ELSE 1 END), E'\n' ORDER BY j)
      FROM lbl
    UNION ALL
    SELECT 6, 'bgjobs_job_success_rate', 'gauge', 'Successful / finished runs in the window (0-1).',
           string_agg(format('bgjobs_job_success_rate{job="%s",window="%s"} %s', j, w.win, w.rate / 100), E'\n'
                      ORDER BY j, w.win)
      FROM lbl CROSS JOIN LATERAL (VALUES ('24h', success_rate_24h), ('7d', success_rate_7d), ('30d', success_rate_30d)) w(win, rate)
     WHERE w.rate IS NOT NULL
    UNION ALL
    SELECT 7, 'bgjobs_job_runs', 'gauge', 'Finished runs in the window by status.',
           string_agg(format('bgjobs_job_runs{job="%s",window="%s",status="%s"} %s', j, w.win, w.status, w.n), E'\n'
                      ORDER BY j, w.win, w.status)
      FROM lbl CROSS JOIN LATERAL (VALUES ('24h', 'success', successes_24h), ('24h', 'failed', failures_24h),
                                          ('7d', 'success', successes_7d), ('7d', 'failed', failures_7d),
                                          ('30d', 'success', successes_30d), ('30d', 'failed', failures_30d)) w(win, status, n)
    UNION ALL
    -- a percentile label, not "quantile": that label belongs to summaries (promtool check metrics)
    SELECT 8, 'bgjobs_job_duration_seconds', 'gauge', 'Duration percentiles (50, 95) of the last 100 successful runs.',
           string_agg(format('bgjobs_job_duration_seconds{job="%s",percentile="%s"} %s', j, q.q, q.v), E'\n' ORDER BY j, q.q)
      FROM lbl CROSS JOIN LATERAL (VALUES ('50', p50_duration_seconds), ('95', p95_duration_seconds)) q(q, v)
     WHERE q.v IS NOT NULL
    UNION ALL
    SELECT 9, 'bgjobs_job_health_score', 'gauge', 'Successful / finished runs over 7 days x 100.',
           string_agg(format('bgjobs_job_health_score{job="%s",label="%s"} %s', j, health_label, health_score), E'\n' ORDER BY j)
      FROM lbl WHERE health_score IS NOT NULL
    UNION ALL
    SELECT 10, 'bgjobs_job_records_updated_24h', 'gauge', 'Records updated by successful runs in 24 hours.',
           string_agg(format('bgjobs_job_records_updated_24h{job="%s"} %s', j, records_updated_24h), E'\n' ORDER BY j)
      FROM lbl
    UNION ALL
    SELECT 11, 'bgjobs_alert_firing', 'gauge', 'Firing alerts by subject, rule and severity.',
           string_agg(format('bgjobs_alert_firing{subject="%s",rule="%s",severity="%s",silenced="%s"} 1',
                             replace(replace(replace(a.subject, E'\\', E'\\\\'), '"', E'\\"'), E'\n', E'\\n'),
                             a.rule, a.severity, a.silenced), E'\n' ORDER BY a.subject, a.rule)
      FROM bgjobs.alert_state a WHERE a.state = 'firing'
    UNION ALL
    SELECT 12, 'bgjobs_heartbeat_age_seconds', 'gauge', 'Seconds since the job''s last heartbeat (job_heartbeats).',
           string_agg(format('bgjobs_heartbeat_age_seconds{job="%s"} %s',
                             replace(replace(replace(h.job_name, E'\\', E'\\\\'), '"', E'\\"'), E'\n', E'\\n'),
                             round(extract(epoch FROM v_as_of - h.last_run_at)::numeric, 3)), E'\n' ORDER BY h.job_name)
      FROM public.job_heartbeats h
    UNION ALL
    SELECT 13, 'bgjobs_notifications', 'gauge', 'Outbox rows by status and channel.',
           string_agg(format('bgjobs_notifications{status="%s",channel="%s"} %s', n.status, n.channel, n.cnt), E'\n'
                      ORDER BY n.status, n.channel)
      FROM (SELECT status, channel, count(*) AS cnt FROM public.notifications GROUP BY 1, 2) n
  )
  SELECT string_agg(format(E'# HELP %s %s\n# TYPE %s %s\n%s', m.name, m.help, m.name, m.kind,
                           coalesce(m.lines || E'\n', '')), '' ORDER BY m.ord)
    INTO v_out
    FROM metric m;
  RETURN v_out;
END;
$$;

CREATE FUNCTION public.run_job(job_name text, as_of timestamp with time zone DEFAULT now()) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
  v_job   text := run_job.job_name;
  v_as_of timestamptz := coalesce(run_job.as_of, now());
  v_begun record;
  v_run   uuid;
BEGIN
  -- an expression, not a FROM item: no table-function scan and tuplestore per call
  v_begun := bgjobs.begin_run(v_job, v_as_of, 'manual', false);
  v_run := v_begun.run_id;

  INSERT INTO public.audit_log (action_type, entity_type, entity_id, details)
  VALUES ('manual_job_trigger', 'background_job', v_run,
          jsonb_build_object('job_name', v_job, 'timestamp', now(), 'as_of', v_as_of,
                             'triggered_by', session_user, 'run_id', v_run));

  IF v_begun.skipped THEN
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

CREATE FUNCTION public.silence_job(job_name text, until timestamp with time zone, reason text) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
  v_job text := nullif(nullif(btrim(silence_job.job_name), ''), '*');
  v_id  bigint;
BEGIN
  IF silence_job.until IS NULL OR silence_job.until <= now() THEN
    RAISE EXCEPTION 'silence_job: until (%) must be in the future', silence_job.until
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF coalesce(btrim(silence_job.reason), '') = '' THEN
    RAISE EXCEPTION 'silence_job: a reason is required' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF v_job IS NOT NULL AND v_job <> 'system'
     AND NOT EXISTS (SELECT 1 FROM bgjobs.job_registry r WHERE r.job_name = v_job)
     AND NOT EXISTS (SELECT 1 FROM bgjobs.alert_state a WHERE a.subject = v_job)
     AND NOT EXISTS (SELECT 1 FROM public.job_heartbeats h WHERE h.job_name = v_job) THEN
    RAISE EXCEPTION 'silence_job: unknown job "%"', v_job
      USING ERRCODE = 'undefined_object',
            HINT = 'use a registered job name, ''system'', or NULL for everything';
  END IF;
  INSERT INTO bgjobs.silences (job_name, starts_at, until, reason, created_by)
  VALUES (v_job, now(), silence_job.until, btrim(silence_job.reason), session_user)
  RETURNING id INTO v_id;
  RETURN v_id;
END;
$$;

CREATE FUNCTION public.unsilence_job(job_name text) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
  v_job text := nullif(nullif(btrim(unsilence_job.job_name), ''), '*');
  v_n   integer;
BEGIN
  UPDATE bgjobs.silences s
     SET until = greatest(now(), s.starts_at + interval '1 microsecond')
   WHERE s.job_name IS NOT DISTINCT FROM v_job
     AND s.until > now();
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_n;
END;
$$;

CREATE FUNCTION public.update_job_heartbeat(p_job_name text, p_status text DEFAULT 'healthy'::text, p_metadata jsonb DEFAULT '{}'::jsonb) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
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
    CONSTRAINT alert_state_rule_check CHECK ((rule = ANY (ARRAY['missed_run'::text, 'stale_heartbeat'::text, 'consecutive_failures'::text, 'slow_run'::text, 'no_jobs_24h'::text, 'low_success_rate'::text, 'delivery_rate'::text, 'rule_storm'::text, 'analytics_anomaly'::text, 'scheduler_down'::text, 'stuck_run'::text, 'short_run'::text]))),
    CONSTRAINT alert_state_severity_check CHECK ((severity = ANY (ARRAY['INFO'::text, 'WARNING'::text, 'CRITICAL'::text]))),
    CONSTRAINT alert_state_state_check CHECK ((state = ANY (ARRAY['ok'::text, 'firing'::text])))
);

CREATE TABLE bgjobs.app_tables (
    table_name text NOT NULL,
    origin text NOT NULL,
    recorded_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT app_tables_origin_check CHECK ((origin = ANY (ARRAY['created'::text, 'adopted'::text])))
);

CREATE TABLE bgjobs.archive_runs (
    id bigint NOT NULL,
    table_name text NOT NULL,
    file text NOT NULL,
    compressed boolean NOT NULL,
    cutoff timestamp with time zone NOT NULL,
    started_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    finished_at timestamp with time zone,
    batches integer DEFAULT 0 NOT NULL,
    rows_archived bigint DEFAULT 0 NOT NULL,
    bytes_committed bigint DEFAULT 0 NOT NULL,
    last_key text[],
    archived_by text DEFAULT SESSION_USER NOT NULL
);

ALTER TABLE bgjobs.archive_runs ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME bgjobs.archive_runs_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE bgjobs.cron_watch_optouts (
    id bigint NOT NULL,
    jobid bigint,
    jobname text,
    database text,
    created_by text DEFAULT SESSION_USER NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT cron_watch_optouts_what_ck CHECK (((jobid IS NULL) <> (jobname IS NULL)))
);

ALTER TABLE bgjobs.cron_watch_optouts ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME bgjobs.cron_watch_optouts_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE bgjobs.cron_watch_seen (
    jobid bigint NOT NULL,
    first_seen_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE bgjobs.installed_routines (
    identity text NOT NULL,
    installed_at timestamp with time zone DEFAULT now() NOT NULL
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
    body_args smallint DEFAULT 2 NOT NULL,
    body_returns text DEFAULT 'jsonb'::text NOT NULL,
    tick text,
    slots_from timestamp with time zone DEFAULT now() NOT NULL,
    paused_from timestamp with time zone,
    paused_until timestamp with time zone,
    pause_reason text,
    registered_by text DEFAULT SESSION_USER NOT NULL,
    CONSTRAINT job_registry_body_args_check CHECK ((body_args = ANY (ARRAY[0, 1, 2]))),
    CONSTRAINT job_registry_body_returns_check CHECK ((body_returns = ANY (ARRAY['jsonb'::text, 'integer'::text, 'void'::text]))),
    CONSTRAINT job_registry_local_time_ck CHECK (((NOT tenant_local) OR (local_time IS NOT NULL))),
    CONSTRAINT job_registry_pause_ck CHECK (((paused_until IS NULL) OR (paused_from IS NOT NULL))),
    CONSTRAINT job_registry_timeout_ck CHECK ((timeout > '00:00:00'::interval))
);

CREATE TABLE bgjobs.job_slots (
    job_name text NOT NULL,
    slot timestamp with time zone NOT NULL,
    run_id uuid,
    handled_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE bgjobs.maintenance_windows (
    id bigint NOT NULL,
    job_name text,
    starts_at timestamp with time zone,
    ends_at timestamp with time zone,
    recurrence text,
    duration interval,
    timezone text DEFAULT 'UTC'::text NOT NULL,
    reason text NOT NULL,
    created_by text DEFAULT SESSION_USER NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT maintenance_windows_kind_ck CHECK ((((starts_at IS NOT NULL) AND (ends_at IS NOT NULL) AND (ends_at > starts_at) AND (recurrence IS NULL) AND (duration IS NULL)) OR ((starts_at IS NULL) AND (ends_at IS NULL) AND (recurrence IS NOT NULL) AND (duration > '00:00:00'::interval) AND (duration <= '7 days'::interval)))),
    CONSTRAINT maintenance_windows_reason_check CHECK ((btrim(reason) <> ''::text))
);

ALTER TABLE bgjobs.maintenance_windows ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME bgjobs.maintenance_windows_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE bgjobs.plpython_modules (
    name text NOT NULL,
    source text NOT NULL,
    sha256 text NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE bgjobs.schedule_cache (
    schedule text NOT NULL,
    timezone text NOT NULL,
    prev_fire timestamp with time zone,
    next_fire timestamp with time zone,
    error text,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE bgjobs.secrets (
    name text NOT NULL,
    value text NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT secrets_name_check CHECK ((name ~ '^[A-Z][A-Z0-9_]*$'::text))
);

CREATE TABLE bgjobs.setting_spec (
    key text NOT NULL,
    type text NOT NULL,
    default_value text NOT NULL,
    min_value numeric,
    max_value numeric,
    choices text[],
    optional boolean DEFAULT false NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    CONSTRAINT setting_spec_type_check CHECK ((type = ANY (ARRAY['integer'::text, 'number'::text, 'boolean'::text, 'choice'::text, 'email'::text, 'email_list'::text, 'url'::text, 'host'::text, 'port'::text, 'text'::text])))
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

CREATE TABLE bgjobs.unregistered_jobs (
    job_name text NOT NULL,
    unregistered_at timestamp with time zone DEFAULT now() NOT NULL,
    by_role text DEFAULT SESSION_USER NOT NULL
);

CREATE TABLE bgjobs.watch_runs (
    id bigint NOT NULL,
    job_name text NOT NULL,
    started_at timestamp with time zone,
    finished_at timestamp with time zone,
    status text NOT NULL,
    reported text,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    CONSTRAINT watch_runs_status_check CHECK ((status = ANY (ARRAY['running'::text, 'success'::text, 'failed'::text, 'abandoned'::text]))),
    CONSTRAINT watch_runs_times_ck CHECK (((started_at IS NOT NULL) OR (finished_at IS NOT NULL)))
);

ALTER TABLE bgjobs.watch_runs ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME bgjobs.watch_runs_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE bgjobs.watched_jobs (
    job_name text NOT NULL,
    schedule text NOT NULL,
    timezone text DEFAULT 'UTC'::text NOT NULL,
    grace interval NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    registered_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    registered_by text DEFAULT SESSION_USER NOT NULL,
    CONSTRAINT watched_jobs_grace_ck CHECK ((grace >= '00:00:00'::interval))
);

CREATE TABLE bgjobs_app.automation_events (
    log_id uuid NOT NULL,
    tenant_id uuid NOT NULL,
    rule_id uuid,
    event_key text,
    entity_type text,
    entity_id uuid,
    event_data jsonb,
    fired_at timestamp with time zone NOT NULL
);

CREATE TABLE bgjobs_app.sla_tick_state (
    id boolean DEFAULT true NOT NULL,
    as_of timestamp with time zone,
    max_as_of timestamp with time zone,
    tenants uuid[],
    sla_hours numeric[],
    full_as_of timestamp with time zone,
    last_pass text,
    last_reason text,
    candidates integer,
    CONSTRAINT sla_tick_state_id_check CHECK (id),
    CONSTRAINT sla_tick_state_last_pass_check CHECK ((last_pass = ANY (ARRAY['full'::text, 'incremental'::text])))
);

CREATE TABLE bgjobs_app.task_changes (
    tenant_id uuid NOT NULL,
    task_id uuid NOT NULL,
    changed_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE bgjobs_app.task_flags (
    tenant_id uuid NOT NULL,
    task_id uuid NOT NULL,
    overdue_since timestamp with time zone,
    sla_violated_at timestamp with time zone
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

CREATE VIEW public.job_alerts AS
 SELECT a.subject,
    a.display_name,
    a.rule,
    a.state,
    a.severity,
    a.since,
    a.last_evaluated_at,
    a.last_notified_at,
    a.count AS notifications_sent,
    a.suppressed,
    a.silenced,
    sil.until AS silenced_until,
    sil.reason AS silence_reason,
    a.summary,
    a.details,
    a.resolved_at,
    a.episodes
   FROM (bgjobs.alert_state a
     LEFT JOIN LATERAL ( SELECT s.until,
            s.reason
           FROM bgjobs.silences s
          WHERE (((s.job_name IS NULL) OR (s.job_name = a.subject)) AND (s.starts_at <= now()) AND (s.until > now()))
          ORDER BY s.until DESC
         LIMIT 1) sil ON (true))
  ORDER BY (a.state = 'firing'::text) DESC, (array_position(ARRAY['CRITICAL'::text, 'WARNING'::text, 'INFO'::text], a.severity)), a.subject, a.rule;

CREATE VIEW public.job_silences AS
 SELECT s.id,
    COALESCE(s.job_name, '*'::text) AS job_name,
    s.starts_at,
    s.until,
    s.reason,
    s.created_by,
    s.created_at,
    ((s.starts_at <= now()) AND (s.until > now())) AS active
   FROM bgjobs.silences s
  ORDER BY ((s.starts_at <= now()) AND (s.until > now())) DESC, s.until DESC;

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
            WHEN (NOT (EXISTS ( SELECT 1
               FROM pg_namespace n
              WHERE (n.nspname = 'cron'::name)))) THEN NULL::boolean
            ELSE (COALESCE(c.active, false) AND r.enabled)
        END AS active,
        CASE
            WHEN (h.pid IS NOT NULL) THEN 'Running'::text
            WHEN ((sch.state = 'down'::text) AND r.enabled) THEN 'Scheduler down'::text
            WHEN bgjobs.job_paused(r.paused_from, r.paused_until, now()) THEN 'Paused'::text
            WHEN (( SELECT (EXISTS ( SELECT 1
                       FROM bgjobs.maintenance_windows)) AS "exists") AND (bgjobs.maintenance_until(r.job_name, now()) IS NOT NULL)) THEN 'Maintenance'::text
            WHEN (last.status IS NULL) THEN 'Pending'::text
            WHEN (last.status = 'running'::text) THEN 'Abandoned'::text
            ELSE initcap(last.status)
        END AS state,
    h.pid AS running_pid,
    last.eff AS last_run_at,
    last.status AS last_status,
    (last.completed_at - last.started_at) AS last_duration,
    last.records_updated AS last_records_updated,
    last.error_message AS last_error,
    st.runs_7d,
    st.successes_7d,
    st.health_score,
    st.health_label,
        CASE
            WHEN (sch.state = 'down'::text) THEN NULL::timestamp with time zone
            ELSE st.next_expected_run
        END AS next_expected_run,
    st.success_rate_24h,
    st.p95_duration_seconds,
    al.alert_severity,
    COALESCE(al.alerts, '{}'::text[]) AS alerts,
    sil.until AS silenced_until,
        CASE
            WHEN (sch.state <> 'ok'::text) THEN sch.detail
            ELSE NULL::text
        END AS scheduler_problem,
    r.timezone,
    bgjobs.job_paused(r.paused_from, r.paused_until, now()) AS paused,
        CASE
            WHEN bgjobs.job_paused(r.paused_from, r.paused_until, now()) THEN r.paused_until
            ELSE NULL::timestamp with time zone
        END AS paused_until,
        CASE
            WHEN bgjobs.job_paused(r.paused_from, r.paused_until, now()) THEN r.pause_reason
            ELSE NULL::text
        END AS pause_reason
   FROM (((((((bgjobs.job_registry r
     CROSS JOIN bgjobs.scheduler_state() sch(state, detail))
     LEFT JOIN bgjobs.cron_jobs() c(jobid, jobname, schedule, command, database, username, active) ON (((c.jobname = COALESCE(r.cron_jobname, r.job_name)) AND (c.database = current_database()))))
     CROSS JOIN LATERAL ( SELECT bgjobs.lock_held(r.job_name) AS pid) h)
     LEFT JOIN LATERAL ( SELECT COALESCE(j.as_of, j.started_at) AS eff,
            j.started_at,
            j.completed_at,
            j.status,
            j.records_updated,
            j.error_message
           FROM public.jobs_log j
          WHERE ((j.job_name = r.job_name) AND (j.status <> 'skipped'::text))
          ORDER BY COALESCE(j.as_of, j.started_at) DESC
         LIMIT 1) last ON (true))
     LEFT JOIN bgjobs.job_stats(now()) st(job_name, last_run_at, last_status, last_duration_seconds, last_records_updated, last_error, health_status, runs_24h, successes_24h, failures_24h, success_rate_24h, runs_7d, successes_7d, failures_7d, success_rate_7d, runs_30d, successes_30d, failures_30d, success_rate_30d, records_updated_24h, p50_duration_seconds, p95_duration_seconds, avg_duration_seconds, max_duration_seconds, health_score, health_label, next_expected_run) ON ((st.job_name = r.job_name)))
     LEFT JOIN LATERAL ( SELECT (array_agg(a.severity ORDER BY (array_position(ARRAY['CRITICAL'::text, 'WARNING'::text, 'INFO'::text], a.severity))))[1] AS alert_severity,
            array_agg(a.rule ORDER BY a.rule) AS alerts
           FROM bgjobs.alert_state a
          WHERE ((a.subject = r.job_name) AND (a.state = 'firing'::text))) al ON (true))
     LEFT JOIN LATERAL ( SELECT max(s.until) AS until
           FROM bgjobs.silences s
          WHERE (((s.job_name IS NULL) OR (s.job_name = r.job_name)) AND (s.starts_at <= now()) AND (s.until > now()))) sil ON (true))
UNION ALL
 SELECT w.job_name,
    w.pg_cron_job,
    w.schedule,
    NULL::time without time zone AS local_time,
    true AS enabled,
    w.active,
        CASE
            WHEN (w.running_since IS NOT NULL) THEN 'Running'::text
            WHEN ((w.kind = 'pg_cron'::text) AND (wsch.state = 'down'::text) AND w.active) THEN 'Scheduler down'::text
            WHEN (w.last_status IS NULL) THEN 'Pending'::text
            ELSE initcap(w.last_status)
        END AS state,
    NULL::integer AS running_pid,
    w.last_run_at,
    w.last_status,
    w.last_duration,
    w.last_records_updated,
    w.last_error,
    w.runs_7d,
    w.successes_7d,
    w.health_score,
    w.health_label,
        CASE
            WHEN ((w.kind = 'pg_cron'::text) AND (wsch.state = 'down'::text)) THEN NULL::timestamp with time zone
            ELSE w.next_expected_run
        END AS next_expected_run,
    w.success_rate_24h,
    w.p95_duration_seconds,
    wal.alert_severity,
    COALESCE(wal.alerts, '{}'::text[]) AS alerts,
    wsil.until AS silenced_until,
        CASE
            WHEN ((w.kind = 'pg_cron'::text) AND (wsch.state <> 'ok'::text)) THEN wsch.detail
            ELSE NULL::text
        END AS scheduler_problem,
    w.timezone,
    false AS paused,
    NULL::timestamp with time zone AS paused_until,
    NULL::text AS pause_reason
   FROM (((bgjobs.watch_stats(now()) w(job_name, last_run_at, last_status, last_duration_seconds, last_records_updated, last_error, health_status, runs_24h, successes_24h, failures_24h, success_rate_24h, runs_7d, successes_7d, failures_7d, success_rate_7d, runs_30d, successes_30d, failures_30d, success_rate_30d, records_updated_24h, p50_duration_seconds, p95_duration_seconds, avg_duration_seconds, max_duration_seconds, health_score, health_label, next_expected_run, kind, pg_cron_job, schedule, timezone, active, running_since, last_duration)
     CROSS JOIN bgjobs.scheduler_state() wsch(state, detail))
     LEFT JOIN LATERAL ( SELECT (array_agg(a.severity ORDER BY (array_position(ARRAY['CRITICAL'::text, 'WARNING'::text, 'INFO'::text], a.severity))))[1] AS alert_severity,
            array_agg(a.rule ORDER BY a.rule) AS alerts
           FROM bgjobs.alert_state a
          WHERE ((a.subject = w.job_name) AND (a.state = 'firing'::text))) wal ON (true))
     LEFT JOIN LATERAL ( SELECT max(s.until) AS until
           FROM bgjobs.silences s
          WHERE (((s.job_name IS NULL) OR (s.job_name = w.job_name)) AND (s.starts_at <= now()) AND (s.until > now()))) wsil ON (true));

CREATE VIEW public.job_success_rates AS
 SELECT s.job_name,
    s.runs_24h,
    s.successes_24h,
    s.failures_24h,
    s.success_rate_24h,
    s.runs_7d,
    s.successes_7d,
    s.failures_7d,
    s.success_rate_7d,
    s.runs_30d,
    s.successes_30d,
    s.failures_30d,
    s.success_rate_30d,
    s.p50_duration_seconds,
    s.p95_duration_seconds,
    s.avg_duration_seconds,
    s.max_duration_seconds,
    s.records_updated_24h,
    s.health_score,
    s.health_label,
    s.health_status,
    s.last_run_at,
    s.last_status
   FROM bgjobs.job_stats(now()) s(job_name, last_run_at, last_status, last_duration_seconds, last_records_updated, last_error, health_status, runs_24h, successes_24h, failures_24h, success_rate_24h, runs_7d, successes_7d, failures_7d, success_rate_7d, runs_30d, successes_30d, failures_30d, success_rate_30d, records_updated_24h, p50_duration_seconds, p95_duration_seconds, avg_duration_seconds, max_duration_seconds, health_score, health_label, next_expected_run);

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
)
WITH (autovacuum_vacuum_scale_factor='0.02', autovacuum_analyze_scale_factor='0.02');

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

ALTER TABLE ONLY bgjobs.app_tables
    ADD CONSTRAINT app_tables_pkey PRIMARY KEY (table_name);

ALTER TABLE ONLY bgjobs.archive_runs
    ADD CONSTRAINT archive_runs_pkey PRIMARY KEY (id);

ALTER TABLE ONLY bgjobs.cron_watch_optouts
    ADD CONSTRAINT cron_watch_optouts_pkey PRIMARY KEY (id);

ALTER TABLE ONLY bgjobs.cron_watch_seen
    ADD CONSTRAINT cron_watch_seen_pkey PRIMARY KEY (jobid);

ALTER TABLE ONLY bgjobs.installed_routines
    ADD CONSTRAINT installed_routines_pkey PRIMARY KEY (identity);

ALTER TABLE bgjobs.job_registry
    ADD CONSTRAINT job_registry_name_ck CHECK ((job_name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$'::text)) NOT VALID;

ALTER TABLE ONLY bgjobs.job_registry
    ADD CONSTRAINT job_registry_pkey PRIMARY KEY (job_name);

ALTER TABLE ONLY bgjobs.job_slots
    ADD CONSTRAINT job_slots_pkey PRIMARY KEY (job_name, slot);

ALTER TABLE ONLY bgjobs.maintenance_windows
    ADD CONSTRAINT maintenance_windows_pkey PRIMARY KEY (id);

ALTER TABLE ONLY bgjobs.plpython_modules
    ADD CONSTRAINT plpython_modules_pkey PRIMARY KEY (name);

ALTER TABLE ONLY bgjobs.schedule_cache
    ADD CONSTRAINT schedule_cache_pkey PRIMARY KEY (schedule, timezone);

ALTER TABLE ONLY bgjobs.secrets
    ADD CONSTRAINT secrets_pkey PRIMARY KEY (name);

ALTER TABLE ONLY bgjobs.setting_spec
    ADD CONSTRAINT setting_spec_pkey PRIMARY KEY (key);

ALTER TABLE ONLY bgjobs.silences
    ADD CONSTRAINT silences_pkey PRIMARY KEY (id);

ALTER TABLE ONLY bgjobs.tenant_job_runs
    ADD CONSTRAINT tenant_job_runs_pkey PRIMARY KEY (tenant_id, job_name, local_date);

ALTER TABLE ONLY bgjobs.unregistered_jobs
    ADD CONSTRAINT unregistered_jobs_pkey PRIMARY KEY (job_name);

ALTER TABLE ONLY bgjobs.watch_runs
    ADD CONSTRAINT watch_runs_pkey PRIMARY KEY (id);

ALTER TABLE ONLY bgjobs.watched_jobs
    ADD CONSTRAINT watched_jobs_pkey PRIMARY KEY (job_name);

ALTER TABLE ONLY bgjobs_app.automation_events
    ADD CONSTRAINT automation_events_pkey PRIMARY KEY (log_id);

ALTER TABLE ONLY bgjobs_app.sla_tick_state
    ADD CONSTRAINT sla_tick_state_pkey PRIMARY KEY (id);

ALTER TABLE ONLY bgjobs_app.task_changes
    ADD CONSTRAINT task_changes_pkey PRIMARY KEY (tenant_id, task_id);

ALTER TABLE ONLY bgjobs_app.task_flags
    ADD CONSTRAINT task_flags_pkey PRIMARY KEY (tenant_id, task_id);

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

CREATE INDEX archive_runs_open_idx ON bgjobs.archive_runs USING btree (table_name) WHERE (finished_at IS NULL);

CREATE UNIQUE INDEX cron_watch_optouts_key ON bgjobs.cron_watch_optouts USING btree (COALESCE(jobid, ('-1'::integer)::bigint), COALESCE(jobname, ''::text), COALESCE(database, ''::text));

CREATE INDEX silences_until_idx ON bgjobs.silences USING btree (until);

CREATE INDEX watch_runs_job_idx ON bgjobs.watch_runs USING btree (job_name, COALESCE(started_at, finished_at) DESC);

CREATE INDEX watch_runs_open_idx ON bgjobs.watch_runs USING btree (job_name) WHERE (status = 'running'::text);

CREATE INDEX automation_events_fired_idx ON bgjobs_app.automation_events USING btree (fired_at);

CREATE UNIQUE INDEX automation_events_key_idx ON bgjobs_app.automation_events USING btree (tenant_id, rule_id, event_key);

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

CREATE INDEX jobs_log_effective_idx ON public.jobs_log USING btree (COALESCE(as_of, started_at));

CREATE INDEX jobs_log_job_effective_idx ON public.jobs_log USING btree (job_name, COALESCE(as_of, started_at) DESC) WHERE (status <> 'skipped'::text);

CREATE INDEX jobs_log_job_started_idx ON public.jobs_log USING btree (job_name, started_at DESC);

CREATE INDEX jobs_log_running_idx ON public.jobs_log USING btree (job_name) WHERE (status = 'running'::text);

CREATE INDEX jobs_log_started_idx ON public.jobs_log USING btree (started_at);

CREATE INDEX notifications_created_idx ON public.notifications USING btree (created_at);

CREATE INDEX notifications_due_idx ON public.notifications USING btree (next_attempt_at) WHERE (status = ANY (ARRAY['pending'::text, 'failed'::text]));

CREATE INDEX payment_plans_id_idx ON public.payment_plans USING btree (id);

CREATE INDEX tasks_open_due_date_idx ON public.tasks USING btree (due_date) WHERE (status = ANY (ARRAY['Open'::text, 'In Progress'::text]));

CREATE INDEX tasks_open_due_idx ON public.tasks USING btree (tenant_id, due_date) WHERE (status = ANY (ARRAY['Open'::text, 'In Progress'::text]));

CREATE INDEX users_id_idx ON public.users USING btree (id);

CREATE TRIGGER app_settings_check BEFORE INSERT OR UPDATE OF key, value ON public.app_settings FOR EACH ROW EXECUTE FUNCTION bgjobs.app_settings_check();

CREATE TRIGGER installments_set_tenant BEFORE INSERT ON public.installments FOR EACH ROW EXECUTE FUNCTION bgjobs_app.installments_set_tenant();

CREATE TRIGGER job_heartbeats_watch_checkin AFTER INSERT OR UPDATE OF last_run_at ON public.job_heartbeats FOR EACH ROW EXECUTE FUNCTION bgjobs.watch_checkin();

CREATE TRIGGER jobs_log_failed_insert AFTER INSERT ON public.jobs_log FOR EACH ROW WHEN ((new.status = 'failed'::text)) EXECUTE FUNCTION bgjobs.jobs_log_on_failure();

CREATE TRIGGER jobs_log_failed_update AFTER UPDATE OF status ON public.jobs_log FOR EACH ROW WHEN (((new.status = 'failed'::text) AND (old.status IS DISTINCT FROM 'failed'::text))) EXECUTE FUNCTION bgjobs.jobs_log_on_failure();

CREATE TRIGGER jobs_log_success_insert AFTER INSERT ON public.jobs_log FOR EACH ROW WHEN ((new.status = 'success'::text)) EXECUTE FUNCTION bgjobs.jobs_log_on_success();

CREATE TRIGGER jobs_log_success_update AFTER UPDATE OF status ON public.jobs_log FOR EACH ROW WHEN (((new.status = 'success'::text) AND (old.status IS DISTINCT FROM 'success'::text))) EXECUTE FUNCTION bgjobs.jobs_log_on_success();

CREATE TRIGGER tasks_sla_feed_delete AFTER DELETE ON public.tasks REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION bgjobs_app.tasks_sla_feed();

ALTER TABLE public.tasks ENABLE ALWAYS TRIGGER tasks_sla_feed_delete;

CREATE TRIGGER tasks_sla_feed_insert AFTER INSERT ON public.tasks REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION bgjobs_app.tasks_sla_feed();

ALTER TABLE public.tasks ENABLE ALWAYS TRIGGER tasks_sla_feed_insert;

CREATE TRIGGER tasks_sla_feed_truncate AFTER TRUNCATE ON public.tasks FOR EACH STATEMENT EXECUTE FUNCTION bgjobs_app.tasks_sla_feed();

ALTER TABLE public.tasks ENABLE ALWAYS TRIGGER tasks_sla_feed_truncate;

CREATE TRIGGER tasks_sla_feed_update AFTER UPDATE ON public.tasks REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION bgjobs_app.tasks_sla_feed();

ALTER TABLE public.tasks ENABLE ALWAYS TRIGGER tasks_sla_feed_update;

CREATE TRIGGER tenants_check_timezone BEFORE INSERT OR UPDATE OF timezone ON public.tenants FOR EACH ROW EXECUTE FUNCTION bgjobs_app.tenants_check_timezone();

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
GRANT USAGE ON SCHEMA bgjobs TO bgjobs_runner;
GRANT USAGE ON SCHEMA bgjobs TO bgjobs_deliverer;

GRANT USAGE ON SCHEMA bgjobs_app TO bgjobs_admin;
GRANT USAGE ON SCHEMA bgjobs_app TO bgjobs_viewer;
GRANT USAGE ON SCHEMA bgjobs_app TO bgjobs_runner;

REVOKE ALL ON FUNCTION bgjobs.add_maintenance_window(job_name text, starts_at timestamp with time zone, ends_at timestamp with time zone, reason text) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.add_maintenance_window(job_name text, starts_at timestamp with time zone, ends_at timestamp with time zone, reason text) TO bgjobs_admin;

REVOKE ALL ON FUNCTION bgjobs.add_recurring_maintenance_window(job_name text, recurrence text, duration interval, reason text, timezone text) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.add_recurring_maintenance_window(job_name text, recurrence text, duration interval, reason text, timezone text) TO bgjobs_admin;

REVOKE ALL ON FUNCTION bgjobs.app_settings_check() FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.apply_alerts(p_as_of timestamp with time zone, p_rules text[], p_findings jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.apply_alerts(p_as_of timestamp with time zone, p_rules text[], p_findings jsonb) TO bgjobs_runner;

REVOKE ALL ON FUNCTION bgjobs.apply_alerts(p_as_of timestamp with time zone, p_rules text[], p_findings jsonb, p_subjects text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.apply_alerts(p_as_of timestamp with time zone, p_rules text[], p_findings jsonb, p_subjects text[]) TO bgjobs_runner;

REVOKE ALL ON FUNCTION bgjobs.apply_run_alert(p_job_name text, p_as_of timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.begin_run(p_job_name text, p_as_of timestamp with time zone, p_trigger text, p_session_lock boolean, OUT run_id uuid, OUT skipped boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.begin_run(p_job_name text, p_as_of timestamp with time zone, p_trigger text, p_session_lock boolean, OUT run_id uuid, OUT skipped boolean) TO bgjobs_runner;

REVOKE ALL ON FUNCTION bgjobs.check_maintenance_job(p_job_name text) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.check_setting(p_key text, p_value text) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.check_setting(p_key text, p_value text) TO bgjobs_admin;

REVOKE ALL ON FUNCTION bgjobs.claim_notifications(p_as_of timestamp with time zone, p_limit integer, p_deliverer text) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.claim_notifications(p_as_of timestamp with time zone, p_limit integer, p_deliverer text) TO bgjobs_deliverer;

REVOKE ALL ON FUNCTION bgjobs.cron_apply(p_job_name text) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.cron_check(p_schedule text, p_timezone text) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.cron_check(p_schedule text, p_timezone text) TO bgjobs_admin;

REVOKE ALL ON FUNCTION bgjobs.cron_daily(p_schedule text) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.cron_daily(p_schedule text) TO bgjobs_runner;
GRANT ALL ON FUNCTION bgjobs.cron_daily(p_schedule text) TO bgjobs_admin;
GRANT ALL ON FUNCTION bgjobs.cron_daily(p_schedule text) TO bgjobs_viewer;

REVOKE ALL ON FUNCTION bgjobs.cron_fire(p_schedule text, p_timezone text, p_at timestamp with time zone, p_forward boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.cron_fire(p_schedule text, p_timezone text, p_at timestamp with time zone, p_forward boolean) TO bgjobs_admin;
GRANT ALL ON FUNCTION bgjobs.cron_fire(p_schedule text, p_timezone text, p_at timestamp with time zone, p_forward boolean) TO bgjobs_viewer;
GRANT ALL ON FUNCTION bgjobs.cron_fire(p_schedule text, p_timezone text, p_at timestamp with time zone, p_forward boolean) TO bgjobs_runner;

REVOKE ALL ON FUNCTION bgjobs.cron_jobs() FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.cron_jobs() TO bgjobs_admin;
GRANT ALL ON FUNCTION bgjobs.cron_jobs() TO bgjobs_viewer;

REVOKE ALL ON FUNCTION bgjobs.cron_max_gap(p_schedule text, p_timezone text) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.cron_max_gap(p_schedule text, p_timezone text) TO bgjobs_admin;

REVOKE ALL ON FUNCTION bgjobs.cron_next(p_schedule text, p_timezone text, p_after timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.cron_next(p_schedule text, p_timezone text, p_after timestamp with time zone) TO bgjobs_runner;
GRANT ALL ON FUNCTION bgjobs.cron_next(p_schedule text, p_timezone text, p_after timestamp with time zone) TO bgjobs_admin;
GRANT ALL ON FUNCTION bgjobs.cron_next(p_schedule text, p_timezone text, p_after timestamp with time zone) TO bgjobs_viewer;

REVOKE ALL ON FUNCTION bgjobs.cron_parse(p_schedule text, OUT minutes bigint, OUT hours bigint, OUT doms bigint, OUT months bigint, OUT dows bigint, OUT wildcard boolean, OUT and_days boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.cron_parse(p_schedule text, OUT minutes bigint, OUT hours bigint, OUT doms bigint, OUT months bigint, OUT dows bigint, OUT wildcard boolean, OUT and_days boolean) TO bgjobs_admin;
GRANT ALL ON FUNCTION bgjobs.cron_parse(p_schedule text, OUT minutes bigint, OUT hours bigint, OUT doms bigint, OUT months bigint, OUT dows bigint, OUT wildcard boolean, OUT and_days boolean) TO bgjobs_viewer;
GRANT ALL ON FUNCTION bgjobs.cron_parse(p_schedule text, OUT minutes bigint, OUT hours bigint, OUT doms bigint, OUT months bigint, OUT dows bigint, OUT wildcard boolean, OUT and_days boolean) TO bgjobs_runner;

REVOKE ALL ON FUNCTION bgjobs.cron_prev(p_schedule text, p_timezone text, p_at timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.cron_prev(p_schedule text, p_timezone text, p_at timestamp with time zone) TO bgjobs_runner;
GRANT ALL ON FUNCTION bgjobs.cron_prev(p_schedule text, p_timezone text, p_at timestamp with time zone) TO bgjobs_admin;
GRANT ALL ON FUNCTION bgjobs.cron_prev(p_schedule text, p_timezone text, p_at timestamp with time zone) TO bgjobs_viewer;

REVOKE ALL ON FUNCTION bgjobs.cron_remove(p_cron_jobname text) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.cron_watch_jobs(p_as_of timestamp with time zone, p_runs integer) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.cron_watch_jobs(p_as_of timestamp with time zone, p_runs integer) TO bgjobs_runner;

REVOKE ALL ON FUNCTION bgjobs.delivery_config() FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.delivery_config() TO bgjobs_deliverer;

REVOKE ALL ON FUNCTION bgjobs.detect_job_issues(p_as_of timestamp with time zone, p_job text) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.detect_job_issues(p_as_of timestamp with time zone, p_job text) TO bgjobs_runner;

REVOKE ALL ON FUNCTION bgjobs.detect_stale_heartbeats(p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.detect_stale_heartbeats(p_as_of timestamp with time zone) TO bgjobs_runner;

REVOKE ALL ON FUNCTION bgjobs.detect_system_issues(p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.detect_system_issues(p_as_of timestamp with time zone) TO bgjobs_runner;

REVOKE ALL ON FUNCTION bgjobs.detect_watch_issues(p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.detect_watch_issues(p_as_of timestamp with time zone) TO bgjobs_runner;

REVOKE ALL ON FUNCTION bgjobs.due_tenant_runs(p_job_name text, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.due_tenant_runs(p_job_name text, p_as_of timestamp with time zone) TO bgjobs_runner;

REVOKE ALL ON FUNCTION bgjobs.due_tenants(p_job_name text, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.due_tenants(p_job_name text, p_as_of timestamp with time zone) TO bgjobs_runner;

REVOKE ALL ON FUNCTION bgjobs.due_work(p_job_name text, p_as_of timestamp with time zone, OUT due boolean, OUT tenants uuid[], OUT slot timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.due_work(p_job_name text, p_as_of timestamp with time zone, OUT due boolean, OUT tenants uuid[], OUT slot timestamp with time zone) TO bgjobs_runner;

REVOKE ALL ON FUNCTION bgjobs.enqueue_alert(p_template text, p_payload jsonb, p_dedupe_key text) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.enqueue_alert(p_template text, p_payload jsonb, p_dedupe_key text) TO bgjobs_runner;

REVOKE ALL ON FUNCTION bgjobs.execute_run(p_run_id uuid, p_job_name text, p_as_of timestamp with time zone, p_tenants uuid[], p_mark_tenants boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.execute_run(p_run_id uuid, p_job_name text, p_as_of timestamp with time zone, p_tenants uuid[], p_mark_tenants boolean) TO bgjobs_runner;

REVOKE ALL ON FUNCTION bgjobs.get_secret(p_name text) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.get_secret(p_name text) TO bgjobs_deliverer;

REVOKE ALL ON FUNCTION bgjobs.get_setting(p_key text, p_default text) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.get_setting(p_key text, p_default text) TO bgjobs_runner;
GRANT ALL ON FUNCTION bgjobs.get_setting(p_key text, p_default text) TO bgjobs_admin;

REVOKE ALL ON FUNCTION bgjobs.job_check_job_health(p_as_of timestamp with time zone, p_tenants uuid[]) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.job_check_job_health(p_as_of timestamp with time zone, p_tenants uuid[]) TO bgjobs_runner;

REVOKE ALL ON FUNCTION bgjobs.job_cron_healthcheck(p_as_of timestamp with time zone, p_tenants uuid[]) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.job_cron_healthcheck(p_as_of timestamp with time zone, p_tenants uuid[]) TO bgjobs_runner;

REVOKE ALL ON FUNCTION bgjobs.job_deliver_notifications(p_as_of timestamp with time zone, p_tenants uuid[]) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.job_deliver_notifications(p_as_of timestamp with time zone, p_tenants uuid[]) TO bgjobs_runner;

REVOKE ALL ON FUNCTION bgjobs.job_paused(p_paused_from timestamp with time zone, p_paused_until timestamp with time zone, p_at timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.job_paused(p_paused_from timestamp with time zone, p_paused_until timestamp with time zone, p_at timestamp with time zone) TO bgjobs_runner;
GRANT ALL ON FUNCTION bgjobs.job_paused(p_paused_from timestamp with time zone, p_paused_until timestamp with time zone, p_at timestamp with time zone) TO bgjobs_admin;
GRANT ALL ON FUNCTION bgjobs.job_paused(p_paused_from timestamp with time zone, p_paused_until timestamp with time zone, p_at timestamp with time zone) TO bgjobs_viewer;

REVOKE ALL ON FUNCTION bgjobs.job_purge_old_logs(p_as_of timestamp with time zone, p_tenants uuid[]) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.job_purge_old_logs(p_as_of timestamp with time zone, p_tenants uuid[]) TO bgjobs_runner;

REVOKE ALL ON FUNCTION bgjobs.job_stats(p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.job_stats(p_as_of timestamp with time zone) TO bgjobs_runner;
GRANT ALL ON FUNCTION bgjobs.job_stats(p_as_of timestamp with time zone) TO bgjobs_admin;
GRANT ALL ON FUNCTION bgjobs.job_stats(p_as_of timestamp with time zone) TO bgjobs_viewer;

REVOKE ALL ON FUNCTION bgjobs.jobs_log_on_failure() FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.jobs_log_on_success() FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.list_secrets() FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.list_secrets() TO bgjobs_admin;

REVOKE ALL ON FUNCTION bgjobs.lock_held(p_job_name text, p_pid integer) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.lock_held(p_job_name text, p_pid integer) TO bgjobs_runner;
GRANT ALL ON FUNCTION bgjobs.lock_held(p_job_name text, p_pid integer) TO bgjobs_admin;
GRANT ALL ON FUNCTION bgjobs.lock_held(p_job_name text, p_pid integer) TO bgjobs_viewer;

REVOKE ALL ON FUNCTION bgjobs.maintenance_until(p_job_name text, p_at timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.maintenance_until(p_job_name text, p_at timestamp with time zone) TO bgjobs_runner;
GRANT ALL ON FUNCTION bgjobs.maintenance_until(p_job_name text, p_at timestamp with time zone) TO bgjobs_admin;
GRANT ALL ON FUNCTION bgjobs.maintenance_until(p_job_name text, p_at timestamp with time zone) TO bgjobs_viewer;

REVOKE ALL ON FUNCTION bgjobs.next_expected_run(p_job_name text, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.next_expected_run(p_job_name text, p_as_of timestamp with time zone) TO bgjobs_runner;
GRANT ALL ON FUNCTION bgjobs.next_expected_run(p_job_name text, p_as_of timestamp with time zone) TO bgjobs_admin;
GRANT ALL ON FUNCTION bgjobs.next_expected_run(p_job_name text, p_as_of timestamp with time zone) TO bgjobs_viewer;

REVOKE ALL ON FUNCTION bgjobs.pause_job(job_name text, until timestamp with time zone, reason text) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.pause_job(job_name text, until timestamp with time zone, reason text) TO bgjobs_admin;

REVOKE ALL ON FUNCTION bgjobs.purge_cron_run_details(p_before timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.purge_cron_run_details(p_before timestamp with time zone) TO bgjobs_runner;

REVOKE ALL ON FUNCTION bgjobs.reap_stale_runs(p_cancel_overdue boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.reap_stale_runs(p_cancel_overdue boolean) TO bgjobs_runner;

REVOKE ALL ON FUNCTION bgjobs.record_deliveries(p_results jsonb, p_as_of timestamp with time zone, p_deliverer text) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.record_deliveries(p_results jsonb, p_as_of timestamp with time zone, p_deliverer text) TO bgjobs_deliverer;

REVOKE ALL ON FUNCTION bgjobs.register_job(job_name text, body text, schedule text, timezone text, timeout interval, expected_duration interval, grace interval, description text) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.register_job(job_name text, body text, schedule text, timezone text, timeout interval, expected_duration interval, grace interval, description text) TO bgjobs_admin;

REVOKE ALL ON FUNCTION bgjobs.release_run_lock(p_job_name text) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.release_run_lock(p_job_name text) TO bgjobs_runner;

REVOKE ALL ON FUNCTION bgjobs.remove_maintenance_window(p_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.remove_maintenance_window(p_id bigint) TO bgjobs_admin;

REVOKE ALL ON FUNCTION bgjobs.resume_job(job_name text) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.resume_job(job_name text) TO bgjobs_admin;

REVOKE ALL ON PROCEDURE bgjobs.run_scheduled_job(IN p_job_name text, IN p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON PROCEDURE bgjobs.run_scheduled_job(IN p_job_name text, IN p_as_of timestamp with time zone) TO bgjobs_runner;

REVOKE ALL ON FUNCTION bgjobs.scheduler_state(OUT state text, OUT detail text) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.scheduler_state(OUT state text, OUT detail text) TO bgjobs_runner;
GRANT ALL ON FUNCTION bgjobs.scheduler_state(OUT state text, OUT detail text) TO bgjobs_admin;
GRANT ALL ON FUNCTION bgjobs.scheduler_state(OUT state text, OUT detail text) TO bgjobs_viewer;
GRANT ALL ON FUNCTION bgjobs.scheduler_state(OUT state text, OUT detail text) TO bgjobs_deliverer;

REVOKE ALL ON FUNCTION bgjobs.secret_is_set(p_name text) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.secret_is_set(p_name text) TO bgjobs_admin;
GRANT ALL ON FUNCTION bgjobs.secret_is_set(p_name text) TO bgjobs_runner;

REVOKE ALL ON FUNCTION bgjobs.skipped_response(p_run_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.skipped_response(p_run_id uuid) TO bgjobs_runner;

REVOKE ALL ON FUNCTION bgjobs.slots_floor(p_slots_from timestamp with time zone, p_paused_from timestamp with time zone, p_paused_until timestamp with time zone, p_at timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.slots_floor(p_slots_from timestamp with time zone, p_paused_from timestamp with time zone, p_paused_until timestamp with time zone, p_at timestamp with time zone) TO bgjobs_runner;
GRANT ALL ON FUNCTION bgjobs.slots_floor(p_slots_from timestamp with time zone, p_paused_from timestamp with time zone, p_paused_until timestamp with time zone, p_at timestamp with time zone) TO bgjobs_admin;
GRANT ALL ON FUNCTION bgjobs.slots_floor(p_slots_from timestamp with time zone, p_paused_from timestamp with time zone, p_paused_until timestamp with time zone, p_at timestamp with time zone) TO bgjobs_viewer;

REVOKE ALL ON FUNCTION bgjobs.unregister_job(job_name text) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.unregister_job(job_name text) TO bgjobs_admin;

REVOKE ALL ON FUNCTION bgjobs.unwatch_cron_job(p_jobid bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.unwatch_cron_job(p_jobid bigint) TO bgjobs_admin;

REVOKE ALL ON FUNCTION bgjobs.unwatch_cron_job(p_jobname text, p_database text) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.unwatch_cron_job(p_jobname text, p_database text) TO bgjobs_admin;

REVOKE ALL ON FUNCTION bgjobs.unwatch_job(job_name text) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.unwatch_job(job_name text) TO bgjobs_admin;

REVOKE ALL ON FUNCTION bgjobs.watch_checkin() FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.watch_cron_job(p_jobid bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.watch_cron_job(p_jobid bigint) TO bgjobs_admin;

REVOKE ALL ON FUNCTION bgjobs.watch_cron_job(p_jobname text, p_database text) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.watch_cron_job(p_jobname text, p_database text) TO bgjobs_admin;

REVOKE ALL ON FUNCTION bgjobs.watch_job(job_name text, schedule text, timezone text, grace interval) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.watch_job(job_name text, schedule text, timezone text, grace interval) TO bgjobs_admin;

REVOKE ALL ON FUNCTION bgjobs.watch_refresh(p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.watch_refresh(p_as_of timestamp with time zone) TO bgjobs_runner;

REVOKE ALL ON FUNCTION bgjobs.watch_stats(p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.watch_stats(p_as_of timestamp with time zone) TO bgjobs_runner;
GRANT ALL ON FUNCTION bgjobs.watch_stats(p_as_of timestamp with time zone) TO bgjobs_admin;
GRANT ALL ON FUNCTION bgjobs.watch_stats(p_as_of timestamp with time zone) TO bgjobs_viewer;

REVOKE ALL ON FUNCTION bgjobs.watch_targets(p_as_of timestamp with time zone, p_runs integer) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.watch_targets(p_as_of timestamp with time zone, p_runs integer) TO bgjobs_runner;

REVOKE ALL ON FUNCTION bgjobs.watchdog(p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.watchdog(p_as_of timestamp with time zone) TO bgjobs_admin;
GRANT ALL ON FUNCTION bgjobs.watchdog(p_as_of timestamp with time zone) TO bgjobs_viewer;
GRANT ALL ON FUNCTION bgjobs.watchdog(p_as_of timestamp with time zone) TO bgjobs_deliverer;

REVOKE ALL ON FUNCTION bgjobs.watchdog_alert(p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.watchdog_alert(p_as_of timestamp with time zone) TO bgjobs_admin;
GRANT ALL ON FUNCTION bgjobs.watchdog_alert(p_as_of timestamp with time zone) TO bgjobs_deliverer;

REVOKE ALL ON FUNCTION bgjobs.zone_offset_spread(p_day timestamp without time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.zone_offset_spread(p_day timestamp without time zone) TO bgjobs_admin;
GRANT ALL ON FUNCTION bgjobs.zone_offset_spread(p_day timestamp without time zone) TO bgjobs_viewer;
GRANT ALL ON FUNCTION bgjobs.zone_offset_spread(p_day timestamp without time zone) TO bgjobs_runner;

REVOKE ALL ON FUNCTION bgjobs.zone_tick(p_schedule text) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.zone_tick(p_schedule text) TO bgjobs_admin;

REVOKE ALL ON FUNCTION bgjobs_app.app_has_column(p_table text, p_column text) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs_app.app_has_column(p_table text, p_column text) TO bgjobs_runner;

REVOKE ALL ON FUNCTION bgjobs_app.fire_automation_events(p_as_of timestamp with time zone, p_tenant_ids uuid[], p_events text[], p_entity_types text[], p_entity_ids uuid[], p_event_keys text[], p_data jsonb[], p_task_cases uuid[], p_task_assignees uuid[], p_task_titles text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs_app.fire_automation_events(p_as_of timestamp with time zone, p_tenant_ids uuid[], p_events text[], p_entity_types text[], p_entity_ids uuid[], p_event_keys text[], p_data jsonb[], p_task_cases uuid[], p_task_assignees uuid[], p_task_titles text[]) TO bgjobs_runner;

REVOKE ALL ON FUNCTION bgjobs_app.installments_set_tenant() FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs_app.job_analytics_snapshot(p_as_of timestamp with time zone, p_tenants uuid[]) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs_app.job_analytics_snapshot(p_as_of timestamp with time zone, p_tenants uuid[]) TO bgjobs_runner;

REVOKE ALL ON FUNCTION bgjobs_app.job_automation_health_check(p_as_of timestamp with time zone, p_tenants uuid[]) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs_app.job_automation_health_check(p_as_of timestamp with time zone, p_tenants uuid[]) TO bgjobs_runner;

REVOKE ALL ON FUNCTION bgjobs_app.job_check_sla_and_overdue(p_as_of timestamp with time zone, p_tenants uuid[]) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs_app.job_check_sla_and_overdue(p_as_of timestamp with time zone, p_tenants uuid[]) TO bgjobs_runner;

REVOKE ALL ON FUNCTION bgjobs_app.job_check_upcoming_deadlines(p_as_of timestamp with time zone, p_tenants uuid[]) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs_app.job_check_upcoming_deadlines(p_as_of timestamp with time zone, p_tenants uuid[]) TO bgjobs_runner;

REVOKE ALL ON FUNCTION bgjobs_app.job_send_hearing_reminders(p_as_of timestamp with time zone, p_tenants uuid[]) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs_app.job_send_hearing_reminders(p_as_of timestamp with time zone, p_tenants uuid[]) TO bgjobs_runner;

REVOKE ALL ON FUNCTION bgjobs_app.job_update_installment_statuses(p_as_of timestamp with time zone, p_tenants uuid[]) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs_app.job_update_installment_statuses(p_as_of timestamp with time zone, p_tenants uuid[]) TO bgjobs_runner;

REVOKE ALL ON FUNCTION bgjobs_app.tasks_sla_feed() FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs_app.tenants_check_timezone() FROM PUBLIC;

REVOKE ALL ON FUNCTION public.job_metrics(as_of timestamp with time zone, job_name text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.job_metrics(as_of timestamp with time zone, job_name text) TO bgjobs_admin;
GRANT ALL ON FUNCTION public.job_metrics(as_of timestamp with time zone, job_name text) TO bgjobs_viewer;

REVOKE ALL ON FUNCTION public.job_metrics_prometheus(as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION public.job_metrics_prometheus(as_of timestamp with time zone) TO bgjobs_admin;
GRANT ALL ON FUNCTION public.job_metrics_prometheus(as_of timestamp with time zone) TO bgjobs_viewer;

REVOKE ALL ON FUNCTION public.run_job(job_name text, as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION public.run_job(job_name text, as_of timestamp with time zone) TO bgjobs_admin;

REVOKE ALL ON FUNCTION public.set_secret(name text, value text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.set_secret(name text, value text) TO bgjobs_admin;

REVOKE ALL ON FUNCTION public.silence_job(job_name text, until timestamp with time zone, reason text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.silence_job(job_name text, until timestamp with time zone, reason text) TO bgjobs_admin;

REVOKE ALL ON FUNCTION public.unsilence_job(job_name text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.unsilence_job(job_name text) TO bgjobs_admin;

REVOKE ALL ON FUNCTION public.update_job_heartbeat(p_job_name text, p_status text, p_metadata jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION public.update_job_heartbeat(p_job_name text, p_status text, p_metadata jsonb) TO bgjobs_runner;
GRANT ALL ON FUNCTION public.update_job_heartbeat(p_job_name text, p_status text, p_metadata jsonb) TO bgjobs_admin;

GRANT SELECT ON TABLE bgjobs.alert_state TO bgjobs_admin;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE bgjobs.alert_state TO bgjobs_runner;

GRANT SELECT ON TABLE bgjobs.app_tables TO bgjobs_admin;
GRANT SELECT ON TABLE bgjobs.app_tables TO bgjobs_viewer;
GRANT SELECT ON TABLE bgjobs.app_tables TO bgjobs_runner;

GRANT SELECT ON TABLE bgjobs.archive_runs TO bgjobs_admin;
GRANT SELECT ON TABLE bgjobs.archive_runs TO bgjobs_viewer;

GRANT SELECT ON TABLE bgjobs.cron_watch_optouts TO bgjobs_runner;
GRANT SELECT ON TABLE bgjobs.cron_watch_optouts TO bgjobs_admin;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE bgjobs.cron_watch_seen TO bgjobs_runner;

GRANT SELECT ON TABLE bgjobs.job_registry TO bgjobs_admin;
GRANT SELECT ON TABLE bgjobs.job_registry TO bgjobs_runner;

GRANT SELECT(job_name) ON TABLE bgjobs.job_registry TO bgjobs_deliverer;

GRANT UPDATE(description) ON TABLE bgjobs.job_registry TO bgjobs_admin;

GRANT SELECT(function_schema) ON TABLE bgjobs.job_registry TO bgjobs_deliverer;

GRANT SELECT(function_name) ON TABLE bgjobs.job_registry TO bgjobs_deliverer;

GRANT UPDATE(expected_duration) ON TABLE bgjobs.job_registry TO bgjobs_admin;

GRANT UPDATE(timeout) ON TABLE bgjobs.job_registry TO bgjobs_admin;
GRANT SELECT(timeout) ON TABLE bgjobs.job_registry TO bgjobs_deliverer;

GRANT UPDATE(grace) ON TABLE bgjobs.job_registry TO bgjobs_admin;

GRANT UPDATE(stale_after) ON TABLE bgjobs.job_registry TO bgjobs_admin;

GRANT UPDATE(enabled) ON TABLE bgjobs.job_registry TO bgjobs_admin;

GRANT SELECT,INSERT,DELETE ON TABLE bgjobs.job_slots TO bgjobs_runner;
GRANT SELECT ON TABLE bgjobs.job_slots TO bgjobs_admin;

GRANT SELECT ON TABLE bgjobs.maintenance_windows TO bgjobs_admin;
GRANT SELECT ON TABLE bgjobs.maintenance_windows TO bgjobs_viewer;
GRANT SELECT ON TABLE bgjobs.maintenance_windows TO bgjobs_runner;

GRANT SELECT ON TABLE bgjobs.plpython_modules TO bgjobs_runner;
GRANT SELECT ON TABLE bgjobs.plpython_modules TO bgjobs_deliverer;
GRANT SELECT ON TABLE bgjobs.plpython_modules TO bgjobs_admin;
GRANT SELECT ON TABLE bgjobs.plpython_modules TO bgjobs_viewer;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE bgjobs.schedule_cache TO bgjobs_runner;

GRANT SELECT ON TABLE bgjobs.setting_spec TO bgjobs_runner;
GRANT SELECT ON TABLE bgjobs.setting_spec TO bgjobs_admin;
GRANT SELECT ON TABLE bgjobs.setting_spec TO bgjobs_viewer;

GRANT SELECT ON TABLE bgjobs.silences TO bgjobs_admin;
GRANT SELECT,DELETE ON TABLE bgjobs.silences TO bgjobs_runner;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE bgjobs.tenant_job_runs TO bgjobs_runner;

GRANT SELECT ON TABLE bgjobs.unregistered_jobs TO bgjobs_admin;
GRANT SELECT ON TABLE bgjobs.unregistered_jobs TO bgjobs_viewer;

GRANT SELECT,DELETE ON TABLE bgjobs.watch_runs TO bgjobs_runner;
GRANT SELECT ON TABLE bgjobs.watch_runs TO bgjobs_admin;

GRANT SELECT ON TABLE bgjobs.watched_jobs TO bgjobs_runner;
GRANT SELECT ON TABLE bgjobs.watched_jobs TO bgjobs_admin;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE bgjobs_app.automation_events TO bgjobs_runner;
GRANT SELECT ON TABLE bgjobs_app.automation_events TO bgjobs_admin;
GRANT SELECT ON TABLE bgjobs_app.automation_events TO bgjobs_viewer;

GRANT SELECT,UPDATE ON TABLE bgjobs_app.sla_tick_state TO bgjobs_runner;
GRANT SELECT ON TABLE bgjobs_app.sla_tick_state TO bgjobs_admin;
GRANT SELECT ON TABLE bgjobs_app.sla_tick_state TO bgjobs_viewer;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE bgjobs_app.task_changes TO bgjobs_runner;
GRANT SELECT ON TABLE bgjobs_app.task_changes TO bgjobs_admin;
GRANT SELECT ON TABLE bgjobs_app.task_changes TO bgjobs_viewer;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE bgjobs_app.task_flags TO bgjobs_runner;
GRANT SELECT ON TABLE bgjobs_app.task_flags TO bgjobs_admin;
GRANT SELECT ON TABLE bgjobs_app.task_flags TO bgjobs_viewer;

GRANT SELECT,INSERT,UPDATE ON TABLE public.analytics_snapshots TO bgjobs_runner;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.app_settings TO bgjobs_admin;
GRANT SELECT ON TABLE public.app_settings TO bgjobs_runner;

GRANT SELECT ON TABLE public.audit_log TO bgjobs_admin;
GRANT SELECT ON TABLE public.audit_log TO bgjobs_viewer;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.audit_log TO bgjobs_runner;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.automation_logs TO bgjobs_runner;

GRANT SELECT ON TABLE public.automation_rules TO bgjobs_runner;

GRANT SELECT ON TABLE public.cases TO bgjobs_runner;

GRANT SELECT ON TABLE public.courts TO bgjobs_runner;

GRANT SELECT ON TABLE public.documents TO bgjobs_runner;

GRANT SELECT,DELETE ON TABLE public.job_heartbeats TO bgjobs_admin;
GRANT SELECT ON TABLE public.job_heartbeats TO bgjobs_viewer;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.job_heartbeats TO bgjobs_runner;

GRANT UPDATE(last_run_at) ON TABLE public.job_heartbeats TO bgjobs_admin;

GRANT UPDATE(status) ON TABLE public.job_heartbeats TO bgjobs_admin;

GRANT UPDATE(metadata) ON TABLE public.job_heartbeats TO bgjobs_admin;

GRANT UPDATE(last_alert_at) ON TABLE public.job_heartbeats TO bgjobs_admin;

GRANT SELECT ON TABLE public.healthcheck_summary TO bgjobs_admin;
GRANT SELECT ON TABLE public.healthcheck_summary TO bgjobs_viewer;

GRANT SELECT ON TABLE public.hearings TO bgjobs_runner;

GRANT SELECT,UPDATE ON TABLE public.installments TO bgjobs_runner;

GRANT SELECT ON TABLE public.job_alerts TO bgjobs_admin;
GRANT SELECT ON TABLE public.job_alerts TO bgjobs_viewer;

GRANT SELECT ON TABLE public.job_silences TO bgjobs_admin;
GRANT SELECT ON TABLE public.job_silences TO bgjobs_viewer;

GRANT SELECT,INSERT,DELETE ON TABLE public.jobs_log TO bgjobs_admin;
GRANT SELECT ON TABLE public.jobs_log TO bgjobs_viewer;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.jobs_log TO bgjobs_runner;

GRANT SELECT ON TABLE public.job_status TO bgjobs_admin;
GRANT SELECT ON TABLE public.job_status TO bgjobs_viewer;

GRANT SELECT ON TABLE public.job_success_rates TO bgjobs_admin;
GRANT SELECT ON TABLE public.job_success_rates TO bgjobs_viewer;

GRANT SELECT ON TABLE public.notifications TO bgjobs_admin;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.notifications TO bgjobs_runner;

GRANT SELECT(id) ON TABLE public.notifications TO bgjobs_viewer;

GRANT SELECT(tenant_id) ON TABLE public.notifications TO bgjobs_viewer;

GRANT SELECT(channel) ON TABLE public.notifications TO bgjobs_viewer;

GRANT SELECT(template) ON TABLE public.notifications TO bgjobs_viewer;

GRANT SELECT(category) ON TABLE public.notifications TO bgjobs_viewer;

GRANT UPDATE(status) ON TABLE public.notifications TO bgjobs_admin;
GRANT SELECT(status) ON TABLE public.notifications TO bgjobs_viewer;

GRANT SELECT(attempts) ON TABLE public.notifications TO bgjobs_viewer;

GRANT UPDATE(next_attempt_at) ON TABLE public.notifications TO bgjobs_admin;
GRANT SELECT(next_attempt_at) ON TABLE public.notifications TO bgjobs_viewer;

GRANT SELECT(created_at) ON TABLE public.notifications TO bgjobs_viewer;

GRANT SELECT(sent_at) ON TABLE public.notifications TO bgjobs_viewer;

GRANT SELECT ON TABLE public.payment_plans TO bgjobs_runner;

GRANT SELECT,UPDATE ON TABLE public.tasks TO bgjobs_runner;

GRANT SELECT ON TABLE public.tenants TO bgjobs_runner;

GRANT SELECT ON TABLE public.users TO bgjobs_runner;
