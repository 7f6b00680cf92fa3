-- bgjobs.scheduler_state(): is pg_cron's launcher running?  pg_stat_activity is
-- cluster-wide, so this answers in pg_cron's database and in any other database of the
-- cluster alike.  state:
--   'ok'      the launcher is running;
--   'down'    pg_cron is preloaded but its launcher is gone (terminated with
--             pg_terminate_backend, or crashed): no job fires until the server restarts
--             (pg_cron #99, #302);
--   'unknown' this function's owner cannot see other roles' backend types (not a
--             superuser, not a member of pg_read_all_stats): nothing is claimed;
--   'absent'  pg_cron is not in shared_preload_libraries.
-- SECURITY DEFINER: pg_stat_activity hides other roles' backend_type from roles without
-- pg_read_all_stats, and bgjobs_viewer (job_status) and the watchdog's login need the answer;
-- it returns one state and one line, nothing about other sessions.
CREATE OR REPLACE FUNCTION bgjobs.scheduler_state(OUT state text, OUT detail text)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  v_pid     integer;
  v_cron_db text;
BEGIN
  IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user)
     AND NOT pg_has_role(current_user, 'pg_read_all_stats', 'MEMBER') THEN
    state := 'unknown';
    detail := format('cannot see the pg_cron launcher: role %s is neither a superuser nor a member of '
                     'pg_read_all_stats', current_user);
    RETURN;
  END IF;
  BEGIN   -- pg_cron's settings are superuser-only (or pg_read_all_settings)
    v_cron_db := current_setting('cron.database_name', true);
    IF v_cron_db IS NULL THEN
      state := 'absent';
      detail := 'pg_cron is not in shared_preload_libraries: no job fires';
      RETURN;
    END IF;
  EXCEPTION WHEN insufficient_privilege THEN
    v_cron_db := '?';
  END;
  SELECT a.pid INTO v_pid FROM pg_catalog.pg_stat_activity a WHERE a.backend_type = 'pg_cron launcher' LIMIT 1;
  IF v_pid IS NOT NULL THEN
    state := 'ok';
    detail := format('pg_cron launcher running (pid %s, database %s)', v_pid, v_cron_db);
  ELSE
    state := 'down';
    detail := 'pg_cron launcher not running: no job fires until the server restarts '
              '(terminated with pg_terminate_backend, or crashed)';
  END IF;
END;
$$;
COMMENT ON FUNCTION bgjobs.scheduler_state() IS
  'Whether pg_cron''s launcher runs: ok, down, unknown (cannot see) or absent (not preloaded), with one line.';
REVOKE ALL ON FUNCTION bgjobs.scheduler_state() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.scheduler_state() TO bgjobs_runner, bgjobs_admin, bgjobs_viewer, bgjobs_deliverer;
