-- job_metrics_prometheus(as_of): the job metrics in Prometheus text exposition format
-- (version 0.0.4), for a scraper behind any HTTP shim (e.g. sql_exporter, or
-- `psql -Atc 'SELECT job_metrics_prometheus()'` into node_exporter's textfile collector).
-- Gauges per job: last run time, last success time, last duration, last status, running,
-- success rate and runs over 24h/7d/30d, p50/p95 duration, health score, records updated
-- in 24 hours, firing alerts; heartbeat age per heartbeat; outbox rows per status and channel.
-- SECURITY DEFINER: as job_metrics().
CREATE OR REPLACE FUNCTION public.job_metrics_prometheus(as_of timestamptz DEFAULT now())
RETURNS text
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  v_as_of timestamptz := coalesce(job_metrics_prometheus.as_of, now());
  v_out   text;
BEGIN
  WITH st AS (SELECT * FROM bgjobs.job_stats(v_as_of)),
  lbl AS (  -- label value escaping: backslash, double quote, newline
    SELECT st.*, replace(replace(replace(st.job_name, E'\\', E'\\\\'), '"', E'\\"'), E'\n', E'\\n') AS j FROM st
  ),
  metric(ord, name, kind, help, lines) AS (
    SELECT 1, 'bgjobs_job_last_run_timestamp_seconds', 'gauge', 'Start of the last run (its as_of), Unix time.',
           string_agg(format('bgjobs_job_last_run_timestamp_seconds{job="%s"} %s', j,
                             extract(epoch FROM last_run_at)::numeric), E'\n' ORDER BY j)
      FROM lbl WHERE last_run_at IS NOT NULL
    UNION ALL
    SELECT 2, 'bgjobs_job_last_success_timestamp_seconds', 'gauge', 'Start of the last successful run, Unix time.',
           string_agg(format('bgjobs_job_last_success_timestamp_seconds{job="%s"} %s', l.j, extract(epoch FROM x.t)::numeric),
                      E'\n' ORDER BY l.j)
      FROM lbl l
     CROSS JOIN LATERAL (SELECT max(coalesce(g.as_of, g.started_at)) AS t FROM public.jobs_log g
                          WHERE g.job_name = l.job_name AND g.status = 'success'
                            AND coalesce(g.as_of, g.started_at) <= v_as_of) x
     WHERE x.t IS NOT NULL
    UNION ALL
    SELECT 3, 'bgjobs_job_last_duration_seconds', 'gauge', 'Duration of the last finished run.',
           string_agg(format('bgjobs_job_last_duration_seconds{job="%s"} %s', j, last_duration_seconds), E'\n' ORDER BY j)
      FROM lbl WHERE last_duration_seconds IS NOT NULL
    UNION ALL
    SELECT 4, 'bgjobs_job_last_status', 'gauge', 'Status of the last run (1 for the current status).',
           string_agg(format('bgjobs_job_last_status{job="%s",status="%s"} 1', j, last_status), E'\n' ORDER BY j)
      FROM lbl WHERE last_status IS NOT NULL
    UNION ALL
    SELECT 5, 'bgjobs_job_running', 'gauge', 'Whether a run of the job is in progress.',
           string_agg(format('bgjobs_job_running{job="%s"} %s', j,
                             CASE WHEN bgjobs.lock_held(job_name) IS NULL THEN 0 ELSE 1 END), E'\n' ORDER BY j)
      FROM lbl
    UNION ALL
    SELECT 6, 'bgjobs_job_success_rate', 'gauge', 'Successful / finished runs in the window (0-1).',
           string_agg(format('bgjobs_job_success_rate{job="%s",window="%s"} %s', j, w.win, w.rate / 100), E'\n'
                      ORDER BY j, w.win)
      FROM lbl CROSS JOIN LATERAL (VALUES ('24h', success_rate_24h), ('7d', success_rate_7d), ('30d', success_rate_30d)) w(win, rate)
     WHERE w.rate IS NOT NULL
    UNION ALL
    SELECT 7, 'bgjobs_job_runs', 'gauge', 'Finished runs in the window by status.',
           string_agg(format('bgjobs_job_runs{job="%s",window="%s",status="%s"} %s', j, w.win, w.status, w.n), E'\n'
                      ORDER BY j, w.win, w.status)
      FROM lbl CROSS JOIN LATERAL (VALUES ('24h', 'success', successes_24h), ('24h', 'failed', failures_24h),
                                          ('7d', 'success', successes_7d), ('7d', 'failed', failures_7d),
                                          ('30d', 'success', successes_30d), ('30d', 'failed', failures_30d)) w(win, status, n)
    UNION ALL
    -- a percentile label, not "quantile": that label belongs to summaries (promtool check metrics)
    SELECT 8, 'bgjobs_job_duration_seconds', 'gauge', 'Duration percentiles (50, 95) of the last 100 successful runs.',
           string_agg(format('bgjobs_job_duration_seconds{job="%s",percentile="%s"} %s', j, q.q, q.v), E'\n' ORDER BY j, q.q)
      FROM lbl CROSS JOIN LATERAL (VALUES ('50', p50_duration_seconds), ('95', p95_duration_seconds)) q(q, v)
     WHERE q.v IS NOT NULL
    UNION ALL
    SELECT 9, 'bgjobs_job_health_score', 'gauge', 'Successful / finished runs over 7 days x 100.',
           string_agg(format('bgjobs_job_health_score{job="%s",label="%s"} %s', j, health_label, health_score), E'\n' ORDER BY j)
      FROM lbl WHERE health_score IS NOT NULL
    UNION ALL
    SELECT 10, 'bgjobs_job_records_updated_24h', 'gauge', 'Records updated by successful runs in 24 hours.',
           string_agg(format('bgjobs_job_records_updated_24h{job="%s"} %s', j, records_updated_24h), E'\n' ORDER BY j)
      FROM lbl
    UNION ALL
    SELECT 11, 'bgjobs_alert_firing', 'gauge', 'Firing alerts by subject, rule and severity.',
           string_agg(format('bgjobs_alert_firing{subject="%s",rule="%s",severity="%s",silenced="%s"} 1',
                             replace(replace(replace(a.subject, E'\\', E'\\\\'), '"', E'\\"'), E'\n', E'\\n'),
                             a.rule, a.severity, a.silenced), E'\n' ORDER BY a.subject, a.rule)
      FROM bgjobs.alert_state a WHERE a.state = 'firing'
    UNION ALL
    SELECT 12, 'bgjobs_heartbeat_age_seconds', 'gauge', 'Seconds since the job''s last heartbeat (job_heartbeats).',
           string_agg(format('bgjobs_heartbeat_age_seconds{job="%s"} %s',
                             replace(replace(replace(h.job_name, E'\\', E'\\\\'), '"', E'\\"'), E'\n', E'\\n'),
                             round(extract(epoch FROM v_as_of - h.last_run_at)::numeric, 3)), E'\n' ORDER BY h.job_name)
      FROM public.job_heartbeats h
    UNION ALL
    SELECT 13, 'bgjobs_notifications', 'gauge', 'Outbox rows by status and channel.',
           string_agg(format('bgjobs_notifications{status="%s",channel="%s"} %s', n.status, n.channel, n.cnt), E'\n'
                      ORDER BY n.status, n.channel)
      FROM (SELECT status, channel, count(*) AS cnt FROM public.notifications GROUP BY 1, 2) n
  )
  SELECT string_agg(format(E'# HELP %s %s\n# TYPE %s %s\n%s', m.name, m.help, m.name, m.kind,
                           coalesce(m.lines || E'\n', '')), '' ORDER BY m.ord)
    INTO v_out
    FROM metric m;
  RETURN v_out;
END;
$$;
COMMENT ON FUNCTION public.job_metrics_prometheus(timestamptz) IS 'Job metrics in Prometheus text exposition format.';
REVOKE ALL ON FUNCTION public.job_metrics_prometheus(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.job_metrics_prometheus(timestamptz) TO bgjobs_admin, bgjobs_viewer;
