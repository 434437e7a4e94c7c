"""One ticket: the conversation, a reply/internal-note composer, status, and the client."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action
from crm_app.layout import empty_state, signed_in_page
from crm_app.services import tickets as ticket_service
from crm_app.services.errors import InvalidInput, ServiceError
from crm_app.services.tickets import MessageRow, TicketRow
from crm_app.state import AppState, error_toast
from models.ticket import TicketStatus
from pages.tickets import priority_badge, sla_badge, status_badge


def route_number(params: dict) -> int:
    raw = str(params.get("number", "")).strip().lstrip("#")
    if not raw.isdigit() or len(raw) > 18:
        raise InvalidInput("That is not a ticket number.")
    return int(raw)


class TicketState(AppState):
    ticket: TicketRow | None = None
    messages: list[MessageRow] = []
    client_email: str = ""
    first_response_due_at: str = ""
    resolution_due_at: str = ""
    not_found: str = ""
    draft: str = ""
    internal: bool = False

    @rx.event
    def load(self):
        self.not_found = ""
        try:
            detail = ticket_service.get_ticket(self.require_actor(),
                                               route_number(self.router.page.params))
        except ServiceError as error:
            self.ticket, self.messages, self.not_found = None, [], error.message
            return None
        self.ticket, self.messages = detail.ticket, detail.messages
        self.client_email = detail.client_email
        self.first_response_due_at = detail.first_response_due_at
        self.resolution_due_at = detail.resolution_due_at
        return None

    @rx.event
    def set_draft(self, value: str):
        self.draft = value

    @rx.event
    def set_internal(self, value: bool):
        self.internal = value

    @rx.event
    def send(self):
        if self.ticket is None:
            return None
        try:
            ticket_service.add_message(self.require_actor(), self.ticket.number, self.draft,
                                       internal=self.internal)
        except ServiceError as error:
            return error_toast(error)
        self.draft = ""
        return [TicketState.load,
                rx.toast.success("Internal note added" if self.internal else "Reply sent")]

    @rx.event
    def change_status(self, status: str):
        if self.ticket is None:
            return None
        try:
            ticket_service.change_status(self.require_actor(), self.ticket.number, status)
        except ServiceError as error:
            return error_toast(error)
        return [TicketState.load, rx.toast.success(f"Status set to {status}")]


def _message(message: MessageRow) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.icon(rx.cond(message.is_internal, "lock",
                            rx.cond(message.sender_kind == "client", "user", "headset")),
                    size=16),
            rx.text(message.author_name, weight="bold", size="2"),
            rx.cond(message.is_internal,
                    rx.badge("internal note", color_scheme="amber", variant="solid")),
            rx.badge(message.channel, variant="soft", color_scheme="gray"),
            rx.spacer(),
            rx.text(message.created_at, size="1", color_scheme="gray"),
            align="center",
            width="100%",
        ),
        rx.text(message.body_text, white_space="pre-wrap", padding_top="0.5rem"),
        padding="0.75rem 1rem",
        border_radius="8px",
        width="100%",
        class_name=rx.cond(message.is_internal, "message internal-note", "message"),
        background=rx.cond(
            message.is_internal,
            rx.color("amber", 3),
            rx.cond(message.sender_kind == "client", rx.color("gray", 3), rx.color("accent", 3)),
        ),
        border=rx.cond(message.is_internal, f"1px dashed {rx.color('amber', 8)}", "none"),
    )


def _composer() -> rx.Component:
    return rx.vstack(
        rx.segmented_control.root(
            rx.segmented_control.item("Reply to client", value="reply"),
            rx.segmented_control.item("Internal note", value="note"),
            value=rx.cond(TicketState.internal, "note", "reply"),
            on_change=lambda value: TicketState.set_internal(value == "note"),
        ),
        rx.text_area(
            value=TicketState.draft,
            on_change=TicketState.set_draft,
            placeholder=rx.cond(TicketState.internal, "Note for colleagues (never sent)…",
                                "Write your reply…"),
            rows="5",
            width="100%",
            id="composer",
        ),
        rx.hstack(
            rx.spacer(),
            rx.button(
                rx.cond(TicketState.internal, "Add internal note", "Send reply"),
                on_click=TicketState.send,
                disabled=TicketState.draft.strip() == "",
                color_scheme=rx.cond(TicketState.internal, "amber", "accent"),
                id="send",
            ),
            width="100%",
        ),
        width="100%",
        padding="1rem",
        border=f"1px solid {rx.color('gray', 5)}",
        border_radius="8px",
    )


def _sidebar(ticket: TicketRow) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text("Status", size="1", color_scheme="gray"),
            rx.select([s.value for s in TicketStatus], value=ticket.status,
                      on_change=TicketState.change_status, aria_label="Status",
                      id="status-select"),
            rx.text("Priority", size="1", color_scheme="gray"),
            priority_badge(ticket.priority),
            rx.text("SLA", size="1", color_scheme="gray"),
            sla_badge(ticket.sla_state),
            rx.text("First response due: ", TicketState.first_response_due_at, size="1"),
            rx.text("Resolution due: ", TicketState.resolution_due_at, size="1"),
            rx.divider(),
            rx.text("Client", size="1", color_scheme="gray"),
            rx.text(rx.cond(ticket.client_name != "", ticket.client_name, "No client"),
                    weight="bold"),
            rx.text(TicketState.client_email, size="2"),
            rx.text("Assignee", size="1", color_scheme="gray"),
            rx.text(rx.cond(ticket.assignee_name != "", ticket.assignee_name, "Unassigned")),
            spacing="2",
        ),
        width="18rem",
        flex_shrink="0",
    )


def _ticket(ticket: TicketRow) -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.hstack(
                rx.heading("#", ticket.number, " ", ticket.subject, size="5", id="ticket-title"),
                status_badge(ticket.status),
                align="center",
            ),
            rx.foreach(TicketState.messages, _message),
            _composer(),
            width="100%",
            spacing="3",
        ),
        _sidebar(ticket),
        align="start",
        spacing="5",
        width="100%",
    )


@signed_in_page(routes.TICKET, "Ticket", Action.VIEW_TICKETS, on_load=[TicketState.load])
def ticket_page() -> rx.Component:
    return rx.cond(
        TicketState.ticket,
        _ticket(TicketState.ticket),
        rx.cond(
            TicketState.not_found != "",
            empty_state("search-x", "Ticket not found", TicketState.not_found),
            rx.spinner(),
        ),
    )
