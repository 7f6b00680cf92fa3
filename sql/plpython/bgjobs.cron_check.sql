-- bgjobs.cron_check(schedule, zone), PL/Python version (replaces the SQL fallback where
-- plpython3u is available): why a cron expression (pg_cron 1.4's grammar, and one that
-- fires) or a zone (an IANA name as zoneinfo spells it, or 'tenant') is not acceptable,
-- by plpython/bgjobs_schedule.py, the module the settings file is checked with.  NULL: fine.
CREATE OR REPLACE FUNCTION bgjobs.cron_check(p_schedule text, p_timezone text)
RETURNS text
LANGUAGE plpython3u
STABLE
SET search_path TO pg_catalog, pg_temp
AS $py$
#bgjobs:import bgjobs_schedule
if p_schedule is None or not p_schedule.strip():
    return "invalid cron expression: it is empty"
err = bgjobs_schedule.validate_cron(p_schedule)
if err:
    return err
if p_timezone != "tenant":
    err = bgjobs_schedule.validate_timezone(p_timezone)
    if err:
        return err + " (an IANA zone such as Europe/Berlin, or tenant)"
return None
$py$;
COMMENT ON FUNCTION bgjobs.cron_check(text, text) IS
  'Why a cron expression or zone is not acceptable (NULL: fine), by plpython/bgjobs_schedule.py.';
REVOKE ALL ON FUNCTION bgjobs.cron_check(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.cron_check(text, text) TO bgjobs_admin;
