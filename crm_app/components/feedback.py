"""What a page shows instead of data (an empty state, the error of a form) and a figure card."""

from __future__ import annotations

from typing import Any

import reflex as rx


def empty_state(icon: str, title: str, hint: str) -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.icon(icon, size=40, color=rx.color("gray", 8)),
            rx.heading(title, size="4"),
            rx.text(hint, color_scheme="gray"),
            align="center",
            spacing="2",
        ),
        padding="3rem",
        width="100%",
        border=f"1px dashed {rx.color('gray', 6)}",
        border_radius="8px",
    )


def form_error(message: rx.Var[str]) -> rx.Component:
    return rx.cond(
        message != "",
        rx.callout(message, icon="triangle-alert", color_scheme="red", role="alert", width="100%"),
    )


def stat_card(label: str, value: Any, hint: Any = "", **props: Any) -> rx.Component:
    """One figure of a dashboard: a label, the value (or "—"), a grey hint below."""
    return rx.card(
        rx.vstack(
            rx.text(label, size="1", color_scheme="gray"),
            rx.heading(value, size="6"),
            rx.text(hint, size="1", color_scheme="gray"),
            spacing="0",
        ),
        flex="1",
        min_width="9rem",
        **props,
    )
