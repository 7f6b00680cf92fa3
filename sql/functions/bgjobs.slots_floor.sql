-- bgjobs.slots_floor(slots_from, paused_from, paused_until, at): the earliest slot a tick at
-- `at` may still catch up.  Slots before the job's registration (or its last schedule
-- change, slots_from) and slots that passed while it was paused (before an ended pause's
-- paused_until) are never run late.  A floor later than `at` does not apply (a replay of
-- an earlier moment sees the job as it was then): -infinity.
CREATE OR REPLACE FUNCTION bgjobs.slots_floor(
  p_slots_from timestamptz, p_paused_from timestamptz, p_paused_until timestamptz, p_at timestamptz)
RETURNS timestamptz
LANGUAGE sql
IMMUTABLE
SET search_path TO pg_catalog, pg_temp
AS $$
  SELECT coalesce(max(f), '-infinity'::timestamptz)
    FROM (VALUES (p_slots_from),
                 (CASE WHEN p_paused_from IS NOT NULL THEN p_paused_until END)) v(f)
   WHERE f <= p_at
$$;
COMMENT ON FUNCTION bgjobs.slots_floor(timestamptz, timestamptz, timestamptz, timestamptz) IS
  'Earliest slot a tick at `at` may catch up (registration / schedule change, end of a pause).';
REVOKE ALL ON FUNCTION bgjobs.slots_floor(timestamptz, timestamptz, timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.slots_floor(timestamptz, timestamptz, timestamptz, timestamptz)
  TO bgjobs_runner, bgjobs_admin, bgjobs_viewer;
