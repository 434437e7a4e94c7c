"""Clients: a searchable page of the client list and a form to add one."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action
from crm_app.layout import empty_state, field, form_error, signed_in_page
from crm_app.services import clients as client_service
from crm_app.services.clients import ClientRow
from crm_app.services.errors import ServiceError
from crm_app.state import AppState, error_toast
from models.client import RiskCategory

PAGE_SIZE = 25


class ClientsState(AppState):
    clients: list[ClientRow] = []
    total: int = 0
    page: int = 1
    search: str = ""
    dialog_open: bool = False
    create_error: str = ""
    new_risk: str = RiskCategory.MODERATE.value

    @rx.var
    def page_count(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    @rx.var
    def can_edit(self) -> bool:
        return self.user_role in ("manager", "agent")

    @rx.event
    def load(self):
        try:
            result = client_service.list_clients(self.require_actor(), search=self.search,
                                                 page=self.page, page_size=PAGE_SIZE)
        except ServiceError as error:
            return error_toast(error)
        self.clients, self.total = result.items, result.total
        return None

    @rx.event
    def set_search(self, value: str):
        self.search, self.page = value, 1
        return ClientsState.load

    @rx.event
    def go_to_page(self, page: int):
        self.page = min(max(1, page), self.page_count)
        return ClientsState.load

    @rx.event
    def set_dialog_open(self, value: bool):
        self.dialog_open, self.create_error = value, ""

    @rx.event
    def set_new_risk(self, value: str):
        self.new_risk = value

    @rx.event
    def create(self, form: dict):
        self.create_error = ""
        try:
            client_service.create_client(
                self.require_actor(),
                name=form.get("name", ""),
                email=form.get("email", ""),
                phone=form.get("phone", ""),
                region=form.get("region", ""),
                risk_category=self.new_risk,
                net_worth=form.get("net_worth", ""),
            )
        except ServiceError as error:
            self.create_error = error.message
            return None
        self.dialog_open = False
        return [ClientsState.load, rx.toast.success("Client added")]


def _row(client: ClientRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(client.name, weight="medium")),
        rx.table.cell(client.email),
        rx.table.cell(client.phone),
        rx.table.cell(client.region),
        rx.table.cell(rx.badge(client.risk_category, variant="soft")),
        rx.table.cell(client.net_worth),
        class_name="client-row",
    )


def _new_client_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.trigger(rx.button(rx.icon("user-plus"), "New client", id="new-client")),
        rx.dialog.content(
            rx.dialog.title("New client"),
            rx.form(
                rx.vstack(
                    field("Name", rx.input(name="name", id="client-name", required=True,
                                           width="100%")),
                    field("Email", rx.input(name="email", id="client-email", type="email",
                                            width="100%")),
                    field("Phone", rx.input(name="phone", width="100%")),
                    field("Region", rx.input(name="region", width="100%")),
                    rx.hstack(
                        field("Risk category", rx.select([r.value for r in RiskCategory],
                                                         value=ClientsState.new_risk,
                                                         on_change=ClientsState.set_new_risk)),
                        field("Net worth (USD)", rx.input(name="net_worth", id="net-worth",
                                                          input_mode="decimal")),
                        width="100%",
                    ),
                    form_error(ClientsState.create_error),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray",
                                                  type="button")),
                        rx.button("Add client", type="submit", id="create-client"),
                        justify="end",
                        width="100%",
                    ),
                    spacing="3",
                ),
                on_submit=ClientsState.create,
            ),
        ),
        open=ClientsState.dialog_open,
        on_open_change=ClientsState.set_dialog_open,
    )


@signed_in_page(routes.CLIENTS, "Clients", Action.VIEW_CLIENTS, on_load=[ClientsState.load])
def clients_page() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.input(placeholder="Search name or email…", value=ClientsState.search,
                     on_change=ClientsState.set_search.debounce(300), width="20rem",
                     aria_label="Search clients"),
            rx.spacer(),
            rx.cond(ClientsState.can_edit, _new_client_dialog()),
            width="100%",
        ),
        rx.cond(
            ClientsState.clients.length() > 0,
            rx.vstack(
                rx.table.root(
                    rx.table.header(rx.table.row(*[
                        rx.table.column_header_cell(h)
                        for h in ("Name", "Email", "Phone", "Region", "Risk", "Net worth")
                    ])),
                    rx.table.body(rx.foreach(ClientsState.clients, _row)),
                    width="100%",
                    variant="surface",
                ),
                rx.hstack(
                    rx.text(ClientsState.total, " clients", size="2", color_scheme="gray"),
                    rx.spacer(),
                    rx.button(rx.icon("chevron-left"), variant="soft", aria_label="Previous",
                              disabled=ClientsState.page <= 1,
                              on_click=ClientsState.go_to_page(ClientsState.page - 1)),
                    rx.text("Page ", ClientsState.page, " of ", ClientsState.page_count,
                            size="2"),
                    rx.button(rx.icon("chevron-right"), variant="soft", aria_label="Next",
                              disabled=ClientsState.page >= ClientsState.page_count,
                              on_click=ClientsState.go_to_page(ClientsState.page + 1)),
                    width="100%",
                    align="center",
                ),
                width="100%",
            ),
            empty_state("users", "No clients yet",
                        "Add the firm's first client with “New client”."),
        ),
        spacing="4",
        width="100%",
    )
