-- bgjobs.watchdog_alert(as_of): the scheduler's alert, raised from outside pg_cron (by
-- `bgjobs worker` at every poll): when bgjobs.watchdog finds the launcher gone or bgjobs'
-- ticks stale, rule 'scheduler_down' on subject 'scheduler' goes through the alert state
-- machine (one alert, reminders after alert_suppression_hours, one resolved notice when
-- the ticks are back).  The caller then delivers the queued alert itself: pg_cron's own
-- deliver-notifications is what is down.  When the launcher cannot be seen nothing changes.
-- Returns apply_alerts' counts plus 'problems' (the watchdog's scheduler lines).
-- SECURITY DEFINER: the worker's login (bgjobs_deliverer) has no rights on the alert state
-- or on the outbox's insert; it can only evaluate this one rule.
CREATE OR REPLACE FUNCTION bgjobs.watchdog_alert(p_as_of timestamptz DEFAULT now())
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  v_problems text[];
  v_unknown  boolean;
  v_findings jsonb := '[]'::jsonb;
  v_counts   jsonb;
BEGIN
  SELECT array_agg(w.problem ORDER BY w.kind, w.subject) FILTER (WHERE w.severity = 'CRITICAL'),
         bool_or(w.severity <> 'CRITICAL')
    INTO v_problems, v_unknown
    FROM bgjobs.watchdog(p_as_of) w
   WHERE w.kind IN ('launcher', 'ticks');
  IF coalesce(v_unknown, false) AND v_problems IS NULL THEN
    RETURN jsonb_build_object('problems', '[]'::jsonb, 'skipped', 'cannot see the pg_cron launcher');
  END IF;
  IF v_problems IS NOT NULL THEN
    v_findings := jsonb_build_array(jsonb_build_object(
      'subject', 'scheduler', 'rule', 'scheduler_down', 'severity', 'CRITICAL',
      'display_name', 'pg_cron scheduler',
      'summary', array_to_string(v_problems, '; '),
      'details', jsonb_build_object('problems', to_jsonb(v_problems),
                                    'fix', 'restart PostgreSQL to bring the pg_cron launcher back; '
                                           'run bgjobs doctor')));
  END IF;
  v_counts := bgjobs.apply_alerts(p_as_of, ARRAY['scheduler_down'], v_findings, ARRAY['scheduler']);
  RETURN v_counts || jsonb_build_object('problems', coalesce(to_jsonb(v_problems), '[]'::jsonb));
END;
$$;
COMMENT ON FUNCTION bgjobs.watchdog_alert(timestamptz) IS
  'Raises (or resolves) the scheduler_down alert from outside pg_cron: launcher gone or bgjobs'' ticks stale.';
REVOKE ALL ON FUNCTION bgjobs.watchdog_alert(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.watchdog_alert(timestamptz) TO bgjobs_admin, bgjobs_deliverer;
