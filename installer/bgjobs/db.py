"""Connections: DSN resolution (--dsn, DATABASE_URL, libpq's PG* variables) and errors
turned into one-line reasons."""

from __future__ import annotations

import os
from urllib.parse import urlencode

import psycopg
from psycopg import conninfo as _conninfo

from .errors import BgjobsError


def resolve_dsn(dsn: str | None) -> str:
    """--dsn, else DATABASE_URL, else '' (libpq then reads PGHOST, PGDATABASE, ...)."""
    return dsn or os.environ.get("DATABASE_URL") or ""


def describe(dsn: str) -> str:
    """host:port/dbname of a DSN, without credentials (for messages)."""
    try:
        params = _conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "(unparsable DSN)"
    host = params.get("host") or os.environ.get("PGHOST") or "localhost"
    port = params.get("port") or os.environ.get("PGPORT") or "5432"
    db = params.get("dbname") or os.environ.get("PGDATABASE") or params.get("user") or os.environ.get("PGUSER") or ""
    return f"{host}:{port}/{db}"


def connect(dsn: str, dbname: str | None = None, autocommit: bool = False, **kw) -> psycopg.Connection:
    """Connect, or raise BgjobsError with one line naming the target and the reason."""
    try:
        if dbname is not None:
            dsn = _conninfo.make_conninfo(dsn, dbname=dbname)
        kw.setdefault("connect_timeout", 10)
        conn = psycopg.connect(dsn, autocommit=autocommit, application_name="bgjobs", **kw)
    except psycopg.ProgrammingError:
        # the parser's message may quote the password: never repeat it
        raise BgjobsError("invalid DSN: not a libpq connection string or URI "
                          "(check its quoting and %-escapes)") from None
    except psycopg.OperationalError as exc:
        target = describe(_conninfo.make_conninfo(dsn, dbname=dbname) if dbname else dsn)
        hint = "" if dsn else "; no DSN was given: pass --dsn or set DATABASE_URL (or libpq's PGHOST, PGDATABASE, ...)"
        raise BgjobsError(f"cannot connect to {target}: {_without(first_line(exc), dsn)}{hint}") from None
    pin_search_path(conn)
    return conn


def pin_search_path(conn: psycopg.Connection) -> None:
    """Every bgjobs session resolves names as bgjobs' functions do: pg_catalog first and no
    schema that others can create in, so an operator planted in public (a better match
    for integer / numeric than the built-in) never runs with this session's rights.
    bgjobs' own SQL names every table and function with its schema."""
    conn.execute("SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', false)")
    if not conn.autocommit:
        conn.commit()


def _without(message: str, dsn: str) -> str:
    """message with the DSN's password, if any, masked."""
    try:
        password = _conninfo.conninfo_to_dict(dsn).get("password")
    except psycopg.ProgrammingError:
        password = None
    return message.replace(password, "***") if password else message


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    for line in text.splitlines():
        line = line.strip()
        if line.lower().startswith("connection to server") and "failed:" in line:
            line = line.split("failed:", 1)[1].strip()
        if line:
            return line
    return type(exc).__name__


def yoyo_uri(conn: psycopg.Connection) -> str:
    """A yoyo URI for the connection's target: every libpq parameter (host, socket dir,
    port, user, password, sslmode, ...) goes in the query string, which yoyo passes to
    psycopg.connect unchanged."""
    params = {k: v for k, v in _conninfo.conninfo_to_dict(conn.info.dsn).items() if v not in (None, "")}
    password = conn.info.password if hasattr(conn.info, "password") else None
    if password:
        params["password"] = password
    params["dbname"] = conn.info.dbname
    params.pop("application_name", None)
    # yoyo sets search_path to this schema alone (pg_catalog stays implicitly first): its
    # history tables live in bgjobs, apart from an application's own yoyo history in public
    params["schema"] = HISTORY_SCHEMA
    return "postgresql+psycopg:///?" + urlencode(params)


HISTORY_SCHEMA = "bgjobs"
YOYO_TABLES = ("_yoyo_migration", "_yoyo_log", "_yoyo_version", "yoyo_lock")
