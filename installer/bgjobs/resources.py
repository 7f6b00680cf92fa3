"""Where the SQL, migrations and PL/Python modules are: inside the wheel
(bgjobs/_data/...) or, in a source checkout, at the repository root."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    for base in (_HERE / "_data", _HERE.parent.parent):
        if (base / name).is_dir():
            return base / name
    raise FileNotFoundError(f"bgjobs data directory {name!r} not found (broken installation?)")


def migrations_dir() -> Path:
    return data_dir("migrations")


def sql_dir() -> Path:
    return data_dir("sql")


def plpython_dir() -> Path:
    return data_dir("plpython")
