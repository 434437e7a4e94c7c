"""The retrieval store: documents (a resolved ticket, a published FAQ entry, an archived message)
and their chunks, searchable by full text (tsvector + GIN) and by meaning (pgvector + HNSW)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlmodel import Field, SQLModel

from models.base import enum_field, timestamp_field

# The offline models' widths (MiniLM beside multilingual USE by default, MiniLM alone when
# English is chosen); an HNSW index covers each, vectors of other widths are scanned exactly.
DEFAULT_EMBEDDING_DIMENSIONS = 896
ENGLISH_EMBEDDING_DIMENSIONS = 384


def _hnsw(name: str, dims: int) -> sa.Index:
    # A width-free column needs the cast to a width, and a partial index to hold only that width.
    return sa.Index(
        name,
        sa.text(f"(embedding::vector({dims})) vector_cosine_ops"),
        postgresql_using="hnsw",
        postgresql_where=sa.text(f"vector_dims(embedding) = {dims}"),
    )


class SourceKind(StrEnum):
    RESOLVED_TICKET = "resolved_ticket"
    FAQ = "faq"
    ARCHIVE_MESSAGE = "archive_message"


class Audience(StrEnum):
    """Who may retrieve a document (checked by the retrieval service for every search)."""

    PUBLIC = "public"  # published FAQ: every role, clients included
    CLIENT = "client"  # staff, and the portal user of the document's client
    STAFF = "staff"  # staff who work tickets
    MANAGERS = "managers"  # confidential material: managers only


class RetrievalDocument(SQLModel, table=True):
    __tablename__ = "retrieval_document"
    __table_args__ = (
        sa.UniqueConstraint("source_kind", "source_ref"),
        # Archived correspondence of a client: messages whose participants hold an address.
        sa.Index(
            "ix_retrieval_document_participants",
            "participants",
            postgresql_using="gin",
            postgresql_ops={"participants": "jsonb_path_ops"},
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    source_kind: str = enum_field(SourceKind, SourceKind.RESOLVED_TICKET, index=True)
    # The source's own key (ticket number, FAQ id, archive message id), unique per kind.
    source_ref: str = Field(sa_type=sa.String(300))
    audience: str = enum_field(Audience, Audience.STAFF)
    client_id: int | None = Field(
        default=None, foreign_key="client.id", index=True, ondelete="SET NULL"
    )
    title: str = Field(default="", sa_type=sa.String(500))
    link: str | None = Field(default=None, sa_type=sa.String(500))
    # Question and answer of a resolved ticket / FAQ entry, kept whole for composing drafts.
    question: str = Field(default="", sa_type=sa.Text)
    answer: str = Field(default="", sa_type=sa.Text)
    label: str | None = Field(default=None, sa_type=sa.String(200))
    participants: list[str] = Field(default_factory=list, sa_type=JSONB)
    meta: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=sa.Column(
            "metadata", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")
        ),
    )
    content_hash: str = Field(default="", sa_type=sa.String(64))
    occurred_at: datetime | None = timestamp_field(nullable=True, default_now=False, index=True)
    source_updated_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class RetrievalChunk(SQLModel, table=True):
    __tablename__ = "retrieval_chunk"
    __table_args__ = (
        sa.UniqueConstraint("document_id", "chunk_index"),
        sa.Index("ix_retrieval_chunk_tsv", "tsv", postgresql_using="gin"),
        _hnsw("ix_retrieval_chunk_embedding_hnsw", ENGLISH_EMBEDDING_DIMENSIONS),
        _hnsw("ix_retrieval_chunk_embedding_multilingual_hnsw", DEFAULT_EMBEDDING_DIMENSIONS),
    )

    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(foreign_key="retrieval_document.id", index=True, ondelete="CASCADE")
    chunk_index: int = Field(default=0)
    text: str = Field(sa_type=sa.Text)
    meta: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=sa.Column(
            "metadata", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")
        ),
    )
    tsv: str | None = Field(
        default=None,
        sa_column=sa.Column(
            TSVECTOR, sa.Computed("to_tsvector('english'::regconfig, text)", persisted=True)
        ),
    )
    # Width-free so each offline choice and a configured model of another width fit; the HNSW
    # indexes are partial expression indexes on `embedding::vector(896)` and `(384)`.
    embedding: Any = Field(default=None, sa_column=sa.Column(Vector(), nullable=True))
    embedding_model: str | None = Field(default=None, sa_type=sa.String(200), index=True)
    created_at: datetime = timestamp_field()
