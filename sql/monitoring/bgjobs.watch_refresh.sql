-- bgjobs.watch_refresh(as_of): what check-job-health does before the watch rules:
--  * notes each watched pg_cron job it sees for the first time (bgjobs.cron_watch_seen: a
--    job that never ran is missed from then on) and forgets jobs no longer watched;
--  * fills bgjobs.schedule_cache for every distinct (schedule, zone) watched whose cached
--    fire does not cover as_of - grace: the cron math (about 0.2 ms a call) runs once per
--    distinct schedule until its next fire, not once per job and evaluation.  An
--    expression the cron math refuses is cached with its error (no missed-run rule for it;
--    pg_cron's own "N seconds" schedules need no cron math).
-- Returns the number of (schedule, zone) computed.
CREATE OR REPLACE FUNCTION bgjobs.watch_refresh(p_as_of timestamptz)
RETURNS integer
LANGUAGE plpgsql
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  r      record;
  v_prev timestamptz;
  v_next timestamptz;
  v_err  text;
  v_n    integer := 0;
  v_ids    bigint[];
  v_scheds text[];
  v_zones  text[];
  v_graces interval[];
BEGIN
  -- one read of what is watched (pg_cron's table is read once)
  SELECT array_agg(t.jobid), array_agg(t.schedule), array_agg(t.timezone), array_agg(t.grace)
    INTO v_ids, v_scheds, v_zones, v_graces
    FROM bgjobs.watch_targets(p_as_of, 0) t;
  v_ids := coalesce(array_remove(v_ids, NULL), '{}');        -- monitor-only jobs have none
  INSERT INTO bgjobs.cron_watch_seen (jobid) SELECT i FROM unnest(v_ids) i ON CONFLICT DO NOTHING;
  DELETE FROM bgjobs.cron_watch_seen s WHERE NOT (s.jobid = ANY (v_ids));
  FOR r IN
    SELECT DISTINCT ON (t.schedule, t.timezone) t.schedule, t.timezone, p_as_of - t.grace - interval '1 microsecond' AS at
      FROM unnest(v_scheds, v_zones, v_graces) AS t(schedule, timezone, grace)
      LEFT JOIN bgjobs.schedule_cache c ON c.schedule = t.schedule AND c.timezone = t.timezone
     WHERE t.schedule !~* '^\s*[0-9]+\s+seconds?\s*$'
       AND (c.schedule IS NULL
            OR (c.error IS NULL AND c.prev_fire IS NOT NULL
                AND NOT (c.prev_fire <= p_as_of - t.grace - interval '1 microsecond'
                         AND c.next_fire > p_as_of - t.grace - interval '1 microsecond')))
     ORDER BY t.schedule, t.timezone, t.grace
  LOOP
    v_err := NULL;
    BEGIN
      v_prev := bgjobs.cron_prev(r.schedule, r.timezone, r.at);
      v_next := CASE WHEN v_prev IS NOT NULL THEN bgjobs.cron_next(r.schedule, r.timezone, v_prev) END;
    EXCEPTION WHEN others THEN
      v_prev := NULL;
      v_next := NULL;
      v_err := left(SQLERRM, 300);
    END;
    INSERT INTO bgjobs.schedule_cache AS c (schedule, timezone, prev_fire, next_fire, error, updated_at)
    VALUES (r.schedule, r.timezone, v_prev, v_next, v_err, now())
    ON CONFLICT (schedule, timezone) DO UPDATE
       SET prev_fire = EXCLUDED.prev_fire, next_fire = EXCLUDED.next_fire, error = EXCLUDED.error,
           updated_at = EXCLUDED.updated_at;
    v_n := v_n + 1;
  END LOOP;
  RETURN v_n;
END;
$$;
COMMENT ON FUNCTION bgjobs.watch_refresh(timestamptz) IS
  'Before the watch rules: pg_cron jobs first seen, and the cron math cache per distinct (schedule, zone).';
REVOKE ALL ON FUNCTION bgjobs.watch_refresh(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.watch_refresh(timestamptz) TO bgjobs_runner;
