"""Install on a managed-style server: the database owner with CREATEROLE, no superuser,
no PL/Python functions; pg_cron in the application's database.  Install first refuses,
naming exactly the README's grants and changing nothing; with those grants (and nothing
more) it installs, pg_cron's jobs belong to bgjobs_runner, every job runs, and `bgjobs
worker` delivers."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
from bgjobs import demodata, doctor, install, sandbox, worker
from bgjobs.errors import BgjobsError
from bgjobs.settings import Settings
from psycopg.conninfo import make_conninfo

README = Path(__file__).resolve().parents[1] / "README.md"
OWNER, PASSWORD = "app_owner", "app-owner-pw"
BERLIN = ZoneInfo("Europe/Berlin")


def readme_grants() -> list[str]:
    """The statements of the README's 'managed server grants' block."""
    text = README.read_text()
    block = re.search(r"```sql\n-- managed server grants[^\n]*\n(.*?)```", text, re.DOTALL).group(1)
    return [" ".join(s.split()) for s in block.split(";") if s.strip()]


@pytest.fixture(scope="module")
def managed():
    with sandbox.temporary("bgjobs-managed-") as sb:
        with psycopg.connect(sb.dsn_for("postgres"), autocommit=True) as su:
            su.execute(f"CREATE ROLE {OWNER} LOGIN CREATEROLE PASSWORD '{PASSWORD}'")
            su.execute(f"ALTER DATABASE {sandbox.DATABASE} OWNER TO {OWNER}")
        with psycopg.connect(sb.dsn_for(sandbox.DATABASE), autocommit=True) as su:
            su.execute("CREATE EXTENSION IF NOT EXISTS pg_cron")     # the provider's doing
        yield sb


def owner_dsn(sb) -> str:
    return make_conninfo(sb.dsn_for(sandbox.DATABASE), user=OWNER, password=PASSWORD)


def test_install_refuses_naming_the_readme_grants_and_changes_nothing(managed):
    with pytest.raises(BgjobsError) as err:
        install.install(owner_dsn(managed), Settings(), report=lambda s: None)
    message = str(err.value)
    assert "\n" not in message and "nothing was changed" in message
    for stmt in readme_grants():
        assert stmt in " ".join(message.split()), stmt
    with psycopg.connect(managed.dsn_for(sandbox.DATABASE), autocommit=True) as su:
        assert su.execute("SELECT to_regnamespace('bgjobs')").fetchone()[0] is None
        assert su.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0] == 0
        assert su.execute("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'bgjobs%'").fetchone()[0] == 0


def test_install_with_exactly_the_documented_grants_runs_every_job_and_the_worker_delivers(managed, httpserver):
    with psycopg.connect(managed.dsn_for(sandbox.DATABASE), autocommit=True) as su:
        for stmt in readme_grants():
            su.execute(stmt)
    lines: list[str] = []
    install.install(owner_dsn(managed), Settings(), report=lines.append)
    text = "\n".join(lines)
    assert "`bgjobs worker`" in text and "bgjobs installed" in text, text

    with psycopg.connect(managed.dsn_for(sandbox.DATABASE), autocommit=True) as su:
        rows = su.execute("SELECT jobname, username, active FROM cron.job ORDER BY jobname").fetchall()
        assert {u for _, u, _ in rows} == {"bgjobs_runner"}
        assert {j for j, _, a in rows if not a} == {"deliver-notifications"}     # no PL/Python: the worker delivers
        assert su.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", (OWNER,)).fetchone()[0] is False
        assert su.execute("SELECT count(*) FROM pg_proc WHERE prolang = "
                          "(SELECT oid FROM pg_language WHERE lanname = 'plpython3u')").fetchone()[0] == 0

    httpserver.expect_request("/slack").respond_with_data("ok")
    with psycopg.connect(owner_dsn(managed), autocommit=True) as own:
        own.execute(f"GRANT bgjobs_admin, bgjobs_deliverer TO {OWNER}")
    with psycopg.connect(owner_dsn(managed), autocommit=True) as own:
        demodata.load(own, tenants=2, tasks_per_tenant=20)
        own.execute("SET ROLE bgjobs_admin")
        own.execute("SELECT public.set_secret('SLACK_WEBHOOK_URL', %s)", (httpserver.url_for("/slack"),))
        jobs = [j for (j,) in own.execute("SELECT job_name FROM bgjobs.job_registry WHERE enabled ORDER BY 1")]
        assert len(jobs) == 9 and "deliver-notifications" not in jobs
        for job in jobs:
            resp = own.execute("SELECT public.run_job(%s)", (job,)).fetchone()[0]
            assert resp["success"], resp
        own.execute("RESET ROLE")
        own.execute("INSERT INTO public.jobs_log (job_name, status, error_message) "
                    "VALUES ('check-sla-and-overdue', 'failed', 'TEST ALERT')")
        pending = own.execute("SELECT count(*) FROM public.notifications WHERE channel = 'slack' "
                              "AND status = 'pending'").fetchone()[0]
        assert pending >= 1
    totals = worker.main(owner_dsn(managed), once=True, report=lambda s: None)
    assert totals.counts["sent"] >= pending
    assert len([r for r, _ in httpserver.log if r.path == "/slack"]) == pending

    report: list[str] = []
    assert doctor.run(owner_dsn(managed), report=report.append), "\n".join(report)
    assert not any(line.startswith("FAIL") for line in report), "\n".join(report)


def test_a_zoned_job_runs_at_its_slot_without_pl_python(managed):
    """The README's example job, 08:00 Europe/Berlin, on the managed-style install above (no
    PL/Python function on the server): register_job takes the zone, pg_cron holds its
    quarter-hour tick as bgjobs_runner, and the ticks pg_cron would make around a coming
    08:00 in Berlin run it once, on the first tick at or after the slot, as of the slot;
    next_expected_run then names the next day's 08:00."""
    with psycopg.connect(owner_dsn(managed), autocommit=True) as own:
        own.execute("CREATE FUNCTION public.berlin_report(as_of timestamptz) RETURNS jsonb "
                    "LANGUAGE sql AS $$ SELECT jsonb_build_object('day', (as_of AT TIME ZONE 'Europe/Berlin')::date) $$")
        own.execute("GRANT EXECUTE ON FUNCTION public.berlin_report(timestamptz) TO bgjobs_runner")
        own.execute("SET ROLE bgjobs_admin")
        own.execute("SELECT bgjobs.register_job('berlin-report', 'public.berlin_report', '0 8 * * *', 'Europe/Berlin')")
        own.execute("RESET ROLE")
        assert own.execute("SELECT tick, timezone FROM bgjobs.job_registry WHERE job_name = 'berlin-report'"
                           ).fetchone() == ("*/15 * * * *", "Europe/Berlin")
        # the first 08:00 in Berlin after registration (zoneinfo's, not the database's), and
        # pg_cron's ticks from two hours before it to one after
        now = own.execute("SELECT now()").fetchone()[0].astimezone(BERLIN)
        day = now.date() + dt.timedelta(days=0 if now.time() < dt.time(8) else 1)
        slot = dt.datetime.combine(day, dt.time(8), BERLIN).astimezone(dt.timezone.utc)
        ticks = [t for (t,) in own.execute("SELECT generate_series(%s::timestamptz - interval '2 hours', "
                                           "%s::timestamptz + interval '1 hour', interval '15 minutes')", (slot, slot))]
    with psycopg.connect(managed.dsn_for(sandbox.DATABASE), autocommit=True) as su:
        assert su.execute("SELECT schedule, username FROM cron.job WHERE jobname = 'berlin-report'"
                          ).fetchone() == ("*/15 * * * *", "bgjobs_runner")
        assert su.execute("SELECT count(*) FROM pg_proc WHERE prolang = "
                          "(SELECT oid FROM pg_language WHERE lanname = 'plpython3u')").fetchone()[0] == 0
        su.execute("SET ROLE bgjobs_runner")                    # as pg_cron runs it
        for at in ticks:
            su.execute("CALL bgjobs.run_scheduled_job('berlin-report', %s)", (at,))
        su.execute("RESET ROLE")
        runs = su.execute("SELECT as_of, status, results ->> 'day' FROM public.jobs_log "
                          "WHERE job_name = 'berlin-report' ORDER BY as_of").fetchall()
        assert runs == [(slot, "success", day.isoformat())]
        assert su.execute("SELECT bgjobs.next_expected_run('berlin-report', %s::timestamptz + interval '1 minute') "
                          "= (%s::date + 1 + time '08:00') AT TIME ZONE 'Europe/Berlin'", (slot, day)).fetchone()[0]
