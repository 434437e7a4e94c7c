"""`/portal`: the client's requests, open ones first, with status and last update; live."""

from __future__ import annotations

import asyncio
import time

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Actor
from crm_app.components import empty_state
from crm_app.services import portal as portal_service
from crm_app.services.errors import ServiceError
from crm_app.services.portal.requests import PortalTicketRow
from crm_app.state import service_event
from crm_app.timefmt import when
from pages.portal.layout import PortalBase, portal_page

LIVE_POLL_SECONDS = 5
LIVE_MAX_SECONDS = 4 * 3600
STATUS_COLOURS = {
    "new": "blue",
    "open": "blue",
    "pending": "amber",
    "resolved": "green",
    "closed": "gray",
}


def portal_status_badge(row: PortalTicketRow) -> rx.Component:
    return rx.badge(
        row.status_label,
        color_scheme=rx.match(row.status, *STATUS_COLOURS.items(), "gray"),
        variant="soft",
        class_name="portal-status",
    )


class PortalRequestsState(PortalBase):
    tickets: list[PortalTicketRow] = []
    _signature: str = ""
    _live_running: bool = False

    @service_event
    def load(self, actor: Actor):
        self.tickets = portal_service.requests.list_requests(actor)
        self._signature = portal_service.requests.list_signature(actor)
        return PortalRequestsState.live_loop

    @rx.event(background=True)
    async def live_loop(self):
        """Reload when one of the client's tickets changes (an agent answered, solved it)."""
        async with self:
            if self._live_running:
                return
            self._live_running = True
        started = time.monotonic()
        try:
            while time.monotonic() - started < LIVE_MAX_SECONDS:
                await asyncio.sleep(LIVE_POLL_SECONDS)
                async with self:
                    if self.router.page.path != routes.PORTAL:
                        return
                    seen = self._signature
                actor = await asyncio.to_thread(self.live_actor)
                if actor is None:
                    return
                try:
                    signature = await asyncio.to_thread(
                        portal_service.requests.list_signature, actor
                    )
                    if signature == seen:
                        continue
                    rows = await asyncio.to_thread(portal_service.requests.list_requests, actor)
                except ServiceError:
                    return
                async with self:
                    self.tickets, self._signature = rows, signature
        finally:
            async with self:
                self._live_running = False


def _row(ticket: PortalTicketRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.link(ticket.subject, href=routes.portal_ticket(ticket.number), weight="medium"),
            rx.text("#", ticket.number, size="1", color_scheme="gray"),
        ),
        rx.table.cell(ticket.category),
        rx.table.cell(portal_status_badge(ticket)),
        rx.table.cell(when(ticket.updated_iso, size="2")),
        class_name="portal-request",
    )


@portal_page(routes.PORTAL, "My requests", on_load=[PortalRequestsState.load])
def portal_requests_page() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text("Your requests to the firm, open ones first.", color_scheme="gray"),
            rx.spacer(),
            rx.link(
                rx.button(rx.icon("plus", size=16), "New request", id="new-request"),
                href=routes.PORTAL_NEW,
            ),
            width="100%",
            align="center",
        ),
        rx.cond(
            PortalRequestsState.tickets.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[
                            rx.table.column_header_cell(h)
                            for h in ("Request", "About", "Status", "Last update")
                        ]
                    )
                ),
                rx.table.body(rx.foreach(PortalRequestsState.tickets, _row)),
                width="100%",
                variant="surface",
                id="portal-requests",
            ),
            empty_state(
                "life-buoy",
                "No requests yet",
                "Ask us anything: open a new request, or look in the help centre first.",
            ),
        ),
        width="100%",
        spacing="4",
    )
