"""The ticket sidebar's SLA card: the policy and calendar, each target with its due time and
the time left in business time, and the ticket's SLA history. Loads itself when mounted."""

from __future__ import annotations

import reflex as rx

from crm_app.auth.permissions import Actor
from crm_app.services import sla
from crm_app.services.sla import SlaEventRow, SlaTargetRow
from crm_app.state import AppState, service_event
from crm_app.timefmt import local_time, when

STATUS_COLORS = {
    "on_track": "green",
    "near_breach": "amber",
    "breached": "red",
    "met": "green",
    "paused": "blue",
}


class SlaPanelState(AppState):
    policy: str = ""
    calendar: str = ""
    targets: list[SlaTargetRow] = []
    history: list[SlaEventRow] = []
    error: str = ""

    def _failed(self, message: str) -> None:
        self.error, self.targets, self.history = message, [], []

    @service_event(on_error="_failed")
    def load(self, actor: Actor):
        raw = str(self.router.page.params.get("number", "")).strip().lstrip("#")
        if not raw.isdigit() or len(raw) > 18:
            return
        view = sla.ticket_sla(actor, int(raw))
        self.error = ""
        self.policy, self.calendar = view.policy, view.calendar
        self.targets, self.history = view.targets, view.history


def _target(row: SlaTargetRow) -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.text(row.label, " · ", row.minutes, size="1", weight="medium"),
            rx.cond(
                row.due_at != "",
                rx.hstack(
                    rx.text("due", size="1", color_scheme="gray"),
                    local_time(row.due_at),
                    spacing="1",
                ),
            ),
            spacing="0",
        ),
        rx.spacer(),
        rx.vstack(
            rx.badge(
                row.status.replace("_", " "),
                color_scheme=rx.match(row.status, *STATUS_COLORS.items(), "gray"),
                variant="soft",
                size="1",
            ),
            rx.cond(row.time_left != "", rx.text(row.time_left, size="1")),
            align="end",
            spacing="0",
        ),
        width="100%",
        align="start",
    )


def _event(row: SlaEventRow) -> rx.Component:
    return rx.vstack(
        rx.text(row.target, " · ", row.kind.replace("_", " "), size="1", weight="medium"),
        rx.hstack(
            when(row.at),
            rx.cond(row.detail != "", rx.text("· " + row.detail, size="1", color_scheme="gray")),
            spacing="1",
            wrap="wrap",
        ),
        spacing="0",
    )


def sla_panel() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.icon("timer", size=16),
                rx.text("SLA", weight="bold"),
                rx.spacer(),
                rx.icon_button(
                    rx.icon("refresh-cw", size=14),
                    size="1",
                    variant="ghost",
                    on_click=SlaPanelState.load,
                    aria_label="Refresh SLA",
                    id="sla-refresh",
                ),
                width="100%",
                align="center",
            ),
            rx.cond(
                SlaPanelState.error != "",
                rx.text(SlaPanelState.error, size="1", color_scheme="red"),
            ),
            rx.text(
                SlaPanelState.policy,
                rx.cond(SlaPanelState.calendar != "", " · " + SlaPanelState.calendar, ""),
                size="1",
                color_scheme="gray",
                id="sla-policy",
            ),
            rx.foreach(SlaPanelState.targets, _target),
            rx.cond(
                SlaPanelState.history.length() > 0,
                rx.vstack(
                    rx.divider(),
                    rx.text("SLA history", size="1", weight="bold"),
                    rx.foreach(SlaPanelState.history, _event),
                    spacing="2",
                    width="100%",
                    max_height="14rem",
                    overflow_y="auto",
                ),
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
        id="sla-panel",
        on_mount=SlaPanelState.load,
    )
