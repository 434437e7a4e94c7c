"""The notification bell of the top bar: unread count (polled while the tab is open), the newest
notifications in a dropdown; choosing one opens its ticket and marks it read."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action, Actor, can
from crm_app.services import notifications
from crm_app.services.notifications import NotificationRow
from crm_app.state import AppState, service_event

# The browser drives the poll (a timer in the page), so it stops with the tab.
POLL_MS = 5_000
KIND_ICONS = (
    ("assigned", "user-check"),
    ("client_replied", "message-circle"),
    ("mentioned", "at-sign"),
    ("sla_near_breach", "alarm-clock"),
)


class NotificationState(AppState):
    unread: int = 0
    items: list[NotificationRow] = []  # noqa: RUF012 - a Reflex state var
    enabled: bool = False

    @rx.var
    def unread_label(self) -> str:
        return "99+" if self.unread > 99 else str(self.unread)

    def _load(self, *, with_items: bool) -> None:
        actor = self.actor()
        self.enabled = (
            can(actor, Action.VIEW_TICKETS) and actor is not None and actor.user_id is not None
        )
        if not self.enabled:
            self.unread, self.items = 0, []
            return
        count = notifications.unread_count(actor)
        if with_items or count != self.unread:
            self.items = notifications.list_notifications(actor)
        self.unread = count

    def _cleared(self, _message: str) -> None:
        self.unread, self.items = 0, []  # a poll fails quietly: the bell just empties

    @service_event(on_error="_cleared")
    def poll(self, _tick: str = ""):
        self._load(with_items=False)

    @service_event
    def opened(self, is_open: bool):
        if is_open:
            self._load(with_items=True)

    @service_event
    def open_notification(self, actor: Actor, notification_id: int):
        """Mark it read and go to its ticket."""
        if not isinstance(notification_id, int):
            return None
        link = notifications.do_mark_read(actor, notification_id)
        self._load(with_items=True)
        return rx.redirect(link)

    @service_event
    def mark_all_read(self, actor: Actor):
        notifications.do_mark_all_read(actor)
        self._load(with_items=True)


def _item(note: NotificationRow) -> rx.Component:
    return rx.button(
        rx.hstack(
            rx.icon(rx.match(note.kind, *KIND_ICONS, "bell"), size=16, flex_shrink="0"),
            rx.vstack(
                rx.text(
                    note.title,
                    size="2",
                    weight=rx.cond(note.is_read, "regular", "bold"),
                    text_align="left",
                    overflow_wrap="anywhere",
                ),
                rx.text(note.created_at, size="1", color_scheme="gray"),
                spacing="0",
                align="start",
                min_width="0",
            ),
            rx.spacer(),
            rx.cond(
                ~note.is_read,
                rx.box(
                    width="8px",
                    height="8px",
                    border_radius="50%",
                    background=rx.color("indigo", 9),
                    flex_shrink="0",
                    aria_label="unread",
                ),
            ),
            align="start",
            width="100%",
            spacing="2",
        ),
        on_click=NotificationState.open_notification(note.id),
        variant="ghost",
        color_scheme="gray",
        width="100%",
        height="auto",
        padding="0.5rem",
        justify_content="start",
        class_name=rx.cond(note.is_read, "notification", "notification unread"),
    )


def notification_bell() -> rx.Component:
    """The bell with its unread badge and dropdown (staff only; nothing for other roles)."""
    return rx.fragment(
        # A hidden timer: its change every POLL_MS is the poll (and the first load on mount).
        rx.moment(interval=POLL_MS, format="X", on_change=NotificationState.poll, display="none"),
        rx.cond(
            NotificationState.enabled,
            rx.popover.root(
                rx.popover.trigger(
                    rx.button(
                        rx.icon("bell", size=18),
                        rx.cond(
                            NotificationState.unread > 0,
                            rx.badge(
                                NotificationState.unread_label,
                                color_scheme="red",
                                variant="solid",
                                radius="full",
                                id="bell-count",
                            ),
                        ),
                        variant="ghost",
                        color_scheme="gray",
                        aria_label="Notifications",
                        id="notification-bell",
                    ),
                ),
                rx.popover.content(
                    rx.vstack(
                        rx.hstack(
                            rx.text("Notifications", weight="bold"),
                            rx.spacer(),
                            rx.cond(
                                NotificationState.unread > 0,
                                rx.button(
                                    "Mark all read",
                                    size="1",
                                    variant="soft",
                                    on_click=NotificationState.mark_all_read,
                                    id="mark-all-read",
                                ),
                            ),
                            width="100%",
                            align="center",
                        ),
                        rx.cond(
                            # A state field read on the class is a Var; mypy sees the list.
                            NotificationState.items.length() > 0,  # type: ignore[attr-defined]
                            rx.vstack(
                                rx.foreach(NotificationState.items, _item),
                                spacing="1",
                                width="100%",
                                max_height="26rem",
                                overflow_y="auto",
                            ),
                            rx.vstack(
                                rx.icon("bell-off", size=28, color=rx.color("gray", 8)),
                                rx.text(
                                    "Nothing new. Assignments, client answers, @mentions "
                                    "and SLA warnings show up here.",
                                    size="2",
                                    color_scheme="gray",
                                    text_align="center",
                                ),
                                align="center",
                                padding="1.5rem 0.5rem",
                                width="100%",
                            ),
                        ),
                        rx.link("Open the queue", href=routes.TICKETS, size="1"),
                        spacing="2",
                        width="100%",
                    ),
                    width="24rem",
                    max_width="90vw",
                    id="notification-list",
                ),
                on_open_change=NotificationState.opened,
            ),
        ),
    )
