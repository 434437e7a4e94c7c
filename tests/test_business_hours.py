"""Business-time arithmetic: properties that must hold on any calendar, DST and holidays
included, checked with hypothesis against a minute-by-minute count of open wall-clock time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from crm_app.services.business_hours import (
    STANDARD_HOURS,
    Calendar,
    add_business_minutes,
    business_minutes_between,
    normalize_hours,
)
from crm_app.services.errors import InvalidInput

ZONES = ["UTC", "Europe/Zurich", "America/New_York", "Australia/Sydney", "Asia/Kolkata"]
MINUTE = timedelta(minutes=1)
# DST changes in the zones above, 2026: spring forward / fall back (and Sydney's reverse ones).
DST_DAYS = [
    date(2026, 3, 8),
    date(2026, 3, 29),
    date(2026, 4, 5),
    date(2026, 10, 4),
    date(2026, 10, 25),
    date(2026, 11, 1),
]

CHECKS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def weekly_hours(draw: st.DrawFn) -> dict[str, list[list[str]]]:
    """0-3 intervals per weekday on minute boundaries (some to midnight), never all closed."""
    hours: dict[str, list[list[str]]] = {}
    for weekday in range(7):
        cuts = sorted(set(draw(st.lists(st.integers(0, 24 * 60), min_size=0, max_size=6))))
        cuts = cuts[: len(cuts) // 2 * 2]
        hours[str(weekday)] = [
            [f"{a // 60:02d}:{a % 60:02d}", f"{b // 60:02d}:{b % 60:02d}"]
            for a, b in zip(cuts[::2], cuts[1::2], strict=True)
        ]
    assume(any(hours.values()))
    return hours


@st.composite
def calendars(draw: st.DrawFn) -> tuple[Calendar, dict, list[date]]:
    zone = draw(st.sampled_from(ZONES))
    hours = draw(weekly_hours())
    holidays = draw(
        st.lists(st.sampled_from(DST_DAYS + [d + timedelta(days=1) for d in DST_DAYS]), max_size=4)
    )
    return Calendar.from_config(zone, hours, [h.isoformat() for h in holidays]), hours, holidays


# Instants on minute boundaries within two days of a DST change (or anywhere in 2026).
instants = st.one_of(
    st.builds(
        lambda day, minute: datetime.combine(day, time(0), UTC) + minute * MINUTE,
        st.sampled_from(DST_DAYS),
        st.integers(-2 * 24 * 60, 2 * 24 * 60),
    ),
    st.builds(
        lambda minute: datetime(2026, 1, 1, tzinfo=UTC) + minute * MINUTE,
        st.integers(0, 365 * 24 * 60),
    ),
)
# Up to three weeks of business minutes: spans over weeks, weekends and holidays.
amounts = st.integers(0, 3 * 7 * 24 * 60)


def _open_by_wall_clock(calendar_hours: dict, holidays: list[date], zone: str, at: datetime):
    """The oracle: is the local wall-clock time of `at` inside that weekday's opening hours?"""
    local = at.astimezone(ZoneInfo(zone))
    if local.date() in holidays:
        return False
    minute = local.hour * 60 + local.minute
    for opens, closes in calendar_hours[str(local.weekday())]:
        a = int(opens[:2]) * 60 + int(opens[3:])
        b = int(closes[:2]) * 60 + int(closes[3:])
        if a <= minute < b:
            return True
    return False


def _boundaries_exist(hours: dict, zone: str, days: list[date]) -> bool:
    """True when no opening or closing time falls into a skipped (spring-forward) hour."""
    tz = ZoneInfo(zone)
    for day in days:
        for pair in hours[str(day.weekday())]:
            for clock in pair:
                if clock == "24:00":
                    continue
                local = datetime.combine(day, time(int(clock[:2]), int(clock[3:])), tz)
                if local.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != local.replace(
                    tzinfo=None
                ):
                    return False
    return True


@CHECKS
@given(calendars(), instants, amounts)
def test_minutes_between_a_start_and_its_due_time_are_the_minutes_added(cal, start, minutes):
    calendar = cal[0]
    due = add_business_minutes(calendar, start, minutes)
    assert due >= start
    assert business_minutes_between(calendar, start, due) == minutes


@CHECKS
@given(calendars(), instants, amounts, amounts)
def test_adding_in_two_steps_is_adding_the_sum(cal, start, first, second):
    calendar = cal[0]
    stepwise = add_business_minutes(calendar, add_business_minutes(calendar, start, first), second)
    assert stepwise == add_business_minutes(calendar, start, first + second)


@CHECKS
@given(calendars(), instants, amounts, amounts)
def test_more_minutes_never_give_an_earlier_due_time(cal, start, a, b):
    calendar = cal[0]
    low, high = sorted((a, b))
    assert add_business_minutes(calendar, start, low) <= add_business_minutes(calendar, start, high)


@CHECKS
@given(calendars(), instants, instants, instants)
def test_minutes_between_add_up_over_consecutive_spans(cal, a, b, c):
    calendar = cal[0]
    a, b, c = sorted((a, b, c))
    total = business_minutes_between(calendar, a, c)
    assert total == business_minutes_between(calendar, a, b) + business_minutes_between(
        calendar, b, c
    )
    assert business_minutes_between(calendar, c, a) == -total
    assert 0 <= total <= (c - a) / MINUTE


@CHECKS
@given(calendars(), instants, st.integers(1, 3 * 7 * 24 * 60))
def test_a_due_time_lies_in_open_time_or_at_a_closing_time(cal, start, minutes):
    calendar = cal[0]
    due = add_business_minutes(calendar, start, minutes)
    assert calendar.is_open(due - timedelta(microseconds=1))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calendars(), instants, st.integers(0, 3 * 24 * 60))
def test_minutes_between_match_a_wall_clock_count_across_dst_and_holidays(cal, start, span):
    calendar, hours, holidays = cal
    zone = calendar.time_zone
    end = start + span * MINUTE
    days = [
        start.astimezone(ZoneInfo(zone)).date() + timedelta(days=d)
        for d in range(-1, span // (24 * 60) + 3)
    ]
    assume(_boundaries_exist(hours, zone, days))
    expected = sum(
        _open_by_wall_clock(hours, holidays, zone, start + i * MINUTE) for i in range(span)
    )
    assert business_minutes_between(calendar, start, end) == expected


def test_spring_forward_day_is_an_hour_shorter_and_fall_back_day_an_hour_longer() -> None:
    always = {str(d): [["00:00", "24:00"]] for d in range(7)}
    zurich = Calendar.from_config("Europe/Zurich", always)
    tz = ZoneInfo("Europe/Zurich")

    def day_minutes(day: date) -> float:
        start = datetime.combine(day, time(0), tz)
        end = datetime.combine(day + timedelta(days=1), time(0), tz)
        return business_minutes_between(zurich, start, end)

    assert day_minutes(date(2026, 3, 29)) == 23 * 60
    assert day_minutes(date(2026, 10, 25)) == 25 * 60
    assert day_minutes(date(2026, 10, 26)) == 24 * 60


def test_opening_hours_follow_local_time_across_a_dst_change() -> None:
    calendar = Calendar.from_config("Europe/Zurich", STANDARD_HOURS)
    # Friday 17:00 Zurich (16:00 UTC, winter time) + 2 business hours: the weekend of the
    # change is skipped; Monday opens at 09:00 summer time = 07:00 UTC.
    friday = datetime(2026, 3, 27, 16, 0, tzinfo=UTC)
    assert add_business_minutes(calendar, friday, 120) == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)


def test_a_holiday_adds_no_business_time() -> None:
    calendar = Calendar.from_config("Europe/Zurich", STANDARD_HOURS, ["2026-12-25"])
    start = datetime(2026, 12, 24, 16, 0, tzinfo=UTC)  # 17:00 local, one hour before closing
    due = add_business_minutes(calendar, start, 120)
    assert due == datetime(2026, 12, 28, 9, 0, tzinfo=UTC)  # Fri holiday, weekend, Mon 09:00
    christmas = datetime(2026, 12, 25, 0, 0, tzinfo=UTC)
    assert business_minutes_between(calendar, christmas, christmas + timedelta(days=1)) == 0


def test_calendar_with_no_opening_hours_or_overlaps_is_refused() -> None:
    with pytest.raises(InvalidInput, match="at least one interval"):
        normalize_hours({})
    with pytest.raises(InvalidInput, match="overlap"):
        normalize_hours({"0": [["09:00", "12:00"], ["11:00", "13:00"]]})
    with pytest.raises(InvalidInput, match="before"):
        normalize_hours({"0": [["12:00", "09:00"]]})
    with pytest.raises(InvalidInput, match="time zone"):
        Calendar.from_config("Mars/Olympus", STANDARD_HOURS)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        add_business_minutes(Calendar.always_open(), datetime(2026, 1, 1), 5)
