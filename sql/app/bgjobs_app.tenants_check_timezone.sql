-- bgjobs_app.tenants_check_timezone(): trigger on tenants.  An unknown time zone is refused
-- with a message naming it (tenant-local jobs would otherwise fail at 02:00).
CREATE OR REPLACE FUNCTION bgjobs_app.tenants_check_timezone()
RETURNS trigger
LANGUAGE plpgsql
SET search_path TO pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_timezone_names WHERE name = NEW.timezone) THEN
    RAISE EXCEPTION 'unknown time zone "%" for tenant "%"', NEW.timezone, NEW.name
      USING ERRCODE = 'invalid_parameter_value', HINT = 'use an IANA zone name such as Asia/Kolkata or America/New_York';
  END IF;
  RETURN NEW;
END;
$$;
REVOKE ALL ON FUNCTION bgjobs_app.tenants_check_timezone() FROM PUBLIC;

-- Only on a table bgjobs created: an application's own tenants gets no trigger
-- (bgjobs install --dry-run says so).
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM bgjobs.app_tables WHERE table_name = 'tenants' AND origin = 'created') THEN
    CREATE OR REPLACE TRIGGER tenants_check_timezone
      BEFORE INSERT OR UPDATE OF timezone ON public.tenants
      FOR EACH ROW EXECUTE FUNCTION bgjobs_app.tenants_check_timezone();
  END IF;
END
$$;
