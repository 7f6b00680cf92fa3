-- bgjobs.run_scheduled_job(job, as_of): what pg_cron calls (CALL ...).  A procedure, so
-- that the 'running' jobs_log row is committed before the body starts: every session sees
-- the run while it runs, and a run whose backend dies stays visible until it is reaped.
-- A tick that bgjobs.due_work finds nothing to do for (the job is paused; no tenant of a
-- tenant-local job is due; the latest slot of a zoned job is handled or before its floor)
-- is not a run and records nothing.  A zoned job runs as of its slot, and the slot is
-- marked handled (bgjobs.job_slots) with the run's 'running' row: once, even if it fails.
-- A tenant-local job makes one run per as_of that bgjobs.due_tenant_runs lists, earliest
-- first: the tenants whose local time was reached, as of the tick, and before them those
-- whose slot of yesterday was missed (server down across their midnight), as of that slot.
-- Nor is a tick inside a maintenance window of the job (bgjobs.maintenance_until).
-- No SET search_path and no SECURITY DEFINER: PostgreSQL forbids COMMIT in a procedure that
-- has either.  So it pins search_path itself (for its transaction, again after each COMMIT)
-- before anything else, calls only schema-qualified functions that pin
-- their own, and only bgjobs_runner (pg_cron's user for bgjobs' jobs) may execute it.
CREATE OR REPLACE PROCEDURE bgjobs.run_scheduled_job(p_job_name text, p_as_of timestamptz DEFAULT NULL)
LANGUAGE plpgsql
AS $$
DECLARE
  v_as_of   timestamptz := p_as_of;
  v_tenants uuid[];
  v_run     uuid;
  v_skip    boolean;
  v_resp    jsonb;
  v_due     boolean;
  v_slot    timestamptz;
  v_run_as_of timestamptz;
BEGIN
  PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
  v_as_of := coalesce(v_as_of, pg_catalog.now());
  IF bgjobs.maintenance_until(p_job_name, v_as_of) IS NOT NULL THEN
    RETURN;                                         -- inside a maintenance window: no run
  END IF;
  PERFORM bgjobs.reap_stale_runs(true);
  SELECT d.due, d.tenants, d.slot INTO v_due, v_tenants, v_slot FROM bgjobs.due_work(p_job_name, v_as_of) d;
  IF NOT v_due THEN
    RETURN;
  END IF;
  LOOP
    v_run_as_of := coalesce(v_slot, v_as_of);
    SELECT b.run_id, b.skipped INTO v_run, v_skip FROM bgjobs.begin_run(p_job_name, v_run_as_of, 'cron', true) b;
    IF v_skip THEN
      COMMIT;
      RETURN;
    END IF;
    IF v_slot IS NOT NULL AND v_tenants IS NULL THEN
      INSERT INTO bgjobs.job_slots (job_name, slot, run_id) VALUES (p_job_name, v_slot, v_run)
      ON CONFLICT DO NOTHING;
    END IF;
    COMMIT;
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    v_resp := bgjobs.execute_run(v_run, p_job_name, v_run_as_of, v_tenants, true);
    PERFORM bgjobs.release_run_lock(p_job_name);
    COMMIT;
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    -- a tenant-local job: the tick's next run, if tenants with a later slot are due too (a
    -- failed run's tenants are not marked handled: the next tick tries them again)
    EXIT WHEN v_tenants IS NULL;
    SELECT g.run_as_of, g.run_tenants INTO v_slot, v_tenants
      FROM bgjobs.due_tenant_runs(p_job_name, v_as_of) g
     WHERE g.run_as_of > v_run_as_of
     ORDER BY g.run_as_of LIMIT 1;
    EXIT WHEN v_tenants IS NULL;
  END LOOP;
END;
$$;
COMMENT ON PROCEDURE bgjobs.run_scheduled_job(text, timestamptz) IS
  'pg_cron entry point: CALL bgjobs.run_scheduled_job(''job-name''). Commits the running row, then runs and records the job.';
REVOKE ALL ON PROCEDURE bgjobs.run_scheduled_job(text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE bgjobs.run_scheduled_job(text, timestamptz) TO bgjobs_runner;
