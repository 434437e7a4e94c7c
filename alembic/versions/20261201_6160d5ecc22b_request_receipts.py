"""request receipts: a retried reply (same client key) is not written twice

Revision ID: 6160d5ecc22b
Revises: db3157e708e1
Create Date: 2026-12-01 11:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6160d5ecc22b"
down_revision: str | None = "db3157e708e1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "request_receipt",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("user_account.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("result_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_request_receipt_created_at", "request_receipt", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_request_receipt_created_at", table_name="request_receipt")
    op.drop_table("request_receipt")
