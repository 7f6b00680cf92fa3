-- bgjobs.job_purge_old_logs(as_of, tenants): body of `purge-old-logs` (daily).  Retention
-- per app_settings (operations guide: audit_log 90 days, automation_logs 180 days,
-- cron.job_run_details 30 days):
--   jobs_log (finished runs)           retention_days_jobs_log (90)     by started_at
--   bgjobs.watch_runs (finished runs of monitor-only jobs) the same retention, by their time
--   audit_log                          retention_days_audit_log (90)    by timestamp
--   automation_logs                    retention_days_automation_logs (180) by executed_at
--   bgjobs_app.automation_events       the same retention, by fired_at
--   notifications (sent, dead, cancelled) retention_days_notifications (90) by created_at
--   cron.job_run_details               retention_days_cron_run_details (30) by start_time,
--                                      when pg_cron's schema is in this database: only
--                                      bgjobs_runner's runs unless retention_cron_all_users
--   expired silences and resolved alert state older than the jobs_log retention
--   heartbeats of jobs bgjobs does not know that stopped long ago (runbook's example:
--   created over 90 days and last run over 30 days before as_of)
-- A setting of 0 (or empty) keeps that table forever.  pg_cron never purges its run
-- history itself (pg_cron #416), hence this job.
CREATE OR REPLACE FUNCTION bgjobs.job_purge_old_logs(p_as_of timestamptz, p_tenants uuid[] DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path TO pg_catalog, pg_temp
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
COMMENT ON FUNCTION bgjobs.job_purge_old_logs(timestamptz, uuid[]) IS
  'purge-old-logs: retention of jobs_log, audit_log, automation_logs, notifications, cron.job_run_details (retention_days_* settings).';
REVOKE ALL ON FUNCTION bgjobs.job_purge_old_logs(timestamptz, uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.job_purge_old_logs(timestamptz, uuid[]) TO bgjobs_runner;
