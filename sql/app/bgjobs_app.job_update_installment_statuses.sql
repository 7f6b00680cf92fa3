-- bgjobs_app.job_update_installment_statuses(as_of, tenants): body of update-installment-statuses
-- (02:00 in each agency's zone; pg_cron job update-installment-statuses-daily).  Pending
-- installments whose student_due_date is before the agency's local date at as_of become
-- 'overdue'; paid, cancelled and already overdue installments never change.  One set-based
-- UPDATE over the partial index of pending installments (tenant_id, student_due_date).
-- Results: installmentsUpdated, tenantsProcessed, recordsUpdated (= installments changed,
-- the seeds' jobs_log.records_updated).
CREATE OR REPLACE FUNCTION bgjobs_app.job_update_installment_statuses(p_as_of timestamptz, p_tenants uuid[])
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

  -- An application's own installments may lack tenant_id (the contract's minimum is the
  -- payment plan) and updated_at: the statement follows the columns the table has.
  EXECUTE format(
    'UPDATE public.installments i SET status = %L%s FROM %s '
    'WHERE %s AND ($1 IS NULL OR t.id = ANY ($1)) AND i.status = %L '
    'AND i.student_due_date < ($2 AT TIME ZONE t.timezone)::date',
    'overdue',
    CASE WHEN bgjobs_app.app_has_column('installments', 'updated_at') THEN ', updated_at = pg_catalog.now()' ELSE '' END,
    CASE WHEN bgjobs_app.app_has_column('installments', 'tenant_id') THEN 'public.tenants t'
         ELSE 'public.payment_plans p JOIN public.tenants t ON t.id = p.tenant_id' END,
    CASE WHEN bgjobs_app.app_has_column('installments', 'tenant_id') THEN 'i.tenant_id = t.id'
         ELSE 'p.id = i.payment_plan_id' END,
    'pending')
    USING p_tenants, p_as_of;
  GET DIAGNOSTICS v_updated = ROW_COUNT;

  RETURN jsonb_build_object(
    'installmentsUpdated', v_updated,
    'tenantsProcessed', v_tenants,
    'recordsUpdated', v_updated);
END;
$$;
COMMENT ON FUNCTION bgjobs_app.job_update_installment_statuses(timestamptz, uuid[]) IS
  'update-installment-statuses: pending installments due before the agency''s local date become overdue.';
REVOKE ALL ON FUNCTION bgjobs_app.job_update_installment_statuses(timestamptz, uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs_app.job_update_installment_statuses(timestamptz, uuid[]) TO bgjobs_runner;
