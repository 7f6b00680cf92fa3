-- bgjobs.job_check_job_health(as_of, tenants): body of the hourly `check-job-health` job.
-- 1. Cancels runs past their job's hard timeout (bgjobs.reap_stale_runs(true): the run is
--    cancelled and its own handler records it failed) and reaps abandoned runs.  SECURITY
--    DEFINER is not needed: the body runs inside bgjobs.execute_run, a definer function.
-- 2. Evaluates every per-job rule (missed_run, consecutive_failures, slow_run) and every
--    system rule (no_jobs_24h, low_success_rate, delivery_rate, rule_storm,
--    analytics_anomaly) at as_of, and feeds the findings to the alert state machine.
-- Result: status 'critical' | 'warning' | 'ok' (the worst finding; INFO findings leave it
-- 'ok'), the findings (at most 100), the alert counts; recordsUpdated = messages queued.
CREATE OR REPLACE FUNCTION bgjobs.job_check_job_health(p_as_of timestamptz, p_tenants uuid[] DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path TO pg_catalog, pg_temp
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
COMMENT ON FUNCTION bgjobs.job_check_job_health(timestamptz, uuid[]) IS
  'check-job-health: cancels overdue runs; missed runs, failures, slow runs, system rules; alert state. Returns status ok|warning|critical.';
REVOKE ALL ON FUNCTION bgjobs.job_check_job_health(timestamptz, uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.job_check_job_health(timestamptz, uuid[]) TO bgjobs_runner;
