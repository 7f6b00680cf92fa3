"""The Grafana dashboard (docker/grafana/bgjobs-dashboard.json) reads what bgjobs installs:
every panel's query and the job variable's query run, as the seeds' partner role
(bgjobs_viewer), against an installed database, with Grafana's macros expanded as its
PostgreSQL data source expands them, and show the runs that are there."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import psycopg
import pytest

DASHBOARD = Path(__file__).resolve().parent.parent / "docker" / "grafana" / "bgjobs-dashboard.json"
JOB = "nightly-export"


def expand(query: str, job: str) -> str:
    """Grafana's variable and $__timeFilter macro (its PostgreSQL source: a BETWEEN of the
    panel's time range, here the last 7 days)."""
    query = query.replace("$job", job)
    return re.sub(r"\$__timeFilter\(([^)]+)\)",
                  r"\1 BETWEEN now() - interval '7 days' AND now()", query)


@pytest.fixture
def viewer(sql, db):
    name = f"grafana_{uuid.uuid4().hex[:8]}"
    sql(f"CREATE ROLE {name} LOGIN PASSWORD 'pw'")
    sql(f"GRANT bgjobs_viewer TO {name}")
    with psycopg.connect(db, user=name, password="pw", autocommit=True) as c:
        yield c
    sql(f"DROP OWNED BY {name}")
    sql(f"DROP ROLE {name}")


def test_every_panel_query_runs_as_the_viewer_and_shows_the_runs(sql, viewer):
    # three successful runs and one failed run of a job in the last day, one success 3 days ago
    sql(f"""INSERT INTO jobs_log (job_name, started_at, completed_at, status, records_updated, error_message)
            VALUES ('{JOB}', now() - interval '3 hours', now() - interval '3 hours' + interval '2 seconds', 'success', 5, NULL),
                   ('{JOB}', now() - interval '2 hours', now() - interval '2 hours' + interval '4 seconds', 'success', 7, NULL),
                   ('{JOB}', now() - interval '1 hour', now() - interval '1 hour' + interval '1 second', 'failed', 0, 'boom'),
                   ('{JOB}', now() - interval '30 minutes', now() - interval '30 minutes' + interval '3 seconds', 'success', 1, NULL),
                   ('{JOB}', now() - interval '3 days', now() - interval '3 days' + interval '2 seconds', 'success', 10, NULL)""")
    sql("SELECT update_job_heartbeat('check-sla-and-overdue', 'healthy')")
    board = json.loads(DASHBOARD.read_text())

    (variable,) = board["templating"]["list"]
    jobs = [r[0] for r in viewer.execute(variable["query"]).fetchall()]
    assert JOB in jobs

    results = {}
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            rows = viewer.execute(expand(target["rawSql"], JOB)).fetchall()
            results[panel["title"]] = rows
    assert len(results) == 7
    assert results["Failed runs, last 24 h: $job"] == [(1,)]
    assert results["Health score, last 24 h: $job"] == [(75.0,)]
    per_day = [r[1] for r in results["Records Updated per Day: $job"]]
    assert sum(per_day) == 13 + 10 and per_day[0] == 10      # the recent runs may span midnight
    assert len(results["Execution Duration Trend: $job"]) == 4
    assert sorted(r[1] for r in results["Execution Duration Trend: $job"]) == [2.0, 2.0, 3.0, 4.0]
    total, healthy = results["Heartbeats (healthcheck_summary)"][0][:2]
    assert (total, healthy) == (1, 1)
    assert len(results["Job status (job_status)"]) == sql("SELECT count(*) FROM bgjobs.job_registry")[0][0]
