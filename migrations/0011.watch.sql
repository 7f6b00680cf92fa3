-- bgjobs watch: jobs bgjobs did not create.
--  * monitor-only jobs (bgjobs.watch_job): work that runs elsewhere and checks in with the
--    runbook's update_job_heartbeat; each check-in is recorded in bgjobs.watch_runs by a
--    trigger on job_heartbeats (sql/functions/bgjobs.watch_checkin.sql), so job_heartbeats
--    and the runbook's emergency SQL stay exactly as they were;
--  * every pg_cron job of the cluster (cron.job holds every database's), unless the DBA
--    opted out (bgjobs.cron_watch_optouts, bgjobs.unwatch_cron_job) or turned the
--    watch_cron_jobs setting off; bgjobs.cron_watch_seen remembers when a job was first
--    seen (a job that never ran is missed from then on);
--  * bgjobs.schedule_cache: the cron math once per distinct (schedule, zone) until its next
--    fire, not once per job and evaluation;
--  * an index on cron.job_run_details (jobid, runid) where pg_cron lives in this database
--    and the installer may create it: pg_cron's table has only its primary key, and the
--    rules read each job's latest runs.  A change to another extension's table: the README
--    says so; the rollback drops it.
-- depends: 0010.app_tables

CREATE TABLE bgjobs.watched_jobs (
    job_name      text PRIMARY KEY,
    schedule      text NOT NULL,                    -- 5-field cron expression, read in timezone
    timezone      text NOT NULL DEFAULT 'UTC',
    grace         interval NOT NULL,                -- a check-in may come this late
    description   text NOT NULL DEFAULT '',
    registered_at timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    registered_by text NOT NULL DEFAULT session_user,
    CONSTRAINT watched_jobs_grace_ck CHECK (grace >= interval '0')
);
COMMENT ON TABLE bgjobs.watched_jobs IS
  'Monitor-only jobs: work that runs elsewhere and checks in with update_job_heartbeat (bgjobs.watch_job).';

-- One row per run of a monitor-only job, from its check-ins: 'started' opens a run
-- (started_at), a later check-in closes it (finished_at, success or failed); a check-in
-- without a start is a run with started_at NULL (no duration).
CREATE TABLE bgjobs.watch_runs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_name    text NOT NULL,
    started_at  timestamptz,
    finished_at timestamptz,
    status      text NOT NULL CHECK (status IN ('running', 'success', 'failed', 'abandoned')),
    reported    text,                               -- p_status as the work sent it
    metadata    jsonb NOT NULL DEFAULT '{}',
    CONSTRAINT watch_runs_times_ck CHECK (started_at IS NOT NULL OR finished_at IS NOT NULL)
);
COMMENT ON TABLE bgjobs.watch_runs IS 'Runs of monitor-only jobs, from their check-ins (started / finished / failed).';
CREATE INDEX watch_runs_job_idx ON bgjobs.watch_runs (job_name, (coalesce(started_at, finished_at)) DESC);
CREATE INDEX watch_runs_open_idx ON bgjobs.watch_runs (job_name) WHERE status = 'running';

-- pg_cron jobs the DBA does not want watched: by jobid, or by name (in one database or,
-- database NULL, in every one).
CREATE TABLE bgjobs.cron_watch_optouts (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    jobid      bigint,
    jobname    text,
    database   text,
    created_by text NOT NULL DEFAULT session_user,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT cron_watch_optouts_what_ck CHECK ((jobid IS NULL) <> (jobname IS NULL))
);
COMMENT ON TABLE bgjobs.cron_watch_optouts IS 'pg_cron jobs that check-job-health does not watch (bgjobs.unwatch_cron_job).';
CREATE UNIQUE INDEX cron_watch_optouts_key ON bgjobs.cron_watch_optouts
    (coalesce(jobid, -1), coalesce(jobname, ''), coalesce(database, ''));

CREATE TABLE bgjobs.cron_watch_seen (
    jobid         bigint PRIMARY KEY,
    first_seen_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE bgjobs.cron_watch_seen IS 'When check-job-health first saw each pg_cron job (a job that never ran counts from then).';

-- prev_fire is the latest fire at or before any moment in [prev_fire, next_fire).
CREATE TABLE bgjobs.schedule_cache (
    schedule   text NOT NULL,
    timezone   text NOT NULL,
    prev_fire  timestamptz,
    next_fire  timestamptz,
    error      text,                                -- the cron math refused the expression
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (schedule, timezone)
);
COMMENT ON TABLE bgjobs.schedule_cache IS 'Cron math cache: latest fire of (schedule, zone), valid until its next fire.';

-- the watch rules' new alert rules
ALTER TABLE bgjobs.alert_state DROP CONSTRAINT alert_state_rule_check;
ALTER TABLE bgjobs.alert_state ADD CONSTRAINT alert_state_rule_check
    CHECK (rule IN ('missed_run', 'stale_heartbeat', 'consecutive_failures', 'slow_run',
                    'no_jobs_24h', 'low_success_rate', 'delivery_rate', 'rule_storm',
                    'analytics_anomaly', 'scheduler_down', 'stuck_run', 'short_run'));

DO $$
BEGIN
    IF to_regclass('cron.job_run_details') IS NOT NULL
       AND (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        CREATE INDEX IF NOT EXISTS bgjobs_job_run_details_jobid_idx ON cron.job_run_details (jobid, runid DESC);
    END IF;
END
$$;

REVOKE ALL ON bgjobs.watched_jobs, bgjobs.watch_runs, bgjobs.cron_watch_optouts, bgjobs.cron_watch_seen,
              bgjobs.schedule_cache FROM PUBLIC;
GRANT SELECT ON bgjobs.watched_jobs, bgjobs.watch_runs, bgjobs.cron_watch_optouts TO bgjobs_runner, bgjobs_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON bgjobs.cron_watch_seen, bgjobs.schedule_cache TO bgjobs_runner;
