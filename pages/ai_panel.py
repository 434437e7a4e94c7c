"""The AI panel of the ticket view: the client's sentiment, a suggested reply with its sources
(clickable) and compliance flags, and buttons to insert, regenerate and rate it.

The draft is generated in a background event, so opening a ticket never waits for it.
`ai_panel()` is the component the ticket page includes; it loads itself when mounted.
"""

from __future__ import annotations

import asyncio

import reflex as rx

from crm_app.ai import sentiment as sentiment_service
from crm_app.ai import suggestions
from crm_app.ai.llm import load_config
from crm_app.auth.permissions import Actor
from crm_app.services.errors import ServiceError
from crm_app.state import AppState, service_event
from models.ai import SuggestionStatus

SENTIMENT_COLORS = {"negative": "red", "neutral": "gray", "positive": "green"}


class AiPanelState(AppState):
    number: int = 0
    suggestion_id: int = 0
    status: str = ""  # "", pending, ready, failed
    mode: str = ""
    model: str = ""
    draft: str = ""
    sources: list[dict[str, str]] = []
    flags: list[dict[str, str]] = []
    notice: str = ""
    sentiment_label: str = ""
    sentiment_score: str = ""
    llm_configured: bool = False
    provider_down: bool = False  # an LLM is configured but did not answer for this draft
    rated: int = 0

    def _number(self) -> int:
        raw = str(self.router.page.params.get("number", "")).strip().lstrip("#")
        return int(raw) if raw.isdigit() and len(raw) <= 18 else 0

    def _show(self, view: suggestions.SuggestionView | None) -> None:
        if view is None:
            self.suggestion_id, self.status, self.draft = 0, "", ""
            self.sources, self.flags, self.notice, self.mode, self.model = [], [], "", "", ""
            self.provider_down = False
            return
        self.suggestion_id, self.status, self.mode, self.model = (
            view.id,
            view.status,
            view.mode,
            view.model,
        )
        self.draft = view.draft
        self.sources = [{k: str(v) for k, v in s.items()} for s in view.sources]
        self.flags = [{k: str(v) for k, v in f.items()} for f in view.flags]
        self.notice = view.error or (
            suggestions.RETRIEVAL_ONLY_NOTE if view.mode == "retrieval_only" else ""
        )
        self.provider_down = bool(view.error)

    def _load_sentiment(self, actor) -> None:
        from crm_app.services import tickets

        detail = tickets.get_ticket(actor, self.number)
        client_ids = [m.id for m in detail.messages if m.sender_kind == "client"]
        self.sentiment_label = self.sentiment_score = ""
        if client_ids:
            found = sentiment_service.sentiment_for_messages(actor, [client_ids[-1]])
            result = found.get(client_ids[-1]) or sentiment_service.score_message_now(
                client_ids[-1]
            )
            if result is not None:
                self.sentiment_label = result.label
                self.sentiment_score = f"{result.score:+.2f}"

    def _failed(self, message: str) -> None:
        self._show(None)
        self.status, self.notice = "failed", message

    @service_event(on_error="_failed")
    def load(self, actor: Actor):
        self.number, self.rated = self._number(), 0
        if not self.number:
            return None
        self.llm_configured = load_config().chat_enabled
        self._load_sentiment(actor)
        view = suggestions.request_suggestion(actor, self.number)
        self._show(view)
        return AiPanelState.generate if view.status == SuggestionStatus.PENDING else None

    @service_event
    def regenerate(self, actor: Actor):
        view = suggestions.request_suggestion(actor, self.number, regenerate=True)
        self._show(view)
        self.rated = 0
        return AiPanelState.generate

    @rx.event(background=True)
    async def generate(self):
        async with self:
            actor, suggestion_id = self.actor(), self.suggestion_id
        if actor is None or not suggestion_id:
            return
        try:
            view = await asyncio.to_thread(suggestions.generate_suggestion, actor, suggestion_id)
        except ServiceError as error:
            async with self:
                self.status, self.notice = "failed", error.message
            return
        except Exception:  # a provider or model failure must not leave the panel spinning
            await asyncio.to_thread(
                suggestions.fail_suggestion, suggestion_id, "The draft could not be generated."
            )
            async with self:
                self.status, self.notice = "failed", "The draft could not be generated."
            return
        async with self:
            if self.suggestion_id == suggestion_id:
                self._show(view)

    @service_event
    def rate(self, actor: Actor, rating: int):
        suggestions.rate_suggestion(actor, self.suggestion_id, rating)
        self.rated = rating
        return rx.toast.success("Thanks: your rating was recorded.")

    @service_event
    def insert(self, actor: Actor):
        """Put the draft into the composer (the ticket page's text area, id `composer`)."""
        suggestions.record_inserted(actor, self.suggestion_id)
        from pages.ticket import TicketState

        return [
            TicketState.set_draft(self.draft),
            rx.set_focus("composer"),
            rx.toast.info("Draft inserted: edit it before sending."),
        ]


def _sentiment_badge() -> rx.Component:
    return rx.cond(
        AiPanelState.sentiment_label != "",
        rx.hstack(
            rx.text("Client sentiment", size="1", color_scheme="gray"),
            rx.badge(
                AiPanelState.sentiment_label,
                " ",
                AiPanelState.sentiment_score,
                color_scheme=rx.match(
                    AiPanelState.sentiment_label, ("negative", "red"), ("positive", "green"), "gray"
                ),
                id="ai-sentiment",
            ),
            align="center",
        ),
        rx.text("No client message yet", size="1", color_scheme="gray"),
    )


def _source(source: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.hstack(
        rx.badge("[", source["n"], "]", variant="soft"),
        rx.cond(
            source["link"] != "",
            rx.link(source["title"], href=source["link"], size="2", class_name="ai-source"),
            rx.text(source["title"], size="2", class_name="ai-source"),
        ),
        align="center",
        spacing="2",
    )


def _flag(flag: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.callout.root(
        rx.callout.icon(rx.icon("shield-alert", size=16)),
        rx.callout.text(
            flag["message"],
            rx.cond(flag["excerpt"] != "", rx.text(" “", flag["excerpt"], "”", size="1")),
        ),
        color_scheme="amber",
        size="1",
        class_name="ai-flag",
        width="100%",
    )


def _draft() -> rx.Component:
    return rx.vstack(
        rx.cond(
            AiPanelState.notice != "",
            rx.cond(
                AiPanelState.provider_down,
                rx.callout(
                    AiPanelState.notice,
                    icon="cloud-off",
                    size="1",
                    color_scheme="red",
                    role="alert",
                    id="ai-notice",
                    class_name="ai-provider-down",
                    width="100%",
                ),
                rx.callout(
                    AiPanelState.notice,
                    icon="info",
                    size="1",
                    color_scheme="blue",
                    id="ai-notice",
                    width="100%",
                ),
            ),
        ),
        rx.text(
            AiPanelState.draft,
            white_space="pre-wrap",
            size="2",
            id="ai-draft",
            padding="0.5rem",
            background=rx.color("gray", 2),
            border_radius="6px",
            width="100%",
        ),
        rx.foreach(AiPanelState.flags, _flag),
        rx.cond(
            AiPanelState.sources.length() > 0,
            rx.vstack(
                rx.text("Sources", size="1", color_scheme="gray"),
                rx.foreach(AiPanelState.sources, _source),
                spacing="1",
                id="ai-sources",
            ),
        ),
        rx.hstack(
            rx.button(
                rx.icon("corner-down-left", size=14),
                "Insert",
                size="1",
                on_click=AiPanelState.insert,
                id="ai-insert",
            ),
            rx.button(
                rx.icon("refresh-cw", size=14),
                "Regenerate",
                size="1",
                variant="soft",
                on_click=AiPanelState.regenerate,
                id="ai-regenerate",
            ),
            rx.spacer(),
            rx.icon_button(
                rx.icon("thumbs-up", size=14),
                size="1",
                variant=rx.cond(AiPanelState.rated == 1, "solid", "ghost"),
                on_click=AiPanelState.rate(1),
                aria_label="Good draft",
            ),
            rx.icon_button(
                rx.icon("thumbs-down", size=14),
                size="1",
                variant=rx.cond(AiPanelState.rated == -1, "solid", "ghost"),
                on_click=AiPanelState.rate(-1),
                aria_label="Poor draft",
            ),
            width="100%",
            align="center",
        ),
        spacing="2",
        width="100%",
    )


def ai_panel() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.icon("sparkles", size=16),
                rx.text("Assistant", weight="bold"),
                rx.spacer(),
                rx.badge(
                    rx.cond(
                        AiPanelState.provider_down,
                        "LLM down",
                        rx.cond(AiPanelState.llm_configured, "LLM", "retrieval-only"),
                    ),
                    variant="soft",
                    color_scheme=rx.cond(AiPanelState.provider_down, "red", "gray"),
                    id="ai-mode-badge",
                ),
                width="100%",
                align="center",
            ),
            _sentiment_badge(),
            rx.divider(),
            rx.match(
                AiPanelState.status,
                (
                    "pending",
                    rx.hstack(
                        rx.spinner(size="1"),
                        rx.text("Drafting a reply…", size="2"),
                        id="ai-pending",
                    ),
                ),
                ("ready", _draft()),
                (
                    "failed",
                    rx.callout(
                        AiPanelState.notice,
                        icon="triangle-alert",
                        color_scheme="red",
                        size="1",
                        id="ai-failed",
                    ),
                ),
                rx.text("No draft yet.", size="2", color_scheme="gray"),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        id="ai-panel",
        on_mount=AiPanelState.load,
    )
