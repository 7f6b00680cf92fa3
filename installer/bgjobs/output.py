"""What the CLI prints: typed JSON, tables that fit the terminal, colour, progress bars,
"did you mean" hints.  Terminal handling is rich's; this module only decides.

- JSON (``--json`` of every command that prints a table): numbers are numbers (numeric
  columns too), timestamps ISO-8601 with ``T``, durations seconds (a number).
- Colour only when the stream is a terminal and ``NO_COLOR`` is not set (no-color.org).
- A table on a terminal fits its width: columns are dropped lowest priority first (the
  caller's ``--wide`` shows them all).  Piped output is never cut unless ``COLUMNS`` says how
  wide to be.
- Progress bars go to stderr and only on a terminal, so piped stdout stays clean.
"""

from __future__ import annotations

import difflib
import io
import json
import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from rich.console import Console
from rich.table import Table
from rich.text import Text

GAP = 2     # spaces between table columns


# ------------------------------------------------------------------------ JSON

def jsonable(value):
    """Plain JSON types for a database value (recursively)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and value.as_tuple().exponent >= 0 else float(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return str(value)


def dumps(value) -> str:
    return json.dumps(jsonable(value), indent=2, ensure_ascii=False)


# ------------------------------------------------------------------------ terminal

def no_color() -> bool:
    return bool(os.environ.get("NO_COLOR"))


def use_color(stream=None) -> bool:
    stream = stream or sys.stdout
    return not no_color() and _isatty(stream)


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def width_for(stream=None) -> int | None:
    """Columns to fit: the terminal's; for piped output $COLUMNS if set, else no limit."""
    stream = stream or sys.stdout
    env = os.environ.get("COLUMNS", "")
    if _isatty(stream):
        return shutil.get_terminal_size((80, 24)).columns
    return int(env) if env.isdigit() and int(env) > 0 else None


def console(stream=None, width: int | None = None, color: bool | None = None) -> Console:
    stream = stream or sys.stdout
    color = use_color(stream) if color is None else color
    return Console(file=stream, width=width or 100_000, color_system="standard" if color else None,
                   force_terminal=color, no_color=not color, highlight=False, emoji=False,
                   soft_wrap=False, legacy_windows=False)


# ------------------------------------------------------------------------ tables

@dataclass(frozen=True)
class Column:
    header: str
    priority: int = 0           # 0 is never dropped; higher numbers go first when space is short
    justify: str = "left"
    wide_only: bool = False     # only with --wide


def _cell_len(cell) -> int:
    return cell.cell_len if isinstance(cell, Text) else len(str(cell))


def fit(columns: Sequence[Column], rows: Sequence[Sequence], width: int | None, wide: bool = False) -> list[int]:
    """Indexes of the columns to show: all with --wide; else the non-wide ones that fit in
    `width`, taken in priority order (a column that does not fit is skipped and a smaller,
    less important one may still fit), shown in their declared order."""
    keep = [i for i, c in enumerate(columns) if wide or not c.wide_only]
    if wide or width is None:
        return keep
    natural = {i: max([len(columns[i].header)] + [_cell_len(r[i]) for r in rows]) for i in keep}
    chosen = [i for i in keep if columns[i].priority == 0]
    used = sum(natural[i] for i in chosen) + GAP * (len(chosen) - 1)
    for i in sorted((i for i in keep if columns[i].priority > 0), key=lambda i: (columns[i].priority, i)):
        if used + GAP + natural[i] <= width:
            chosen.append(i)
            used += GAP + natural[i]
    return sorted(chosen)


def render_table(columns: Sequence[Column], rows: Sequence[Sequence], width: int | None = None,
                 wide: bool = False, color: bool = False) -> str:
    """The table as text (ANSI styles only when `color`)."""
    idx = fit(columns, rows, width, wide)
    table = Table(box=None, pad_edge=False, padding=(0, GAP // 2), show_header=True, show_edge=False,
                  header_style="bold" if color else "", expand=False)
    for i in idx:
        c = columns[i]
        table.add_column(c.header, justify=c.justify, no_wrap=True, overflow="ellipsis")
    for r in rows:
        table.add_row(*(r[i] if isinstance(r[i], Text) else Text(str(r[i])) for i in idx))
    buf = io.StringIO()
    con = console(buf, width=None if wide else width, color=color)
    con.print(table)
    return "\n".join(line.rstrip() for line in buf.getvalue().rstrip("\n").splitlines())


def styled(text: str, style: str | None) -> Text:
    return Text(text, style=style or "")


# ------------------------------------------------------------------------ progress

class _NoProgress:
    def advance(self, n: int = 1) -> None:
        pass

    def update(self, **kw) -> None:
        pass


class _RichProgress:
    def __init__(self, progress, task) -> None:
        self._p, self._t = progress, task

    def advance(self, n: int = 1) -> None:
        self._p.advance(self._t, n)

    def update(self, **kw) -> None:
        self._p.update(self._t, **kw)


@contextmanager
def progress(description: str, total: int | None, unit: str = "rows", stream=None):
    """A progress bar on stderr when stderr is a terminal; otherwise nothing is drawn."""
    stream = stream or sys.stderr
    if not _isatty(stream):
        yield _NoProgress()
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    con = Console(file=stream, color_system=None if no_color() else "standard", no_color=no_color(),
                  highlight=False)
    cols = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
            TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*cols, console=con, transient=False) as p:
        task = p.add_task(description, total=total)
        yield _RichProgress(p, task)


@contextmanager
def steps(description: str, report: Callable[[str], None]):
    """For work reported line by line (install): on a terminal, a spinner with the elapsed
    time and the current step stays at the bottom while the lines scroll above it; yields
    the report function to use.  Off a terminal, `report` unchanged."""
    if not (_isatty(sys.stdout) and _isatty(sys.stderr)):
        yield report
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    con = Console(file=sys.stderr, color_system=None if no_color() else "standard", no_color=no_color(),
                  highlight=False)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=con,
                  transient=True) as p:
        task = p.add_task(description, total=None)

        def step(line: str) -> None:
            p.console.print(line, markup=False, highlight=False, soft_wrap=True)
            p.update(task, description=f"{description}: {line[:60]}")

        yield step


# ------------------------------------------------------------------------ hints

def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """' (did you mean "x"?)' for the closest known names, or ''."""
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(f'"{c}"' for c in close) + "?)"
