"""The original of an archived message (`/knowledge/messages/<id>`), where citations lead:
headers, body as plain text, the attachment list, and the archives that hold it."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action, Actor
from crm_app.components import empty_state
from crm_app.layout import signed_in_page
from crm_app.services import archives
from crm_app.services.archives import ArchivedMessageView
from crm_app.state import AppState, service_event


class ArchiveMessageState(AppState):
    message: ArchivedMessageView | None = None
    problem: str = ""

    def _failed(self, message: str) -> None:
        self.message, self.problem = None, message

    @service_event(on_error="_failed")
    def load(self, actor: Actor):
        raw = str(self.router.page.params.get("document_id", ""))
        self.message, self.problem = None, ""
        if not raw.isdigit() or len(raw) > 12:
            self.problem = "No such message."
            return
        self.message = archives.get_archived_message(actor, int(raw))


def _header(label: str, value: rx.Var) -> rx.Component:
    return rx.cond(
        value != "",
        rx.hstack(
            rx.text(label, size="2", color_scheme="gray", width="7rem", flex_shrink="0"),
            rx.text(value, size="2", word_break="break-word"),
            align="start",
            width="100%",
        ),
    )


def _attachment(item: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.icon("paperclip", size=14),
        rx.text(item["filename"], size="2"),
        rx.text(item["content_type"], " · ", item["size"], " bytes", size="1", color_scheme="gray"),
        rx.cond(item["text_indexed"], rx.badge("text searchable", size="1", variant="soft")),
        align="center",
    )


@signed_in_page(
    routes.ARCHIVE_MESSAGE,
    "Archived message",
    Action.VIEW_TICKETS,
    on_load=[ArchiveMessageState.load],
)
def archive_message_page() -> rx.Component:
    s = ArchiveMessageState
    m = s.message
    return rx.cond(
        m,
        rx.vstack(
            rx.heading(m.subject, size="5", id="archived-subject"),
            rx.card(
                rx.vstack(
                    _header("From", m.sender),
                    _header("To", m.recipients),
                    _header("Cc", m.cc),
                    _header("Date", m.date),
                    _header("Message-ID", m.message_id),
                    _header("In reply to", m.in_reply_to),
                    _header("Folder", m.folder),
                    _header("Archive", m.archive_labels.join(", ")),
                    spacing="1",
                    width="100%",
                ),
                width="100%",
            ),
            rx.cond(
                m.attachments.length() > 0,
                rx.card(
                    rx.vstack(
                        rx.text("Attachments", weight="medium", size="2"),
                        rx.foreach(m.attachments, _attachment),
                        spacing="1",
                    ),
                    width="100%",
                ),
            ),
            rx.card(
                rx.el.pre(
                    m.body,
                    white_space="pre-wrap",
                    word_break="break-word",
                    font_family="inherit",
                    font_size="14px",
                    margin="0",
                    id="archived-body",
                ),
                width="100%",
            ),
            rx.link("← Back to knowledge search", href=routes.KNOWLEDGE, size="2"),
            spacing="3",
            width="100%",
            max_width="1000px",
        ),
        rx.cond(
            s.problem != "",
            empty_state("mail-x", "Message not available", s.problem),
            rx.spinner(),
        ),
    )
