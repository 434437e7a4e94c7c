"""The SLA settings forms: a calendar (hours per weekday, holidays), a policy (conditions and
targets per priority) and an escalation rule."""

from __future__ import annotations

from typing import Any

import reflex as rx

from crm_app.components import form_error
from crm_app.services.business_hours import WEEKDAYS
from crm_app.services.sla import TARGET_LABELS, TARGETS, TIER_LABELS
from pages.sla_settings.state import CHANNELS, PRIORITIES, TARGET_KEYS, S


def text_input(name: str, label: str, **props: Any) -> rx.Component:
    return rx.vstack(
        rx.text(label, as_="label", html_for=f"sla-{name}", size="1", weight="medium"),
        rx.input(name=name, id=f"sla-{name}", default_value=S.defaults[name], size="2", **props),
        spacing="1",
    )


def check_box(name: str, label: str) -> rx.Component:
    return rx.text(
        rx.hstack(
            rx.checkbox(name=name, default_checked=S.checks.contains(name), id=f"sla-{name}"),
            label,
            spacing="1",
            align="center",
        ),
        as_="label",
        size="2",
    )


def choice(name: str, label: str, options: list[tuple[str, str]] | Any) -> rx.Component:
    """A native select (keyboard friendly, posted with the form)."""
    if isinstance(options, list):
        children = [rx.el.option(text, value=value) for value, text in options]
    else:
        children = [options]
    return rx.vstack(
        rx.text(label, as_="label", html_for=f"sla-{name}", size="1", weight="medium"),
        rx.el.select(
            *children,
            name=name,
            id=f"sla-{name}",
            default_value=S.defaults[name],
            style={
                "padding": "6px",
                "border_radius": "6px",
                "border": f"1px solid {rx.color('gray', 7)}",
                "min_width": "10rem",
            },
        ),
        spacing="1",
    )


def _form_buttons(label: str) -> rx.Component:
    return rx.hstack(
        rx.button(label, type="submit", id="sla-save"),
        rx.button(
            "Cancel", type="button", variant="soft", color_scheme="gray", on_click=S.close_editor
        ),
        spacing="2",
    )


def calendar_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.heading(rx.cond(S.editing_id > 0, "Edit calendar", "New calendar"), size="3"),
            form_error(S.form_message),
            rx.hstack(
                text_input("name", "Name"),
                text_input("time_zone", "Time zone (IANA, e.g. Europe/Zurich)"),
                spacing="3",
                wrap="wrap",
            ),
            rx.text(
                "Opening hours per weekday: 09:00-12:00, 13:00-18:00 (empty: closed; "
                "24:00 closes at midnight)",
                size="1",
                color_scheme="gray",
            ),
            rx.grid(
                *[text_input(f"hours_{d}", WEEKDAYS[d]) for d in range(7)],
                columns="4",
                spacing="2",
                width="100%",
            ),
            rx.vstack(
                rx.text(
                    "Holidays (YYYY-MM-DD, one per line)",
                    as_="label",
                    html_for="sla-holidays",
                    size="1",
                    weight="medium",
                ),
                rx.text_area(
                    name="holidays",
                    id="sla-holidays",
                    default_value=S.defaults["holidays"],
                    rows="3",
                    width="20rem",
                ),
                spacing="1",
            ),
            check_box("is_default", "Default calendar (for policies without one)"),
            _form_buttons("Save calendar"),
            spacing="3",
            width="100%",
        ),
        on_submit=S.save_calendar,
        key=S.form_key,
        id="calendar-form",
        width="100%",
    )


def policy_form() -> rx.Component:
    calendar_options = rx.fragment(
        rx.el.option("The default calendar", value=""),
        rx.foreach(S.calendars, lambda c: rx.el.option(c.name, value=c.id.to_string())),
    )
    return rx.form(
        rx.vstack(
            rx.heading(rx.cond(S.editing_id > 0, "Edit policy", "New policy"), size="3"),
            form_error(S.form_message),
            rx.hstack(
                text_input("name", "Name"),
                text_input("position", "Order (lowest first)", type="number", width="8rem"),
                choice("calendar_id", "Calendar", calendar_options),
                text_input("near_breach_share", "Near breach at share", width="8rem"),
                spacing="3",
                wrap="wrap",
                align="end",
            ),
            rx.text(
                "Conditions: a ticket matches when each kind with a tick matches one of "
                "its ticks (the default policy has none).",
                size="1",
                color_scheme="gray",
            ),
            rx.hstack(
                rx.text("Tier:", size="2", weight="medium"),
                *[check_box(f"tier_{k}", v) for k, v in TIER_LABELS.items()],
                wrap="wrap",
                spacing="3",
            ),
            rx.hstack(
                rx.text("Channel:", size="2", weight="medium"),
                *[check_box(f"channel_{c}", c.replace("_", " ")) for c in CHANNELS],
                wrap="wrap",
                spacing="3",
            ),
            rx.hstack(
                rx.text("Priority:", size="2", weight="medium"),
                *[check_box(f"priority_{p}", p) for p in PRIORITIES],
                wrap="wrap",
                spacing="3",
            ),
            rx.cond(
                S.segment_choices.length() > 0,
                rx.hstack(
                    rx.text("Segment:", size="2", weight="medium"),
                    rx.foreach(
                        S.segment_choices,
                        lambda seg: rx.text(
                            rx.hstack(
                                rx.checkbox(
                                    name="segment_" + seg[0],
                                    default_checked=S.checks.contains("segment_" + seg[0]),
                                ),
                                seg[1],
                                spacing="1",
                            ),
                            as_="label",
                            size="2",
                        ),
                    ),
                    wrap="wrap",
                    spacing="3",
                ),
            ),
            rx.text(
                "Targets in business minutes (empty or 0: not measured)",
                size="1",
                color_scheme="gray",
            ),
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        rx.table.column_header_cell("Priority"),
                        *[rx.table.column_header_cell(TARGET_LABELS[t]) for t in TARGETS],
                    )
                ),
                rx.table.body(
                    *[
                        rx.table.row(
                            rx.table.cell(p),
                            *[
                                rx.table.cell(
                                    rx.input(
                                        name=f"t_{p}_{t}",
                                        id=f"sla-t_{p}_{t}",
                                        default_value=S.defaults[f"t_{p}_{t}"],
                                        type="number",
                                        min="0",
                                        aria_label=f"{p} {t.replace('_', ' ')} minutes",
                                        width="8rem",
                                    )
                                )
                                for t in TARGET_KEYS
                            ],
                        )
                        for p in PRIORITIES
                    ]
                ),
                size="1",
            ),
            _form_buttons("Save policy"),
            spacing="3",
            width="100%",
        ),
        on_submit=S.save_policy,
        key=S.form_key,
        id="policy-form",
        width="100%",
    )


def rule_form() -> rx.Component:
    policy_options = rx.fragment(
        rx.el.option("Any policy", value=""),
        rx.foreach(S.policies, lambda p: rx.el.option(p.name, value=p.id.to_string())),
    )
    return rx.form(
        rx.vstack(
            rx.heading(rx.cond(S.editing_id > 0, "Edit rule", "New rule"), size="3"),
            form_error(S.form_message),
            rx.hstack(
                text_input("name", "Name"),
                text_input("position", "Order", type="number", width="6rem"),
                choice(
                    "trigger", "When", [("near_breach", "Near breach"), ("breached", "Breached")]
                ),
                choice(
                    "target",
                    "Target",
                    [("", "Any target")] + [(t.value, TARGET_LABELS[t]) for t in TARGETS],
                ),
                choice("policy_id", "Policy", policy_options),
                spacing="3",
                wrap="wrap",
                align="end",
            ),
            rx.hstack(
                check_box("notify_assignee", "Notify the assignee"),
                check_box("notify_managers", "Notify the managers"),
                check_box("send_email", "Also by email"),
                check_box("raise_priority", "Raise the priority"),
                check_box("is_active", "Active"),
                wrap="wrap",
                spacing="4",
            ),
            rx.text(
                "Reassign to the least-loaded of (none ticked: keep the assignee):",
                size="1",
                color_scheme="gray",
            ),
            rx.flex(
                rx.foreach(
                    S.staff,
                    lambda member: rx.text(
                        rx.hstack(
                            rx.checkbox(
                                name="reassign_" + member[0],
                                default_checked=S.checks.contains("reassign_" + member[0]),
                            ),
                            member[1],
                            spacing="1",
                        ),
                        as_="label",
                        size="2",
                    ),
                ),
                wrap="wrap",
                spacing="3",
                max_height="8rem",
                overflow_y="auto",
            ),
            _form_buttons("Save rule"),
            spacing="3",
            width="100%",
        ),
        on_submit=S.save_rule,
        key=S.form_key,
        id="rule-form",
        width="100%",
    )
