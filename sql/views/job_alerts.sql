-- job_alerts: the alert state, one row per (subject, rule) ever alerted on: firing or ok,
-- severity, since when, how many alerts were sent in the episode and when the last was,
-- whether a silence holds it (and until when).  Firing rows first.
CREATE OR REPLACE VIEW public.job_alerts AS
SELECT a.subject,
       a.display_name,
       a.rule,
       a.state,
       a.severity,
       a.since,
       a.last_evaluated_at,
       a.last_notified_at,
       a.count              AS notifications_sent,
       a.suppressed,
       a.silenced,
       sil.until            AS silenced_until,
       sil.reason           AS silence_reason,
       a.summary,
       a.details,
       a.resolved_at,
       a.episodes
  FROM bgjobs.alert_state a
  LEFT JOIN LATERAL (
    SELECT s.until, s.reason
      FROM bgjobs.silences s
     WHERE (s.job_name IS NULL OR s.job_name = a.subject) AND s.starts_at <= now() AND s.until > now()
     ORDER BY s.until DESC
     LIMIT 1) sil ON true
 ORDER BY a.state = 'firing' DESC,
          array_position(ARRAY['CRITICAL', 'WARNING', 'INFO'], a.severity), a.subject, a.rule;
COMMENT ON VIEW public.job_alerts IS 'Alert state per (job or system subject, rule): firing/ok, severity, since, notifications, silences.';
REVOKE ALL ON public.job_alerts FROM PUBLIC;
GRANT SELECT ON public.job_alerts TO bgjobs_admin, bgjobs_viewer;
