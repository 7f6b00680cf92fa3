-- bgjobs.detect_job_issues(as_of, job): what is wrong with each enabled registered job at
-- as_of (job given: with that one job only), one row per (job, rule) that is bad.  Only runs "for" a moment at or before as_of count
-- (coalesce(as_of, started_at): the runtime's runs by their as_of, hand-written rows by
-- started_at), so any moment can be replayed.  Rules (operations guide, monitoring seed):
--  * missed_run (CRITICAL): no run since the latest fire of the job's own schedule (in its
--    zone) that is more than `grace` before as_of; a job that never ran counts from its
--    registration.  Tenant-local jobs: no run for more than expected_interval + grace
--    (daily: > 25 hours).
--    This also catches runs pg_cron dropped while the server was down (it never logs them).
--    A paused job is not judged; slots before its floor (bgjobs.slots_floor: registration,
--    schedule change, end of a pause) are not expected.
--  * consecutive_failures: the last completed run failed -> WARNING; the last
--    consecutive_failures_critical (3) failed -> CRITICAL.
--  * slow_run: the last successful run took > slow_run_warning_factor (1.5) x expected ->
--    WARNING; the last 3 each > slow_run_critical_factor (2) x expected -> CRITICAL.
--    expected = the job's expected_duration, else the p95 of its earlier successful runs
--    (among the 13 latest runs, those before the last 3; at least 5 of them), so the runs
--    being judged are not their own baseline.
-- The cron math runs once per distinct (schedule, zone, grace), not once per job.  JIT is
-- off: its compile time (~0.2 s) exceeds the whole evaluation.
CREATE OR REPLACE FUNCTION bgjobs.detect_job_issues(p_as_of timestamptz, p_job text DEFAULT NULL)
RETURNS TABLE (subject text, rule text, severity text, display_name text, summary text, details jsonb)
LANGUAGE sql
STABLE
SET search_path TO pg_catalog, pg_temp
SET jit TO off
AS $$
WITH cfg AS (
  SELECT greatest(bgjobs.get_setting('consecutive_failures_critical')::integer, 1) AS fail_crit,
         bgjobs.get_setting('slow_run_warning_factor')::numeric AS slow_warn,
         bgjobs.get_setting('slow_run_critical_factor')::numeric AS slow_crit
),
r AS (
  -- a paused job raises nothing; after a pause its slots count from the pause's end
  SELECT *, bgjobs.slots_floor(slots_from, paused_from, paused_until, p_as_of) AS floor
    FROM bgjobs.job_registry
   WHERE enabled AND NOT bgjobs.job_paused(paused_from, paused_until, p_as_of)
     AND (p_job IS NULL OR job_name = p_job)
),
sched AS (
  -- the latest fire strictly more than grace before as_of
  SELECT s.schedule, s.timezone, s.grace,
         bgjobs.cron_prev(s.schedule, s.timezone, p_as_of - s.grace - interval '1 microsecond') AS expected_at
    FROM (SELECT DISTINCT r.schedule, r.timezone, r.grace FROM r WHERE NOT r.tenant_local) s
),
h AS (
  -- the last runs of each job, newest first: enough for the failure streak and the last 3
  -- successful durations; 13 when the expected duration is the job's own p95 (runs 4..13).
  -- The subquery's order feeds the aggregates (no per-aggregate sort).
  SELECT r.job_name, r.registered_at, r.floor, r.tenant_local, r.schedule, r.timezone, r.grace, r.expected_interval,
         extract(epoch FROM r.expected_duration)::numeric AS expected_s,
         x.last_eff, x.completed, x.sdurs
    FROM r
   CROSS JOIN cfg
   CROSS JOIN LATERAL (
     SELECT max(y.eff) AS last_eff,
            array_agg(y.status) FILTER (WHERE y.status IN ('success', 'failed')) AS completed,
            array_agg(y.dur) FILTER (WHERE y.status = 'success' AND y.dur IS NOT NULL) AS sdurs
       FROM (SELECT j.status, coalesce(j.as_of, j.started_at) AS eff,
                    extract(epoch FROM j.completed_at - j.started_at)::numeric AS dur
               FROM public.jobs_log j
              WHERE j.job_name = r.job_name
                AND j.status <> 'skipped'
                AND coalesce(j.as_of, j.started_at) <= p_as_of
              ORDER BY coalesce(j.as_of, j.started_at) DESC
              LIMIT CASE WHEN r.expected_duration IS NULL THEN greatest(13, cfg.fail_crit + 1)
                         ELSE greatest(5, cfg.fail_crit + 1) END) y
   ) x
),
missed AS (
  SELECT h.job_name,
         coalesce(h.last_eff, h.registered_at) AS ref,
         s.expected_at,
         CASE WHEN s.expected_at IS NOT NULL
              THEN greatest(coalesce(h.last_eff, h.registered_at), h.floor) < s.expected_at - interval '30 seconds'
              ELSE p_as_of - greatest(coalesce(h.last_eff, h.registered_at), h.floor) > h.expected_interval + h.grace
         END AS is_missed,
         h.last_eff, h.schedule, h.grace, h.expected_interval, h.tenant_local
    FROM h
    LEFT JOIN sched s ON NOT h.tenant_local AND s.schedule = h.schedule AND s.timezone = h.timezone
                     AND s.grace = h.grace
),
fails AS (
  SELECT f.job_name, f.n,
         (SELECT j.error_message FROM public.jobs_log j
           WHERE j.job_name = f.job_name AND j.status = 'failed' AND coalesce(j.as_of, j.started_at) <= p_as_of
           ORDER BY coalesce(j.as_of, j.started_at) DESC LIMIT 1) AS last_error
    FROM (SELECT h.job_name, coalesce(array_position(h.completed, 'success') - 1, cardinality(h.completed)) AS n
            FROM h) f
   WHERE f.n >= 1
),
slow AS (
  SELECT h.job_name, h.sdurs,
         coalesce(h.expected_s, CASE WHEN b.n >= 5 THEN b.p95 END) AS expected_s,
         h.expected_s IS NULL AS from_p95
    FROM h
   CROSS JOIN LATERAL (
     SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY d)::numeric AS p95, count(*) AS n
       FROM unnest(CASE WHEN h.expected_s IS NULL THEN h.sdurs[4:13] END) AS d
   ) b
   WHERE cardinality(h.sdurs) >= 1
)
SELECT m.job_name, 'missed_run', 'CRITICAL', m.job_name,
       CASE WHEN m.last_eff IS NULL
            THEN format('%s has never run since it was registered %s hours ago;', m.job_name,
                        round(extract(epoch FROM p_as_of - m.ref) / 3600, 1))
            ELSE format('%s has not run for %s hours (last run %s);', m.job_name,
                        round(extract(epoch FROM p_as_of - m.last_eff) / 3600, 1),
                        to_char(m.last_eff AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'))
       END
       || CASE WHEN m.expected_at IS NOT NULL
               THEN format(' expected a run at %s (schedule %s, grace %s)',
                           to_char(m.expected_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"'), m.schedule, m.grace)
               ELSE format(' expected at least every %s (+ grace %s)', m.expected_interval, m.grace)
          END,
       jsonb_build_object(
         'last_run_at', m.last_eff,
         'hours_since_last_run', round(extract(epoch FROM p_as_of - m.ref) / 3600, 1),
         'expected_at', m.expected_at,
         'schedule', CASE WHEN m.tenant_local THEN m.schedule || ', tenant-local' ELSE m.schedule END,
         'expected_interval', m.expected_interval::text,
         'grace', m.grace::text)
  FROM missed m
 WHERE m.is_missed
   -- no missed run inside a maintenance window, nor for a slot that fell in one
   -- (the uncorrelated EXISTS is evaluated once: no window at all costs nothing per job)
   AND (NOT (SELECT EXISTS (SELECT 1 FROM bgjobs.maintenance_windows))
        OR (bgjobs.maintenance_until(m.job_name, p_as_of) IS NULL
            AND (m.expected_at IS NULL OR bgjobs.maintenance_until(m.job_name, m.expected_at) IS NULL)))
UNION ALL
SELECT f.job_name, 'consecutive_failures',
       CASE WHEN f.n >= c.fail_crit THEN 'CRITICAL' ELSE 'WARNING' END,
       f.job_name,
       CASE WHEN f.n = 1 THEN format('%s failed: %s', f.job_name, left(coalesce(f.last_error, '(no message)'), 300))
            ELSE format('%s failed %s times in a row; last error: %s', f.job_name, f.n,
                        left(coalesce(f.last_error, '(no message)'), 300))
       END,
       jsonb_build_object('consecutive_failures', f.n, 'critical_after', c.fail_crit,
                          'last_error', left(f.last_error, 1000))
  FROM fails f CROSS JOIN cfg c
 WHERE f.n >= 1
UNION ALL
SELECT s.job_name, 'slow_run',
       CASE WHEN cardinality(s.sdurs) >= 3
             AND s.sdurs[1] > c.slow_crit * s.expected_s
             AND s.sdurs[2] > c.slow_crit * s.expected_s
             AND s.sdurs[3] > c.slow_crit * s.expected_s
            THEN 'CRITICAL' ELSE 'WARNING' END,
       s.job_name,
       format('%s took %ss, %sx its expected %ss%s', s.job_name, round(s.sdurs[1], 3),
              round(s.sdurs[1] / s.expected_s, 2), round(s.expected_s, 3),
              CASE WHEN s.from_p95 THEN ' (p95 of its earlier runs)' ELSE '' END),
       jsonb_build_object('last_duration_seconds', round(s.sdurs[1], 3),
                          'recent_durations_seconds', to_jsonb(ARRAY(SELECT round(d, 3) FROM unnest(s.sdurs[1:3]) d)),
                          'expected_seconds', round(s.expected_s, 3),
                          'expected_from', CASE WHEN s.from_p95 THEN 'p95 of earlier runs' ELSE 'expected_duration' END,
                          'warning_factor', c.slow_warn, 'critical_factor', c.slow_crit)
  FROM slow s CROSS JOIN cfg c
 WHERE s.expected_s > 0 AND s.sdurs[1] > c.slow_warn * s.expected_s
$$;
COMMENT ON FUNCTION bgjobs.detect_job_issues(timestamptz, text) IS
  'Per-job findings at as_of: missed_run, consecutive_failures, slow_run (one row per bad job and rule).';
REVOKE ALL ON FUNCTION bgjobs.detect_job_issues(timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.detect_job_issues(timestamptz, text) TO bgjobs_runner;
