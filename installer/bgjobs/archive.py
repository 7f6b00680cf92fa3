"""`bgjobs archive`: move log rows older than a cut-off into a CSV (or gzip CSV) file.

The seeds' compliance procedure ("Archival Process" in the operations guide) COPYs
audit_log rows older than 90 days to CSV, then deletes them; automation_logs keep 180
days.  The cut-off comes from the same settings that purge-old-logs reads
(retention_days_audit_log, retention_days_automation_logs), or --older-than.  purge-old-logs
deletes those rows daily without keeping them; a site that must archive sets the setting to 0
(purge then leaves the table alone) and the archive takes rows at the seeds' age (90 / 180
days) unless --older-than says otherwise.

Rows go in key-range batches by primary key (tenant_id, id).  One batch is one REPEATABLE
READ transaction:

  1. find the batch's last key (the batch_size-th old row after the previous batch);
  2. ``COPY (SELECT * ... key range, older than the cut-off) TO STDOUT`` (CSV, a header in
     the first batch; with .gz each batch is one gzip member, and concatenated members are
     one valid gzip file), appended to the file, then fsync;
  3. ``DELETE`` the same key range and cut-off: the same snapshot sees the same rows, and the
     count must equal the rows written, or the batch is rolled back;
  4. advance the run's row in bgjobs.archive_runs (rows, bytes_committed = the file's new
     length, last key); COMMIT.

A crash before COMMIT leaves bytes in the file whose rows are still in the table; the
ledger's bytes_committed says where the committed part ends, and the next run cuts the
file back to it before going on (the same --out resumes the run; another --out closes the
interrupted run, its file repaired, and starts a new one).  Nothing is lost, nothing is
written twice.  Memory stays flat: COPY data streams to the file chunk by chunk.
"""

from __future__ import annotations

import gzip
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
from psycopg import IsolationLevel, sql

from . import output
from .db import connect, first_line
from .errors import BgjobsError

Report = Callable[[str], None]


@dataclass(frozen=True)
class Spec:
    table: str
    time_column: str
    setting: str
    seed_days: int              # the seeds' retention, when the setting is missing
    key: tuple[str, ...] = ("tenant_id", "id")


TABLES = {
    "audit_log": Spec("audit_log", "timestamp", "retention_days_audit_log", 90),
    "automation_logs": Spec("automation_logs", "executed_at", "retention_days_automation_logs", 180),
}
DEFAULT_BATCH = 10_000
RETRIES = 5


@dataclass
class Run:
    id: int
    file: Path
    compressed: bool
    cutoff: datetime
    committed: int
    last_key: list[str] | None
    rows: int
    batches: int


def _fsync_dir(path: Path) -> None:
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _repair(run: Run, report: Report) -> None:
    """Cut the file back to its committed length (an interrupted batch's bytes go)."""
    size = run.file.stat().st_size if run.file.exists() else None
    if size is None and run.committed > 0 or size is not None and size < run.committed:
        raise BgjobsError(
            f"archive file {run.file} of interrupted run #{run.id} is missing or shorter than the "
            f"{run.committed} bytes committed ({run.rows} rows already deleted from the table): restore it, or "
            f"close the run with UPDATE bgjobs.archive_runs SET finished_at = now() WHERE id = {run.id}")
    if size is not None and size > run.committed:
        with open(run.file, "r+b") as f:
            f.truncate(run.committed)
            f.flush()
            os.fsync(f.fileno())
        report(f"{run.file}: removed {size - run.committed} bytes of a batch that was written but not "
               f"committed (its rows are still in the table)")


def _open_runs(conn, table: str) -> list[Run]:
    rows = conn.execute(
        "SELECT id, file, compressed, cutoff, bytes_committed, last_key, rows_archived, batches "
        "FROM bgjobs.archive_runs WHERE table_name = %s AND finished_at IS NULL ORDER BY id", (table,)).fetchall()
    return [Run(r[0], Path(r[1]), r[2], r[3], r[4], r[5], r[6], r[7]) for r in rows]


def _cutoff(conn, spec: Spec, older_than: timedelta | None) -> datetime:
    if older_than is not None:
        if older_than <= timedelta(0):
            raise BgjobsError("--older-than must be positive")
        return conn.execute("SELECT now() - %s::interval", (older_than,)).fetchone()[0]
    row = conn.execute("SELECT value FROM public.app_settings WHERE key = %s", (spec.setting,)).fetchone()
    text = (row[0] if row else None) or str(spec.seed_days)
    try:
        days = int(text)
    except ValueError:
        raise BgjobsError(f"app_settings {spec.setting} is not a number of days: {text!r}") from None
    if days <= 0:
        # 0 keeps the table from purge-old-logs: the rows are left for this archive, which
        # then takes them at the seeds' age
        days = spec.seed_days
    return conn.execute("SELECT now() - make_interval(days => %s)", (days,)).fetchone()[0]


def default_file(table: str, cutoff: datetime) -> Path:
    return Path.cwd() / f"{table}-before-{cutoff.astimezone(timezone.utc):%Y-%m-%d}.csv"


def archive(dsn: str, table: str, older_than: timedelta | None = None, out: Path | None = None,
            batch_size: int = DEFAULT_BATCH, report: Report = print, show_progress: bool = True) -> dict:
    """Archive one table; returns {table, file, cutoff, rows, batches, resumed_rows}."""
    if table not in TABLES:
        raise BgjobsError(f"cannot archive {table!r}: choose {' or '.join(TABLES)}{output.did_you_mean(table, TABLES)}")
    if batch_size < 1:
        raise BgjobsError("--batch-size must be at least 1")
    spec = TABLES[table]
    with connect(dsn, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('bgjobs.archive_runs')").fetchone()[0] is None:
            raise BgjobsError(f"bgjobs (with its archive ledger) is not installed in database {conn.info.dbname} "
                              f"(run bgjobs install)")
        if conn.execute("SELECT to_regclass(%s)", (f"public.{table}",)).fetchone()[0] is None:
            raise BgjobsError(f"table public.{table} does not exist in database {conn.info.dbname}")
        # one archive per table at a time: a second one would resume the same run and
        # append to the same file (session lock: held across the batches' commits)
        if not conn.execute("SELECT pg_try_advisory_lock(hashtext('bgjobs archive'), hashtext(%s))",
                            (table,)).fetchone()[0]:
            raise BgjobsError(f"another bgjobs archive of {table} is running on this database; "
                              f"wait for it (or stop it: a rerun resumes where it stopped)")
        want = out.absolute() if out is not None else None
        run = None
        for r in _open_runs(conn, table):
            _repair(r, report)
            if run is None and (want is None or want == r.file):
                run = r
                report(f"{table}: resuming interrupted archive run #{r.id} into {r.file} "
                       f"({r.rows} rows already archived, cut-off {r.cutoff:%Y-%m-%d %H:%M:%S%z})")
            else:
                conn.execute("UPDATE bgjobs.archive_runs SET finished_at = now(), updated_at = now() WHERE id = %s",
                             (r.id,))
                report(f"{table}: closed interrupted archive run #{r.id}; {r.file} holds its {r.rows} rows")
        if run is None:
            cutoff = _cutoff(conn, spec, older_than)
            path = want or default_file(table, cutoff)
            if path.exists() and path.stat().st_size > 0:
                raise BgjobsError(f"{path} exists; pass another --out (an archive file is never overwritten)")
            if not path.parent.is_dir():
                raise BgjobsError(f"--out: directory {path.parent} does not exist")
            compressed = path.name.endswith(".gz")
            try:
                path.touch()
                _fsync_dir(path)
            except OSError as exc:
                raise BgjobsError(f"cannot write {path}: {exc.strerror}") from None
            rid = conn.execute(
                "INSERT INTO bgjobs.archive_runs (table_name, file, compressed, cutoff) VALUES (%s, %s, %s, %s) "
                "RETURNING id", (table, str(path), compressed, cutoff)).fetchone()[0]
            run = Run(rid, path, compressed, cutoff, 0, None, 0, 0)
        resumed_rows = run.rows
        total = None
        if show_progress and output._isatty(sys.stderr):
            total = _count(conn, spec, run) + run.rows
        with output.progress(f"archive {table}", total) if show_progress else _null() as bar:
            bar.advance(run.rows)
            _batches(conn, spec, run, batch_size, bar)
        conn.execute("UPDATE bgjobs.archive_runs SET finished_at = now(), updated_at = now() WHERE id = %s",
                     (run.id,))
    report(f"{table}: {run.rows} rows older than {run.cutoff.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S} UTC "
           f"written to {run.file} and deleted ({run.batches} batches)")
    return {"table": table, "file": str(run.file), "cutoff": run.cutoff, "rows": run.rows, "batches": run.batches,
            "resumed_rows": resumed_rows, "run_id": run.id}


class _null:
    def __enter__(self):
        return output._NoProgress()

    def __exit__(self, *exc):
        return False


def _where(spec: Spec, run: Run, hi: list[str] | None) -> sql.Composed:
    key = sql.SQL("({})").format(sql.SQL(", ").join(map(sql.Identifier, spec.key)))
    parts = [sql.SQL("{} < {}").format(sql.Identifier(spec.time_column), sql.Literal(run.cutoff))]
    if run.last_key:
        parts.append(sql.SQL("{} > ({})").format(key, sql.SQL(", ").join(map(sql.Literal, run.last_key))))
    if hi:
        parts.append(sql.SQL("{} <= ({})").format(key, sql.SQL(", ").join(map(sql.Literal, hi))))
    return sql.SQL(" AND ").join(parts)


def _count(conn, spec: Spec, run: Run) -> int:
    return conn.execute(sql.SQL("SELECT count(*) FROM public.{} WHERE {}").format(
        sql.Identifier(spec.table), _where(spec, run, None))).fetchone()[0]


def _batches(conn: psycopg.Connection, spec: Spec, run: Run, batch_size: int, bar) -> None:
    t = sql.Identifier(spec.table)
    keys = sql.SQL(", ").join(map(sql.Identifier, spec.key))
    desc = sql.SQL(", ").join(sql.SQL("{} DESC").format(sql.Identifier(k)) for k in spec.key)
    text_keys = sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(k)) for k in spec.key)
    conn.autocommit = False
    conn.isolation_level = IsolationLevel.REPEATABLE_READ
    try:
        with open(run.file, "r+b") as f:
            while True:
                for attempt in range(RETRIES):
                    try:
                        done = _one_batch(conn, f, spec, run, batch_size, t, keys, desc, text_keys, bar)
                        break
                    except psycopg.errors.SerializationFailure:
                        conn.rollback()
                        if attempt == RETRIES - 1:
                            raise BgjobsError(f"{spec.table}: rows of a batch kept changing under the archive; "
                                              f"try again (the file holds {run.rows} committed rows)") from None
                if done:
                    return
    finally:
        if not conn.closed:
            conn.rollback()
            conn.autocommit = True


def _one_batch(conn, f, spec, run, batch_size, t, keys, desc, text_keys, bar) -> bool:
    """One batch in one transaction; True when nothing was left."""
    f.seek(run.committed)
    f.truncate()
    hi = conn.execute(sql.SQL(
        "SELECT ARRAY[{text_keys}] FROM (SELECT {keys} FROM public.{t} WHERE {w} ORDER BY {keys} LIMIT {n}) s "
        "ORDER BY {desc} LIMIT 1").format(text_keys=text_keys, keys=keys, t=t, w=_where(spec, run, None),
                                          n=sql.Literal(batch_size), desc=desc)).fetchone()
    if hi is None:
        conn.rollback()
        return True
    hi = hi[0]
    where = _where(spec, run, hi)
    header = sql.SQL("true" if run.committed == 0 else "false")
    copy_sql = sql.SQL("COPY (SELECT * FROM public.{t} WHERE {w} ORDER BY {keys}) TO STDOUT "
                       "WITH (FORMAT csv, HEADER {h})").format(t=t, w=where, keys=keys, h=header)
    cur = conn.cursor()
    sink = gzip.GzipFile(fileobj=f, mode="wb", mtime=0) if run.compressed else f
    try:
        with cur.copy(copy_sql) as copy:
            for chunk in copy:
                sink.write(chunk)
    finally:
        if run.compressed:
            sink.close()            # ends this batch's gzip member; f stays open
    written = cur.rowcount
    f.flush()
    os.fsync(f.fileno())
    size = f.tell()
    deleted = conn.execute(sql.SQL("DELETE FROM public.{t} WHERE {w}").format(t=t, w=where)).rowcount
    if deleted != written:
        conn.rollback()
        raise BgjobsError(f"{spec.table}: batch after key {run.last_key} wrote {written} rows but would delete "
                          f"{deleted}; rolled back (the file holds {run.rows} committed rows)")
    conn.execute("UPDATE bgjobs.archive_runs SET batches = batches + 1, rows_archived = rows_archived + %s, "
                 "bytes_committed = %s, last_key = %s, updated_at = now() WHERE id = %s",
                 (written, size, hi, run.id))
    try:
        conn.commit()
    except psycopg.Error as exc:
        raise BgjobsError(f"{spec.table}: commit failed: {first_line(exc)}") from None
    run.committed, run.last_key, run.rows, run.batches = size, hi, run.rows + written, run.batches + 1
    bar.advance(written)
    return False
