-- bgjobs_app.job_analytics_snapshot(as_of, tenants): body of analytics-snapshot (23:59 in each
-- tenant's zone).  One analytics_snapshots row per tenant (NULL: all) and local date of
-- as_of, metric_type 'daily_snapshot', upserted (a second run with the same figures changes
-- nothing).  metric_value holds, as of as_of:
--   case_count               active cases;
--   task_completion_rate     Completed / tasks (Cancelled tasks left out), NULL with no task;
--   sla_compliance_rate      tasks within their SLA / tasks (Cancelled left out): a task is
--                            outside it when it is open past due_date + sla_hours_<priority>,
--                            or was completed after that moment;
--   hearing_attendance_rate  Attended / hearings held (hearing_date <= as_of, not Cancelled);
--   document_count           documents;
--   overdue_tasks            open tasks with due_date < as_of;
--   anomaly_detected, anomalies: the metrics deviating more than anomaly_threshold_pct (30)
--                            percent from their average over the tenant's snapshots of the 7
--                            previous local dates ({metric, value, average, deviation_pct}).
-- Rates are fractions (0.87), rounded to 4 places.
-- Results: tenantsProcessed, snapshotsWritten, anomaliesDetected, recordsUpdated.
CREATE OR REPLACE FUNCTION bgjobs_app.job_analytics_snapshot(p_as_of timestamptz, p_tenants uuid[])
RETURNS jsonb
LANGUAGE plpgsql
SET search_path TO pg_catalog, pg_temp
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
COMMENT ON FUNCTION bgjobs_app.job_analytics_snapshot(timestamptz, uuid[]) IS
  'analytics-snapshot: one daily_snapshot per tenant and local date (upsert) with the six metrics and anomalies against the 7-day average.';
REVOKE ALL ON FUNCTION bgjobs_app.job_analytics_snapshot(timestamptz, uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs_app.job_analytics_snapshot(timestamptz, uuid[]) TO bgjobs_runner;
