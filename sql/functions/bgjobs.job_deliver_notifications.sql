-- bgjobs.job_deliver_notifications(as_of, tenants): the body of deliver-notifications on a
-- server without PL/Python, where the job is registered inactive and `bgjobs worker`
-- delivers the outbox.  Run by hand, it fails with that one line.  Where plpython3u is
-- available, install replaces it with the PL/Python deliverer (sql/plpython/).
CREATE OR REPLACE FUNCTION bgjobs.job_deliver_notifications(p_as_of timestamptz, p_tenants uuid[] DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path TO pg_catalog, pg_temp
AS $$
BEGIN
  RAISE EXCEPTION 'deliver-notifications needs plpython3u on the server; here `bgjobs worker` delivers the outbox'
    USING ERRCODE = 'feature_not_supported';
END;
$$;
COMMENT ON FUNCTION bgjobs.job_deliver_notifications(timestamptz, uuid[]) IS
  'deliver-notifications where the server has no PL/Python: fails, naming `bgjobs worker`.';
REVOKE ALL ON FUNCTION bgjobs.job_deliver_notifications(timestamptz, uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.job_deliver_notifications(timestamptz, uuid[]) TO bgjobs_runner;
