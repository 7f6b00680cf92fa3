-- Rollback of 0009.job_api.
DROP TABLE IF EXISTS bgjobs.job_slots;
UPDATE bgjobs.job_registry SET schedule = tick, timezone = 'UTC' WHERE tenant_local AND tick IS NOT NULL;
ALTER TABLE bgjobs.job_registry
    DROP CONSTRAINT IF EXISTS job_registry_name_ck,
    DROP CONSTRAINT IF EXISTS job_registry_pause_ck,
    DROP COLUMN IF EXISTS registered_by,
    DROP COLUMN IF EXISTS pause_reason,
    DROP COLUMN IF EXISTS paused_until,
    DROP COLUMN IF EXISTS paused_from,
    DROP COLUMN IF EXISTS slots_from,
    DROP COLUMN IF EXISTS tick,
    DROP COLUMN IF EXISTS body_returns,
    DROP COLUMN IF EXISTS body_args;
