-- bgjobs.job_cron_healthcheck(as_of, tenants): body of `cron-healthcheck` (every 6 hours),
-- the runbook's healthcheck: heartbeats not updated for 24 hours (job_heartbeats.last_run_at)
-- are stale; a stale job alerted less than 6 hours ago (last_alert_at) is suppressed
-- (suppressed_alerts); otherwise an alert goes to Slack and email and last_alert_at is set.
-- A stale job that reports again gets one resolved notice.
CREATE OR REPLACE FUNCTION bgjobs.job_cron_healthcheck(p_as_of timestamptz, p_tenants uuid[] DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path TO pg_catalog, pg_temp
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
COMMENT ON FUNCTION bgjobs.job_cron_healthcheck(timestamptz, uuid[]) IS
  'cron-healthcheck: stale heartbeats (24h) with the runbook''s 6h anti-spam on last_alert_at.';
REVOKE ALL ON FUNCTION bgjobs.job_cron_healthcheck(timestamptz, uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.job_cron_healthcheck(timestamptz, uuid[]) TO bgjobs_runner;
