-- Maintenance windows: one-off (starts_at .. ends_at) or recurring (a start given as a
-- calendar expression in a zone, plus a duration).  Inside a window the named job (or,
-- with job_name NULL, every job) does not run from pg_cron, raises no missed-run alert,
-- and its alerts are held (sent after the window if still true).
-- depends: 0005.dba

CREATE TABLE bgjobs.maintenance_windows (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_name   text,                          -- NULL: every job (and the system-wide alerts)
    starts_at  timestamptz,                   -- one-off window
    ends_at    timestamptz,
    recurrence text,                          -- recurring window: 'minute hour day-of-month month day-of-week'
    duration   interval,
    timezone   text NOT NULL DEFAULT 'UTC',
    reason     text NOT NULL CHECK (btrim(reason) <> ''),
    created_by text NOT NULL DEFAULT session_user,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT maintenance_windows_kind_ck CHECK (
        (starts_at IS NOT NULL AND ends_at IS NOT NULL AND ends_at > starts_at AND recurrence IS NULL AND duration IS NULL)
     OR (starts_at IS NULL AND ends_at IS NULL AND recurrence IS NOT NULL
         AND duration > interval '0' AND duration <= interval '7 days'))
);
COMMENT ON TABLE bgjobs.maintenance_windows IS
  'Maintenance windows: jobs do not run, raise no missed-run alert and hold their alerts inside them.';
REVOKE ALL ON bgjobs.maintenance_windows FROM PUBLIC;
GRANT SELECT ON bgjobs.maintenance_windows TO bgjobs_admin, bgjobs_viewer, bgjobs_runner;
