"""First visit on an empty instance: create the first manager (like Zammad's setup wizard)."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.components import account_fields, auth_form, form_error
from crm_app.layout import public_page
from crm_app.services import accounts
from crm_app.state import AppState


class SetupState(AppState):
    error: str = ""

    @rx.event
    def check_needed(self):
        self.error = self.form_error_from_query()
        if not accounts.needs_setup():
            return rx.redirect(routes.LOGIN)
        return None


@rx.page(route=routes.SETUP, title="Set up · Finance CRM", on_load=SetupState.check_needed)
def setup_page() -> rx.Component:
    return public_page(
        "Create the first manager",
        rx.text(
            "This instance is new. The first account manages users, roles and SLAs.",
            color_scheme="gray",
        ),
        auth_form(
            routes.API_AUTH_SETUP,
            *account_fields(),
            form_error(SetupState.error),
            rx.button("Create manager and sign in", type="submit", width="100%"),
        ),
    )
