-- bgjobs security: least privilege from install to every run.
--  * bgjobs_runner (LOGIN, no password, not a superuser): the role pg_cron runs bgjobs'
--    jobs as (pg_cron 1.4 runs a job only as a role with LOGIN).  It holds exactly what
--    the runtime and the seeds' jobs need, granted here; a DBA grants it what their own
--    jobs need.
--  * bgjobs_deliverer (NOLOGIN): the only role that reads secrets back, through
--    bgjobs.delivery_config(); DBAs grant it to the login role of `bgjobs worker`.
--  * the typed settings spec (bgjobs.setting_spec), filled by bgjobs install from its one
--    home (installer/bgjobs/settings.py) and enforced on app_settings by a trigger.
--  * bgjobs_viewer no longer reads notifications.dedupe_key or last_error (both may carry
--    a recipient's address).
-- depends: 0003.monitoring

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bgjobs_runner') THEN
        CREATE ROLE bgjobs_runner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bgjobs_deliverer') THEN
        CREATE ROLE bgjobs_deliverer NOLOGIN;
    END IF;
END
$$;

CREATE TABLE bgjobs.setting_spec (
    key           text PRIMARY KEY,
    type          text NOT NULL CHECK (type IN ('integer', 'number', 'boolean', 'choice', 'email',
                                                'email_list', 'url', 'host', 'port', 'text')),
    default_value text NOT NULL,
    min_value     numeric,
    max_value     numeric,
    choices       text[],
    optional      boolean NOT NULL DEFAULT false,   -- an empty value means "not set"
    description   text NOT NULL DEFAULT ''
);
COMMENT ON TABLE bgjobs.setting_spec IS
  'The type, range and default of every app_settings key; written by bgjobs install from installer/bgjobs/settings.py.';
REVOKE ALL ON bgjobs.setting_spec FROM PUBLIC;

-- The routines the last install created (identity as regprocedure text): an install drops
-- those that the new release no longer defines.
CREATE TABLE bgjobs.installed_routines (
    identity     text PRIMARY KEY,
    installed_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON bgjobs.installed_routines FROM PUBLIC;

-- Runtime: what a run records, and what the monitoring and delivery jobs maintain.
GRANT USAGE ON SCHEMA bgjobs TO bgjobs_runner, bgjobs_deliverer;
GRANT SELECT ON bgjobs.job_registry, bgjobs.setting_spec TO bgjobs_runner;
GRANT SELECT, DELETE ON bgjobs.silences TO bgjobs_runner;            -- retention ends old silences
GRANT SELECT, INSERT, UPDATE, DELETE ON bgjobs.tenant_job_runs, bgjobs.alert_state TO bgjobs_runner;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.jobs_log, public.audit_log, public.job_heartbeats,
    public.notifications TO bgjobs_runner;
GRANT SELECT ON public.app_settings TO bgjobs_runner;
GRANT SELECT ON bgjobs.setting_spec TO bgjobs_admin, bgjobs_viewer;
-- the plpython/ modules' source (our own code, nothing secret) for the PL/Python loaders
GRANT SELECT ON bgjobs.plpython_modules TO bgjobs_runner, bgjobs_deliverer, bgjobs_admin, bgjobs_viewer;

-- The seeds' application: what its six jobs read and write (retention deletes old
-- automation_logs).
GRANT SELECT ON public.tenants, public.users, public.courts, public.cases, public.hearings,
    public.documents, public.automation_rules, public.payment_plans TO bgjobs_runner;
GRANT SELECT, UPDATE ON public.tasks, public.installments TO bgjobs_runner;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.automation_logs TO bgjobs_runner;
GRANT SELECT, INSERT, UPDATE ON public.analytics_snapshots TO bgjobs_runner;

-- Recipients stay out of the viewer's reach.
REVOKE SELECT (dedupe_key, last_error) ON public.notifications FROM bgjobs_viewer;
