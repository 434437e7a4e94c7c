"""`/portal/tickets/[number]`: one of the client's requests: the conversation (their messages
and the firm's replies, never internal notes), a comment with files, close or reopen, and a
rating once it is solved. Updates live when an agent answers."""

from __future__ import annotations

import asyncio
import time

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Actor
from crm_app.components import empty_state
from crm_app.services import portal as portal_service
from crm_app.services.attachments import AttachmentRow
from crm_app.services.errors import InvalidInput, ServiceError
from crm_app.services.portal.requests import PortalMessageRow, PortalTicketRow
from crm_app.state import service_event
from crm_app.timefmt import when
from pages.portal.files import PORTAL_FILES_ID, PortalFiles, attach_control
from pages.portal.layout import PortalBase, portal_page
from pages.portal.requests import portal_status_badge

LIVE_POLL_SECONDS = 3
COMMENT_ID = "portal-comment"
LIVE_MAX_SECONDS = 4 * 3600


def route_number(params: dict) -> int:
    raw = str(params.get("number", "")).strip().lstrip("#")
    if not raw.isdigit() or len(raw) > 18:
        raise InvalidInput("That is not a request number.")
    return int(raw)


class PortalTicketState(PortalFiles, PortalBase):
    ticket: PortalTicketRow | None = None
    messages: list[PortalMessageRow] = []
    can_comment: bool = False
    can_close: bool = False
    can_reopen: bool = False
    can_rate: bool = False
    rating_score: int = 0
    rating_comment: str = ""
    rating_choice: int = 0
    not_found: str = ""
    _number: int = 0
    _signature: str = ""
    _live_running: bool = False

    def _upload_target(self) -> int | None:
        return self._number or -1  # never None here: a ticket page does not open a request

    def _refresh(self, actor: Actor) -> None:
        detail = portal_service.requests.get_request(actor, self._number)
        self.ticket, self.messages = detail.ticket, detail.messages
        self.can_comment, self.can_close = detail.can_comment, detail.can_close
        self.can_reopen, self.can_rate = detail.can_reopen, detail.can_rate
        self.rating_score, self.rating_comment = detail.rating_score, detail.rating_comment
        self.rating_choice = detail.rating_score
        self._signature = portal_service.requests.request_signature(actor, self._number)

    def _not_found(self, message: str) -> None:
        self.ticket, self.messages, self.not_found = None, [], message
        self._number = 0

    @service_event(on_error="_not_found")
    def load(self, actor: Actor):
        self.not_found, self.upload_error = "", ""
        self._set_staged([])
        self._number = route_number(self.router.page.params)
        self._refresh(actor)
        return PortalTicketState.live_loop

    @service_event
    def send_comment(self, actor: Actor, form: dict):
        if self.ticket is None:
            return None
        portal_service.requests.add_comment(
            actor, self._number, str(form.get("comment", "")), files=self._staged
        )
        self._set_staged([])
        self._refresh(actor)
        # Cleared only once sent: a refused message stays in the box to be corrected.
        return [
            rx.set_value(COMMENT_ID, ""),
            rx.clear_selected_files(PORTAL_FILES_ID),
            rx.toast.success("Message sent"),
        ]

    @service_event
    def close_request(self, actor: Actor):
        if self.ticket is None:
            return None
        portal_service.requests.close_request(actor, self._number)
        self._refresh(actor)
        return rx.toast.success("Request closed")

    @service_event
    def reopen_request(self, actor: Actor):
        if self.ticket is None:
            return None
        portal_service.requests.reopen_request(actor, self._number)
        self._refresh(actor)
        return rx.toast.success("Request reopened")

    @rx.event
    def choose_rating(self, score: int):
        if isinstance(score, int) and 1 <= score <= 5:
            self.rating_choice = score

    @service_event
    def rate(self, actor: Actor, form: dict):
        if self.ticket is None:
            return None
        portal_service.requests.rate_request(
            actor, self._number, self.rating_choice, str(form.get("csat_comment", ""))
        )
        self._refresh(actor)
        return rx.toast.success("Thank you for your rating")

    @rx.event(background=True)
    async def live_loop(self):
        """A cheap version check every few seconds: an agent's answer shows up by itself."""
        async with self:
            if self._live_running:
                return
            self._live_running = True
        started = time.monotonic()
        try:
            while time.monotonic() - started < LIVE_MAX_SECONDS:
                await asyncio.sleep(LIVE_POLL_SECONDS)
                async with self:
                    if self.router.page.path != routes.PORTAL_TICKET or not self._number:
                        return
                    number, seen = self._number, self._signature
                actor = await asyncio.to_thread(self.live_actor)
                if actor is None:
                    return
                try:
                    signature = await asyncio.to_thread(
                        portal_service.requests.request_signature, actor, number
                    )
                    if signature == seen:
                        continue
                    detail = await asyncio.to_thread(
                        portal_service.requests.get_request, actor, number
                    )
                except ServiceError:
                    return
                async with self:
                    if self._number != number:
                        continue
                    self.ticket, self.messages = detail.ticket, detail.messages
                    self.can_comment, self.can_close = detail.can_comment, detail.can_close
                    self.can_reopen, self.can_rate = detail.can_reopen, detail.can_rate
                    self.rating_score = detail.rating_score
                    self.rating_comment = detail.rating_comment
                    self._signature = signature
        finally:
            async with self:
                self._live_running = False


def _file(attachment: AttachmentRow) -> rx.Component:
    return rx.link(
        rx.hstack(
            rx.icon("paperclip", size=12),
            rx.text(attachment.filename, size="1"),
            rx.text(attachment.size_label, size="1", color_scheme="gray"),
            align="center",
            spacing="1",
        ),
        href=attachment.url,
        class_name="portal-attachment",
    )


def _message(message: PortalMessageRow) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.text(message.author, weight="bold", size="2"),
            when(message.created_iso),
            align="center",
            spacing="2",
        ),
        rx.text(message.body_text, white_space="pre-wrap", size="2", overflow_wrap="anywhere"),
        rx.hstack(rx.foreach(message.attachments, _file), wrap="wrap", spacing="3"),
        padding="0.75rem 1rem",
        border_radius="10px",
        max_width="80%",
        align_self=rx.cond(message.from_me, "flex-end", "flex-start"),
        background=rx.cond(message.from_me, rx.color("accent", 3), rx.color("gray", 3)),
        class_name=rx.cond(message.from_me, "portal-message mine", "portal-message reply"),
    )


def _comment_form() -> rx.Component:
    s = PortalTicketState
    return rx.cond(
        s.can_comment,
        rx.form(
            rx.vstack(
                rx.text_area(
                    name="comment",
                    id=COMMENT_ID,
                    rows="4",
                    width="100%",
                    placeholder="Write a message to the firm…",
                ),
                attach_control(PortalTicketState),
                rx.hstack(
                    rx.spacer(),
                    rx.button(
                        "Send message", type="submit", id="portal-send", disabled=s.uploading
                    ),
                    width="100%",
                ),
                width="100%",
                spacing="2",
            ),
            on_submit=PortalTicketState.send_comment,
            reset_on_submit=False,
            width="100%",
        ),
        rx.callout(
            "This request is closed. Reopen it to write again.",
            icon="lock",
            color_scheme="gray",
            width="100%",
        ),
    )


def _star(score: int) -> rx.Component:
    s = PortalTicketState
    return rx.icon_button(
        rx.icon("star", size=18),
        type="button",
        variant=rx.cond(s.rating_choice >= score, "solid", "soft"),
        color_scheme=rx.cond(s.rating_choice >= score, "amber", "gray"),
        on_click=PortalTicketState.choose_rating(score),
        aria_label=f"{score} of 5",
        id=f"csat-{score}",
    )


def _rating_card() -> rx.Component:
    s = PortalTicketState
    return rx.cond(
        s.can_rate,
        rx.card(
            rx.form(
                rx.vstack(
                    rx.text(
                        rx.cond(
                            s.rating_score > 0,
                            "Your rating (you can change it)",
                            "How satisfied are you with the answer?",
                        ),
                        weight="medium",
                    ),
                    rx.hstack(*(_star(n) for n in range(1, 6)), spacing="1"),
                    rx.text_area(
                        name="csat_comment",
                        id="csat-comment",
                        rows="2",
                        width="100%",
                        default_value=s.rating_comment,
                        placeholder="Anything to add? (optional)",
                    ),
                    rx.button(
                        "Send rating", type="submit", id="csat-send", disabled=s.rating_choice == 0
                    ),
                    rx.cond(
                        s.rating_score > 0,
                        rx.text(
                            "Rated ",
                            s.rating_score,
                            " of 5",
                            size="1",
                            color_scheme="gray",
                            id="csat-given",
                        ),
                    ),
                    spacing="2",
                    width="100%",
                ),
                on_submit=PortalTicketState.rate,
                width="100%",
            ),
            width="100%",
            id="csat-card",
        ),
    )


def _ticket(ticket: PortalTicketRow) -> rx.Component:
    s = PortalTicketState
    return rx.vstack(
        rx.hstack(
            rx.link(rx.icon("arrow-left", size=16), "My requests", href=routes.PORTAL, size="2"),
            rx.heading(ticket.subject, size="5", id="portal-ticket-title"),
            rx.text("#", ticket.number, color_scheme="gray"),
            portal_status_badge(ticket),
            rx.spacer(),
            rx.cond(
                s.can_reopen,
                rx.button(
                    "Reopen",
                    variant="soft",
                    on_click=PortalTicketState.reopen_request,
                    id="portal-reopen",
                ),
            ),
            rx.cond(
                s.can_close,
                rx.button(
                    "Close request",
                    variant="soft",
                    color_scheme="gray",
                    on_click=PortalTicketState.close_request,
                    id="portal-close",
                ),
            ),
            align="center",
            width="100%",
            wrap="wrap",
        ),
        rx.vstack(
            rx.foreach(s.messages, _message), width="100%", spacing="3", id="portal-timeline"
        ),
        _rating_card(),
        _comment_form(),
        width="100%",
        spacing="4",
    )


@portal_page(routes.PORTAL_TICKET, "Request", on_load=[PortalTicketState.load])
def portal_ticket_page() -> rx.Component:
    return rx.cond(
        PortalTicketState.ticket,
        _ticket(PortalTicketState.ticket),
        rx.cond(
            PortalTicketState.not_found != "",
            empty_state("search-x", "Request not found", PortalTicketState.not_found),
            rx.spinner(),
        ),
    )
