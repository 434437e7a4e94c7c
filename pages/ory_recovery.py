"""Recover a firm (Ory) account on the product's own page: ask for a code by email, then enter
it with a new password (Kratos' native recovery and settings flows)."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.auth import ory
from crm_app.components import auth_form, field, form_error
from crm_app.crypto import signed_by_app
from crm_app.layout import public_page
from crm_app.state import AppState
from pages.ory_login import _email, _password, ory_off_notice


class OryRecoveryState(AppState):
    error: str = ""
    notice: str = ""
    flow: str = ""
    ory_on: bool = False

    @rx.event
    def check(self):
        self.error = self.form_error_from_query()
        self.ory_on = ory.enabled()
        query = self.router.url.query_parameters
        notice, signature = str(query.get("notice", "")), str(query.get("sig", ""))
        self.notice = notice if notice and signed_by_app(notice, signature) else ""
        flow = str(query.get("flow", ""))
        self.flow = flow if len(flow) <= 64 and all(c.isalnum() or c == "-" for c in flow) else ""


def _ask_for_code() -> rx.Component:
    return auth_form(
        routes.API_ORY_RECOVERY,
        _email(),
        form_error(OryRecoveryState.error),
        rx.button("Send me a code", type="submit", width="100%", id="ory-send-code"),
    )


def _enter_code() -> rx.Component:
    return auth_form(
        routes.API_ORY_RECOVERY_FINISH,
        rx.callout(OryRecoveryState.notice, icon="mail-check", color_scheme="green", width="100%"),
        rx.el.input(type="hidden", name="flow", value=OryRecoveryState.flow),
        field(
            "Code from the email",
            rx.input(
                name="code",
                id="ory-code",
                required=True,
                width="100%",
                auto_complete="one-time-code",
            ),
        ),
        _password("New password (8 characters or more)", "new-password"),
        form_error(OryRecoveryState.error),
        rx.button("Set password and sign in", type="submit", width="100%", id="ory-recover"),
    )


@rx.page(
    route=routes.ORY_RECOVERY, title="Recover account · Finance CRM", on_load=OryRecoveryState.check
)
def ory_recovery_page() -> rx.Component:
    return public_page(
        "Recover your firm account",
        rx.cond(
            OryRecoveryState.ory_on,
            rx.cond(OryRecoveryState.flow != "", _enter_code(), _ask_for_code()),
            ory_off_notice(),
        ),
        rx.text(rx.link("Back to sign-in", href=routes.ORY_LOGIN), size="2"),
    )
