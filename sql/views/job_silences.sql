-- job_silences: alert silences (silence_job / unsilence_job), active ones first.
CREATE OR REPLACE VIEW public.job_silences AS
SELECT s.id,
       coalesce(s.job_name, '*') AS job_name,
       s.starts_at,
       s.until,
       s.reason,
       s.created_by,
       s.created_at,
       s.starts_at <= now() AND s.until > now() AS active
  FROM bgjobs.silences s
 ORDER BY (s.starts_at <= now() AND s.until > now()) DESC, s.until DESC;
COMMENT ON VIEW public.job_silences IS 'Alert silences: job (* = all), period, reason, who; active first.';
REVOKE ALL ON public.job_silences FROM PUBLIC;
GRANT SELECT ON public.job_silences TO bgjobs_admin, bgjobs_viewer;
