-- Rollback of 0002.business_tables.
DROP TABLE IF EXISTS public.installments, public.payment_plans, public.analytics_snapshots,
    public.automation_logs, public.automation_rules, public.documents, public.tasks, public.hearings,
    public.cases, public.courts, public.users, public.tenants;
