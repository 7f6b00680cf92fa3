-- bgjobs_app.job_automation_health_check(as_of, tenants): body of automation-health-check
-- (07:00 UTC).  Over the automation_logs of the 24 hours up to as_of (executed_at in
-- (as_of - 24h, as_of]), per rule: executions, successes, failures.  Findings, per tenant:
--   CRITICAL  a rule's success rate is below automation_critical_success_pct (80);
--   WARNING   a rule's failure rate is above automation_degraded_failure_pct (20) and it
--             is not already CRITICAL (a degraded rule);
--   WARNING   an active rule has not executed for automation_inactive_hours (48) (rules
--             created less than that long ago are not yet judged);
--   INFO      the tenant's overall success rate is below automation_info_success_pct (95).
-- Each tenant with findings gets one automation_health email per admin user
-- (users.role = 'admin') in the outbox, once per tenant, admin and UTC date.
-- Results: the seeds' HealthMetrics over all tenants in scope (total_executions,
-- successful_executions, failed_executions, success_rate in percent (100 when nothing
-- ran), inactive_rules as rule names, degraded_rules as {rule_id, rule_name, failure_rate}),
-- tenantsWithFindings, critical, warning, info, notificationsQueued, recordsUpdated.
CREATE OR REPLACE FUNCTION bgjobs_app.job_automation_health_check(p_as_of timestamptz, p_tenants uuid[])
RETURNS jsonb
LANGUAGE plpgsql
SET search_path TO pg_catalog, pg_temp
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
COMMENT ON FUNCTION bgjobs_app.job_automation_health_check(timestamptz, uuid[]) IS
  'automation-health-check: per-rule success rates over 24 h, degraded/critical/inactive rules; findings to tenant admins via the outbox.';
REVOKE ALL ON FUNCTION bgjobs_app.job_automation_health_check(timestamptz, uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs_app.job_automation_health_check(timestamptz, uuid[]) TO bgjobs_runner;
