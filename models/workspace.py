"""The agent workspace: saved queue views, canned replies, presence and assignment settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel

from models.base import timestamp_field

# Bumped (statement-level triggers, see the migration) whenever tickets or messages change;
# every web worker polls its value to know when an open queue or ticket must reload.
CHANGE_SEQUENCE = "workspace_change_seq"


class SavedView(SQLModel, table=True):
    """An agent's named combination of queue filters."""

    __tablename__ = "saved_view"
    __table_args__ = (sa.UniqueConstraint("owner_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    name: str = Field(sa_type=sa.String(80))
    filters: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    created_at: datetime = timestamp_field()


class Macro(SQLModel, table=True):
    """A canned reply with placeholders; applying it may also set status and priority and add
    tags."""

    __tablename__ = "macro"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(sa_type=sa.String(120), unique=True)
    body: str = Field(sa_type=sa.Text)
    set_status: str | None = Field(default=None, sa_type=sa.String(32))
    set_priority: str | None = Field(default=None, sa_type=sa.String(32))
    add_tags: list[str] = Field(
        default_factory=list,
        sa_column=sa.Column(
            ARRAY(sa.String(40)), nullable=False, server_default=sa.text("'{}'::varchar[]")
        ),
    )
    created_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class TicketPresence(SQLModel, table=True):
    """Who has a ticket open right now (a heartbeat), seen by every web worker."""

    __tablename__ = "ticket_presence"

    ticket_id: int = Field(foreign_key="ticket.id", primary_key=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="user_account.id", primary_key=True, ondelete="CASCADE")
    activity: str = Field(default="viewing", sa_type=sa.String(16))
    seen_at: datetime = timestamp_field(index=True)


class AssignmentSetting(SQLModel, table=True):
    """One row: whether new unassigned tickets go round-robin to available agents."""

    __tablename__ = "assignment_setting"

    id: int = Field(default=1, primary_key=True)
    round_robin_enabled: bool = Field(default=False)
    last_assignee_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    updated_at: datetime = timestamp_field()
