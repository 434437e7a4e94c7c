"""Ticket badges: status, priority and SLA state, coloured the same on every page; removable
chips (tags, pending changes)."""

from __future__ import annotations

from typing import Any

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


def removable_chip(
    content: rx.Component | rx.Var | str,
    on_remove: Any,
    remove_label: rx.Var | str,
    *,
    size: str = "1",
    **props: Any,
) -> rx.Component:
    """A badge with an × button (a tag, a pending change): `remove_label` names the button."""
    return rx.badge(
        content,
        rx.icon_button(
            rx.icon("x", size=12),
            size="1",
            variant="ghost",
            color_scheme="gray",
            on_click=on_remove,
            aria_label=remove_label,
        ),
        variant="surface",
        size=size,
        **props,
    )


def channel_badge(channel: rx.Var[str]) -> rx.Component:
    """Where a ticket or message came from: an icon and the channel's name."""
    icon = rx.match(
        channel,
        ("email", rx.icon("mail", size=13)),
        ("whatsapp", rx.icon("message-circle", size=13, color=rx.color("green", 10))),
        ("web_chat", rx.icon("messages-square", size=13, color=rx.color("blue", 10))),
        ("portal", rx.icon("life-buoy", size=13)),
        ("phone", rx.icon("phone", size=13)),
        ("in_person", rx.icon("user", size=13)),
        rx.icon("pencil", size=13),
    )
    return rx.badge(
        icon,
        rx.match(channel, ("web_chat", "web chat"), ("whatsapp", "WhatsApp"), channel),
        variant="soft",
        color_scheme="gray",
        class_name="channel-badge",
    )
