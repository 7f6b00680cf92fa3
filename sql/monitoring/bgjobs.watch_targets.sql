-- bgjobs.watch_targets(as_of, runs): everything watched that bgjobs does not run, in one
-- shape for the watch rules (bgjobs.detect_watch_issues) and the figures
-- (bgjobs.watch_stats): each with its latest `runs` runs "for" a moment at or before as_of,
-- newest first (starts, ends, statuses success / failed / running; a check-in without a
-- start signal has no start).
--  * monitor-only jobs (bgjobs.watched_jobs): subject = the job's name;
--  * pg_cron jobs (bgjobs.cron_watch_jobs), unless the watch_cron_jobs setting is off or
--    the DBA opted the job out: subject = 'pg_cron:' + its pg_cron name (or '#' + jobid for
--    an unnamed job), + '@' + its database when that is not this one (+ '#' + jobid when
--    two users share the name), read in cron.timezone (UTC on pg_cron 1.4) with grace
--    watch_cron_grace_minutes; a job that never ran counts from when it was first seen.
CREATE OR REPLACE FUNCTION bgjobs.watch_targets(p_as_of timestamptz, p_runs integer)
RETURNS TABLE (subject text, kind text, pg_cron_job text, database text, schedule text, timezone text,
               grace interval, active boolean, ref_at timestamptz,
               starts timestamptz[], ends timestamptz[], statuses text[], last_error text, jobid bigint)
LANGUAGE sql
STABLE
SET search_path TO pg_catalog, pg_temp
SET jit TO off
AS $$
SELECT w.job_name, 'watch', NULL::text, NULL::text, w.schedule, w.timezone, w.grace, true, w.registered_at,
       coalesce(r.starts, '{}'), coalesce(r.ends, '{}'), coalesce(r.statuses, '{}'), r.last_error, NULL::bigint
  FROM bgjobs.watched_jobs w
  LEFT JOIN LATERAL (
    SELECT array_agg(x.started_at ORDER BY x.eff DESC) AS starts,
           array_agg(x.finished_at ORDER BY x.eff DESC) AS ends,
           array_agg(x.status ORDER BY x.eff DESC) AS statuses,
           (array_agg(left(coalesce(x.metadata ->> 'error', x.metadata ->> 'error_message', x.metadata ->> 'message',
                                    'reported ' || x.reported), 300) ORDER BY x.eff DESC)
              FILTER (WHERE x.status = 'failed'))[1] AS last_error
      FROM (SELECT coalesce(v.started_at, v.finished_at) AS eff, v.started_at, v.finished_at, v.status,
                   v.reported, v.metadata
              FROM bgjobs.watch_runs v
             WHERE v.job_name = w.job_name AND v.status <> 'abandoned'
               AND coalesce(v.started_at, v.finished_at) <= p_as_of
             ORDER BY coalesce(v.started_at, v.finished_at) DESC
             LIMIT p_runs) x
  ) r ON p_runs > 0
UNION ALL
SELECT c.name || CASE WHEN count(*) OVER (PARTITION BY c.name) > 1 THEN '#' || c.jobid ELSE '' END,
       'pg_cron', c.jobname, c.database, c.schedule, c.tz, c.grace,
       c.active, coalesce(s.first_seen_at, p_as_of),
       c.starts, c.ends, c.statuses, c.last_error, c.jobid
  FROM (SELECT j.*, cfg.tz, cfg.grace,
               'pg_cron:' || coalesce(j.jobname, '#' || j.jobid)
                 || CASE WHEN j.database <> current_database() THEN '@' || j.database ELSE '' END AS name
          FROM (SELECT bgjobs.get_setting('watch_cron_jobs')::boolean AS enabled,
                       coalesce(nullif(current_setting('cron.timezone', true), ''), 'UTC') AS tz,
                       make_interval(mins => bgjobs.get_setting('watch_cron_grace_minutes')::integer) AS grace) cfg
         CROSS JOIN LATERAL bgjobs.cron_watch_jobs(p_as_of, CASE WHEN cfg.enabled THEN p_runs ELSE 0 END) j
         WHERE cfg.enabled
           AND NOT EXISTS (SELECT 1 FROM bgjobs.cron_watch_optouts o
                            WHERE o.jobid = j.jobid
                               OR (o.jobname = j.jobname AND (o.database IS NULL OR o.database = j.database)))) c
  LEFT JOIN bgjobs.cron_watch_seen s ON s.jobid = c.jobid
$$;
COMMENT ON FUNCTION bgjobs.watch_targets(timestamptz, integer) IS
  'Monitor-only jobs and watched pg_cron jobs with their latest runs, for the watch rules and figures.';
REVOKE ALL ON FUNCTION bgjobs.watch_targets(timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.watch_targets(timestamptz, integer) TO bgjobs_runner;
