"""The client profile's "Correspondence" tab: archived mail whose participants include the
client's email (or filed under the client), newest first, filterable by date. Staff only."""

from __future__ import annotations

from datetime import UTC, datetime, time

import reflex as rx

from crm_app.auth.permissions import Action, Actor
from crm_app.components import empty_state
from crm_app.services import archives
from crm_app.services.archives import CorrespondenceRow
from crm_app.services.errors import InvalidInput
from crm_app.state import AppState, service_event

PAGE_SIZE = 20


def _day(value: str, end: bool = False) -> datetime | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        day = datetime.strptime(value[:10], "%Y-%m-%d").date()
    except ValueError as bad:
        raise InvalidInput("Dates look like 2024-03-31.") from bad
    return datetime.combine(day, time.max if end else time.min, tzinfo=UTC)


class ClientCorrespondenceState(AppState):
    rows: list[CorrespondenceRow] = []
    total: int = 0
    page: int = 1
    date_from: str = ""
    date_to: str = ""
    _client_id: int = 0

    def _fetch(self, actor: Actor) -> None:
        self.rows, self.total = archives.client_correspondence(
            actor,
            self._client_id,
            date_from=_day(self.date_from),
            date_to=_day(self.date_to, end=True),
            offset=(self.page - 1) * PAGE_SIZE,
            limit=PAGE_SIZE,
        )

    @service_event
    def load(self, actor: Actor):
        from pages.client_profile.state import route_client_id

        self.rows, self.total, self.page = [], 0, 1
        self.date_from = self.date_to = ""
        if not self._can(Action.VIEW_TICKETS):
            return  # staff only: other roles never see the tab
        self._client_id = route_client_id(self.router.page.params)
        self._fetch(actor)

    @service_event
    def filter(self, actor: Actor, form: dict):
        self.date_from = str(form.get("date_from", ""))[:10]
        self.date_to = str(form.get("date_to", ""))[:10]
        self.page = 1
        self._fetch(actor)

    @service_event
    def turn(self, actor: Actor, delta: int):
        if delta not in (1, -1):
            return
        self.page = max(1, self.page + delta)
        self._fetch(actor)

    @rx.var
    def has_next(self) -> bool:
        return self.page * PAGE_SIZE < self.total


def _row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.date, size="2", white_space="nowrap")),
        rx.table.cell(
            rx.vstack(
                rx.link(row.subject, href=row.link, weight="medium", size="2"),
                rx.text(row.snippet, size="1", color_scheme="gray"),
                spacing="0",
            )
        ),
        rx.table.cell(rx.text(row.sender, size="2")),
    )


def correspondence_section() -> rx.Component:
    s = ClientCorrespondenceState
    return rx.vstack(
        rx.form(
            rx.hstack(
                rx.text("From", size="2"),
                rx.input(name="date_from", type="date", aria_label="From date", size="2"),
                rx.text("to", size="2"),
                rx.input(name="date_to", type="date", aria_label="To date", size="2"),
                rx.button("Filter", type="submit", size="2", variant="soft"),
                rx.spacer(),
                rx.text(s.total, " archived messages", size="2", color_scheme="gray"),
                align="center",
                width="100%",
            ),
            on_submit=s.filter,
            width="100%",
        ),
        rx.cond(
            s.rows.length() > 0,
            rx.vstack(
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell("Date"),
                            rx.table.column_header_cell("Subject"),
                            rx.table.column_header_cell("From"),
                        )
                    ),
                    rx.table.body(rx.foreach(s.rows, _row)),
                    width="100%",
                    id="client-correspondence",
                ),
                rx.hstack(
                    rx.button(
                        rx.icon("chevron-left"),
                        variant="soft",
                        aria_label="Previous page",
                        disabled=s.page <= 1,
                        on_click=s.turn(-1),
                    ),
                    rx.text("Page ", s.page, size="2"),
                    rx.button(
                        rx.icon("chevron-right"),
                        variant="soft",
                        aria_label="Next page",
                        disabled=~s.has_next,
                        on_click=s.turn(1),
                    ),
                    align="center",
                ),
                width="100%",
            ),
            empty_state(
                "mails",
                "No archived correspondence",
                "Messages from imported archives that involve this client's email appear here.",
            ),
        ),
        width="100%",
        spacing="3",
    )
