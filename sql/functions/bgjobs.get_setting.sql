-- bgjobs.get_setting(key, default): an app_settings value; when it is unset or empty, the
-- caller's default, else the key's default from bgjobs.setting_spec (the one home of
-- defaults: installer/bgjobs/settings.py).  Callers pass no literal default.
CREATE OR REPLACE FUNCTION bgjobs.get_setting(p_key text, p_default text DEFAULT NULL)
RETURNS text
LANGUAGE sql
STABLE
SET search_path TO pg_catalog, pg_temp
AS $$
  SELECT coalesce((SELECT nullif(s.value, '') FROM public.app_settings s WHERE s.key = p_key),
                  p_default,
                  (SELECT nullif(sp.default_value, '') FROM bgjobs.setting_spec sp WHERE sp.key = p_key))
$$;
COMMENT ON FUNCTION bgjobs.get_setting(text, text) IS 'An app_settings value, else p_default, else the spec''s default.';
REVOKE ALL ON FUNCTION bgjobs.get_setting(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.get_setting(text, text) TO bgjobs_runner;
GRANT EXECUTE ON FUNCTION bgjobs.get_setting(text, text) TO bgjobs_admin, bgjobs_runner;
