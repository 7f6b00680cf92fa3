-- bgjobs.detect_watch_issues(as_of): the rules for what bgjobs watches but does not run
-- (bgjobs.watch_targets: monitor-only jobs and pg_cron jobs), one row per (subject, rule)
-- that is bad at as_of, in the shape of bgjobs.detect_job_issues, for the same alert state:
--  * missed_run (CRITICAL): no run (or check-in) since the latest fire of the schedule that
--    is more than grace before as_of (from bgjobs.schedule_cache, which
--    bgjobs.watch_refresh fills first); a job that never ran counts from its registration
--    (pg_cron: from when it was first seen).  This is how pg_cron's silent failures show:
--    runs dropped while the server was down, a launcher gone, an inactive job.
--    "N seconds" schedules: no run for N seconds + grace.
--  * consecutive_failures: the last completed run failed -> WARNING; the last
--    consecutive_failures_critical failed -> CRITICAL (pg_cron: its return_message's first
--    line, quoted values masked).
--  * stuck_run (CRITICAL): the newest run started and has not finished after
--    max(slow_run_critical_factor x p95, p95 + 5 minutes) of the job's successful runs
--    (at least 5 of them), else after watch_timeout_minutes.
--  * slow_run: as for bgjobs' jobs, against the p95 of the job's earlier runs (runs 4..13).
--  * short_run (WARNING): the last successful run took less than 1/short_run_factor of the
--    median of the job's earlier runs (runs 4..13, at least 5, median at least 1 s).
-- Durations need a start: pg_cron's runs have one; a monitor-only job's only when it sent
-- 'started' first.  JIT off as in detect_job_issues.
CREATE OR REPLACE FUNCTION bgjobs.detect_watch_issues(p_as_of timestamptz)
RETURNS TABLE (subject text, rule text, severity text, display_name text, summary text, details jsonb)
LANGUAGE sql
STABLE
SET search_path TO pg_catalog, pg_temp
SET jit TO off
AS $$
WITH cfg AS (
  SELECT greatest(bgjobs.get_setting('consecutive_failures_critical')::integer, 1) AS fail_crit,
         bgjobs.get_setting('slow_run_warning_factor')::numeric AS slow_warn,
         bgjobs.get_setting('slow_run_critical_factor')::numeric AS slow_crit,
         bgjobs.get_setting('short_run_factor')::numeric AS short_factor,
         make_interval(mins => bgjobs.get_setting('watch_timeout_minutes')::integer) AS timeout
),
t AS MATERIALIZED (
  SELECT w.* FROM cfg, bgjobs.watch_targets(p_as_of, greatest(13, cfg.fail_crit + 1)) w
),
a AS (
  SELECT t.subject, t.kind, t.schedule, t.timezone, t.grace, t.active, t.ref_at, t.last_error,
         x.last_eff, coalesce(x.completed, '{}') AS completed, coalesce(x.sdurs, '{}') AS sdurs, x.open_since,
         CASE WHEN t.schedule ~* '^\s*[0-9]+\s+seconds?\s*$'
              THEN make_interval(secs => substring(t.schedule FROM '[0-9]+')::integer) END AS every,
         p_as_of - t.grace - interval '1 microsecond' AS at
    FROM t
   CROSS JOIN LATERAL (
     SELECT max(coalesce(u.s, u.e)) AS last_eff,
            array_agg(u.st ORDER BY u.i) FILTER (WHERE u.st IN ('success', 'failed')) AS completed,
            array_agg(extract(epoch FROM u.e - u.s)::numeric ORDER BY u.i)
              FILTER (WHERE u.st = 'success' AND u.s IS NOT NULL AND u.e IS NOT NULL) AS sdurs,
            max(u.s) FILTER (WHERE u.i = 1 AND u.st = 'running') AS open_since
       FROM unnest(t.starts, t.ends, t.statuses) WITH ORDINALITY AS u(s, e, st, i)
   ) x
),
m AS (
  SELECT a.*,
         CASE WHEN a.every IS NOT NULL THEN p_as_of - a.grace - a.every
              WHEN c.schedule IS NULL OR c.error IS NOT NULL OR c.prev_fire IS NULL THEN NULL
              WHEN c.prev_fire <= a.at AND c.next_fire > a.at THEN c.prev_fire
              ELSE bgjobs.cron_prev(a.schedule, a.timezone, a.at)
         END AS expected_at
    FROM a
    LEFT JOIN bgjobs.schedule_cache c ON c.schedule = a.schedule AND c.timezone = a.timezone
),
b AS (
  SELECT a.subject,
         (SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY d)::numeric FROM unnest(a.sdurs[4:13]) d) AS p95_earlier,
         (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d)::numeric FROM unnest(a.sdurs[4:13]) d) AS p50_earlier,
         (SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY d)::numeric FROM unnest(a.sdurs) d) AS p95_all
    FROM a
   WHERE cardinality(a.sdurs) >= 1 OR a.open_since IS NOT NULL
)
SELECT m.subject, 'missed_run', 'CRITICAL', m.subject,
       format('%s %s%s; expected %s at %s (schedule %s, grace %s)%s', m.subject,
              CASE WHEN m.kind = 'watch' THEN 'has not checked in' ELSE 'has not run' END,
              CASE WHEN m.last_eff IS NULL THEN format(' since it was %s %s hours ago',
                                                       CASE WHEN m.kind = 'watch' THEN 'registered' ELSE 'first seen' END,
                                                       round(extract(epoch FROM p_as_of - m.ref_at) / 3600, 1))
                   ELSE format(' for %s hours (last %s)', round(extract(epoch FROM p_as_of - m.last_eff) / 3600, 1),
                               to_char(m.last_eff AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"')) END,
              CASE WHEN m.kind = 'watch' THEN 'a check-in' ELSE 'a run' END,
              to_char(m.expected_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"'), m.schedule, m.grace,
              CASE WHEN NOT m.active THEN ' - the job is inactive in cron.job' ELSE '' END),
       jsonb_build_object('kind', m.kind, 'last_run_at', m.last_eff, 'expected_at', m.expected_at,
                          'schedule', m.schedule, 'timezone', m.timezone, 'grace', m.grace::text, 'active', m.active,
                          'hours_since_last_run', round(extract(epoch FROM p_as_of - coalesce(m.last_eff, m.ref_at)) / 3600, 1))
  FROM m
 WHERE m.expected_at IS NOT NULL AND coalesce(m.last_eff, m.ref_at) < m.expected_at - interval '30 seconds'
UNION ALL
SELECT f.subject, 'consecutive_failures', CASE WHEN f.n >= c.fail_crit THEN 'CRITICAL' ELSE 'WARNING' END, f.subject,
       CASE WHEN f.n = 1 THEN format('%s failed: %s', f.subject, coalesce(f.last_error, '(no message)'))
            ELSE format('%s failed %s times in a row; last error: %s', f.subject, f.n, coalesce(f.last_error, '(no message)'))
       END,
       jsonb_build_object('kind', f.kind, 'consecutive_failures', f.n, 'critical_after', c.fail_crit,
                          'last_error', f.last_error)
  FROM (SELECT a.subject, a.kind, a.last_error,
               coalesce(array_position(a.completed, 'success') - 1, cardinality(a.completed)) AS n
          FROM a) f
 CROSS JOIN cfg c
 WHERE f.n >= 1
UNION ALL
SELECT a.subject, 'stuck_run', 'CRITICAL', a.subject,
       format('%s started at %s and has not finished after %s (%s)', a.subject,
              to_char(a.open_since AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'),
              date_trunc('second', p_as_of - a.open_since),
              CASE WHEN cardinality(a.sdurs) >= 5 THEN format('its runs usually take up to %ss', round(b.p95_all, 1))
                   ELSE format('timeout %s', c.timeout) END),
       jsonb_build_object('kind', a.kind, 'started_at', a.open_since,
                          'running_seconds', round(extract(epoch FROM p_as_of - a.open_since)::numeric, 1),
                          'usual_seconds', round(b.p95_all, 3))
  FROM a
  JOIN b ON b.subject = a.subject
 CROSS JOIN cfg c
 WHERE a.open_since IS NOT NULL
   AND p_as_of - a.open_since > CASE WHEN cardinality(a.sdurs) >= 5
                                     THEN make_interval(secs => greatest(c.slow_crit * b.p95_all, b.p95_all + 300))
                                     ELSE c.timeout END
UNION ALL
SELECT a.subject, 'slow_run',
       CASE WHEN cardinality(a.sdurs) >= 3 AND a.sdurs[1] > c.slow_crit * b.p95_earlier
             AND a.sdurs[2] > c.slow_crit * b.p95_earlier AND a.sdurs[3] > c.slow_crit * b.p95_earlier
            THEN 'CRITICAL' ELSE 'WARNING' END,
       a.subject,
       format('%s took %ss, %sx its usual %ss (p95 of its earlier runs)', a.subject, round(a.sdurs[1], 3),
              round(a.sdurs[1] / b.p95_earlier, 2), round(b.p95_earlier, 3)),
       jsonb_build_object('kind', a.kind, 'last_duration_seconds', round(a.sdurs[1], 3),
                          'expected_seconds', round(b.p95_earlier, 3), 'expected_from', 'p95 of earlier runs')
  FROM a
  JOIN b ON b.subject = a.subject
 CROSS JOIN cfg c
 WHERE cardinality(a.sdurs[4:13]) >= 5 AND b.p95_earlier > 0 AND a.sdurs[1] > c.slow_warn * b.p95_earlier
UNION ALL
SELECT a.subject, 'short_run', 'WARNING', a.subject,
       format('%s took only %ss, 1/%s of its usual %ss (median of its earlier runs)', a.subject, round(a.sdurs[1], 3),
              round(b.p50_earlier / greatest(a.sdurs[1], 0.001), 1), round(b.p50_earlier, 3)),
       jsonb_build_object('kind', a.kind, 'last_duration_seconds', round(a.sdurs[1], 3),
                          'median_seconds', round(b.p50_earlier, 3), 'short_run_factor', c.short_factor)
  FROM a
  JOIN b ON b.subject = a.subject
 CROSS JOIN cfg c
 WHERE cardinality(a.sdurs[4:13]) >= 5 AND b.p50_earlier >= 1 AND a.sdurs[1] < b.p50_earlier / c.short_factor
$$;
COMMENT ON FUNCTION bgjobs.detect_watch_issues(timestamptz) IS
  'Findings for monitor-only and pg_cron jobs at as_of: missed_run, consecutive_failures, stuck_run, slow_run, short_run.';
REVOKE ALL ON FUNCTION bgjobs.detect_watch_issues(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.detect_watch_issues(timestamptz) TO bgjobs_runner;
