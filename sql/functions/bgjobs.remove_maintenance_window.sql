-- bgjobs.remove_maintenance_window(id): removes a window (ends it early); true if it existed.
-- SECURITY DEFINER: as bgjobs.add_maintenance_window.
CREATE OR REPLACE FUNCTION bgjobs.remove_maintenance_window(p_id bigint)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
BEGIN
  DELETE FROM bgjobs.maintenance_windows w WHERE w.id = p_id;
  RETURN FOUND;
END;
$$;
COMMENT ON FUNCTION bgjobs.remove_maintenance_window(bigint) IS 'Removes a maintenance window; true if it existed.';
REVOKE ALL ON FUNCTION bgjobs.remove_maintenance_window(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.remove_maintenance_window(bigint) TO bgjobs_admin;
