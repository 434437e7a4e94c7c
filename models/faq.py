"""The firm's published answers: the help centre's FAQ entries.

Kept general on purpose: entries are written by hand today; generation from clustered tickets
and versions come later and add their own columns or tables beside these.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import enum_field, timestamp_field


class FaqStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    UNPUBLISHED = "unpublished"


class FaqEntry(SQLModel, table=True):
    __tablename__ = "faq_entry"
    __table_args__ = (sa.Index("ix_faq_entry_status_position", "status", "category", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    question: str = Field(sa_type=sa.String(300))
    answer: str = Field(sa_type=sa.Text)
    category: str = Field(
        default="", sa_type=sa.String(100), sa_column_kwargs={"server_default": ""}
    )
    # Order within its category (smaller first).
    position: int = Field(default=0, sa_column_kwargs={"server_default": sa.text("0")})
    status: str = enum_field(FaqStatus, FaqStatus.DRAFT, index=True)
    created_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
    published_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    # Times a client opened the entry in the help centre or as a suggestion.
    views: int = Field(default=0, sa_column_kwargs={"server_default": sa.text("0")})
