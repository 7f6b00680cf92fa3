-- bgjobs.check_setting(key, value): why value is not acceptable for app_settings key, or
-- NULL.  The rules are those of installer/bgjobs/settings.py (check_value), the one home of
-- every setting's type, range and default, which bgjobs install copies into
-- bgjobs.setting_spec; a test runs one table of values through both.
CREATE OR REPLACE FUNCTION bgjobs.check_setting(p_key text, p_value text)
RETURNS text
LANGUAGE plpgsql
STABLE
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  s bgjobs.setting_spec%ROWTYPE;
  v_n numeric;
  v_bare constant text := '^[^][[:space:]@<>,;:"()\\]+@[^][[:space:]@<>,;:"()\\]+$';
  v_addr text;
BEGIN
  SELECT * INTO s FROM bgjobs.setting_spec WHERE key = p_key;
  IF NOT FOUND THEN
    RETURN format('unknown setting %L', p_key);
  END IF;
  IF p_value IS NULL THEN
    RETURN CASE WHEN s.optional THEN NULL ELSE 'must not be NULL' END;
  END IF;
  IF strpos(p_value, chr(13)) > 0 OR strpos(p_value, chr(10)) > 0 THEN
    RETURN 'must be one line (no CR, LF or NUL)';
  END IF;
  IF p_value = '' AND (s.optional OR s.type = 'text') THEN
    RETURN NULL;
  END IF;
  CASE s.type
    WHEN 'integer', 'port', 'number' THEN
      IF s.type <> 'number' AND p_value !~ '^[+-]?[0-9]+$' THEN
        RETURN format('must be a whole number, not %L', p_value);
      ELSIF s.type = 'number' AND p_value !~ '^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$' THEN
        RETURN format('must be a number, not %L', p_value);
      END IF;
      v_n := p_value::numeric;
      IF (s.min_value IS NOT NULL AND v_n < s.min_value) OR (s.max_value IS NOT NULL AND v_n > s.max_value) THEN
        RETURN format('must be between %s and %s, not %s', trim_scale(s.min_value), trim_scale(s.max_value), p_value);
      END IF;
    WHEN 'boolean' THEN
      IF p_value NOT IN ('true', 'false') THEN
        RETURN format('must be true or false, not %L', p_value);
      END IF;
    WHEN 'choice' THEN
      IF NOT p_value = ANY (s.choices) THEN
        RETURN format('must be one of %s, not %L', array_to_string(s.choices, ', '), p_value);
      END IF;
    WHEN 'email' THEN
      v_addr := coalesce(substring(p_value FROM '^[^<>]*<([^<>]*)>$'), p_value);
      IF v_addr !~ v_bare THEN
        RETURN format('must be an e-mail address (name@domain or Name <name@domain>), not %L', p_value);
      END IF;
    WHEN 'email_list' THEN
      IF EXISTS (SELECT 1 FROM unnest(string_to_array(p_value, ',')) a WHERE btrim(a) !~ v_bare) THEN
        RETURN format('must be e-mail addresses (name@domain) separated by commas, not %L', p_value);
      END IF;
    WHEN 'url' THEN
      IF p_value !~ '^https?://[^[:space:]/?#@]+(/[^[:space:]]*)?$' THEN
        RETURN format('must be an http:// or https:// URL, not %L', p_value);
      END IF;
    WHEN 'host' THEN
      IF p_value !~ '^([A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:]+:[0-9A-Fa-f:.]*)$' THEN
        RETURN format('must be a host name or IP address, not %L', p_value);
      END IF;
    ELSE
      NULL;
  END CASE;
  RETURN NULL;
END;
$$;
COMMENT ON FUNCTION bgjobs.check_setting(text, text) IS
  'Why a value is not acceptable for an app_settings key (NULL when it is), by bgjobs.setting_spec.';
REVOKE ALL ON FUNCTION bgjobs.check_setting(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.check_setting(text, text) TO bgjobs_admin;

-- bgjobs.app_settings_check(): trigger on app_settings.  A DBA's own INSERT or UPDATE is
-- checked like a settings file: a bad value is refused with one line naming the key.
-- SECURITY DEFINER: the writer (bgjobs_admin) need not read bgjobs.setting_spec.
CREATE OR REPLACE FUNCTION bgjobs.app_settings_check()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  v_err text := bgjobs.check_setting(NEW.key, NEW.value);
BEGIN
  IF v_err IS NOT NULL THEN
    RAISE EXCEPTION 'setting %: %', NEW.key, v_err
      USING ERRCODE = 'check_violation',
            HINT = 'bgjobs settings show lists every key with its type and default';
  END IF;
  RETURN NEW;
END;
$$;
COMMENT ON FUNCTION bgjobs.app_settings_check() IS 'Refuses a bad app_settings value, naming the key.';
REVOKE ALL ON FUNCTION bgjobs.app_settings_check() FROM PUBLIC;

CREATE OR REPLACE TRIGGER app_settings_check
  BEFORE INSERT OR UPDATE OF key, value ON public.app_settings
  FOR EACH ROW EXECUTE FUNCTION bgjobs.app_settings_check();
