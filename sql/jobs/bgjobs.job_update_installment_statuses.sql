-- bgjobs.job_update_installment_statuses(as_of, tenants): body of update-installment-statuses
-- (02:00 in each agency's zone; pg_cron job update-installment-statuses-daily).  Pending
-- installments whose student_due_date is before the agency's local date at as_of become
-- 'overdue'; paid, cancelled and already overdue installments never change.  One set-based
-- UPDATE over the partial index of pending installments (tenant_id, student_due_date).
-- Results: installmentsUpdated, tenantsProcessed, recordsUpdated (= installments changed,
-- the seeds' jobs_log.records_updated).
CREATE OR REPLACE FUNCTION bgjobs.job_update_installment_statuses(p_as_of timestamptz, p_tenants uuid[])
RETURNS jsonb
LANGUAGE plpgsql
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  v_updated integer;
  v_tenants integer;
BEGIN
  SELECT count(*) INTO v_tenants
    FROM public.tenants t
   WHERE p_tenants IS NULL OR t.id = ANY (p_tenants);

  UPDATE public.installments i
     SET status = 'overdue',
         updated_at = now()
    FROM public.tenants t
   WHERE i.tenant_id = t.id
     AND (p_tenants IS NULL OR t.id = ANY (p_tenants))
     AND i.status = 'pending'
     AND i.student_due_date < (p_as_of AT TIME ZONE t.timezone)::date;
  GET DIAGNOSTICS v_updated = ROW_COUNT;

  RETURN jsonb_build_object(
    'installmentsUpdated', v_updated,
    'tenantsProcessed', v_tenants,
    'recordsUpdated', v_updated);
END;
$$;
COMMENT ON FUNCTION bgjobs.job_update_installment_statuses(timestamptz, uuid[]) IS
  'update-installment-statuses: pending installments due before the agency''s local date become overdue.';
REVOKE ALL ON FUNCTION bgjobs.job_update_installment_statuses(timestamptz, uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.job_update_installment_statuses(timestamptz, uuid[]) TO bgjobs_runner;
