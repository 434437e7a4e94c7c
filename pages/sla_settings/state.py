"""The SLA settings page's state: calendars, policies and escalation rules, each edited in one
form at a time and saved through the service."""

from __future__ import annotations

from typing import Any

import reflex as rx

from crm_app.auth.permissions import Actor
from crm_app.services import escalation, segments, sla
from crm_app.services import tickets as ticket_service
from crm_app.services.business_hours import WEEKDAYS
from crm_app.services.errors import InvalidInput
from crm_app.services.escalation import RuleRow
from crm_app.services.sla import TARGETS, TIER_LABELS, CalendarRow, PolicyRow
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
