"""`/profile`: the signed-in person's own settings — the time zone dates are shown in."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Actor
from crm_app.components import field
from crm_app.layout import shell
from crm_app.services import accounts, preferences
from crm_app.state import service_event
from crm_app.timefmt import TimeZoneState, clock
from pages.profile_tokens import ProfileTokensState, api_tokens_section

BROWSER_ZONE = ""  # the option value meaning "follow the browser"


class ProfileState(TimeZoneState):
    zone_choice: str = BROWSER_ZONE

    @rx.var(cache=True)
    def zone_names(self) -> list[str]:
        return list(preferences.time_zone_names())

    @service_event
    def load(self):
        """Any signed-in person with a role may open their own profile."""
        self.access_ok = False
        actor = self.actor()
        self._remember(actor)
        if actor is None:
            return rx.redirect(routes.SETUP if accounts.needs_setup() else routes.LOGIN)
        if not actor.role:
            return rx.redirect(routes.WAITING)
        self.time_zone = self.zone_choice = preferences.time_zone(actor)
        self.access_ok = True
        return None

    @rx.event
    def choose_zone(self, name: str):
        self.zone_choice = str(name or "")[:64]

    @service_event
    def save(self, actor: Actor):
        self.time_zone = preferences.set_time_zone(actor, self.zone_choice)
        return rx.toast.success(
            "Times now show in " + (self.time_zone or "your browser's time zone")
        )


def _zone_select() -> rx.Component:
    # A native select: a few hundred zones, with the browser's own type-to-find.
    return rx.el.select(
        rx.el.option("Browser's time zone (default)", value=BROWSER_ZONE),
        rx.foreach(ProfileState.zone_names, lambda name: rx.el.option(name, value=name)),
        value=ProfileState.zone_choice,
        on_change=ProfileState.choose_zone,
        id="time-zone",
        aria_label="Time zone",
        style={
            "width": "100%",
            "padding": "0.4rem",
            "border_radius": "6px",
            "border": f"1px solid {rx.color('gray', 7)}",
            "background": rx.color("gray", 1),
            "color": rx.color("gray", 12),
            "font_size": "0.95rem",
        },
    )


def _content() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Time zone", size="4"),
            rx.text(
                "Dates across the workspace show in this zone, as relative times "
                "(“3 hours ago”) with the full date and time on hover.",
                size="2",
                color_scheme="gray",
            ),
            field("Show times in", _zone_select()),
            rx.hstack(rx.text("Now:", size="2", color_scheme="gray"), clock(), align="center"),
            rx.button("Save", on_click=ProfileState.save, id="save-profile"),
            spacing="3",
            width="100%",
        ),
        max_width="32rem",
        width="100%",
    )


def profile_page() -> rx.Component:
    return shell("Profile", rx.vstack(_content(), api_tokens_section(), spacing="4", width="100%"))


rx.page(
    route=routes.PROFILE,
    title="Profile · Finance CRM",
    on_load=[ProfileState.load, ProfileTokensState.load_tokens],
)(profile_page)
