"""First visit on an empty instance: create the first manager (like Zammad's setup wizard)."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.layout import field, form_error, public_page
from crm_app.services import accounts
from crm_app.services.errors import ServiceError
from crm_app.state import AppState


class SetupState(AppState):
    error: str = ""

    @rx.event
    def check_needed(self):
        if not accounts.needs_setup():
            return rx.redirect(routes.LOGIN)
        return None

    @rx.event
    def create_manager(self, form: dict):
        self.error = ""
        try:
            accounts.create_first_manager(form.get("email", ""), form.get("name", ""),
                                          form.get("password", ""))
            self.session_token = accounts.log_in(
                form.get("email", ""), form.get("password", ""),
                client_ip=self.router.session.client_ip, device_id=None,
            ).token
        except ServiceError as error:
            self.error = error.message
            return None
        return rx.redirect(routes.HOME)


@rx.page(route=routes.SETUP, title="Set up · Finance CRM", on_load=SetupState.check_needed)
def setup_page() -> rx.Component:
    return public_page(
        "Create the first manager",
        rx.text("This instance is new. The first account manages users, roles and SLAs.",
                color_scheme="gray"),
        rx.form(
            rx.vstack(
                field("Full name", rx.input(name="name", id="name", required=True,
                                            auto_focus=True, width="100%")),
                field("Email", rx.input(name="email", id="email", type="email", required=True,
                                        width="100%")),
                field(accounts.PASSWORD_HINT,
                      rx.input(name="password", id="password", type="password", required=True,
                               min_length=accounts.MIN_PASSWORD_LENGTH, width="100%")),
                form_error(SetupState.error),
                rx.button("Create manager and sign in", type="submit", width="100%"),
                spacing="3",
            ),
            on_submit=SetupState.create_manager,
        ),
    )
