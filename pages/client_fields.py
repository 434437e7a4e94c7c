"""Custom client fields (managers): typed fields added to every client record, usable in
the profile, the list's filters and segments."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action, Actor
from crm_app.components import empty_state, field, form_error
from crm_app.layout import signed_in_page
from crm_app.services import client_fields
from crm_app.services.client_fields import CustomFieldRow
from crm_app.state import AppState, service_event
from models.client import CustomFieldType


class ClientFieldsState(AppState):
    fields: list[CustomFieldRow] = []
    field_type: str = CustomFieldType.TEXT.value
    error: str = ""

    @service_event
    def load(self, actor: Actor):
        self.fields = client_fields.list_custom_fields(actor)

    @rx.event
    def set_field_type(self, value: str):
        self.field_type = value

    @service_event(error_var="error")
    def define(self, actor: Actor, form: dict):
        self.error = ""
        row = client_fields.define_custom_field(
            actor,
            key=form.get("key", ""),
            label=form.get("label", ""),
            field_type=self.field_type,
            choices=form.get("choices", ""),
        )
        return [ClientFieldsState.load, rx.toast.success(f"Field “{row.label}” added")]


def _row(row: CustomFieldRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.label, weight="medium")),
        rx.table.cell(rx.code(row.key)),
        rx.table.cell(rx.badge(row.field_type, variant="soft")),
        rx.table.cell(row.choices.join(", ")),
        class_name="custom-field-row",
    )


def _form() -> rx.Component:
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading("Add a field", size="3"),
                rx.hstack(
                    field(
                        "Label",
                        rx.input(
                            name="label",
                            id="field-label",
                            required=True,
                            placeholder="Preferred contact time",
                        ),
                    ),
                    field(
                        "Key",
                        rx.input(
                            name="key", id="field-key", required=True, placeholder="contact_time"
                        ),
                    ),
                    field(
                        "Type",
                        rx.select(
                            [t.value for t in CustomFieldType],
                            value=ClientFieldsState.field_type,
                            on_change=ClientFieldsState.set_field_type,
                        ),
                    ),
                    width="100%",
                ),
                rx.cond(
                    ClientFieldsState.field_type == CustomFieldType.CHOICE.value,
                    field(
                        "Choices (comma separated)",
                        rx.input(
                            name="choices",
                            id="field-choices",
                            width="100%",
                            placeholder="morning, afternoon, evening",
                        ),
                    ),
                ),
                form_error(ClientFieldsState.error),
                rx.button("Add field", type="submit", id="add-field"),
                spacing="3",
                width="100%",
            ),
            on_submit=ClientFieldsState.define,
            reset_on_submit=True,
        ),
        width="100%",
    )


@signed_in_page(
    routes.CLIENT_FIELDS,
    "Custom client fields",
    Action.MANAGE_CLIENT_FIELDS,
    on_load=[ClientFieldsState.load],
)
def client_fields_page() -> rx.Component:
    return rx.vstack(
        rx.text(
            "Fields added here appear on every client profile, in the list's filters and "
            "in the segment builder. A key cannot be changed once clients hold values.",
            color_scheme="gray",
            size="2",
        ),
        rx.cond(
            ClientFieldsState.fields.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[
                            rx.table.column_header_cell(h)
                            for h in ("Label", "Key", "Type", "Choices")
                        ]
                    )
                ),
                rx.table.body(rx.foreach(ClientFieldsState.fields, _row)),
                width="100%",
                variant="surface",
            ),
            empty_state(
                "list-plus",
                "No custom fields yet",
                "Add the first one below, e.g. a preferred contact time.",
            ),
        ),
        _form(),
        spacing="4",
        width="100%",
    )
