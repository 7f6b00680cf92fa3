-- bgjobs job API (CONTRACT §4: register_job, unregister_job, pause_job, resume_job).
--  * job_registry learns the body's form (which of (), (as_of) or (as_of, tenants) it
--    takes, and whether it returns jsonb, an integer or nothing), the zone-driven slot
--    floor (slots_from: slots before it are never caught up: set at registration and
--    whenever the schedule changes) and the pause ([paused_from, paused_until), with a
--    reason; resume_job ends it by setting paused_until, so the slots it covered are not
--    caught up either).
--  * bgjobs.job_slots: the slots of jobs in a fixed zone other than UTC that a tick has
--    handled (one row per job and slot), as bgjobs.tenant_job_runs is for tenant-local jobs.
--  * schedule is the job's own expression read in its zone; tick (new) the pg_cron
--    expression that drives it when that zone is not UTC.
-- Rows of jobs registered before this migration take the seeds' form (as_of, tenants)
-- returning jsonb, which is what they are.
-- depends: 0008.reliability

ALTER TABLE bgjobs.job_registry
    ADD COLUMN body_args     smallint NOT NULL DEFAULT 2 CHECK (body_args IN (0, 1, 2)),
    ADD COLUMN body_returns  text NOT NULL DEFAULT 'jsonb' CHECK (body_returns IN ('jsonb', 'integer', 'void')),
    ADD COLUMN tick          text,              -- pg_cron expression (UTC) driving the job; NULL: schedule itself
    ADD COLUMN slots_from    timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN paused_from   timestamptz,
    ADD COLUMN paused_until  timestamptz,
    ADD COLUMN pause_reason  text,
    ADD COLUMN registered_by text NOT NULL DEFAULT session_user,
    ADD CONSTRAINT job_registry_pause_ck CHECK (paused_until IS NULL OR paused_from IS NOT NULL),
    ADD CONSTRAINT job_registry_name_ck CHECK (job_name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$') NOT VALID;
UPDATE bgjobs.job_registry SET slots_from = registered_at;
-- schedule is now the job's own expression, read in timezone ('tenant': each tenant's
-- zone); the pg_cron expression that drives a zoned job moves to tick.
UPDATE bgjobs.job_registry
   SET tick = schedule,
       schedule = format('%s %s * * *', extract(minute FROM local_time)::integer, extract(hour FROM local_time)::integer),
       timezone = 'tenant'
 WHERE tenant_local;
COMMENT ON COLUMN bgjobs.job_registry.schedule IS 'the job''s 5-field cron expression, read in timezone';
COMMENT ON COLUMN bgjobs.job_registry.timezone IS 'IANA zone the schedule is read in, or tenant (each tenant''s zone)';
COMMENT ON COLUMN bgjobs.job_registry.tick IS 'pg_cron expression (UTC) that drives a zoned job (NULL: schedule itself, a UTC job)';
COMMENT ON COLUMN bgjobs.job_registry.slots_from IS 'slots before this instant are never caught up (registration, schedule change)';
COMMENT ON COLUMN bgjobs.job_registry.paused_from IS 'paused from this instant until paused_until (NULL: until resumed)';
COMMENT ON TABLE bgjobs.job_registry IS
  'Every bgjobs job: schedule, body function, expectations, pause. Written by bgjobs.register_job() (bgjobs install registers the shipped jobs through it).';

CREATE TABLE bgjobs.job_slots (
    job_name   text NOT NULL,
    slot       timestamptz NOT NULL,
    run_id     uuid,
    handled_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_name, slot)
);
COMMENT ON TABLE bgjobs.job_slots IS 'Slots of fixed-zone jobs handled by a tick (each slot once, as of itself).';
REVOKE ALL ON bgjobs.job_slots FROM PUBLIC;
GRANT SELECT, INSERT, DELETE ON bgjobs.job_slots TO bgjobs_runner;
GRANT SELECT ON bgjobs.job_slots TO bgjobs_admin;
