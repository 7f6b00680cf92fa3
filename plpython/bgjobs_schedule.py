"""Schedule math for bgjobs: fire times of a cron expression in a time zone.

The server does not run this module: its schedule math is PL/pgSQL
(sql/functions/bgjobs.cron_parse.sql and bgjobs.cron_fire.sql, the same grammar, words and
rules), so zoned jobs need no PL/Python and a new backend loads no Python. The ``bgjobs``
command line keeps it to refuse a bad schedule or zone in a settings file before it
connects (register_job checks again in the database), and the tests hold the SQL to it
(tests/test_cron_math_db.py). Plain values in, plain values out; only the standard
library (Python 3.9's zoneinfo).

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
The evaluator is this module's own, computed from the fields' value sets (matching days
of each month, then the sorted times of day), never by stepping minute by minute. It
replaced croniter, whose answers changed between versions (Debian's 1.3 gave wrong ones:
'0 0 */10 * *' after Feb 22 -> Mar 11, no previous fire for '15 22 29 2 *').
Parsed expressions are cached, so a session evaluating the same schedules parses once.

All returned datetimes are timezone-aware UTC. Inputs may be aware datetimes or ISO 8601
strings (PostgreSQL's text form '2026-03-08 07:00:00+00' included); naive means UTC.
``fire_epoch`` takes and returns epoch seconds: the SQL functions pass timestamps that
way, so no session setting (DateStyle, TimeZone) can change what the module reads.
"""

import bisect
import datetime as _dt
import decimal
import functools
import heapq
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

__all__ = [
    "fire_epoch",
    "get_zone",
    "is_missed",
    "iter_fires",
    "max_gap",
    "next_fire",
    "parse_interval",
    "parse_timestamp",
    "prev_fire",
    "validate_cron",
    "validate_timezone",
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
    """A parsed expression: value sets, Vixie flags, and the sorted forms the evaluator walks."""

    __slots__ = (
        "all_dows",
        "and_days",
        "dom_list",
        "doms",
        "dows",
        "every_day",
        "hours",
        "minutes",
        "months",
        "source",
        "times",
        "wildcard",
    )


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
    cron.and_days = fields[2].startswith("*") or fields[4].startswith("*")
    if cron.and_days:
        if not any(d <= _DAYS_IN_MONTH[m - 1] for m in cron.months for d in cron.doms):
            raise ValueError("day-of-month and month never coincide, so it never fires")
        # Every (month, day) pair that exists falls on each weekday somewhere in the
        # 400-year Gregorian cycle (Feb 29 included), so this fires within decades.
        every_day = dom_full and dow_full
    else:
        every_day = dom_full or dow_full
    cron.every_day = every_day and month_full
    cron.times = tuple(sorted(h * 60 + m for h in cron.hours for m in cron.minutes))
    cron.dom_list = tuple(sorted(cron.doms))
    cron.all_dows = dow_full
    return cron


_parse_cached = functools.lru_cache(maxsize=1024)(_parse)


def _parse_or_raise(expr):
    """_parse (cached), with the expression named in the error."""
    try:
        return _parse_cached(expr) if isinstance(expr, str) else _parse(expr)
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
    return _day_spread(zone, wall.date())


@functools.lru_cache(maxsize=4096)
def _day_spread(zone, day):
    """_spread for any time of local date ``day``: offsets sampled at the local midnights
    from three days before to three days after (a span that holds two days either side of
    any time of that day), cached per zone and date."""
    midnight = _dt.datetime(day.year, day.month, day.day, tzinfo=zone)
    offsets = [(midnight + k * _DAY).utcoffset() for k in (-3, -2, -1, 0, 1, 2, 3)]
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


def _month_days(cron, year, month):
    """Days of a month on which the expression fires, ascending (Vixie's day rule)."""
    last = _DAYS_IN_MONTH[month - 1]
    if month == 2 and not (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)):
        last = 28
    if cron.and_days and cron.all_dows:
        return [d for d in cron.dom_list if d <= last]
    shift = _dt.date(year, month, 1).isoweekday() - 1   # day d's weekday (0 = Sunday): (shift + d) % 7
    dows, doms = cron.dows, cron.doms
    if cron.and_days:
        return [d for d in cron.dom_list if d <= last and (shift + d) % 7 in dows]
    return [d for d in range(1, last + 1) if d in doms or (shift + d) % 7 in dows]


def _walls(cron, start, forward):
    """Naive local fire times strictly after (``forward``) or strictly before ``start``, in
    order: matching days month by month, then the sorted times of day. Ends at the limits
    of datetime (years 1 and 9999)."""
    times = cron.times
    base = start.replace(second=0, microsecond=0)
    minute = base.hour * 60 + base.minute
    year, month, first_day = base.year, base.month, base.day
    if forward:
        first_time = bisect.bisect_right(times, minute)              # after start's minute
        while year <= 9999:
            if month in cron.months:
                for day in _month_days(cron, year, month):
                    if day < first_day:
                        continue
                    for k in range(first_time if day == first_day else 0, len(times)):
                        yield _dt.datetime(year, month, day, times[k] // 60, times[k] % 60)
            first_day = 0
            month += 1
            if month == 13:
                year, month = year + 1, 1
    else:
        # before start: start's own minute counts when start is past it (10:14:30 -> 10:14)
        last_time = bisect.bisect_left(times, minute + (base != start))
        while year >= 1:
            if month in cron.months:
                for day in reversed(_month_days(cron, year, month)):
                    if first_day and day > first_day:
                        continue
                    for k in range((last_time if day == first_day else len(times)) - 1, -1, -1):
                        yield _dt.datetime(year, month, day, times[k] // 60, times[k] % 60)
            first_day = 0
            month -= 1
            if month == 0:
                year, month = year - 1, 12


def _fires(cron, zone, origin, forward):
    """Fire instants strictly after ``origin`` (forward) or at/before it, in order."""
    try:
        wall = origin.astimezone(zone).replace(tzinfo=None).replace(second=0, microsecond=0)
        margin = _MINUTE + _spread(zone, wall)
        start = wall - margin if forward else wall + margin
    except OverflowError:   # within two days of datetime's limits: nothing to find
        return
    sign = 1 if forward else -1
    pending = []   # heap of (sign * posix seconds, naive source, spread, instant)
    last = None
    try:
        for naive in _walls(cron, start, forward):
            for instant in _instants(cron, zone, naive):
                if (instant > origin) if forward else (instant <= origin):
                    heapq.heappush(pending, (sign * instant.timestamp(), naive,
                                             _day_spread(zone, naive.date()), instant))
            # The earliest pending instant is final once the naive clock has moved past its
            # source by more than the local offset spread: later fires cannot precede it.
            while pending and sign * (naive - pending[0][1]) >= pending[0][2]:
                instant = heapq.heappop(pending)[3]
                if instant != last:
                    last = instant
                    yield instant
    except OverflowError:   # ran into datetime's limits
        pass
    while pending:
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


_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = _dt.timedelta(seconds=1)


def _from_epoch(value):
    """Aware UTC datetime from epoch seconds (int, float, Decimal or numeric text); None for
    None, NaN, +-infinity and instants outside datetime's range."""
    if value is None or isinstance(value, bool):
        return None
    try:
        seconds = decimal.Decimal(value) if not isinstance(value, float) else decimal.Decimal(repr(value))
    except (decimal.InvalidOperation, TypeError, ValueError):
        raise ValueError(f"not epoch seconds: {value!r}") from None
    if not seconds.is_finite():
        return None
    whole = seconds.to_integral_value(rounding=decimal.ROUND_FLOOR)
    micro = int((seconds - whole) * 1000000)
    try:
        return _EPOCH + _dt.timedelta(seconds=int(whole), microseconds=micro)
    except OverflowError:
        return None


def fire_epoch(expr, tz, at, forward=True):
    """``next_fire`` (forward) or ``prev_fire`` with epoch seconds in and out: the form the
    SQL functions use (``extract(epoch ...)`` in, ``to_timestamp()`` out), so no session
    setting can change what is read. ``at`` None, NaN or infinite, or no fire within
    datetime's range: None (NULL). An invalid expression or zone raises ValueError."""
    if expr is None:
        return None
    cron = _parse_or_raise(expr)
    zone = get_zone(tz)
    origin = _from_epoch(at)
    if origin is None:
        return None
    fire = next(_fires(cron, zone, origin, bool(forward)), None)
    return None if fire is None else (fire - _EPOCH) / _SECOND


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
    last_day = _dt.date.max - _DAY
    horizon = min(day, last_day - MAX_GAP_HORIZON) + MAX_GAP_HORIZON
    before = next(_fires(cron, zone, start, False), None)   # the gap start falls in counts
    if before is not None:
        day = min(day, before.astimezone(zone).date())
    # within one Gregorian cycle (400 years) every expression fires twice: a Feb 29 that
    # is a given weekday recurs after up to 40 years
    limit = min(day, last_day - 400 * 366 * _DAY) + 400 * 366 * _DAY
    matched = 0
    previous = None
    while day <= limit:
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
