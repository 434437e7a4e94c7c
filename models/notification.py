"""In-app notifications for staff."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import timestamp_field


class Notification(SQLModel, table=True):
    __tablename__ = "notification"
    __table_args__ = (
        sa.Index("ix_notification_user_newest", "user_id", "id"),
        sa.Index(
            "ix_notification_user_unread", "user_id", postgresql_where=sa.text("read_at IS NULL")
        ),
        # The SLA scan warns each assignee once per ticket (INSERT … ON CONFLICT DO NOTHING).
        sa.Index(
            "uq_notification_sla_once",
            "user_id",
            "ticket_id",
            "kind",
            unique=True,
            postgresql_where=sa.text("kind = 'sla_near_breach'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    kind: str = Field(sa_type=sa.String(40))
    title: str = Field(sa_type=sa.String(300))
    link: str | None = Field(default=None, sa_type=sa.String(500))
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", ondelete="CASCADE")
    created_at: datetime = timestamp_field()
    read_at: datetime | None = timestamp_field(nullable=True, default_now=False)
