-- bgjobs.tasks_reset_overdue(): trigger on tasks that ends an overdue episode.  When a
-- flagged task (is_overdue or sla_violated) is completed or cancelled, is reopened, or its
-- due date moves into the future (or is removed), its flags are cleared, so that
-- check-sla-and-overdue detects it again (a new episode) if it goes overdue again.
-- Moving the due date to another moment that is still past keeps the episode.
CREATE OR REPLACE FUNCTION bgjobs.tasks_reset_overdue()
RETURNS trigger
LANGUAGE plpgsql
SET search_path TO pg_catalog, pg_temp
AS $$
BEGIN
  IF NEW.status IN ('Completed', 'Cancelled')
     OR OLD.status IN ('Completed', 'Cancelled')
     OR (NEW.due_date IS DISTINCT FROM OLD.due_date
         AND (NEW.due_date IS NULL OR NEW.due_date >= pg_catalog.now())) THEN
    NEW.is_overdue := false;
    NEW.overdue_since := NULL;
    NEW.sla_violated := false;
    NEW.sla_violated_at := NULL;
  END IF;
  RETURN NEW;
END;
$$;
COMMENT ON FUNCTION bgjobs.tasks_reset_overdue() IS
  'Clears a task''s overdue/SLA flags when it is closed, reopened or its due date moves into the future (ends the episode).';
REVOKE ALL ON FUNCTION bgjobs.tasks_reset_overdue() FROM PUBLIC;

CREATE OR REPLACE TRIGGER tasks_reset_overdue
  BEFORE UPDATE OF status, due_date ON public.tasks
  FOR EACH ROW
  WHEN ((OLD.is_overdue OR OLD.sla_violated)
        AND (NEW.status IS DISTINCT FROM OLD.status OR NEW.due_date IS DISTINCT FROM OLD.due_date))
  EXECUTE FUNCTION bgjobs.tasks_reset_overdue();
