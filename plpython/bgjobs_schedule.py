"""Schedule math for bgjobs: fire times of a cron expression in a time zone.

Plain values in, plain values out, so the same module serves PL/Python (where the
installer embeds it) and the ``bgjobs`` command line. Needs only the standard library
and croniter (Debian's python3-croniter 1.3 is enough).

Cron grammar is pg_cron 1.4's (Vixie cron): five fields, numbers, ``*``, ranges,
``/step`` on a range or ``*``, lists, month and weekday names, weekday 0-7, and the
macros @yearly @annually @monthly @weekly @daily @midnight @hourly. No seconds field,
no @reboot, no ``L``/``W``/``#``/``?``. Day-of-month and day-of-week combine as in
Vixie cron: OR when both are restricted, AND when either field starts with ``*``.

Time zones and daylight saving, as Vixie cron documents and a DBA expects:
  * a fixed-time job (neither minute nor hour field starts with ``*``) whose local time
    does not exist (spring forward) fires once, at the end of the gap (02:00 -> 03:00);
    one whose local time occurs twice (fall back) fires once, at the first occurrence;
  * a wildcard job (minute or hour field starts with ``*``, @hourly) follows the clock:
    skipped local times are skipped, repeated local times fire again.
croniter only ever sees naive wall-clock times; its own zone handling differs between
1.3 and later versions (both were wrong on some of these days) and is not used.

All returned datetimes are timezone-aware UTC. Inputs may be aware datetimes or ISO 8601
strings (PostgreSQL's text form '2026-03-08 07:00:00+00' included); naive means UTC.
"""

import datetime as _dt
import heapq
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import CroniterBadDateError, croniter

__all__ = [
    "validate_cron",
    "validate_timezone",
    "get_zone",
    "parse_timestamp",
    "parse_interval",
    "iter_fires",
    "prev_fire",
    "next_fire",
    "max_gap",
    "is_missed",
]

UTC = _dt.timezone.utc
_MINUTE = _dt.timedelta(minutes=1)
_DAY = _dt.timedelta(days=1)
MAX_GAP_HORIZON = _dt.timedelta(days=400)

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DOWS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
# name, low, high, names (index 0 = low)
_FIELDS = (
    ("minute", 0, 59, None),
    ("hour", 0, 23, None),
    ("day-of-month", 1, 31, None),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 7, _DOWS),
)
_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    # Vixie sets no DOM/DOW star flag for @daily: both full, OR -> every day.
    "@daily": "0 0 1-31 * 0-7",
    "@midnight": "0 0 1-31 * 0-7",
    "@hourly": "0 * 1-31 * 0-7",
}
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # Feb 29 exists


# --------------------------------------------------------------------------- parsing

class _Cron:
    """A parsed expression: value sets, Vixie flags and a croniter-safe form."""

    __slots__ = ("source", "minutes", "hours", "doms", "months", "dows",
                 "wildcard", "and_days", "day_or", "every_day", "croniter_expr")


def _number(text, names, field):
    if text.isascii() and text.isdigit():
        return int(text)
    if names and text.lower() in names:
        return names.index(text.lower()) + (1 if field == "month" else 0)
    raise ValueError(f"{field} field: {text!r} is not a number" + (" or name" if names else ""))


def _parse_field(text, field, low, high, names):
    values = set()
    for item in text.split(","):
        rng, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not (step_text.isascii() and step_text.isdigit()) or int(step_text) == 0:
                raise ValueError(f"{field} field: bad step in {item!r}")
            step = int(step_text)
        if rng == "*":
            start, stop = low, high
        else:
            first, dash, last = rng.partition("-")
            if not first or (dash and not last):
                raise ValueError(f"{field} field: {item!r} is not a number, range or '*'")
            start = _number(first, names, field)
            stop = _number(last, names, field) if dash else start
            if slash and not dash:
                raise ValueError(f"{field} field: step needs a range or '*' in {item!r}"
                                 f" (pg_cron rejects it)")
        for value in (start, stop):
            if not low <= value <= high:
                raise ValueError(f"{field} field: {value} is outside {low}-{high}")
        if start > stop:
            raise ValueError(f"{field} field: range {item!r} runs backwards")
        values.update(range(start, stop + 1, step))
    return values


def _list(values, low, high):
    return "*" if values == set(range(low, high + 1)) else ",".join(map(str, sorted(values)))


def _parse(expr):
    """Parse a pg_cron 1.4 expression into a _Cron; ValueError with a reason if invalid."""
    if not isinstance(expr, str) or not expr.strip():
        raise ValueError("empty cron expression")
    text = expr.strip()
    if text.startswith("@"):
        if text in ("@reboot", "@restart"):
            raise ValueError(f"{text} is not a time schedule (it would run only at server start)")
        if text not in _MACROS:
            raise ValueError(f"unknown macro {text!r} (known: {', '.join(sorted(_MACROS))})")
        fields = _MACROS[text].split()
    else:
        fields = text.split()
        if re.fullmatch(r"\d+\s+seconds?", text, re.IGNORECASE):
            raise ValueError("'N seconds' schedules need pg_cron 1.5 or later")
        if len(fields) != 5:
            raise ValueError(f"{len(fields)} fields; pg_cron 1.4 takes exactly 5 "
                             f"(minute hour day-of-month month day-of-week), no seconds field")
    cron = _Cron()
    cron.source = text
    sets = [_parse_field(f, *spec) for f, spec in zip(fields, _FIELDS)]
    cron.minutes, cron.hours, cron.doms, cron.months, dows = sets
    cron.dows = {d % 7 for d in dows}
    cron.wildcard = fields[0].startswith("*") or fields[1].startswith("*")
    dom_full = cron.doms == set(range(1, 32))
    dow_full = cron.dows == set(range(7))
    month_full = cron.months == set(range(1, 13))
    # Vixie: AND when either day field starts with '*', else OR.
    cron.and_days = and_days = fields[2].startswith("*") or fields[4].startswith("*")
    if and_days:
        if not any(d <= _DAYS_IN_MONTH[m - 1] for m in cron.months for d in cron.doms):
            raise ValueError("day-of-month and month never coincide, so it never fires")
        every_day = dom_full and dow_full
        dom_f, dow_f, cron.day_or = _list(cron.doms, 1, 31), _list(cron.dows, 0, 6), False
    else:
        every_day = dom_full or dow_full
        if every_day:
            dom_f, dow_f, cron.day_or = "*", "*", False
        else:
            dom_f, dow_f, cron.day_or = _list(cron.doms, 1, 31), _list(cron.dows, 0, 6), True
    cron.every_day = every_day and month_full
    cron.croniter_expr = " ".join((_list(cron.minutes, 0, 59), _list(cron.hours, 0, 23),
                                   dom_f, _list(cron.months, 1, 12), dow_f))
    try:
        croniter(cron.croniter_expr, _dt.datetime(2000, 1, 1), day_or=cron.day_or)
    except Exception as exc:  # croniter's error classes differ between versions
        raise ValueError(f"croniter cannot evaluate it: {exc}") from None
    return cron


def _parse_or_raise(expr):
    """_parse, with the expression named in the error."""
    try:
        return _parse(expr)
    except ValueError as exc:
        raise ValueError(f"invalid cron expression {expr!r}: {exc}") from None


def validate_cron(expr):
    """None if ``expr`` is a schedule pg_cron 1.4 accepts and that fires, else a reason."""
    try:
        _parse_or_raise(expr)
    except ValueError as exc:
        return str(exc)
    return None


# ------------------------------------------------------------------ values in, values out

_zone_names_lower = None


def get_zone(name):
    """ZoneInfo for an IANA name; case-insensitive like PostgreSQL; None/'' mean UTC."""
    global _zone_names_lower
    if isinstance(name, _dt.tzinfo):
        return name
    if name is None or name == "":
        return ZoneInfo("UTC")
    if not isinstance(name, str):
        raise ValueError(f"time zone must be a string, not {type(name).__name__}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        pass
    if _zone_names_lower is None:
        _zone_names_lower = {n.lower(): n for n in available_timezones()}
    real = _zone_names_lower.get(name.lower())
    if real is None:
        raise ValueError(f"unknown time zone {name!r}")
    return ZoneInfo(real)


def validate_timezone(name):
    """None if ``name`` is an IANA time zone name as zoneinfo spells it, else a one-line
    reason (a wrongly cased name gets the right spelling: store names canonically)."""
    if not isinstance(name, str) or not name.strip():
        return "time zone name is empty"
    try:
        zone = get_zone(name)
    except ValueError as exc:
        return str(exc)
    if zone.key != name:
        return f"time zone {name!r} is spelled {zone.key!r}"
    return None


_SHORT_OFFSET = re.compile(r"(\d\d:\d\d(?::\d\d(?:\.\d+)?)?[+-]\d\d)$")
_FRACTION = re.compile(r"\.(\d{1,6})(?=$|[+-])")


def parse_timestamp(value):
    """Aware datetime from a datetime or ISO 8601 / PostgreSQL text; naive means UTC."""
    if isinstance(value, _dt.datetime):
        result = value
    elif isinstance(value, str):
        text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
        text = _SHORT_OFFSET.sub(r"\1:00", text)                        # '+05' (3.10)
        text = _FRACTION.sub(lambda m: "." + m.group(1).ljust(6, "0"), text)  # '.5' (3.10)
        try:
            result = _dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"not a timestamp: {value!r}") from None
    else:
        raise ValueError(f"not a timestamp: {value!r}")
    if result.tzinfo is None or result.utcoffset() is None:
        result = result.replace(tzinfo=UTC)
    return result


_INTERVAL = re.compile(
    r"^\s*(?:(?P<days>[+-]?\d+)\s+days?)?\s*"
    r"(?:(?P<sign>[+-])?(?P<h>\d+):(?P<m>\d\d)(?::(?P<s>\d\d(?:\.\d+)?))?)?\s*$")


def parse_interval(value):
    """timedelta from a timedelta, seconds (number or numeric text) or PostgreSQL interval
    text such as '00:05:00' or '1 day 02:00:00' (no months or years: no fixed length)."""
    if isinstance(value, _dt.timedelta):
        return value
    if value is not None and not isinstance(value, bool):
        text = value.strip() if isinstance(value, str) else value
        try:
            return _dt.timedelta(seconds=float(text))  # int, float, Decimal, '300'
        except (TypeError, ValueError, OverflowError):
            pass
        match = _INTERVAL.match(text) if isinstance(text, str) and text else None
        if match:
            clock = _dt.timedelta(hours=int(match.group("h") or 0),
                                  minutes=int(match.group("m") or 0),
                                  seconds=float(match.group("s") or 0))
            days = _dt.timedelta(days=int(match.group("days") or 0))
            return days + (-clock if match.group("sign") == "-" else clock)
    raise ValueError(f"not an interval: {value!r}")


# ------------------------------------------------------------------------- fire times

def _spread(zone, wall):
    """How far UTC offsets vary within two days of local time ``wall`` (0 almost always):
    the most by which nearby fires can come out of order after a DST change."""
    offsets = [(wall + k * _DAY).replace(tzinfo=zone).utcoffset() for k in (-2, -1, 0, 1, 2)]
    return max(offsets) - min(offsets)


def _gap_end(zone, wall):
    """The instant a DST gap containing nonexistent local time ``wall`` ends."""
    lo = int(wall.replace(tzinfo=zone, fold=1).timestamp())  # wall is later than this one's
    hi = int(wall.replace(tzinfo=zone, fold=0).timestamp())  # wall is earlier than this one's
    while lo + 1 < hi:
        mid = (lo + hi) // 2
        if _dt.datetime.fromtimestamp(mid, zone).replace(tzinfo=None) > wall:
            hi = mid
        else:
            lo = mid
    return _dt.datetime.fromtimestamp(hi, UTC)


def _instants(cron, zone, wall):
    """UTC instants at which a job fires for the naive local fire time ``wall``."""
    first = wall.replace(tzinfo=zone)
    instant = first.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != wall:        # skipped local time
        return [] if cron.wildcard else [_gap_end(zone, wall)]
    second = wall.replace(tzinfo=zone, fold=1)
    if second.utcoffset() != first.utcoffset() and cron.wildcard:    # repeated local time
        return [instant, second.astimezone(UTC)]
    return [instant]


def _fires(cron, zone, origin, forward):
    """Fire instants strictly after ``origin`` (forward) or at/before it, in order."""
    wall = origin.astimezone(zone).replace(tzinfo=None).replace(second=0, microsecond=0)
    margin = _MINUTE + _spread(zone, wall)   # croniter steps strictly past its start
    start = wall - margin if forward else wall + margin
    it = croniter(cron.croniter_expr, start, day_or=cron.day_or)
    advance = it.get_next if forward else it.get_prev
    sign = 1 if forward else -1
    pending = []   # heap of (sign * posix seconds, naive source, spread, instant)
    spreads = {}   # local date -> spread, so the zone is sampled once a day
    last = None
    while True:
        try:
            naive = advance(_dt.datetime)
        except CroniterBadDateError:  # croniter gives up after decades without a match
            return
        for instant in _instants(cron, zone, naive):
            if (instant > origin) if forward else (instant <= origin):
                day = naive.date()
                if day not in spreads:
                    spreads[day] = _spread(zone, naive)
                heapq.heappush(pending, (sign * instant.timestamp(), naive, spreads[day], instant))
        # The earliest pending instant is final once the naive clock has moved past its
        # source by more than the local offset spread: later fires cannot precede it.
        while pending and sign * (naive - pending[0][1]) >= pending[0][2]:
            instant = heapq.heappop(pending)[3]
            if instant != last:
                last = instant
                yield instant


def iter_fires(expr, tz, after):
    """Generator of fire instants (UTC) strictly after ``after``, in order."""
    return _fires(_parse_or_raise(expr), get_zone(tz), parse_timestamp(after), True)


def next_fire(expr, tz, at):
    """Earliest fire instant (UTC) strictly after ``at``; None if it never fires."""
    return next(iter_fires(expr, tz, at), None)


def prev_fire(expr, tz, at):
    """Latest fire instant (UTC) at or before ``at``; None if none is found."""
    cron = _parse_or_raise(expr)
    return next(_fires(cron, get_zone(tz), parse_timestamp(at), False), None)


def _transitions(zone, start, end):
    """Instants in [start, end] around which the zone's UTC offset changes (day precision)."""
    found = []
    day = start
    offset = day.astimezone(zone).utcoffset()
    while day < end:
        nxt = day + _DAY
        new = nxt.astimezone(zone).utcoffset()
        if new != offset:
            found.append(nxt)
        day, offset = nxt, new
    return found


def _day_matches(cron, day):
    if day.month not in cron.months:
        return False
    dom_ok = day.day in cron.doms
    dow_ok = day.isoweekday() % 7 in cron.dows
    return (dom_ok and dow_ok) if cron.and_days else (dom_ok or dow_ok)


def max_gap(expr, tz, start=None):
    """Largest interval between consecutive fires over about 400 days from ``start``
    (default now): the default expected interval of a job. DST days count, so a daily
    job in a zone with DST gets 25 hours. Returns a timedelta (None if it fires once).

    Local times are the same on every matching day, so the local gaps come from the
    value sets; real gaps differ only around UTC offset changes, which are walked."""
    cron = _parse_or_raise(expr)
    zone = get_zone(tz)
    start = parse_timestamp(start) if start is not None else _dt.datetime.now(UTC)
    times = sorted(h * 60 + m for h in cron.hours for m in cron.minutes)
    gaps = [b - a for a, b in zip(times, times[1:])]
    if cron.every_day and len(times) == 1440:
        return _MINUTE  # every minute, whatever the clock does
    day = start.astimezone(zone).date()
    horizon = day + MAX_GAP_HORIZON
    matched = 0
    previous = None
    while day <= horizon + _dt.timedelta(days=366 * 30):  # enough for Feb 29 jobs
        if _day_matches(cron, day):
            if previous is not None:
                gaps.append((day - previous).days * 1440 + times[0] - times[-1])
            previous = day
            matched += 1
        if day >= horizon and matched >= 2:
            break
        day += _DAY
    if not gaps:
        return None
    best = _dt.timedelta(minutes=max(gaps))
    for change in _transitions(zone, start, start + MAX_GAP_HORIZON):
        reach = best + _spread(zone, change.astimezone(zone).replace(tzinfo=None)) + _MINUTE
        previous = None
        for instant in _fires(cron, zone, change - _DAY - reach, True):
            if previous is not None and instant - previous > best:
                best = instant - previous
            if instant > change + reach:
                break
            previous = instant
    return best


def is_missed(expr, tz, last_run, as_of, grace, since=None):
    """Whether the latest due fire was missed: ``(missed, expected_at)``.

    ``expected_at`` is the latest fire at or before ``as_of - grace`` (None if none).
    It is missed when ``last_run`` is before it; with no ``last_run`` only when ``since``
    (e.g. when monitoring started) is given and is before it. ``grace`` is a timedelta,
    seconds or PostgreSQL interval text."""
    cutoff = parse_timestamp(as_of) - parse_interval(grace)
    expected = prev_fire(expr, tz, cutoff)
    if expected is None:
        return False, None
    if last_run is None:
        return (since is not None and parse_timestamp(since) < expected), expected
    return parse_timestamp(last_run) < expected, expected
