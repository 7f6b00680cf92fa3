-- job_status: one row per registered job, what `bgjobs status` shows.  state is Running
-- while a run holds the job's run lock (seen from any session, whether the run commits
-- between steps or is one transaction), else the last run's outcome, else Pending.
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
    WHEN bgjobs.job_paused(r.paused_from, r.paused_until, now()) THEN 'Paused'
    WHEN last.status IS NULL THEN 'Pending'
    WHEN last.status = 'running' THEN 'Abandoned'              -- its backend died; reaped on the next run
    ELSE initcap(last.status)
  END                                                          AS state,
  h.pid                                                        AS running_pid,
  last.started_at                                              AS last_run_at,
  last.status                                                  AS last_status,
  last.completed_at - last.started_at                          AS last_duration,
  last.records_updated                                         AS last_records_updated,
  last.error_message                                           AS last_error,
  w.runs                                                       AS runs_7d,
  w.successes                                                  AS successes_7d,
  CASE WHEN w.runs > 0 THEN round(100.0 * w.successes / w.runs, 1) END AS health_score,
  CASE
    WHEN w.runs = 0 THEN 'No runs'
    WHEN 100.0 * w.successes / w.runs >= 95 THEN 'Healthy'
    WHEN 100.0 * w.successes / w.runs >= 80 THEN 'Degraded'
    ELSE 'Unhealthy'
  END                                                          AS health_label,
  st.next_expected_run                                         AS next_expected_run,
  st.success_rate_24h,
  st.p95_duration_seconds                                      AS p95_duration_seconds,
  al.alert_severity,
  coalesce(al.alerts, '{}')                                    AS alerts,
  sil.until                                                    AS silenced_until,
  r.timezone,
  bgjobs.job_paused(r.paused_from, r.paused_until, now())      AS paused,
  CASE WHEN bgjobs.job_paused(r.paused_from, r.paused_until, now()) THEN r.paused_until END AS paused_until,
  CASE WHEN bgjobs.job_paused(r.paused_from, r.paused_until, now()) THEN r.pause_reason END AS pause_reason
FROM bgjobs.job_registry r
LEFT JOIN bgjobs.cron_jobs() c ON c.jobname = coalesce(r.cron_jobname, r.job_name)
                              AND c.database = current_database()
CROSS JOIN LATERAL (SELECT bgjobs.lock_held(r.job_name) AS pid) h
LEFT JOIN LATERAL (
  SELECT j.started_at, j.completed_at, j.status, j.records_updated, j.error_message
    FROM public.jobs_log j
   WHERE j.job_name = r.job_name AND j.status <> 'skipped'
   ORDER BY j.started_at DESC
   LIMIT 1) last ON true
CROSS JOIN LATERAL (
  SELECT count(*) FILTER (WHERE j.status IN ('success', 'failed')) AS runs,
         count(*) FILTER (WHERE j.status = 'success') AS successes
    FROM public.jobs_log j
   WHERE j.job_name = r.job_name AND j.started_at > now() - interval '7 days') w
LEFT JOIN bgjobs.job_stats(now()) st ON st.job_name = r.job_name
LEFT JOIN LATERAL (
  SELECT (array_agg(a.severity ORDER BY array_position(ARRAY['CRITICAL', 'WARNING', 'INFO'], a.severity)))[1] AS alert_severity,
         array_agg(a.rule ORDER BY a.rule) AS alerts
    FROM bgjobs.alert_state a
   WHERE a.subject = r.job_name AND a.state = 'firing') al ON true
LEFT JOIN LATERAL (
  SELECT max(s.until) AS until
    FROM bgjobs.silences s
   WHERE (s.job_name IS NULL OR s.job_name = r.job_name) AND s.starts_at <= now() AND s.until > now()) sil ON true;
COMMENT ON VIEW public.job_status IS 'One row per registered job: schedule, active, state, last run, health score and label, next expected run.';
REVOKE ALL ON public.job_status FROM PUBLIC;
GRANT SELECT ON public.job_status TO bgjobs_admin, bgjobs_viewer;
