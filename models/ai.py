"""What the AI features store: message sentiment, suggested replies and their feedback, and
the firm's LLM configuration (API key encrypted at rest)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.base import enum_field, timestamp_field


class SentimentLabel(StrEnum):
    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"


class MessageSentiment(SQLModel, table=True):
    """Sentiment of one client message (kept apart from ticket_message, which another aggregate
    owns)."""

    __tablename__ = "message_sentiment"

    message_id: int = Field(primary_key=True, foreign_key="ticket_message.id", ondelete="CASCADE")
    ticket_id: int = Field(foreign_key="ticket.id", index=True, ondelete="CASCADE")
    label: str = enum_field(SentimentLabel, SentimentLabel.NEUTRAL, index=True)
    # Signed strength in [-1, 1]: negative below zero, positive above.
    score: float = Field(default=0.0)
    model: str = Field(default="", sa_type=sa.String(200))
    created_at: datetime = timestamp_field()


class SuggestionStatus(StrEnum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


class SuggestionMode(StrEnum):
    LLM = "llm"
    RETRIEVAL_ONLY = "retrieval_only"


class ReplySuggestion(SQLModel, table=True):
    """A drafted reply, cached per latest client message and per visibility scope."""

    __tablename__ = "reply_suggestion"
    __table_args__ = (sa.UniqueConstraint("ticket_id", "message_id", "scope"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True, ondelete="CASCADE")
    message_id: int | None = Field(
        default=None, foreign_key="ticket_message.id", ondelete="CASCADE"
    )
    # Which documents the draft could draw on ("staff", "managers"): agents never share a draft
    # built from what only managers may see.
    scope: str = Field(default="staff", sa_type=sa.String(32))
    status: str = enum_field(SuggestionStatus, SuggestionStatus.PENDING)
    mode: str = enum_field(SuggestionMode, SuggestionMode.RETRIEVAL_ONLY)
    model: str = Field(default="", sa_type=sa.String(200))
    draft: str = Field(default="", sa_type=sa.Text)
    sources: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONB)
    flags: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONB)
    error: str = Field(default="", sa_type=sa.Text)
    requested_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class SuggestionFeedback(SQLModel, table=True):
    """An agent's rating of a draft, or the record that they inserted (and maybe edited) it."""

    __tablename__ = "suggestion_feedback"

    id: int | None = Field(default=None, primary_key=True)
    suggestion_id: int = Field(foreign_key="reply_suggestion.id", index=True, ondelete="CASCADE")
    user_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    kind: str = Field(sa_type=sa.String(20))  # rating | inserted | sent
    rating: int | None = Field(default=None)  # +1 / -1
    # Share of the draft kept in what was sent (1.0 = sent unchanged).
    kept_ratio: float | None = Field(default=None)
    final_text: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = timestamp_field()


class LlmSettings(SQLModel, table=True):
    """The firm's LLM (one row). No model set means the features work from retrieval alone."""

    __tablename__ = "llm_settings"

    id: int | None = Field(default=None, primary_key=True)
    chat_model: str = Field(default="", sa_type=sa.String(200))
    embedding_model: str = Field(default="", sa_type=sa.String(200))
    api_base: str = Field(default="", sa_type=sa.String(500))
    api_key_encrypted: str = Field(default="", sa_type=sa.Text)
    timeout_seconds: float = Field(default=30.0)
    max_retries: int = Field(default=2)
    max_output_tokens: int = Field(default=600)
    max_context_tokens: int = Field(default=6000)
    use_for_sentiment: bool = Field(default=False)
    updated_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    updated_at: datetime = timestamp_field()
