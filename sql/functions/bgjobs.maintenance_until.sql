-- bgjobs.maintenance_until(job, at): the end of the maintenance window that covers `at`
-- for this job (a window of the job, or of every job), or NULL outside any window.  A
-- recurring window's start is its recurrence (minute and hour single numbers; day of
-- month, month and day of week read by bgjobs.cron_parse, as pg_cron reads them, but the
-- day fields combined with AND) in its zone; it covers [start, start + duration).
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
       CROSS JOIN LATERAL bgjobs.cron_parse(w.recurrence) p
       CROSS JOIN LATERAL generate_series(((p_at - w.duration) AT TIME ZONE w.timezone)::date,
                                          (p_at AT TIME ZONE w.timezone)::date, interval '1 day') AS d(day)
       CROSS JOIN LATERAL (SELECT ((d.day::date + make_time(e.f[2]::integer, e.f[1]::integer, 0))
                                   AT TIME ZONE w.timezone) AS start) s
       WHERE w.recurrence IS NOT NULL AND (w.job_name IS NULL OR w.job_name = p_job_name)
         AND s.start <= p_at AND p_at < s.start + w.duration
         AND (p.doms >> extract(day FROM d.day)::integer) & 1 = 1          -- day of month AND
         AND (p.months >> extract(month FROM d.day)::integer) & 1 = 1      -- month AND
         AND (p.dows >> extract(dow FROM d.day)::integer) & 1 = 1          -- day of week
    ) x
$$;
COMMENT ON FUNCTION bgjobs.maintenance_until(text, timestamptz) IS
  'End of the maintenance window covering a moment for a job (or all jobs); NULL outside any.';
REVOKE ALL ON FUNCTION bgjobs.maintenance_until(text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.maintenance_until(text, timestamptz) TO bgjobs_runner;
GRANT EXECUTE ON FUNCTION bgjobs.maintenance_until(text, timestamptz) TO bgjobs_admin, bgjobs_viewer;
