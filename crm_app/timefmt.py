"""Dates as helpdesks show them: relative ("3 hours ago") with the full date and time on hover,
in the reader's time zone — the one chosen on the profile page, else the browser's own.

    from crm_app.timefmt import when
    rx.table.cell(when(ticket.created_iso))

`when` takes an ISO 8601 time in UTC (services give rows a `…_iso` field). Rendering runs in
the browser (react-moment), so "3 hours ago" stays current without a server round trip.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from crm_app.services import preferences
from crm_app.services.errors import ServiceError
from crm_app.state import AppState

# Relative for a week ("3 hours ago", "2 days ago"), then the date ("14 Nov 2026").
RELATIVE_FOR_MS = 7 * 24 * 3600 * 1000
DATE_FORMAT = "D MMM YYYY"
FULL_FORMAT = "ddd D MMM YYYY, HH:mm [(UTC]Z[)]"


class TimeZoneState(AppState):
    """The reader's chosen zone ("" = the browser's), read once per session."""

    time_zone: str = ""
    _loaded_for: int = 0

    @rx.event
    def load_time_zone(self):
        session = self._session_id
        if not session or self._loaded_for == session:
            return
        try:
            self.time_zone = preferences.time_zone(self.actor())
        except ServiceError:
            return
        self._loaded_for = session


def _local(iso_utc: rx.Var[str] | str, size: str, class_name: str, **moment: Any) -> rx.Component:
    """`iso_utc` as the reader's zone shows it (`moment` says how), the full time on hover."""
    return rx.text(
        rx.moment(
            date=iso_utc,
            with_title=True,
            title_format=FULL_FORMAT,
            tz=TimeZoneState.time_zone,
            fallback="—",
            **moment,
        ),
        as_="span",
        size=size,
        color_scheme="gray",
        class_name=class_name,
        white_space="nowrap",
    )


def when(iso_utc: rx.Var[str] | str, *, size: str = "1") -> rx.Component:
    """A relative time with the full local date and time as its title (hover)."""
    return _local(
        iso_utc,
        size,
        "when",
        from_now=True,
        from_now_during=RELATIVE_FOR_MS,
        format=DATE_FORMAT,
    )


def local_time(iso_utc: rx.Var[str] | str, *, size: str = "1") -> rx.Component:
    """A date and time in the reader's zone ("Tue 6 Jan, 17:47"), the full one on hover: for
    instants that matter as such (a due time), where "in 3 hours" would mislead."""
    return _local(iso_utc, size, "local-time", format="ddd D MMM, HH:mm")


def clock(*, size: str = "2") -> rx.Component:
    """The time now in the reader's zone, with its offset (for the profile page)."""
    return rx.text(
        rx.moment(format="HH:mm [(UTC]Z[)]", tz=TimeZoneState.time_zone, interval=30_000),
        as_="span",
        size=size,
        id="clock",
    )
