-- unsilence_job(job_name): ends now every active silence of a job (NULL or '*': the
-- silences of everything).  Returns how many were ended.  Alerts they held back go out at
-- the next check if the state still holds.
-- SECURITY DEFINER: as silence_job().
CREATE OR REPLACE FUNCTION public.unsilence_job(job_name text)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  v_job text := nullif(nullif(btrim(unsilence_job.job_name), ''), '*');
  v_n   integer;
BEGIN
  UPDATE bgjobs.silences s
     SET until = greatest(now(), s.starts_at + interval '1 microsecond')
   WHERE s.job_name IS NOT DISTINCT FROM v_job
     AND s.until > now();
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_n;
END;
$$;
COMMENT ON FUNCTION public.unsilence_job(text) IS 'Ends the active silences of a job (NULL or ''*'': of everything).';
REVOKE ALL ON FUNCTION public.unsilence_job(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.unsilence_job(text) TO bgjobs_admin;
