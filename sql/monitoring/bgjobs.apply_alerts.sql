-- bgjobs.apply_alerts(as_of, rules, findings): the alert state machine, set-based.
-- findings is a jsonb array of {subject, rule, severity, display_name, summary, details}:
-- every (subject, rule) of the given rules that is bad at as_of.  Per (subject, rule):
--  * entering the bad state: one job_alert, unless silenced;
--  * still bad: another after alert_suppression_hours (6) since the last one
--    (Alertmanager's repeat_interval; the runbook's anti-spam), at once if the severity
--    rose (WARNING -> CRITICAL), and at once when a silence that held the first alert
--    back has ended;
--  * stale_heartbeat follows the runbook exactly: its clock is job_heartbeats.last_alert_at
--    (no alert within 6 hours of it, so `UPDATE job_heartbeats SET last_alert_at = now()`
--    silences and `= NULL` forces an alert), and sending an alert sets it to as_of;
--  * monitor-only jobs (bgjobs.watched_jobs) with a heartbeat row keep the runbook's
--    emergency SQL: `UPDATE job_heartbeats SET last_alert_at = NULL` sends their firing
--    alerts again at the next evaluation, `= now()` (later than their last alert) holds
--    them back for the window from then; sending one sets last_alert_at to as_of;
--  * a firing (subject, rule) of these rules that is not among the findings is resolved:
--    one alert_resolved notice if any alert of the episode was sent (even during a
--    silence: people were told it was bad; Alertmanager #226), none if the job was disabled.
-- Silences: bgjobs.silences rows covering as_of for the subject (or for all), and maintenance
-- windows covering as_of (bgjobs.maintenance_until): the alert is held, sent after if still bad.
-- Alerts go out through bgjobs.enqueue_alert with dedupe keys per (subject, rule, episode,
-- notification number), so a replayed evaluation never queues a message twice.
-- A failed run's alert is this machine's consecutive_failures rule: its first message of an
-- episode uses the seeds' 'job_failure' format (Job Failed: name, error, time), the later
-- ones (escalation, reminders) 'job_alert'.
-- p_subjects (the 4-argument form) limits the evaluation to those subjects: findings of
-- other subjects are ignored and only their alerts can resolve (the jobs_log trigger
-- evaluates one job; the worker's watchdog the subject 'scheduler').
-- Returns counts: alerts, repeats, escalations, suppressed, silenced, resolved, queued.
CREATE OR REPLACE FUNCTION bgjobs.apply_alerts(p_as_of timestamptz, p_rules text[], p_findings jsonb,
                                               p_subjects text[])
RETURNS jsonb
LANGUAGE plpgsql
SET search_path TO pg_catalog, pg_temp
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
COMMENT ON FUNCTION bgjobs.apply_alerts(timestamptz, text[], jsonb, text[]) IS
  'Alert state machine: alert on entering a bad state, repeat after the suppression window, resolve; silences. Limited to p_subjects unless NULL.';
REVOKE ALL ON FUNCTION bgjobs.apply_alerts(timestamptz, text[], jsonb, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.apply_alerts(timestamptz, text[], jsonb, text[]) TO bgjobs_runner;

-- The 3-argument form: every subject (check-job-health, cron-healthcheck).
CREATE OR REPLACE FUNCTION bgjobs.apply_alerts(p_as_of timestamptz, p_rules text[], p_findings jsonb)
RETURNS jsonb
LANGUAGE sql
SET search_path TO pg_catalog, pg_temp
AS $$ SELECT bgjobs.apply_alerts(p_as_of, p_rules, p_findings, NULL::text[]) $$;
COMMENT ON FUNCTION bgjobs.apply_alerts(timestamptz, text[], jsonb) IS
  'Alert state machine over every subject: bgjobs.apply_alerts(as_of, rules, findings, NULL).';
REVOKE ALL ON FUNCTION bgjobs.apply_alerts(timestamptz, text[], jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.apply_alerts(timestamptz, text[], jsonb) TO bgjobs_runner;
