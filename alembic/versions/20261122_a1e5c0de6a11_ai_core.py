"""AI core: retrieval store (documents, chunks with tsvector + pgvector), message sentiment,
reply suggestions and their feedback, LLM settings

Revision ID: a1e5c0de6a11
Revises: 7c41d9a2b5e3
Create Date: 2026-11-22 11:00:00.000000+00:00
"""

from collections.abc import Sequence

import pgvector.sqlalchemy
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "a1e5c0de6a11"
down_revision: str | None = "7c41d9a2b5e3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.create_table(
        "retrieval_document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_kind", sa.String(32), nullable=False),
        sa.Column("source_ref", sa.String(300), nullable=False),
        sa.Column("audience", sa.String(32), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("link", sa.String(500), nullable=True),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("label", sa.String(200), nullable=True),
        sa.Column("participants", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("metadata", postgresql.JSONB(astext_type=sa.Text()),
                  server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        _ts("occurred_at", True),
        _ts("source_updated_at", True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.ForeignKeyConstraint(["client_id"], ["client.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_kind", "source_ref"),
    )
    op.create_index("ix_retrieval_document_client_id", "retrieval_document", ["client_id"])
    op.create_index("ix_retrieval_document_source_kind", "retrieval_document", ["source_kind"])
    op.create_index("ix_retrieval_document_occurred_at", "retrieval_document", ["occurred_at"])

    op.create_table(
        "retrieval_chunk",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("chunk_index", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("metadata", postgresql.JSONB(astext_type=sa.Text()),
                  server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("tsv", postgresql.TSVECTOR(),
                  sa.Computed("to_tsvector('english'::regconfig, text)", persisted=True),
                  nullable=True),
        sa.Column("embedding", pgvector.sqlalchemy.Vector(), nullable=True),
        sa.Column("embedding_model", sa.String(200), nullable=True),
        _ts("created_at"),
        sa.ForeignKeyConstraint(["document_id"], ["retrieval_document.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("document_id", "chunk_index"),
    )
    op.create_index("ix_retrieval_chunk_document_id", "retrieval_chunk", ["document_id"])
    op.create_index("ix_retrieval_chunk_embedding_model", "retrieval_chunk", ["embedding_model"])
    op.create_index("ix_retrieval_chunk_tsv", "retrieval_chunk", ["tsv"], postgresql_using="gin")
    # Vectors of the default (384-wide) model; a configured model of another width is searched
    # exactly, filtered by its name.
    op.execute(
        "CREATE INDEX ix_retrieval_chunk_embedding_hnsw ON retrieval_chunk USING hnsw "
        "((embedding::vector(384)) vector_cosine_ops) WHERE vector_dims(embedding) = 384"
    )

    op.create_table(
        "message_sentiment",
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(32), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        _ts("created_at"),
        sa.ForeignKeyConstraint(["message_id"], ["ticket_message.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("message_id"),
    )
    op.create_index("ix_message_sentiment_ticket_id", "message_sentiment", ["ticket_id"])
    op.create_index("ix_message_sentiment_label", "message_sentiment", ["label"])

    op.create_table(
        "reply_suggestion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("scope", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("mode", sa.String(32), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("draft", sa.Text(), nullable=False),
        sa.Column("sources", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("flags", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.ForeignKeyConstraint(["message_id"], ["ticket_message.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["requested_by_id"], ["user_account.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id", "message_id", "scope"),
    )
    op.create_index("ix_reply_suggestion_ticket_id", "reply_suggestion", ["ticket_id"])

    op.create_table(
        "suggestion_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("suggestion_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("kept_ratio", sa.Float(), nullable=True),
        sa.Column("final_text", sa.Text(), nullable=True),
        _ts("created_at"),
        sa.ForeignKeyConstraint(["suggestion_id"], ["reply_suggestion.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_suggestion_feedback_suggestion_id", "suggestion_feedback",
                    ["suggestion_id"])

    op.create_table(
        "llm_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_model", sa.String(200), nullable=False),
        sa.Column("embedding_model", sa.String(200), nullable=False),
        sa.Column("api_base", sa.String(500), nullable=False),
        sa.Column("api_key_encrypted", sa.Text(), nullable=False),
        sa.Column("timeout_seconds", sa.Float(), nullable=False),
        sa.Column("max_retries", sa.Integer(), nullable=False),
        sa.Column("max_output_tokens", sa.Integer(), nullable=False),
        sa.Column("max_context_tokens", sa.Integer(), nullable=False),
        sa.Column("use_for_sentiment", sa.Boolean(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        _ts("updated_at"),
        sa.ForeignKeyConstraint(["updated_by_id"], ["user_account.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("llm_settings")
    op.drop_index("ix_suggestion_feedback_suggestion_id", table_name="suggestion_feedback")
    op.drop_table("suggestion_feedback")
    op.drop_index("ix_reply_suggestion_ticket_id", table_name="reply_suggestion")
    op.drop_table("reply_suggestion")
    op.drop_index("ix_message_sentiment_label", table_name="message_sentiment")
    op.drop_index("ix_message_sentiment_ticket_id", table_name="message_sentiment")
    op.drop_table("message_sentiment")
    op.execute("DROP INDEX IF EXISTS ix_retrieval_chunk_embedding_hnsw")
    op.drop_index("ix_retrieval_chunk_tsv", table_name="retrieval_chunk")
    op.drop_index("ix_retrieval_chunk_embedding_model", table_name="retrieval_chunk")
    op.drop_index("ix_retrieval_chunk_document_id", table_name="retrieval_chunk")
    op.drop_table("retrieval_chunk")
    op.drop_index("ix_retrieval_document_occurred_at", table_name="retrieval_document")
    op.drop_index("ix_retrieval_document_source_kind", table_name="retrieval_document")
    op.drop_index("ix_retrieval_document_client_id", table_name="retrieval_document")
    op.drop_table("retrieval_document")
