"""Issue 7: who reaches what.  pg_cron runs bgjobs' jobs as bgjobs_runner (not a
superuser); the viewer reads monitoring where pg_cron lives in the same database, but no
recipient, error text, secret or other application's pg_cron command; the admin sets,
rotates and lists secrets but never reads one back; bgjobs_deliverer does."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from bgjobs import install as inst
from bgjobs.settings import Settings
from psycopg.conninfo import make_conninfo

SECRET_COMMAND = "SELECT 'SECRET-XYZ'"
OTHER_APP_JOB = "other-app-nightly"


# ------------------------------------------------------------------ B: bgjobs_runner

def test_pg_cron_jobs_belong_to_bgjobs_runner_a_plain_login_role(new_db, pg_server, cron_conn):
    name = new_db()
    inst.install(pg_server.dsn(name), Settings(), report=lambda s: None)
    users = cron_conn.execute("SELECT jobname, username FROM cron.job WHERE database = %s", (name,)).fetchall()
    assert len(users) >= 9
    assert {u for _, u in users} == {"bgjobs_runner"}, users
    role = cron_conn.execute("SELECT rolsuper, rolcanlogin FROM pg_roles WHERE rolname = 'bgjobs_runner'").fetchone()
    assert role == (False, True)
    supers = cron_conn.execute(
        "SELECT r.rolname FROM pg_roles r WHERE r.rolsuper AND r.rolname <> 'bgjobs_runner' "
        "AND pg_has_role('bgjobs_runner', r.oid, 'MEMBER')").fetchall()
    assert supers == [], f"bgjobs_runner is a member of superuser role(s) {supers}"


# ------------------------------------------------------------------ C: the viewer, pg_cron here

@pytest.fixture(scope="module")
def cron_db_install(pg_server, cron_conn):
    """bgjobs installed, with its schedules, into pg_cron's own database, next to another
    application's pg_cron job whose command holds a secret; uninstalled afterwards."""
    dsn = pg_server.dsn(pg_server.cron_db)
    other = cron_conn.execute("SELECT cron.schedule(%s, '0 3 1 1 *', %s)", (OTHER_APP_JOB, SECRET_COMMAND)).fetchone()[0]
    try:
        inst.install(dsn, Settings(), report=lambda s: None)
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute("SELECT set_secret('SLACK_WEBHOOK_URL', 'https://hooks.example/T0/B0/SECRET-XYZ')")
            c.execute("INSERT INTO public.notifications (channel, recipient, template, payload, dedupe_key, last_error) "
                      "VALUES ('email', 'client@example.com', 'x', '{\"name\": \"A Client\"}', "
                      "'hearing:client@example.com:+919800000000', 'smtp 550 client@example.com')")
        yield dsn
    finally:
        try:
            inst.uninstall(dsn, report=lambda s: None)
        finally:
            cron_conn.execute("SELECT cron.unschedule(%s::bigint)", (other,))
            for (jobid,) in cron_conn.execute("SELECT jobid FROM cron.job WHERE database = %s AND jobname <> %s",
                                              (pg_server.cron_db, OTHER_APP_JOB)).fetchall():
                cron_conn.execute("SELECT cron.unschedule(%s::bigint)", (jobid,))


@pytest.fixture
def as_role(cron_db_install):
    """as_role(role) -> a superuser connection to pg_cron's database with SET ROLE role."""
    conns = []

    def make(role: str) -> psycopg.Connection:
        c = psycopg.connect(cron_db_install, autocommit=True)
        conns.append(c)
        c.execute(f"SET ROLE {role}")
        return c

    yield make
    for c in conns:
        c.close()


def test_viewer_reads_job_status_where_pg_cron_lives(as_role, cron_db_install):
    with psycopg.connect(cron_db_install, autocommit=True) as su:
        registered = su.execute("SELECT count(*) FROM bgjobs.job_registry").fetchone()[0]
    v = as_role("bgjobs_viewer")
    rows = v.execute("SELECT * FROM job_status").fetchall()
    # bgjobs' jobs, then the other application's pg_cron job, watched (issue 10): by its
    # name, never its command
    assert len(rows) == registered + 1
    assert rows[-1][:2] == (f"pg_cron:{OTHER_APP_JOB}", OTHER_APP_JOB)
    assert "SECRET-XYZ" not in repr(rows)


@pytest.mark.parametrize("query", [
    "SELECT dedupe_key FROM notifications",
    "SELECT last_error FROM notifications",
    "SELECT recipient FROM notifications",
    "SELECT payload FROM notifications",
    "SELECT bgjobs.get_secret('SLACK_WEBHOOK_URL')",
    "SELECT bgjobs.delivery_config()",
    "SELECT run_job('check-sla-and-overdue')",
    "SELECT set_secret('SLACK_WEBHOOK_URL', 'https://attacker.example/')",
])
def test_viewer_is_refused(as_role, query):
    v = as_role("bgjobs_viewer")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        v.execute(query)


def test_viewer_sees_no_other_applications_pg_cron_jobs(as_role, cron_db_install, cron_conn):
    assert cron_conn.execute("SELECT count(*) FROM cron.job WHERE command = %s", (SECRET_COMMAND,)).fetchone()[0] == 1
    with psycopg.connect(cron_db_install, autocommit=True) as su:
        ours = {r[0] for r in su.execute("SELECT cron_jobname FROM bgjobs.job_registry").fetchall()}
    v = as_role("bgjobs_viewer")
    try:
        with v.transaction():
            cur = v.execute("SELECT * FROM bgjobs.cron_jobs()")
            rows, names = cur.fetchall(), [d.name for d in cur.description]
    except psycopg.errors.InsufficientPrivilege:
        rows, names = [], []                       # the viewer may not call it at all: fine
    assert "SECRET-XYZ" not in repr(rows)
    jobnames = {dict(zip(names, r)).get("jobname") for r in rows}
    assert jobnames <= ours, f"viewer sees pg_cron jobs that are not bgjobs': {jobnames - ours}"
    assert "SECRET-XYZ" not in repr(v.execute("SELECT * FROM job_status").fetchall())


# ------------------------------------------------------------------ D: the admin and the deliverer

def test_admin_sets_and_lists_secrets_but_never_reads_one_back(conn):
    conn.execute("SET ROLE bgjobs_admin")
    conn.execute("SELECT set_secret('SLACK_WEBHOOK_URL', 'https://x/SECRET')")
    conn.execute("SELECT set_secret('SLACK_WEBHOOK_URL', 'https://x/SECRET-ROTATED')")      # rotate
    cur = conn.execute("SELECT * FROM bgjobs.list_secrets()")
    rows = cur.fetchall()
    columns = [d.name for d in cur.description]
    assert "name" in columns and "updated_at" in columns and "value" not in columns, columns
    assert [r[columns.index("name")] for r in rows] == ["SLACK_WEBHOOK_URL"]
    assert "SECRET" not in repr([r[:columns.index("name")] + r[columns.index("name") + 1:] for r in rows])
    for query in ("SELECT bgjobs.get_secret('SLACK_WEBHOOK_URL')",
                  "SELECT bgjobs.delivery_config()",
                  "SELECT * FROM bgjobs.secrets"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(query)


def test_deliverer_role_reads_delivery_config(conn, db):
    conn.execute("SELECT set_secret('SLACK_WEBHOOK_URL', 'https://x/SECRET')")
    assert conn.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'bgjobs_deliverer'").fetchone() == (False,)
    login = f"worker_{uuid.uuid4().hex[:8]}"
    conn.execute(f"CREATE ROLE {login} LOGIN PASSWORD 'pw' IN ROLE bgjobs_deliverer")
    try:
        with psycopg.connect(make_conninfo(db, user=login, password="pw"), autocommit=True) as w:
            config = w.execute("SELECT bgjobs.delivery_config()").fetchone()[0]
        assert config["slack_webhook_url"] == "https://x/SECRET"
    finally:
        conn.execute(f"DROP ROLE {login}")
