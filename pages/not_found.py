"""Any unknown address: a styled page inside the shell (or the public card when signed out)
with a way back, instead of Reflex's bare "404"."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.layout import public_page, shell
from crm_app.state import AppState


def _message() -> rx.Component:
    return rx.vstack(
        rx.icon("map-pin-off", size=40, color=rx.color("gray", 8)),
        rx.heading("This page does not exist", size="5", id="not-found"),
        rx.text(
            "The address ",
            rx.code(AppState.router.page.raw_path),
            " matches no page. It may have been mistyped, or the record was removed.",
            color_scheme="gray",
        ),
        rx.link(
            rx.button(rx.icon("arrow-left", size=16), "Back to your start page"), href=routes.HOME
        ),
        align="center",
        spacing="3",
        padding="3rem",
        text_align="center",
        width="100%",
    )


@rx.page(route="404", title="Page not found · Finance CRM", on_load=AppState.identify)
def not_found_page() -> rx.Component:
    return rx.cond(
        AppState.access_ok,
        shell("Page not found", _message()),
        public_page("Page not found", _message()),
    )
