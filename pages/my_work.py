"""An agent's own view: my open tickets by SLA time left, and my figures this week."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action, Actor
from crm_app.components import empty_state, sla_badge, stat_card
from crm_app.layout import signed_in_page
from crm_app.services import dashboard
from crm_app.services.dashboard import NO_FIGURE, WarningRow
from crm_app.services.portal import csat as csat_service
from crm_app.state import AppState, service_event


def week_figures(week: dashboard.MyWeek) -> dict[str, str]:
    """An agent's week as shown: "—" for a median or a rate over nothing measured."""
    return {
        "open_now": str(week.open_now),
        "assigned": str(week.assigned),
        "solved": str(week.solved),
        "median_first_response": dashboard.duration_text(week.median_first_response)
        if week.first_responses
        else NO_FIGURE,
        "sla_percent": dashboard.rate_text(week.sla_percent),
    }


class MyWorkState(AppState):
    tickets: list[WarningRow] = []
    week: dict[str, str] = {}

    @service_event
    def load(self, actor: Actor):
        self.tickets = dashboard.my_open_tickets(actor)
        self.week = week_figures(dashboard.my_week(actor))
        mine = csat_service.agent_figures(actor, agent_id=actor.user_id, days=30)
        self.week["csat"] = f"{mine[0].average:.1f} / 5" if mine else NO_FIGURE
        self.week["csat_hint"] = (
            f"{mine[0].ratings} ratings, last 30 days" if mine else "no ratings in 30 days"
        )


def _ticket_row(row: WarningRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link("#", row.number, href=routes.ticket(row.number))),
        rx.table.cell(
            rx.text(
                row.subject,
                max_width="28rem",
                overflow="hidden",
                text_overflow="ellipsis",
                white_space="nowrap",
            )
        ),
        rx.table.cell(row.priority),
        rx.table.cell(sla_badge(row.sla_state)),
        rx.table.cell(rx.text(row.time_left, color=rx.cond(row.minutes_left < 0, "red", ""))),
    )


@signed_in_page(routes.MY_WORK, "My work", Action.VIEW_TICKETS, on_load=[MyWorkState.load])
def my_work_page() -> rx.Component:
    m = MyWorkState
    return rx.vstack(
        rx.hstack(
            rx.heading("My work", size="6"),
            rx.spacer(),
            rx.button(rx.icon("refresh-cw", size=14), "Refresh", on_click=m.load, variant="soft"),
            width="100%",
        ),
        rx.hstack(
            stat_card("Open now", m.week["open_now"], "assigned to me"),
            stat_card("Assigned this week", m.week["assigned"], "last 7 days"),
            stat_card("Solved this week", m.week["solved"], "last 7 days"),
            stat_card("Median first response", m.week["median_first_response"], "business time"),
            stat_card("SLA met", m.week["sla_percent"], "first response, resolution"),
            stat_card("Client satisfaction", m.week["csat"], m.week["csat_hint"]),
            wrap="wrap",
            width="100%",
            id="my-week",
        ),
        rx.cond(
            m.tickets.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[
                            rx.table.column_header_cell(h)
                            for h in ("Ticket", "Subject", "Priority", "SLA", "Time left")
                        ]
                    )
                ),
                rx.table.body(rx.foreach(m.tickets, _ticket_row)),
                size="1",
                width="100%",
                id="my-tickets",
            ),
            empty_state("circle-check", "Nothing open", "No open tickets are assigned to you."),
        ),
        spacing="4",
        width="100%",
        max_width="76rem",
    )
