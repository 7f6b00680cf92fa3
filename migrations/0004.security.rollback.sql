-- Rollback of 0004.security.  The roles are cluster-wide and are kept.
GRANT SELECT (dedupe_key, last_error) ON public.notifications TO bgjobs_viewer;
REVOKE ALL ON public.tenants, public.users, public.courts, public.cases, public.hearings,
    public.documents, public.automation_rules, public.payment_plans, public.tasks, public.installments,
    public.automation_logs, public.analytics_snapshots, public.jobs_log, public.audit_log,
    public.job_heartbeats, public.notifications, public.app_settings FROM bgjobs_runner;
REVOKE ALL ON ALL TABLES IN SCHEMA bgjobs FROM bgjobs_runner, bgjobs_deliverer;
REVOKE USAGE ON SCHEMA bgjobs FROM bgjobs_runner, bgjobs_deliverer;
DROP TABLE IF EXISTS bgjobs.setting_spec, bgjobs.installed_routines;
