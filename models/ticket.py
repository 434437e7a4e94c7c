"""Tickets, their messages and attachments."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR
from sqlmodel import Field, SQLModel

from models.base import enum_field, timestamp_field


class TicketStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    RESOLVED = "resolved"
    CLOSED = "closed"


OPEN_STATUSES = (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING)
_OPEN_SQL = "status IN ('new', 'open', 'pending')"

# The queue's default order as stored columns, so one btree serves it and keyset pages seek:
# unread or new first, then SLA urgency (breached, near breach, the rest), then due soonest.
QUEUE_BUCKET_SQL = (
    "CASE WHEN is_unread OR status = 'new' THEN 0 ELSE 3 END + "
    "CASE sla_state WHEN 'breached' THEN 0 WHEN 'near_breach' THEN 1 ELSE 2 END"
)
QUEUE_DUE_SQL = (
    "coalesce(least(CASE WHEN first_responded_at IS NULL THEN first_response_due_at END, "
    "resolution_due_at), 'infinity'::timestamptz)"
)


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
    IN_PERSON = "in_person"  # a walk-in, logged by the agent who met the client
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
    # Generated columns: filled by PostgreSQL on every write, COPY included; read by the queue
    # and search queries only, so the ORM does not load them.
    __table_args__ = (
        sa.Index("ix_ticket_status_created", "status", "created_at"),
        sa.Column(
            "search_vector",
            TSVECTOR,
            sa.Computed("to_tsvector('english'::regconfig, (subject)::text)", persisted=True),
        ),
        sa.Column("queue_bucket", sa.SmallInteger, sa.Computed(QUEUE_BUCKET_SQL, persisted=True)),
        sa.Column(
            "queue_due_at", sa.DateTime(timezone=True), sa.Computed(QUEUE_DUE_SQL, persisted=True)
        ),
        sa.Index("ix_ticket_search_vector", "search_vector", postgresql_using="gin"),
        sa.Index("ix_ticket_queue", "queue_bucket", "queue_due_at", "id"),
        sa.Index(
            "ix_ticket_queue_open",
            "queue_bucket",
            "queue_due_at",
            "id",
            postgresql_where=sa.text(_OPEN_SQL),
        ),
        sa.Index(
            "ix_ticket_queue_assignee_open",
            "assignee_id",
            "queue_bucket",
            "queue_due_at",
            "id",
            postgresql_where=sa.text(_OPEN_SQL),
        ),
        sa.Index("ix_ticket_queue_assignee", "assignee_id", "queue_bucket", "queue_due_at", "id"),
        sa.Index("ix_ticket_created_at", "created_at"),
        # Every equality filter of the queue with the sort keys: counts and the sort of a
        # filtered queue are index-only scans (skip scan over the columns not filtered on).
        sa.Index(
            "ix_ticket_filters",
            "status",
            "sla_state",
            "priority",
            "channel",
            "assignee_id",
            postgresql_include=["queue_bucket", "queue_due_at"],
        ),
        # "Tickets tagged X": containment on the tag array.
        sa.Index("ix_ticket_tags", "tags", postgresql_using="gin"),
    )
    __mapper_args__ = {"exclude_properties": ["search_vector", "queue_bucket", "queue_due_at"]}

    id: int | None = Field(default=None, primary_key=True)
    # Human-facing number, from its own identity sequence so it is never reused.
    number: int | None = Field(
        default=None,
        sa_column=sa.Column(sa.BigInteger, sa.Identity(start=10001), unique=True, nullable=False),
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
    # Optimistic locking: every change bumps it; a save naming an older version is refused.
    version: int = Field(default=1, sa_column_kwargs={"server_default": sa.text("1")})
    # Set when this ticket was merged into another (it is closed and points there).
    merged_into_id: int | None = Field(default=None, foreign_key="ticket.id", ondelete="SET NULL")
    # Labels agents and macros put on a ticket (lower case, see services/tickets/tags.py).
    tags: list[str] = Field(
        default_factory=list,
        sa_column=sa.Column(
            ARRAY(sa.String(40)), nullable=False, server_default=sa.text("'{}'::varchar[]")
        ),
    )
    # The mailbox an email ticket came in through: replies go out from it.
    mailbox_id: int | None = Field(default=None, foreign_key="mailbox.id", ondelete="SET NULL")
    # The people copied on the thread (Zendesk's CCs), lower-cased addresses: a client's mail
    # adds the new ones it was sent to, and an agent's email reply goes to them in Cc.
    cc_emails: list[str] = Field(
        default_factory=list,
        sa_column=sa.Column(
            ARRAY(sa.String(320)), nullable=False, server_default=sa.text("'{}'::varchar[]")
        ),
    )


class TicketMessage(SQLModel, table=True):
    __tablename__ = "ticket_message"
    __table_args__ = (
        sa.Column(
            "search_vector",
            TSVECTOR,
            sa.Computed("to_tsvector('english'::regconfig, body_text)", persisted=True),
        ),
        sa.Index("ix_ticket_message_search_vector", "search_vector", postgresql_using="gin"),
        # References in the body ("WD-00012404", IBANs, account numbers) normalized, for
        # substring search through trigrams; full text splits them apart.
        sa.Column(
            "reference_tokens",
            sa.Text,
            sa.Computed("crm_reference_tokens(body_text)", persisted=True),
        ),
        sa.Index(
            "ix_ticket_message_reference_tokens",
            "reference_tokens",
            postgresql_using="gin",
            postgresql_ops={"reference_tokens": "gin_trgm_ops"},
        ),
    )
    __mapper_args__ = {"exclude_properties": ["search_vector", "reference_tokens"]}

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True, ondelete="CASCADE")
    sender_kind: str = enum_field(SenderKind, SenderKind.CLIENT)
    author_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    body_text: str = Field(default="", sa_type=sa.Text)
    body_html: str | None = Field(default=None, sa_type=sa.Text)
    # Internal notes are for staff only and never reach the client by any route.
    is_internal: bool = Field(default=False)
    channel: str = enum_field(Channel, Channel.AGENT)
    external_message_id: str | None = Field(default=None, sa_type=sa.String(998), index=True)
    in_reply_to: str | None = Field(default=None, sa_type=sa.String(998))
    # A received mail's References header (space-separated Message-IDs), for threading replies.
    references: str | None = Field(default=None, sa_type=sa.Text)
    # The quoted history and signature of a received mail, folded away on the timeline.
    quoted_text: str | None = Field(default=None, sa_type=sa.Text)
    # Who else a mail was sent to: a received mail's Cc and To (but the firm's own mailboxes),
    # an agent's email reply's Cc. Shown on the timeline as "Cc: ...".
    cc_emails: list[str] = Field(
        default_factory=list,
        sa_column=sa.Column(
            ARRAY(sa.String(320)), nullable=False, server_default=sa.text("'{}'::varchar[]")
        ),
    )
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
    # A mail's inline image (`cid:` in its HTML): shown in the message, not only listed.
    content_id: str | None = Field(default=None, sa_type=sa.String(255))
    is_inline: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    created_at: datetime = timestamp_field()


class Tag(SQLModel, table=True):
    """Every tag ever used, so the tag picker can suggest them without scanning tickets."""

    __tablename__ = "tag"

    name: str = Field(sa_type=sa.String(40), primary_key=True)
    created_at: datetime = timestamp_field()
