-- bgjobs_app.installments_set_tenant(): trigger on installments.  An installment inserted
-- without tenant_id (as the seeds' Test 3 does) takes its payment plan's.
CREATE OR REPLACE FUNCTION bgjobs_app.installments_set_tenant()
RETURNS trigger
LANGUAGE plpgsql
SET search_path TO pg_catalog, pg_temp
AS $$
BEGIN
  IF NEW.tenant_id IS NULL THEN
    SELECT p.tenant_id INTO NEW.tenant_id FROM public.payment_plans p WHERE p.id = NEW.payment_plan_id;
    IF NEW.tenant_id IS NULL THEN
      RAISE EXCEPTION 'payment plan % does not exist', NEW.payment_plan_id USING ERRCODE = 'foreign_key_violation';
    END IF;
  END IF;
  RETURN NEW;
END;
$$;
REVOKE ALL ON FUNCTION bgjobs_app.installments_set_tenant() FROM PUBLIC;

-- Only on a table bgjobs created: an application's own installments gets no trigger
-- (bgjobs install --dry-run says so).
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM bgjobs.app_tables WHERE table_name = 'installments' AND origin = 'created') THEN
    CREATE OR REPLACE TRIGGER installments_set_tenant
      BEFORE INSERT ON public.installments
      FOR EACH ROW EXECUTE FUNCTION bgjobs_app.installments_set_tenant();
  END IF;
END
$$;
