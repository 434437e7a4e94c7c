"""The client portal's own tables: one-time links (invitations, password resets, sign-up
verification), the category a client chose for a request, satisfaction ratings, per-client
notification preferences and FAQ deflection events."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel

from models.base import enum_field, timestamp_field


class LinkPurpose(StrEnum):
    INVITE = "invite"  # staff invited a client to the portal
    SIGN_UP = "sign_up"  # a client asked for access with the address on their record
    PASSWORD_RESET = "password_reset"  # anyone with a local password (staff too)


class OneTimeLink(SQLModel, table=True):
    """A link mailed to one address, usable once before it expires; only its hash is kept."""

    __tablename__ = "one_time_link"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(sa_type=sa.String(64), unique=True)
    purpose: str = enum_field(LinkPurpose, LinkPurpose.INVITE)
    email: str = Field(sa_type=sa.String(320))
    # The client record an invitation or sign-up links the new account to.
    client_id: int | None = Field(
        default=None, foreign_key="client.id", index=True, ondelete="CASCADE"
    )
    # The account a password reset is for.
    user_id: int | None = Field(
        default=None, foreign_key="user_account.id", index=True, ondelete="CASCADE"
    )
    created_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    created_at: datetime = timestamp_field()
    expires_at: datetime = timestamp_field(default_now=False)
    used_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    revoked_at: datetime | None = timestamp_field(nullable=True, default_now=False)


class PortalRequest(SQLModel, table=True):
    """What a client said about a request they opened in the portal (its category)."""

    __tablename__ = "portal_request"

    ticket_id: int = Field(primary_key=True, foreign_key="ticket.id", ondelete="CASCADE")
    category: str = Field(sa_type=sa.String(100))
    created_at: datetime = timestamp_field()


class TicketRating(SQLModel, table=True):
    """A client's satisfaction with a solved ticket (CSAT 1-5), one per ticket; the assignee
    at the time of rating is kept so agents' figures do not move when a ticket is reassigned."""

    __tablename__ = "ticket_rating"
    __table_args__ = (
        sa.CheckConstraint("score BETWEEN 1 AND 5", name="ck_ticket_rating_score"),
        sa.Index("ix_ticket_rating_assignee_created", "assignee_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", unique=True, ondelete="CASCADE")
    client_id: int | None = Field(default=None, foreign_key="client.id", ondelete="SET NULL")
    rated_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    assignee_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    score: int = Field(sa_type=sa.SmallInteger)
    comment: str = Field(default="", sa_type=sa.Text)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class PortalPreference(SQLModel, table=True):
    """How a client wants to hear from the portal."""

    __tablename__ = "portal_preference"

    client_id: int = Field(primary_key=True, foreign_key="client.id", ondelete="CASCADE")
    email_on_reply: bool = Field(default=True)
    updated_at: datetime = timestamp_field()


class DeflectionOutcome(StrEnum):
    DEFLECTED = "deflected"  # saw suggestions, opened one, left without opening a ticket
    SUBMITTED = "submitted"  # saw suggestions and opened a ticket anyway


class FaqDeflection(SQLModel, table=True):
    """One visit of the new-request form where FAQ entries were suggested, and how it ended."""

    __tablename__ = "faq_deflection"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = Field(
        default=None, foreign_key="user_account.id", index=True, ondelete="SET NULL"
    )
    client_id: int | None = Field(default=None, foreign_key="client.id", ondelete="SET NULL")
    outcome: str = enum_field(DeflectionOutcome, DeflectionOutcome.DEFLECTED, index=True)
    query: str = Field(default="", sa_type=sa.String(300))
    suggested_ids: list[int] = Field(default_factory=list, sa_type=ARRAY(sa.Integer))
    viewed_ids: list[int] = Field(default_factory=list, sa_type=ARRAY(sa.Integer))
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", ondelete="SET NULL")
    created_at: datetime = timestamp_field(index=True)
