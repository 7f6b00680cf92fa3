-- bgjobs.unwatch_cron_job(jobid) / bgjobs.unwatch_cron_job(jobname, database): the DBA opts
-- a pg_cron job out of check-job-health's watch.  By jobid: that job.  By name: the jobs
-- of that name in that database, or (database NULL) in every database, now and whenever a
-- job of that name is scheduled again.  Its firing alerts end without a resolved notice;
-- its run history in cron.job_run_details is untouched (bgjobs never deletes it).
-- Returns how many pg_cron jobs it matches now; a jobid or name that matches no pg_cron
-- job bgjobs can see raises an error naming it and changes nothing.  Undo:
-- bgjobs.watch_cron_job with the same arguments.  Every pg_cron job: the watch_cron_jobs
-- setting.  Admin only; SECURITY DEFINER: bgjobs_admin has no rights on the bgjobs tables
-- it writes.
CREATE OR REPLACE FUNCTION bgjobs.unwatch_cron_job(p_jobid bigint)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  v_subjects text[];
BEGIN
  IF NOT EXISTS (SELECT 1 FROM bgjobs.cron_watch_jobs(now(), 0) j WHERE j.jobid = p_jobid) THEN
    RAISE EXCEPTION 'no pg_cron job with jobid % (bgjobs'' own jobs are not watched this way)', coalesce(p_jobid::text, 'NULL')
      USING ERRCODE = 'no_data_found';
  END IF;
  v_subjects := ARRAY(SELECT t.subject FROM bgjobs.watch_targets(now(), 0) t WHERE t.jobid = p_jobid);
  INSERT INTO bgjobs.cron_watch_optouts (jobid) VALUES (p_jobid) ON CONFLICT DO NOTHING;
  UPDATE bgjobs.alert_state a SET state = 'ok', resolved_at = now(), since = now(), silenced = false
   WHERE a.subject = ANY (v_subjects) AND a.state = 'firing';
  RETURN 1;
END;
$$;
COMMENT ON FUNCTION bgjobs.unwatch_cron_job(bigint) IS 'Opts a pg_cron job (by jobid) out of check-job-health''s watch (admin).';
REVOKE ALL ON FUNCTION bgjobs.unwatch_cron_job(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.unwatch_cron_job(bigint) TO bgjobs_admin;

CREATE OR REPLACE FUNCTION bgjobs.unwatch_cron_job(p_jobname text, p_database text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  v_ids      bigint[];
  v_subjects text[];
BEGIN
  v_ids := ARRAY(SELECT j.jobid FROM bgjobs.cron_watch_jobs(now(), 0) j
                  WHERE j.jobname = p_jobname AND (p_database IS NULL OR j.database = p_database));
  IF cardinality(v_ids) = 0 THEN
    RAISE EXCEPTION 'no pg_cron job named "%"%', coalesce(p_jobname, 'NULL'),
      CASE WHEN p_database IS NULL THEN '' ELSE format(' in database "%s"', p_database) END
      USING ERRCODE = 'no_data_found',
            HINT = 'SELECT jobid, jobname, database FROM cron.job lists them (bgjobs'' own jobs are not watched this way)';
  END IF;
  v_subjects := ARRAY(SELECT t.subject FROM bgjobs.watch_targets(now(), 0) t WHERE t.jobid = ANY (v_ids));
  INSERT INTO bgjobs.cron_watch_optouts (jobname, database) VALUES (p_jobname, p_database) ON CONFLICT DO NOTHING;
  UPDATE bgjobs.alert_state a SET state = 'ok', resolved_at = now(), since = now(), silenced = false
   WHERE a.subject = ANY (v_subjects) AND a.state = 'firing';
  RETURN cardinality(v_ids);
END;
$$;
COMMENT ON FUNCTION bgjobs.unwatch_cron_job(text, text) IS
  'Opts pg_cron jobs of a name (in one database or all) out of check-job-health''s watch (admin).';
REVOKE ALL ON FUNCTION bgjobs.unwatch_cron_job(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.unwatch_cron_job(text, text) TO bgjobs_admin;
