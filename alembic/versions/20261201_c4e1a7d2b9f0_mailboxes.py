"""mailboxes: IMAP in and SMTP/SendGrid out per firm address, and where each folder's poll stopped

Revision ID: c4e1a7d2b9f0
Revises: 2d5b2bc3e6b3
Create Date: 2026-12-01 10:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c4e1a7d2b9f0"
down_revision: str | None = "2d5b2bc3e6b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "mailbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("address", sa.String(320), nullable=False, unique=True),
        sa.Column("display_name", sa.String(120), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("imap_host", sa.String(255), nullable=False),
        sa.Column("imap_port", sa.Integer(), nullable=False),
        sa.Column("imap_security", sa.String(32), nullable=False),
        sa.Column("imap_user", sa.String(320), nullable=False),
        sa.Column("imap_secret", sa.Text(), nullable=True),
        sa.Column("imap_folders", sa.Text(), nullable=False),
        sa.Column("after_fetch", sa.String(32), nullable=False),
        sa.Column("move_to_folder", sa.String(255), nullable=False),
        sa.Column("poll_seconds", sa.Integer(), nullable=False),
        sa.Column("use_idle", sa.Boolean(), nullable=False),
        sa.Column("outbound", sa.String(32), nullable=False),
        sa.Column("smtp_host", sa.String(255), nullable=False),
        sa.Column("smtp_port", sa.Integer(), nullable=False),
        sa.Column("smtp_security", sa.String(32), nullable=False),
        sa.Column("smtp_user", sa.String(320), nullable=False),
        sa.Column("smtp_secret", sa.Text(), nullable=True),
        sa.Column("sendgrid_secret", sa.Text(), nullable=True),
        sa.Column("send_acknowledgement", sa.Boolean(), nullable=False),
        _ts("last_poll_at", True),
        sa.Column("messages_imported", sa.BigInteger(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        _ts("error_since", True),
        _ts("created_at"),
        _ts("updated_at"),
    )
    op.create_table(
        "mailbox_folder_state",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("mailbox_id", sa.Integer(),
                  sa.ForeignKey("mailbox.id", ondelete="CASCADE"), nullable=False),
        sa.Column("folder", sa.String(255), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=True),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        _ts("updated_at"),
        sa.UniqueConstraint("mailbox_id", "folder"),
    )
    op.create_index("ix_mailbox_folder_state_mailbox_id", "mailbox_folder_state",
                    ["mailbox_id"])


def downgrade() -> None:
    op.drop_index("ix_mailbox_folder_state_mailbox_id", table_name="mailbox_folder_state")
    op.drop_table("mailbox_folder_state")
    op.drop_table("mailbox")
