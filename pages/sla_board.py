"""The SLA warning board: open tickets near breach and breached, soonest due first, kept live
(polled every few seconds), with one click to the ticket and a picker to reassign it."""

from __future__ import annotations

import asyncio
import time

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action, Actor
from crm_app.components import audience_select, empty_state, sla_badge
from crm_app.layout import signed_in_page
from crm_app.services import dashboard
from crm_app.services import teams as team_service
from crm_app.services import tickets as ticket_service
from crm_app.services.dashboard import WarningRow
from crm_app.services.errors import ServiceError
from crm_app.state import AppState, chain, service_event

POLL_SECONDS = 10
PAGE_ROWS = 50  # rows shown first; each reassign picker lists every agent, so fewer is faster
MAX_LIVE_SECONDS = 8 * 3600


def _board(actor: Actor, audience: str, limit: int) -> tuple[list[WarningRow], int]:
    """The most urgent warnings of a team, an agent or everyone, and how many there are."""
    agents = team_service.audience_agent_ids(actor, audience)
    counts = dashboard.open_now(actor, agents)
    total = counts.get("near_breach", 0) + counts.get("breached", 0)
    return dashboard.warning_board(actor, limit, agents), total


class SlaBoardState(AppState):
    rows: list[WarningRow] = []
    staff: list[list[str]] = []
    refreshed: str = ""
    audience: str = team_service.EVERYONE  # "everyone", "team:<id>" or "agent:<id>"
    team_choices: list[list[str]] = []
    agent_choices: list[list[str]] = []
    limit: int = PAGE_ROWS
    warnings_total: int = 0  # near breach and breached, of the chosen team or agent
    _live: bool = False

    def _reload(self, actor: Actor) -> None:
        self.rows, self.warnings_total = _board(actor, self.audience, self.limit)
        self.refreshed = time.strftime("%H:%M:%S", time.gmtime()) + " UTC"

    @service_event
    def load(self, actor: Actor):
        self._reload(actor)
        self.staff = [[str(u), n] for u, n in ticket_service.staff_choices(actor)]
        self.team_choices, self.agent_choices = team_service.audience_pairs(actor)
        return SlaBoardState.live

    @service_event
    def set_audience(self, actor: Actor, value: str):
        self.audience = str(value)[:40]
        self.limit = PAGE_ROWS
        self._reload(actor)

    @service_event
    def show_more(self, actor: Actor):
        self.limit = min(self.limit + PAGE_ROWS, dashboard.BOARD_LIMIT)
        self._reload(actor)

    @service_event
    def reassign(self, actor: Actor, number: int, assignee_id: str):
        if not str(assignee_id).isdigit():
            return rx.toast.error("Choose someone from the list.")
        ticket_service.update_ticket(
            actor, int(number), expected_version=None, assignee_id=int(assignee_id)
        )
        self._reload(actor)
        return chain(rx.toast.success(f"#{int(number)} reassigned"))

    @rx.event(background=True)
    async def live(self):
        async with self:
            if self._live:
                return
            self._live = True
        started = time.monotonic()
        try:
            while time.monotonic() - started < MAX_LIVE_SECONDS:
                await asyncio.sleep(POLL_SECONDS)
                async with self:
                    if self.router.page.path != routes.SLA_BOARD:
                        return
                actor = await asyncio.to_thread(self.live_actor)
                if actor is None:
                    return
                async with self:
                    audience, limit = self.audience, self.limit
                try:
                    rows, total = await asyncio.to_thread(_board, actor, audience, limit)
                except ServiceError:
                    return
                async with self:
                    self.rows, self.warnings_total = rows, total
                    self.refreshed = time.strftime("%H:%M:%S", time.gmtime()) + " UTC"
        finally:
            async with self:
                self._live = False


def _row(row: WarningRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link("#", row.number, href=routes.ticket(row.number))),
        rx.table.cell(
            rx.link(
                row.subject,
                href=routes.ticket(row.number),
                max_width="24rem",
                overflow="hidden",
                text_overflow="ellipsis",
                white_space="nowrap",
                display="block",
            )
        ),
        rx.table.cell(row.priority),
        rx.table.cell(sla_badge(row.sla_state)),
        rx.table.cell(
            rx.text(row.time_left, color=rx.cond(row.minutes_left < 0, "red", ""), weight="medium")
        ),
        rx.table.cell(
            rx.el.select(
                rx.el.option(row.assignee, value=""),
                rx.foreach(SlaBoardState.staff, lambda s: rx.el.option(s[1], value=s[0])),
                value="",
                on_change=lambda value: SlaBoardState.reassign(row.number, value),
                aria_label="Reassign #" + row.number.to_string(),
                style={
                    "padding": "4px",
                    "border_radius": "6px",
                    "border": f"1px solid {rx.color('gray', 7)}",
                    "max_width": "12rem",
                },
            )
        ),
    )


@signed_in_page(
    routes.SLA_BOARD, "SLA warnings", Action.VIEW_DASHBOARDS, on_load=[SlaBoardState.load]
)
def sla_board_page() -> rx.Component:
    s = SlaBoardState
    return rx.vstack(
        rx.hstack(
            rx.heading("SLA warnings", size="6"),
            rx.badge(s.warnings_total, " tickets", variant="soft", id="board-total"),
            rx.spacer(),
            audience_select(
                s.team_choices,
                s.agent_choices,
                value=s.audience,
                on_change=s.set_audience,
                select_id="board-audience",
            ),
            rx.text("live · updated ", s.refreshed, size="1", color_scheme="gray"),
            width="100%",
            align="end",
        ),
        rx.cond(
            s.rows.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[
                            rx.table.column_header_cell(h)
                            for h in (
                                "Ticket",
                                "Subject",
                                "Priority",
                                "SLA",
                                "Time left",
                                "Assignee (reassign)",
                            )
                        ]
                    )
                ),
                rx.table.body(rx.foreach(s.rows, _row)),
                size="1",
                width="100%",
                id="sla-board",
            ),
            empty_state(
                "circle-check", "No SLA warnings", "No open ticket is near its breach or past it."
            ),
        ),
        rx.cond(
            (s.rows.length() < s.warnings_total) & (s.limit < dashboard.BOARD_LIMIT),
            rx.hstack(
                rx.text(
                    "Showing the ",
                    s.rows.length(),
                    " most urgent of ",
                    s.warnings_total,
                    size="2",
                    color_scheme="gray",
                ),
                rx.button("Show more", variant="soft", on_click=s.show_more, id="board-more"),
                align="center",
            ),
        ),
        spacing="4",
        width="100%",
        max_width="80rem",
    )
