-- secret_names(): the names of the stored secrets and when each was last set, never their
-- values (what `bgjobs secret list` shows).
-- SECURITY DEFINER: no role may read bgjobs.secrets; this exposes its names only.
CREATE OR REPLACE FUNCTION public.secret_names()
RETURNS TABLE (name text, updated_at timestamptz)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
  SELECT s.name, s.updated_at FROM bgjobs.secrets s ORDER BY s.name;
$$;
COMMENT ON FUNCTION public.secret_names() IS 'Names of the stored secrets and when each was set; never the values (admin only).';
REVOKE ALL ON FUNCTION public.secret_names() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.secret_names() TO bgjobs_admin;
