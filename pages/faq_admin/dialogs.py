"""The FAQ review page's dialogs: review one entry (edit, versions, approve and publish, reject),
and merge two entries."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.components import field, form_error
from crm_app.services.portal.knowledge import VersionRow
from models.faq import FaqStatus
from pages.faq_admin.state import FaqAdminState


def entry_editor() -> rx.Component:
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


def _version(version: VersionRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(version.version),
        rx.table.cell(version.change),
        rx.table.cell(version.changed_by),
        rx.table.cell(version.created_at),
        rx.table.cell(rx.text(version.question, size="1")),
    )


def review_dialog() -> rx.Component:
    s = FaqAdminState
    entry = s.reviewed
    return rx.dialog.root(
        rx.dialog.content(
            rx.cond(
                entry,
                rx.vstack(
                    rx.dialog.title(entry.question),
                    rx.cond(
                        entry.updates_entry_id != 0,
                        rx.callout(
                            rx.text(
                                "Proposes new text for the published entry: ",
                                entry.updates_question,
                            ),
                            icon="refresh-cw",
                            size="1",
                            color_scheme="blue",
                        ),
                    ),
                    rx.text(entry.answer, white_space="pre-wrap", size="2"),
                    rx.cond(
                        entry.flags.length() > 0,
                        rx.vstack(
                            rx.foreach(
                                entry.flags,
                                lambda flag: rx.callout(
                                    flag, icon="triangle-alert", color_scheme="red", size="1"
                                ),
                            ),
                            width="100%",
                            spacing="1",
                            id="faq-flags",
                        ),
                    ),
                    rx.cond(
                        entry.topic_size > 0,
                        rx.vstack(
                            rx.heading("Topic: ", entry.topic_size, " client questions", size="2"),
                            rx.unordered_list(
                                rx.foreach(
                                    entry.sample_questions,
                                    lambda q: rx.list_item(rx.text(q, size="2")),
                                )
                            ),
                            rx.hstack(
                                rx.text("Source tickets:", size="2"),
                                rx.foreach(
                                    entry.source_tickets,
                                    lambda n: rx.link(
                                        "#",
                                        n,
                                        href=routes.ticket(n),
                                        size="2",
                                        class_name="faq-source-ticket",
                                    ),
                                ),
                                wrap="wrap",
                                spacing="2",
                            ),
                            spacing="1",
                            width="100%",
                        ),
                    ),
                    rx.heading("History", size="2"),
                    rx.table.root(
                        rx.table.header(
                            rx.table.row(
                                *[
                                    rx.table.column_header_cell(h)
                                    for h in ("Version", "Change", "By", "When", "Question")
                                ]
                            )
                        ),
                        rx.table.body(rx.foreach(s.history, _version)),
                        size="1",
                        width="100%",
                        id="faq-history",
                    ),
                    rx.hstack(
                        rx.button(
                            "Edit",
                            variant="soft",
                            on_click=FaqAdminState.edit_entry(entry.id),
                        ),
                        rx.cond(
                            entry.status != FaqStatus.PUBLISHED.value,
                            rx.button(
                                "Approve and publish",
                                color_scheme="green",
                                on_click=FaqAdminState.set_status(
                                    entry.id, FaqStatus.PUBLISHED.value
                                ),
                                id="faq-approve",
                            ),
                        ),
                        rx.cond(
                            entry.status == FaqStatus.DRAFT.value,
                            rx.button(
                                "Reject",
                                variant="soft",
                                color_scheme="red",
                                on_click=FaqAdminState.set_status(
                                    entry.id, FaqStatus.REJECTED.value
                                ),
                                id="faq-reject",
                            ),
                        ),
                        rx.spacer(),
                        rx.dialog.close(rx.button("Close", variant="soft", color_scheme="gray")),
                        width="100%",
                    ),
                    spacing="3",
                    width="100%",
                ),
            ),
            max_width="52rem",
        ),
        open=s.review_id != 0,
        on_open_change=FaqAdminState.set_review_open,
    )


def merge_dialog() -> rx.Component:
    s = FaqAdminState
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Merge into…"),
            rx.dialog.description(
                "The chosen entry keeps its text and takes over this one's topic (questions "
                "and tickets); this one leaves the list and the help centre.",
                size="2",
            ),
            rx.vstack(
                rx.foreach(
                    s.merge_targets,
                    lambda e: rx.hstack(
                        rx.text(e.question, size="2", flex="1"),
                        rx.badge(e.status),
                        rx.button("Merge here", size="1", on_click=FaqAdminState.merge_into(e.id)),
                        width="100%",
                        align="center",
                        class_name="faq-merge-target",
                    ),
                ),
                max_height="24rem",
                overflow_y="auto",
                width="100%",
                padding_y="0.5rem",
            ),
            rx.hstack(
                rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray")),
                justify="end",
            ),
            max_width="40rem",
        ),
        open=s.merge_source_id != 0,
        on_open_change=FaqAdminState.set_merge_open,
    )
