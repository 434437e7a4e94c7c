"""`/portal/settings`: how the client hears from the portal (email when the firm answers)."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Actor
from crm_app.services import portal as portal_service
from crm_app.state import service_event
from pages.portal.layout import PortalBase, portal_page


class PortalSettingsState(PortalBase):
    email_on_reply: bool = True

    @service_event
    def load(self, actor: Actor):
        self.email_on_reply = portal_service.notify.email_on_reply(actor)

    @service_event
    def set_email_on_reply(self, actor: Actor, enabled: bool):
        self.email_on_reply = portal_service.notify.set_email_on_reply(actor, enabled)
        return rx.toast.success("Saved")


@portal_page(routes.PORTAL_SETTINGS, "Settings", on_load=[PortalSettingsState.load])
def portal_settings_page() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.switch(
                    checked=PortalSettingsState.email_on_reply,
                    on_change=PortalSettingsState.set_email_on_reply,
                    id="email-on-reply",
                ),
                rx.text(
                    "Email me when the firm answers one of my requests",
                    as_="label",
                    html_for="email-on-reply",
                ),
                align="center",
            ),
            rx.text(
                "The email only says there is an answer and links here; the answer itself "
                "stays in the portal.",
                size="2",
                color_scheme="gray",
            ),
            rx.link("Change your password", href=routes.PORTAL_FORGOT, size="2"),
            spacing="3",
        ),
        max_width="40rem",
    )
