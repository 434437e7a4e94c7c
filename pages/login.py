"""Sign in. The form posts to `/api/auth/login`, which sets the HttpOnly session cookie."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.auth import ory
from crm_app.components import auth_form, field, form_error
from crm_app.layout import public_page
from crm_app.services import accounts
from crm_app.state import AppState


class LoginState(AppState):
    error: str = ""
    ory_on: bool = False

    @rx.event
    def check(self):
        self.error = self.form_error_from_query()
        self.ory_on = ory.enabled()
        if not ory.builtin_allowed():
            return rx.redirect(routes.ORY_LOGIN)
        if accounts.needs_setup():
            return rx.redirect(routes.SETUP)
        if self.actor() is not None:
            return rx.redirect(routes.HOME)
        return None


@rx.page(route=routes.LOGIN, title="Sign in · Finance CRM", on_load=LoginState.check)
def login_page() -> rx.Component:
    return public_page(
        "Sign in",
        auth_form(
            routes.API_AUTH_LOGIN,
            field(
                "Email",
                rx.input(
                    name="email",
                    id="email",
                    type="email",
                    required=True,
                    auto_focus=True,
                    width="100%",
                    auto_complete="username",
                ),
            ),
            field(
                "Password",
                rx.input(
                    name="password",
                    id="password",
                    type="password",
                    required=True,
                    width="100%",
                    auto_complete="current-password",
                ),
            ),
            form_error(LoginState.error),
            rx.button("Sign in", type="submit", width="100%"),
        ),
        rx.link("Forgot password?", href=routes.FORGOT_PASSWORD, size="2", id="forgot-link"),
        rx.text("No account yet? ", rx.link("Create one", href=routes.SIGNUP), size="2"),
        rx.cond(
            LoginState.ory_on,
            rx.link(
                "Sign in with your firm account (Ory)",
                href=routes.ORY_LOGIN,
                size="2",
                id="ory-login-link",
            ),
        ),
    )
