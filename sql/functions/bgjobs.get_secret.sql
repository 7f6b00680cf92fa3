-- bgjobs.get_secret(name): a secret's value (NULL when unset).  SECURITY DEFINER because
-- no role has rights on bgjobs.secrets; EXECUTE only for bgjobs_admin (whose login roles
-- run `bgjobs worker`), never for bgjobs_viewer or PUBLIC.
CREATE OR REPLACE FUNCTION bgjobs.get_secret(p_name text)
RETURNS text
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$ SELECT s.value FROM bgjobs.secrets s WHERE s.name = p_name $$;
COMMENT ON FUNCTION bgjobs.get_secret(text) IS 'A secret''s value; admin and the delivery code only.';
REVOKE ALL ON FUNCTION bgjobs.get_secret(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.get_secret(text) TO bgjobs_admin;
