-- bgjobs.cron_parse(schedule): a cron expression in pg_cron 1.4's grammar (Vixie cron) read
-- into bit sets, the form the schedule math (bgjobs.cron_fire, cron_max_gap, cron_check)
-- walks.  Five fields: numbers, '*', ranges, '/step' on a range or '*', lists, month and
-- weekday names, weekday 0-7 (7 = Sunday), and the macros @yearly @annually @monthly
-- @weekly @daily @midnight @hourly.  No seconds field, no @reboot, no L/W/#/?.
--   minutes  bit m set for each minute 0-59      hours   bit h for each hour 0-23
--   doms     bit d for each day of month 1-31    months  bit m for each month 1-12
--   dows     bit w for each weekday 0-6 (0 = Sunday; 7 folded into 0)
--   wildcard the minute or hour field starts with '*' (the job follows the clock across
--            DST: skipped local times are skipped, repeated ones fire again)
--   and_days a day field starts with '*': day-of-month AND day-of-week (else OR, Vixie)
-- An expression pg_cron refuses, or one that never fires (day-of-month and month never
-- coincide: '0 0 30 2 *'), raises invalid_parameter_value with the reason, naming the
-- expression: "invalid cron expression '0 0 30 2 *': day-of-month and month never
-- coincide, so it never fires".  Same grammar and words as plpython/bgjobs_schedule.py,
-- the copy the command line checks a settings file with before it connects.
CREATE OR REPLACE FUNCTION bgjobs.cron_parse(p_schedule text,
  OUT minutes bigint, OUT hours bigint, OUT doms bigint, OUT months bigint, OUT dows bigint,
  OUT wildcard boolean, OUT and_days boolean)
LANGUAGE plpgsql
IMMUTABLE
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  v_text   text := regexp_replace(p_schedule, '^\s+|\s+$', '', 'g');
  v_fields text[];
  v_names  text[] := ARRAY['minute', 'hour', 'day-of-month', 'month', 'day-of-week'];
  v_low    integer[] := ARRAY[0, 0, 1, 1, 0];
  v_high   integer[] := ARRAY[59, 23, 31, 12, 7];
  v_months text[] := ARRAY['jan','feb','mar','apr','may','jun','jul','aug','sep','oct','nov','dec'];
  v_dows   text[] := ARRAY['sun','mon','tue','wed','thu','fri','sat'];
  v_err    text;
  v_mask   bigint;
  v_item   text;
  v_rng    text;
  v_first  text;
  v_last   text;
  v_pos    integer;
  v_slash  boolean;
  v_dash   boolean;
  v_step   numeric;
  v_start  numeric;
  v_stop   numeric;
  v_num    numeric;
  v_part   text;
  v_repr   text;
  i        integer;
  k        integer;
  v        integer;
BEGIN
  IF v_text IS NULL OR v_text = '' THEN
    v_err := 'empty cron expression';
  ELSIF left(v_text, 1) = '@' THEN
    IF v_text IN ('@reboot', '@restart') THEN
      v_err := v_text || ' is not a time schedule (it would run only at server start)';
    ELSE
      v_fields := string_to_array(CASE v_text
                    WHEN '@yearly' THEN '0 0 1 1 *' WHEN '@annually' THEN '0 0 1 1 *'
                    WHEN '@monthly' THEN '0 0 1 * *' WHEN '@weekly' THEN '0 0 * * 0'
                    -- Vixie sets no DOM/DOW star flag for @daily: both full, OR -> every day
                    WHEN '@daily' THEN '0 0 1-31 * 0-7' WHEN '@midnight' THEN '0 0 1-31 * 0-7'
                    WHEN '@hourly' THEN '0 * 1-31 * 0-7' END, ' ');
      IF v_fields IS NULL THEN
        v_err := format('unknown macro %s (known: @annually, @daily, @hourly, @midnight, @monthly, @weekly, @yearly)',
                        CASE WHEN strpos(v_text, '''') > 0 AND strpos(v_text, '"') = 0 THEN '"' || v_text || '"'
                             ELSE '''' || replace(v_text, '''', '\''') || '''' END);
      END IF;
    END IF;
  ELSIF v_text ~* '^[0-9]+\s+seconds?$' THEN
    v_err := '''N seconds'' schedules need pg_cron 1.5 or later';
  ELSE
    v_fields := regexp_split_to_array(v_text, '\s+');
    IF cardinality(v_fields) <> 5 THEN
      v_err := format('%s fields; pg_cron 1.4 takes exactly 5 (minute hour day-of-month month day-of-week), no seconds field',
                      cardinality(v_fields));
    END IF;
  END IF;

  i := 0;
  WHILE v_err IS NULL AND i < 5 LOOP
    i := i + 1;
    v_mask := 0;
    -- the common forms without the general walk: '*', '*/n', a number
    IF v_fields[i] = '*' THEN
      v_mask := (1::bigint << (v_high[i] + 1)) - (1::bigint << v_low[i]);
    ELSIF v_fields[i] ~ '^[0-9]{1,2}$' AND v_fields[i]::integer BETWEEN v_low[i] AND v_high[i] THEN
      v_mask := 1::bigint << v_fields[i]::integer;
    END IF;
    FOREACH v_item IN ARRAY CASE WHEN v_mask = 0 THEN string_to_array(v_fields[i], ',') ELSE '{}'::text[] END LOOP
      v_repr := CASE WHEN strpos(v_item, '''') > 0 AND strpos(v_item, '"') = 0 THEN '"' || v_item || '"'
                     ELSE '''' || replace(v_item, '''', '\''') || '''' END;
      v_pos := strpos(v_item, '/');
      v_slash := v_pos > 0;
      v_rng := CASE WHEN v_slash THEN left(v_item, v_pos - 1) ELSE v_item END;
      v_step := 1;
      IF v_slash THEN
        v_part := substr(v_item, v_pos + 1);
        IF v_part !~ '^[0-9]+$' OR v_part::numeric = 0 THEN
          v_err := format('%s field: bad step in %s', v_names[i], v_repr);
          EXIT;
        END IF;
        v_step := least(v_part::numeric, 64);
      END IF;
      IF v_rng = '*' THEN
        v_start := v_low[i];
        v_stop := v_high[i];
      ELSE
        v_pos := strpos(v_rng, '-');
        v_dash := v_pos > 0;
        v_first := CASE WHEN v_dash THEN left(v_rng, v_pos - 1) ELSE v_rng END;
        v_last := CASE WHEN v_dash THEN substr(v_rng, v_pos + 1) END;
        IF v_first = '' OR (v_dash AND v_last = '') THEN
          v_err := format('%s field: %s is not a number, range or ''*''', v_names[i], v_repr);
          EXIT;
        END IF;
        FOR k IN 1 .. CASE WHEN v_dash THEN 2 ELSE 1 END LOOP
          v_part := CASE k WHEN 1 THEN v_first ELSE v_last END;
          v_num := CASE WHEN v_part ~ '^[0-9]+$' THEN v_part::numeric
                        WHEN i = 4 THEN array_position(v_months, lower(v_part))
                        WHEN i = 5 THEN array_position(v_dows, lower(v_part)) - 1 END;
          IF v_num IS NULL THEN
            v_err := format('%s field: %s is not a number%s', v_names[i],
                            CASE WHEN strpos(v_part, '''') > 0 AND strpos(v_part, '"') = 0 THEN '"' || v_part || '"'
                                 ELSE '''' || replace(v_part, '''', '\''') || '''' END,
                            CASE WHEN i >= 4 THEN ' or name' ELSE '' END);
            EXIT;
          END IF;
          IF k = 1 THEN v_start := v_num; ELSE v_stop := v_num; END IF;
        END LOOP;
        EXIT WHEN v_err IS NOT NULL;
        IF NOT v_dash THEN
          v_stop := v_start;
          IF v_slash THEN
            v_err := format('%s field: step needs a range or ''*'' in %s (pg_cron rejects it)', v_names[i], v_repr);
            EXIT;
          END IF;
        END IF;
      END IF;
      IF v_start < v_low[i] OR v_start > v_high[i] THEN
        v_err := format('%s field: %s is outside %s-%s', v_names[i], v_start, v_low[i], v_high[i]);
        EXIT;
      END IF;
      IF v_stop < v_low[i] OR v_stop > v_high[i] THEN
        v_err := format('%s field: %s is outside %s-%s', v_names[i], v_stop, v_low[i], v_high[i]);
        EXIT;
      END IF;
      IF v_start > v_stop THEN
        v_err := format('%s field: range %s runs backwards', v_names[i], v_repr);
        EXIT;
      END IF;
      IF v_step = 1 THEN
        v_mask := v_mask | ((2::bigint << v_stop::integer) - (1::bigint << v_start::integer));
      ELSE
        FOR v IN v_start::integer .. v_stop::integer BY v_step::integer LOOP
          v_mask := v_mask | (1::bigint << v);
        END LOOP;
      END IF;
    END LOOP;
    CASE i
      WHEN 1 THEN minutes := v_mask;
      WHEN 2 THEN hours := v_mask;
      WHEN 3 THEN doms := v_mask;
      WHEN 4 THEN months := v_mask;
      ELSE dows := (v_mask & 127) | ((v_mask >> 7) & 1);   -- weekday 7 is Sunday
    END CASE;
  END LOOP;

  IF v_err IS NULL THEN
    wildcard := left(v_fields[1], 1) = '*' OR left(v_fields[2], 1) = '*';
    and_days := left(v_fields[3], 1) = '*' OR left(v_fields[5], 1) = '*';
    -- AND: some day must exist in some month (Feb 29 does).  Every (month, day) pair that
    -- exists falls on each weekday somewhere in the 400-year Gregorian cycle.
    IF and_days AND doms & ~(CASE WHEN months & 5546 <> 0 THEN 0::bigint             -- 31-day months (1,3,5,7,8,10,12)
                                  WHEN months & 2640 <> 0 THEN (1::bigint << 31)    -- 30-day months (4,6,9,11)
                                  ELSE (3::bigint << 30) END) = 0 THEN               -- February alone: up to 29
      v_err := 'day-of-month and month never coincide, so it never fires';
    END IF;
  END IF;
  IF v_err IS NOT NULL THEN
    RAISE EXCEPTION 'invalid cron expression %: %',
      CASE WHEN p_schedule IS NULL THEN 'None'
           WHEN strpos(p_schedule, '''') > 0 AND strpos(p_schedule, '"') = 0 THEN '"' || p_schedule || '"'
           ELSE '''' || replace(p_schedule, '''', '\''') || '''' END, v_err
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
END;
$$;
COMMENT ON FUNCTION bgjobs.cron_parse(text) IS
  'A pg_cron 1.4 cron expression as bit sets (minutes, hours, days, months, weekdays) and Vixie''s flags; raises naming an invalid one.';
REVOKE ALL ON FUNCTION bgjobs.cron_parse(text) FROM PUBLIC;
-- read-only; reached through bgjobs.cron_next from the job_status view, whose readers need EXECUTE
GRANT EXECUTE ON FUNCTION bgjobs.cron_parse(text) TO bgjobs_admin, bgjobs_viewer, bgjobs_runner;
