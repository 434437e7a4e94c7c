"""Sign in with the firm's Ory account, on the product's own page. The form posts to
`/api/auth/ory/login`, which runs Kratos' native login flow and sets the session cookie."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.auth import ory
from crm_app.components import auth_form, field, form_error
from crm_app.layout import public_page
from crm_app.state import AppState


class OryLoginState(AppState):
    error: str = ""
    ory_on: bool = False

    @rx.event
    def check(self):
        self.error = self.form_error_from_query()
        self.ory_on = ory.enabled()
        if self.actor() is not None:
            return rx.redirect(routes.HOME)
        return None


def ory_off_notice() -> rx.Component:
    return rx.callout(
        "Sign-in with the firm's account is not configured here.",
        icon="info",
        id="ory-off",
        width="100%",
    )


def _email() -> rx.Component:
    return field(
        "Email",
        rx.input(
            name="email",
            id="ory-email",
            type="email",
            required=True,
            auto_focus=True,
            width="100%",
            auto_complete="username",
        ),
    )


def _password(label: str = "Password", autocomplete: str = "current-password") -> rx.Component:
    return field(
        label,
        rx.input(
            name="password",
            id="ory-password",
            type="password",
            required=True,
            width="100%",
            auto_complete=autocomplete,
        ),
    )


@rx.page(route=routes.ORY_LOGIN, title="Sign in · Finance CRM", on_load=OryLoginState.check)
def ory_login_page() -> rx.Component:
    return public_page(
        "Sign in with your firm account",
        rx.cond(
            OryLoginState.ory_on,
            auth_form(
                routes.API_ORY_LOGIN,
                _email(),
                _password(),
                form_error(OryLoginState.error),
                rx.button("Sign in", type="submit", width="100%", id="ory-sign-in"),
            ),
            ory_off_notice(),
        ),
        rx.hstack(
            rx.link("Create an account", href=routes.ORY_REGISTER, size="2"),
            rx.link("Forgot your password?", href=routes.ORY_RECOVERY, size="2"),
            justify="between",
            width="100%",
        ),
    )
