-- bgjobs.cron_check(schedule, zone): why a schedule or zone is not acceptable, or NULL.
-- The schedule: pg_cron 1.4's grammar and one that fires (bgjobs.cron_parse, the parser
-- the schedule math uses).  The zone: 'tenant', or an IANA zone name spelled as its file
-- is ('europe/berlin' is refused naming 'Europe/Berlin': zone names are stored as
-- spelled, so that equal zones compare equal); not a POSIX TZ string or an offset, which
-- PostgreSQL's TimeZone setting also takes.  The words are plpython/bgjobs_schedule.py's
-- (validate_cron, validate_timezone), which the command line checks a settings file with.
CREATE OR REPLACE FUNCTION bgjobs.cron_check(p_schedule text, p_timezone text)
RETURNS text
LANGUAGE plpgsql
STABLE
SET search_path TO pg_catalog, pg_temp
SET TimeZone TO 'UTC'
AS $$
DECLARE
  v_err  text;
  v_real text;
BEGIN
  IF p_schedule IS NULL OR btrim(p_schedule) = '' THEN
    RETURN 'invalid cron expression: it is empty';
  END IF;
  BEGIN
    PERFORM bgjobs.cron_parse(p_schedule);
  EXCEPTION WHEN invalid_parameter_value THEN
    RETURN SQLERRM;
  END;
  IF p_timezone IS DISTINCT FROM 'tenant' THEN
    IF p_timezone IS NULL OR btrim(p_timezone) = '' THEN
      v_err := 'time zone name is empty';
    ELSIF p_timezone !~ '^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$'
          OR (p_timezone ~* '^[a-z]{3,}[+-]?[0-9]'
              AND upper(p_timezone) NOT IN ('EST5EDT', 'CST6CDT', 'MST7MDT', 'PST8PDT', 'GMT0', 'GMT+0', 'GMT-0')) THEN
      v_err := format('unknown time zone %s', quote_literal(p_timezone));
    ELSE
      BEGIN
        -- the setting finds the zone's file whatever the case and shows its spelling
        PERFORM pg_catalog.set_config('TimeZone', p_timezone, true);
        v_real := pg_catalog.current_setting('TimeZone');
      EXCEPTION WHEN invalid_parameter_value THEN
        v_err := format('unknown time zone %s', quote_literal(p_timezone));
      END;
      IF v_err IS NULL AND v_real IS DISTINCT FROM p_timezone THEN
        v_err := format('time zone %s is spelled %s', quote_literal(p_timezone), quote_literal(v_real));
      END IF;
    END IF;
    IF v_err IS NOT NULL THEN
      RETURN v_err || ' (an IANA zone such as Europe/Berlin, or tenant)';
    END IF;
  END IF;
  RETURN NULL;
END;
$$;
COMMENT ON FUNCTION bgjobs.cron_check(text, text) IS
  'Why a cron expression or zone is not acceptable (NULL: fine).';
REVOKE ALL ON FUNCTION bgjobs.cron_check(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.cron_check(text, text) TO bgjobs_admin;
