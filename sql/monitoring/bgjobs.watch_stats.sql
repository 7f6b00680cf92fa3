-- bgjobs.watch_stats(as_of): the figures of bgjobs.job_stats for what bgjobs watches but
-- does not run (monitor-only jobs and pg_cron jobs, bgjobs.watch_targets), from each one's
-- latest 100 runs (a pg_cron job running more often than 100 times in a window shows its
-- latest 100), plus what job_status shows of them (kind, pg_cron name, schedule, zone,
-- active, the start of a run still open).  records_updated is 0: they report none.
-- SECURITY DEFINER: bgjobs_viewer reads it through job_status, job_stats and job_metrics
-- without rights on the bgjobs schema or pg_cron's tables; monitoring figures only.
CREATE OR REPLACE FUNCTION bgjobs.watch_stats(p_as_of timestamptz DEFAULT now())
RETURNS TABLE (
  job_name text, last_run_at timestamptz, last_status text, last_duration_seconds numeric,
  last_records_updated integer, last_error text, health_status text,
  runs_24h bigint, successes_24h bigint, failures_24h bigint, success_rate_24h numeric,
  runs_7d bigint, successes_7d bigint, failures_7d bigint, success_rate_7d numeric,
  runs_30d bigint, successes_30d bigint, failures_30d bigint, success_rate_30d numeric,
  records_updated_24h bigint,
  p50_duration_seconds numeric, p95_duration_seconds numeric, avg_duration_seconds numeric,
  max_duration_seconds numeric, health_score numeric, health_label text, next_expected_run timestamptz,
  kind text, pg_cron_job text, schedule text, timezone text, active boolean, running_since timestamptz,
  last_duration interval)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
SET jit TO off
AS $$
SELECT t.subject,
       last.eff, last.st, round(extract(epoch FROM last.e - last.s)::numeric, 3), 0, t.last_error,
       CASE WHEN last.st IS NULL THEN 'UNKNOWN'
            WHEN last.st = 'failed' THEN 'CRITICAL'
            WHEN p_as_of - last.eff > interval '25 hours' THEN 'WARNING'
            WHEN last.st = 'success' THEN 'OK'
            ELSE 'UNKNOWN' END,
       w.runs_24h, w.ok_24h, w.runs_24h - w.ok_24h,
       CASE WHEN w.runs_24h > 0 THEN round(100.0 * w.ok_24h / w.runs_24h, 2) END,
       w.runs_7d, w.ok_7d, w.runs_7d - w.ok_7d,
       CASE WHEN w.runs_7d > 0 THEN round(100.0 * w.ok_7d / w.runs_7d, 2) END,
       w.runs_30d, w.ok_30d, w.runs_30d - w.ok_30d,
       CASE WHEN w.runs_30d > 0 THEN round(100.0 * w.ok_30d / w.runs_30d, 2) END,
       0::bigint,
       round(w.p50::numeric, 3), round(w.p95::numeric, 3), round(w.avg::numeric, 3), round(w.max::numeric, 3),
       CASE WHEN w.runs_7d > 0 THEN round(100.0 * w.ok_7d / w.runs_7d, 1) END,
       CASE WHEN w.runs_7d = 0 THEN 'No runs'
            WHEN 100.0 * w.ok_7d / w.runs_7d >= 95 THEN 'Healthy'
            WHEN 100.0 * w.ok_7d / w.runs_7d >= 80 THEN 'Degraded'
            ELSE 'Unhealthy' END,
       CASE WHEN t.schedule ~* '^\s*[0-9]+\s+seconds?\s*$' THEN NULL
            -- a monitor-only job's schedule was checked by watch_job; a pg_cron job's once the
            -- cache has it without an error (pg_cron accepts expressions the cron math does not)
            -- the cached fires answer when they bracket as_of (a daily schedule: all day)
            WHEN c.prev_fire <= p_as_of AND c.next_fire > p_as_of THEN c.next_fire
            WHEN t.kind = 'watch' OR (c.schedule IS NOT NULL AND c.error IS NULL)
              THEN bgjobs.cron_next(t.schedule, t.timezone, p_as_of)
       END,
       t.kind, t.pg_cron_job, t.schedule, t.timezone, t.active,
       CASE WHEN t.statuses[1] = 'running' THEN t.starts[1] END,
       last.e - last.s
  FROM bgjobs.watch_targets(p_as_of, 100) t
  LEFT JOIN bgjobs.schedule_cache c ON c.schedule = t.schedule AND c.timezone = t.timezone
  LEFT JOIN LATERAL (
    SELECT coalesce(u.s, u.e) AS eff, u.s, u.e, u.st
      FROM unnest(t.starts, t.ends, t.statuses) WITH ORDINALITY AS u(s, e, st, i)
     WHERE u.st IN ('success', 'failed')
     ORDER BY u.i
     LIMIT 1) last ON true
 CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE x.eff > p_as_of - interval '24 hours') AS runs_24h,
           count(*) FILTER (WHERE x.eff > p_as_of - interval '24 hours' AND x.st = 'success') AS ok_24h,
           count(*) FILTER (WHERE x.eff > p_as_of - interval '7 days') AS runs_7d,
           count(*) FILTER (WHERE x.eff > p_as_of - interval '7 days' AND x.st = 'success') AS ok_7d,
           count(*) FILTER (WHERE x.eff > p_as_of - interval '30 days') AS runs_30d,
           count(*) FILTER (WHERE x.eff > p_as_of - interval '30 days' AND x.st = 'success') AS ok_30d,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY x.d) AS p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY x.d) AS p95,
           avg(x.d) AS avg, max(x.d) AS max
      FROM (SELECT coalesce(u.s, u.e) AS eff, u.st,
                   CASE WHEN u.st = 'success' THEN extract(epoch FROM u.e - u.s) END AS d
              FROM unnest(t.starts, t.ends, t.statuses) AS u(s, e, st)
             WHERE u.st IN ('success', 'failed')) x) w
$$;
COMMENT ON FUNCTION bgjobs.watch_stats(timestamptz) IS
  'job_stats figures for monitor-only and watched pg_cron jobs (latest 100 runs each).';
REVOKE ALL ON FUNCTION bgjobs.watch_stats(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.watch_stats(timestamptz) TO bgjobs_runner, bgjobs_admin, bgjobs_viewer;
