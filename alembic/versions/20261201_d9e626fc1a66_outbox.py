"""outbox: messages a channel must deliver (email replies, acknowledgements), with their state

Revision ID: d9e626fc1a66
Revises: cbf42eba8626
Create Date: 2026-12-01 10:45:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "d9e626fc1a66"
down_revision: str | None = "cbf42eba8626"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "outbound_message",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "ticket_id",
            sa.Integer(),
            sa.ForeignKey("ticket.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "message_id",
            sa.Integer(),
            sa.ForeignKey("ticket_message.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column(
            "mailbox_id",
            sa.Integer(),
            sa.ForeignKey("mailbox.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("to_addrs", sa.Text(), nullable=False),
        sa.Column("cc_addrs", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(998), nullable=False),
        sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _ts("next_attempt_at"),
        _ts("claimed_until", nullable=True),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("provider_message_id", sa.String(998), nullable=True),
        _ts("sent_at", nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
    )
    op.create_index("ix_outbound_message_ticket_id", "outbound_message", ["ticket_id"])
    op.create_index("ix_outbound_message_mailbox_id", "outbound_message", ["mailbox_id"])
    op.create_index("ix_outbound_message_status", "outbound_message", ["status"])
    op.create_index(
        "ix_outbound_message_due",
        "outbound_message",
        ["next_attempt_at"],
        postgresql_where=sa.text("status IN ('queued', 'sending')"),
    )
    op.create_index("ix_outbound_message_ack", "outbound_message", ["recipient", "created_at"])


def downgrade() -> None:
    op.drop_table("outbound_message")
