-- The application tables the jobs work on (CONTRACT section 5).  Every tenant table has
-- tenant_id in its primary key, unique constraints and foreign keys, so it can be
-- distributed by tenant (Citus) without redesign; courts is a shared reference table.
-- depends: 0001.core

CREATE TABLE public.tenants (
    id               uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    name             text NOT NULL,
    timezone         text NOT NULL DEFAULT 'UTC',
    whatsapp_enabled boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE public.tenants IS 'Tenants (agencies). timezone is an IANA zone name: tenant-local jobs run in it.';

CREATE TABLE public.users (
    tenant_id  uuid NOT NULL REFERENCES public.tenants (id) ON DELETE CASCADE,
    id         uuid NOT NULL DEFAULT gen_random_uuid(),
    email      text NOT NULL,
    full_name  text,
    role       text NOT NULL DEFAULT 'member' CHECK (role IN ('admin', 'partner', 'manager', 'member')),
    phone      text,
    is_active  boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, email)
);
CREATE INDEX users_id_idx ON public.users (id);

CREATE TABLE public.courts (
    id   uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    name text NOT NULL,
    city text
);

CREATE TABLE public.cases (
    tenant_id   uuid NOT NULL REFERENCES public.tenants (id) ON DELETE CASCADE,
    id          uuid NOT NULL DEFAULT gen_random_uuid(),
    case_number text NOT NULL,
    title       text,
    status      text NOT NULL DEFAULT 'Active' CHECK (status IN ('Active', 'Closed')),
    owner_id    uuid,
    assigned_to uuid,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, case_number),
    FOREIGN KEY (tenant_id, owner_id) REFERENCES public.users (tenant_id, id),
    FOREIGN KEY (tenant_id, assigned_to) REFERENCES public.users (tenant_id, id)
);
CREATE INDEX cases_id_idx ON public.cases (id);

CREATE TABLE public.hearings (
    tenant_id    uuid NOT NULL,
    id           uuid NOT NULL DEFAULT gen_random_uuid(),
    case_id      uuid NOT NULL,
    court_id     uuid REFERENCES public.courts (id),
    hearing_date timestamptz NOT NULL,
    status       text NOT NULL DEFAULT 'Scheduled'
                 CHECK (status IN ('Scheduled', 'Attended', 'Adjourned', 'Cancelled')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, case_id) REFERENCES public.cases (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX hearings_scheduled_date_idx ON public.hearings (tenant_id, hearing_date) WHERE status = 'Scheduled';

CREATE TABLE public.tasks (
    tenant_id       uuid NOT NULL,
    id              uuid NOT NULL DEFAULT gen_random_uuid(),
    case_id         uuid,
    title           text NOT NULL,
    due_date        timestamptz,
    status          text NOT NULL DEFAULT 'Open'
                    CHECK (status IN ('Open', 'In Progress', 'Completed', 'Cancelled')),
    priority        text NOT NULL DEFAULT 'Medium' CHECK (priority IN ('Critical', 'High', 'Medium', 'Low')),
    assigned_to     uuid,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz,
    -- flags set by check-sla-and-overdue, once per overdue episode
    is_overdue      boolean NOT NULL DEFAULT false,
    overdue_since   timestamptz,
    sla_violated    boolean NOT NULL DEFAULT false,
    sla_violated_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, case_id) REFERENCES public.cases (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, assigned_to) REFERENCES public.users (tenant_id, id)
);
-- Open tasks by due date (check-upcoming-deadlines, analytics).
CREATE INDEX tasks_open_due_idx ON public.tasks (tenant_id, due_date)
    WHERE status IN ('Open', 'In Progress');
-- check-sla-and-overdue reads only the open tasks it has not flagged yet: the key is NULL
-- once a task is flagged (or closed), so a tick's range scan costs what is new, not the
-- size of the table.  Expression indexes rather than partial ones: PostgreSQL keeps
-- statistics on an index expression, so the planner knows how few tasks are new.
CREATE INDEX tasks_overdue_pending_idx ON public.tasks
    ((CASE WHEN status IN ('Open', 'In Progress') AND NOT is_overdue THEN due_date END));
CREATE INDEX tasks_sla_pending_idx ON public.tasks
    (priority, (CASE WHEN status IN ('Open', 'In Progress') AND NOT sla_violated THEN due_date END));
-- flags change often: keep the indexes' dead entries few
ALTER TABLE public.tasks SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);

CREATE TABLE public.documents (
    tenant_id  uuid NOT NULL,
    id         uuid NOT NULL DEFAULT gen_random_uuid(),
    case_id    uuid,
    title      text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, case_id) REFERENCES public.cases (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX documents_created_idx ON public.documents (tenant_id, created_at);

CREATE TABLE public.automation_rules (
    tenant_id     uuid NOT NULL REFERENCES public.tenants (id) ON DELETE CASCADE,
    id            uuid NOT NULL DEFAULT gen_random_uuid(),
    rule_name     text NOT NULL,
    trigger_event text NOT NULL,
    is_active     boolean NOT NULL DEFAULT true,
    actions       jsonb NOT NULL DEFAULT '[]',
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX automation_rules_event_idx ON public.automation_rules (tenant_id, trigger_event) WHERE is_active;

CREATE TABLE public.automation_logs (
    tenant_id        uuid NOT NULL,
    id               uuid NOT NULL DEFAULT gen_random_uuid(),
    rule_id          uuid,
    rule_name        text,
    trigger_event    text,
    status           text,
    actions_executed jsonb,
    error_message    text,
    executed_at      timestamptz DEFAULT now(),
    -- what fired the rule: entity, the event's data, and a key that makes a repeat of the
    -- same event (same rule, entity and occurrence) a no-op
    entity_type      text,
    entity_id        uuid,
    event_data       jsonb,
    event_key        text,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, rule_id) REFERENCES public.automation_rules (tenant_id, id) ON DELETE SET NULL (rule_id)
);
CREATE INDEX automation_logs_executed_idx ON public.automation_logs (executed_at);
CREATE INDEX automation_logs_rule_idx ON public.automation_logs (tenant_id, rule_id, executed_at);
CREATE UNIQUE INDEX automation_logs_event_key_idx ON public.automation_logs (tenant_id, rule_id, event_key)
    WHERE event_key IS NOT NULL;

CREATE TABLE public.analytics_snapshots (
    tenant_id     uuid NOT NULL,
    id            uuid NOT NULL DEFAULT gen_random_uuid(),
    metric_type   varchar NOT NULL,
    snapshot_date date NOT NULL,
    metric_value  jsonb NOT NULL,
    created_at    timestamptz DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, metric_type, snapshot_date)
);

CREATE TABLE public.payment_plans (
    tenant_id  uuid NOT NULL REFERENCES public.tenants (id) ON DELETE CASCADE,
    id         uuid NOT NULL DEFAULT gen_random_uuid(),
    name       text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX payment_plans_id_idx ON public.payment_plans (id);

CREATE TABLE public.installments (
    tenant_id        uuid NOT NULL,   -- filled from the payment plan when not given
    id               uuid NOT NULL DEFAULT gen_random_uuid(),
    payment_plan_id  uuid NOT NULL,
    amount           numeric(12, 2) NOT NULL,
    student_due_date date NOT NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'overdue', 'paid', 'cancelled')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, payment_plan_id) REFERENCES public.payment_plans (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX installments_pending_due_idx ON public.installments (tenant_id, student_due_date) WHERE status = 'pending';
CREATE INDEX installments_id_idx ON public.installments (id);

REVOKE ALL ON public.tenants, public.users, public.courts, public.cases, public.hearings, public.tasks,
              public.documents, public.automation_rules, public.automation_logs, public.analytics_snapshots,
              public.payment_plans, public.installments FROM PUBLIC;
