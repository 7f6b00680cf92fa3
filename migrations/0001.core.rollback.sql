-- Rollback of 0001.core: drops the runtime tables and the bgjobs schema (and what is in it).
DROP TABLE IF EXISTS public.notifications, public.app_settings, public.job_heartbeats,
    public.audit_log, public.jobs_log;
DROP SCHEMA IF EXISTS bgjobs CASCADE;
