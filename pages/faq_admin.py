"""`/settings/faq`: managers write the help centre's entries by hand and publish them, and see
how often suggestions answered a client before a ticket (deflection)."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action, Actor
from crm_app.components import confirm_dialog, empty_state, field, form_error
from crm_app.layout import signed_in_page
from crm_app.services import portal as portal_service
from crm_app.services.errors import InvalidInput
from crm_app.services.portal.knowledge import FaqReviewRow
from crm_app.state import AppState, service_event
from models.faq import FaqStatus

STATUS_COLOURS = {"draft": "gray", "published": "green", "unpublished": "amber"}


class FaqAdminState(AppState):
    entries: list[FaqReviewRow] = []
    editing_id: int = 0  # 0: a new entry
    editor_open: bool = False
    form_error: str = ""
    draft_question: str = ""
    draft_answer: str = ""
    draft_category: str = ""
    draft_position: str = "0"
    deflected: int = 0
    submitted: int = 0
    # Bumped on each opening so the editor's uncontrolled inputs remount with their values.
    form_version: int = 0

    @service_event
    def load(self, actor: Actor):
        self.entries = portal_service.knowledge.list_entries(actor)
        figures = portal_service.knowledge.deflection_figures(actor)
        self.deflected, self.submitted = figures.deflected, figures.submitted

    @rx.var
    def deflection_text(self) -> str:
        total = self.deflected + self.submitted
        if not total:
            return "No request form has shown suggestions in the last 30 days."
        return (
            f"Last 30 days: {self.deflected} of {total} clients who were shown suggestions "
            f"left without opening a ticket ({self.deflected / total:.0%})."
        )

    @rx.event
    def new_entry(self):
        self.editing_id, self.form_error = 0, ""
        self.draft_question = self.draft_answer = self.draft_category = ""
        self.draft_position = "0"
        self.form_version += 1
        self.editor_open = True

    @rx.event
    def edit_entry(self, entry_id: int):
        entry = next((e for e in self.entries if e.id == entry_id), None)
        if entry is None:
            return
        self.editing_id, self.form_error = entry.id, ""
        self.draft_question, self.draft_answer = entry.question, entry.answer
        self.draft_category, self.draft_position = entry.category, str(entry.position)
        self.form_version += 1
        self.editor_open = True

    @rx.event
    def set_editor_open(self, value: bool):
        self.editor_open = bool(value)

    @service_event(error_var="form_error")
    def save(self, actor: Actor, form: dict):
        position = str(form.get("position", "0")).strip() or "0"
        if not position.lstrip("-").isdigit():
            raise InvalidInput("The position must be a whole number.")
        portal_service.knowledge.save_entry(
            actor,
            self.editing_id or None,
            question=str(form.get("question", "")),
            answer=str(form.get("answer", "")),
            category=str(form.get("category", "")),
            position=int(position),
        )
        self.editor_open = False
        return [FaqAdminState.load, rx.toast.success("Saved")]

    @service_event
    def set_status(self, actor: Actor, entry_id: int, status: str):
        portal_service.knowledge.set_status(actor, entry_id, status)
        return FaqAdminState.load

    @service_event
    def delete(self, actor: Actor, entry_id: int):
        portal_service.knowledge.delete_entry(actor, entry_id)
        return [FaqAdminState.load, rx.toast.success("Deleted")]


def _editor() -> rx.Component:
    s = FaqAdminState
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(s.editing_id == 0, "New entry", "Edit entry")),
            rx.form(
                rx.vstack(
                    field(
                        "Question",
                        rx.input(
                            name="question",
                            id="faq-question",
                            default_value=s.draft_question,
                            required=True,
                            width="100%",
                        ),
                    ),
                    field(
                        "Answer",
                        rx.text_area(
                            name="answer",
                            id="faq-answer",
                            rows="8",
                            default_value=s.draft_answer,
                            required=True,
                            width="100%",
                        ),
                    ),
                    rx.hstack(
                        field(
                            "Category",
                            rx.input(
                                name="category",
                                id="faq-category",
                                default_value=s.draft_category,
                                width="100%",
                            ),
                        ),
                        field(
                            "Position",
                            rx.input(
                                name="position",
                                id="faq-position",
                                default_value=s.draft_position,
                                type="number",
                                width="100%",
                            ),
                        ),
                        width="100%",
                    ),
                    form_error(s.form_error),
                    rx.hstack(
                        rx.dialog.close(
                            rx.button("Cancel", variant="soft", color_scheme="gray", type="button")
                        ),
                        rx.button("Save", type="submit", id="faq-save"),
                        justify="end",
                        width="100%",
                    ),
                    spacing="3",
                ),
                on_submit=FaqAdminState.save,
                key=s.form_version,
            ),
            max_width="40rem",
        ),
        open=s.editor_open,
        on_open_change=FaqAdminState.set_editor_open,
    )


def _row(entry: FaqReviewRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.text(entry.question, weight="medium"),
            rx.text(entry.category, size="1", color_scheme="gray"),
        ),
        rx.table.cell(
            rx.badge(
                entry.status, color_scheme=rx.match(entry.status, *STATUS_COLOURS.items(), "gray")
            )
        ),
        rx.table.cell(entry.views),
        rx.table.cell(entry.updated_at),
        rx.table.cell(
            rx.hstack(
                rx.button(
                    "Edit", size="1", variant="soft", on_click=FaqAdminState.edit_entry(entry.id)
                ),
                rx.cond(
                    entry.status == FaqStatus.PUBLISHED.value,
                    rx.button(
                        "Unpublish",
                        size="1",
                        variant="soft",
                        color_scheme="amber",
                        on_click=FaqAdminState.set_status(entry.id, FaqStatus.UNPUBLISHED.value),
                    ),
                    rx.button(
                        "Publish",
                        size="1",
                        variant="soft",
                        color_scheme="green",
                        on_click=FaqAdminState.set_status(entry.id, FaqStatus.PUBLISHED.value),
                        class_name="faq-publish",
                    ),
                ),
                confirm_dialog(
                    rx.button("Delete", size="1", variant="ghost", color_scheme="red"),
                    "Delete entry",
                    "Delete this entry for good? Clients no longer see it.",
                    confirm_label="Delete",
                    on_confirm=FaqAdminState.delete(entry.id),
                ),
                spacing="2",
            )
        ),
        class_name="faq-row",
    )


@signed_in_page(
    routes.FAQ_ADMIN, "Help centre FAQ", Action.MANAGE_FAQ, on_load=[FaqAdminState.load]
)
def faq_admin_page() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text(
                FaqAdminState.deflection_text,
                size="2",
                color_scheme="gray",
                id="deflection-figures",
            ),
            rx.spacer(),
            rx.button(
                rx.icon("plus", size=16),
                "New entry",
                on_click=FaqAdminState.new_entry,
                id="faq-new",
            ),
            width="100%",
            align="center",
        ),
        rx.cond(
            FaqAdminState.entries.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[
                            rx.table.column_header_cell(h)
                            for h in ("Question", "Status", "Views", "Updated", "")
                        ]
                    )
                ),
                rx.table.body(rx.foreach(FaqAdminState.entries, _row)),
                width="100%",
                variant="surface",
            ),
            empty_state(
                "book-open",
                "No entries yet",
                "Write the questions clients ask most; publish them for the portal's help centre.",
            ),
        ),
        _editor(),
        width="100%",
        spacing="4",
    )
