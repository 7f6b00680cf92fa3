-- bgjobs.get_setting(key, default): an app_settings value, or the default when unset/empty.
CREATE OR REPLACE FUNCTION bgjobs.get_setting(p_key text, p_default text DEFAULT NULL)
RETURNS text
LANGUAGE sql
STABLE
SET search_path TO pg_catalog, public, pg_temp
AS $$ SELECT coalesce((SELECT nullif(s.value, '') FROM public.app_settings s WHERE s.key = p_key), p_default) $$;
COMMENT ON FUNCTION bgjobs.get_setting(text, text) IS 'An app_settings value, or p_default when unset or empty.';
REVOKE ALL ON FUNCTION bgjobs.get_setting(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.get_setting(text, text) TO bgjobs_admin;
