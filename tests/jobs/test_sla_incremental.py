"""check-sla-and-overdue's incremental tick (issue 9, "Speed") writes exactly what a full
pass writes.  Random task changes between ticks (inserts, closes, reopens, re-dates,
re-prioritisations, deletes, key changes, bulk updates, rules that escalate) and random
steps of as_of (a minute to hours, now and then a replay): before each tick, a full pass
runs in a savepoint that is rolled back; then the real tick runs and must write the same
flags, automation logs and events, notifications, audit rows and task priorities, and
return the same counts.  The same run with the feed or the time windows broken for one
change kind must find a difference (the comparison would catch an incremental path that
misses it)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

T0 = datetime(2026, 3, 8, 12, 0, tzinfo=timezone.utc)
H = timedelta(hours=1)
OPEN = ("Open", "In Progress")
STATUSES = ("Open", "Open", "Open", "In Progress", "Completed", "Cancelled")
PRIORITIES = ("Critical", "High", "Medium", "Low")
STEPS = (timedelta(minutes=1), timedelta(minutes=15), timedelta(minutes=15), timedelta(minutes=15), 2 * H, 7 * H)

CAPTURE = {
    "flags": "SELECT tenant_id, task_id, overdue_since, sla_violated_at FROM bgjobs_app.task_flags ORDER BY 1, 2",
    "logs": "SELECT tenant_id, rule_id, rule_name, trigger_event, status, actions_executed::text, error_message, "
            "executed_at FROM automation_logs ORDER BY 1, 2, 4, 6, 8, 5",
    "events": "SELECT tenant_id, rule_id, event_key, entity_type, entity_id, event_data::text, fired_at "
              "FROM bgjobs_app.automation_events ORDER BY 1, 2, 3",
    "notifications": "SELECT tenant_id, channel, recipient, template, (payload - 'automation_log_id')::text, "
                     "dedupe_key, status FROM notifications ORDER BY 6",
    "audit": "SELECT tenant_id, entity_id, details::text, \"timestamp\" FROM audit_log "
             "WHERE action_type = 'sla_violation' ORDER BY 1, 2, 4",
    "priorities": "SELECT id, priority FROM tasks ORDER BY id",
}


class World:
    """Tenants with users, a case and rules (notify, escalate, notify admins on SLA), and
    the task ids in creation order (so a seed picks the same tasks whatever the uuids)."""

    def __init__(self, conn, mk, rnd: random.Random):
        self.conn, self.mk, self.rnd = conn, mk, rnd
        self.tenants, self.users, self.tasks = [], {}, []
        for i in range(2):
            t = mk.tenant()
            owner, adv = mk.user(t), mk.user(t)
            mk.user(t, role="admin", email=f"boss{i}@example.com")
            case = mk.case(t, owner=owner, assigned=adv)
            mk.rule(t, "task_overdue", "Notify assignee", actions=[{"type": "notify", "to": "assignee"}])
            mk.rule(t, "sla_violation", "Tell the admins", actions=[{"type": "notify", "to": "admins"}])
            if i == 0:
                mk.rule(t, "task_overdue", "Escalate", actions=[{"type": "escalate"}])
            self.tenants.append(t)
            self.users[t] = (owner, adv, case)

    def due(self, now: datetime):
        if self.rnd.random() < 0.05:
            return None
        return now + timedelta(minutes=self.rnd.randint(-9 * 24 * 60, 24 * 60))

    def insert(self, now):
        t = self.rnd.choice(self.tenants)
        owner, adv, case = self.users[t]
        self.tasks.append(self.mk.task(t, self.due(now), status=self.rnd.choice(STATUSES),
                                       priority=self.rnd.choice(PRIORITIES),
                                       assigned=self.rnd.choice((None, adv, owner)), case=case))

    def pick(self):
        return self.rnd.choice(self.tasks) if self.tasks else None

    def change(self, now: datetime) -> None:
        """A random batch of changes, each kind with its own odds."""
        ex, r = self.conn.execute, self.rnd
        for _ in range(r.randint(0, 4)):
            self.insert(now)
        for _ in range(r.randint(0, 2)):                                  # close
            if (task := self.pick()):
                ex("UPDATE tasks SET status = %s WHERE id = %s", (r.choice(("Completed", "Cancelled")), task))
        for _ in range(r.randint(0, 2)):                                  # reopen
            if (task := self.pick()):
                ex("UPDATE tasks SET status = %s WHERE id = %s", (r.choice(OPEN), task))
        for _ in range(r.randint(0, 2)):                                  # re-date
            if (task := self.pick()):
                ex("UPDATE tasks SET due_date = %s WHERE id = %s", (self.due(now), task))
        for _ in range(r.randint(0, 1)):                                  # re-prioritise
            if (task := self.pick()):
                ex("UPDATE tasks SET priority = %s WHERE id = %s", (r.choice(PRIORITIES), task))
        if r.random() < 0.3 and (task := self.pick()):                    # delete
            ex("DELETE FROM tasks WHERE id = %s", (task,))
            self.tasks.remove(task)
        if r.random() < 0.1 and (task := self.pick()):                    # key change
            new = ex("UPDATE tasks SET id = gen_random_uuid() WHERE id = %s RETURNING id", (task,)).fetchone()[0]
            self.tasks[self.tasks.index(task)] = new
        if r.random() < 0.15:                                             # one statement, many rows
            ex("UPDATE tasks SET due_date = due_date - interval '5 hours' WHERE tenant_id = %s",
               (r.choice(self.tenants),))
        if r.random() < 0.2 and (task := self.pick()):                    # nothing the tick reads
            ex("UPDATE tasks SET title = title || '!' WHERE id = %s", (task,))


def capture(conn) -> dict:
    return {k: conn.execute(q).fetchall() for k, q in CAPTURE.items()}


def tick(conn, as_of):
    return conn.execute("SELECT bgjobs_app.job_check_sla_and_overdue(%s, NULL)", (as_of,)).fetchone()[0]


def compare_run(conn, mk, seed: int, ticks: int, stop_at_first: bool = False):
    """Runs the random sequence; returns (mismatches, passes) where passes counts the real
    ticks by the pass they made."""
    rnd = random.Random(seed)
    world = World(conn, mk, rnd)
    now = T0
    for _ in range(12):
        world.insert(now)
    mismatches, passes = [], {"full": 0, "incremental": 0}
    for i in range(ticks):
        world.change(now)
        if i and rnd.random() < 0.08:
            as_of = now - rnd.choice((3 * H, timedelta(minutes=20)))      # a replay
        else:
            now = now + rnd.choice(STEPS)
            as_of = now
        with conn.transaction():
            with conn.transaction(force_rollback=True):
                conn.execute("UPDATE bgjobs_app.sla_tick_state SET as_of = NULL")   # forces a full pass
                want_result, want = tick(conn, as_of), capture(conn)
                assert conn.execute("SELECT last_pass FROM bgjobs_app.sla_tick_state").fetchone()[0] == "full"
            got_result, got = tick(conn, as_of), capture(conn)
        passes[conn.execute("SELECT last_pass FROM bgjobs_app.sla_tick_state").fetchone()[0]] += 1
        diff = [k for k in CAPTURE if got[k] != want[k]] + (["result"] if got_result != want_result else [])
        if diff:
            mismatches.append((i, as_of, diff))
            if stop_at_first:
                break
    return mismatches, passes


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_incremental_tick_writes_what_a_full_pass_writes(conn, mk, seed):
    mismatches, passes = compare_run(conn, mk, seed, ticks=40)
    assert mismatches == []
    # the comparison was about the incremental path: most real ticks took it
    assert passes["incremental"] >= 25, passes
    # and the run did write rows of every kind
    rows = capture(conn)
    for k in ("flags", "logs", "events", "notifications", "audit"):
        assert rows[k], k


FEED_SRC = "SELECT pg_catalog.pg_get_functiondef('bgjobs_app.tasks_sla_feed()'::regprocedure)"
TICK_SRC = "SELECT pg_catalog.pg_get_functiondef('bgjobs_app.job_check_sla_and_overdue(timestamptz, uuid[])'::regprocedure)"
# one change kind the incremental path would miss: (function, text, replacement)
NEW_COLS, OLD_COLS = "n.status, n.due_date, n.priority FROM new_rows n", "o.status, o.due_date, o.priority FROM old_rows o"
BROKEN = {   # kind: (source, [(text, replaced by), ...])
    "status change": (FEED_SRC, [(NEW_COLS, "NULL::text, n.due_date, n.priority FROM new_rows n"),
                                 (OLD_COLS, "NULL::text, o.due_date, o.priority FROM old_rows o")]),
    "re-date": (FEED_SRC, [(NEW_COLS, "n.status, NULL::timestamptz, n.priority FROM new_rows n"),
                           (OLD_COLS, "o.status, NULL::timestamptz, o.priority FROM old_rows o")]),
    "re-prioritise": (FEED_SRC, [(NEW_COLS, "n.status, n.due_date, NULL::text FROM new_rows n"),
                                 (OLD_COLS, "o.status, o.due_date, NULL::text FROM old_rows o")]),
    "insert": (FEED_SRC, [("WHERE n.status IN ('Open', 'In Progress') AND n.due_date IS NOT NULL", "WHERE false")]),
    "delete": (FEED_SRC, [("WHERE o.status IN ('Open', 'In Progress')", "WHERE false")]),
    "key change": (FEED_SRC, [("SELECT n.tenant_id, n.id FROM new_rows n) y", "SELECT o.tenant_id, o.id FROM old_rows o) y")]),
    "newly past due": (TICK_SRC, [("AND ((t.due_date >= v_state.as_of AND t.due_date < p_as_of)", "AND ((false)")]),
    "newly past SLA": (TICK_SRC, [("OR (t.priority = 'High' AND", "OR (false AND")]),
}


@pytest.mark.parametrize("kind", list(BROKEN))
def test_the_comparison_finds_an_incremental_path_that_misses_a_change_kind(conn, mk, kind):
    src_query, edits = BROKEN[kind]
    src = conn.execute(src_query).fetchone()[0]
    for old, new in edits:
        assert src.count(old) == 1, f"the function no longer has {old!r}"
        src = src.replace(old, new)
    conn.execute(src)
    mismatches, _ = compare_run(conn, mk, seed=1, ticks=60, stop_at_first=True)
    assert mismatches, f"a feed or window that misses {kind} went unnoticed"


def test_when_the_tick_makes_a_full_pass(conn, sql, mk):
    """The incremental path only where the last tick can be trusted; the state row says
    which pass each tick made and why."""
    t = mk.tenant()
    task = mk.task(t, T0 - H)

    def pass_at(as_of, tenants=None):
        conn.execute("SELECT bgjobs_app.job_check_sla_and_overdue(%s, %s)", (as_of, tenants))
        return sql("SELECT last_pass, last_reason FROM bgjobs_app.sla_tick_state")[0]

    assert pass_at(T0) == ("full", "no tick recorded")
    assert pass_at(T0 + H) == ("incremental", None)
    assert pass_at(T0 + H) == ("full", "replay")
    assert pass_at(T0 + 2 * H) == ("incremental", None)
    assert pass_at(T0 + H / 2) == ("full", "replay")
    assert pass_at(T0 + 3 * H / 2) == ("full", "after a replay")       # a flag from T0 + 2 h may remain
    assert pass_at(T0 + 5 * H / 2) == ("full", "after a replay")       # until a tick passes T0 + 2 h
    assert pass_at(T0 + 3 * H) == ("incremental", None)
    assert pass_at(T0 + 4 * H, [t]) == ("full", "other tenants")
    assert pass_at(T0 + 5 * H, [t]) == ("incremental", None)
    assert pass_at(T0 + 6 * H) == ("full", "other tenants")
    sql("UPDATE app_settings SET value = '2' WHERE key = 'sla_hours_medium'")
    assert pass_at(T0 + 7 * H) == ("full", "other SLA hours")
    assert pass_at(T0 + 7 * H + 24 * H) == ("full", "daily full pass")
    assert pass_at(T0 + 8 * H + 24 * H) == ("incremental", None)
    # a TRUNCATE (no row trigger sees it) asks for a full pass, which ends the flag
    assert sql("SELECT count(*) FROM bgjobs_app.task_flags") == [(1,)]
    sql("TRUNCATE tasks CASCADE")
    assert pass_at(T0 + 9 * H + 24 * H) == ("full", "tasks truncated")
    assert sql("SELECT count(*) FROM bgjobs_app.task_flags") == [(0,)]
    # the feed disabled: no change can be trusted
    sql("ALTER TABLE tasks DISABLE TRIGGER tasks_sla_feed_update")
    assert pass_at(T0 + 10 * H + 24 * H) == ("full", "no change feed")
    sql("ALTER TABLE tasks ENABLE ALWAYS TRIGGER tasks_sla_feed_update")
    assert task


def test_the_feed_stays_set_based_for_a_bulk_update_after_one_row_updates(conn, sql, mk):
    """PL/pgSQL keeps the feed's statement plan for the session, planned with the transition
    tables' sizes of its first call.  An application session that first updates one task at
    a time and then 2,000 at once must not get a plan that compares every old row with
    every new one (with a join planned for one row, 4,000,000 comparisons; at 10,000 rows
    it took 15 s against 0.3 s without the feed).  The bulk update's plan, as auto_explain
    shows it, has no join filter; and the feed records exactly the changed tasks."""
    t = mk.tenant()
    ids = [mk.task(t, T0 + i * H) for i in range(2000)]
    sql("TRUNCATE bgjobs_app.task_changes")
    for task in ids[:3]:                                            # the session's first calls: one row each
        sql("UPDATE tasks SET priority = 'High' WHERE id = %s", task)
    plans = []
    conn.add_notice_handler(lambda d: plans.append(d.message_primary))
    sql("LOAD 'auto_explain'")
    for setting in ("log_min_duration = 0", "log_nested_statements = on", "log_analyze = on"):
        sql(f"SET auto_explain.{setting}")
    sql("SET client_min_messages = log")
    try:
        sql("UPDATE tasks SET due_date = due_date + interval '1 hour', title = title || '.' WHERE tenant_id = %s", t)
        sql("UPDATE tasks SET title = title || '!' WHERE tenant_id = %s", t)     # nothing the feed records
    finally:
        sql("RESET client_min_messages")
        sql("SET auto_explain.log_min_duration = -1")
    feed = [p for p in plans if "INSERT INTO bgjobs_app.task_changes" in p]
    assert len(feed) == 2, plans
    assert all("Rows Removed by Join Filter" not in p and "Nested Loop" not in p for p in feed), feed[0]
    assert sql("SELECT count(*) FROM bgjobs_app.task_changes WHERE tenant_id = %s", t) == [(2000,)]
