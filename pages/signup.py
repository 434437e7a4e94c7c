"""Create an account. It has no role until a manager assigns one."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.auth import ory
from crm_app.components import account_fields, form_error
from crm_app.layout import public_page
from crm_app.services import accounts
from crm_app.state import AppState, service_event


class SignupState(AppState):
    error: str = ""
    notice: str = ""

    @rx.event
    def open_form(self):
        # Ory only: accounts are made on the Ory registration page (the service refuses too).
        if not ory.builtin_allowed():
            return rx.redirect(routes.ORY_REGISTER)
        return None

    @service_event(error_var="error")
    def sign_up(self, form: dict):
        self.error = self.notice = ""
        # Not signed in afterwards: the same answer whether or not the address is taken.
        accounts.sign_up(
            str(form.get("email", "")), str(form.get("name", "")), str(form.get("password", ""))
        )
        self.notice = accounts.SIGN_UP_DONE


@rx.page(route=routes.SIGNUP, title="Create account · Finance CRM", on_load=SignupState.open_form)
def signup_page() -> rx.Component:
    return public_page(
        "Create your account",
        rx.form(
            rx.vstack(
                *account_fields(),
                form_error(SignupState.error),
                rx.cond(
                    SignupState.notice != "",
                    rx.callout(
                        SignupState.notice,
                        icon="mail-check",
                        color_scheme="green",
                        role="status",
                        id="signup-notice",
                        width="100%",
                    ),
                ),
                rx.button("Create account", type="submit", width="100%"),
                spacing="3",
            ),
            on_submit=SignupState.sign_up,
        ),
        rx.text("Already have an account? ", rx.link("Sign in", href=routes.LOGIN), size="2"),
    )
