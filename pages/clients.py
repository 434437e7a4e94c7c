"""Clients: a searchable, filterable, sortable page of the client list; export; add a client."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action, Actor
from crm_app.components import empty_state, field, form_error, numbered_pager
from crm_app.layout import signed_in_page
from crm_app.services import client_export, currency_rates
from crm_app.services import clients as client_service
from crm_app.services.client_fields import CURRENCIES
from crm_app.services.clients import ClientRow
from crm_app.state import AppState, service_event
from models.client import ClientKind, KycStatus, RiskCategory

# Shown or hidden in the browser by the signed-in user's actions (see `AppState.may`).
CAN_EDIT_CLIENTS = AppState.may(Action.EDIT_CLIENTS)
SEES_FINANCES = AppState.may(Action.VIEW_CLIENT_FINANCES)

PAGE_SIZE = 25
ANY = "any"
# (filter key, label, kind) shown in the filter panel; finance ones only to those who may.
FILTERS = (
    ("kind", "Type", [ANY, *[k.value for k in ClientKind]]),
    ("risk_category", "Risk", [ANY, *[r.value for r in RiskCategory]]),
    ("country", "Country", None),
    ("region", "Region", None),
    ("tag", "Tag", None),
    ("marketing_consent", "Consent", [ANY, "yes", "no"]),
    ("created_at__from", "Created from", "date"),
    ("created_at__to", "Created to", "date"),
)
FINANCE_FILTERS = (
    ("kyc_status", "KYC", [ANY, *[k.value for k in KycStatus]]),
    ("net_worth__min", "Net worth ≥", "money"),
    ("net_worth__max", "Net worth ≤", "money"),
    ("aum__min", "AUM ≥", "money"),
    ("aum__max", "AUM ≤", "money"),
    ("kyc_review_due__from", "KYC review from", "date"),
    ("kyc_review_due__to", "KYC review to", "date"),
)
# The "Unverified" chip: clients made from an incoming message, waiting for an agent.
UNVERIFIED = ("verified", "no")
FILTER_KEYS = frozenset(key for key, _, _ in FILTERS + FINANCE_FILTERS) | {UNVERIFIED[0]}
MAX_FILTER_TEXT = 200
# Column key -> the field it sorts by ("" = not sortable).
SORT_KEYS = {
    "email": "email",
    "country": "country",
    "region": "region",
    "risk_category": "risk_category",
    "created_at": "created_at",
    "net_worth": "net_worth",
    "aum": "aum",
    "kyc_status": "kyc_status",
}
# Typing pauses this long before a text filter applies; Enter applies at once.
FILTER_DEBOUNCE_MS = 500


class ClientsState(AppState):
    clients: list[ClientRow] = []
    total: int = 0
    page: int = 1
    search: str = ""
    filters: dict[str, str] = {}
    sort: str = ""
    descending: bool = False
    list_error: str = ""
    dialog_open: bool = False
    create_error: str = ""
    new_risk: str = RiskCategory.MODERATE.value
    shown: list[str] = list(client_service.DEFAULT_LIST_COLUMNS)
    reporting_currency: str = "USD"
    unverified_count: int = 0

    @rx.var
    def page_count(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    @rx.var
    def unverified_only(self) -> bool:
        return self.filters.get(UNVERIFIED[0], "") == UNVERIFIED[1]

    @rx.var
    def filter_count(self) -> int:
        return sum(1 for v in self.filters.values() if v not in ("", ANY))

    def _criteria(self) -> dict:
        return {key: value for key, value in self.filters.items() if value not in ("", ANY)}

    def _list_failed(self, message: str) -> None:
        self.list_error, self.clients, self.total = message, [], 0

    @service_event(on_error="_list_failed")
    def load(self, actor: Actor):
        self.shown = client_service.list_columns(actor)
        self.reporting_currency = currency_rates.current_reporting_currency(actor)
        return ClientsState.load_page

    @service_event(on_error="_list_failed")
    def load_page(self, actor: Actor):
        result = client_service.list_clients(
            actor,
            search=self.search,
            page=self.page,
            page_size=PAGE_SIZE,
            filters=self._criteria(),
            sort=self.sort,
            descending=self.descending,
        )
        self.list_error = ""
        self.clients, self.total = result.items, result.total
        self.unverified_count = client_service.count_unverified(actor)

    @rx.event
    def set_search(self, value: str):
        self.search, self.page = str(value)[:MAX_FILTER_TEXT], 1
        return ClientsState.load_page

    @rx.event
    def set_filter(self, key: str, value: str):
        if key not in FILTER_KEYS or not isinstance(value, str):
            return None
        value = value.strip()[:MAX_FILTER_TEXT]
        if self.filters.get(key, "") == value:
            return None  # Enter after the pause already applied it: no second query
        self.filters = {**self.filters, key: value}
        self.page = 1
        return ClientsState.load_page

    @rx.event
    def toggle_unverified(self):
        key, wanted = UNVERIFIED
        self.filters = {**self.filters, key: "" if self.unverified_only else wanted}
        self.page = 1
        return ClientsState.load_page

    @rx.event
    def clear_filters(self):
        self.filters, self.search, self.page = {}, "", 1
        return ClientsState.load_page

    @service_event
    def toggle_column(self, actor: Actor, key: str, checked: bool):
        if key not in client_service.LIST_COLUMNS:
            return
        chosen = [k for k in self.shown if k != key] + ([key] if checked is True else [])
        self.shown = client_service.save_list_columns(actor, chosen)

    @rx.event
    def sort_by(self, column: str):
        if column != "name" and column not in SORT_KEYS.values():
            return None
        self.descending = not self.descending if self.sort == column else False
        self.sort, self.page = column, 1
        return ClientsState.load_page

    @rx.event
    def go_to_page(self, page: int):
        if not isinstance(page, int) or isinstance(page, bool):
            return None
        self.page = min(max(1, page), self.page_count)
        return ClientsState.load_page

    @rx.event
    def open_client(self, client_id: int):
        return rx.redirect(routes.client(client_id))

    @service_event
    def export(self, actor: Actor, fmt: str):
        data = client_export.export_clients(
            actor, fmt, search=self.search, filters=self._criteria()
        )
        return rx.download(data=data, filename=f"clients.{fmt}")

    @rx.event
    def set_dialog_open(self, value: bool):
        self.dialog_open, self.create_error = value, ""

    @rx.event
    def set_new_risk(self, value: str):
        self.new_risk = value

    @service_event(error_var="create_error")
    def create(self, actor: Actor, form: dict):
        self.create_error = ""
        row = client_service.create_client(
            actor,
            name=form.get("name", ""),
            email=form.get("email", ""),
            phone=form.get("phone", ""),
            country=form.get("country", ""),
            region=form.get("region", ""),
            risk_category=self.new_risk,
            net_worth=form.get("net_worth", ""),
            currency=form.get("currency", "") or "USD",
        )
        self.dialog_open = False
        return [
            rx.toast.success("Client added"),
            *[rx.toast.warning(w, duration=10_000) for w in row.warnings],
            rx.redirect(routes.client(row.id)),
        ]


def _header(column: str, label: str, sort_key: str) -> rx.Component:
    if not sort_key:  # same size as the sortable headers' buttons
        return rx.table.column_header_cell(rx.text(label, size="1", weight="medium"))
    arrow = rx.cond(ClientsState.sort == sort_key, rx.cond(ClientsState.descending, " ↓", " ↑"), "")
    return rx.table.column_header_cell(
        rx.button(
            label,
            arrow,
            variant="ghost",
            size="1",
            color_scheme="gray",
            high_contrast=True,
            on_click=ClientsState.sort_by(sort_key),
            aria_label=f"Sort by {label}",
        ),
    )


# One line per cell, cut with an ellipsis: a long email never widens the table.
_CLIPPED = {
    "max_width": "16rem",
    "overflow": "hidden",
    "text_overflow": "ellipsis",
    "white_space": "nowrap",
}


def _money(amount: rx.Var, converted: rx.Var) -> rx.Component:
    return rx.vstack(
        rx.text(amount, size="2", white_space="nowrap"),
        rx.cond(
            converted != "", rx.text(converted, size="1", color_scheme="gray", white_space="nowrap")
        ),
        spacing="0",
    )


def _cell(key: str, client: ClientRow) -> rx.Component:
    content = {
        "risk_category": rx.badge(client.risk_category, variant="soft"),
        "net_worth": _money(client.net_worth, client.net_worth_converted),
        "aum": _money(client.aum, client.aum_converted),
    }.get(key)
    if content is None:  # plain text: the full value on hover
        return rx.table.cell(
            getattr(client, key), style=_CLIPPED, custom_attrs={"title": getattr(client, key)}
        )
    return rx.table.cell(content, style=_CLIPPED)


def _shown(key: str) -> rx.Var[bool]:
    return ClientsState.shown.contains(key)


def _row(client: ClientRow) -> rx.Component:
    return rx.table.row(
        # The link serves keyboards and new tabs; a click elsewhere on the row opens it too.
        rx.table.cell(
            rx.link(
                client.name,
                href=routes.client(client.id),
                weight="medium",
                on_click=rx.stop_propagation,
            ),
            rx.cond(
                client.verified,
                rx.fragment(),
                rx.badge("Unverified", color_scheme="amber", margin_left="0.5rem"),
            ),
            style=_CLIPPED,
            custom_attrs={"title": client.name},
        ),
        *[rx.cond(_shown(key), _cell(key, client)) for key in client_service.LIST_COLUMNS],
        class_name="client-row",
        cursor="pointer",
        _hover={"background": rx.color("accent", 2)},
        on_click=ClientsState.open_client(client.id),
    )


def _filter_label(key: str, label: str, kind) -> rx.Component | str:
    if kind == "money":
        return rx.text(
            label, " (", ClientsState.reporting_currency, ")", size="1", color_scheme="gray"
        )
    return rx.text(label, size="1", color_scheme="gray")


def _filter_control(key: str, label: str, kind) -> rx.Component:
    value = ClientsState.filters.get(key, "")
    if isinstance(kind, list):
        control = rx.select(
            kind,
            value=rx.cond(value == "", ANY, value),
            size="1",
            on_change=lambda v: ClientsState.set_filter(key, v),
            aria_label=label,
        )
    else:
        # Controlled and debounced: applies after a short pause in typing, at once on Enter
        # (and when the field is left); dates as soon as one is picked.
        control = rx.input(
            value=value,
            size="1",
            width="9rem",
            aria_label=label,
            type="date" if kind == "date" else "text",
            input_mode="decimal" if kind == "money" else None,
            placeholder="" if kind == "date" else label,
            on_change=lambda v: ClientsState.set_filter(key, v),
            debounce_timeout=FILTER_DEBOUNCE_MS,
            class_name=f"filter-{key.replace('__', '-')}",
        )
    return rx.vstack(_filter_label(key, label, kind), control, spacing="1")


def _filters() -> rx.Component:
    return rx.flex(
        *[_filter_control(*spec) for spec in FILTERS],
        rx.cond(
            SEES_FINANCES,
            rx.flex(
                *[_filter_control(*spec) for spec in FINANCE_FILTERS], wrap="wrap", spacing="3"
            ),
        ),
        rx.button(
            "Clear",
            variant="soft",
            color_scheme="gray",
            size="1",
            on_click=ClientsState.clear_filters,
            align_self="end",
        ),
        wrap="wrap",
        spacing="3",
        padding="0.75rem",
        border=f"1px solid {rx.color('gray', 5)}",
        border_radius="8px",
        width="100%",
        id="client-filters",
    )


def _unverified_chip() -> rx.Component:
    """A quick filter with its count: clients made from an incoming message, for an agent to
    confirm or merge. Pressed, the list shows only them."""
    return rx.button(
        rx.icon("user-check", size=14),
        "Unverified",
        rx.badge(ClientsState.unverified_count, variant="solid", color_scheme="amber", size="1"),
        variant=rx.cond(ClientsState.unverified_only, "solid", "soft"),
        color_scheme="amber",
        size="1",
        on_click=ClientsState.toggle_unverified,
        aria_pressed=ClientsState.unverified_only,
        id="filter-unverified",
    )


def _column_chooser() -> rx.Component:
    def option(key: str, label: str, finance: bool) -> rx.Component:
        box = rx.checkbox(
            label,
            checked=_shown(key),
            size="2",
            on_change=lambda checked: ClientsState.toggle_column(key, checked),
            class_name=f"column-{key}",
        )
        return rx.cond(SEES_FINANCES, box) if finance else box

    return rx.popover.root(
        rx.popover.trigger(
            rx.button(rx.icon("columns-3"), "Columns", variant="soft", id="choose-columns")
        ),
        rx.popover.content(
            rx.vstack(
                rx.text(
                    "Shown on the list (the profile has everything)", size="1", color_scheme="gray"
                ),
                *[
                    option(key, label, finance)
                    for key, (label, finance) in client_service.LIST_COLUMNS.items()
                ],
                spacing="2",
            ),
            id="column-chooser",
        ),
    )


def _new_client_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.trigger(rx.button(rx.icon("user-plus"), "New client", id="new-client")),
        rx.dialog.content(
            rx.dialog.title("New client"),
            rx.form(
                rx.vstack(
                    field(
                        "Name", rx.input(name="name", id="client-name", required=True, width="100%")
                    ),
                    field(
                        "Email",
                        rx.input(name="email", id="client-email", type="email", width="100%"),
                    ),
                    rx.hstack(
                        field(
                            "Phone",
                            rx.input(
                                name="phone", id="client-phone", placeholder="+44 20 7946 0958"
                            ),
                        ),
                        field(
                            "Country",
                            rx.input(
                                name="country", id="client-country", placeholder="GB", max_length=2
                            ),
                        ),
                        width="100%",
                    ),
                    field("Region", rx.input(name="region", width="100%")),
                    rx.hstack(
                        field(
                            "Risk category",
                            rx.select(
                                [r.value for r in RiskCategory],
                                value=ClientsState.new_risk,
                                on_change=ClientsState.set_new_risk,
                            ),
                        ),
                        field(
                            "Net worth",
                            rx.input(name="net_worth", id="net-worth", input_mode="decimal"),
                        ),
                        field(
                            "Currency",
                            rx.select(list(CURRENCIES), name="currency", default_value="USD"),
                        ),
                        width="100%",
                    ),
                    form_error(ClientsState.create_error),
                    rx.hstack(
                        rx.dialog.close(
                            rx.button("Cancel", variant="soft", color_scheme="gray", type="button")
                        ),
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


def _pager() -> rx.Component:
    s = ClientsState
    return numbered_pager(
        s.total.to_string() + " clients", s.page, s.page_count, s.go_to_page, "client-total"
    )


@signed_in_page(routes.CLIENTS, "Clients", Action.VIEW_CLIENTS, on_load=[ClientsState.load])
def clients_page() -> rx.Component:
    return rx.vstack(
        rx.flex(
            rx.input(
                placeholder="Search name, email or phone…",
                value=ClientsState.search,
                on_change=ClientsState.set_search.debounce(300),
                width="20rem",
                aria_label="Search clients",
                id="client-search",
            ),
            rx.badge(ClientsState.filter_count, " filters", variant="soft"),
            _unverified_chip(),
            rx.spacer(),
            _column_chooser(),
            rx.menu.root(
                rx.menu.trigger(
                    rx.button(rx.icon("download"), "Export", variant="soft", id="export-clients")
                ),
                rx.menu.content(
                    rx.menu.item("CSV", on_click=ClientsState.export("csv")),
                    rx.menu.item("Excel (XLSX)", on_click=ClientsState.export("xlsx")),
                ),
            ),
            rx.cond(
                CAN_EDIT_CLIENTS,
                rx.link(
                    rx.button(rx.icon("copy"), "Duplicates", variant="soft", id="find-duplicates"),
                    href=routes.CLIENT_DUPLICATES,
                ),
            ),
            rx.cond(
                CAN_EDIT_CLIENTS,
                rx.link(
                    rx.button(
                        rx.icon("file-up"), "Import CSV", variant="soft", id="import-clients"
                    ),
                    href=routes.CLIENT_IMPORT,
                ),
            ),
            rx.cond(
                ClientsState.may(Action.MANAGE_CLIENT_FIELDS),
                rx.link(
                    rx.button(
                        rx.icon("list-plus"), "Custom fields", variant="soft", id="custom-fields"
                    ),
                    href=routes.CLIENT_FIELDS,
                ),
            ),
            rx.cond(
                ClientsState.may(Action.MANAGE_CURRENCY_RATES),
                rx.link(
                    rx.button(rx.icon("coins"), "Rates", variant="soft", id="currency-rates"),
                    href=routes.CURRENCY_RATES,
                ),
            ),
            rx.cond(CAN_EDIT_CLIENTS, _new_client_dialog()),
            width="100%",
            wrap="wrap",
            spacing="2",
            align="center",
        ),
        _filters(),
        form_error(ClientsState.list_error),
        rx.cond(
            ClientsState.clients.length() > 0,
            rx.vstack(
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            _header("name", "Name", "name"),
                            *[
                                rx.cond(_shown(key), _header(key, label, SORT_KEYS.get(key, "")))
                                for key, (label, _) in client_service.LIST_COLUMNS.items()
                            ],
                        )
                    ),
                    rx.table.body(rx.foreach(ClientsState.clients, _row)),
                    width="100%",
                    variant="surface",
                ),
                _pager(),
                width="100%",
            ),
            rx.cond(
                (ClientsState.filter_count > 0) | (ClientsState.search != ""),
                empty_state(
                    "search-x", "No client matches", "Change the search or clear the filters."
                ),
                empty_state(
                    "users", "No clients yet", "Add the firm's first client with “New client”."
                ),
            ),
        ),
        spacing="4",
        width="100%",
    )
