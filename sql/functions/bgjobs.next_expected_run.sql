-- bgjobs.next_expected_run(job, as_of): when the job is next expected to run.
-- Tenant-local jobs: now, if a tenant is due (bgjobs.due_tenant_runs: today's slot reached
-- or a missed one, not yet handled); else the earliest tenant's next slot: a schedule on
-- some days only, its next fire in the tenant's zone; a daily one, the next local slot.  A
-- slot is the first instant at which the tenant's clock reads the job's local
-- time on that local date or later, which is the tick at which due_tenants hands the tenant
-- to the run: a repeated local time (fall back) at its first occurrence, a skipped one
-- (spring forward) at the end of the gap.  (PostgreSQL's own `timestamp AT TIME ZONE`
-- takes the later occurrence of a repeated time and shifts a skipped one by the gap.)
-- Zoned jobs (a fixed zone other than UTC, driven by a tick): now, if their latest slot is
-- due and not yet handled (bgjobs.due_work's rule), else the next fire of the schedule.
-- Others: the next fire of the job's schedule in its zone, else last run + interval.
-- A paused job: NULL while the pause has no end, else as of the pause's end.
CREATE OR REPLACE FUNCTION bgjobs.next_expected_run(p_job_name text, p_as_of timestamptz DEFAULT now())
RETURNS timestamptz
LANGUAGE plpgsql
STABLE
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  r bgjobs.job_registry%ROWTYPE;
  v_next timestamptz;
  v_prev timestamptz;
  v_floor timestamptz;
BEGIN
  SELECT * INTO r FROM bgjobs.job_registry WHERE job_name = p_job_name;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  IF bgjobs.job_paused(r.paused_from, r.paused_until, p_as_of) THEN
    IF r.paused_until IS NULL THEN
      RETURN NULL;
    END IF;
    p_as_of := r.paused_until;
  END IF;
  v_floor := bgjobs.slots_floor(r.slots_from, r.paused_from, r.paused_until, p_as_of);
  IF r.tenant_local THEN
    -- a tenant due now, for its slot of today or one missed (bgjobs.due_tenant_runs' rule)
    IF EXISTS (SELECT 1 FROM bgjobs.due_tenant_runs(r.job_name, p_as_of)) THEN
      RETURN p_as_of;
    END IF;
    IF NOT bgjobs.cron_daily(r.schedule) THEN        -- on some days only: each zone's next fire
      SELECT min(bgjobs.cron_next(r.schedule, y.timezone, p_as_of)) INTO v_next
        FROM (SELECT DISTINCT t.timezone FROM public.tenants t) y;
      RETURN v_next;
    END IF;
    SELECT min(CASE WHEN NOT d.done THEN greatest(s.slot, p_as_of) ELSE s.slot END)
      INTO v_next
      FROM public.tenants t
      CROSS JOIN LATERAL (SELECT p_as_of AT TIME ZONE t.timezone AS local_now) l
      LEFT JOIN bgjobs.tenant_job_runs h
        ON h.tenant_id = t.id AND h.job_name = r.job_name AND h.local_date = l.local_now::date
      -- today is done when handled, or when today's slot is before the floor (bgjobs.due_tenants' rule)
      CROSS JOIN LATERAL (
        SELECT h.local_date IS NOT NULL
               OR (v_floor <> '-infinity' AND (l.local_now::date + r.local_time) AT TIME ZONE t.timezone < v_floor) AS done) d
      -- the local slot: today's while today is not done, else tomorrow's
      CROSS JOIN LATERAL (SELECT l.local_now::date + d.done::integer + r.local_time AS wall) w
      -- the zone's UTC offsets a day either side (a DST change near the slot lies between)
      CROSS JOIN LATERAL (
        SELECT (a.x AT TIME ZONE t.timezone) - (a.x AT TIME ZONE 'UTC') AS before,
               (b.x AT TIME ZONE t.timezone) - (b.x AT TIME ZONE 'UTC') AS after
          FROM (SELECT (w.wall AT TIME ZONE t.timezone) - interval '1 day' AS x) a,
               (SELECT (w.wall AT TIME ZONE t.timezone) + interval '1 day' AS x) b) o
      CROSS JOIN LATERAL (
        SELECT coalesce(
                 -- the earliest instant whose local time is the slot (two when repeated)
                 (SELECT min(c.t)
                    FROM (VALUES (o.before), (o.after)) v(off)
                   CROSS JOIN LATERAL (SELECT (w.wall - v.off) AT TIME ZONE 'UTC' AS t) c
                   WHERE c.t AT TIME ZONE t.timezone = w.wall),
                 -- none: the slot is skipped; the gap ends on a whole minute between these
                 (SELECT min(g.t)
                    FROM generate_series(date_trunc('minute', (w.wall - o.after) AT TIME ZONE 'UTC', 'UTC'),
                                         (w.wall - o.before) AT TIME ZONE 'UTC', interval '1 minute') g(t)
                   WHERE g.t AT TIME ZONE t.timezone >= w.wall)) AS slot) s;
    RETURN v_next;
  END IF;
  IF r.tick IS NOT NULL THEN
    v_prev := bgjobs.cron_prev(r.schedule, r.timezone, p_as_of);
    IF v_prev >= v_floor
       AND NOT EXISTS (SELECT 1 FROM bgjobs.job_slots s WHERE s.job_name = r.job_name AND s.slot = v_prev) THEN
      RETURN p_as_of;
    END IF;
  END IF;
  v_next := bgjobs.cron_next(r.schedule, r.timezone, p_as_of);
  IF v_next IS NULL THEN
    SELECT max(j.started_at) + r.expected_interval INTO v_next
      FROM public.jobs_log j WHERE j.job_name = r.job_name AND j.status <> 'skipped';
  END IF;
  RETURN v_next;
END;
$$;
COMMENT ON FUNCTION bgjobs.next_expected_run(text, timestamptz) IS 'When a job is next expected to run.';
REVOKE ALL ON FUNCTION bgjobs.next_expected_run(text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.next_expected_run(text, timestamptz) TO bgjobs_runner;
-- read-only; called by the job_status view, whose readers need EXECUTE
GRANT EXECUTE ON FUNCTION bgjobs.next_expected_run(text, timestamptz) TO bgjobs_admin, bgjobs_viewer;
