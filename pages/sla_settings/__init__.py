"""SLA settings for managers, on one page: business-hours calendars, SLA policies (conditions,
targets per priority, calendar, near-breach share) and escalation rules. Each save is checked
by the service (a message under the form says what is wrong), audited, and applies to open
tickets from the next scan."""

from __future__ import annotations

from typing import Any

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action
from crm_app.components import empty_state
from crm_app.layout import signed_in_page
from pages.sla_settings.forms import calendar_form, policy_form, rule_form
from pages.sla_settings.state import S


def _section(
    title: str,
    hint: str,
    new_label: str,
    on_new: Any,
    body: rx.Component,
    editor: str,
    form: rx.Component,
    section_id: str,
) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.vstack(
                    rx.heading(title, size="4"),
                    rx.text(hint, size="1", color_scheme="gray"),
                    spacing="0",
                ),
                rx.spacer(),
                rx.button(
                    rx.icon("plus", size=14),
                    new_label,
                    size="2",
                    variant="soft",
                    on_click=on_new,
                    id=f"new-{editor}",
                ),
                width="100%",
                align="center",
            ),
            body,
            rx.cond(S.editor == editor, rx.box(rx.divider(), form, width="100%")),
            spacing="3",
            width="100%",
        ),
        width="100%",
        id=section_id,
    )


def _edit_buttons(on_edit: Any, on_delete: Any, label: str, deletable: Any = True) -> rx.Component:
    return rx.hstack(
        rx.button("Edit", size="1", variant="soft", on_click=on_edit, aria_label=f"Edit {label}"),
        rx.cond(
            deletable,
            rx.button(
                "Delete",
                size="1",
                variant="ghost",
                color_scheme="red",
                on_click=on_delete,
                aria_label=f"Delete {label}",
            ),
        ),
        spacing="1",
    )


def _calendars() -> rx.Component:
    return rx.table.root(
        rx.table.header(
            rx.table.row(
                *[
                    rx.table.column_header_cell(h)
                    for h in ("Name", "Time zone", "Opening hours", "Holidays", "")
                ]
            )
        ),
        rx.table.body(
            rx.foreach(
                S.calendars,
                lambda c: rx.table.row(
                    rx.table.cell(
                        rx.hstack(
                            rx.text(c.name, weight="medium"),
                            rx.cond(c.is_default, rx.badge("default")),
                        )
                    ),
                    rx.table.cell(c.time_zone),
                    rx.table.cell(rx.text(c.summary, size="1")),
                    rx.table.cell(c.holidays.length()),
                    rx.table.cell(
                        _edit_buttons(
                            S.edit_calendar(c.id), S.delete_calendar(c.id), c.name, ~c.is_default
                        )
                    ),
                ),
            )
        ),
        size="1",
        width="100%",
    )


def _policies() -> rx.Component:
    return rx.table.root(
        rx.table.header(
            rx.table.row(
                *[
                    rx.table.column_header_cell(h)
                    for h in ("Order", "Policy", "Applies to", "Calendar", "Near breach", "")
                ]
            )
        ),
        rx.table.body(
            rx.foreach(
                S.policies,
                lambda p: rx.table.row(
                    rx.table.cell(rx.cond(p.is_default, "last", p.position.to_string())),
                    rx.table.cell(
                        rx.hstack(
                            rx.text(p.name, weight="medium"),
                            rx.cond(p.is_default, rx.badge("default")),
                        )
                    ),
                    rx.table.cell(rx.text(p.conditions, size="1")),
                    rx.table.cell(p.calendar),
                    rx.table.cell((p.near_breach_share * 100).to(int).to_string() + "%"),
                    rx.table.cell(
                        _edit_buttons(
                            S.edit_policy(p.id), S.delete_policy(p.id), p.name, ~p.is_default
                        )
                    ),
                ),
            )
        ),
        size="1",
        width="100%",
    )


def _rules() -> rx.Component:
    return rx.cond(
        S.rules.length() > 0,
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[
                        rx.table.column_header_cell(h)
                        for h in ("Rule", "When", "Target", "Policy", "Then", "")
                    ]
                )
            ),
            rx.table.body(
                rx.foreach(
                    S.rules,
                    lambda r: rx.table.row(
                        rx.table.cell(
                            rx.hstack(
                                rx.text(r.name, weight="medium"),
                                rx.cond(~r.is_active, rx.badge("off")),
                            )
                        ),
                        rx.table.cell(r.trigger.replace("_", " ")),
                        rx.table.cell(rx.cond(r.target != "", r.target.replace("_", " "), "any")),
                        rx.table.cell(r.policy),
                        rx.table.cell(rx.text(r.actions, size="1")),
                        rx.table.cell(
                            _edit_buttons(S.edit_rule(r.id), S.delete_rule(r.id), r.name)
                        ),
                    ),
                )
            ),
            size="1",
            width="100%",
        ),
        empty_state(
            "bell-off",
            "No escalation rules",
            "Assignees still get one near-breach warning per ticket. Add a rule to "
            "notify managers, raise priority or reassign.",
        ),
    )


@signed_in_page(routes.SLA_SETTINGS, "SLA settings", Action.MANAGE_SLA, on_load=[S.load])
def sla_settings_page() -> rx.Component:
    return rx.vstack(
        rx.heading("SLA settings", size="6"),
        rx.text(
            "Changes apply to open tickets from the next SLA scan (within a minute) and "
            "are recorded in the audit log.",
            size="2",
            color_scheme="gray",
        ),
        _section(
            "Business-hours calendars",
            "SLA clocks only run during opening hours.",
            "New calendar",
            S.edit_calendar(0),
            _calendars(),
            "calendar",
            calendar_form(),
            "calendars",
        ),
        _section(
            "Policies",
            "Tried in order; the first whose conditions match wins, else the default.",
            "New policy",
            S.edit_policy(0),
            _policies(),
            "policy",
            policy_form(),
            "policies",
        ),
        _section(
            "Escalation rules",
            "What happens near or past a breach.",
            "New rule",
            S.edit_rule(0),
            _rules(),
            "rule",
            rule_form(),
            "rules",
        ),
        spacing="4",
        width="100%",
        max_width="76rem",
    )
