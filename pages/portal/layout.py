"""The portal's own look, apart from the staff shell: the firm's name and accent colour (from
settings), a top bar with the client's pages, and `portal_page`, the decorator that puts a page
behind a signed-in client."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action, can
from crm_app.components import native_form
from crm_app.navigation import home_for
from crm_app.settings import get_settings
from crm_app.state import AppState
from crm_app.timefmt import TimeZoneState

# Radix accent colours the portal may take (CRM_PORTAL_ACCENT); anything else falls back.
ACCENTS = frozenset(
    {
        "tomato",
        "red",
        "ruby",
        "crimson",
        "pink",
        "plum",
        "purple",
        "violet",
        "iris",
        "indigo",
        "blue",
        "cyan",
        "teal",
        "jade",
        "green",
        "grass",
        "brown",
        "orange",
        "sky",
        "mint",
        "lime",
        "yellow",
        "amber",
        "gold",
        "bronze",
        "gray",
    }
)
PORTAL_NAV = (
    (routes.PORTAL, "My requests", "inbox"),
    (routes.PORTAL_NEW, "New request", "circle-plus"),
    (routes.PORTAL_HELP, "Help centre", "book-open"),
    (routes.PORTAL_SETTINGS, "Settings", "settings"),
)


def accent() -> str:
    chosen = get_settings().portal_accent
    return chosen if chosen in ACCENTS else "teal"


def firm_name() -> str:
    return get_settings().firm_name


class PortalBase(AppState):
    """Every portal page state builds on this: the portal's own sign-in guard."""

    @rx.event
    def guard_portal(self):
        """on_load of every portal page: a visitor signs in on the portal's own page; staff
        go to their own home."""
        self.access_ok = False
        actor = self.actor()
        self._remember(actor)
        if actor is None:
            return rx.redirect(routes.PORTAL_LOGIN)
        if not can(actor, Action.USE_PORTAL):
            return rx.redirect(home_for(actor))
        self.access_ok = True
        return None


def brand() -> rx.Component:
    return rx.hstack(
        rx.icon("landmark", size=22, color=rx.color("accent", 9)),
        rx.heading(firm_name(), size="4", id="portal-firm"),
        rx.badge("Client portal", variant="soft"),
        align="center",
        spacing="2",
    )


def _nav_link(href: str, label: str, icon: str) -> rx.Component:
    return rx.link(
        rx.hstack(rx.icon(icon, size=16), rx.text(label, size="2"), align="center", spacing="1"),
        href=href,
        underline="none",
        high_contrast=True,
        padding="0.4rem 0.6rem",
        border_radius="6px",
        _hover={"background": rx.color("accent", 4)},
    )


def _top_bar() -> rx.Component:
    return rx.hstack(
        brand(),
        rx.hstack(
            *(_nav_link(*entry) for entry in PORTAL_NAV),
            spacing="1",
            as_="nav",
            aria_label="Portal",
        ),
        rx.spacer(),
        rx.text(AppState.user_name, size="2", color_scheme="gray"),
        native_form(
            rx.el.input(type="hidden", name="next", value=routes.PORTAL_LOGIN),
            rx.button(
                "Sign out",
                type="submit",
                variant="soft",
                size="2",
                id="portal-sign-out",
                on_click=rx.remove_session_storage("token"),
            ),
            action=routes.API_AUTH_LOGOUT,
        ),
        align="center",
        spacing="4",
        padding="0.75rem 1.5rem",
        background=rx.color("accent", 2),
        border_bottom=f"1px solid {rx.color('accent', 6)}",
        width="100%",
        wrap="wrap",
    )


def portal_frame(*children: rx.Component) -> rx.Component:
    """The portal's colours around any page (signed in or not)."""
    return rx.theme(
        rx.box(*children, min_height="100vh", background=rx.color("gray", 1), width="100%"),
        accent_color=accent(),
        radius="large",
    )


def portal_page(
    route: str, title: str, on_load: list | None = None
) -> Callable[[Callable[[], rx.Component]], Callable[[], rx.Component]]:
    """Register a portal page for a signed-in client; its load events follow the guard."""

    def decorator(page: Callable[[], rx.Component]) -> Callable[[], rx.Component]:
        def wrapped() -> rx.Component:
            return portal_frame(
                _top_bar(),
                rx.cond(
                    PortalBase.access_ok,
                    rx.box(
                        rx.heading(title, size="6", padding_bottom="1rem"),
                        page(),
                        padding="1.5rem",
                        max_width="72rem",
                        margin="0 auto",
                        width="100%",
                    ),
                    rx.center(rx.spinner(size="3"), padding="4rem", width="100%"),
                ),
            )

        wrapped.__name__ = page.__name__
        return rx.page(
            route=route,
            title=f"{title} · {firm_name()}",
            on_load=[PortalBase.guard_portal, TimeZoneState.load_time_zone, *(on_load or [])],
        )(wrapped)

    return decorator


def portal_card_page(title: str, *children: rx.Component) -> rx.Component:
    """A centred card in the portal's colours, for the pages before sign-in."""
    return portal_frame(
        rx.center(
            rx.card(
                rx.vstack(
                    brand(), rx.heading(title, size="6"), *children, spacing="4", width="100%"
                ),
                width="28rem",
                padding="2rem",
            ),
            min_height="100vh",
            background=rx.color("accent", 2),
        )
    )
