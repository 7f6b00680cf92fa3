-- bgjobs.detect_system_issues(as_of): system-wide findings at as_of (operations guide's
-- alerting rules), one row per bad (subject, rule):
--  * no_jobs_24h (CRITICAL): no job (other than the two monitoring jobs themselves) ran in
--    the 24 hours up to as_of; not raised during the first 24 hours after install.
--  * low_success_rate (WARNING): success / completed runs over those 24 hours below
--    success_rate_warning_pct (90).
--  * delivery_rate (INFO): of the notifications created in those 24 hours that reached an
--    outcome, fewer than delivery_rate_info_pct (99) % were sent.
--  * rule_storm (INFO, per automation rule): triggered more than rule_storm_per_hour (10)
--    times in the hour up to as_of.
--  * analytics_anomaly (INFO, per tenant and metric type): the latest analytics snapshot of
--    the last two days has metric_value->>'anomaly_detected' = 'true'.
-- PL/pgSQL, not SQL: Citus cannot plan a parameterised SQL-language function's statement
-- over distributed tables (automation_logs, analytics_snapshots, tenants).
CREATE OR REPLACE FUNCTION bgjobs.detect_system_issues(p_as_of timestamptz)
RETURNS TABLE (subject text, rule text, severity text, display_name text, summary text, details jsonb)
LANGUAGE plpgsql
STABLE
SET search_path TO pg_catalog, pg_temp
SET jit TO off
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
COMMENT ON FUNCTION bgjobs.detect_system_issues(timestamptz) IS
  'System findings at as_of: no_jobs_24h, low_success_rate, delivery_rate, rule_storm, analytics_anomaly.';
REVOKE ALL ON FUNCTION bgjobs.detect_system_issues(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.detect_system_issues(timestamptz) TO bgjobs_runner;
