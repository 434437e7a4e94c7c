"""Macros & assignment: the canned-reply library (list, create, edit, delete, with the
placeholders explained), each agent's "available" switch and the manager's round-robin switch."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action, Actor
from crm_app.components import confirm_dialog, empty_state, field, form_error
from crm_app.layout import signed_in_page
from crm_app.services import assignment, macros
from crm_app.services.macros import PLACEHOLDERS, MacroRow
from crm_app.services.tickets.tags import parse_list as parse_tag_list
from crm_app.state import AppState, chain, service_event
from models.ticket import TicketPriority, TicketStatus

# Shown or hidden in the browser by the signed-in user's actions (see `AppState.may`).
MAY_SWITCH_ROUND_ROBIN = AppState.may(Action.MANAGE_USERS)

KEEP = "leave as is"
STATUS_CHOICES = [KEEP, *[s.value for s in TicketStatus]]
PRIORITY_CHOICES = [KEEP, *[p.value for p in TicketPriority]]


class WorkspaceSettingsState(AppState):
    macros: list[MacroRow] = []
    round_robin: bool = False
    available: bool = False
    available_agents: list[str] = []
    # the macro dialog (editing_id 0: a new macro)
    dialog_open: bool = False
    editing_id: int = 0
    title: str = ""
    body: str = ""
    set_status: str = KEEP
    set_priority: str = KEEP
    add_tags: str = ""  # comma-separated, as typed
    form_message: str = ""

    @rx.var
    def available_label(self) -> str:
        if not self.available_agents:
            return "No agent is available for round-robin right now."
        return "Available for round-robin: " + ", ".join(self.available_agents)

    @service_event
    def load(self, actor: Actor):
        self.macros = macros.list_macros(actor)
        status = assignment.status(actor)
        self.round_robin, self.available = status.round_robin_enabled, status.you_are_available
        self.available_agents = status.available_agents

    @service_event
    def toggle_round_robin(self, actor: Actor, enabled: bool):
        assignment.set_round_robin(actor, enabled)
        return chain(
            self.load(),
            rx.toast.success(
                "Round-robin is on: new tickets go to available agents in turn"
                if enabled
                else "Round-robin is off"
            ),
        )

    @service_event
    def toggle_available(self, actor: Actor, available: bool):
        assignment.set_available(actor, available)
        return chain(
            self.load(),
            rx.toast.success(
                "You are available for new tickets" if available else "You are marked away"
            ),
        )

    @rx.event
    def new_macro(self):
        self.editing_id, self.title, self.body = 0, "", ""
        self.set_status, self.set_priority, self.form_message = KEEP, KEEP, ""
        self.add_tags = ""
        self.dialog_open = True

    @rx.event
    def edit_macro(self, macro_id: int):
        macro = next((m for m in self.macros if m.id == macro_id), None)
        if macro is None:
            return rx.toast.error("That macro no longer exists.", position="top-center")
        self.editing_id, self.title, self.body = macro.id, macro.title, macro.body
        self.set_status = macro.set_status or KEEP
        self.set_priority = macro.set_priority or KEEP
        self.add_tags = ", ".join(macro.add_tags)
        self.form_message, self.dialog_open = "", True
        return None

    @rx.event
    def set_dialog_open(self, value: bool):
        self.dialog_open = value

    @rx.event
    def set_title(self, value: str):
        self.title = value

    @rx.event
    def set_body(self, value: str):
        self.body = value

    @rx.event
    def set_add_tags(self, value: str):
        self.add_tags = value[:400]

    @rx.event
    def choose_status(self, value: str):
        self.set_status = value

    @rx.event
    def choose_priority(self, value: str):
        self.set_priority = value

    @service_event(error_var="form_message")
    def save(self, actor: Actor, form: dict):
        self.form_message = ""
        saved = macros.save_macro(
            actor,
            title=str(form.get("title", self.title)),
            body=str(form.get("body", self.body)),
            set_status="" if self.set_status == KEEP else self.set_status,
            set_priority="" if self.set_priority == KEEP else self.set_priority,
            add_tags=parse_tag_list(str(form.get("add_tags", ""))),
            macro_id=self.editing_id or None,
        )
        self.dialog_open = False
        return chain(self.load(), rx.toast.success(f"Macro “{saved.title}” saved"))

    @service_event
    def delete(self, actor: Actor, macro_id: int):
        macros.delete_macro(actor, macro_id)
        return chain(self.load(), rx.toast.success("Macro deleted"))


def _assignment_card() -> rx.Component:
    s = WorkspaceSettingsState
    return rx.card(
        rx.vstack(
            rx.heading("Assignment", size="4"),
            rx.hstack(
                rx.switch(checked=s.available, on_change=s.toggle_available, id="available-switch"),
                rx.text("I am available for new tickets", as_="label", html_for="available-switch"),
                align="center",
            ),
            rx.cond(
                MAY_SWITCH_ROUND_ROBIN,
                rx.hstack(
                    rx.switch(
                        checked=s.round_robin,
                        on_change=s.toggle_round_robin,
                        id="round-robin-switch",
                        color_scheme="green",
                    ),
                    rx.text(
                        "Round-robin: hand new unassigned tickets to available agents in turn",
                        as_="label",
                        html_for="round-robin-switch",
                    ),
                    align="center",
                ),
                rx.text(
                    "Round-robin is ",
                    rx.cond(s.round_robin, "on", "off"),
                    " (a manager switches it).",
                    size="2",
                    color_scheme="gray",
                ),
            ),
            rx.text(s.available_label, size="2", color_scheme="gray", id="available-agents"),
            spacing="3",
        ),
        width="100%",
    )


def _macro_row(macro: MacroRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(macro.title, weight="medium")),
        rx.table.cell(
            rx.text(
                macro.body,
                size="1",
                color_scheme="gray",
                max_width="32rem",
                overflow="hidden",
                text_overflow="ellipsis",
                white_space="nowrap",
            )
        ),
        rx.table.cell(
            rx.cond(
                macro.set_status != "",
                rx.badge("status → ", macro.set_status),
                rx.text("—", color_scheme="gray"),
            )
        ),
        rx.table.cell(
            rx.cond(
                macro.set_priority != "",
                rx.badge("priority → ", macro.set_priority, variant="outline"),
                rx.text("—", color_scheme="gray"),
            )
        ),
        rx.table.cell(
            rx.cond(
                macro.add_tags.length() > 0,
                rx.hstack(
                    rx.foreach(macro.add_tags, lambda t: rx.badge("+ ", t, variant="soft")),
                    wrap="wrap",
                    spacing="1",
                ),
                rx.text("—", color_scheme="gray"),
            )
        ),
        rx.table.cell(
            rx.hstack(
                rx.button(
                    rx.icon("pencil", size=14),
                    "Edit",
                    size="1",
                    variant="soft",
                    on_click=WorkspaceSettingsState.edit_macro(macro.id),
                    aria_label="Edit " + macro.title,
                ),
                confirm_dialog(
                    rx.button(
                        rx.icon("trash-2", size=14),
                        "Delete",
                        size="1",
                        variant="soft",
                        color_scheme="red",
                        aria_label="Delete " + macro.title,
                    ),
                    "Delete macro",
                    "Delete “",
                    macro.title,
                    "”? Agents will no longer find it in the composer.",
                    confirm_label="Delete",
                    on_confirm=WorkspaceSettingsState.delete(macro.id),
                ),
                spacing="2",
            )
        ),
        class_name="macro-row",
    )


def _placeholder_help() -> rx.Component:
    return rx.callout(
        rx.vstack(
            rx.text("Placeholders are filled from the ticket when the macro is applied:", size="2"),
            rx.hstack(*[rx.code("{" + p + "}") for p in PLACEHOLDERS], wrap="wrap", spacing="2"),
            spacing="1",
        ),
        icon="info",
        color_scheme="blue",
        size="1",
        width="100%",
    )


def _macro_dialog() -> rx.Component:
    s = WorkspaceSettingsState
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(s.editing_id > 0, "Edit macro", "New macro")),
            rx.form(
                rx.vstack(
                    field(
                        "Title",
                        rx.input(
                            name="title",
                            value=s.title,
                            on_change=s.set_title,
                            id="macro-title",
                            required=True,
                            max_length=120,
                            width="100%",
                        ),
                    ),
                    field(
                        "Text",
                        rx.text_area(
                            name="body",
                            value=s.body,
                            on_change=s.set_body,
                            id="macro-body",
                            rows="6",
                            width="100%",
                            placeholder="Hello {client.first_name}, about ticket #{ticket.number}…",
                        ),
                    ),
                    _placeholder_help(),
                    rx.hstack(
                        field(
                            "Also set status",
                            rx.select(
                                STATUS_CHOICES,
                                value=s.set_status,
                                on_change=s.choose_status,
                                id="macro-status",
                            ),
                        ),
                        field(
                            "Also set priority",
                            rx.select(
                                PRIORITY_CHOICES,
                                value=s.set_priority,
                                on_change=s.choose_priority,
                                id="macro-priority",
                            ),
                        ),
                        width="100%",
                    ),
                    field(
                        "Also add tags (comma-separated)",
                        rx.input(
                            name="add_tags",
                            value=s.add_tags,
                            on_change=s.set_add_tags,
                            id="macro-tags",
                            placeholder="kyc, wire transfer",
                            max_length=400,
                            width="100%",
                        ),
                    ),
                    form_error(s.form_message),
                    rx.hstack(
                        rx.dialog.close(
                            rx.button("Cancel", variant="soft", color_scheme="gray", type="button")
                        ),
                        rx.button("Save macro", type="submit", id="save-macro"),
                        justify="end",
                        width="100%",
                    ),
                    spacing="3",
                ),
                on_submit=s.save,
                reset_on_submit=False,
            ),
            max_width="40rem",
        ),
        open=s.dialog_open,
        on_open_change=s.set_dialog_open,
    )


def _macros_card() -> rx.Component:
    s = WorkspaceSettingsState
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("Macros", size="4"),
                rx.spacer(),
                rx.button(
                    rx.icon("plus", size=14), "New macro", on_click=s.new_macro, id="new-macro"
                ),
                width="100%",
                align="center",
            ),
            rx.text(
                "Canned replies agents apply from the ticket composer.",
                size="2",
                color_scheme="gray",
            ),
            rx.cond(
                s.macros.length() > 0,
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            *[
                                rx.table.column_header_cell(h)
                                for h in ("Title", "Text", "Status", "Priority", "Tags", "")
                            ]
                        )
                    ),
                    rx.table.body(rx.foreach(s.macros, _macro_row)),
                    width="100%",
                    size="1",
                ),
                empty_state(
                    "message-square-text",
                    "No macros yet",
                    "Create a canned reply once and apply it to any ticket.",
                ),
            ),
            _macro_dialog(),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


@signed_in_page(
    routes.WORKSPACE,
    "Macros & assignment",
    Action.VIEW_TICKETS,
    on_load=[WorkspaceSettingsState.load],
)
def workspace_settings_page() -> rx.Component:
    return rx.vstack(
        _assignment_card(), _macros_card(), spacing="4", width="100%", max_width="64rem"
    )
