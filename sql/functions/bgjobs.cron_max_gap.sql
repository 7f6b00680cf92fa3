-- bgjobs.cron_max_gap(schedule, zone): the longest interval between two fires of a cron
-- expression in a zone over about 400 days from now, DST days included (a daily job in
-- Europe/Berlin: 25 hours): a job's expected interval (its default grace is a quarter of
-- it).  NULL when it fires only once.  Local times are the same on every matching day, so
-- the local gaps come from the bit sets (bgjobs.cron_parse); real gaps differ only around
-- UTC offset changes, whose fires are walked with bgjobs.cron_fire.  The same rule as
-- plpython/bgjobs_schedule.py max_gap.  Called at registration, not by the ticks.
CREATE OR REPLACE FUNCTION bgjobs.cron_max_gap(p_schedule text, p_timezone text)
RETURNS interval
LANGUAGE plpgsql
STABLE
SET search_path TO pg_catalog, pg_temp
SET TimeZone TO 'UTC'
AS $$
DECLARE
  c          record;
  v_zone     text := coalesce(nullif(p_timezone, ''), 'UTC');
  v_start    timestamptz := now();
  v_count    integer := 0;
  v_first    integer;
  v_last     integer;
  v_prev_t   integer;
  v_best     integer;               -- minutes
  v_gap      interval;
  v_day      date;
  v_horizon  date;
  v_limit    date;
  v_prev_day date;
  v_matched  integer := 0;
  v_fire     timestamptz;
  v_every    boolean;
  v_change   timestamptz;
  v_changes  timestamptz[] := '{}';
  v_reach    interval;
  v_local    timestamp;
  v_spread   interval;
  v_prev     timestamptz;
  h          integer;
  m          integer;
  k          integer;
  v_dom_ok   boolean;
  v_dow_ok   boolean;
BEGIN
  IF p_schedule IS NULL THEN
    RETURN NULL;
  END IF;
  c := bgjobs.cron_parse(p_schedule);
  -- the zone is checked, and set for this function's duration, by the first fire asked for
  v_fire := bgjobs.cron_fire(p_schedule, v_zone, v_start, false);
  PERFORM pg_catalog.set_config('TimeZone', v_zone, true);

  -- the times of a day (every matching hour at every matching minute), and the gaps between
  -- them: between two minutes of an hour, and from an hour's last minute to the next's first
  FOR m IN 0 .. 59 LOOP
    CONTINUE WHEN (c.minutes >> m) & 1 = 0;
    IF v_last IS NOT NULL THEN
      v_best := greatest(v_best, m - v_last);
    END IF;
    v_first := coalesce(v_first, m);
    v_last := m;
    v_count := v_count + 1;
  END LOOP;
  v_prev_t := NULL;
  k := 0;
  FOR h IN 0 .. 23 LOOP
    CONTINUE WHEN (c.hours >> h) & 1 = 0;
    IF v_prev_t IS NOT NULL THEN
      v_best := greatest(v_best, (h - v_prev_t) * 60 + v_first - v_last);
    ELSIF k = 0 THEN
      m := h;                         -- the first hour
    END IF;
    v_prev_t := h;
    k := k + 1;
  END LOOP;
  v_count := v_count * k;
  v_first := m * 60 + v_first;        -- the first time of the day
  v_last := v_prev_t * 60 + v_last;   -- the last
  v_every := c.months = 8190
             AND CASE WHEN c.and_days THEN c.doms = 4294967294 AND c.dows = 127
                      ELSE c.doms = 4294967294 OR c.dows = 127 END;
  IF v_every AND v_count = 1440 THEN
    RETURN interval '1 minute';       -- every minute, whatever the clock does
  END IF;

  -- the gaps between matching days (from the fire before now, over 400 days)
  v_day := v_start::date;
  v_horizon := least(v_day, date '9999-12-30' - 400) + 400;
  IF v_fire IS NOT NULL THEN
    v_day := least(v_day, v_fire::date);
  END IF;
  -- within one Gregorian cycle every expression fires twice
  v_limit := least(v_day, date '9999-12-30' - 400 * 366) + 400 * 366;
  IF v_every THEN
    v_best := greatest(v_best, 1440 + v_first - v_last);
  ELSE
    WHILE v_day <= v_limit LOOP
      IF (c.months >> extract(month FROM v_day)::integer) & 1 = 0 THEN
        v_day := (date_trunc('month', v_day) + interval '1 month')::date;   -- next month
        CONTINUE;
      END IF;
      v_dom_ok := (c.doms >> extract(day FROM v_day)::integer) & 1 = 1;
      v_dow_ok := (c.dows >> extract(dow FROM v_day)::integer) & 1 = 1;
      IF (CASE WHEN c.and_days THEN v_dom_ok AND v_dow_ok ELSE v_dom_ok OR v_dow_ok END) THEN
        IF v_prev_day IS NOT NULL THEN
          v_best := greatest(v_best, (v_day - v_prev_day) * 1440 + v_first - v_last);
        END IF;
        v_prev_day := v_day;
        v_matched := v_matched + 1;
      END IF;
      EXIT WHEN v_day >= v_horizon AND v_matched >= 2;
      v_day := v_day + 1;
    END LOOP;
  END IF;
  IF v_best IS NULL THEN
    RETURN NULL;
  END IF;
  v_gap := make_interval(mins => v_best);

  -- around each UTC offset change within 400 days: the real gaps between the fires
  -- (a day's precision: the offset at each 24 hours from now, as the module samples it)
  IF v_zone <> 'UTC' THEN
    SELECT coalesce(array_agg(o.at ORDER BY o.k), '{}') INTO v_changes
      FROM (SELECT a.k, a.at, a.off, lag(a.off) OVER (ORDER BY a.k) AS before
              FROM (SELECT g.k, v_start + make_interval(hours => 24 * g.k) AS at,
                           (v_start + make_interval(hours => 24 * g.k))::timestamp
                           - ((v_start + make_interval(hours => 24 * g.k)) AT TIME ZONE 'UTC') AS off
                      FROM generate_series(0, 400) g(k)) a) o
     WHERE o.before <> o.off;
  END IF;
  FOREACH v_change IN ARRAY v_changes LOOP
    v_local := date_trunc('day', v_change::timestamp);
    v_spread := bgjobs.zone_offset_spread(v_local);
    v_reach := make_interval(secs => extract(epoch FROM v_gap + v_spread) + 60);   -- no days: 24-hour days
    v_prev := NULL;
    v_fire := v_change - interval '24 hours' - v_reach;
    LOOP
      v_fire := bgjobs.cron_fire(p_schedule, v_zone, v_fire, true);
      EXIT WHEN v_fire IS NULL;
      IF v_prev IS NOT NULL AND v_fire - v_prev > v_gap THEN
        v_gap := make_interval(secs => extract(epoch FROM v_fire - v_prev));
      END IF;
      EXIT WHEN v_fire > v_change + v_reach;
      v_prev := v_fire;
    END LOOP;
  END LOOP;
  RETURN make_interval(secs => extract(epoch FROM v_gap));
END;
$$;
COMMENT ON FUNCTION bgjobs.cron_max_gap(text, text) IS
  'Longest interval between fires of a cron expression in a zone over about 400 days, DST days included.';
REVOKE ALL ON FUNCTION bgjobs.cron_max_gap(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.cron_max_gap(text, text) TO bgjobs_admin;
