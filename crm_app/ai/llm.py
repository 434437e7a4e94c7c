"""The firm's LLM through litellm: configuration (key encrypted at rest) and guarded calls.

No chat model configured means every feature works from retrieval alone and says so. A provider
that is down raises `LlmUnavailable`, which the UI shows as such instead of failing the page.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from sqlmodel import col

# litellm fetches its model cost map from the internet at import unless told to use its own copy.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from sqlalchemy import select

from crm_app.auth.permissions import Action, Actor, require
from crm_app.crypto import SecretUnreadable, decrypt_secret, encrypt_secret
from crm_app.db import session_scope
from crm_app.services import audit
from crm_app.services.errors import InvalidInput
from models.ai import LlmSettings
from models.base import utcnow

log = logging.getLogger(__name__)


class LlmUnavailable(Exception):
    """The configured provider did not answer usefully (down, timed out, refused the key)."""


@dataclass(frozen=True)
class LlmConfig:
    chat_model: str = ""
    embedding_model: str = ""
    api_base: str = ""
    api_key: str = ""
    timeout_seconds: float = 30.0
    max_retries: int = 2
    max_output_tokens: int = 600
    max_context_tokens: int = 6000
    use_for_sentiment: bool = False

    @property
    def chat_enabled(self) -> bool:
        return bool(self.chat_model)

    def describe(self) -> dict[str, Any]:
        """What the settings screen shows: never the key itself."""
        return {
            "chat_model": self.chat_model,
            "embedding_model": self.embedding_model,
            "api_base": self.api_base,
            "api_key_set": bool(self.api_key),
            "timeout_seconds": self.timeout_seconds,
            "max_retries": self.max_retries,
            "max_output_tokens": self.max_output_tokens,
            "max_context_tokens": self.max_context_tokens,
            "use_for_sentiment": self.use_for_sentiment,
        }


def load_config() -> LlmConfig:
    """The stored configuration (the defaults, i.e. retrieval only, when none is stored)."""
    with session_scope() as session:
        row = session.execute(select(LlmSettings).order_by(col(LlmSettings.id))).scalars().first()
        if row is None:
            return LlmConfig()
        try:
            key = decrypt_secret(row.api_key_encrypted) if row.api_key_encrypted else ""
        except SecretUnreadable:
            key = ""
        return LlmConfig(
            chat_model=row.chat_model,
            embedding_model=row.embedding_model,
            api_base=row.api_base,
            api_key=key,
            timeout_seconds=row.timeout_seconds,
            max_retries=row.max_retries,
            max_output_tokens=row.max_output_tokens,
            max_context_tokens=row.max_context_tokens,
            use_for_sentiment=row.use_for_sentiment,
        )


def update_config(
    actor: Actor,
    *,
    chat_model: str = "",
    embedding_model: str = "",
    api_base: str = "",
    api_key: str | None = None,
    timeout_seconds: float = 30.0,
    max_retries: int = 2,
    max_output_tokens: int = 600,
    max_context_tokens: int = 6000,
    use_for_sentiment: bool = False,
) -> LlmConfig:
    """Save the firm's LLM settings. `api_key=None` keeps the stored key; "" clears it."""
    require(actor, Action.MANAGE_AI)
    if not 1 <= float(timeout_seconds) <= 600:
        raise InvalidInput("The timeout must be between 1 and 600 seconds.")
    if not 0 <= int(max_retries) <= 10:
        raise InvalidInput("Retries must be between 0 and 10.")
    if not (16 <= int(max_output_tokens) <= 32_000 and 256 <= int(max_context_tokens) <= 1_000_000):
        raise InvalidInput("Token budgets are out of range.")
    api_base = api_base.strip()
    if api_base and not api_base.startswith(("http://", "https://")):
        raise InvalidInput("The API base must be an http(s) URL.")
    with session_scope() as session:
        row = session.execute(select(LlmSettings).order_by(col(LlmSettings.id))).scalars().first()
        if row is None:
            row = LlmSettings()
            session.add(row)
        row.chat_model, row.embedding_model = chat_model.strip(), embedding_model.strip()
        row.api_base = api_base
        if api_key is not None:
            row.api_key_encrypted = encrypt_secret(api_key) if api_key else ""
        row.timeout_seconds, row.max_retries = float(timeout_seconds), int(max_retries)
        row.max_output_tokens, row.max_context_tokens = (
            int(max_output_tokens),
            int(max_context_tokens),
        )
        row.use_for_sentiment = bool(use_for_sentiment)
        row.updated_by_id, row.updated_at = actor.user_id, utcnow()
        session.flush()
        audit.record(
            session,
            actor,
            "ai.llm_settings_changed",
            "llm_settings",
            row.id,
            {
                "chat_model": row.chat_model,
                "embedding_model": row.embedding_model,
                "api_base": row.api_base,
                "api_key_changed": api_key is not None,
            },
        )
    return load_config()


def settings_for(actor: Actor) -> dict[str, Any]:
    """What the settings screen may show a manager: everything but the key itself."""
    require(actor, Action.MANAGE_AI)
    return load_config().describe()


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    message: str
    seconds: float = 0.0


def check_connection(actor: Actor, config: LlmConfig | None = None) -> ConnectionCheck:
    """Ask the configured chat (and embedding) model for a one-word answer; never raises for a
    provider problem, so the settings screen can say plainly what is wrong."""
    import time

    require(actor, Action.MANAGE_AI)
    config = config if config is not None else load_config()
    if not config.chat_model and not config.embedding_model:
        return ConnectionCheck(False, "No model is configured: drafts are retrieval-only.")
    started = time.monotonic()
    try:
        if config.chat_model:
            chat(
                config,
                [{"role": "user", "content": "Reply with the single word OK."}],
                max_tokens=5,
                temperature=0.0,
            )
        if config.embedding_model:
            embed(config, ["connection check"])
    except LlmUnavailable as failure:
        return ConnectionCheck(
            False, f"Provider unreachable. {failure}", round(time.monotonic() - started, 2)
        )
    seconds = round(time.monotonic() - started, 2)
    models = " and ".join(m for m in (config.chat_model, config.embedding_model) if m)
    return ConnectionCheck(True, f"Connected: {models} answered in {seconds:.2f} s.", seconds)


def _common(config: LlmConfig) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"timeout": config.timeout_seconds, "num_retries": config.max_retries}
    if config.api_base:
        kwargs["api_base"] = config.api_base
    if config.api_key:
        kwargs["api_key"] = config.api_key
    return kwargs


def chat(
    config: LlmConfig,
    messages: list[dict[str, str]],
    *,
    max_tokens: int | None = None,
    temperature: float = 0.2,
) -> str:
    """One chat completion; raises `LlmUnavailable` on any provider failure."""
    import litellm

    try:
        response = litellm.completion(
            model=config.chat_model,
            messages=messages,
            max_tokens=max_tokens or config.max_output_tokens,
            temperature=temperature,
            **_common(config),
        )
        content = response.choices[0].message.content
    except Exception as error:  # litellm maps every provider error to its own classes
        log.warning(
            "chat model call failed", extra={"model": config.chat_model, "error": str(error)[:500]}
        )
        raise LlmUnavailable(
            f"The language model did not answer ({type(error).__name__})."
        ) from error
    if not content or not content.strip():
        raise LlmUnavailable("The language model returned an empty answer.")
    return content.strip()


def embed(config: LlmConfig, texts: list[str]) -> list[list[float]]:
    import litellm

    try:
        response = litellm.embedding(model=config.embedding_model, input=texts, **_common(config))
        rows = sorted(response.data, key=lambda item: item["index"])
        return [list(map(float, row["embedding"])) for row in rows]
    except Exception as error:
        raise LlmUnavailable(
            f"The embedding model did not answer ({type(error).__name__})."
        ) from error


def approx_tokens(text: str) -> int:
    """A cheap, provider-free token estimate (about four characters a token)."""
    return max(1, len(text) // 4)
