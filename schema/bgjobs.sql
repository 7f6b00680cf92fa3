CREATE SCHEMA bgjobs;

CREATE EXTENSION IF NOT EXISTS plpython3u WITH SCHEMA pg_catalog;

CREATE FUNCTION bgjobs.apply_alerts(p_as_of timestamp with time zone, p_rules text[], p_findings jsonb) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
DECLARE
  v_window        interval := make_interval(secs => bgjobs.get_setting('alert_suppression_hours', '6')::numeric * 3600);
  v_send_resolved boolean := coalesce(bgjobs.get_setting('send_resolved', 'true')::boolean, true);
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
     ORDER BY x.subject, x.rule, array_position(v_sev, x.severity) DESC
  ),
  d AS (
    SELECT f.*,
           coalesce(a.state, 'ok') <> 'firing' AS is_new,
           a.since AS old_since, a.count AS old_count, a.notified_severity AS old_notified_severity,
           a.last_notified_at AS old_notified_at, a.suppressed AS old_suppressed, a.episodes AS old_episodes,
           hb.last_alert_at,
           EXISTS (SELECT 1 FROM bgjobs.silences s
                    WHERE (s.job_name IS NULL OR s.job_name = f.subject)
                      AND s.starts_at <= p_as_of AND s.until > p_as_of) AS is_silenced
      FROM f
      LEFT JOIN bgjobs.alert_state a ON a.subject = f.subject AND a.rule = f.rule
      LEFT JOIN public.job_heartbeats hb ON f.rule = 'stale_heartbeat' AND hb.job_name = f.subject
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
     WHERE g.notify AND g.rule = 'stale_heartbeat' AND h.job_name = g.subject
    RETURNING 1
  ),
  q AS (
    SELECT bgjobs.enqueue_alert(
             'job_alert',
             jsonb_build_object(
               'job_name', coalesce(g.display_name, g.subject), 'subject', g.subject, 'rule', g.rule,
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

CREATE FUNCTION bgjobs.claim_notifications(p_as_of timestamp with time zone, p_limit integer, p_deliverer text) RETURNS TABLE(tenant_id uuid, id uuid, channel text, recipient text, template text, payload jsonb, category text, attempts integer, dedupe_key text, created_at timestamp with time zone, timezone text)
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  WITH c AS (
    SELECT n.tenant_id, n.id
      FROM public.notifications n
     WHERE n.status IN ('pending', 'failed')
       AND n.next_attempt_at <= p_as_of
     ORDER BY n.next_attempt_at
     LIMIT greatest(coalesce(p_limit, 100), 1)
       FOR UPDATE SKIP LOCKED
  )
  UPDATE public.notifications n
     SET delivered_by = p_deliverer
    FROM c
   WHERE n.tenant_id = c.tenant_id AND n.id = c.id
  RETURNING n.tenant_id, n.id, n.channel, n.recipient, n.template, n.payload, n.category, n.attempts,
            n.dedupe_key, n.created_at,
            coalesce((SELECT t.timezone FROM public.tenants t WHERE t.id = n.tenant_id), 'UTC')
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

CREATE FUNCTION bgjobs.cron_prev(p_schedule text, p_timezone text, p_at timestamp with time zone) RETURNS timestamp with time zone
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
fire = bgjobs_schedule.prev_fire(p_schedule, p_timezone, p_at)
return None if fire is None else fire.isoformat()
$$;

CREATE FUNCTION bgjobs.delivery_config() RETURNS jsonb
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object(
    'slack_webhook_url', bgjobs.get_secret('SLACK_WEBHOOK_URL'),
    'webhook_url', coalesce(bgjobs.get_secret('WEBHOOK_URL'), bgjobs.get_setting('webhook_url')),
    'whatsapp_webhook_url', coalesce(bgjobs.get_secret('WHATSAPP_WEBHOOK_URL'), bgjobs.get_setting('whatsapp_webhook_url')),
    'email_transport', bgjobs.get_setting('email_transport', 'smtp'),
    'smtp_host', bgjobs.get_setting('smtp_host', 'localhost'),
    'smtp_port', bgjobs.get_setting('smtp_port', '25'),
    'smtp_starttls', bgjobs.get_setting('smtp_starttls', 'false'),
    'smtp_ssl', bgjobs.get_setting('smtp_ssl', 'false'),
    'smtp_username', bgjobs.get_secret('SMTP_USERNAME'),
    'smtp_password', bgjobs.get_secret('SMTP_PASSWORD'),
    'alert_email_from', bgjobs.get_setting('alert_email_from', 'bgjobs@localhost'),
    'alert_email_to', bgjobs.get_setting('alert_email_to'),
    'resend_api_key', bgjobs.get_secret('RESEND_API_KEY'),
    'resend_from', coalesce(bgjobs.get_secret('RESEND_FROM'), bgjobs.get_setting('alert_email_from')),
    'resend_base_url', bgjobs.get_setting('resend_base_url', 'https://api.resend.com'),
    'timeout_seconds', least(coalesce(bgjobs.get_setting('delivery_timeout_seconds', '10')::numeric, 10), 10),
    'batch_size', greatest(coalesce(bgjobs.get_setting('notification_batch_size', '100')::integer, 100), 1),
    'max_attempts', greatest(coalesce(bgjobs.get_setting('notification_max_attempts', '8')::integer, 8), 1),
    'backoff_base_seconds', coalesce(bgjobs.get_setting('notification_backoff_base_seconds', '30')::integer, 30),
    'backoff_cap_seconds', coalesce(bgjobs.get_setting('notification_backoff_cap_seconds', '3600')::integer, 3600)))
$$;

CREATE FUNCTION bgjobs.detect_job_issues(p_as_of timestamp with time zone) RETURNS TABLE(subject text, rule text, severity text, display_name text, summary text, details jsonb)
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    SET jit TO 'off'
    AS $$
WITH cfg AS (
  SELECT greatest(bgjobs.get_setting('consecutive_failures_critical', '3')::integer, 1) AS fail_crit,
         bgjobs.get_setting('slow_run_warning_factor', '1.5')::numeric AS slow_warn,
         bgjobs.get_setting('slow_run_critical_factor', '2')::numeric AS slow_crit
),
r AS (
  SELECT * FROM bgjobs.job_registry WHERE enabled
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
  SELECT r.job_name, r.registered_at, r.tenant_local, r.schedule, r.timezone, r.grace, r.expected_interval,
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
              THEN coalesce(h.last_eff, h.registered_at) < s.expected_at - interval '30 seconds'
              ELSE p_as_of - coalesce(h.last_eff, h.registered_at) > h.expected_interval + h.grace
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
         'schedule', CASE WHEN m.tenant_local THEN 'daily, tenant-local' ELSE m.schedule END,
         'expected_interval', m.expected_interval::text,
         'grace', m.grace::text)
  FROM missed m
 WHERE m.is_missed
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
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
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
                   make_interval(secs => bgjobs.get_setting('heartbeat_stale_hours', '24')::numeric * 3600)) AS stale_after
 ) s
 WHERE r.enabled IS DISTINCT FROM false
   AND h.last_run_at < p_as_of - s.stale_after
$$;

CREATE FUNCTION bgjobs.detect_system_issues(p_as_of timestamp with time zone) RETURNS TABLE(subject text, rule text, severity text, display_name text, summary text, details jsonb)
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    SET jit TO 'off'
    AS $$
WITH cfg AS (
  SELECT bgjobs.get_setting('success_rate_warning_pct', '90')::numeric AS rate_warn,
         bgjobs.get_setting('delivery_rate_info_pct', '99')::numeric AS delivery_info,
         bgjobs.get_setting('rule_storm_per_hour', '10')::integer AS storm
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
 WHERE a.metric_value ->> 'anomaly_detected' = 'true'
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

CREATE FUNCTION bgjobs.job_analytics_snapshot(p_as_of timestamp with time zone, p_tenants uuid[]) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
DECLARE
  v_threshold numeric := bgjobs.get_setting('anomaly_threshold_pct', '30')::numeric;
  v_sla_critical interval := bgjobs.get_setting('sla_hours_critical', '4')::numeric * interval '1 hour';
  v_sla_high     interval := bgjobs.get_setting('sla_hours_high', '24')::numeric * interval '1 hour';
  v_sla_medium   interval := bgjobs.get_setting('sla_hours_medium', '72')::numeric * interval '1 hour';
  v_sla_low      interval := bgjobs.get_setting('sla_hours_low', '168')::numeric * interval '1 hour';
  v_tenants   integer;
  v_written   integer;
  v_anomalies integer;
BEGIN
  WITH scope AS (
    SELECT t.id AS tenant_id, (p_as_of AT TIME ZONE t.timezone)::date AS local_date
      FROM public.tenants t
     WHERE p_tenants IS NULL OR t.id = ANY (p_tenants)
  ),
  figures AS (
    SELECT s.tenant_id, s.local_date,
           jsonb_build_object(
             'case_count', c.active,
             'task_completion_rate', CASE WHEN k.total > 0 THEN round(k.completed::numeric / k.total, 4) END,
             'sla_compliance_rate', CASE WHEN k.total > 0 THEN round((k.total - k.breached)::numeric / k.total, 4) END,
             'hearing_attendance_rate', CASE WHEN h.held > 0 THEN round(h.attended::numeric / h.held, 4) END,
             'document_count', d.n,
             'overdue_tasks', k.overdue) AS metrics
      FROM scope s
     CROSS JOIN LATERAL (
       SELECT count(*) FILTER (WHERE ca.status = 'Active') AS active
         FROM public.cases ca WHERE ca.tenant_id = s.tenant_id) c
     CROSS JOIN LATERAL (
       SELECT count(*) FILTER (WHERE t.status <> 'Cancelled') AS total,
              count(*) FILTER (WHERE t.status = 'Completed') AS completed,
              count(*) FILTER (WHERE t.status IN ('Open', 'In Progress') AND t.due_date < p_as_of) AS overdue,
              count(*) FILTER (WHERE t.due_date IS NOT NULL AND (
                         (t.status IN ('Open', 'In Progress') AND p_as_of > t.due_date + x.sla)
                      OR (t.status = 'Completed' AND t.completed_at > t.due_date + x.sla))) AS breached
         FROM public.tasks t
        CROSS JOIN LATERAL (SELECT CASE t.priority WHEN 'Critical' THEN v_sla_critical WHEN 'High' THEN v_sla_high
                                                   WHEN 'Medium' THEN v_sla_medium ELSE v_sla_low END AS sla) x
        WHERE t.tenant_id = s.tenant_id) k
     CROSS JOIN LATERAL (
       SELECT count(*) FILTER (WHERE hr.status <> 'Cancelled') AS held,
              count(*) FILTER (WHERE hr.status = 'Attended') AS attended
         FROM public.hearings hr
        WHERE hr.tenant_id = s.tenant_id AND hr.hearing_date <= p_as_of) h
     CROSS JOIN LATERAL (
       SELECT count(*) AS n FROM public.documents dc WHERE dc.tenant_id = s.tenant_id) d
  ),
  judged AS (
    SELECT f.tenant_id, f.local_date, f.metrics, coalesce(a.anomalies, '[]'::jsonb) AS anomalies
      FROM figures f
     CROSS JOIN LATERAL (
       SELECT jsonb_agg(jsonb_build_object('metric', m.metric, 'value', m.value, 'average', round(m.average, 4),
                                           'deviation_pct', round(abs(m.value - m.average) / abs(m.average) * 100, 2))
                        ORDER BY m.metric) AS anomalies
         FROM (SELECT k.metric, (f.metrics ->> k.metric)::numeric AS value,
                      avg((p.metric_value ->> k.metric)::numeric) AS average
                 FROM jsonb_object_keys(f.metrics) AS k(metric)
                 JOIN public.analytics_snapshots p
                   ON p.tenant_id = f.tenant_id AND p.metric_type = 'daily_snapshot'
                  AND p.snapshot_date >= f.local_date - 7 AND p.snapshot_date < f.local_date
                  AND jsonb_typeof(p.metric_value -> k.metric) = 'number'
                WHERE jsonb_typeof(f.metrics -> k.metric) = 'number'
                GROUP BY k.metric) m
        WHERE m.average <> 0
          AND abs(m.value - m.average) / abs(m.average) * 100 > v_threshold
     ) a
  ),
  written AS (
    INSERT INTO public.analytics_snapshots AS a (tenant_id, metric_type, snapshot_date, metric_value)
    SELECT j.tenant_id, 'daily_snapshot', j.local_date,
           j.metrics || jsonb_build_object('anomaly_detected', jsonb_array_length(j.anomalies) > 0,
                                           'anomalies', j.anomalies)
      FROM judged j
    ON CONFLICT (tenant_id, metric_type, snapshot_date) DO UPDATE
       SET metric_value = EXCLUDED.metric_value, created_at = now()
     WHERE a.metric_value IS DISTINCT FROM EXCLUDED.metric_value
    RETURNING 1
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

CREATE FUNCTION bgjobs.job_automation_health_check(p_as_of timestamp with time zone, p_tenants uuid[]) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
DECLARE
  v_degraded_pct numeric := bgjobs.get_setting('automation_degraded_failure_pct', '20')::numeric;
  v_critical_pct numeric := bgjobs.get_setting('automation_critical_success_pct', '80')::numeric;
  v_inactive     interval := bgjobs.get_setting('automation_inactive_hours', '48')::numeric * interval '1 hour';
  v_info_pct     numeric := bgjobs.get_setting('automation_info_success_pct', '95')::numeric;
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
           r.is_active AND r.created_at <= p_as_of - v_inactive
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
        ON u.tenant_id = rp.tenant_id AND u.role = 'admin' AND u.is_active
       AND nullif(btrim(u.email), '') IS NOT NULL
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
                                              ORDER BY j.failure_rate DESC, j.rule_name)
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

CREATE FUNCTION bgjobs.job_check_job_health(p_as_of timestamp with time zone, p_tenants uuid[] DEFAULT NULL::uuid[]) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
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

  SELECT coalesce(jsonb_agg(to_jsonb(f) ORDER BY array_position(ARRAY['CRITICAL', 'WARNING', 'INFO'], f.severity),
                            f.subject, f.rule), '[]'::jsonb)
    INTO v_findings
    FROM (SELECT * FROM bgjobs.detect_job_issues(p_as_of)
          UNION ALL
          SELECT * FROM bgjobs.detect_system_issues(p_as_of)) f;

  v_alerts := bgjobs.apply_alerts(
    p_as_of,
    ARRAY['missed_run', 'consecutive_failures', 'slow_run', 'no_jobs_24h', 'low_success_rate',
          'delivery_rate', 'rule_storm', 'analytics_anomaly'],
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

CREATE FUNCTION bgjobs.job_check_sla_and_overdue(p_as_of timestamp with time zone, p_tenants uuid[]) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    SET plan_cache_mode TO 'force_custom_plan'
    SET jit TO 'off'
    AS $$
DECLARE
  v_hours_critical numeric := bgjobs.get_setting('sla_hours_critical', '4')::numeric;
  v_hours_high     numeric := bgjobs.get_setting('sla_hours_high', '24')::numeric;
  v_hours_medium   numeric := bgjobs.get_setting('sla_hours_medium', '72')::numeric;
  v_hours_low      numeric := bgjobs.get_setting('sla_hours_low', '168')::numeric;
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

CREATE FUNCTION bgjobs.job_check_upcoming_deadlines(p_as_of timestamp with time zone, p_tenants uuid[]) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
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
      JOIN public.users u ON u.tenant_id = i.tenant_id AND u.id = r.user_id AND u.is_active
     WHERE nullif(btrim(u.email), '') IS NOT NULL
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
    v_rules := bgjobs.fire_automation_events(
      p_as_of, v_tenant, array_fill('deadline_approaching'::text, ARRAY[v_items]), v_etype, v_entity, v_key, v_data);
  END IF;

  RETURN jsonb_build_object(
    'itemsFound', v_items,
    'usersNotified', v_digests,
    'rulesTriggered', v_rules,
    'recordsUpdated', v_digests);
END;
$$;

CREATE FUNCTION bgjobs.job_cron_healthcheck(p_as_of timestamp with time zone, p_tenants uuid[] DEFAULT NULL::uuid[]) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
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
    LANGUAGE plpython3u
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $_$
if 'bgjobs_mod:bgjobs_channels:c113d8107ed4f861' not in GD:
    import sys as _sys, types as _types
    _src = plpy.execute("SELECT source FROM bgjobs.plpython_modules WHERE name = 'bgjobs_channels'")[0]['source']
    _mod = _types.ModuleType('bgjobs_channels')
    _mod.__file__ = 'plpython/bgjobs_channels.py'
    exec(compile(_src, 'plpython/bgjobs_channels.py', 'exec'), _mod.__dict__)
    _sys.modules['bgjobs_channels'] = _mod
    GD['bgjobs_mod:bgjobs_channels:c113d8107ed4f861'] = _mod
bgjobs_channels = GD['bgjobs_mod:bgjobs_channels:c113d8107ed4f861']
if 'bgjobs_mod:bgjobs_delivery:0a4aaaad7ac9d6df' not in GD:
    import sys as _sys, types as _types
    _src = plpy.execute("SELECT source FROM bgjobs.plpython_modules WHERE name = 'bgjobs_delivery'")[0]['source']
    _mod = _types.ModuleType('bgjobs_delivery')
    _mod.__file__ = 'plpython/bgjobs_delivery.py'
    exec(compile(_src, 'plpython/bgjobs_delivery.py', 'exec'), _mod.__dict__)
    _sys.modules['bgjobs_delivery'] = _mod
    GD['bgjobs_mod:bgjobs_delivery:0a4aaaad7ac9d6df'] = _mod
bgjobs_delivery = GD['bgjobs_mod:bgjobs_delivery:0a4aaaad7ac9d6df']
import json

deliverer = "in-database"
config = json.loads(plpy.execute("SELECT bgjobs.delivery_config()::text AS c")[0]["c"])
if "bgjobs_claim_plan" not in SD:
    SD["bgjobs_claim_plan"] = plpy.prepare(
        "SELECT tenant_id::text, id::text, channel, recipient, template, payload::text AS payload, "
        "attempts, timezone FROM bgjobs.claim_notifications($1, $2, $3)",
        ["timestamptz", "integer", "text"])
    SD["bgjobs_record_plan"] = plpy.prepare(
        "SELECT bgjobs.record_deliveries($1::jsonb, $2, $3)::text AS r",
        ["text", "timestamptz", "text"])
rows = plpy.execute(SD["bgjobs_claim_plan"], [p_as_of, int(config.get("batch_size", 100)), deliverer])
claimed = rows.nrows()
results = bgjobs_delivery.deliver([dict(r) for r in rows], config) if claimed else []
recorded = {"sent": 0, "failed": 0, "dead": 0, "deferred": 0}
if results:
    recorded = json.loads(plpy.execute(SD["bgjobs_record_plan"], [json.dumps(results), p_as_of, deliverer])[0]["r"])
left = claimed - sum(recorded.values())
return json.dumps({
    "claimed": claimed,
    "sent": recorded["sent"],
    "retrying": recorded["failed"],
    "dead": recorded["dead"],
    "deferred": recorded["deferred"],
    "leftForNextRun": left,
    "recordsUpdated": recorded["sent"] + recorded["failed"] + recorded["dead"],
})
$_$;

CREATE FUNCTION bgjobs.job_purge_old_logs(p_as_of timestamp with time zone, p_tenants uuid[] DEFAULT NULL::uuid[]) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $_$
DECLARE
  v_days_jobs  integer := coalesce(bgjobs.get_setting('retention_days_jobs_log', '90')::integer, 0);
  v_days_audit integer := coalesce(bgjobs.get_setting('retention_days_audit_log', '90')::integer, 0);
  v_days_auto  integer := coalesce(bgjobs.get_setting('retention_days_automation_logs', '180')::integer, 0);
  v_days_notif integer := coalesce(bgjobs.get_setting('retention_days_notifications', '90')::integer, 0);
  v_days_cron  integer := coalesce(bgjobs.get_setting('retention_days_cron_run_details', '30')::integer, 0);
  v_jobs   integer := 0;
  v_audit  integer := 0;
  v_auto   integer := 0;
  v_notif  integer := 0;
  v_cron   integer;
  v_other  integer := 0;
  v_n      integer;
BEGIN
  IF v_days_jobs > 0 THEN
    DELETE FROM public.jobs_log j
     WHERE j.started_at < p_as_of - make_interval(days => v_days_jobs)
       AND j.status <> 'running';
    GET DIAGNOSTICS v_jobs = ROW_COUNT;
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
  END IF;
  IF v_days_notif > 0 THEN
    DELETE FROM public.notifications n
     WHERE n.created_at < p_as_of - make_interval(days => v_days_notif)
       AND n.status IN ('sent', 'dead', 'cancelled');
    GET DIAGNOSTICS v_notif = ROW_COUNT;
  END IF;
  IF v_days_cron > 0 AND to_regclass('cron.job_run_details') IS NOT NULL THEN
    EXECUTE format('DELETE FROM %I.%I WHERE start_time < $1', 'cron', 'job_run_details')
      USING p_as_of - make_interval(days => v_days_cron);
    GET DIAGNOSTICS v_cron = ROW_COUNT;
  END IF;
  DELETE FROM public.job_heartbeats h
   WHERE h.created_at < p_as_of - interval '90 days'
     AND h.last_run_at < p_as_of - interval '30 days'
     AND NOT EXISTS (SELECT 1 FROM bgjobs.job_registry r WHERE r.job_name = h.job_name);
  GET DIAGNOSTICS v_n = ROW_COUNT;
  v_other := v_other + v_n;

  RETURN jsonb_build_object(
    'jobsLog', v_jobs, 'auditLog', v_audit, 'automationLogs', v_auto, 'notifications', v_notif,
    'cronJobRunDetails', v_cron, 'other', v_other,
    'retentionDays', jsonb_build_object('jobs_log', v_days_jobs, 'audit_log', v_days_audit,
                                        'automation_logs', v_days_auto, 'notifications', v_days_notif,
                                        'cron_job_run_details', v_days_cron),
    'recordsUpdated', v_jobs + v_audit + v_auto + v_notif + coalesce(v_cron, 0) + v_other);
END;
$_$;

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

CREATE FUNCTION bgjobs.job_stats(p_as_of timestamp with time zone DEFAULT now()) RETURNS TABLE(job_name text, last_run_at timestamp with time zone, last_status text, last_duration_seconds numeric, last_records_updated integer, last_error text, health_status text, runs_24h bigint, successes_24h bigint, failures_24h bigint, success_rate_24h numeric, runs_7d bigint, successes_7d bigint, failures_7d bigint, success_rate_7d numeric, runs_30d bigint, successes_30d bigint, failures_30d bigint, success_rate_30d numeric, records_updated_24h bigint, p50_duration_seconds numeric, p95_duration_seconds numeric, avg_duration_seconds numeric, max_duration_seconds numeric, health_score numeric, health_label text, next_expected_run timestamp with time zone)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
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
  IF NOT EXISTS (SELECT 1 FROM bgjobs.silences s
                  WHERE (s.job_name IS NULL OR s.job_name = NEW.job_name)
                    AND s.starts_at <= now() AND s.until > now()) THEN
    PERFORM bgjobs.enqueue_alert('job_failure', v_payload, 'job_failure:' || NEW.id::text);
  END IF;
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
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  WITH r AS (
    SELECT DISTINCT ON (x.tenant_id, x.id) x.*
      FROM jsonb_to_recordset(coalesce(p_results, '[]'::jsonb))
           AS x(tenant_id uuid, id uuid, status text, error text, retry_in numeric)
     WHERE x.status IN ('sent', 'failed', 'dead', 'deferred')
  ),
  u AS (
    UPDATE public.notifications n
       SET status = CASE r.status WHEN 'deferred' THEN n.status ELSE r.status END,
           attempts = n.attempts + CASE r.status WHEN 'deferred' THEN 0 ELSE 1 END,
           sent_at = CASE r.status WHEN 'sent' THEN clock_timestamp() ELSE n.sent_at END,
           next_attempt_at = CASE WHEN r.status IN ('failed', 'deferred')
                                  THEN p_as_of + make_interval(secs => greatest(coalesce(r.retry_in, 30), 1))
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

CREATE FUNCTION public.job_metrics(as_of timestamp with time zone DEFAULT now(), job_name text DEFAULT NULL::text) RETURNS jsonb
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
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
           'schedule', CASE WHEN r.tenant_local THEN to_char(r.local_time, 'HH24:MI') || ' tenant-local' ELSE r.schedule END,
           'enabled', r.enabled,
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
    FROM s JOIN bgjobs.job_registry r ON r.job_name = s.job_name
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
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
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
    SELECT 8, 'bgjobs_job_duration_seconds', 'gauge', 'Duration quantiles of the last 100 successful runs.',
           string_agg(format('bgjobs_job_duration_seconds{job="%s",quantile="%s"} %s', j, q.q, q.v), E'\n' ORDER BY j, q.q)
      FROM lbl CROSS JOIN LATERAL (VALUES ('0.5', p50_duration_seconds), ('0.95', p95_duration_seconds)) q(q, v)
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

CREATE FUNCTION public.silence_job(job_name text, until timestamp with time zone, reason text) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
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
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
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
    st.next_expected_run,
    st.success_rate_24h,
    st.p95_duration_seconds,
    al.alert_severity,
    COALESCE(al.alerts, '{}'::text[]) AS alerts,
    sil.until AS silenced_until
   FROM (((((((bgjobs.job_registry r
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
          WHERE ((j.job_name = r.job_name) AND (j.started_at > (now() - '7 days'::interval)))) w)
     LEFT JOIN bgjobs.job_stats(now()) st(job_name, last_run_at, last_status, last_duration_seconds, last_records_updated, last_error, health_status, runs_24h, successes_24h, failures_24h, success_rate_24h, runs_7d, successes_7d, failures_7d, success_rate_7d, runs_30d, successes_30d, failures_30d, success_rate_30d, records_updated_24h, p50_duration_seconds, p95_duration_seconds, avg_duration_seconds, max_duration_seconds, health_score, health_label, next_expected_run) ON ((st.job_name = r.job_name)))
     LEFT JOIN LATERAL ( SELECT (array_agg(a.severity ORDER BY (array_position(ARRAY['CRITICAL'::text, 'WARNING'::text, 'INFO'::text], a.severity))))[1] AS alert_severity,
            array_agg(a.rule ORDER BY a.rule) AS alerts
           FROM bgjobs.alert_state a
          WHERE ((a.subject = r.job_name) AND (a.state = 'firing'::text))) al ON (true))
     LEFT JOIN LATERAL ( SELECT max(s.until) AS until
           FROM bgjobs.silences s
          WHERE (((s.job_name IS NULL) OR (s.job_name = r.job_name)) AND (s.starts_at <= now()) AND (s.until > now()))) sil ON (true));

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

CREATE INDEX jobs_log_effective_idx ON public.jobs_log USING btree (COALESCE(as_of, started_at));

CREATE INDEX jobs_log_job_effective_idx ON public.jobs_log USING btree (job_name, COALESCE(as_of, started_at) DESC) WHERE (status <> 'skipped'::text);

CREATE INDEX jobs_log_job_started_idx ON public.jobs_log USING btree (job_name, started_at DESC);

CREATE INDEX jobs_log_running_idx ON public.jobs_log USING btree (job_name) WHERE (status = 'running'::text);

CREATE INDEX jobs_log_started_idx ON public.jobs_log USING btree (started_at);

CREATE INDEX notifications_created_idx ON public.notifications USING btree (created_at);

CREATE INDEX notifications_due_idx ON public.notifications USING btree (next_attempt_at) WHERE (status = ANY (ARRAY['pending'::text, 'failed'::text]));

CREATE INDEX payment_plans_id_idx ON public.payment_plans USING btree (id);

CREATE INDEX tasks_open_due_idx ON public.tasks USING btree (tenant_id, due_date) WHERE (status = ANY (ARRAY['Open'::text, 'In Progress'::text]));

CREATE INDEX tasks_overdue_pending_idx ON public.tasks USING btree ((
CASE
    WHEN ((status = ANY (ARRAY['Open'::text, 'In Progress'::text])) AND (NOT is_overdue)) THEN due_date
    ELSE NULL::timestamp with time zone
END));

CREATE INDEX tasks_sla_pending_idx ON public.tasks USING btree (priority, (
CASE
    WHEN ((status = ANY (ARRAY['Open'::text, 'In Progress'::text])) AND (NOT sla_violated)) THEN due_date
    ELSE NULL::timestamp with time zone
END));

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

REVOKE ALL ON FUNCTION bgjobs.apply_alerts(p_as_of timestamp with time zone, p_rules text[], p_findings jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.begin_run(p_job_name text, p_as_of timestamp with time zone, p_trigger text, p_session_lock boolean, OUT run_id uuid, OUT skipped boolean) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.claim_notifications(p_as_of timestamp with time zone, p_limit integer, p_deliverer text) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.claim_notifications(p_as_of timestamp with time zone, p_limit integer, p_deliverer text) TO bgjobs_admin;

REVOKE ALL ON FUNCTION bgjobs.cron_jobs() FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.cron_jobs() TO bgjobs_admin;
GRANT ALL ON FUNCTION bgjobs.cron_jobs() TO bgjobs_viewer;

REVOKE ALL ON FUNCTION bgjobs.cron_next(p_schedule text, p_timezone text, p_after timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.cron_next(p_schedule text, p_timezone text, p_after timestamp with time zone) TO bgjobs_admin;
GRANT ALL ON FUNCTION bgjobs.cron_next(p_schedule text, p_timezone text, p_after timestamp with time zone) TO bgjobs_viewer;

REVOKE ALL ON FUNCTION bgjobs.cron_prev(p_schedule text, p_timezone text, p_at timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.delivery_config() FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.delivery_config() TO bgjobs_admin;

REVOKE ALL ON FUNCTION bgjobs.detect_job_issues(p_as_of timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.detect_stale_heartbeats(p_as_of timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.detect_system_issues(p_as_of timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.due_tenants(p_job_name text, p_as_of timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.enqueue_alert(p_template text, p_payload jsonb, p_dedupe_key text) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.execute_run(p_run_id uuid, p_job_name text, p_as_of timestamp with time zone, p_tenants uuid[], p_mark_tenants boolean) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.fire_automation_events(p_as_of timestamp with time zone, p_tenant_ids uuid[], p_events text[], p_entity_types text[], p_entity_ids uuid[], p_event_keys text[], p_data jsonb[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.get_secret(p_name text) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.get_secret(p_name text) TO bgjobs_admin;

REVOKE ALL ON FUNCTION bgjobs.get_setting(p_key text, p_default text) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.get_setting(p_key text, p_default text) TO bgjobs_admin;

REVOKE ALL ON FUNCTION bgjobs.installments_set_tenant() FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.job_analytics_snapshot(p_as_of timestamp with time zone, p_tenants uuid[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.job_automation_health_check(p_as_of timestamp with time zone, p_tenants uuid[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.job_check_job_health(p_as_of timestamp with time zone, p_tenants uuid[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.job_check_sla_and_overdue(p_as_of timestamp with time zone, p_tenants uuid[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.job_check_upcoming_deadlines(p_as_of timestamp with time zone, p_tenants uuid[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.job_cron_healthcheck(p_as_of timestamp with time zone, p_tenants uuid[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.job_deliver_notifications(p_as_of timestamp with time zone, p_tenants uuid[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.job_purge_old_logs(p_as_of timestamp with time zone, p_tenants uuid[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.job_send_hearing_reminders(p_as_of timestamp with time zone, p_tenants uuid[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.job_stats(p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.job_stats(p_as_of timestamp with time zone) TO bgjobs_admin;
GRANT ALL ON FUNCTION bgjobs.job_stats(p_as_of timestamp with time zone) TO bgjobs_viewer;

REVOKE ALL ON FUNCTION bgjobs.job_update_installment_statuses(p_as_of timestamp with time zone, p_tenants uuid[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.jobs_log_on_failure() FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.lock_held(p_job_name text, p_pid integer) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.lock_held(p_job_name text, p_pid integer) TO bgjobs_admin;
GRANT ALL ON FUNCTION bgjobs.lock_held(p_job_name text, p_pid integer) TO bgjobs_viewer;

REVOKE ALL ON FUNCTION bgjobs.next_expected_run(p_job_name text, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.next_expected_run(p_job_name text, p_as_of timestamp with time zone) TO bgjobs_admin;
GRANT ALL ON FUNCTION bgjobs.next_expected_run(p_job_name text, p_as_of timestamp with time zone) TO bgjobs_viewer;

REVOKE ALL ON FUNCTION bgjobs.reap_stale_runs(p_cancel_overdue boolean) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.record_deliveries(p_results jsonb, p_as_of timestamp with time zone, p_deliverer text) FROM PUBLIC;
GRANT ALL ON FUNCTION bgjobs.record_deliveries(p_results jsonb, p_as_of timestamp with time zone, p_deliverer text) TO bgjobs_admin;

REVOKE ALL ON FUNCTION bgjobs.release_run_lock(p_job_name text) FROM PUBLIC;

REVOKE ALL ON PROCEDURE bgjobs.run_scheduled_job(IN p_job_name text, IN p_as_of timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.skipped_response(p_run_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.tasks_reset_overdue() FROM PUBLIC;

REVOKE ALL ON FUNCTION bgjobs.tenants_check_timezone() FROM PUBLIC;

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

GRANT SELECT ON TABLE public.job_alerts TO bgjobs_admin;
GRANT SELECT ON TABLE public.job_alerts TO bgjobs_viewer;

GRANT SELECT ON TABLE public.job_silences TO bgjobs_admin;
GRANT SELECT ON TABLE public.job_silences TO bgjobs_viewer;

GRANT SELECT,INSERT,DELETE ON TABLE public.jobs_log TO bgjobs_admin;
GRANT SELECT ON TABLE public.jobs_log TO bgjobs_viewer;

GRANT SELECT ON TABLE public.job_status TO bgjobs_admin;
GRANT SELECT ON TABLE public.job_status TO bgjobs_viewer;

GRANT SELECT ON TABLE public.job_success_rates TO bgjobs_admin;
GRANT SELECT ON TABLE public.job_success_rates TO bgjobs_viewer;

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
