-- bgjobs.get_secret(name): a secret's value (NULL when unset).  SECURITY DEFINER because
-- no role has rights on bgjobs.secrets; EXECUTE only for bgjobs_deliverer (the delivery
-- path), never for bgjobs_admin, bgjobs_runner, bgjobs_viewer or PUBLIC.
CREATE OR REPLACE FUNCTION bgjobs.get_secret(p_name text)
RETURNS text
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$ SELECT s.value FROM bgjobs.secrets s WHERE s.name = p_name $$;
COMMENT ON FUNCTION bgjobs.get_secret(text) IS 'A secret''s value; the delivery path (bgjobs_deliverer) only.';
REVOKE ALL ON FUNCTION bgjobs.get_secret(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.get_secret(text) TO bgjobs_deliverer;
