"""Create an account. It has no role until a manager assigns one."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.layout import auth_form, field, form_error, public_page
from crm_app.services import accounts
from crm_app.state import AppState


class SignupState(AppState):
    error: str = ""

    @rx.event
    def check(self):
        self.error = self.form_error_from_query()


@rx.page(route=routes.SIGNUP, title="Create account · Finance CRM", on_load=SignupState.check)
def signup_page() -> rx.Component:
    return public_page(
        "Create your account",
        auth_form(
            routes.API_AUTH_SIGNUP,
            field("Full name", rx.input(name="name", id="name", required=True,
                                        auto_focus=True, width="100%")),
            field("Email", rx.input(name="email", id="email", type="email", required=True,
                                    width="100%")),
            field("Password (at least 10 characters)",
                  rx.input(name="password", id="password", type="password", required=True,
                           min_length=accounts.MIN_PASSWORD_LENGTH, width="100%")),
            form_error(SignupState.error),
            rx.button("Create account", type="submit", width="100%"),
        ),
        rx.text("Already have an account? ", rx.link("Sign in", href=routes.LOGIN), size="2"),
    )
