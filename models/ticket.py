"""Tickets, their messages and attachments."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import enum_field, timestamp_field


class TicketStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    RESOLVED = "resolved"
    CLOSED = "closed"


OPEN_STATUSES = (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING)


class TicketPriority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Channel(StrEnum):
    EMAIL = "email"
    WEB_CHAT = "web_chat"
    WHATSAPP = "whatsapp"
    PORTAL = "portal"
    PHONE = "phone"
    AGENT = "agent"


class SlaState(StrEnum):
    NONE = "none"
    ON_TRACK = "on_track"
    NEAR_BREACH = "near_breach"
    BREACHED = "breached"
    MET = "met"


class SenderKind(StrEnum):
    CLIENT = "client"
    AGENT = "agent"
    SYSTEM = "system"


class Ticket(SQLModel, table=True):
    __tablename__ = "ticket"
    __table_args__ = (sa.Index("ix_ticket_status_created", "status", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    # Human-facing number, from its own identity sequence so it is never reused.
    number: int | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.BigInteger, sa.Identity(start=10001), unique=True, nullable=False
        ),
    )
    subject: str = Field(sa_type=sa.String(300))
    status: str = enum_field(TicketStatus, TicketStatus.NEW, index=True)
    priority: str = enum_field(TicketPriority, TicketPriority.NORMAL, index=True)
    channel: str = enum_field(Channel, Channel.AGENT)
    client_id: int | None = Field(
        default=None, foreign_key="client.id", index=True, ondelete="SET NULL"
    )
    assignee_id: int | None = Field(
        default=None, foreign_key="user_account.id", index=True, ondelete="SET NULL"
    )
    first_response_due_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    resolution_due_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    first_responded_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    sla_state: str = enum_field(SlaState, SlaState.NONE, index=True)
    is_unread: bool = Field(default=True)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
    resolved_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    closed_at: datetime | None = timestamp_field(nullable=True, default_now=False)


class TicketMessage(SQLModel, table=True):
    __tablename__ = "ticket_message"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True, ondelete="CASCADE")
    sender_kind: str = enum_field(SenderKind, SenderKind.CLIENT)
    author_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    body_text: str = Field(default="", sa_type=sa.Text)
    body_html: str | None = Field(default=None, sa_type=sa.Text)
    # Internal notes are for staff only and never reach the client by any route.
    is_internal: bool = Field(default=False)
    channel: str = enum_field(Channel, Channel.AGENT)
    external_message_id: str | None = Field(default=None, sa_type=sa.String(998), index=True)
    in_reply_to: str | None = Field(default=None, sa_type=sa.String(998))
    created_at: datetime = timestamp_field(index=True)


class Attachment(SQLModel, table=True):
    __tablename__ = "attachment"

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="ticket_message.id", index=True, ondelete="CASCADE")
    filename: str = Field(sa_type=sa.String(255))
    content_type: str = Field(sa_type=sa.String(255))
    size_bytes: int = Field(sa_type=sa.BigInteger)
    sha256: str = Field(sa_type=sa.String(64), index=True)
    storage_path: str = Field(sa_type=sa.String(1024))
    created_at: datetime = timestamp_field()
