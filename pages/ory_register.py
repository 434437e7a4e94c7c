"""Create an account in the firm's Ory, on the product's own page (Kratos' native
registration flow); the new local user has no role until a manager assigns one."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.components import auth_form, field, form_error
from crm_app.layout import public_page
from pages.ory_login import OryLoginState, _email, _password, ory_off_notice


@rx.page(
    route=routes.ORY_REGISTER, title="Create account · Finance CRM", on_load=OryLoginState.check
)
def ory_register_page() -> rx.Component:
    return public_page(
        "Create your firm account",
        rx.cond(
            OryLoginState.ory_on,
            auth_form(
                routes.API_ORY_REGISTER,
                field(
                    "Name",
                    rx.input(name="name", id="ory-name", required=True, width="100%"),
                ),
                _email(),
                _password("Password (8 characters or more)", "new-password"),
                form_error(OryLoginState.error),
                rx.button("Create account", type="submit", width="100%", id="ory-register"),
            ),
            ory_off_notice(),
        ),
        rx.text("Already have an account? ", rx.link("Sign in", href=routes.ORY_LOGIN), size="2"),
    )
