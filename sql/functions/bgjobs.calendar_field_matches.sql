-- bgjobs.calendar_field_matches(field, value, low, high, names): whether one field of a
-- 5-field cron expression (*, n, a-b, */n, a-b/n, lists; month and weekday names; weekday
-- 7 = Sunday) matches value.  Used for maintenance windows, whose day-of-month and
-- day-of-week both have to match (a calendar: "the first Sunday" is '1-7' AND 'sun',
-- where cron's own OR rule would fire on days 1-7 and on every Sunday).  NULL when the
-- field is malformed.
CREATE OR REPLACE FUNCTION bgjobs.calendar_field_matches(p_field text, p_value integer, p_low integer,
                                                         p_high integer, p_names text[] DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql
IMMUTABLE
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  v_part text;
  v_m text[];
  v_lo integer;
  v_hi integer;
  v_step integer;
  v_field text := lower(btrim(p_field));
  i integer;
BEGIN
  IF p_names IS NOT NULL THEN
    FOR i IN 1 .. array_length(p_names, 1) LOOP
      v_field := regexp_replace(v_field, '\m' || p_names[i] || '\M', (p_low + i - 1)::text, 'g');
    END LOOP;
  END IF;
  FOREACH v_part IN ARRAY string_to_array(v_field, ',') LOOP
    v_m := regexp_match(v_part, '^(\*|(\d+)(?:-(\d+))?)(?:/(\d+))?$');
    IF v_m IS NULL THEN
      RETURN NULL;
    END IF;
    IF v_m[1] = '*' THEN
      v_lo := p_low; v_hi := p_high;
    ELSE
      v_lo := v_m[2]::integer;
      v_hi := coalesce(v_m[3]::integer, CASE WHEN v_m[4] IS NOT NULL THEN p_high ELSE v_lo END);
    END IF;
    v_step := coalesce(v_m[4]::integer, 1);
    IF v_lo < p_low OR v_hi > p_high + (CASE WHEN p_high = 6 THEN 1 ELSE 0 END) OR v_lo > v_hi OR v_step < 1 THEN
      RETURN NULL;
    END IF;
    IF p_value BETWEEN v_lo AND v_hi AND (p_value - v_lo) % v_step = 0 THEN
      RETURN true;
    END IF;
    IF p_high = 6 AND p_value = 0 AND 7 BETWEEN v_lo AND v_hi AND (7 - v_lo) % v_step = 0 THEN
      RETURN true;                                    -- weekday 7 is Sunday
    END IF;
  END LOOP;
  RETURN false;
END;
$$;
COMMENT ON FUNCTION bgjobs.calendar_field_matches(text, integer, integer, integer, text[]) IS
  'Whether a cron field matches a value (NULL when malformed). For maintenance windows.';
REVOKE ALL ON FUNCTION bgjobs.calendar_field_matches(text, integer, integer, integer, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.calendar_field_matches(text, integer, integer, integer, text[]) TO bgjobs_runner;
GRANT EXECUTE ON FUNCTION bgjobs.calendar_field_matches(text, integer, integer, integer, text[]) TO bgjobs_admin, bgjobs_viewer;
