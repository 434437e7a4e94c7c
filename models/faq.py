"""The firm's published answers: the help centre's FAQ entries, written by hand or drafted by
the `faq_regen` job from clustered client questions, each change kept as a version, the job's
runs (one at a time) and clients' "did this help" votes.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.base import enum_field, timestamp_field


class FaqStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    UNPUBLISHED = "unpublished"
    REJECTED = "rejected"  # a generated draft the manager turned down
    MERGED = "merged"  # folded into another entry (`merged_into_id`)


class FaqOrigin(StrEnum):
    MANUAL = "manual"
    GENERATED = "generated"


class FaqRunStatus(StrEnum):
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"


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
    # --- generated drafts: where they came from -------------------------------------------
    origin: str = Field(
        default=FaqOrigin.MANUAL.value,
        sa_type=sa.String(32),
        sa_column_kwargs={"server_default": FaqOrigin.MANUAL.value},
    )
    run_id: int | None = Field(default=None, foreign_key="faq_run.id", ondelete="SET NULL")
    topic_size: int = Field(default=0, sa_column_kwargs={"server_default": sa.text("0")})
    sample_questions: list[str] = Field(
        default_factory=list, sa_type=JSONB, sa_column_kwargs={"server_default": "[]"}
    )
    source_tickets: list[int] = Field(
        default_factory=list, sa_type=JSONB, sa_column_kwargs={"server_default": "[]"}
    )
    compliance_flags: list[dict[str, Any]] = Field(
        default_factory=list, sa_type=JSONB, sa_column_kwargs={"server_default": "[]"}
    )
    # A draft that proposes new text for this published entry instead of a new entry.
    updates_entry_id: int | None = Field(
        default=None, foreign_key="faq_entry.id", ondelete="CASCADE", index=True
    )
    merged_into_id: int | None = Field(
        default=None, foreign_key="faq_entry.id", ondelete="SET NULL"
    )
    version: int = Field(default=1, sa_column_kwargs={"server_default": sa.text("1")})
    # --- measured in the help centre ------------------------------------------------------
    search_hits: int = Field(default=0, sa_column_kwargs={"server_default": sa.text("0")})
    helpful_yes: int = Field(default=0, sa_column_kwargs={"server_default": sa.text("0")})
    helpful_no: int = Field(default=0, sa_column_kwargs={"server_default": sa.text("0")})


class FaqEntryVersion(SQLModel, table=True):
    """An entry as it stood after one change, and who made it."""

    __tablename__ = "faq_entry_version"
    __table_args__ = (sa.UniqueConstraint("entry_id", "version", name="uq_faq_entry_version"),)

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(foreign_key="faq_entry.id", index=True, ondelete="CASCADE")
    version: int
    change: str = Field(sa_type=sa.String(40))  # created, edited, published, merged, ...
    question: str = Field(sa_type=sa.String(300))
    answer: str = Field(sa_type=sa.Text)
    category: str = Field(default="", sa_type=sa.String(100))
    position: int = 0
    status: str = Field(sa_type=sa.String(32))
    changed_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    created_at: datetime = timestamp_field()


class FaqRun(SQLModel, table=True):
    """One run of the FAQ generation; at most one runs at a time (partial unique index)."""

    __tablename__ = "faq_run"
    __table_args__ = (
        sa.Index(
            "uq_faq_run_running",
            "status",
            unique=True,
            postgresql_where=sa.text("status = 'running'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    status: str = enum_field(FaqRunStatus, FaqRunStatus.RUNNING)
    started_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    window_days: int = 90
    stage: str = Field(default="", sa_type=sa.String(200))
    done: int = 0
    total: int = 0
    questions: int = 0
    topics: int = 0
    drafts_created: int = 0
    updates_proposed: int = 0
    error: str = Field(default="", sa_type=sa.Text)
    started_at: datetime = timestamp_field(index=True)
    heartbeat_at: datetime = timestamp_field()
    finished_at: datetime | None = timestamp_field(nullable=True, default_now=False)


class FaqVote(SQLModel, table=True):
    """A client's answer to "did this help?" on one entry; one per client and entry."""

    __tablename__ = "faq_vote"
    __table_args__ = (sa.UniqueConstraint("entry_id", "user_id", name="uq_faq_vote_entry_user"),)

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(foreign_key="faq_entry.id", index=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    helpful: bool
    created_at: datetime = timestamp_field()
