"""Who changed what, when: written by every action, never edited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.base import timestamp_field


class AuditLog(SQLModel, table=True):
    __tablename__ = "audit_log"
    __table_args__ = (sa.Index("ix_audit_log_entity", "entity_type", "entity_id"),)

    id: int | None = Field(default=None, primary_key=True)
    actor_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    action: str = Field(sa_type=sa.String(80))
    entity_type: str = Field(sa_type=sa.String(40))
    entity_id: int | None = Field(default=None)
    changes: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    created_at: datetime = timestamp_field(index=True)
