"""Uploads being received: one row per request in flight, so every web worker sees how many
each user has open."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import timestamp_field


class UploadSlot(SQLModel, table=True):
    __tablename__ = "upload_slot"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    purpose: str = Field(sa_type=sa.String(64))
    started_at: datetime = timestamp_field()
    # Refreshed while bytes arrive; a slot not touched for a while belongs to a dead request.
    touched_at: datetime = timestamp_field(index=True)
