"""bgjobs on Citus: the tenant tables distributed by tenant over a coordinator and two
workers (tests/citus/conftest.py), every job run on the same demo data as a single-node
server, and the results and the rows the jobs write compared: they must be equal.  Then
`bgjobs distribute` again (nothing to do), a re-install over the distributed tables, and
a real pg_cron tick on the cluster."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from bgjobs import demodata, distribute
from bgjobs import install as inst
from bgjobs.cli import main as cli
from bgjobs.settings import Settings
from click.testing import CliRunner
from sinks import SmtpRelay

AS_OF = datetime(2026, 3, 9, 12, 0, tzinfo=timezone.utc)
# every job, in the order a day would run them; then the SLA tick again, 15 minutes later
JOBS = [("check-sla-and-overdue", AS_OF), ("send-hearing-reminders", AS_OF), ("check-upcoming-deadlines", AS_OF),
        ("automation-health-check", AS_OF), ("analytics-snapshot", AS_OF), ("update-installment-statuses", AS_OF),
        ("cron-healthcheck", AS_OF), ("check-job-health", AS_OF), ("deliver-notifications", AS_OF),
        ("purge-old-logs", AS_OF), ("check-sla-and-overdue", AS_OF + timedelta(minutes=15))]
# their results hold wall-clock facts (time since install, next expected run): success only
WALL_CLOCK_JOBS = {"check-job-health", "cron-healthcheck"}

TENANT_TABLES = ("tenants", "users", "cases", "hearings", "tasks", "documents", "automation_rules",
                 "automation_logs", "analytics_snapshots", "payment_plans", "installments")


def _load_and_run(dsn: str) -> dict:
    with psycopg.connect(dsn, autocommit=True) as c:
        counts = demodata.load(c, tenants=12, tasks_per_tenant=60, seed=7, as_of=AS_OF)
        assert counts["loaded"] and counts["tasks"] == 720
        runs, sla_passes = [], []
        for job, as_of in JOBS:
            r = c.execute("SELECT public.run_job(%s, %s)", (job, as_of)).fetchone()[0]
            runs.append((job, r["success"], r.get("error"), None if job in WALL_CLOCK_JOBS else r.get("results")))
            if job == "check-sla-and-overdue":
                sla_passes.append(c.execute("SELECT last_pass, last_reason FROM bgjobs_app.sla_tick_state").fetchone())
        return {"runs": runs, "sla_passes": sla_passes, **_written_rows(c)}


def _written_rows(c) -> dict:
    q = lambda query: c.execute(query).fetchall()
    if c.execute("SELECT to_regclass('bgjobs_app.task_flags')").fetchone()[0]:
        flags = q("SELECT f.tenant_id, f.task_id, f.overdue_since, f.sla_violated_at, t.priority "
                  "FROM bgjobs_app.task_flags f JOIN public.tasks t ON t.tenant_id = f.tenant_id AND t.id = f.task_id "
                  "ORDER BY 1, 2")
    else:
        flags = q("SELECT tenant_id, id, overdue_since, sla_violated_at, priority FROM public.tasks "
                  "WHERE is_overdue OR sla_violated ORDER BY 1, 2")
    return {
        "task_flags": flags,
        "priorities": q("SELECT tenant_id, id, priority FROM public.tasks ORDER BY 1, 2"),
        # the automation notifications' payload names the automation_logs row (a random id)
        "notifications": q("SELECT dedupe_key, tenant_id, channel, recipient, template, status, "
                           "payload - 'automation_log_id' FROM public.notifications "
                           "WHERE category = 'business' ORDER BY dedupe_key"),
        "snapshots": q("SELECT tenant_id, metric_type, snapshot_date, metric_value FROM public.analytics_snapshots "
                       "ORDER BY 1, 2, 3"),
        "installments": q("SELECT tenant_id, id, status FROM public.installments ORDER BY 1, 2"),
        "rule_runs": q("SELECT tenant_id, rule_id, status, executed_at, count(*) FROM public.automation_logs "
                       "WHERE executed_at >= '2026-03-09 12:00+00' GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"),
        "sla_audit": q("SELECT tenant_id, entity_id, details FROM public.audit_log "
                       "WHERE action_type = 'sla_violation' ORDER BY 1, 2"),
    }


@pytest.fixture(scope="module")
def single_node(citus_installed, pg_server, template_db):
    """The reference: the same data and jobs on one plain PostgreSQL."""
    name = "citus_reference"
    with pg_server.admin() as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    try:
        yield _load_and_run(pg_server.dsn(name))
    finally:
        with pg_server.admin() as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def cluster_db(citus_cluster):
    """bgjobs installed into the coordinator and its tenant tables distributed."""
    dsn = citus_cluster.create_database("bgjobs_cmp")
    inst.install(dsn, Settings(), schedule=False, report=lambda s: None)
    lines = []
    assert distribute.distribute(dsn, report=lines.append) == 12
    return dsn


@pytest.fixture(scope="module")
def distributed(cluster_db):
    return _load_and_run(cluster_db)


def test_tables_are_distributed_by_tenant_and_colocated(cluster_db):
    with psycopg.connect(cluster_db, autocommit=True) as c:
        rows = dict((t, (kind, col, coloc)) for t, kind, col, coloc in c.execute(
            "SELECT table_name::text, citus_table_type, distribution_column, colocation_id FROM citus_tables"))
    assert rows["tenants"][:2] == ("distributed", "id")
    for t in TENANT_TABLES[1:]:
        assert rows[t][:2] == ("distributed", "tenant_id"), t
        assert rows[t][2] == rows["tenants"][2], f"{t} not colocated with tenants"
    assert rows["courts"][0] == "reference"
    # the runtime stays on the coordinator as plain tables
    for t in ("notifications", "jobs_log", "audit_log", "job_heartbeats", "app_settings"):
        assert t not in rows


def test_every_job_succeeds_distributed(distributed):
    failed = [(job, err) for job, ok, err, _ in distributed["runs"] if not ok]
    assert failed == []
    assert len(distributed["runs"]) == len(JOBS)


def test_job_results_equal_single_node(distributed, single_node):
    for (job, *dist), (_, *single) in zip(distributed["runs"], single_node["runs"]):
        assert dist == single, f"{job}:\n distributed {json.dumps(dist, sort_keys=True, default=str)}\n" \
                               f" single node {json.dumps(single, sort_keys=True, default=str)}"
    # the data set exercises every job: something happened in each business job
    results = {job: res for job, _, _, res in single_node["runs"][:6]}
    assert results["check-sla-and-overdue"]["overdueTasks"] > 0
    assert results["check-sla-and-overdue"]["slaViolations"] > 0
    assert results["check-sla-and-overdue"]["rulesTriggered"] > 0
    assert results["send-hearing-reminders"]["emailsQueued"] > 0
    assert results["check-upcoming-deadlines"]["usersNotified"] > 0
    assert results["analytics-snapshot"]["snapshotsWritten"] == 12
    assert results["update-installment-statuses"]["installmentsUpdated"] > 0
    # the second SLA tick finds nothing new, on both
    assert single_node["runs"][-1][3]["overdueTasks"] == 0


@pytest.mark.parametrize("what", ["task_flags", "priorities", "notifications", "snapshots", "installments",
                                  "rule_runs", "sla_audit"])
def test_rows_written_equal_single_node(distributed, single_node, what):
    assert single_node[what], f"the reference run wrote no {what}"
    assert distributed[what] == single_node[what]


def test_sla_tick_without_change_feed_on_distributed_tasks(cluster_db, distributed, single_node):
    """The feed's triggers would run on the shards: distribute dropped them, and every SLA
    tick makes a full pass there; on one node the second tick was incremental.  The rows
    both wrote are equal (test_rows_written_equal_single_node)."""
    with psycopg.connect(cluster_db, autocommit=True) as c:
        assert c.execute("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'tasks_sla_feed%%' "
                         "AND tgrelid = 'public.tasks'::regclass").fetchone()[0] == 0
    assert distributed["sla_passes"] == [("full", "no tick recorded"), ("full", "no change feed")]
    assert single_node["sla_passes"] == [("full", "no tick recorded"), ("incremental", None)]


def test_distribute_again_changes_nothing(cluster_db, distributed):
    out = CliRunner().invoke(cli, ["distribute", "--dsn", cluster_db])
    assert out.exit_code == 0, out.output
    assert "nothing to do" in out.output


def test_reinstall_over_distributed_tables(cluster_db, distributed):
    lines = []
    inst.install(cluster_db, Settings(), schedule=False, report=lines.append)
    assert any("0 change(s)" in line for line in lines), lines
    with psycopg.connect(cluster_db, autocommit=True) as c:
        # the triggers are still on the distributed tables (and their shards)
        assert c.execute("SELECT count(*) FROM pg_trigger WHERE tgname = 'installments_set_tenant' "
                         "AND tgrelid = 'public.installments'::regclass").fetchone()[0] == 1
        r = c.execute("SELECT public.run_job('update-installment-statuses', %s)", (AS_OF,)).fetchone()[0]
    assert r["success"] and r["results"]["installmentsUpdated"] == 0


def test_distribute_refuses_without_citus(db):
    out = CliRunner().invoke(cli, ["distribute", "--dsn", db])
    assert out.exit_code == 1
    assert out.output.strip().splitlines() == [
        "bgjobs: the citus extension is not created in this database "
        "(CREATE EXTENSION citus on the coordinator and add the workers first)"]


def test_application_tables_distributed_another_way_are_refused(citus_cluster):
    dsn = citus_cluster.create_database("bgjobs_other")
    inst.install(dsn, Settings(), schedule=False, report=lambda s: None)
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("SET citus.enable_unsafe_triggers = on")
        c.execute("SELECT create_distributed_table('public.tenants', 'id')")
        c.execute("SELECT create_distributed_table('public.analytics_snapshots', 'tenant_id', colocate_with => 'none')")
        before = c.execute("SELECT count(*) FROM pg_dist_partition").fetchone()[0]
    out = CliRunner().invoke(cli, ["distribute", "--dsn", dsn])
    assert out.exit_code == 1
    assert out.output.strip() == (
        "bgjobs: public.analytics_snapshots is distributed by tenant_id but not colocated with public.tenants; "
        "colocate it (alter_distributed_table(..., colocate_with => 'public.tenants')) first")
    with psycopg.connect(dsn, autocommit=True) as c:
        assert c.execute("SELECT count(*) FROM pg_dist_partition").fetchone()[0] == before   # nothing touched
        c.execute("SELECT create_distributed_table('public.courts', 'id', colocate_with => 'none')")
        c.execute("SELECT alter_distributed_table('public.analytics_snapshots', colocate_with => 'public.tenants')")
    out = CliRunner().invoke(cli, ["distribute", "--dsn", dsn])
    assert out.exit_code == 1
    assert out.output.strip() == "bgjobs: public.courts is a distributed table; bgjobs needs it a reference table"


def test_already_distributed_application_is_recognised(citus_cluster):
    """An application that distributed some of its tables by tenant before bgjobs came:
    distribute colocates the rest with them, and a second run has nothing to do."""
    dsn = citus_cluster.create_database("bgjobs_app")
    inst.install(dsn, Settings(), schedule=False, report=lambda s: None)
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("SELECT create_distributed_table('public.analytics_snapshots', 'tenant_id')")
    lines = []
    assert distribute.distribute(dsn, report=lines.append) == 11
    assert not any("analytics_snapshots" in line for line in lines), lines
    with psycopg.connect(dsn, autocommit=True) as c:
        assert c.execute("SELECT count(DISTINCT colocation_id) FROM citus_tables "
                         "WHERE citus_table_type = 'distributed'").fetchone()[0] == 1
    out = CliRunner().invoke(cli, ["distribute", "--dsn", dsn, "--dry-run"])
    assert out.exit_code == 0 and "nothing to do" in out.output


@pytest.fixture
def smtp_sink():
    relay = SmtpRelay().start()
    yield relay
    relay.stop()


def test_pg_cron_tick_on_the_cluster(citus_cluster, smtp_sink):
    """pg_cron's own tick, as bgjobs_runner, on the distributed tables: the every-minute
    deliver-notifications run claims the outbox rows (joined with the distributed tenants)
    and a real SMTP sink on loopback receives every queued hearing reminder."""
    sink, port = smtp_sink, smtp_sink.port
    dsn = citus_cluster.create_database("bgjobs")          # pg_cron's database on the sandbox
    inst.install(dsn, Settings(), schedule=True, report=lambda s: None)
    distribute.distribute(dsn, report=lambda s: None)
    with psycopg.connect(dsn, autocommit=True) as c:
        for k, v in (("smtp_host", "127.0.0.1"), ("smtp_port", str(port)), ("email_transport", "smtp")):
            c.execute("INSERT INTO public.app_settings (key, value) VALUES (%s, %s) "
                      "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", (k, v))
        demodata.load(c, tenants=3, tasks_per_tenant=20, seed=11, as_of=datetime.now(timezone.utc), whatsapp_every=0)
        r = c.execute("SELECT public.run_job('send-hearing-reminders')").fetchone()[0]
        assert r["success"] and r["results"]["emailsQueued"] > 0
        queued = sorted(x for (x,) in c.execute(
            "SELECT recipient FROM public.notifications WHERE template = 'hearing_reminder'"))
        assert len(queued) == r["results"]["emailsQueued"]
        started = c.execute("SELECT now()").fetchone()[0]
        deadline = time.monotonic() + 150
        row = None
        while time.monotonic() < deadline:
            row = c.execute("SELECT status, error_message FROM public.jobs_log "
                            "WHERE job_name = 'deliver-notifications' AND started_at > %s "
                            "AND status <> 'running' ORDER BY started_at LIMIT 1", (started,)).fetchone()
            if row:
                break
            time.sleep(2)
        assert row == ("success", None), row or "no pg_cron tick of deliver-notifications within 150 s"
        cron = c.execute("SELECT d.status, d.username FROM cron.job_run_details d JOIN cron.job j USING (jobid) "
                         "WHERE j.jobname = 'deliver-notifications' AND d.start_time > %s "
                         "ORDER BY d.start_time LIMIT 1", (started,)).fetchone()
        assert cron == ("succeeded", "bgjobs_runner")
        assert c.execute("SELECT count(*) FROM public.notifications WHERE template = 'hearing_reminder' "
                         "AND status = 'sent'").fetchone()[0] == len(queued)
    assert sorted(r for m in sink.messages for r in m.rcpt_tos) == queued
