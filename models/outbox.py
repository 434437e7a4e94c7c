"""The outbox: one row per message a channel must deliver (an agent's email reply, an
acknowledgement), written in the same transaction as the message so a crash never loses it, and
worked by the channel's send job (`jobs/mail_send.py` for email)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.base import enum_field, timestamp_field


class OutboundStatus(StrEnum):
    QUEUED = "queued"  # waiting for `next_attempt_at`
    SENDING = "sending"  # claimed by a worker until `claimed_until`
    SENT = "sent"
    FAILED = "failed"  # permanent failure or out of attempts: a person decides (Retry)


class OutboundKind(StrEnum):
    REPLY = "reply"  # an agent's reply
    ACKNOWLEDGEMENT = "acknowledgement"  # "we received your request #N" (Auto-Submitted)


class OutboundMessage(SQLModel, table=True):
    __tablename__ = "outbound_message"
    __table_args__ = (
        # What the send job claims: due rows, and claims whose worker died.
        sa.Index(
            "ix_outbound_message_due",
            "next_attempt_at",
            postgresql_where=sa.text("status IN ('queued', 'sending')"),
        ),
        # The acknowledgement limit: one per sender per hour.
        sa.Index("ix_outbound_message_ack", "recipient", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True, ondelete="CASCADE")
    # One delivery per message: a second enqueue of the same message is refused by the index.
    message_id: int = Field(
        foreign_key="ticket_message.id", ondelete="CASCADE", sa_column_kwargs={"unique": True}
    )
    channel: str = Field(sa_type=sa.String(32))
    kind: str = enum_field(OutboundKind, OutboundKind.REPLY)
    # NULL: the product's own mail settings (no mailbox configured, or it was removed).
    mailbox_id: int | None = Field(
        default=None, foreign_key="mailbox.id", index=True, ondelete="SET NULL"
    )
    # The main recipient, lower-cased (the acknowledgement limit looks it up).
    recipient: str = Field(default="", sa_type=sa.String(320))
    to_addrs: str = Field(default="", sa_type=sa.Text)  # comma-separated, as in a To header
    cc_addrs: str = Field(default="", sa_type=sa.Text)
    subject: str = Field(default="", sa_type=sa.String(998))
    # Threading and loop headers fixed at enqueue (Message-ID, In-Reply-To, References,
    # Auto-Submitted): a retry sends exactly the same mail.
    headers: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    status: str = enum_field(OutboundStatus, OutboundStatus.QUEUED, index=True)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = timestamp_field()
    claimed_until: datetime | None = timestamp_field(nullable=True, default_now=False)
    # The claim's token: a worker records only rows it still holds.
    claimed_by: str | None = Field(default=None, sa_type=sa.String(64))
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    provider_message_id: str | None = Field(default=None, sa_type=sa.String(998))
    sent_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
