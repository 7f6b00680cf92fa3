"""Secrets, silences and settings from the shell (`bgjobs secret|silence|unsilence|settings`).

Everything goes through what a DBA would use in psql: set_secret() and bgjobs.list_secrets(),
silence_job() / unsilence_job() and the job_silences view, and the app_settings table
(whose values are checked against the settings spec in bgjobs.settings first, and by the
database's own checks after; a refusal is reported as the first line of its message).
"""

from __future__ import annotations

import re
from datetime import timedelta

import psycopg
from psycopg.rows import dict_row

from . import output, settings
from .db import connect, first_line
from .errors import BgjobsError


def _installed(conn, what: str = "public.app_settings") -> None:
    if conn.execute("SELECT to_regclass(%s)", (what,)).fetchone()[0] is None:
        raise BgjobsError(f"bgjobs is not installed in database {conn.info.dbname} (run bgjobs install)")


def _db_error(exc: psycopg.Error, doing: str) -> BgjobsError:
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return BgjobsError(f"{doing}: permission denied for {exc.diag.message_primary or 'this role'} "
                           f"(needs bgjobs_admin)")
    return BgjobsError(f"{doing}: {first_line(exc)}")


# ------------------------------------------------------------------------ secrets

def set_secret(dsn: str, name: str, value: str) -> None:
    if not value:
        raise BgjobsError(f"secret {name}: empty value read from stdin; nothing stored")
    with connect(dsn, autocommit=True) as conn:
        _installed(conn)
        try:
            conn.execute("SELECT public.set_secret(%s, %s)", (name, value))
        except psycopg.Error as exc:
            raise _db_error(exc, f"secret {name}") from None


def unset_secret(dsn: str, name: str) -> bool:
    with connect(dsn, autocommit=True) as conn:
        _installed(conn)
        before = {r["name"] for r in _secret_rows(conn)}
        try:
            conn.execute("SELECT public.set_secret(%s, NULL)", (name,))
        except psycopg.Error as exc:
            raise _db_error(exc, f"secret {name}") from None
        return name in before


def _secret_rows(conn) -> list[dict]:
    try:
        return conn.cursor(row_factory=dict_row).execute("SELECT name, updated_at FROM bgjobs.list_secrets()").fetchall()
    except psycopg.errors.UndefinedFunction:
        raise BgjobsError("bgjobs.list_secrets() not found: re-run bgjobs install to update this database") from None
    except psycopg.Error as exc:
        raise _db_error(exc, "secret list") from None


def list_secrets(dsn: str) -> list[dict]:
    with connect(dsn, autocommit=True) as conn:
        _installed(conn)
        return _secret_rows(conn)


# ------------------------------------------------------------------------ silences

def parse_until(until: str | None, duration: str | None) -> tuple[str, timedelta | None]:
    """--until TIMESTAMP or --for DURATION (exactly one)."""
    if bool(until) == bool(duration):
        raise BgjobsError("give exactly one of --until TIMESTAMP or --for DURATION (e.g. --for 2h)")
    if duration:
        text = duration.strip()
        m = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", text)
        try:
            d = settings.parse_interval(f"{m.group(1)} {m.group(2)}" if m else text)
        except ValueError as exc:
            raise BgjobsError(f"--for: {exc}") from None
        if d <= timedelta(0):
            raise BgjobsError("--for must be positive")
        return "", d
    return until, None


def silence(dsn: str, job: str | None, until: str | None, duration: str | None, reason: str | None) -> dict:
    until_text, d = parse_until(until, duration)
    if not reason or not reason.strip():
        raise BgjobsError("--reason is required (say why alerts are silenced)")
    with connect(dsn, autocommit=True) as conn:
        _installed(conn, "public.job_silences")
        try:
            if d is not None:
                until_ts = conn.execute("SELECT now() + %s::interval", (d,)).fetchone()[0]
            else:
                until_ts = conn.execute("SELECT %s::timestamptz", (until_text,)).fetchone()[0]
        except psycopg.errors.DataError as exc:
            raise BgjobsError(f"--until: {first_line(exc)}") from None
        try:
            sid = conn.execute("SELECT public.silence_job(%s, %s, %s)", (job, until_ts, reason)).fetchone()[0]
        except psycopg.errors.UndefinedObject as exc:
            raise BgjobsError(first_line(exc).replace("silence_job: ", "") + _job_hint(conn, job)) from None
        except psycopg.Error as exc:
            raise _db_error(exc, "silence") from None
    return {"id": sid, "job_name": job or "*", "until": until_ts, "reason": reason.strip()}


def unsilence(dsn: str, job: str | None) -> int:
    with connect(dsn, autocommit=True) as conn:
        _installed(conn, "public.job_silences")
        try:
            return conn.execute("SELECT public.unsilence_job(%s)", (job,)).fetchone()[0]
        except psycopg.Error as exc:
            raise _db_error(exc, "unsilence") from None


def job_names(conn) -> list[str]:
    try:
        return [r[0] for r in conn.execute("SELECT job_name FROM public.job_status").fetchall()]
    except psycopg.Error:
        return []


def _job_hint(conn, job: str | None) -> str:
    names = job_names(conn)
    hint = output.did_you_mean(job or "", names)
    return hint or (f" (jobs: {', '.join(names)})" if names and len(", ".join(names)) < 400 else "")


# ------------------------------------------------------------------------ settings

def show_settings(dsn: str, key: str | None = None) -> list[dict]:
    with connect(dsn, autocommit=True) as conn:
        _installed(conn)
        cur = conn.cursor(row_factory=dict_row)
        try:
            rows = cur.execute("SELECT key, value, description, updated_at FROM public.app_settings "
                               "ORDER BY key").fetchall()
        except psycopg.Error as exc:
            raise _db_error(exc, "settings") from None
    if key is None:
        return rows
    found = [r for r in rows if r["key"] == key]
    if not found:
        raise BgjobsError(unknown_key_message(key, [r["key"] for r in rows]))
    return found


def unknown_key_message(key: str, known) -> str:
    shown = key if len(key) <= 60 else key[:57] + "..."
    return f"unknown setting \"{shown}\"{output.did_you_mean(key, known)}; bgjobs settings show lists them"


def set_setting(dsn: str, key: str, value: str) -> tuple[str | None, str]:
    """Set one app_settings key; returns (old value, new value)."""
    with connect(dsn, autocommit=True) as conn:
        _installed(conn)
        known = {r[0]: r[1] for r in conn.execute("SELECT key, value FROM public.app_settings").fetchall()}
        if key not in known and key not in settings.DEFAULTS:
            raise BgjobsError(unknown_key_message(key, set(known) | set(settings.DEFAULTS)))
        if key in settings.DEFAULTS:
            try:
                value = settings.parse({key: value}, where="settings set").values[key]
            except BgjobsError as exc:
                raise BgjobsError(str(exc).replace("settings set: key ", "")) from None
        try:
            with conn.transaction():
                conn.execute(
                    "INSERT INTO public.app_settings (key, value, description) VALUES (%s, %s, %s) "
                    "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
                    (key, value, settings.DEFAULTS.get(key, ("", ""))[1]))
        except psycopg.Error as exc:
            raise _db_error(exc, f"setting {key}") from None
        return known.get(key), value

