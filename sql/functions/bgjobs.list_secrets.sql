-- bgjobs.list_secrets(): the names of the secrets that are set, and when each was last set
-- (never a value).  SECURITY DEFINER: no role may read bgjobs.secrets; bgjobs_admin sets,
-- rotates and lists secrets without reading them back.
CREATE OR REPLACE FUNCTION bgjobs.list_secrets()
RETURNS TABLE (name text, updated_at timestamptz)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$ SELECT s.name, s.updated_at FROM bgjobs.secrets s ORDER BY s.name $$;
COMMENT ON FUNCTION bgjobs.list_secrets() IS 'Names of the secrets that are set, with when (never values). Admin.';
REVOKE ALL ON FUNCTION bgjobs.list_secrets() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.list_secrets() TO bgjobs_admin;

-- bgjobs.secret_is_set(name): whether a secret is set (for alert routing and doctor).
-- SECURITY DEFINER: as list_secrets; it answers yes or no, never the value.
CREATE OR REPLACE FUNCTION bgjobs.secret_is_set(p_name text)
RETURNS boolean
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$ SELECT EXISTS (SELECT 1 FROM bgjobs.secrets s WHERE s.name = p_name AND s.value <> '') $$;
COMMENT ON FUNCTION bgjobs.secret_is_set(text) IS 'Whether a secret is set (never its value).';
REVOKE ALL ON FUNCTION bgjobs.secret_is_set(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.secret_is_set(text) TO bgjobs_admin, bgjobs_runner;
