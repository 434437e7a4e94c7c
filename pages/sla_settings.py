"""SLA settings for managers, on one page: business-hours calendars, SLA policies (conditions,
targets per priority, calendar, near-breach share) and escalation rules. Each save is checked
by the service (a message under the form says what is wrong), audited, and applies to open
tickets from the next scan."""

from __future__ import annotations

from typing import Any

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action, Actor
from crm_app.components import empty_state, form_error
from crm_app.layout import signed_in_page
from crm_app.services import escalation, segments, sla
from crm_app.services import tickets as ticket_service
from crm_app.services.business_hours import WEEKDAYS
from crm_app.services.errors import InvalidInput
from crm_app.services.escalation import RuleRow
from crm_app.services.sla import TARGET_LABELS, TARGETS, TIER_LABELS, CalendarRow, PolicyRow
from crm_app.state import AppState, chain, service_event
from models.ticket import Channel, TicketPriority

PRIORITIES = [p.value for p in TicketPriority]
CHANNELS = [c.value for c in Channel]
TARGET_KEYS = [t.value for t in TARGETS]
EDITORS = ("calendar", "policy", "rule")


def _hours_text(intervals: list[list[str]]) -> str:
    return ", ".join(f"{a}-{b}" for a, b in intervals)


def _parse_hours(text: str, day: str) -> list[list[str]]:
    intervals = []
    for part in (text or "").replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if "-" not in part:
            raise InvalidInput(f"{day}: write opening hours as 09:00-18:00.")
        opens, closes = (p.strip() for p in part.split("-", 1))
        intervals.append([opens, closes])
    return intervals


def _checked(form: dict[str, Any], prefix: str, values: list[str]) -> list[str]:
    return [v for v in values if form.get(f"{prefix}{v}") not in (None, "", False, "off")]


class SlaSettingsState(AppState):
    calendars: list[CalendarRow] = []
    policies: list[PolicyRow] = []
    rules: list[RuleRow] = []
    staff: list[list[str]] = []  # [id, name]
    segment_choices: list[list[str]] = []  # [id, name]
    editor: str = ""  # "", calendar, policy, rule
    editing_id: int = 0
    defaults: dict[str, str] = {}  # the form's starting values
    checks: list[str] = []  # the names of the checkboxes that start checked
    form_key: int = 0
    form_message: str = ""

    @service_event
    def load(self, actor: Actor):
        self.calendars = sla.list_calendars(actor)
        self.policies = sla.list_policies(actor)
        self.rules = escalation.list_rules(actor)
        self.staff = [[str(uid), name] for uid, name in ticket_service.staff_choices(actor)]
        self.segment_choices = [[str(s.id), s.name] for s in segments.list_segments(actor)]

    def _open(self, editor: str, editing_id: int, defaults: dict[str, str], checks: list[str]):
        self.editor, self.editing_id = editor, editing_id
        self.defaults, self.checks = defaults, checks
        self.form_message, self.form_key = "", self.form_key + 1

    @rx.event
    def close_editor(self):
        self.editor, self.editing_id, self.form_message = "", 0, ""

    @rx.event
    def edit_calendar(self, calendar_id: int):
        row = next((c for c in self.calendars if c.id == calendar_id), None)
        defaults = {"name": "", "time_zone": "Europe/Zurich", "holidays": ""}
        defaults.update({f"hours_{d}": "09:00-18:00" if d < 5 else "" for d in range(7)})
        checks: list[str] = []
        if row is not None:
            defaults = {
                "name": row.name,
                "time_zone": row.time_zone,
                "holidays": "\n".join(row.holidays),
                **{f"hours_{d}": _hours_text(row.hours.get(str(d), [])) for d in range(7)},
            }
            checks = ["is_default"] if row.is_default else []
        self._open("calendar", row.id if row else 0, defaults, checks)

    @rx.event
    def edit_policy(self, policy_id: int):
        row = next((p for p in self.policies if p.id == policy_id), None)
        defaults = {"name": "", "position": "10", "calendar_id": "", "near_breach_share": "0.8"}
        checks: list[str] = []
        targets: dict[str, dict[str, int]] = {}
        if row is not None:
            defaults = {
                "name": row.name,
                "position": str(row.position),
                "calendar_id": str(row.calendar_id or ""),
                "near_breach_share": str(row.near_breach_share),
            }
            checks = (
                [f"tier_{t}" for t in row.tiers]
                + [f"channel_{c}" for c in row.channels]
                + [f"priority_{p}" for p in row.priorities]
                + [f"segment_{s}" for s in row.segment_ids]
            )
            targets = row.targets
        for priority in PRIORITIES:
            for target in TARGET_KEYS:
                value = (targets.get(priority) or {}).get(target)
                defaults[f"t_{priority}_{target}"] = str(value) if value else ""
        self._open("policy", row.id if row else 0, defaults, checks)

    @rx.event
    def edit_rule(self, rule_id: int):
        row = next((r for r in self.rules if r.id == rule_id), None)
        defaults = {
            "name": "",
            "position": "10",
            "trigger": "near_breach",
            "target": "",
            "policy_id": "",
        }
        checks = ["notify_assignee", "is_active"]
        if row is not None:
            defaults = {
                "name": row.name,
                "position": str(row.position),
                "trigger": row.trigger,
                "target": row.target,
                "policy_id": str(row.policy_id or ""),
            }
            checks = [
                key
                for key in (
                    "notify_assignee",
                    "notify_managers",
                    "send_email",
                    "raise_priority",
                    "is_active",
                )
                if getattr(row, key)
            ] + [f"reassign_{uid}" for uid in row.reassign_to]
        self._open("rule", row.id if row else 0, defaults, checks)

    @service_event(error_var="form_message")
    def save_calendar(self, actor: Actor, form: dict):
        hours = {
            str(d): _parse_hours(str(form.get(f"hours_{d}", "")), WEEKDAYS[d]) for d in range(7)
        }
        holidays = str(form.get("holidays", "")).replace(",", "\n").split()
        sla.save_calendar(
            actor,
            self.editing_id or None,
            name=str(form.get("name", "")),
            time_zone=str(form.get("time_zone", "")).strip(),
            hours=hours,
            holidays=holidays,
            is_default=bool(_checked(form, "", ["is_default"])),
        )
        self.editor = ""
        return chain(self.load(), rx.toast.success("Calendar saved: open tickets follow it"))

    @service_event(error_var="form_message")
    def save_policy(self, actor: Actor, form: dict):
        targets = {
            priority: {
                target: str(form.get(f"t_{priority}_{target}", "")).strip()
                for target in TARGET_KEYS
            }
            for priority in PRIORITIES
        }
        segment_ids = [s for s, _ in self.segment_choices]
        sla.save_policy(
            actor,
            self.editing_id or None,
            {
                "name": form.get("name", ""),
                "position": str(form.get("position", "0")).strip() or "0",
                "calendar_id": str(form.get("calendar_id", "")).strip(),
                "near_breach_share": str(form.get("near_breach_share", "0.8")).strip() or "0.8",
                "tiers": _checked(form, "tier_", list(TIER_LABELS)),
                "channels": _checked(form, "channel_", CHANNELS),
                "priorities": _checked(form, "priority_", PRIORITIES),
                "segment_ids": _checked(form, "segment_", segment_ids),
                "targets": targets,
            },
        )
        self.editor = ""
        return chain(self.load(), rx.toast.success("Policy saved: open tickets follow it"))

    @service_event(error_var="form_message")
    def save_rule(self, actor: Actor, form: dict):
        flags = ("notify_assignee", "notify_managers", "send_email", "raise_priority", "is_active")
        escalation.save_rule(
            actor,
            self.editing_id or None,
            {
                "name": form.get("name", ""),
                "position": str(form.get("position", "0")).strip() or "0",
                "trigger": form.get("trigger", ""),
                "target": form.get("target", ""),
                "policy_id": str(form.get("policy_id", "")).strip(),
                **{flag: bool(_checked(form, "", [flag])) for flag in flags},
                "reassign_to": _checked(form, "reassign_", [uid for uid, _ in self.staff]),
            },
        )
        self.editor = ""
        return chain(self.load(), rx.toast.success("Escalation rule saved"))

    @service_event
    def delete_calendar(self, actor: Actor, calendar_id: int):
        sla.delete_calendar(actor, calendar_id)
        return chain(self.load(), rx.toast.success("Calendar deleted"))

    @service_event
    def delete_policy(self, actor: Actor, policy_id: int):
        sla.delete_policy(actor, policy_id)
        return chain(self.load(), rx.toast.success("Policy deleted"))

    @service_event
    def delete_rule(self, actor: Actor, rule_id: int):
        escalation.delete_rule(actor, rule_id)
        return chain(self.load(), rx.toast.success("Rule deleted"))


S = SlaSettingsState


def _input(name: str, label: str, **props: Any) -> rx.Component:
    return rx.vstack(
        rx.text(label, as_="label", html_for=f"sla-{name}", size="1", weight="medium"),
        rx.input(name=name, id=f"sla-{name}", default_value=S.defaults[name], size="2", **props),
        spacing="1",
    )


def _check(name: str, label: str) -> rx.Component:
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


def _select(name: str, label: str, options: list[tuple[str, str]] | Any) -> rx.Component:
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


def _calendar_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.heading(rx.cond(S.editing_id > 0, "Edit calendar", "New calendar"), size="3"),
            form_error(S.form_message),
            rx.hstack(
                _input("name", "Name"),
                _input("time_zone", "Time zone (IANA, e.g. Europe/Zurich)"),
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
                *[_input(f"hours_{d}", WEEKDAYS[d]) for d in range(7)],
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
            _check("is_default", "Default calendar (for policies without one)"),
            _form_buttons("Save calendar"),
            spacing="3",
            width="100%",
        ),
        on_submit=S.save_calendar,
        key=S.form_key,
        id="calendar-form",
        width="100%",
    )


def _policy_form() -> rx.Component:
    calendar_options = rx.fragment(
        rx.el.option("The default calendar", value=""),
        rx.foreach(S.calendars, lambda c: rx.el.option(c.name, value=c.id.to_string())),
    )
    return rx.form(
        rx.vstack(
            rx.heading(rx.cond(S.editing_id > 0, "Edit policy", "New policy"), size="3"),
            form_error(S.form_message),
            rx.hstack(
                _input("name", "Name"),
                _input("position", "Order (lowest first)", type="number", width="8rem"),
                _select("calendar_id", "Calendar", calendar_options),
                _input("near_breach_share", "Near breach at share", width="8rem"),
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
                *[_check(f"tier_{k}", v) for k, v in TIER_LABELS.items()],
                wrap="wrap",
                spacing="3",
            ),
            rx.hstack(
                rx.text("Channel:", size="2", weight="medium"),
                *[_check(f"channel_{c}", c.replace("_", " ")) for c in CHANNELS],
                wrap="wrap",
                spacing="3",
            ),
            rx.hstack(
                rx.text("Priority:", size="2", weight="medium"),
                *[_check(f"priority_{p}", p) for p in PRIORITIES],
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


def _rule_form() -> rx.Component:
    policy_options = rx.fragment(
        rx.el.option("Any policy", value=""),
        rx.foreach(S.policies, lambda p: rx.el.option(p.name, value=p.id.to_string())),
    )
    return rx.form(
        rx.vstack(
            rx.heading(rx.cond(S.editing_id > 0, "Edit rule", "New rule"), size="3"),
            form_error(S.form_message),
            rx.hstack(
                _input("name", "Name"),
                _input("position", "Order", type="number", width="6rem"),
                _select(
                    "trigger", "When", [("near_breach", "Near breach"), ("breached", "Breached")]
                ),
                _select(
                    "target",
                    "Target",
                    [("", "Any target")] + [(t.value, TARGET_LABELS[t]) for t in TARGETS],
                ),
                _select("policy_id", "Policy", policy_options),
                spacing="3",
                wrap="wrap",
                align="end",
            ),
            rx.hstack(
                _check("notify_assignee", "Notify the assignee"),
                _check("notify_managers", "Notify the managers"),
                _check("send_email", "Also by email"),
                _check("raise_priority", "Raise the priority"),
                _check("is_active", "Active"),
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
            _calendar_form(),
            "calendars",
        ),
        _section(
            "Policies",
            "Tried in order; the first whose conditions match wins, else the default.",
            "New policy",
            S.edit_policy(0),
            _policies(),
            "policy",
            _policy_form(),
            "policies",
        ),
        _section(
            "Escalation rules",
            "What happens near or past a breach.",
            "New rule",
            S.edit_rule(0),
            _rules(),
            "rule",
            _rule_form(),
            "rules",
        ),
        spacing="4",
        width="100%",
        max_width="76rem",
    )
