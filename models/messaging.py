"""Messaging channels beside email: WhatsApp (Twilio, Meta Cloud API) and the web chat.

`channel_config` holds what a manager set on a channel's settings page (secrets encrypted);
`channel_event` records every webhook the providers sent (accepted, duplicate or refused), and
its unique key makes a redelivered webhook a no-op; `channel_delivery` is the provider's word on
a sent message (sent, delivered, read, failed).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.base import enum_field, timestamp_field


class Provider(StrEnum):
    TWILIO = "twilio"
    META = "meta"
    WEB_CHAT = "web_chat"


class EventOutcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REFUSED = "refused"  # bad or missing signature: answered 403
    IGNORED = "ignored"  # signed, but nothing the CRM acts on


class ChannelConfig(SQLModel, table=True):
    __tablename__ = "channel_config"

    provider: str = Field(sa_type=sa.String(32), primary_key=True)
    # None: never set on the page (the environment's settings apply).
    enabled: bool | None = Field(default=None)
    settings: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    # name -> Fernet token (crm_app.crypto); never shown again once saved.
    secrets: dict[str, str] = Field(default_factory=dict, sa_type=JSONB)
    updated_at: datetime = timestamp_field()


class ChannelEvent(SQLModel, table=True):
    __tablename__ = "channel_event"
    __table_args__ = (sa.Index("ix_channel_event_provider_created", "provider", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    provider: str = enum_field(Provider, Provider.TWILIO)
    kind: str = Field(default="message", sa_type=sa.String(32))  # message | status | refused
    # "twilio:message:SM…": a second delivery of the same webhook finds it and does nothing.
    external_key: str | None = Field(
        default=None, sa_type=sa.String(300), sa_column_kwargs={"unique": True}
    )
    outcome: str = enum_field(EventOutcome, EventOutcome.ACCEPTED)
    reason: str | None = Field(default=None, sa_type=sa.Text)
    # The client's number (E.164) or the visitor's address the event came from.
    address: str | None = Field(default=None, sa_type=sa.String(320), index=True)
    ticket_id: int | None = Field(
        default=None, foreign_key="ticket.id", index=True, ondelete="SET NULL"
    )
    message_id: int | None = Field(
        default=None, foreign_key="ticket_message.id", ondelete="SET NULL"
    )
    remote_addr: str | None = Field(default=None, sa_type=sa.String(64))
    created_at: datetime = timestamp_field()


class ChannelDelivery(SQLModel, table=True):
    """What the provider last said about a message the CRM sent."""

    __tablename__ = "channel_delivery"

    provider_message_id: str = Field(sa_type=sa.String(300), primary_key=True)
    provider: str = enum_field(Provider, Provider.TWILIO)
    message_id: int = Field(foreign_key="ticket_message.id", index=True, ondelete="CASCADE")
    state: str = Field(default="sent", sa_type=sa.String(32))
    error: str | None = Field(default=None, sa_type=sa.Text)
    updated_at: datetime = timestamp_field()
