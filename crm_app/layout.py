"""The app shell: a sidebar showing each user only the pages they may open (built from
crm_app/navigation.py), a top bar with the user menu, and `signed_in_page`, the one decorator
that puts a page behind login and a permission."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action
from crm_app.components import native_form
from crm_app.navigation import NavEntry, sections
from crm_app.notifications_ui import notification_bell
from crm_app.state import AppState
from crm_app.timefmt import TimeZoneState


def _nav_item(label: str, icon: str, href: str, visible: rx.Var[bool]) -> rx.Component:
    return rx.cond(
        visible,
        rx.link(
            rx.hstack(
                rx.icon(icon, size=18), rx.text(label, size="3"), align="center", spacing="3"
            ),
            href=href,
            underline="none",
            color_scheme="gray",
            high_contrast=True,
            padding="0.5rem 0.75rem",
            border_radius="6px",
            width="100%",
            _hover={"background": rx.color("accent", 3)},
        ),
    )


def _section(title: str, entries: list[NavEntry]) -> list[rx.Component]:
    """A section's heading (when the user may see one of its pages) and its entries."""
    seen = AppState.may(entries[0].action)
    for entry in entries[1:]:
        seen = seen | AppState.may(entry.action)
    heading = rx.cond(
        seen,
        rx.text(
            title, size="1", weight="medium", color_scheme="gray", padding="0.75rem 0.75rem 0.25rem"
        ),
    )
    return [
        heading,
        *(_nav_item(e.label, e.icon, e.route, AppState.may(e.action)) for e in entries),
    ]


def sidebar() -> rx.Component:
    """Built from the registry in crm_app/navigation.py: each user sees what they may open."""
    return rx.vstack(
        rx.hstack(
            rx.icon("landmark", size=22, color=rx.color("accent", 9)),
            rx.heading("Finance CRM", size="4"),
            align="center",
            padding_bottom="1rem",
        ),
        *(item for title, entries in sections() for item in _section(title, entries)),
        width="14rem",
        min_height="100vh",
        padding="1.25rem 0.75rem",
        background=rx.color("gray", 2),
        border_right=f"1px solid {rx.color('gray', 5)}",
        spacing="1",
        as_="nav",
        aria_label="Main",
    )


def top_bar(title: str) -> rx.Component:
    return rx.hstack(
        rx.heading(title, size="5"),
        rx.spacer(),
        notification_bell(),
        rx.menu.root(
            rx.menu.trigger(
                rx.button(
                    rx.avatar(fallback=AppState.user_initials, size="1", radius="full"),
                    rx.text(AppState.user_name),
                    rx.badge(AppState.user_role, variant="soft"),
                    variant="ghost",
                    id="user-menu",
                ),
            ),
            rx.menu.content(
                rx.menu.item(AppState.user_email, disabled=True),
                rx.menu.item("Profile", on_click=rx.redirect(routes.PROFILE), id="profile-link"),
                rx.menu.separator(),
                rx.menu.item(
                    native_form(
                        rx.el.button(
                            "Sign out",
                            type="submit",
                            id="sign-out",
                            width="100%",
                            text_align="left",
                            cursor="pointer",
                            color="inherit",
                            on_click=_NEW_TAB_TOKEN,
                        ),
                        action=routes.API_AUTH_LOGOUT,
                    ),
                    as_child=True,
                    color="red",
                ),
            ),
        ),
        align="center",
        padding="0.75rem 1.5rem",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        width="100%",
    )


def shell(title: str, content: rx.Component) -> rx.Component:
    return rx.hstack(
        sidebar(),
        rx.vstack(
            top_bar(title),
            rx.cond(
                AppState.access_ok,
                rx.box(content, padding="1.5rem", width="100%"),
                rx.center(rx.spinner(size="3"), padding="4rem", width="100%"),
            ),
            width="100%",
            spacing="0",
        ),
        spacing="0",
        # Stretch, so the sidebar's background runs the full height of long pages.
        align="stretch",
        width="100%",
        min_height="100vh",
    )


def signed_in_page(
    route: str, title: str, action: Action, on_load: list | None = None
) -> Callable[[Callable[[], rx.Component]], Callable[[], rx.Component]]:
    """Register a page that needs a signed-in user allowed to take `action`.

    The guard runs first on load; the page's own load events follow it.
    """

    def decorator(page: Callable[[], rx.Component]) -> Callable[[], rx.Component]:
        def wrapped() -> rx.Component:
            return shell(title, page())

        wrapped.__name__ = page.__name__
        return rx.page(
            route=route,
            title=f"{title} · Finance CRM",
            on_load=[
                # mypy reads @rx.event as EventNamespace (its __new__ returns another type).
                AppState.guard(action.value),  # type: ignore[operator]
                TimeZoneState.load_time_zone,
                *(on_load or []),
            ],
        )(wrapped)

    return decorator


def public_page(title: str, *children: rx.Component) -> rx.Component:
    """A centred card for the pages before sign-in (setup, login, sign-up, waiting)."""
    return rx.center(
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.icon("landmark", size=24, color=rx.color("accent", 9)),
                    rx.heading("Finance CRM", size="5"),
                    align="center",
                ),
                rx.heading(title, size="6"),
                *children,
                spacing="4",
                width="100%",
            ),
            width="26rem",
            padding="2rem",
        ),
        min_height="100vh",
        background=rx.color("gray", 2),
    )


# Signing out drops the tab's state token too (the next page gets a new one); the logout
# response's Clear-Site-Data does the same where browsers honour it.
_NEW_TAB_TOKEN = rx.remove_session_storage("token")


def sign_out_button(**props: object) -> rx.Component:
    """Sign out as a form post: the endpoint revokes the session and drops the cookie."""
    return native_form(
        rx.button("Sign out", type="submit", on_click=_NEW_TAB_TOKEN, **props),
        action=routes.API_AUTH_LOGOUT,
    )
