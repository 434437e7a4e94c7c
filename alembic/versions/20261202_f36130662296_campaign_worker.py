"""campaign worker: how far each SMTP sender's batch has got, written before each final dot

Revision ID: f36130662296
Revises: b7c1d4e9a3f6
Create Date: 2026-12-02 12:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f36130662296"
down_revision: str | None = "b7c1d4e9a3f6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "campaign_worker",
        sa.Column("worker", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("reached", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("worker"),
    )


def downgrade() -> None:
    op.drop_table("campaign_worker")
