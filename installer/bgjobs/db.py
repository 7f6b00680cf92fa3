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
        return psycopg.connect(dsn, autocommit=autocommit, application_name="bgjobs", **kw)
    except psycopg.ProgrammingError as exc:
        raise BgjobsError(f"invalid DSN: {first_line(exc)}") from None
    except psycopg.OperationalError as exc:
        target = describe(_conninfo.make_conninfo(dsn, dbname=dbname) if dbname else dsn)
        hint = "" if dsn else "; no DSN was given: pass --dsn or set DATABASE_URL (or libpq's PGHOST, PGDATABASE, ...)"
        raise BgjobsError(f"cannot connect to {target}: {first_line(exc)}{hint}") from None


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
    return "postgresql+psycopg:///?" + urlencode(params)
