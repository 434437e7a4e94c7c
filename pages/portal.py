"""The client portal: a client's own tickets, and nothing else."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action, Actor
from crm_app.components import empty_state, status_badge
from crm_app.layout import signed_in_page
from crm_app.services import tickets as ticket_service
from crm_app.services.tickets import TicketRow
from crm_app.state import AppState, service_event


class PortalState(AppState):
    tickets: list[TicketRow] = []

    @service_event
    def load(self, actor: Actor):
        self.tickets = ticket_service.portal_tickets(actor)


def _row(ticket: TicketRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell("#", ticket.number),
        rx.table.cell(ticket.subject),
        rx.table.cell(status_badge(ticket.status)),
        rx.table.cell(ticket.updated_at),
    )


@signed_in_page(routes.PORTAL, "My tickets", Action.USE_PORTAL, on_load=[PortalState.load])
def portal_page() -> rx.Component:
    return rx.cond(
        PortalState.tickets.length() > 0,
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[rx.table.column_header_cell(h) for h in ("#", "Subject", "Status", "Updated")]
                )
            ),
            rx.table.body(rx.foreach(PortalState.tickets, _row)),
            width="100%",
            variant="surface",
        ),
        empty_state(
            "life-buoy",
            "No requests yet",
            "Requests you send to the firm appear here with their status.",
        ),
    )
