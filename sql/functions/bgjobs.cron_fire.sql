-- bgjobs.cron_fire(schedule, zone, at, forward): THE schedule math.  The first fire of a
-- cron expression (bgjobs.cron_parse) read in a time zone strictly after `at` (forward),
-- else the latest fire at or before `at`.  bgjobs.cron_next and bgjobs.cron_prev are its
-- two directions; due_work, next_expected_run, register_job (cron_max_gap), the missed-run
-- rule, watch and maintenance ask those.
--
-- Daylight saving, as Vixie cron documents and a DBA expects:
--  * a fixed-time job (neither minute nor hour field starts with '*') whose local time
--    does not exist (spring forward) fires once, at the end of the gap (02:30 -> 03:00);
--    one whose local time occurs twice (fall back) fires once, at the first occurrence;
--  * a wildcard job (minute or hour field starts with '*', @hourly) follows the clock:
--    skipped local times are skipped, repeated local times fire again.
--
-- The zone is read from the IANA files exactly as the session TimeZone reads them: the
-- function sets TimeZone to the zone for its own duration (the SET clause restores the
-- caller's), so no session setting (DateStyle, IntervalStyle, TimeZone) changes an answer,
-- and a zone name that is also an abbreviation ('CET') keeps its DST rules (AT TIME ZONE
-- would read it as a fixed offset).  A NULL or empty zone is UTC.
--
-- The walk: local wall times that match, day by day (matching days of each month, then
-- the matching times of the day, never minute by minute), from a margin before (after)
-- `at`'s local time; each wall time gives 0, 1 or 2 instants.  An instant is final once
-- the walk has moved past its wall time by the zone's offset spread around that day
-- (0 except within 3 days of an offset change), since later wall times cannot give an
-- earlier instant.  The same rule and answers as plpython/bgjobs_schedule.py, checked on
-- tests/cron_vectors.json.
-- NULL: a NULL schedule or at, an infinite at, or no fire within years 1-9999.  An invalid
-- expression or an unknown zone raises invalid_parameter_value naming it.
CREATE OR REPLACE FUNCTION bgjobs.cron_fire(p_schedule text, p_timezone text, p_at timestamptz, p_forward boolean)
RETURNS timestamptz
LANGUAGE plpgsql
STABLE
SET search_path TO pg_catalog, pg_temp
SET TimeZone TO 'UTC'
AS $$
DECLARE
  c           record;
  v_zone      text := coalesce(nullif(p_timezone, ''), 'UTC');
  v_fwd       boolean := p_forward IS DISTINCT FROM false;
  v_wall      timestamp;
  v_start     timestamp;
  v_base      timestamp;
  v_day       timestamp;            -- local midnight of the day walked
  v_spread    interval;             -- offset spread around v_day (NULL: not computed yet)
  v_first_min integer;
  v_last_min  integer;
  y           integer;
  mo          integer;
  d           integer;
  t           integer;              -- minute of the day of the last wall time (-1/1440: none yet)
  h           integer;
  x           integer;
  v_last      integer;              -- days in month mo
  v_shift     integer;              -- weekday of day d is (v_shift + d) % 7, 0 = Sunday
  v_day_ok    boolean;
  w           timestamp;            -- the wall time
  v_t         timestamptz;
  v_oa        interval;
  v_ob        interval;
  v_t1        timestamptz;
  v_t2        timestamptz;
  v_i1        timestamptz;          -- the wall time's instants (NULL: none)
  v_i2        timestamptz;
  v_inst      timestamptz;
  v_lo        bigint;
  v_hi        bigint;
  v_mid       bigint;
  v_best      timestamptz;
  v_best_src  timestamp;
  v_best_sp   interval;
  n           integer;
BEGIN
  IF p_schedule IS NULL THEN
    RETURN NULL;
  END IF;
  c := bgjobs.cron_parse(p_schedule);
  IF v_zone <> 'UTC' THEN
    -- an IANA name; not a POSIX TZ string or offset, which the TimeZone setting also takes
    IF v_zone !~ '^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$'
       OR (v_zone ~* '^[a-z]{3,}[+-]?[0-9]'
           AND upper(v_zone) NOT IN ('EST5EDT', 'CST6CDT', 'MST7MDT', 'PST8PDT', 'GMT0', 'GMT+0', 'GMT-0')) THEN
      RAISE EXCEPTION 'unknown time zone %', quote_literal(v_zone) USING ERRCODE = 'invalid_parameter_value';
    END IF;
    BEGIN
      PERFORM pg_catalog.set_config('TimeZone', v_zone, true);
    EXCEPTION WHEN invalid_parameter_value THEN
      RAISE EXCEPTION 'unknown time zone %', quote_literal(v_zone) USING ERRCODE = 'invalid_parameter_value';
    END;
  END IF;
  IF p_at IS NULL OR NOT isfinite(p_at) THEN
    RETURN NULL;
  END IF;

  v_wall := date_trunc('minute', p_at::timestamp);
  -- the offset spread needs three days either side within years 1-9999
  IF v_wall < '0001-01-04' OR v_wall >= '9999-12-29' THEN
    RETURN NULL;
  END IF;
  v_day := date_trunc('day', v_wall);
  v_spread := bgjobs.zone_offset_spread(v_day);
  v_start := CASE WHEN v_fwd THEN v_wall - interval '1 minute' - v_spread ELSE v_wall + interval '1 minute' + v_spread END;
  v_base := date_trunc('minute', v_start);
  IF date_trunc('day', v_base) <> v_day THEN
    v_spread := NULL;
  END IF;

  -- first and last minute of the minute set (the first and last times of each hour)
  x := 0;
  WHILE (c.minutes >> x) & 1 = 0 LOOP x := x + 1; END LOOP;
  v_first_min := x;
  x := 59;
  WHILE (c.minutes >> x) & 1 = 0 LOOP x := x - 1; END LOOP;
  v_last_min := x;

  y := extract(year FROM v_base)::integer;
  mo := extract(month FROM v_base)::integer;
  d := extract(day FROM v_base)::integer;
  -- forward: walls strictly after the start's minute; backward: strictly before it, the
  -- start's own minute included when the start is past it (a spread with seconds)
  t := extract(hour FROM v_base)::integer * 60 + extract(minute FROM v_base)::integer
       + CASE WHEN NOT v_fwd AND v_base <> v_start THEN 1 ELSE 0 END;
  v_last := CASE WHEN mo = 2 THEN CASE WHEN y % 4 = 0 AND (y % 100 <> 0 OR y % 400 = 0) THEN 29 ELSE 28 END
                 WHEN mo IN (4, 6, 9, 11) THEN 30 ELSE 31 END;
  v_shift := extract(isodow FROM make_date(y, mo, 1))::integer - 1;
  v_day_ok := (c.months >> mo) & 1 = 1
              AND CASE WHEN c.and_days THEN (c.doms >> d) & 1 = 1 AND (c.dows >> ((v_shift + d) % 7)) & 1 = 1
                       ELSE (c.doms >> d) & 1 = 1 OR (c.dows >> ((v_shift + d) % 7)) & 1 = 1 END;

  LOOP
    -- the next (previous) matching time on this day, -1 if none
    x := -1;
    IF v_day_ok THEN
      IF v_fwd THEN
        h := CASE WHEN t < 0 THEN 0 ELSE t / 60 END;
        IF t >= 0 AND (c.hours >> h) & 1 = 1 THEN
          FOR n IN t % 60 + 1 .. 59 LOOP
            IF (c.minutes >> n) & 1 = 1 THEN x := h * 60 + n; EXIT; END IF;
          END LOOP;
        END IF;
        IF x < 0 THEN
          FOR n IN CASE WHEN t < 0 THEN 0 ELSE h + 1 END .. 23 LOOP
            IF (c.hours >> n) & 1 = 1 THEN x := n * 60 + v_first_min; EXIT; END IF;
          END LOOP;
        END IF;
      ELSE
        h := t / 60;
        IF h <= 23 AND (c.hours >> h) & 1 = 1 THEN
          FOR n IN REVERSE t % 60 - 1 .. 0 LOOP
            IF (c.minutes >> n) & 1 = 1 THEN x := h * 60 + n; EXIT; END IF;
          END LOOP;
        END IF;
        IF x < 0 THEN
          FOR n IN REVERSE h - 1 .. 0 LOOP
            IF (c.hours >> n) & 1 = 1 THEN x := n * 60 + v_last_min; EXIT; END IF;
          END LOOP;
        END IF;
      END IF;
    END IF;
    IF x < 0 THEN
      -- on to the next (previous) matching day; whole months that do not match are skipped
      LOOP
        d := d + CASE WHEN v_fwd THEN 1 ELSE -1 END;
        IF d > v_last OR d < 1 THEN
          LOOP
            mo := mo + CASE WHEN v_fwd THEN 1 ELSE -1 END;
            IF mo = 13 THEN
              mo := 1;
              y := y + 1;
            ELSIF mo = 0 THEN
              mo := 12;
              y := y - 1;
            END IF;
            IF y > 9999 OR y < 1 THEN
              RETURN v_best;
            END IF;
            EXIT WHEN (c.months >> mo) & 1 = 1;
          END LOOP;
          v_last := CASE WHEN mo = 2 THEN CASE WHEN y % 4 = 0 AND (y % 100 <> 0 OR y % 400 = 0) THEN 29 ELSE 28 END
                         WHEN mo IN (4, 6, 9, 11) THEN 30 ELSE 31 END;
          v_shift := extract(isodow FROM make_date(y, mo, 1))::integer - 1;
          d := CASE WHEN v_fwd THEN 1 ELSE v_last END;
        END IF;
        EXIT WHEN (c.months >> mo) & 1 = 1
              AND CASE WHEN c.and_days THEN (c.doms >> d) & 1 = 1 AND (c.dows >> ((v_shift + d) % 7)) & 1 = 1
                       ELSE (c.doms >> d) & 1 = 1 OR (c.dows >> ((v_shift + d) % 7)) & 1 = 1 END;
      END LOOP;
      v_day_ok := true;
      v_spread := NULL;
      t := CASE WHEN v_fwd THEN -1 ELSE 1440 END;
      CONTINUE;
    END IF;
    t := x;

    IF v_spread IS NULL THEN
      v_day := make_timestamp(y, mo, d, 0, 0, 0);
      IF v_day < '0001-01-04' OR v_day >= '9999-12-29' THEN
        RETURN v_best;       -- the spread would leave years 1-9999
      END IF;
      v_spread := bgjobs.zone_offset_spread(v_day);
    END IF;

    -- the wall time's instants
    w := make_timestamp(y, mo, d, t / 60, t % 60, 0);
    v_t := w::timestamptz;
    v_i1 := NULL;
    v_i2 := NULL;
    IF v_spread = interval '0' THEN
      v_i1 := v_t;                 -- no offset change near: the one instant
    ELSE
      v_oa := (v_t - interval '24 hours')::timestamp - ((v_t - interval '24 hours') AT TIME ZONE 'UTC');
      v_ob := (v_t + interval '24 hours')::timestamp - ((v_t + interval '24 hours') AT TIME ZONE 'UTC');
      IF v_oa = v_ob THEN
        v_i1 := v_t;
      ELSE
        v_t1 := (w - v_oa) AT TIME ZONE 'UTC';     -- with the offset before the change
        v_t2 := (w - v_ob) AT TIME ZONE 'UTC';     -- with the offset after it
        IF v_t1::timestamp = w AND v_t2::timestamp = w THEN
          -- repeated: the first occurrence, and for a wildcard job the second too
          v_i1 := least(v_t1, v_t2);
          IF c.wildcard THEN
            v_i2 := greatest(v_t1, v_t2);
          END IF;
        ELSIF v_t1::timestamp = w THEN
          v_i1 := v_t1;
        ELSIF v_t2::timestamp = w THEN
          v_i1 := v_t2;
        ELSIF NOT c.wildcard THEN
          -- skipped: the end of the gap, the first second whose local time is past w
          v_lo := floor(extract(epoch FROM v_t2))::bigint;
          v_hi := floor(extract(epoch FROM v_t1))::bigint;
          WHILE v_lo + 1 < v_hi LOOP
            v_mid := (v_lo + v_hi) / 2;
            IF to_timestamp(v_mid)::timestamp > w THEN v_hi := v_mid; ELSE v_lo := v_mid; END IF;
          END LOOP;
          v_i1 := to_timestamp(v_hi);
        END IF;
      END IF;
    END IF;

    FOR n IN 1 .. 2 LOOP
      v_inst := CASE n WHEN 1 THEN v_i1 ELSE v_i2 END;
      CONTINUE WHEN v_inst IS NULL;
      IF v_inst < '0001-01-01 00:00:00+00' OR v_inst >= '10000-01-01 00:00:00+00' THEN
        RETURN v_best;               -- past the limits of the calendar walked
      END IF;
      IF v_fwd AND v_inst > p_at AND (v_best IS NULL OR v_inst < v_best)
         OR NOT v_fwd AND v_inst <= p_at AND (v_best IS NULL OR v_inst > v_best) THEN
        v_best := v_inst;
        v_best_src := w;
        v_best_sp := v_spread;
      END IF;
    END LOOP;
    IF v_best IS NOT NULL
       AND (CASE WHEN v_fwd THEN w - v_best_src ELSE v_best_src - w END) >= v_best_sp THEN
      RETURN v_best;
    END IF;
  END LOOP;
END;
$$;
COMMENT ON FUNCTION bgjobs.cron_fire(text, text, timestamptz, boolean) IS
  'First fire of a cron expression in a zone after p_at (forward), else the latest at or before it; NULL if none in years 1-9999.';
REVOKE ALL ON FUNCTION bgjobs.cron_fire(text, text, timestamptz, boolean) FROM PUBLIC;
-- read-only; reached through bgjobs.cron_next from the job_status view, whose readers need EXECUTE
GRANT EXECUTE ON FUNCTION bgjobs.cron_fire(text, text, timestamptz, boolean) TO bgjobs_admin, bgjobs_viewer, bgjobs_runner;
