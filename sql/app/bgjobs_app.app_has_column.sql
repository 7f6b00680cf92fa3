-- bgjobs_app.app_has_column(table, column): whether the application table public.<table> has
-- the column.  The jobs ask it where an application's own table (adopted by install, with
-- the contract's minimum columns or more) may lack a column the seeds' tables have.
CREATE OR REPLACE FUNCTION bgjobs_app.app_has_column(p_table text, p_column text)
RETURNS boolean
LANGUAGE sql
STABLE
SET search_path TO pg_catalog, pg_temp
AS $$
  SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                  WHERE a.attrelid = pg_catalog.to_regclass(pg_catalog.format('public.%I', p_table))
                    AND a.attname = p_column AND a.attnum > 0 AND NOT a.attisdropped)
$$;
COMMENT ON FUNCTION bgjobs_app.app_has_column(text, text) IS
  'Whether application table public.<table> has the column (an adopted table may have only the contract''s minimum).';
REVOKE ALL ON FUNCTION bgjobs_app.app_has_column(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs_app.app_has_column(text, text) TO bgjobs_runner;
