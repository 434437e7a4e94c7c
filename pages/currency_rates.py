"""Reporting currency and exchange rates (managers): money filters, sorting and segments
compare client amounts in the reporting currency at these rates; each rate shows its date."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action, Actor
from crm_app.components import empty_state, field, form_error
from crm_app.layout import signed_in_page
from crm_app.services import currency_rates
from crm_app.services.client_fields import CURRENCIES
from crm_app.services.currency_rates import RateRow
from crm_app.state import AppState, service_event


class CurrencyRatesState(AppState):
    rates: list[RateRow] = []
    reporting_currency: str = "USD"
    missing: list[str] = []
    rate_currency: str = "EUR"
    new_reporting: str = "USD"
    error: str = ""
    form_version: int = 0

    @service_event
    def load(self, actor: Actor):
        view = currency_rates.list_rates(actor)
        self.rates, self.missing = view.rates, view.missing
        self.reporting_currency = self.new_reporting = view.reporting_currency

    @rx.event
    def set_rate_currency(self, value: str):
        self.rate_currency = str(value)[:3]

    @rx.event
    def set_new_reporting(self, value: str):
        self.new_reporting = str(value)[:3]

    @service_event(error_var="error")
    def save_rate(self, actor: Actor, form: dict):
        self.error = ""
        row = currency_rates.set_rate(
            actor,
            self.rate_currency,
            form.get("rate", ""),
            form.get("as_of", ""),
            form.get("source", ""),
        )
        self.form_version += 1
        return [
            CurrencyRatesState.load,
            rx.toast.success(f"{row.currency} rate saved; {row.clients:,} clients converted"),
        ]

    @service_event
    def save_reporting(self, actor: Actor):
        code = currency_rates.set_reporting_currency(actor, self.new_reporting)
        return [CurrencyRatesState.load, rx.toast.success(f"Amounts now compared in {code}")]


def _row(row: RateRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.currency, weight="medium")),
        rx.table.cell(rx.code(row.rate)),
        rx.table.cell(
            rx.hstack(
                rx.text(row.as_of),
                rx.cond(row.stale, rx.badge("older than a week", color_scheme="amber")),
            )
        ),
        rx.table.cell(row.source),
        rx.table.cell(row.clients),
        rx.table.cell(
            rx.text(row.updated_by, " · ", row.updated_at, size="1", color_scheme="gray")
        ),
        class_name="rate-row",
    )


def _rate_form() -> rx.Component:
    s = CurrencyRatesState
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading("Set a rate", size="3"),
                rx.text(
                    "1 unit of the currency is worth this many ",
                    s.reporting_currency,
                    ".",
                    size="2",
                    color_scheme="gray",
                ),
                rx.hstack(
                    field(
                        "Currency",
                        rx.select(
                            list(CURRENCIES), value=s.rate_currency, on_change=s.set_rate_currency
                        ),
                    ),
                    field(
                        "Rate",
                        rx.input(
                            name="rate",
                            id="rate-value",
                            required=True,
                            input_mode="decimal",
                            placeholder="1.0842",
                        ),
                    ),
                    field(
                        "Rate of the day",
                        rx.input(name="as_of", id="rate-date", type="date", required=True),
                    ),
                    field(
                        "Source",
                        rx.input(name="source", id="rate-source", placeholder="ECB reference rate"),
                    ),
                    rx.button("Save rate", type="submit", id="save-rate"),
                    align="end",
                    wrap="wrap",
                ),
                form_error(s.error),
                spacing="3",
            ),
            on_submit=s.save_rate,
            key=s.form_version.to_string(),
        ),
        width="100%",
    )


@signed_in_page(
    routes.CURRENCY_RATES,
    "Exchange rates",
    Action.MANAGE_CURRENCY_RATES,
    on_load=[CurrencyRatesState.load],
)
def currency_rates_page() -> rx.Component:
    s = CurrencyRatesState
    return rx.vstack(
        rx.text(
            "Net worth and AUM filters, sorting and segments compare every client's "
            "amounts in the reporting currency at these rates; each client keeps its own "
            "currency. Changes are audited.",
            size="2",
            color_scheme="gray",
        ),
        rx.card(
            rx.hstack(
                rx.text("Reporting currency", weight="medium"),
                rx.select(
                    list(CURRENCIES),
                    value=s.new_reporting,
                    on_change=s.set_new_reporting,
                    id="reporting-currency",
                ),
                rx.button(
                    "Switch",
                    variant="soft",
                    on_click=s.save_reporting,
                    disabled=s.new_reporting == s.reporting_currency,
                    id="save-reporting-currency",
                ),
                rx.text(
                    "Switching re-expresses every rate through the new currency's rate.",
                    size="1",
                    color_scheme="gray",
                ),
                align="center",
                wrap="wrap",
            ),
            width="100%",
        ),
        rx.cond(
            s.missing.length() > 0,
            rx.callout(
                rx.text(
                    "No rate for ",
                    s.missing.join(", "),
                    ": those clients are left out of money filters until one is set.",
                ),
                icon="triangle-alert",
                color_scheme="amber",
                width="100%",
                id="missing-rates",
            ),
        ),
        _rate_form(),
        rx.cond(
            s.rates.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[
                            rx.table.column_header_cell(h)
                            for h in ("Currency", "Rate", "Date", "Source", "Clients", "Changed")
                        ]
                    )
                ),
                rx.table.body(rx.foreach(s.rates, _row)),
                width="100%",
                variant="surface",
                id="rates-table",
            ),
            empty_state(
                "coins",
                "No rates yet",
                "Clients in the reporting currency compare as they are; add a rate "
                "for each other currency your clients hold.",
            ),
        ),
        spacing="4",
        width="100%",
    )
