-- bgjobs DBA operations: the ledger of `bgjobs archive`.
-- depends: 0004.security

-- One row per archive run of one table into one file.  Each batch deletes its rows and
-- advances this row (rows_archived, bytes_committed, last_key) in the same transaction,
-- after the batch's bytes are written and fsynced to the file.  So bytes_committed is
-- always the length of the file's committed prefix: a run interrupted between its fsync
-- and its COMMIT left bytes whose rows are still in the table, and the next run cuts the
-- file back to bytes_committed before it goes on.  finished_at is NULL while a run is
-- open (or was interrupted); the next archive of the table resumes or closes it.
CREATE TABLE bgjobs.archive_runs (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    table_name      text NOT NULL,
    file            text NOT NULL,
    compressed      boolean NOT NULL,
    cutoff          timestamptz NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    batches         integer NOT NULL DEFAULT 0,
    rows_archived   bigint NOT NULL DEFAULT 0,
    bytes_committed bigint NOT NULL DEFAULT 0,
    last_key        text[],
    archived_by     text NOT NULL DEFAULT session_user
);
COMMENT ON TABLE bgjobs.archive_runs IS
  'bgjobs archive: one row per run (table -> file); bytes_committed is the file''s committed length.';
CREATE INDEX archive_runs_open_idx ON bgjobs.archive_runs (table_name) WHERE finished_at IS NULL;
REVOKE ALL ON bgjobs.archive_runs FROM PUBLIC;
GRANT SELECT ON bgjobs.archive_runs TO bgjobs_admin, bgjobs_viewer;
