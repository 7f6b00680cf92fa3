-- bgjobs.maintenance_until(job, at): the end of the maintenance window that covers `at`
-- for this job (a window of the job, or of every job), or NULL outside any window.  A
-- recurring window's start is its recurrence (minute and hour single numbers; day of
-- month, month and day of week as in cron, the day fields combined with AND) read in its
-- zone; it covers [start, start + duration).
CREATE OR REPLACE FUNCTION bgjobs.maintenance_until(p_job_name text, p_at timestamptz)
RETURNS timestamptz
LANGUAGE sql
STABLE
SET search_path TO pg_catalog, pg_temp
AS $$
  SELECT max(x.ends)
    FROM (
      SELECT w.ends_at AS ends
        FROM bgjobs.maintenance_windows w
       WHERE w.recurrence IS NULL AND (w.job_name IS NULL OR w.job_name = p_job_name)
         AND w.starts_at <= p_at AND p_at < w.ends_at
      UNION ALL
      SELECT s.start + w.duration
        FROM bgjobs.maintenance_windows w
       CROSS JOIN LATERAL (SELECT regexp_split_to_array(btrim(w.recurrence), '\s+') AS f) e
       CROSS JOIN LATERAL generate_series(((p_at - w.duration) AT TIME ZONE w.timezone)::date,
                                          (p_at AT TIME ZONE w.timezone)::date, interval '1 day') AS d(day)
       CROSS JOIN LATERAL (SELECT ((d.day::date + make_time(e.f[2]::integer, e.f[1]::integer, 0))
                                   AT TIME ZONE w.timezone) AS start) s
       WHERE w.recurrence IS NOT NULL AND (w.job_name IS NULL OR w.job_name = p_job_name)
         AND s.start <= p_at AND p_at < s.start + w.duration
         AND bgjobs.calendar_field_matches(e.f[3], extract(day FROM d.day)::integer, 1, 31)
         AND bgjobs.calendar_field_matches(e.f[4], extract(month FROM d.day)::integer, 1, 12,
               ARRAY['jan','feb','mar','apr','may','jun','jul','aug','sep','oct','nov','dec'])
         AND bgjobs.calendar_field_matches(e.f[5], extract(dow FROM d.day)::integer, 0, 6,
               ARRAY['sun','mon','tue','wed','thu','fri','sat'])
    ) x
$$;
COMMENT ON FUNCTION bgjobs.maintenance_until(text, timestamptz) IS
  'End of the maintenance window covering a moment for a job (or all jobs); NULL outside any.';
REVOKE ALL ON FUNCTION bgjobs.maintenance_until(text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.maintenance_until(text, timestamptz) TO bgjobs_runner;
GRANT EXECUTE ON FUNCTION bgjobs.maintenance_until(text, timestamptz) TO bgjobs_admin, bgjobs_viewer;
