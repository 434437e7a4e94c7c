"""Ticket badges: status, priority and SLA state, coloured the same on every page."""

from __future__ import annotations

import reflex as rx


def status_badge(status: rx.Var[str]) -> rx.Component:
    return rx.badge(
        status,
        color_scheme=rx.match(
            status,
            ("new", "blue"),
            ("open", "green"),
            ("pending", "amber"),
            ("resolved", "gray"),
            ("closed", "gray"),
            "gray",
        ),
        variant="soft",
    )


def priority_badge(priority: rx.Var[str]) -> rx.Component:
    return rx.badge(
        priority,
        color_scheme=rx.match(
            priority, ("urgent", "red"), ("high", "orange"), ("low", "gray"), "blue"
        ),
        variant="outline",
    )


def sla_badge(state: rx.Var[str]) -> rx.Component:
    return rx.match(
        state,
        ("breached", rx.badge("SLA breached", color_scheme="red")),
        ("near_breach", rx.badge("near breach", color_scheme="orange")),
        ("on_track", rx.badge("on track", color_scheme="green", variant="soft")),
        ("met", rx.badge("met", color_scheme="gray", variant="soft")),
        rx.text("—", color_scheme="gray"),
    )
