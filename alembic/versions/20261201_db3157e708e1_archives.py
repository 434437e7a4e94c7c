"""archives: mail archives (PST/OST, mbox, EML) ingested into the knowledge store, their item
errors, the messages each one read (stored or linked), and what agents may do with them

Revision ID: db3157e708e1
Revises: eef704024641
Create Date: 2026-12-01 10:40:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "db3157e708e1"
down_revision: str | None = "eef704024641"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "archive",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column(
            "owner_id",
            sa.Integer(),
            sa.ForeignKey("user_account.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column(
            "client_id",
            sa.Integer(),
            sa.ForeignKey("client.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("confidentiality", sa.String(32), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("file_name", sa.String(300), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("attachments", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("bytes_total", sa.BigInteger(), nullable=False),
        sa.Column("bytes_done", sa.BigInteger(), nullable=False),
        sa.Column("resume_position", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("worker", sa.String(200), nullable=True),
        _ts("created_at"),
        _ts("started_at", True),
        _ts("heartbeat_at", True),
        _ts("finished_at", True),
    )
    op.create_index("ix_archive_owner_id", "archive", ["owner_id"])
    op.create_index("ix_archive_client_id", "archive", ["client_id"])
    op.create_index("ix_archive_status", "archive", ["status"])
    op.create_table(
        "archive_item_error",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "archive_id",
            sa.Integer(),
            sa.ForeignKey("archive.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("folder", sa.String(500), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("fatal", sa.Boolean(), nullable=False),
        _ts("created_at"),
    )
    op.create_index("ix_archive_item_error_archive_id", "archive_item_error", ["archive_id"])
    op.create_table(
        "archive_message",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "archive_id",
            sa.Integer(),
            sa.ForeignKey("archive.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("dedup_key", sa.String(300), nullable=False),
        sa.Column(
            "document_id",
            sa.Integer(),
            sa.ForeignKey("retrieval_document.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column(
            "ticket_message_id",
            sa.Integer(),
            sa.ForeignKey("ticket_message.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("stored", sa.Boolean(), nullable=False),
        sa.Column("folder", sa.String(500), nullable=True),
        sa.UniqueConstraint("archive_id", "position"),
    )
    op.create_index("ix_archive_message_archive_id", "archive_message", ["archive_id"])
    op.create_index("ix_archive_message_document_id", "archive_message", ["document_id"])
    op.create_index("ix_archive_message_dedup_key", "archive_message", ["dedup_key"])
    op.create_index(
        "ix_retrieval_document_participants",
        "retrieval_document",
        ["participants"],
        postgresql_using="gin",
        postgresql_ops={"participants": "jsonb_path_ops"},
    )
    op.create_table(
        "archive_policy",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("agents_may_import", sa.Boolean(), nullable=False),
        _ts("updated_at"),
    )


def downgrade() -> None:
    op.drop_table("archive_policy")
    op.drop_index("ix_retrieval_document_participants", table_name="retrieval_document")
    op.drop_table("archive_message")
    op.drop_table("archive_item_error")
    op.drop_table("archive")
