"""Issue 7, the critical finding: a role with CREATE on `public` plants operators (every
mixed pair of numeric types, arithmetic and comparison) and better-matching functions in
`public`; then every job, view and metrics function runs as a superuser and as the viewer,
before and after a re-install under a search_path that puts public first.  The planted
code must never run and the attacker must stay a non-superuser.

(pg_cron's real ticks under the same attack: test_pg_cron_attack.py, marked slow.)"""

from __future__ import annotations

import psycopg
import pytest
from bgjobs import install as inst
from bgjobs.settings import Settings

from .conftest import (
    ARITHMETIC,
    COMPARISON,
    NUMERIC_TYPES,
    hostile_dsn,
    load_demo_data,
    run_everything,
)

PLANTED_IN_VIEWS = """
    SELECT DISTINCT c.relname::text, d.refobjid::regoperator::text
      FROM pg_depend d
      JOIN pg_rewrite r ON r.oid = d.objid AND d.classid = 'pg_rewrite'::regclass
      JOIN pg_class c ON c.oid = r.ev_class
      JOIN pg_operator o ON o.oid = d.refobjid AND d.refclassid = 'pg_operator'::regclass
     WHERE o.oprowner = 'attacker'::regrole
    UNION ALL
    SELECT DISTINCT c.relname::text, d.refobjid::regprocedure::text
      FROM pg_depend d
      JOIN pg_rewrite r ON r.oid = d.objid AND d.classid = 'pg_rewrite'::regclass
      JOIN pg_class c ON c.oid = r.ev_class
      JOIN pg_proc p ON p.oid = d.refobjid AND d.refclassid = 'pg_proc'::regclass
     WHERE p.proowner = 'attacker'::regrole
"""


@pytest.fixture
def attacked(db, attacker, smtp_sink):
    """Demo data, delivery pointed at a loopback SMTP relay, and the attacker's plants."""
    load_demo_data(db)
    with psycopg.connect(db, autocommit=True) as c:
        for key, value in (("smtp_host", "127.0.0.1"), ("smtp_port", str(smtp_sink.port)),
                           ("alert_email_to", "ops@example.com"), ("email_transport", "smtp")):
            c.execute("UPDATE app_settings SET value = %s WHERE key = %s", (value, key))
    attacker.plant()
    return attacker


def test_the_plants_are_live_where_pg_catalog_has_no_exact_match(attacked, db):
    """The test of the test: the plants are there and win where the issue says they do."""
    pairs = len(NUMERIC_TYPES) * (len(NUMERIC_TYPES) - 1)
    assert attacked.planted >= pairs * len(ARITHMETIC + COMPARISON)
    with psycopg.connect(attacked.attacker_dsn, autocommit=True) as a:
        assert str(a.execute("SELECT 7::integer / 1000.0").fetchone()[0]) == "0.00700000000000000000"
        assert a.execute("SELECT 100.0 * 3::bigint").fetchone()[0] == 300
        assert a.execute("SELECT 2::integer < 2.5::double precision").fetchone()[0] is True
        assert a.execute("SELECT 3::bigint = 3::integer").fetchone()[0] is True   # pg_catalog's int84eq
    steps, rows = attacked.calls()
    assert steps == 3
    assert sorted(r[1] for r in rows) == ["integer / numeric", "integer < double precision", "numeric * bigint"]
    assert not attacked.is_superuser()


def test_jobs_views_and_metrics_never_run_planted_code(attacked, db):
    errors = run_everything(db)
    verdict = attacked.verdict()
    assert verdict is None, verdict
    assert errors == []


def test_reinstall_under_a_hostile_search_path_binds_no_planted_operator(attacked, db):
    inst.install(hostile_dsn(db), Settings(), schedule=False, report=lambda s: None)
    with psycopg.connect(db, autocommit=True) as c:
        bound = c.execute(PLANTED_IN_VIEWS).fetchall()
    assert bound == [], f"views bound to the attacker's operators/functions: {bound}"
    errors = run_everything(db)
    verdict = attacked.verdict()
    assert verdict is None, verdict
    assert errors == []


def test_every_installed_routine_pins_a_path_without_a_writable_schema(sql):
    """Every function bgjobs installs resolves names through pg_catalog and pg_temp only; the
    pg_cron entry procedure, which cannot carry a SET clause, pins it in its body."""
    loose = sql("SELECT p.oid::regprocedure::text, p.proconfig FROM pg_proc p "
                "WHERE p.oid IN (SELECT to_regprocedure(identity) FROM bgjobs.installed_routines) "
                "AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false) "
                "ORDER BY 1")
    assert loose == [("bgjobs.run_scheduled_job(text,timestamp with time zone)", None)]
