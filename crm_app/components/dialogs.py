"""A confirmation dialog for an action that cannot be undone."""

from __future__ import annotations

from typing import Any

import reflex as rx


def confirm_dialog(
    trigger: rx.Component,
    title: str,
    *body: rx.Component | rx.Var | str,
    confirm_label: str,
    on_confirm: Any,
    color_scheme: str = "red",
    confirm_id: str | None = None,
) -> rx.Component:
    """`trigger` opens it; `body` says what will happen (plain text becomes the description);
    Cancel closes it, the confirm button runs `on_confirm`."""
    texts = [part for part in body if not isinstance(part, rx.Component)]
    controls = [part for part in body if isinstance(part, rx.Component)]
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(trigger),
        rx.alert_dialog.content(
            rx.alert_dialog.title(title),
            *([rx.alert_dialog.description(*texts)] if texts else []),
            *controls,
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(
                    rx.button(
                        confirm_label,
                        color_scheme=color_scheme,
                        on_click=on_confirm,
                        **({"id": confirm_id} if confirm_id else {}),
                    )
                ),
                justify="end",
                spacing="3",
                padding_top="1rem",
            ),
        ),
    )
