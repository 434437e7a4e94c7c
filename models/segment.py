"""Saved client segments: a rule tree kept as JSON, evaluated whenever the segment is used."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.base import timestamp_field


class Segment(SQLModel, table=True):
    __tablename__ = "segment"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=sa.String(120), unique=True)
    description: str = Field(default="", sa_type=sa.String(500))
    # {"op": "and"|"or", "rules": [{"field", "operator", "value"} | group, ...]}
    rules: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    created_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
