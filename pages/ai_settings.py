"""AI settings (managers only): the firm's language model through litellm.

The API key is write-only: it is encrypted at rest by the service and never sent back to the
browser; the page only says whether one is set. "Test connection" asks the provider for one word
and says plainly when it is down. With no model, drafts are retrieval-only and say so.
"""

from __future__ import annotations

import asyncio

import reflex as rx

from crm_app import routes
from crm_app.ai import llm
from crm_app.auth.permissions import Action, Actor
from crm_app.components import field, form_error
from crm_app.layout import signed_in_page
from crm_app.services.errors import ServiceError
from crm_app.state import AppState, service_event

_CHECKED = {"on", "true", "1", "yes"}


def _number(form: dict, name: str, label: str, kind: type) -> float | int:
    raw = str(form.get(name, "")).strip()
    try:
        return kind(raw)
    except ValueError:
        raise ValueError(
            f"{label} must be a whole number." if kind is int else f"{label} must be a number."
        ) from None


class AiSettingsState(AppState):
    chat_model: str = ""
    embedding_model: str = ""
    api_base: str = ""
    api_key_set: bool = False
    timeout_seconds: str = "30"
    max_retries: str = "2"
    max_output_tokens: str = "600"
    max_context_tokens: str = "6000"
    use_for_sentiment: bool = False
    # Bumped after each load so the (uncontrolled) form remounts with the stored values.
    form_version: int = 0
    error: str = ""
    check_status: str = ""  # "", checking, ok, down
    check_message: str = ""

    def _fill(self, shown: dict) -> None:
        self.chat_model, self.embedding_model = shown["chat_model"], shown["embedding_model"]
        self.api_base, self.api_key_set = shown["api_base"], bool(shown["api_key_set"])
        self.timeout_seconds = f"{float(shown['timeout_seconds']):g}"
        self.max_retries = str(shown["max_retries"])
        self.max_output_tokens = str(shown["max_output_tokens"])
        self.max_context_tokens = str(shown["max_context_tokens"])
        self.use_for_sentiment = bool(shown["use_for_sentiment"])
        self.form_version += 1

    @service_event
    def load(self, actor: Actor):
        self.error, self.check_status, self.check_message = "", "", ""
        self._fill(llm.settings_for(actor))

    @service_event(error_var="error")
    def save(self, actor: Actor, form: dict):
        self.error = ""
        try:
            numbers = {
                "timeout_seconds": _number(form, "timeout_seconds", "The timeout", float),
                "max_retries": _number(form, "max_retries", "Retries", int),
                "max_output_tokens": _number(form, "max_output_tokens", "The reply budget", int),
                "max_context_tokens": _number(
                    form, "max_context_tokens", "The context budget", int
                ),
            }
        except ValueError as bad:
            self.error = str(bad)
            return None
        new_key = str(form.get("api_key", ""))
        # A blank key field keeps the stored key; the "forget" switch clears it.
        api_key = (
            ""
            if str(form.get("clear_api_key", "")).lower() in _CHECKED
            else (new_key.strip() or None)
        )
        config = llm.update_config(
            actor,
            chat_model=str(form.get("chat_model", "")),
            embedding_model=str(form.get("embedding_model", "")),
            api_base=str(form.get("api_base", "")),
            api_key=api_key,
            use_for_sentiment=str(form.get("use_for_sentiment", "")).lower() in _CHECKED,
            **numbers,
        )
        self._fill(config.describe())
        self.check_status, self.check_message = "", ""
        return rx.toast.success("AI settings saved.")

    @rx.event(background=True)
    async def test_connection(self):
        async with self:
            self.check_status, self.check_message = "checking", ""
            actor = self.actor()
        if actor is None:
            async with self:
                self.check_status, self.check_message = "down", "Please sign in again."
            return
        try:
            result = await asyncio.to_thread(llm.check_connection, actor)
        except ServiceError as error:
            async with self:
                self.check_status, self.check_message = "down", error.message
            return
        async with self:
            self.check_status = "ok" if result.ok else "down"
            self.check_message = result.message


def _status_line() -> rx.Component:
    s = AiSettingsState
    return rx.hstack(
        rx.badge(
            rx.cond(s.chat_model != "", "LLM: " + s.chat_model, "Retrieval-only"),
            color_scheme=rx.cond(s.chat_model != "", "green", "gray"),
            id="ai-mode",
        ),
        rx.badge(
            rx.cond(
                s.embedding_model != "",
                "Embeddings: " + s.embedding_model,
                "Embeddings: built-in MiniLM",
            ),
            variant="soft",
            color_scheme="gray",
        ),
        rx.badge(
            rx.cond(s.api_key_set, "API key: set", "API key: not set"),
            color_scheme=rx.cond(s.api_key_set, "green", "gray"),
            variant="soft",
            id="ai-key-status",
        ),
        spacing="2",
        wrap="wrap",
    )


def _check_result() -> rx.Component:
    s = AiSettingsState
    return rx.match(
        s.check_status,
        (
            "checking",
            rx.hstack(
                rx.spinner(size="1"),
                rx.text("Asking the provider…", size="2"),
                id="ai-check-pending",
            ),
        ),
        (
            "ok",
            rx.callout(
                s.check_message,
                icon="circle-check",
                color_scheme="green",
                id="ai-check-result",
                width="100%",
            ),
        ),
        (
            "down",
            rx.callout(
                s.check_message,
                icon="triangle-alert",
                color_scheme="red",
                role="alert",
                id="ai-check-result",
                width="100%",
            ),
        ),
        rx.fragment(),
    )


def _text_input(name: str, value: rx.Var, placeholder: str, **props) -> rx.Component:
    return rx.input(
        name=name,
        id=f"ai-{name.replace('_', '-')}",
        default_value=value,
        placeholder=placeholder,
        width="100%",
        **props,
    )


def _form() -> rx.Component:
    s = AiSettingsState
    return rx.form(
        rx.vstack(
            rx.grid(
                field(
                    "Chat model",
                    _text_input(
                        "chat_model",
                        s.chat_model,
                        "e.g. openai/gpt-4o-mini (empty: retrieval-only)",
                        auto_focus=True,
                    ),
                ),
                field(
                    "Embedding model",
                    _text_input(
                        "embedding_model", s.embedding_model, "empty: the built-in all-MiniLM-L6-v2"
                    ),
                ),
                field(
                    "API base URL",
                    _text_input("api_base", s.api_base, "empty: the provider's default"),
                ),
                field(
                    "API key",
                    rx.input(
                        name="api_key",
                        id="ai-api-key",
                        type="password",
                        auto_complete="off",
                        placeholder=rx.cond(
                            s.api_key_set, "set: leave empty to keep it", "not set"
                        ),
                        width="100%",
                    ),
                ),
                field(
                    "Timeout (seconds)",
                    _text_input(
                        "timeout_seconds", s.timeout_seconds, "30", type="number", step="any"
                    ),
                ),
                field("Retries", _text_input("max_retries", s.max_retries, "2", type="number")),
                field(
                    "Reply budget (tokens)",
                    _text_input("max_output_tokens", s.max_output_tokens, "600", type="number"),
                ),
                field(
                    "Context budget (tokens)",
                    _text_input("max_context_tokens", s.max_context_tokens, "6000", type="number"),
                ),
                columns=rx.breakpoints(initial="1", md="2"),
                spacing="4",
                width="100%",
            ),
            rx.hstack(
                rx.switch(
                    name="use_for_sentiment",
                    id="ai-use-for-sentiment",
                    default_checked=s.use_for_sentiment,
                ),
                rx.text(
                    "Use the language model for message sentiment",
                    as_="label",
                    html_for="ai-use-for-sentiment",
                    size="2",
                ),
                align="center",
            ),
            rx.cond(
                s.api_key_set,
                rx.hstack(
                    rx.switch(name="clear_api_key", id="ai-clear-api-key"),
                    rx.text(
                        "Forget the stored API key",
                        as_="label",
                        html_for="ai-clear-api-key",
                        size="2",
                    ),
                    align="center",
                ),
            ),
            form_error(s.error),
            rx.hstack(
                rx.button("Save", type="submit", id="ai-save"),
                rx.button(
                    rx.icon("plug-zap", size=14),
                    "Test connection",
                    type="button",
                    variant="soft",
                    on_click=AiSettingsState.test_connection,
                    loading=s.check_status == "checking",
                    id="ai-test-connection",
                ),
                spacing="3",
            ),
            spacing="4",
            width="100%",
        ),
        on_submit=AiSettingsState.save,
        key=s.form_version.to(str),
        width="100%",
    )


@signed_in_page(routes.AI_SETTINGS, "AI settings", Action.MANAGE_AI, on_load=[AiSettingsState.load])
def ai_settings_page() -> rx.Component:
    return rx.vstack(
        rx.card(
            rx.vstack(
                rx.heading("Language model", size="4"),
                rx.text(
                    "Suggested replies are drafted by this model through litellm. With no "
                    "chat model they are composed from the best-matching resolved answer "
                    "and say that they are retrieval-only. The API key is stored encrypted "
                    "and is never shown again.",
                    size="2",
                    color_scheme="gray",
                ),
                _status_line(),
                _check_result(),
                spacing="3",
                width="100%",
            ),
            width="100%",
        ),
        # The form appears once `load` has filled it: typed before, it would be re-keyed away.
        rx.card(
            rx.cond(AiSettingsState.form_version > 0, _form(), rx.spinner(id="ai-form-loading")),
            width="100%",
        ),
        spacing="4",
        width="100%",
        max_width="56rem",
    )
