-- bgjobs.cron_watch_jobs(as_of, runs): every pg_cron job of the cluster (cron.job holds
-- every database's) that bgjobs did not create, with its latest `runs` runs that started
-- at or before as_of (newest first), for the watch rules and job_status.  It returns only
-- what monitoring needs: jobid, name, database, user, schedule, active, and per run its
-- start, end and status (success / failed / running).  Never the command.  Of
-- return_message only the first line of the newest failed run, at most 200 characters,
-- with quoted literals ('...' and "...") masked: an error's kind ("ERROR:  division by
-- zero") without the values it quotes.  bgjobs' own jobs (CALL bgjobs.run_scheduled_job,
-- in any database) are left out: their runs are in jobs_log.
-- Empty where pg_cron does not live in this database.
-- SECURITY DEFINER, owned by the installing role: pg_cron's row security shows a role only
-- its own jobs; a superuser owner sees every job.  Installed by a non-superuser, it sees
-- only that role's jobs (bgjobs doctor says so).
CREATE OR REPLACE FUNCTION bgjobs.cron_watch_jobs(p_as_of timestamptz DEFAULT now(), p_runs integer DEFAULT 13)
RETURNS TABLE (jobid bigint, jobname text, database text, username text, schedule text, active boolean,
               starts timestamptz[], ends timestamptz[], statuses text[], last_error text)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
SET jit TO off
AS $$
BEGIN
  IF to_regclass('cron.job') IS NULL OR to_regclass('cron.job_run_details') IS NULL
     OR NOT has_schema_privilege('cron', 'USAGE') THEN
    RETURN;
  END IF;
  RETURN QUERY EXECUTE $q$
    SELECT j.jobid, j.jobname::text, j.database::text, j.username::text, j.schedule::text, j.active,
           coalesce(r.starts, '{}'), coalesce(r.ends, '{}'), coalesce(r.statuses, '{}'),
           (SELECT left(regexp_replace(regexp_replace(split_part(coalesce(m.return_message, ''), E'\n', 1),
                                                      '"[^"]*"', '"…"', 'g'),
                                       '''[^'']*''', '''…''', 'g'), 200)
              FROM cron.job_run_details m WHERE m.runid = r.failed_runid)
      FROM cron.job j
      LEFT JOIN LATERAL (
        SELECT array_agg(d.start_time ORDER BY d.runid DESC) AS starts,
               array_agg(d.end_time ORDER BY d.runid DESC) AS ends,
               array_agg(CASE WHEN d.status = 'succeeded' THEN 'success'
                              WHEN d.status = 'failed' THEN 'failed' ELSE 'running' END
                         ORDER BY d.runid DESC) AS statuses,
               max(d.runid) FILTER (WHERE d.status = 'failed') AS failed_runid
          FROM (SELECT x.runid, x.start_time, x.end_time, x.status
                  FROM cron.job_run_details x
                 WHERE x.jobid = j.jobid AND (x.start_time IS NULL OR x.start_time <= $1)
                 ORDER BY x.runid DESC
                 LIMIT $2) d
        ) r ON $2 > 0
     WHERE j.command NOT LIKE 'CALL bgjobs.run_scheduled_job(%'
  $q$
    USING p_as_of, greatest(coalesce(p_runs, 0), 0);
END;
$$;
COMMENT ON FUNCTION bgjobs.cron_watch_jobs(timestamptz, integer) IS
  'Every pg_cron job of the cluster not created by bgjobs, with its latest runs (never its command).';
REVOKE ALL ON FUNCTION bgjobs.cron_watch_jobs(timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.cron_watch_jobs(timestamptz, integer) TO bgjobs_runner;
