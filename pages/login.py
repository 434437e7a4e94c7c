"""Sign in."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.layout import field, form_error, public_page
from crm_app.services import accounts
from crm_app.services.errors import ServiceError
from crm_app.state import AppState


class LoginState(AppState):
    error: str = ""

    @rx.event
    def check(self):
        if accounts.needs_setup():
            return rx.redirect(routes.SETUP)
        if self.actor() is not None:
            return rx.redirect(routes.HOME)
        return None

    @rx.event
    def log_in(self, form: dict):
        self.error = ""
        try:
            self.session_token = accounts.log_in(form.get("email", ""), form.get("password", ""))
        except ServiceError as error:
            self.error = error.message
            return None
        return rx.redirect(routes.HOME)


@rx.page(route=routes.LOGIN, title="Sign in · Finance CRM", on_load=LoginState.check)
def login_page() -> rx.Component:
    return public_page(
        "Sign in",
        rx.form(
            rx.vstack(
                field("Email", rx.input(name="email", id="email", type="email", required=True,
                                        auto_focus=True, width="100%")),
                field("Password", rx.input(name="password", id="password", type="password",
                                           required=True, width="100%")),
                form_error(LoginState.error),
                rx.button("Sign in", type="submit", width="100%"),
                spacing="3",
            ),
            on_submit=LoginState.log_in,
        ),
        rx.text("No account yet? ", rx.link("Create one", href=routes.SIGNUP), size="2"),
    )
