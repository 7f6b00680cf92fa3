-- Shipped jobs a DBA unregistered stay unregistered: bgjobs.unregister_job records the name
-- here and install does not register a shipped job recorded here again, unless the settings
-- file names it; bgjobs.register_job (a DBA registering the name again) removes the record.
-- depends: 0013.watch_retention

CREATE TABLE bgjobs.unregistered_jobs (
    job_name        text PRIMARY KEY,
    unregistered_at timestamptz NOT NULL DEFAULT now(),
    by_role         text NOT NULL DEFAULT session_user
);
COMMENT ON TABLE bgjobs.unregistered_jobs IS
  'Jobs a DBA unregistered: install does not register a shipped one again unless the settings file names it.';
REVOKE ALL ON bgjobs.unregistered_jobs FROM PUBLIC;
GRANT SELECT ON bgjobs.unregistered_jobs TO bgjobs_admin, bgjobs_viewer;
