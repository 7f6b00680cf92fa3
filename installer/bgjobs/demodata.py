"""Realistic demo data for the business jobs, for `bgjobs demo`, tests and benchmarks.

    from bgjobs import demodata
    demodata.load(conn, tenants=1000, tasks_per_tenant=1000, installments_per_tenant=1000,
                  seed=1, as_of=datetime(...))

Everything is generated inside PostgreSQL with set-based ``INSERT ... SELECT
generate_series`` (the demo's few hundred rows in a fraction of a second; 1,000 tenants x
1,000 tasks, 200,000 hearings and 1,000,000 installments in about two minutes on 2 cores,
most of it index maintenance), deterministically for a given seed (``setseed``; every id but the automation
logs' is derived from the seed).  Loading is idempotent: if the seed's first tenant
exists nothing is loaded again.

Per tenant (zones rotate through ZONES, so any few tenants span Asia/Kolkata,
America/New_York, America/Los_Angeles, ... and Pacific/Kiritimati): users (one admin, a
partner, a manager, members; some with phones), cases, tasks of every status and priority
with due dates spread around ``as_of`` (so some are overdue, some due within 24 hours),
hearings (past ones attended/adjourned, future ones scheduled, and one today and one
tomorrow in the tenant's zone), documents, automation rules (one of them failing, one
never triggered) with three days of logs, payment plans and installments around the
tenant's local date.  Courts are shared.

``recent_overdue_pct`` puts that share of the tasks due in the 15 minutes before
``as_of`` (a benchmark's "newly overdue at the measured tick"); ``preflag`` marks the
tasks already overdue / past SLA before ``as_of - 15 minutes`` as flagged, as earlier
ticks of check-sla-and-overdue would have (and, when no tick has run yet, records the last
of them at ``as_of - 15 minutes`` in bgjobs_app.sla_tick_state, so the next tick is incremental).
"""

from __future__ import annotations

from datetime import datetime, timezone

import psycopg

ZONES = ("Asia/Kolkata", "America/New_York", "America/Los_Angeles", "Europe/London", "Pacific/Kiritimati",
         "Australia/Sydney", "UTC", "Asia/Dubai", "Asia/Singapore", "America/Chicago")
COURTS = (("GSTAT Ahmedabad", "Ahmedabad"), ("GSTAT Mumbai", "Mumbai"), ("High Court of Gujarat", "Ahmedabad"),
          ("Bombay High Court", "Mumbai"), ("Delhi High Court", "New Delhi"), ("GSTAT Bengaluru", "Bengaluru"),
          ("Madras High Court", "Chennai"), ("Supreme Court of India", "New Delhi"))
FIRMS = ("Mehta & Associates", "Iyer Legal", "Kapoor Tax Chambers", "Shah GST Advisors", "Rao & Partners",
         "Desai Litigation", "Menon Law", "Banerjee & Co", "Patel Tax Counsel", "Nair Advocates")
FIRST = ("Asha", "Ravi", "Priya", "Vikram", "Neha", "Arjun", "Kavya", "Rohan", "Meera", "Sanjay", "Anita", "Karan")
LAST = ("Mehta", "Iyer", "Kapoor", "Shah", "Rao", "Desai", "Menon", "Banerjee", "Patel", "Nair", "Joshi", "Gupta")
TASKS = ("Submit reply to ASMT-10 notice", "Prepare hearing documents", "File appeal before GSTAT",
         "Draft written submissions", "Collect invoices from client", "Reconcile GSTR-2B with books",
         "Review show cause notice", "Pay pre-deposit for appeal", "Obtain vakalatnama", "Brief senior counsel")
CASES = ("Appeal against ASMT-10 order", "Input tax credit mismatch", "Refund of unutilised ITC",
         "Show cause notice under section 73", "Classification dispute", "E-way bill penalty",
         "Valuation of related-party supply", "Cancellation of registration")


# tables load() counts, in order (a progress bar's total)
STEPS = 11


class _Counts(dict):
    """Row counts per table; each new count is reported to on_step (progress)."""

    def __init__(self, on_step):
        super().__init__(loaded=True)
        self.on_step = on_step

    def __setitem__(self, table, n):
        super().__setitem__(table, n)
        if self.on_step is not None:
            self.on_step(table, n)


def _uuid(seed: int, kind: str) -> str:
    """SQL expression of a deterministic uuid for (seed, kind, key...)."""
    return f"md5(concat_ws(':', {int(seed)}, '{kind}', {{}}))::uuid"


def load(conn: psycopg.Connection, tenants: int = 5, tasks_per_tenant: int = 40, seed: int = 1,
         as_of: datetime | None = None, users_per_tenant: int = 6, installments_per_tenant: int | None = None,
         hearings_per_tenant: int | None = None, documents_per_tenant: int | None = None,
         rules: bool = True, recent_overdue_pct: float = 0.0, preflag: bool = False,
         whatsapp_every: int = 3, on_step=None) -> dict:
    """Load the demo data set; returns row counts per table (``{"loaded": False}`` when the
    seed's data is already there).  Works in the caller's transaction state: with an
    autocommit connection each statement commits.  on_step(table, rows) is called as each
    table is loaded (STEPS calls with rules)."""
    as_of = as_of or datetime.now(timezone.utc)
    n_inst = tasks_per_tenant if installments_per_tenant is None else installments_per_tenant
    n_hear = max(2, tasks_per_tenant // 5) if hearings_per_tenant is None else hearings_per_tenant
    n_docs = max(1, tasks_per_tenant // 2) if documents_per_tenant is None else documents_per_tenant
    n_cases = max(3, tasks_per_tenant // 5)
    n_plans = max(1, n_inst // 10)
    p = {"seed": seed, "as_of": as_of, "n": tenants, "m": tasks_per_tenant, "u": users_per_tenant,
         "nc": n_cases, "nh": n_hear, "nd": n_docs, "ni": n_inst, "np": n_plans,
         "recent": recent_overdue_pct / 100.0, "zones": list(ZONES), "firms": list(FIRMS),
         "first": list(FIRST), "last": list(LAST), "tasks": list(TASKS), "cases": list(CASES),
         "wa": whatsapp_every, "court_names": [c[0] for c in COURTS], "court_cities": [c[1] for c in COURTS]}
    tid = _uuid(seed, "tenant").format("g")
    exists = conn.execute(f"SELECT 1 FROM public.tenants WHERE id = {_uuid(seed, 'tenant').format('1')}").fetchone()
    if exists:
        return {"loaded": False}

    def ex(query: str) -> int:
        cur = conn.execute(query, p)
        return cur.rowcount

    counts: dict = _Counts(on_step)
    with conn.transaction():
        if conn.execute("SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus'").fetchone():
            # on Citus the transaction writes courts (a reference table) and the tenant
            # tables that point at it: Citus then needs one connection per node
            conn.execute("SET LOCAL citus.multi_shard_modify_mode = 'sequential'")
        conn.execute("SELECT setseed(%s)", ((seed % 1000) / 1000.0,))
        ex("CREATE TEMP TABLE pg_temp.demo_t (tn int PRIMARY KEY, id uuid, tz text) ON COMMIT DROP")
        ex(f"""INSERT INTO pg_temp.demo_t
               SELECT g, {tid}, (%(zones)s::text[])[1 + (g - 1) %% array_length(%(zones)s::text[], 1)]
                 FROM generate_series(1, %(n)s) g""")
        counts["tenants"] = ex("""
            INSERT INTO public.tenants (id, name, timezone, whatsapp_enabled)
            SELECT t.id,
                   (%(firms)s::text[])[1 + (t.tn - 1) %% 10] || CASE WHEN t.tn > 10 THEN ' ' || t.tn ELSE '' END
                     || ' (' || t.tz || ')',
                   t.tz, %(wa)s > 0 AND t.tn %% %(wa)s = 1
              FROM pg_temp.demo_t t
            ON CONFLICT DO NOTHING""")
        counts["courts"] = ex(f"""
            INSERT INTO public.courts (id, name, city)
            SELECT {_uuid(seed, 'court').format('c.name')}, c.name, c.city
              FROM unnest(%(court_names)s::text[], %(court_cities)s::text[]) AS c(name, city)
            ON CONFLICT DO NOTHING""")
        ex("CREATE TEMP TABLE pg_temp.demo_courts (k int PRIMARY KEY, id uuid) ON COMMIT DROP")
        ex(f"""INSERT INTO pg_temp.demo_courts
               SELECT c.k, {_uuid(seed, 'court').format('c.name')}
                 FROM unnest(%(court_names)s::text[]) WITH ORDINALITY AS c(name, k)""")
        # users: 1 admin, 2 partner, 3 manager, the rest members; every other one has a phone
        counts["users"] = ex(f"""
            INSERT INTO public.users (tenant_id, id, email, full_name, role, phone)
            SELECT t.id, {_uuid(seed, 'user').format('t.tn, k')},
                   lower((%(first)s::text[])[1 + (t.tn + k) %% 12] || '.' || (%(last)s::text[])[1 + (t.tn * 7 + k) %% 12])
                     || k || '@firm' || t.tn || '.example',
                   (%(first)s::text[])[1 + (t.tn + k) %% 12] || ' ' || (%(last)s::text[])[1 + (t.tn * 7 + k) %% 12],
                   CASE k WHEN 1 THEN 'admin' WHEN 2 THEN 'partner' WHEN 3 THEN 'manager' ELSE 'member' END,
                   CASE WHEN k %% 2 = 1 THEN '+91' || (9800000000 + t.tn * 100 + k)::text END
              FROM pg_temp.demo_t t, generate_series(1, %(u)s) k
            ON CONFLICT DO NOTHING""")
        # cases: owned by the partner or the manager, assigned to a member (or the manager)
        counts["cases"] = ex(f"""
            INSERT INTO public.cases (tenant_id, id, case_number, title, status, owner_id, assigned_to, created_at)
            SELECT t.id, {_uuid(seed, 'case').format('t.tn, k')},
                   'GST/' || (2024 + k %% 3) || '/' || lpad(t.tn::text, 4, '0') || '-' || lpad(k::text, 4, '0'),
                   (%(cases)s::text[])[1 + (k - 1) %% 8],
                   CASE WHEN k <= 2 OR random() < 0.85 THEN 'Active' ELSE 'Closed' END,
                   {_uuid(seed, 'user').format('t.tn, least(%(u)s, 2 + k %% 2)')},
                   {_uuid(seed, 'user').format('t.tn, least(%(u)s, 3 + k %% greatest(1, %(u)s - 2))')},
                   %(as_of)s::timestamptz - (random() * 400) * interval '1 day'
              FROM pg_temp.demo_t t, generate_series(1, %(nc)s) k
            ON CONFLICT DO NOTHING""")
        # tasks: every status and priority; due dates from 20 days ago to 20 days ahead, plus
        # the benchmark's share due in the 15 minutes before as_of
        counts["tasks"] = ex(f"""
            INSERT INTO public.tasks (tenant_id, id, case_id, title, due_date, status, priority, assigned_to,
                                      created_at, completed_at)
            SELECT x.tenant_id, x.id, x.case_id, x.title, x.due, x.status, x.priority, x.assignee,
                   x.due - interval '30 days',
                   CASE WHEN x.status = 'Completed' THEN x.due + (x.r3 * 6 - 4) * interval '1 day' END
              FROM (
                SELECT t.id AS tenant_id, {_uuid(seed, 'task').format('t.tn, t.k')} AS id,
                       {_uuid(seed, 'case').format('t.tn, 1 + (t.k %% %(nc)s)')} AS case_id,
                       (%(tasks)s::text[])[1 + (t.k - 1) %% 10] || ' #' || t.k AS title,
                       CASE WHEN t.r1 < %(recent)s THEN %(as_of)s::timestamptz - t.r2 * interval '15 minutes'
                            ELSE %(as_of)s::timestamptz + (t.r2 * 40 - 20) * interval '1 day' END AS due,
                       CASE WHEN t.r1 < %(recent)s THEN (ARRAY['Open', 'In Progress'])[1 + (t.k %% 2)]
                            WHEN t.r4 < 0.45 THEN 'Open' WHEN t.r4 < 0.65 THEN 'In Progress'
                            WHEN t.r4 < 0.95 THEN 'Completed' ELSE 'Cancelled' END AS status,
                       CASE WHEN t.r5 < 0.10 THEN 'Critical' WHEN t.r5 < 0.35 THEN 'High'
                            WHEN t.r5 < 0.75 THEN 'Medium' ELSE 'Low' END AS priority,
                       {_uuid(seed, 'user').format('t.tn, 1 + (t.k %% %(u)s)')} AS assignee,
                       t.r3
                  FROM (SELECT t0.*, k, random() AS r1, random() AS r2, random() AS r3, random() AS r4,
                               random() AS r5
                          FROM pg_temp.demo_t t0, generate_series(1, %(m)s) k) t
              ) x""")
        if preflag:
            ex("""
                INSERT INTO bgjobs_app.task_flags (tenant_id, task_id, overdue_since, sla_violated_at)
                SELECT t.tenant_id, t.id, least(t.due_date + interval '15 minutes',
                                                %(as_of)s::timestamptz - interval '15 minutes'),
                       CASE WHEN t.due_date + s.hours * interval '1 hour'
                                 < %(as_of)s::timestamptz - interval '15 minutes'
                            THEN t.due_date + s.hours * interval '1 hour' END
                  FROM public.tasks t
                  JOIN (VALUES ('Critical', 4), ('High', 24), ('Medium', 72), ('Low', 168)) s(priority, hours)
                    ON t.priority = s.priority
                 WHERE t.tenant_id IN (SELECT id FROM pg_temp.demo_t)
                   AND t.status IN ('Open', 'In Progress')
                   AND t.due_date < %(as_of)s::timestamptz - interval '15 minutes'""")
            # as if a tick ran at as_of - 15 minutes: when none has run yet, the next tick
            # can be incremental from there (with other SLA hours in the settings it makes
            # a full pass); the feed rows of the tasks just loaded go, being flagged
            if conn.execute("SELECT as_of IS NULL FROM bgjobs_app.sla_tick_state").fetchone()[0]:
                ex("""
                    UPDATE bgjobs_app.sla_tick_state
                       SET as_of = %(as_of)s::timestamptz - interval '15 minutes',
                           max_as_of = %(as_of)s::timestamptz - interval '15 minutes',
                           full_as_of = %(as_of)s::timestamptz - interval '15 minutes',
                           tenants = NULL, sla_hours = ARRAY[4, 24, 72, 168]::numeric[],
                           last_pass = 'full', last_reason = 'demo data preflagged'""")
                ex("DELETE FROM bgjobs_app.task_changes WHERE tenant_id IN (SELECT id FROM pg_temp.demo_t)")
        # hearings: spread over 30 days either side, plus one today 23:00 and one tomorrow
        # 10:30 in the tenant's zone
        counts["hearings"] = ex(f"""
            INSERT INTO public.hearings (tenant_id, id, case_id, court_id, hearing_date, status)
            SELECT x.tenant_id, x.id, x.case_id, x.court_id, x.at,
                   CASE WHEN x.k <= 2 THEN 'Scheduled'
                        WHEN x.at >= %(as_of)s::timestamptz THEN CASE WHEN x.r < 0.9 THEN 'Scheduled' ELSE 'Cancelled' END
                        WHEN x.r < 0.70 THEN 'Attended' WHEN x.r < 0.90 THEN 'Adjourned'
                        WHEN x.r < 0.95 THEN 'Cancelled' ELSE 'Scheduled' END
              FROM (
                SELECT t.id AS tenant_id, t.k, {_uuid(seed, 'hearing').format('t.tn, t.k')} AS id,
                       {_uuid(seed, 'case').format('t.tn, 1 + (t.k %% %(nc)s)')} AS case_id,
                       c.id AS court_id,
                       CASE t.k
                         WHEN 1 THEN ((%(as_of)s::timestamptz AT TIME ZONE t.tz)::date + 1 + time '10:30') AT TIME ZONE t.tz
                         WHEN 2 THEN ((%(as_of)s::timestamptz AT TIME ZONE t.tz)::date + time '23:00') AT TIME ZONE t.tz
                         ELSE %(as_of)s::timestamptz + (t.r2 * 60 - 30) * interval '1 day'
                       END AS at,
                       t.r
                  FROM (SELECT t0.*, k, random() AS r, random() AS r2
                          FROM pg_temp.demo_t t0, generate_series(1, %(nh)s) k) t
                  JOIN pg_temp.demo_courts c ON c.k = 1 + t.k %% 8
              ) x""")
        counts["documents"] = ex(f"""
            INSERT INTO public.documents (tenant_id, id, case_id, title, created_at)
            SELECT t.id, {_uuid(seed, 'document').format('t.tn, k')}, {_uuid(seed, 'case').format('t.tn, 1 + (k %% %(nc)s)')}, 'Document ' || k,
                   %(as_of)s::timestamptz - random() * interval '60 days'
              FROM pg_temp.demo_t t, generate_series(1, %(nd)s) k""")
        if rules:
            ex("""CREATE TEMP TABLE pg_temp.demo_rules (k int PRIMARY KEY, name text, event text, active boolean,
                                                        actions text) ON COMMIT DROP""")
            ex("""INSERT INTO pg_temp.demo_rules VALUES
                    (1, 'Notify assignee of overdue task', 'task_overdue', true, '[{"type": "notify", "to": "assignee"}]'),
                    (2, 'Escalate SLA breach', 'sla_violation', true, '[{"type": "escalate"}, {"type": "notify", "to": "admins"}]'),
                    (3, 'Deadline reminder to assignee', 'deadline_approaching', true, '[{"type": "notify", "to": "assignee"}]'),
                    (4, 'SMS the client on overdue task', 'task_overdue', true, '[{"type": "sms", "to": "client"}]'),
                    (5, 'Weekly case review', 'case_review_due', true, '[{"type": "notify", "to": "case_owner"}]'),
                    (6, 'Old intake rule', 'case_created', false, '[]')""")
            counts["automation_rules"] = ex(f"""
                INSERT INTO public.automation_rules (tenant_id, id, rule_name, trigger_event, is_active, actions, created_at)
                SELECT t.id, {_uuid(seed, 'rule').format('t.tn, r.k')}, r.name, r.event, r.active, r.actions::jsonb,
                       %(as_of)s::timestamptz - interval '30 days'
                  FROM pg_temp.demo_t t, pg_temp.demo_rules r
                 WHERE r.k <> 4 OR t.tn %% 2 = 1
                ON CONFLICT DO NOTHING""")
            # three days of history: rules 1-3 mostly succeed, rule 4 (an unsupported action)
            # always fails; rule 5 has not run in that time.  Read from the temporary tables,
            # not the rules just written: random() is then drawn here, in the same order on
            # one server as on a Citus coordinator (which would push a query over the
            # distributed rules down to its workers)
            counts["automation_logs"] = ex(f"""
                INSERT INTO public.automation_logs (tenant_id, rule_id, rule_name, trigger_event, status,
                                                    actions_executed, error_message, executed_at)
                SELECT t.id, {_uuid(seed, 'rule').format('t.tn, r.k')}, r.name, r.event,
                       CASE WHEN r.name LIKE 'SMS%%' OR random() < 0.03 THEN 'failed' ELSE 'success' END,
                       r.actions::jsonb, CASE WHEN r.name LIKE 'SMS%%' THEN 'unsupported action type "sms"' END,
                       %(as_of)s::timestamptz - random() * interval '72 hours'
                  FROM pg_temp.demo_t t
                  JOIN pg_temp.demo_rules r ON r.k <> 4 OR t.tn %% 2 = 1
                 CROSS JOIN generate_series(1, 4) g
                 WHERE r.active AND r.event <> 'case_review_due'
                 ORDER BY t.tn, r.k, g""")
        counts["payment_plans"] = ex(f"""
            INSERT INTO public.payment_plans (tenant_id, id, name)
            SELECT t.id, {_uuid(seed, 'plan').format('t.tn, k')}, 'Plan ' || k
              FROM pg_temp.demo_t t, generate_series(1, %(np)s) k
            ON CONFLICT DO NOTHING""")
        # installments: due from 60 days before to 60 days after the tenant's local date;
        # most of the past ones paid
        counts["installments"] = ex(f"""
            INSERT INTO public.installments (tenant_id, id, payment_plan_id, amount, student_due_date, status)
            SELECT t.id, {_uuid(seed, 'installment').format('t.tn, t.k')}, {_uuid(seed, 'plan').format('t.tn, 1 + (t.k %% %(np)s)')},
                   round((100 + t.r2 * 4900)::numeric, 2), t.due,
                   CASE WHEN t.r < 0.05 THEN 'cancelled'
                        WHEN t.due < (%(as_of)s::timestamptz AT TIME ZONE t.tz)::date AND t.r < 0.60 THEN 'paid'
                        ELSE 'pending' END
              FROM (SELECT t0.*, k,
                           (%(as_of)s::timestamptz AT TIME ZONE t0.tz)::date + (random() * 120 - 60)::int AS due,
                           random() AS r, random() AS r2
                      FROM pg_temp.demo_t t0, generate_series(1, %(ni)s) k) t""")
    return dict(counts)
