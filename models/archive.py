"""Mail archives brought into the product (PST/OST, mbox, EML): one row per file, the items it
could not read, and one link row per message read, whether stored or found already known.

A message is stored once in the retrieval store (`retrieval_document`, kind `archive_message`,
keyed by its dedup key); every archive that holds it has an `ArchiveMessage` row pointing at
that document, or at the live ticket message with the same Message-ID.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import enum_field, timestamp_field


class ArchiveStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Confidentiality(StrEnum):
    ALL_STAFF = "all_staff"
    MANAGERS_ONLY = "managers_only"


class ArchiveSource(StrEnum):
    UPLOAD = "upload"
    SERVER_PATH = "server_path"
    IMAP = "imap"


class Archive(SQLModel, table=True):
    __tablename__ = "archive"

    id: int | None = Field(default=None, primary_key=True)
    label: str = Field(default="", sa_type=sa.String(200))
    owner_id: int | None = Field(
        default=None, foreign_key="user_account.id", index=True, ondelete="SET NULL"
    )
    client_id: int | None = Field(
        default=None, foreign_key="client.id", index=True, ondelete="SET NULL"
    )
    confidentiality: str = enum_field(Confidentiality, Confidentiality.ALL_STAFF)
    source: str = enum_field(ArchiveSource, ArchiveSource.SERVER_PATH)
    # The file read (an upload's stored copy, or the operator's server path).
    path: str = Field(sa_type=sa.Text)
    file_name: str = Field(default="", sa_type=sa.String(300))
    status: str = enum_field(ArchiveStatus, ArchiveStatus.QUEUED, index=True)
    cancel_requested: bool = Field(default=False)
    messages: int = Field(default=0)  # messages stored as new documents
    duplicates: int = Field(default=0)  # messages already known: linked, not stored again
    attachments: int = Field(default=0)
    skipped: int = Field(default=0)  # calendar items, contacts and other non-mail
    errors: int = Field(default=0)
    bytes_total: int = Field(default=0, sa_type=sa.BigInteger)
    bytes_done: int = Field(default=0, sa_type=sa.BigInteger)
    # Records of the file already consumed (in walk order); a restart skips this many.
    resume_position: int = Field(default=0)
    error: str | None = Field(default=None, sa_type=sa.Text)
    worker: str | None = Field(default=None, sa_type=sa.String(200))
    created_at: datetime = timestamp_field()
    started_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    heartbeat_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    finished_at: datetime | None = timestamp_field(nullable=True, default_now=False)


class ArchiveItemError(SQLModel, table=True):
    __tablename__ = "archive_item_error"

    id: int | None = Field(default=None, primary_key=True)
    archive_id: int = Field(foreign_key="archive.id", index=True, ondelete="CASCADE")
    position: int | None = Field(default=None)
    folder: str | None = Field(default=None, sa_type=sa.String(500))
    message: str = Field(sa_type=sa.Text)
    fatal: bool = Field(default=False)
    created_at: datetime = timestamp_field()


class ArchiveMessage(SQLModel, table=True):
    """One message read from an archive: the document it stored or was linked to, or the live
    ticket message it matched. Unique per (archive, position), so a resumed run never adds a
    message twice."""

    __tablename__ = "archive_message"
    __table_args__ = (
        sa.UniqueConstraint("archive_id", "position"),
        sa.Index("ix_archive_message_dedup_key", "dedup_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    archive_id: int = Field(foreign_key="archive.id", index=True, ondelete="CASCADE")
    position: int = Field()
    dedup_key: str = Field(sa_type=sa.String(300))
    document_id: int | None = Field(
        default=None, foreign_key="retrieval_document.id", index=True, ondelete="SET NULL"
    )
    ticket_message_id: int | None = Field(
        default=None, foreign_key="ticket_message.id", ondelete="SET NULL"
    )
    # True when this archive stored the document; False when it found the message known.
    stored: bool = Field(default=False)
    folder: str | None = Field(default=None, sa_type=sa.String(500))


class ArchivePolicy(SQLModel, table=True):
    """One row: what managers allow agents to do with archives."""

    __tablename__ = "archive_policy"

    id: int | None = Field(default=None, primary_key=True)
    agents_may_import: bool = Field(default=False)
    updated_at: datetime = timestamp_field()
