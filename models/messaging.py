"""Messaging channels beside email: WhatsApp (Twilio, Meta Cloud API) and the web chat.

`channel_config` holds what a manager set on a channel's settings page (secrets encrypted);
`channel_event` records every webhook the providers sent (accepted, duplicate or refused), and
its unique key makes a redelivered webhook a no-op; `channel_delivery` is the provider's word on
a sent message (sent, delivered, read, failed); `chat_site` / `chat_visitor` are the web chat's
sites and the people chatting on them.
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


class ChatSite(SQLModel, table=True):
    """A website the chat is embedded on: its branding, the origins allowed to frame it, and
    the key other front ends post messages with (only its hash is kept)."""

    __tablename__ = "chat_site"

    id: int | None = Field(default=None, primary_key=True)
    # In the widget's address (`/chat/<public_id>`): identifies the site, grants nothing.
    public_id: str = Field(sa_type=sa.String(32), sa_column_kwargs={"unique": True})
    name: str = Field(sa_type=sa.String(120))
    key_hash: str = Field(sa_type=sa.String(64), sa_column_kwargs={"unique": True})
    key_hint: str = Field(default="", sa_type=sa.String(16))  # the key's first characters
    allowed_origins: list[str] = Field(default_factory=list, sa_type=JSONB)
    brand_name: str = Field(default="", sa_type=sa.String(120))
    colour: str = Field(default="#0d9488", sa_type=sa.String(16))
    greeting: str = Field(default="", sa_type=sa.String(500))
    office_hours: str = Field(default="", sa_type=sa.String(500))
    enabled: bool = Field(default=True)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class ChatVisitor(SQLModel, table=True):
    """Someone chatting on a site: who they said they are, their conversation's ticket, and
    when they were last on the page or typing (the agent sees both)."""

    __tablename__ = "chat_visitor"

    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="chat_site.id", index=True, ondelete="CASCADE")
    # The widget keeps the token; only its hash is stored.
    token_hash: str = Field(sa_type=sa.String(64), sa_column_kwargs={"unique": True})
    name: str = Field(sa_type=sa.String(200))
    email: str = Field(sa_type=sa.String(320))
    client_id: int | None = Field(default=None, foreign_key="client.id", ondelete="SET NULL")
    # Set when the visitor was signed in to the portal: their chat then needs that session too.
    portal_user_id: int | None = Field(
        default=None, foreign_key="user_account.id", index=True, ondelete="CASCADE"
    )
    ticket_id: int | None = Field(
        default=None, foreign_key="ticket.id", index=True, ondelete="SET NULL"
    )
    remote_addr: str | None = Field(default=None, sa_type=sa.String(64))
    last_seen_at: datetime = timestamp_field()
    typing_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    created_at: datetime = timestamp_field()
