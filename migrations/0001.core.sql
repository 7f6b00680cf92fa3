-- bgjobs core: the runtime's tables (registry, run log, audit, heartbeats, settings,
-- secrets, notification outbox).  Functions and views are not here: they live one per
-- file under sql/ and are re-applied on every install.
-- depends:

-- The two roles are cluster-wide; bgjobs install creates them before migrating, this
-- only makes the migration self-contained.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bgjobs_admin') THEN
        CREATE ROLE bgjobs_admin NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bgjobs_viewer') THEN
        CREATE ROLE bgjobs_viewer NOLOGIN;
    END IF;
END
$$;

CREATE SCHEMA IF NOT EXISTS bgjobs;
COMMENT ON SCHEMA bgjobs IS 'bgjobs internals: job registry, secrets, per-tenant run marks, alert state. Not for applications.';
REVOKE ALL ON SCHEMA bgjobs FROM PUBLIC;

-- Nil uuid = "the system": rows that belong to no tenant (job runs, operational alerts).
CREATE TABLE bgjobs.job_registry (
    job_name          text PRIMARY KEY,
    description       text NOT NULL DEFAULT '',
    schedule          text NOT NULL,                 -- pg_cron expression (UTC) of the tick
    cron_jobname      text,                          -- the pg_cron job name actually used
    function_schema   text NOT NULL DEFAULT 'bgjobs',
    function_name     text NOT NULL,                 -- f(p_as_of timestamptz, p_tenants uuid[]) RETURNS jsonb
    tenant_local      boolean NOT NULL DEFAULT false,
    local_time        time,                          -- tenant-local jobs: the local time of day
    timezone          text NOT NULL DEFAULT 'UTC',   -- zone the schedule is read in (missed-run math)
    expected_interval interval NOT NULL DEFAULT '1 day',
    expected_duration interval,                      -- NULL: use the job's own recent p95
    timeout           interval NOT NULL DEFAULT '30 minutes',
    grace             interval NOT NULL DEFAULT '1 hour',
    stale_after       interval NOT NULL DEFAULT '24 hours',
    enabled           boolean NOT NULL DEFAULT true,
    registered_at     timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT job_registry_local_time_ck CHECK (NOT tenant_local OR local_time IS NOT NULL),
    CONSTRAINT job_registry_timeout_ck CHECK (timeout > interval '0')
);
COMMENT ON TABLE bgjobs.job_registry IS 'Every bgjobs job: schedule, body function, expectations. Written by bgjobs install from its registry and settings file.';

CREATE TABLE bgjobs.secrets (
    name       text PRIMARY KEY CHECK (name ~ '^[A-Z][A-Z0-9_]*$'),
    value      text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE bgjobs.secrets IS 'Secrets (webhook URLs, API keys, SMTP credentials). No role is granted access: read only through definer functions.';

-- The plain modules of plpython/, embedded into PL/Python functions (one copy of the
-- channel code and schedule math for the database and for `bgjobs worker`).
CREATE TABLE bgjobs.plpython_modules (
    name       text PRIMARY KEY,
    source     text NOT NULL,
    sha256     text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per (job, tenant, tenant-local date) handled by a scheduled tick.
CREATE TABLE bgjobs.tenant_job_runs (
    job_name   text NOT NULL,
    tenant_id  uuid NOT NULL,
    local_date date NOT NULL,
    run_id     uuid,
    handled_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, job_name, local_date)
);

CREATE TABLE public.jobs_log (
    id              uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    job_name        text NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz,
    records_updated integer NOT NULL DEFAULT 0,
    status          text NOT NULL DEFAULT 'running'
                    CHECK (status IN ('running', 'success', 'failed', 'skipped')),
    error_message   text,
    as_of           timestamptz,
    trigger         text NOT NULL DEFAULT 'manual' CHECK (trigger IN ('cron', 'manual', 'system')),
    results         jsonb,
    error_details   text,
    pid             integer,
    triggered_by    text DEFAULT session_user
);
COMMENT ON TABLE public.jobs_log IS 'One row per job run (running, success, failed, skipped). A failed row notifies channel job_failure.';
CREATE INDEX jobs_log_job_started_idx ON public.jobs_log (job_name, started_at DESC);
CREATE INDEX jobs_log_started_idx ON public.jobs_log (started_at);
CREATE INDEX jobs_log_running_idx ON public.jobs_log (job_name) WHERE status = 'running';

CREATE TABLE public.audit_log (
    id          uuid NOT NULL DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
    action_type varchar NOT NULL,
    entity_type varchar,
    entity_id   uuid,
    user_id     uuid,
    details     jsonb,
    "timestamp" timestamptz DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
COMMENT ON TABLE public.audit_log IS 'Audit trail: background_job_execution (one per run), manual_job_trigger, sla_violation, ...';
CREATE INDEX audit_log_action_time_idx ON public.audit_log (action_type, "timestamp" DESC);

-- Exactly the cron-healthcheck runbook's table.
CREATE TABLE public.job_heartbeats (
    job_name      text PRIMARY KEY,
    last_run_at   timestamptz NOT NULL DEFAULT now(),
    status        text DEFAULT 'healthy',
    metadata      jsonb DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    last_alert_at timestamptz
);
CREATE INDEX job_heartbeats_last_run_at_idx ON public.job_heartbeats (last_run_at);
CREATE INDEX job_heartbeats_last_alert_at_idx ON public.job_heartbeats (last_alert_at);

CREATE TABLE public.app_settings (
    key         text PRIMARY KEY,
    value       text,
    description text,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE public.app_settings IS 'bgjobs settings (never secrets: those go through set_secret()).';

-- The notification outbox: jobs write here in their own transaction; delivery is separate.
CREATE TABLE public.notifications (
    id              uuid NOT NULL DEFAULT gen_random_uuid(),
    tenant_id       uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
    channel         text NOT NULL CHECK (channel IN ('email', 'slack', 'webhook', 'whatsapp')),
    recipient       text,
    template        text NOT NULL,
    payload         jsonb NOT NULL DEFAULT '{}',
    dedupe_key      text NOT NULL,
    category        text NOT NULL DEFAULT 'business' CHECK (category IN ('business', 'alert')),
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'dead', 'cancelled')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    last_error      text,
    delivered_by    text,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT notifications_dedupe_key_key UNIQUE (tenant_id, dedupe_key)
);
COMMENT ON TABLE public.notifications IS 'Outbox: one row per message; dedupe_key makes a second write of the same message a no-op.';
CREATE INDEX notifications_due_idx ON public.notifications (next_attempt_at)
    WHERE status IN ('pending', 'failed');
CREATE INDEX notifications_created_idx ON public.notifications (created_at);

REVOKE ALL ON ALL TABLES IN SCHEMA bgjobs FROM PUBLIC;
REVOKE ALL ON public.jobs_log, public.audit_log, public.job_heartbeats, public.app_settings,
              public.notifications FROM PUBLIC;

-- bgjobs_admin: operates bgjobs (settings, registry switches, the runbooks' heartbeat
-- procedures, the seeds' Test 1 insert into jobs_log); secrets only through set_secret().
GRANT USAGE ON SCHEMA bgjobs TO bgjobs_admin;
GRANT SELECT, UPDATE (enabled, expected_duration, timeout, grace, stale_after, description)
    ON bgjobs.job_registry TO bgjobs_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.app_settings TO bgjobs_admin;
GRANT SELECT, INSERT, DELETE ON public.jobs_log TO bgjobs_admin;
GRANT SELECT ON public.audit_log TO bgjobs_admin;
GRANT SELECT, UPDATE (last_run_at, status, last_alert_at, metadata), DELETE ON public.job_heartbeats TO bgjobs_admin;
GRANT SELECT, UPDATE (status, next_attempt_at) ON public.notifications TO bgjobs_admin;

-- bgjobs_viewer (the seeds' "partner"): reads logs and monitoring views; never
-- recipients' addresses or message payloads, never secrets, never settings values.
GRANT USAGE ON SCHEMA bgjobs TO bgjobs_viewer;   -- to call the views' read-only helpers; no table grants
GRANT SELECT ON public.jobs_log, public.audit_log, public.job_heartbeats TO bgjobs_viewer;
GRANT SELECT (id, tenant_id, channel, template, dedupe_key, category, status, attempts,
              next_attempt_at, created_at, sent_at, last_error)
    ON public.notifications TO bgjobs_viewer;
