-- job_status: one row per registered job, what `bgjobs status` shows; then one per
-- monitor-only job and per watched pg_cron job (named 'pg_cron:' + its pg_cron name).  state is Running
-- while a run holds the job's run lock (seen from any session, whether the run commits
-- between steps or is one transaction), else 'Scheduler down' when pg_cron's launcher is
-- gone (bgjobs.scheduler_state(): nothing will fire until a restart, so next_expected_run
-- is NULL and scheduler_problem says why), else the last run's outcome, else Pending.
-- A run's time is coalesce(as_of, started_at) here as in job_success_rates: the health
-- figures (runs_7d, successes_7d, health_score, health_label) are bgjobs.job_stats(now())'s.
-- health_score = successes / runs x 100 over 7 days (the SLO window), labelled
-- Healthy >= 95, Degraded 80-94, Unhealthy < 80.
-- Appended by monitoring: success_rate_24h, p95_duration (last 100 successful runs),
-- alert_severity (the worst firing alert of the job), alerts (its firing rules) and
-- silenced_until (an active silence of the job or of everything).  The per-job figures
-- come from bgjobs.job_stats(), a definer function, so that bgjobs_viewer can read this
-- view without rights on the bgjobs schema.
-- Appended by the job API: timezone (the zone the schedule is read in, or tenant), paused,
-- and the pause's end (NULL: until resumed) and reason; state is 'Paused' meanwhile.
CREATE OR REPLACE VIEW public.job_status AS
SELECT
  r.job_name,
  coalesce(r.cron_jobname, r.job_name)                         AS pg_cron_job,
  r.schedule,
  r.local_time,
  r.enabled,
  CASE WHEN NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n WHERE n.nspname = 'cron')
       THEN NULL                                                -- pg_cron lives in another database
       ELSE coalesce(c.active, false) AND r.enabled END         AS active,
  CASE
    WHEN h.pid IS NOT NULL THEN 'Running'
    WHEN sch.state = 'down' AND r.enabled THEN 'Scheduler down'
    WHEN bgjobs.job_paused(r.paused_from, r.paused_until, now()) THEN 'Paused'
    WHEN (SELECT EXISTS (SELECT 1 FROM bgjobs.maintenance_windows))
         AND bgjobs.maintenance_until(r.job_name, now()) IS NOT NULL THEN 'Maintenance'
    WHEN last.status IS NULL THEN 'Pending'
    WHEN last.status = 'running' THEN 'Abandoned'              -- its backend died; reaped on the next run
    ELSE initcap(last.status)
  END                                                          AS state,
  h.pid                                                        AS running_pid,
  last.eff                                                     AS last_run_at,
  last.status                                                  AS last_status,
  last.completed_at - last.started_at                          AS last_duration,
  last.records_updated                                         AS last_records_updated,
  last.error_message                                           AS last_error,
  st.runs_7d                                                   AS runs_7d,
  st.successes_7d                                              AS successes_7d,
  st.health_score                                              AS health_score,
  st.health_label                                              AS health_label,
  CASE WHEN sch.state = 'down' THEN NULL ELSE st.next_expected_run END AS next_expected_run,
  st.success_rate_24h,
  st.p95_duration_seconds                                      AS p95_duration_seconds,
  al.alert_severity,
  coalesce(al.alerts, '{}')                                    AS alerts,
  sil.until                                                    AS silenced_until,
  CASE WHEN sch.state <> 'ok' THEN sch.detail END              AS scheduler_problem,
  r.timezone,
  bgjobs.job_paused(r.paused_from, r.paused_until, now())      AS paused,
  CASE WHEN bgjobs.job_paused(r.paused_from, r.paused_until, now()) THEN r.paused_until END AS paused_until,
  CASE WHEN bgjobs.job_paused(r.paused_from, r.paused_until, now()) THEN r.pause_reason END AS pause_reason
FROM bgjobs.job_registry r
CROSS JOIN bgjobs.scheduler_state() sch
LEFT JOIN bgjobs.cron_jobs() c ON c.jobname = coalesce(r.cron_jobname, r.job_name)
                              AND c.database = current_database()
CROSS JOIN LATERAL (SELECT bgjobs.lock_held(r.job_name) AS pid) h
LEFT JOIN LATERAL (
  SELECT coalesce(j.as_of, j.started_at) AS eff, j.started_at, j.completed_at, j.status, j.records_updated,
         j.error_message
    FROM public.jobs_log j
   WHERE j.job_name = r.job_name AND j.status <> 'skipped'
   ORDER BY coalesce(j.as_of, j.started_at) DESC
   LIMIT 1) last ON true
LEFT JOIN bgjobs.job_stats(now()) st ON st.job_name = r.job_name
LEFT JOIN LATERAL (
  SELECT (array_agg(a.severity ORDER BY array_position(ARRAY['CRITICAL', 'WARNING', 'INFO'], a.severity)))[1] AS alert_severity,
         array_agg(a.rule ORDER BY a.rule) AS alerts
    FROM bgjobs.alert_state a
   WHERE a.subject = r.job_name AND a.state = 'firing') al ON true
LEFT JOIN LATERAL (
  SELECT max(s.until) AS until
    FROM bgjobs.silences s
   WHERE (s.job_name IS NULL OR s.job_name = r.job_name) AND s.starts_at <= now() AND s.until > now()) sil ON true
UNION ALL
-- monitor-only jobs (their name) and watched pg_cron jobs ('pg_cron:' + their pg_cron name):
-- bgjobs.watch_stats, a definer function (latest 100 runs each); a pg_cron job is down
-- with the scheduler too
SELECT
  w.job_name, w.pg_cron_job, w.schedule, NULL::time, true, w.active,
  CASE WHEN w.running_since IS NOT NULL THEN 'Running'
       WHEN w.kind = 'pg_cron' AND wsch.state = 'down' AND w.active THEN 'Scheduler down'
       WHEN w.last_status IS NULL THEN 'Pending'
       ELSE initcap(w.last_status) END,
  NULL::integer, w.last_run_at, w.last_status, w.last_duration, w.last_records_updated, w.last_error,
  w.runs_7d, w.successes_7d, w.health_score, w.health_label,
  CASE WHEN w.kind = 'pg_cron' AND wsch.state = 'down' THEN NULL ELSE w.next_expected_run END,
  w.success_rate_24h, w.p95_duration_seconds, wal.alert_severity, coalesce(wal.alerts, '{}'), wsil.until,
  CASE WHEN w.kind = 'pg_cron' AND wsch.state <> 'ok' THEN wsch.detail END,
  w.timezone, false, NULL::timestamptz, NULL::text                -- a watched job is never paused by bgjobs
FROM bgjobs.watch_stats(now()) w
CROSS JOIN bgjobs.scheduler_state() wsch
LEFT JOIN LATERAL (
  SELECT (array_agg(a.severity ORDER BY array_position(ARRAY['CRITICAL', 'WARNING', 'INFO'], a.severity)))[1] AS alert_severity,
         array_agg(a.rule ORDER BY a.rule) AS alerts
    FROM bgjobs.alert_state a
   WHERE a.subject = w.job_name AND a.state = 'firing') wal ON true
LEFT JOIN LATERAL (
  SELECT max(s.until) AS until
    FROM bgjobs.silences s
   WHERE (s.job_name IS NULL OR s.job_name = w.job_name) AND s.starts_at <= now() AND s.until > now()) wsil ON true;
COMMENT ON VIEW public.job_status IS 'One row per registered job: schedule, active, state, last run, health score and label, next expected run.';
REVOKE ALL ON public.job_status FROM PUBLIC;
GRANT SELECT ON public.job_status TO bgjobs_admin, bgjobs_viewer;
