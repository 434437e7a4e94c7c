"""The web chat widget (`/chat/<site>`), embedded on the firm's website in an iframe (the
snippet is on the channel settings page). A visitor gives name and email, writes, and sees
the staff's answers while the page is open (a poll every few seconds, through PostgreSQL so
every worker agrees). Everything shown is text: nothing a visitor or agent writes runs as HTML.

The visitor's signed credential lives in the browser's local storage, so a reload or a later
visit continues the conversation (until it is solved or closed, or 30 days pass); every event
is checked again by the service (signature, site, expiry, limits)."""

from __future__ import annotations

import asyncio
import contextlib
import time

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action, Actor, can
from crm_app.services import web_sessions
from crm_app.services.errors import ServiceError
from crm_app.services.messaging import web_chat
from crm_app.services.messaging.web_chat import ChatLine, ResumedChat
from crm_app.state import AppState, service_event

POLL_SECONDS = 2
# Where the browser refuses storage to the framed widget (it blocks third-party cookies),
# assets/chat_storage.js gives the page an in-memory storage before the frontend starts.
STORAGE_SHIM = "/chat_storage.js"
LIVE_MAX_SECONDS = 2 * 3600
TYPING_EVERY_SECONDS = 3


class ChatWidgetState(AppState):
    found: bool = True
    brand_name: str = ""
    colour: str = "#0d9488"
    greeting: str = ""
    office_hours: str = ""
    available: bool = True
    enabled: bool = True
    visitor_name: str = ""
    visitor_email: str = ""
    website: str = ""  # the honeypot: people never see it, bots fill it in
    draft: str = ""
    lines: list[ChatLine] = []
    error: str = ""
    started: bool = False
    # The visitor's signed credential, kept in the browser so a reload (or the chat opened
    # again later) continues the conversation. The browser may send anything here: every
    # service call verifies it (signature, site, expiry) before it reaches a conversation.
    visitor_pass: str = rx.LocalStorage("", name="crm_chat_visitor")
    # The portal account this chat is recognised as ("": an anonymous visitor).
    signed_in_as: str = ""
    _site: str = ""
    _live_running: bool = False
    _typing_sent: float = 0.0
    # Changes when a conversation starts or ends: a running poll drops what it fetched before.
    _conversation: int = 0

    def _site_id(self) -> str:
        return str(self.router.page.params.get("site", ""))[:32]

    @rx.event
    def load(self):
        self._site = self._site_id()
        try:
            brand = web_chat.branding(self._site)
        except ServiceError:
            self.found = False
            return None
        self.found = True
        self.brand_name, self.colour = brand.brand_name, brand.colour
        self.greeting, self.office_hours = brand.greeting, brand.office_hours
        self.available, self.enabled = brand.agents_available, brand.enabled
        self.error, self.signed_in_as = "", ""
        if not brand.enabled:  # switched off: the browser keeps its chat for when it is back
            self.started, self.lines = False, []
            return None
        actor = self.actor()
        if actor is not None and can(actor, Action.USE_PORTAL):
            self._open_signed_in(actor)
        if not self.signed_in_as:
            self._resume()
        return ChatWidgetState.live_loop

    def _open_signed_in(self, actor: Actor) -> None:
        """A client signed in to the portal: their chat, no name and email step."""
        try:
            resumed = web_chat.open_for_client(
                actor, self._site, self.visitor_pass, remote_addr=self.router.session.client_ip
            )
        except ServiceError:  # an account linked to no client record: they say who they are
            self.visitor_name = self.visitor_name or actor.name
            self.visitor_email = self.visitor_email or actor.email
            return
        self._show(resumed)
        self.signed_in_as = actor.email

    def _resume(self) -> None:
        """Continue the conversation the browser's credential stands for, if it still does."""
        if not self.visitor_pass:
            self.started, self.lines = False, []
            return
        try:
            resumed = web_chat.resume(self._site, self.visitor_pass, self.actor())
        except ServiceError:  # expired, forged, another site's, or that chat is gone
            self._forget()
            return
        self._show(resumed)

    def _show(self, resumed: ResumedChat) -> None:
        self.visitor_pass, self.visitor_name = resumed.credential, resumed.visitor_name
        self.lines, self.started = resumed.lines, True

    def _forget(self) -> None:
        self.visitor_pass, self.lines, self.draft, self.started = "", [], "", False
        self._conversation += 1

    def _reload(self) -> None:
        try:
            self.lines = web_chat.lines(self._site, self.visitor_pass, self.actor())
        except ServiceError:  # another site's credential, or the chat ended
            self._forget()

    @rx.event
    def set_visitor_name(self, value: str):
        self.visitor_name = value[:200]

    @rx.event
    def set_visitor_email(self, value: str):
        self.visitor_email = value[:320]

    @rx.event
    def set_website(self, value: str):
        self.website = value[:200]

    @rx.event
    def set_draft(self, value: str):
        self.draft = value[: web_chat.MAX_TEXT + 100]
        now = time.monotonic()
        if self.started and value.strip() and now - self._typing_sent > TYPING_EVERY_SECONDS:
            self._typing_sent = now
            with contextlib.suppress(ServiceError):
                web_chat.heartbeat(self._site, self.visitor_pass, typing=True, actor=self.actor())

    @service_event(error_var="error")
    def begin(self, form: dict):
        self.error = ""
        self.visitor_pass = web_chat.start(
            self._site,
            self.visitor_name,
            self.visitor_email,
            honeypot=self.website,
            remote_addr=self.router.session.client_ip,
        )
        self.lines, self.started = [], True
        self._conversation += 1
        return ChatWidgetState.live_loop

    @service_event(error_var="error")
    def send(self, form: dict):
        self.error = ""
        if not self.draft.strip() or not self.started:
            return
        web_chat.post_message(
            self._site,
            self.visitor_pass,
            self.draft,
            honeypot=self.website,
            remote_addr=self.router.session.client_ip,
            actor=self.actor(),
        )
        self.draft = ""
        self._reload()

    @rx.event
    def end_chat(self):
        """Leave the conversation: this browser forgets it (the ticket stays with the firm)."""
        self._forget()

    @rx.event(background=True)
    async def live_loop(self):
        async with self:
            if self._live_running or not self.started:
                return
            self._live_running = True
        started = time.monotonic()
        try:
            while time.monotonic() - started < LIVE_MAX_SECONDS:
                await asyncio.sleep(POLL_SECONDS)
                async with self:
                    if not self.started or not self.router.page.path.startswith(
                        routes.CHAT_WIDGET_PREFIX
                    ):
                        return
                    site, credential = self._site, self.visitor_pass
                    conversation, seen = self._conversation, len(self.lines)
                    session_id = self._session_id
                try:
                    # The session re-checked each round: signing out stops a portal chat.
                    actor = await asyncio.to_thread(web_sessions.actor_for_session, session_id)
                    fresh = await asyncio.to_thread(web_chat.lines, site, credential, actor)
                except ServiceError:
                    return
                async with self:
                    if self._conversation == conversation and (
                        len(fresh) != seen or fresh != self.lines
                    ):
                        self.lines = fresh
        finally:
            async with self:
                self._live_running = False


def _bubble(line: ChatLine) -> rx.Component:
    return rx.box(
        rx.text(line.author, size="1", weight="medium", color_scheme="gray"),
        rx.text(line.text, size="2", white_space="pre-wrap", class_name="chat-text"),
        align_self=rx.cond(line.from_visitor, "flex-end", "flex-start"),
        background=rx.cond(line.from_visitor, rx.color("gray", 3), rx.color("accent", 3)),
        padding="0.5rem 0.75rem",
        border_radius="10px",
        max_width="85%",
        class_name=rx.cond(line.from_visitor, "chat-line chat-visitor", "chat-line chat-staff"),
    )


def _header() -> rx.Component:
    return rx.box(
        rx.text(ChatWidgetState.brand_name, weight="bold", size="3", color="white"),
        rx.cond(
            ChatWidgetState.office_hours != "",
            rx.text(ChatWidgetState.office_hours, size="1", color="white", opacity="0.9"),
        ),
        background=ChatWidgetState.colour,
        padding="0.75rem 1rem",
        width="100%",
    )


def _unavailable() -> rx.Component:
    return rx.cond(
        ChatWidgetState.enabled & ~ChatWidgetState.available,
        rx.callout(
            "No one is available to chat right now. Write to us and we will answer by email.",
            icon="clock",
            color_scheme="amber",
            size="1",
            id="chat-unavailable",
        ),
    )


def _start_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.text(ChatWidgetState.greeting, size="2"),
            rx.el.label("Your name", html_for="chat-name", class_name="rt-Text rt-r-size-1"),
            rx.input(
                id="chat-name",
                name="name",
                value=ChatWidgetState.visitor_name,
                on_change=ChatWidgetState.set_visitor_name,
                max_length=200,
                required=True,
                width="100%",
            ),
            rx.el.label("Your email", html_for="chat-email", class_name="rt-Text rt-r-size-1"),
            rx.input(
                id="chat-email",
                name="email",
                type="email",
                value=ChatWidgetState.visitor_email,
                on_change=ChatWidgetState.set_visitor_email,
                max_length=320,
                required=True,
                width="100%",
            ),
            # The honeypot: off screen and out of the tab order, so only bots fill it in.
            rx.el.input(
                name="website",
                id="chat-website",
                value=ChatWidgetState.website,
                on_change=ChatWidgetState.set_website,
                tab_index=-1,
                auto_complete="off",
                aria_hidden="true",
                style={"position": "absolute", "left": "-10000px", "width": "1px"},
            ),
            rx.button("Start chat", type="submit", width="100%", id="chat-start"),
            spacing="2",
            width="100%",
        ),
        on_submit=ChatWidgetState.begin,
        width="100%",
    )


def _conversation() -> rx.Component:
    return rx.vstack(
        rx.vstack(
            rx.cond(
                ChatWidgetState.lines.length() == 0,
                rx.text(ChatWidgetState.greeting, size="2", color_scheme="gray"),
            ),
            rx.foreach(ChatWidgetState.lines, _bubble),
            spacing="2",
            width="100%",
            overflow_y="auto",
            flex="1",
            id="chat-lines",
        ),
        rx.form(
            rx.hstack(
                rx.text_area(
                    value=ChatWidgetState.draft,
                    on_change=ChatWidgetState.set_draft,
                    placeholder="Write a message…",
                    max_length=web_chat.MAX_TEXT,
                    rows="2",
                    width="100%",
                    id="chat-draft",
                    name="message",
                    aria_label="Your message",
                ),
                rx.button("Send", type="submit", id="chat-send"),
                width="100%",
                align="end",
            ),
            on_submit=ChatWidgetState.send,
            width="100%",
        ),
        rx.cond(
            ChatWidgetState.signed_in_as != "",
            rx.text(
                "Signed in as ",
                ChatWidgetState.visitor_name,
                " (",
                ChatWidgetState.signed_in_as,
                ")",
                size="1",
                color_scheme="gray",
                id="chat-signed-in",
            ),
            rx.button(
                "End chat",
                variant="ghost",
                size="1",
                on_click=ChatWidgetState.end_chat,
                id="chat-end",
            ),
        ),
        spacing="2",
        width="100%",
        height="100%",
    )


@rx.page(route=routes.CHAT_WIDGET, title="Chat", on_load=ChatWidgetState.load)
def chat_widget_page() -> rx.Component:
    return rx.cond(
        ChatWidgetState.found,
        rx.vstack(
            _header(),
            rx.vstack(
                _unavailable(),
                rx.cond(
                    ChatWidgetState.error != "",
                    rx.callout(
                        ChatWidgetState.error, color_scheme="red", size="1", id="chat-error"
                    ),
                ),
                rx.cond(
                    ChatWidgetState.enabled,
                    rx.cond(ChatWidgetState.started, _conversation(), _start_form()),
                    rx.callout(
                        "Chat is unavailable at the moment. Please try again later, or write "
                        "to us by email.",
                        icon="circle-off",
                        color_scheme="gray",
                        id="chat-disabled",
                    ),
                ),
                padding="0.75rem",
                width="100%",
                flex="1",
                spacing="2",
            ),
            spacing="0",
            height="100vh",
            width="100%",
            max_width="480px",
            margin="0 auto",
        ),
        rx.center(rx.text("This chat is not available."), height="100vh"),
    )
