"""The ticket queue: one page at a time from SQL, a status filter, and a new-ticket dialog."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action
from crm_app.layout import empty_state, field, form_error, signed_in_page
from crm_app.services import clients as client_service
from crm_app.services import tickets as ticket_service
from crm_app.services.errors import ServiceError
from crm_app.services.tickets import TicketRow
from crm_app.state import AppState, error_toast
from models.ticket import Channel, TicketPriority

STATUS_FILTERS = ["open", "new", "pending", "resolved", "closed", "all"]
PAGE_SIZE = 25
NO_CLIENT = "— no client —"


class TicketsState(AppState):
    tickets: list[TicketRow] = []
    total: int = 0
    page: int = 1
    status_filter: str = "open"
    dialog_open: bool = False
    create_error: str = ""
    client_labels: list[str] = []
    _client_ids: dict[str, int] = {}
    new_client: str = NO_CLIENT
    new_priority: str = TicketPriority.NORMAL.value
    new_channel: str = Channel.PHONE.value

    @rx.var
    def page_count(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    @rx.event
    def load(self):
        try:
            result = ticket_service.list_tickets(self.require_actor(), status=self.status_filter,
                                                 page=self.page, page_size=PAGE_SIZE)
        except ServiceError as error:
            return error_toast(error)
        self.tickets, self.total = result.items, result.total
        return None

    @rx.event
    def set_status_filter(self, value: str):
        self.status_filter, self.page = value, 1
        return TicketsState.load

    @rx.event
    def go_to_page(self, page: int):
        self.page = min(max(1, page), self.page_count)
        return TicketsState.load

    @rx.event
    def open_dialog(self):
        try:
            choices = client_service.client_choices(self.require_actor(), limit=200)
        except ServiceError as error:
            return error_toast(error)
        self._client_ids = {label: cid for cid, label in choices}
        self.client_labels = [NO_CLIENT, *self._client_ids]
        self.create_error, self.dialog_open = "", True
        return None

    @rx.event
    def set_dialog_open(self, value: bool):
        self.dialog_open = value

    @rx.event
    def set_new_client(self, value: str):
        self.new_client = value

    @rx.event
    def set_new_priority(self, value: str):
        self.new_priority = value

    @rx.event
    def set_new_channel(self, value: str):
        self.new_channel = value

    @rx.event
    def create(self, form: dict):
        self.create_error = ""
        try:
            row = ticket_service.create_ticket(
                self.require_actor(),
                client_id=self._client_ids.get(self.new_client),
                subject=form.get("subject", ""),
                body=form.get("body", ""),
                priority=self.new_priority,
                channel=self.new_channel,
            )
        except ServiceError as error:
            self.create_error = error.message
            return None
        self.dialog_open = False
        return rx.redirect(routes.ticket(row.number))


def status_badge(status: rx.Var[str]) -> rx.Component:
    return rx.badge(
        status,
        color_scheme=rx.match(status, ("new", "blue"), ("open", "green"), ("pending", "amber"),
                              ("resolved", "gray"), ("closed", "gray"), "gray"),
        variant="soft",
    )


def priority_badge(priority: rx.Var[str]) -> rx.Component:
    return rx.badge(
        priority,
        color_scheme=rx.match(priority, ("urgent", "red"), ("high", "orange"), ("low", "gray"),
                              "blue"),
        variant="outline",
    )


def sla_badge(state: rx.Var[str]) -> rx.Component:
    return rx.match(
        state,
        ("breached", rx.badge("SLA breached", color_scheme="red")),
        ("near_breach", rx.badge("near breach", color_scheme="orange")),
        ("on_track", rx.badge("on track", color_scheme="green", variant="soft")),
        ("met", rx.badge("met", color_scheme="gray", variant="soft")),
        rx.text("—", color_scheme="gray"),
    )


def _row(ticket: TicketRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text("#", ticket.number, weight=rx.cond(ticket.is_unread, "bold",
                                                                   "regular"))),
        rx.table.cell(
            rx.link(ticket.subject, href="/tickets/" + ticket.number.to_string(),
                    weight=rx.cond(ticket.is_unread, "bold", "regular"))
        ),
        rx.table.cell(ticket.client_name),
        rx.table.cell(status_badge(ticket.status)),
        rx.table.cell(priority_badge(ticket.priority)),
        rx.table.cell(sla_badge(ticket.sla_state)),
        rx.table.cell(ticket.assignee_name),
        rx.table.cell(rx.text(ticket.created_at, size="1", color_scheme="gray")),
        class_name="ticket-row",
    )


def _new_ticket_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.trigger(
            rx.button(rx.icon("plus"), "New ticket", on_click=TicketsState.open_dialog,
                      id="new-ticket")
        ),
        rx.dialog.content(
            rx.dialog.title("New ticket"),
            rx.form(
                rx.vstack(
                    field("Client", rx.select(TicketsState.client_labels,
                                              value=TicketsState.new_client,
                                              on_change=TicketsState.set_new_client,
                                              name="client", width="100%")),
                    field("Subject", rx.input(name="subject", id="subject", required=True,
                                              max_length=300, width="100%")),
                    rx.hstack(
                        field("Priority", rx.select([p.value for p in TicketPriority],
                                                    value=TicketsState.new_priority,
                                                    on_change=TicketsState.set_new_priority,
                                                    name="priority")),
                        field("Channel", rx.select([c.value for c in Channel],
                                                   value=TicketsState.new_channel,
                                                   on_change=TicketsState.set_new_channel,
                                                   name="channel")),
                        width="100%",
                    ),
                    field("Message", rx.text_area(name="body", id="body", required=True,
                                                  rows="5", width="100%")),
                    form_error(TicketsState.create_error),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray",
                                                  type="button")),
                        rx.button("Create ticket", type="submit", id="create-ticket"),
                        justify="end",
                        width="100%",
                    ),
                    spacing="3",
                ),
                on_submit=TicketsState.create,
                reset_on_submit=False,
            ),
        ),
        open=TicketsState.dialog_open,
        on_open_change=TicketsState.set_dialog_open,
    )


def _pager() -> rx.Component:
    return rx.hstack(
        rx.text(TicketsState.total, " tickets", size="2", color_scheme="gray"),
        rx.spacer(),
        rx.button(rx.icon("chevron-left"), variant="soft", aria_label="Previous page",
                  disabled=TicketsState.page <= 1,
                  on_click=TicketsState.go_to_page(TicketsState.page - 1)),
        rx.text("Page ", TicketsState.page, " of ", TicketsState.page_count, size="2"),
        rx.button(rx.icon("chevron-right"), variant="soft", aria_label="Next page",
                  disabled=TicketsState.page >= TicketsState.page_count,
                  on_click=TicketsState.go_to_page(TicketsState.page + 1)),
        width="100%",
        align="center",
    )


@signed_in_page(routes.TICKETS, "Tickets", Action.VIEW_TICKETS, on_load=[TicketsState.load])
def tickets_page() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.select(STATUS_FILTERS, value=TicketsState.status_filter,
                      on_change=TicketsState.set_status_filter, aria_label="Status filter"),
            rx.spacer(),
            _new_ticket_dialog(),
            width="100%",
        ),
        rx.cond(
            TicketsState.tickets.length() > 0,
            rx.vstack(
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            *[rx.table.column_header_cell(h) for h in (
                                "#", "Subject", "Client", "Status", "Priority", "SLA",
                                "Assignee", "Created")]
                        )
                    ),
                    rx.table.body(rx.foreach(TicketsState.tickets, _row)),
                    width="100%",
                    variant="surface",
                ),
                _pager(),
                width="100%",
            ),
            empty_state("inbox", "No tickets here",
                        "Nothing matches this filter. Create a ticket with “New ticket”."),
        ),
        spacing="4",
        width="100%",
    )
