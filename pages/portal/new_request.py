"""`/portal/new`: a new request (what it is about, subject, message, files). While the client
types, published FAQ entries that may answer it are suggested (debounced, no blur needed);
leaving after reading one without sending records a deflection."""

from __future__ import annotations

import contextlib

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Actor
from crm_app.components import field, form_error
from crm_app.services import portal as portal_service
from crm_app.services.errors import ServiceError
from crm_app.services.portal.knowledge import FaqRow
from crm_app.services.portal.requests import CATEGORIES
from crm_app.state import service_event
from pages.portal.files import PORTAL_FILES_ID, PortalFiles, attach_control
from pages.portal.layout import PortalBase, portal_page

SUGGEST_DEBOUNCE_MS = 400


class NewRequestState(PortalFiles, PortalBase):
    category: str = ""
    suggestions: list[FaqRow] = []
    opened_id: int = 0
    error: str = ""
    _subject: str = ""
    _message: str = ""
    _suggested_ids: list[int] = []
    _viewed_ids: list[int] = []
    _done: bool = True  # nothing to record until the form is opened

    @service_event
    def load(self, actor: Actor):
        portal_service.requests.list_requests(actor)  # the permission check, before anything
        self.category, self.error, self.opened_id = "", "", 0
        self.suggestions, self._subject, self._message = [], "", ""
        self._suggested_ids, self._viewed_ids, self._done = [], [], False
        self._set_staged([])
        self.upload_error = ""

    @rx.event
    def set_category(self, value: str):
        if value in CATEGORIES:
            self.category = value

    def _suggest(self, actor: Actor) -> None:
        self.suggestions = portal_service.knowledge.suggest(
            actor, f"{self._subject} {self._message}"
        )
        shown = [row.id for row in self.suggestions]
        self._suggested_ids = [
            *self._suggested_ids,
            *(i for i in shown if i not in self._suggested_ids),
        ]
        if self.opened_id not in shown:
            self.opened_id = 0

    @service_event
    def type_subject(self, actor: Actor, text: str):
        self._subject = str(text)[:300]
        self._suggest(actor)

    @service_event
    def type_message(self, actor: Actor, text: str):
        self._message = str(text)[:2000]
        self._suggest(actor)

    @service_event
    def open_suggestion(self, actor: Actor, entry_id: int):
        """Only an entry this form suggested opens here (and counts as read)."""
        if entry_id == self.opened_id:
            self.opened_id = 0
            return
        if entry_id not in [row.id for row in self.suggestions]:
            return
        portal_service.knowledge.view_entry(actor, entry_id)
        self.opened_id = entry_id
        if entry_id not in self._viewed_ids:
            self._viewed_ids = [*self._viewed_ids, entry_id]

    def _record(self, actor: Actor, number: int | None) -> None:
        if self._done:
            return
        self._done = True
        with contextlib.suppress(ServiceError):  # measuring never stops the client
            portal_service.knowledge.record_request_outcome(
                actor,
                query=f"{self._subject} {self._message}".strip()[:300],
                suggested_ids=self._suggested_ids,
                viewed_ids=self._viewed_ids,
                ticket_number=number,
            )

    @service_event(error_var="error")
    def submit(self, actor: Actor, form: dict):
        self.error = ""
        number = portal_service.requests.open_request(
            actor,
            subject=str(form.get("subject", "")),
            message=str(form.get("message", "")),
            category=self.category,
            files=self._staged,
        )
        self._record(actor, number)
        self._set_staged([])
        return [
            rx.clear_selected_files(PORTAL_FILES_ID),
            rx.redirect(routes.portal_ticket(number)),
            rx.toast.success(f"Request #{number} sent"),
        ]

    @rx.event
    def leave(self):
        """The client left the form: a deflection if they read a suggestion and sent nothing."""
        actor = self.actor()
        if actor is not None:
            self._record(actor, None)


def _suggestion(entry: FaqRow) -> rx.Component:
    opened = NewRequestState.opened_id == entry.id
    return rx.box(
        rx.button(
            rx.icon(rx.cond(opened, "chevron-down", "chevron-right"), size=14),
            rx.text(entry.question, text_align="left", size="2"),
            variant="ghost",
            type="button",
            on_click=NewRequestState.open_suggestion(entry.id),
            width="100%",
            justify="start",
            class_name="faq-suggestion",
        ),
        rx.cond(
            opened,
            rx.text(
                entry.answer,
                size="2",
                white_space="pre-wrap",
                padding="0.5rem 0.75rem",
                class_name="faq-suggestion-answer",
            ),
        ),
        width="100%",
    )


def _suggestions() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.icon("lightbulb", size=16),
                rx.text("Maybe this answers it", weight="medium"),
                align="center",
            ),
            rx.cond(
                NewRequestState.suggestions.length() > 0,
                rx.vstack(
                    rx.foreach(NewRequestState.suggestions, _suggestion),
                    width="100%",
                    spacing="1",
                    id="faq-suggestions",
                ),
                rx.text(
                    "As you type, answers from our help centre appear here.",
                    size="2",
                    color_scheme="gray",
                ),
            ),
            rx.link("Browse the help centre", href=routes.PORTAL_HELP, size="2"),
            spacing="3",
            width="100%",
        ),
        width="22rem",
        flex_shrink="0",
    )


@portal_page(routes.PORTAL_NEW, "New request", on_load=[NewRequestState.load])
def new_request_page() -> rx.Component:
    s = NewRequestState
    return rx.hstack(
        rx.form(
            rx.vstack(
                field(
                    "What is it about?",
                    rx.select(
                        list(CATEGORIES),
                        value=s.category,
                        on_change=s.set_category,
                        placeholder="Choose a topic",
                        id="request-category",
                        width="100%",
                    ),
                ),
                field(
                    "Subject",
                    rx.input(
                        name="subject",
                        id="request-subject",
                        required=True,
                        max_length=300,
                        width="100%",
                        on_change=s.type_subject.debounce(SUGGEST_DEBOUNCE_MS),
                    ),
                ),
                field(
                    "Your message",
                    rx.text_area(
                        name="message",
                        id="request-message",
                        required=True,
                        rows="8",
                        width="100%",
                        on_change=s.type_message.debounce(SUGGEST_DEBOUNCE_MS),
                    ),
                ),
                attach_control(NewRequestState),
                form_error(s.error),
                rx.hstack(
                    rx.spacer(),
                    rx.button(
                        "Send request",
                        type="submit",
                        id="request-send",
                        disabled=s.uploading | (s.category == ""),
                    ),
                    width="100%",
                ),
                spacing="3",
                width="100%",
            ),
            on_submit=NewRequestState.submit,
            flex="1",
            min_width="0",
        ),
        _suggestions(),
        align="start",
        spacing="5",
        width="100%",
        on_unmount=NewRequestState.leave,
    )
