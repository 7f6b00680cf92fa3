-- bgjobs.cron_check(schedule, zone): why a schedule or zone is not acceptable, or NULL.
-- This SQL version is the fallback for servers without plpython3u: the 5-field grammar of
-- pg_cron 1.4 (numbers, *, ranges, steps, lists, month and weekday names, the @ macros;
-- ranges checked field by field) and a zone PostgreSQL knows (pg_timezone_names) or
-- 'tenant'.  Where plpython3u is available bgjobs install replaces it with the PL/Python
-- one (plpython/bgjobs_schedule.py validate_cron / validate_timezone), which also refuses
-- an expression that never fires (31 2 *).
CREATE OR REPLACE FUNCTION bgjobs.cron_check(p_schedule text, p_timezone text)
RETURNS text
LANGUAGE plpgsql
STABLE
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  v_fields text[];
  v_names  text[] := ARRAY['minute', 'hour', 'day-of-month', 'month', 'day-of-week'];
  v_low    integer[] := ARRAY[0, 0, 1, 1, 0];
  v_high   integer[] := ARRAY[59, 23, 31, 12, 7];
  v_item   text;
  v_m      text[];
  v_n      integer;
BEGIN
  IF p_schedule IS NULL OR btrim(p_schedule) = '' THEN
    RETURN 'invalid cron expression: it is empty';
  END IF;
  IF lower(btrim(p_schedule)) NOT IN ('@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly') THEN
    v_fields := regexp_split_to_array(btrim(p_schedule), '\s+');
    IF cardinality(v_fields) <> 5 THEN
      RETURN format('invalid cron expression %L: expected 5 fields (minute hour day-of-month month day-of-week), got %s',
                    p_schedule, cardinality(v_fields));
    END IF;
    FOR i IN 1..5 LOOP
      FOREACH v_item IN ARRAY string_to_array(lower(v_fields[i]), ',') LOOP
        v_m := regexp_match(v_item, '^(\*|[0-9a-z]+(-[0-9a-z]+)?)(/([0-9]+))?$');
        IF v_m IS NULL OR (v_m[4] IS NOT NULL AND v_m[4]::integer = 0) THEN
          RETURN format('invalid cron expression %L: %s field: %L is not a value, range or step',
                        p_schedule, v_names[i], v_item);
        END IF;
        IF v_m[1] <> '*' THEN
          FOREACH v_item IN ARRAY string_to_array(v_m[1], '-') LOOP
            v_n := CASE
                     WHEN v_item ~ '^[0-9]{1,3}$' THEN v_item::integer
                     WHEN i = 4 THEN array_position(ARRAY['jan','feb','mar','apr','may','jun','jul','aug','sep','oct','nov','dec'], v_item)
                     WHEN i = 5 THEN array_position(ARRAY['sun','mon','tue','wed','thu','fri','sat'], v_item) - 1
                   END;
            IF v_n IS NULL OR v_n < v_low[i] OR v_n > v_high[i] THEN
              RETURN format('invalid cron expression %L: %s field: %L is not in %s-%s',
                            p_schedule, v_names[i], v_item, v_low[i], v_high[i]);
            END IF;
          END LOOP;
        END IF;
      END LOOP;
    END LOOP;
  END IF;
  IF p_timezone IS NULL OR (p_timezone <> 'tenant'
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_timezone_names z WHERE z.name = p_timezone)) THEN
    RETURN format('unknown time zone %L (an IANA zone such as Europe/Berlin, or tenant)', p_timezone);
  END IF;
  RETURN NULL;
END;
$$;
COMMENT ON FUNCTION bgjobs.cron_check(text, text) IS
  'Why a cron expression or zone is not acceptable (NULL: fine). SQL fallback; PL/Python where available.';
REVOKE ALL ON FUNCTION bgjobs.cron_check(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.cron_check(text, text) TO bgjobs_admin;
