"""What a signed-in user without a role sees: nothing but this."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.layout import public_page, sign_out_button
from crm_app.state import AppState


@rx.page(
    route=routes.WAITING, title="Waiting for access · Finance CRM", on_load=AppState.check_waiting
)
def waiting_page() -> rx.Component:
    return public_page(
        "Waiting for access",
        rx.callout(
            "Your account is ready, but a manager must assign you a role before you can see "
            "anything. Ask your manager, then reload this page.",
            icon="hourglass",
            id="waiting-message",
        ),
        rx.text("Signed in as ", rx.text.strong(AppState.user_email), size="2"),
        rx.hstack(
            rx.button("Check again", on_click=AppState.check_waiting, variant="soft"),
            sign_out_button(variant="outline"),
        ),
    )
