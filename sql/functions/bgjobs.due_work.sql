-- bgjobs.due_work(job, as_of): what a pg_cron tick at as_of has to do for a job; the one
-- scheduling model the tick asks (next_expected_run and the missed-run rule read the same
-- registry facts through the same helpers).
--  * paused at as_of (bgjobs.job_paused): nothing (due false);
--  * tenant-local: the first of the runs bgjobs.due_tenant_runs lists (tenants, and the
--    run's as_of in slot: the tick's own, or a slot of yesterday not handled yet), due
--    when there is one; bgjobs.run_scheduled_job makes the others in the same tick;
--  * a fixed zone other than UTC (a job with a tick): the latest slot of its schedule in
--    its zone at or before as_of (bgjobs.cron_prev), due when no tick has handled it yet
--    (bgjobs.job_slots) and it is not before the floor (bgjobs.slots_floor: registration,
--    schedule change, end of a pause); the run is then made as of that slot, so a slot
--    missed while the server was down runs once, on the first tick after, as of itself;
--  * otherwise (a UTC job, which pg_cron ticks on its own schedule): due.
-- An unknown job is due: begin_run then raises the error that names it.
CREATE OR REPLACE FUNCTION bgjobs.due_work(p_job_name text, p_as_of timestamptz,
  OUT due boolean, OUT tenants uuid[], OUT slot timestamptz)
LANGUAGE plpgsql
STABLE
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  r bgjobs.job_registry%ROWTYPE;
BEGIN
  SELECT * INTO r FROM bgjobs.job_registry j WHERE j.job_name = p_job_name;
  IF NOT FOUND THEN
    due := true;
    RETURN;
  END IF;
  IF bgjobs.job_paused(r.paused_from, r.paused_until, p_as_of) THEN
    due := false;
    RETURN;
  END IF;
  IF r.tenant_local THEN
    SELECT g.run_as_of, g.run_tenants INTO slot, tenants
      FROM bgjobs.due_tenant_runs(p_job_name, p_as_of) g ORDER BY g.run_as_of LIMIT 1;
    due := tenants IS NOT NULL;
    RETURN;
  END IF;
  IF r.tick IS NOT NULL THEN
    slot := bgjobs.cron_prev(r.schedule, r.timezone, p_as_of);
    IF slot IS NULL
       OR slot < bgjobs.slots_floor(r.slots_from, r.paused_from, r.paused_until, p_as_of)
       OR EXISTS (SELECT 1 FROM bgjobs.job_slots s WHERE s.job_name = p_job_name AND s.slot = due_work.slot) THEN
      slot := NULL;
      due := false;
      RETURN;
    END IF;
  END IF;
  due := true;
END;
$$;
COMMENT ON FUNCTION bgjobs.due_work(text, timestamptz) IS
  'What a tick at as_of does for a job: nothing (paused, nothing due), the due tenants, or the due slot.';
REVOKE ALL ON FUNCTION bgjobs.due_work(text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.due_work(text, timestamptz) TO bgjobs_runner;
