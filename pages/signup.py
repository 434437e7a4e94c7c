"""Create an account. It has no role until a manager assigns one."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.layout import field, form_error, public_page
from crm_app.services import accounts
from crm_app.services.errors import ServiceError
from crm_app.state import AppState


class SignupState(AppState):
    error: str = ""
    notice: str = ""

    @rx.event
    def sign_up(self, form: dict):
        self.error = self.notice = ""
        try:
            # Not signed in afterwards: the same answer whether or not the address is taken.
            accounts.sign_up(str(form.get("email", "")), str(form.get("name", "")),
                             str(form.get("password", "")))
        except ServiceError as error:
            self.error = error.message
            return None
        self.notice = accounts.SIGN_UP_DONE
        return None


@rx.page(route=routes.SIGNUP, title="Create account · Finance CRM")
def signup_page() -> rx.Component:
    return public_page(
        "Create your account",
        rx.form(
            rx.vstack(
                field("Full name", rx.input(name="name", id="name", required=True,
                                            auto_focus=True, width="100%")),
                field("Email", rx.input(name="email", id="email", type="email", required=True,
                                        width="100%")),
                field(accounts.PASSWORD_HINT,
                      rx.input(name="password", id="password", type="password", required=True,
                               min_length=accounts.MIN_PASSWORD_LENGTH, width="100%")),
                form_error(SignupState.error),
                rx.cond(
                    SignupState.notice != "",
                    rx.callout(SignupState.notice, icon="mail-check", color_scheme="green",
                               role="status", id="signup-notice", width="100%"),
                ),
                rx.button("Create account", type="submit", width="100%"),
                spacing="3",
            ),
            on_submit=SignupState.sign_up,
        ),
        rx.text("Already have an account? ", rx.link("Sign in", href=routes.LOGIN), size="2"),
    )
