"""Business-time arithmetic on a calendar: "add N business minutes" and "business minutes
between", in the calendar's own time zone (so DST days are an hour shorter or longer in UTC)
and with holidays closed all day.

Every instant is timezone-aware; results are UTC. Opening hours are local wall-clock times per
weekday; a local time that does not exist (the hour skipped in spring) maps forward, as
`zoneinfo` does.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from crm_app.services.errors import InvalidInput

# How far ahead a due time is searched for: a calendar open less than this is refused.
SEARCH_DAYS = 3 * 366
_HHMM = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

Interval = tuple[time | None, time | None]  # None as the end: midnight after the day


def parse_clock(text: str, label: str) -> tuple[int, int]:
    """'09:30' -> (9, 30); '24:00' is the midnight that ends a day."""
    match = _HHMM.match((text or "").strip())
    if not match or (match.group(1) == "24" and match.group(2) != "00"):
        raise InvalidInput(f"{label}: write times as HH:MM (00:00 to 24:00).")
    return int(match.group(1)), int(match.group(2))


def check_time_zone(name: str) -> ZoneInfo:
    if not name or name not in _zones():
        raise InvalidInput(f"Unknown time zone {name!r}: use an IANA name like Europe/Zurich.")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"Unknown time zone {name!r}.") from exc


_ZONES: set[str] = set()


def _zones() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones())
        _ZONES.add("UTC")
    return _ZONES


def normalize_hours(hours: Mapping[str, Any]) -> dict[str, list[list[str]]]:
    """Validate opening hours {"0": [["09:00", "17:00"], ...], ...}: sorted, non-overlapping,
    each interval at least a minute long. Raises InvalidInput with a message for the manager."""
    result: dict[str, list[list[str]]] = {}
    for weekday in range(7):
        raw = hours.get(str(weekday)) or hours.get(weekday) or []  # type: ignore[call-overload]
        intervals: list[tuple[tuple[int, int], tuple[int, int]]] = []
        for pair in raw:
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise InvalidInput(f"{WEEKDAYS[weekday]}: each interval is [opens, closes].")
            opens = parse_clock(str(pair[0]), WEEKDAYS[weekday])
            closes = parse_clock(str(pair[1]), WEEKDAYS[weekday])
            if opens >= closes:
                raise InvalidInput(f"{WEEKDAYS[weekday]}: {pair[0]} must be before {pair[1]}.")
            intervals.append((opens, closes))
        intervals.sort()
        for (_, closes), (opens, _) in itertools.pairwise(intervals):
            if opens < closes:
                raise InvalidInput(f"{WEEKDAYS[weekday]}: opening hours overlap.")
        result[str(weekday)] = [
            [f"{o[0]:02d}:{o[1]:02d}", f"{c[0]:02d}:{c[1]:02d}"] for o, c in intervals
        ]
    if not any(result.values()):
        raise InvalidInput("A calendar must be open at least one interval a week.")
    return result


def normalize_holidays(holidays: Iterable[Any]) -> list[str]:
    days: set[date] = set()
    for value in holidays:
        text = str(value).strip()
        if not text:
            continue
        try:
            days.add(date.fromisoformat(text))
        except ValueError as exc:
            raise InvalidInput(f"Holiday {text!r}: write dates as YYYY-MM-DD.") from exc
    return [d.isoformat() for d in sorted(days)]


def _as_interval(opens: tuple[int, int], closes: tuple[int, int]) -> Interval:
    return time(*opens), (None if closes == (24, 0) else time(*closes))


@dataclass(frozen=True, eq=False)
class Calendar:
    """Opening hours in a time zone, with holidays; computes spans per local day (cached)."""

    time_zone: str
    # weekday (Monday=0) -> sorted, non-overlapping local intervals
    weekly: Mapping[int, Sequence[Interval]]
    holidays: frozenset[date] = frozenset()
    _tz: ZoneInfo = field(init=False, repr=False)
    _days: dict[date, tuple[tuple[datetime, datetime], ...]] = field(
        init=False, repr=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "_tz", ZoneInfo(self.time_zone))
        if not any(self.weekly.get(d) for d in range(7)):
            raise InvalidInput("A calendar must be open at least one interval a week.")

    @classmethod
    def from_config(
        cls, time_zone: str, hours: Mapping[str, Any], holidays: Iterable[Any] = ()
    ) -> Calendar:
        check_time_zone(time_zone)
        normalized = normalize_hours(hours)
        weekly = {
            int(day): [
                _as_interval(parse_clock(o, "opens"), parse_clock(c, "closes")) for o, c in pairs
            ]
            for day, pairs in normalized.items()
        }
        return cls(
            time_zone,
            weekly,
            frozenset(date.fromisoformat(d) for d in normalize_holidays(holidays)),
        )

    @classmethod
    def always_open(cls) -> Calendar:
        return cls("UTC", {d: [(time(0), None)] for d in range(7)})

    def spans_on(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The open intervals of local `day`, as UTC instants."""
        cached = self._days.get(day)
        if cached is not None:
            return cached
        spans: list[tuple[datetime, datetime]] = []
        if day not in self.holidays:
            for opens, closes in self.weekly.get(day.weekday(), ()):
                start = datetime.combine(day, opens or time(0), self._tz).astimezone(UTC)
                end_local = (
                    datetime.combine(day + timedelta(days=1), time(0), self._tz)
                    if closes is None
                    else datetime.combine(day, closes, self._tz)
                )
                end = end_local.astimezone(UTC)
                if end > start:
                    spans.append((start, end))
        result = tuple(spans)
        if len(self._days) > 20_000:
            self._days.clear()
        self._days[day] = result
        return result

    def _local_day(self, moment: datetime) -> date:
        return moment.astimezone(self._tz).date()

    def is_open(self, moment: datetime) -> bool:
        _aware(moment)
        return any(s <= moment < e for s, e in self.spans_on(self._local_day(moment)))

    def add_business_minutes(self, start: datetime, minutes: float) -> datetime:
        """The instant at which `minutes` of open time after `start` have passed.

        Zero minutes is `start` itself; otherwise the result lies in open time or at the end
        of an open interval (a target met exactly at closing time is due at closing time)."""
        _aware(start)
        if minutes < 0:
            raise ValueError("minutes must not be negative")
        remaining = timedelta(minutes=minutes)
        start = start.astimezone(UTC)
        if not remaining:
            return start
        day = self._local_day(start)
        for _ in range(SEARCH_DAYS):
            for span_start, span_end in self.spans_on(day):
                if span_end <= start:
                    continue
                begin = max(span_start, start)
                available = span_end - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
            day += timedelta(days=1)
        raise InvalidInput("The calendar has no open time in the next three years.")

    def business_minutes_between(self, start: datetime, end: datetime) -> float:
        """Open minutes from `start` to `end`; negative when `end` is before `start`."""
        _aware(start)
        _aware(end)
        if end < start:
            return -self.business_minutes_between(end, start)
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        total = timedelta()
        day, last = self._local_day(start), self._local_day(end)
        while day <= last:
            for span_start, span_end in self.spans_on(day):
                begin, finish = max(span_start, start), min(span_end, end)
                if finish > begin:
                    total += finish - begin
            day += timedelta(days=1)
        return total / timedelta(minutes=1)


def _aware(moment: datetime) -> None:
    if moment.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware")


def add_business_minutes(calendar: Calendar, start: datetime, minutes: float) -> datetime:
    """`calendar.add_business_minutes`: the instant `minutes` of open time after `start`."""
    return calendar.add_business_minutes(start, minutes)


def business_minutes_between(calendar: Calendar, start: datetime, end: datetime) -> float:
    """`calendar.business_minutes_between`: open minutes from `start` to `end`."""
    return calendar.business_minutes_between(start, end)


# Weekdays 09:00-18:00: the default calendar a new instance starts with.
STANDARD_HOURS: dict[str, list[list[str]]] = {
    str(d): ([["09:00", "18:00"]] if d < 5 else []) for d in range(7)
}
